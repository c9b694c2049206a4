#include "auth/password.h"

#include <gtest/gtest.h>

namespace etcd::auth {
namespace {

TEST(PasswordTest, HashIsGoStyleAndChecks) {
  auto h = bcrypt_hash("s3cret", kBcryptMinCost);
  ASSERT_TRUE(h.is_ok()) << h.status().to_string();
  EXPECT_TRUE(h->starts_with("$2a$04$")) << *h;
  EXPECT_EQ(h->size(), 60u);
  EXPECT_TRUE(bcrypt_check(*h, "s3cret"));
  EXPECT_FALSE(bcrypt_check(*h, "s3cret!"));
  EXPECT_FALSE(bcrypt_check(*h, ""));
  auto h2 = bcrypt_hash("s3cret", kBcryptMinCost);
  ASSERT_TRUE(h2.is_ok());
  EXPECT_NE(*h, *h2);  // salted
}

TEST(PasswordTest, AcceptsGoAndOtherBcryptPrefixes) {
  // A published "$2a$" test vector (crypt_blowfish's, which Go's bcrypt
  // also passes): "U*U" at cost 5.
  EXPECT_TRUE(bcrypt_check("$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U"));
  EXPECT_FALSE(bcrypt_check("$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*V"));
  auto h = bcrypt_hash("password", 4);
  ASSERT_TRUE(h.is_ok());
  // $2b$ and $2y$ variants of the same hash verify the same password.
  std::string b = *h, y = *h;
  b[2] = 'b';
  y[2] = 'y';
  EXPECT_TRUE(bcrypt_check(b, "password"));
  EXPECT_TRUE(bcrypt_check(y, "password"));
  EXPECT_FALSE(bcrypt_check("$1$abc$def", "password"));
  EXPECT_FALSE(bcrypt_check("", "password"));
  EXPECT_FALSE(bcrypt_check("garbage", "password"));
}

TEST(PasswordTest, CostOutOfRangeRefused) {
  EXPECT_FALSE(bcrypt_hash("x", 3).is_ok());
  EXPECT_FALSE(bcrypt_hash("x", 32).is_ok());
}

TEST(PasswordTest, Base64RoundTrip) {
  for (std::string s : {"", "a", "ab", "abc", "abcd", "$2a$10$xyz"}) {
    auto d = base64_decode(base64_encode(s));
    ASSERT_TRUE(d.has_value()) << s;
    EXPECT_EQ(*d, s);
  }
  EXPECT_EQ(base64_encode("ab"), "YWI=");
  EXPECT_FALSE(base64_decode("YWI").has_value());
  EXPECT_FALSE(base64_decode("Y=WI").has_value());
  EXPECT_FALSE(base64_decode("YW!=").has_value());
}

}  // namespace
}  // namespace etcd::auth
