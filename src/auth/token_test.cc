#include <gtest/gtest.h>
#include <jwt.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "auth/jwt_token.h"
#include "auth/simple_token.h"
#include "auth/token_factory.h"
#include "base/log.h"
#include "env/clock.h"

namespace etcd::auth {
namespace {

using std::chrono::seconds;

TEST(SimpleTokenTest, FormatAssignInfoAndExpiry) {
  env::ManualClock clock(1'000'000);
  SimpleTokenProvider p(clock, seconds(10));
  p.enable();
  const std::string prefix = p.gen_token_prefix();
  ASSERT_EQ(prefix.size(), 16u);
  for (char c : prefix) EXPECT_TRUE(std::isalpha(static_cast<unsigned char>(c))) << prefix;
  EXPECT_NE(prefix, p.gen_token_prefix());
  auto tok = p.assign(prefix, "alice", 3, 42);
  ASSERT_TRUE(tok.is_ok());
  EXPECT_EQ(*tok, prefix + ".42");
  auto info = p.info(*tok, 7);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->username, "alice");
  EXPECT_EQ(info->revision, 7u);  // simple tokens follow the store's revision
  EXPECT_FALSE(p.info("nope.1", 7).has_value());
  // Use refreshes the TTL.
  clock.advance(std::chrono::seconds(8));
  EXPECT_TRUE(p.info(*tok, 7).has_value());
  clock.advance(std::chrono::seconds(8));
  EXPECT_TRUE(p.info(*tok, 7).has_value());
  // Unused for the whole TTL: gone.
  clock.advance(std::chrono::seconds(10));
  EXPECT_FALSE(p.info(*tok, 7).has_value());
  EXPECT_EQ(p.size(), 0u);
}

TEST(SimpleTokenTest, InvalidateUserDisableAndBound) {
  env::ManualClock clock;
  SimpleTokenProvider p(clock, seconds(100), 3);
  p.enable();
  auto a = p.assign("aaaaaaaaaaaaaaaa", "alice", 1, 1);
  clock.advance(std::chrono::seconds(1));
  auto b = p.assign("bbbbbbbbbbbbbbbb", "bob", 1, 2);
  clock.advance(std::chrono::seconds(1));
  auto c = p.assign("cccccccccccccccc", "alice", 1, 3);
  ASSERT_TRUE(a.is_ok() && b.is_ok() && c.is_ok());
  // Full: the token closest to expiry (a) makes room.
  auto d = p.assign("dddddddddddddddd", "carol", 1, 4);
  ASSERT_TRUE(d.is_ok());
  EXPECT_EQ(p.size(), 3u);
  EXPECT_FALSE(p.info(*a, 1).has_value());
  EXPECT_TRUE(p.info(*d, 1).has_value());
  p.invalidate_user("alice");
  EXPECT_FALSE(p.info(*c, 1).has_value());
  EXPECT_TRUE(p.info(*b, 1).has_value());
  p.disable();
  EXPECT_FALSE(p.info(*b, 1).has_value());
  EXPECT_EQ(p.size(), 0u);
}

TEST(SimpleTokenTest, UnknownTokenWaitsForItsAuthenticateIndex) {
  env::ManualClock clock;
  SimpleTokenProvider p(clock, seconds(100));
  p.enable();
  std::vector<uint64_t> waited;
  // The waiter plays the apply thread: applying index 12 registers the token.
  p.set_index_waiter([&](uint64_t index) {
    waited.push_back(index);
    if (index != 12) return false;
    return p.assign("abcdefghijklmnop", "dave", 1, 12).is_ok();
  });
  auto info = p.info("abcdefghijklmnop.12", 3);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->username, "dave");
  EXPECT_FALSE(p.info("abcdefghijklmnop.13", 3).has_value());
  EXPECT_FALSE(p.info("no-index", 3).has_value());
  EXPECT_FALSE(p.info("x.1a", 3).has_value());
  EXPECT_EQ(waited, (std::vector<uint64_t>{12, 13}));
}

// Keys made by openssl in a temporary directory.
class JwtTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("jwt_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    run("openssl genrsa -out " + path("rsa.pem") + " 2048");
    run("openssl rsa -in " + path("rsa.pem") + " -pubout -out " + path("rsa.pub"));
    run("openssl genrsa -out " + path("rsa2.pem") + " 2048");
    run("openssl rsa -in " + path("rsa2.pem") + " -pubout -out " + path("rsa2.pub"));
    run("openssl ecparam -name prime256v1 -genkey -noout -out " + path("ec.pem"));
    run("openssl ec -in " + path("ec.pem") + " -pubout -out " + path("ec.pub"));
    std::ofstream(path("hmac.key")) << "a-shared-hmac-secret";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  static void run(const std::string& cmd) {
    ASSERT_EQ(std::system((cmd + " 2>/dev/null").c_str()), 0) << cmd;
  }
  std::string read(const std::string& name) const {
    std::ifstream in(path(name));
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  Result<std::unique_ptr<TokenProvider>> make(const std::string& opts) {
    return make_token_provider(opts, seconds(300), clock_, logger_);
  }

  std::filesystem::path dir_;
  env::ManualClock clock_{1'700'000'000'000};
  log::Logger logger_{log::Level::kDebug, {}, [] { return int64_t{0}; }};
};

TEST_F(JwtTest, Rs256SignVerifyAndClaims) {
  auto p = make("jwt,pub-key=" + path("rsa.pub") + ",priv-key=" + path("rsa.pem") +
                ",sign-method=RS256,ttl=1m");
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  auto tok = (*p)->assign("", "root", 5, 9);
  ASSERT_TRUE(tok.is_ok()) << tok.status().to_string();
  auto info = (*p)->info(*tok, 99);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->username, "root");
  EXPECT_EQ(info->revision, 5u);  // the token's own claim, not the store's
  jwt_t* j = nullptr;
  ASSERT_EQ(jwt_decode(&j, tok->c_str(), nullptr, 0), 0);
  EXPECT_EQ(jwt_get_grant_int(j, "exp"), 1'700'000'000 + 60);
  EXPECT_STREQ(jwt_get_grant(j, "username"), "root");
  jwt_free(j);
  // Expired after the ttl.
  clock_.advance(std::chrono::seconds(61));
  EXPECT_FALSE((*p)->info(*tok, 99).has_value());
}

TEST_F(JwtTest, Es256SignVerifyAndPrivateKeyOnly) {
  auto p = make("jwt,priv-key=" + path("ec.pem") + ",sign-method=ES256");
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  auto tok = (*p)->assign("", "alice", 2, 1);
  ASSERT_TRUE(tok.is_ok());
  auto info = (*p)->info(*tok, 2);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->username, "alice");
  // Default ttl: 5 minutes.
  clock_.advance(std::chrono::seconds(299));
  EXPECT_TRUE((*p)->info(*tok, 2).has_value());
  clock_.advance(std::chrono::seconds(2));
  EXPECT_FALSE((*p)->info(*tok, 2).has_value());
}

TEST_F(JwtTest, Ps256SignVerifyWrongKeyAndAlgSwap) {
  auto p = make("jwt,priv-key=" + path("rsa.pem") + ",pub-key=" + path("rsa.pub") +
                ",sign-method=PS256,ttl=30s");
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  auto tok = (*p)->assign("", "erin", 6, 1);
  ASSERT_TRUE(tok.is_ok()) << tok.status().to_string();
  // The header names PS256: {"alg":"PS256","typ":"JWT"}.
  EXPECT_EQ(tok->substr(0, tok->find('.')), "eyJhbGciOiJQUzI1NiIsInR5cCI6IkpXVCJ9");
  auto info = (*p)->info(*tok, 6);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->username, "erin");
  EXPECT_EQ(info->revision, 6u);
  // Signed by another key; an RS256 token of the same key; tampered; expired.
  auto other = make("jwt,priv-key=" + path("rsa2.pem") + ",sign-method=PS256");
  ASSERT_TRUE(other.is_ok());
  EXPECT_FALSE((*p)->info(*(*other)->assign("", "erin", 6, 1), 6).has_value());
  auto rs = make("jwt,priv-key=" + path("rsa.pem") + ",sign-method=RS256");
  ASSERT_TRUE(rs.is_ok());
  EXPECT_FALSE((*p)->info(*(*rs)->assign("", "erin", 6, 1), 6).has_value());
  std::string tampered = *tok;
  tampered[tampered.find('.') + 3] ^= 1;
  EXPECT_FALSE((*p)->info(tampered, 6).has_value());
  clock_.advance(std::chrono::seconds(31));
  EXPECT_FALSE((*p)->info(*tok, 6).has_value());
  // A PS256 key that is not RSA is refused at start.
  EXPECT_EQ(make("jwt,priv-key=" + path("ec.pem") + ",sign-method=PS256").status().message(),
            "Key is not a valid RSA private key");
}

TEST_F(JwtTest, VerifyOnlyMemberCannotSign) {
  auto signer = make("jwt,priv-key=" + path("rsa.pem") + ",sign-method=RS256");
  auto verifier = make("jwt,pub-key=" + path("rsa.pub") + ",sign-method=RS256");
  ASSERT_TRUE(signer.is_ok() && verifier.is_ok());
  auto tok = (*signer)->assign("", "bob", 1, 1);
  ASSERT_TRUE(tok.is_ok());
  EXPECT_TRUE((*verifier)->info(*tok, 1).has_value());
  auto refused = (*verifier)->assign("", "bob", 1, 1);
  ASSERT_FALSE(refused.is_ok());
  EXPECT_EQ(refused.status().message(), "auth: token signing attempted with verify-only key");
}

TEST_F(JwtTest, WrongKeyAlgNoneAndAlgorithmConfusionRefused) {
  auto p = make("jwt,pub-key=" + path("rsa.pub") + ",priv-key=" + path("rsa.pem") +
                ",sign-method=RS256");
  auto other = make("jwt,priv-key=" + path("rsa2.pem") + ",sign-method=RS256");
  ASSERT_TRUE(p.is_ok() && other.is_ok());
  // Signed by another key.
  auto foreign = (*other)->assign("", "root", 1, 1);
  ASSERT_TRUE(foreign.is_ok());
  EXPECT_FALSE((*p)->info(*foreign, 1).has_value());
  // A tampered payload.
  auto good = (*p)->assign("", "alice", 1, 1);
  ASSERT_TRUE(good.is_ok());
  std::string tampered = *good;
  tampered[tampered.find('.') + 3] ^= 1;
  EXPECT_FALSE((*p)->info(tampered, 1).has_value());
  // alg "none" (unsigned).
  jwt_t* j = nullptr;
  ASSERT_EQ(jwt_new(&j), 0);
  jwt_add_grant(j, "username", "root");
  jwt_add_grant_int(j, "revision", 1);
  jwt_add_grant_int(j, "exp", 1'700'000'000 + 3600);
  char* none = jwt_encode_str(j);
  ASSERT_NE(none, nullptr);
  EXPECT_FALSE((*p)->info(none, 1).has_value());
  free(none);
  // HS256 keyed with the RSA public key's PEM: the classic confusion attack.
  const std::string pub = read("rsa.pub");
  ASSERT_EQ(jwt_set_alg(j, JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(pub.data()),
                        static_cast<int>(pub.size())),
            0);
  char* confused = jwt_encode_str(j);
  ASSERT_NE(confused, nullptr);
  EXPECT_FALSE((*p)->info(confused, 1).has_value());
  free(confused);
  jwt_free(j);
  EXPECT_FALSE((*p)->info("", 1).has_value());
  EXPECT_FALSE((*p)->info("not.a.jwt", 1).has_value());
}

TEST_F(JwtTest, Hs256SharedSecret) {
  auto p = make("jwt,priv-key=" + path("hmac.key") + ",sign-method=HS256");
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  auto tok = (*p)->assign("", "carol", 4, 1);
  ASSERT_TRUE(tok.is_ok());
  EXPECT_EQ((*p)->info(*tok, 4)->username, "carol");
}

TEST_F(JwtTest, BadOptionsFailWithEtcdErrors) {
  auto msg = [&](const std::string& o) {
    auto p = make(o);
    return p.is_ok() ? std::string("ok") : p.status().message();
  };
  EXPECT_EQ(msg("simple"), "ok");
  EXPECT_EQ(msg("foo"), "auth: invalid auth options");
  EXPECT_EQ(msg("simple,x"), "auth: invalid auth options");
  EXPECT_EQ(msg("jwt,sign-method=RS256,sign-method=RS256"), "auth: invalid auth options");
  EXPECT_EQ(msg("jwt,sign-method=RS256"), "auth: missing key data");
  EXPECT_EQ(msg("jwt,sign-method=XX256,priv-key=" + path("rsa.pem")), "auth: invalid auth options");
  EXPECT_EQ(msg("jwt,sign-method=RS256,priv-key=/nonexistent/key"), "auth: invalid auth options");
  EXPECT_EQ(msg("jwt,sign-method=RS256,ttl=abc,priv-key=" + path("rsa.pem")),
            "auth: invalid auth options");
  EXPECT_EQ(
      msg("jwt,sign-method=RS256,priv-key=" + path("rsa.pem") + ",pub-key=" + path("rsa2.pub")),
      "auth: public and private keys don't match");
  EXPECT_EQ(msg("jwt,sign-method=ES256,priv-key=" + path("rsa.pem")),
            "Key is not a valid ECDSA private key");
  EXPECT_EQ(msg("jwt,sign-method=RS256,priv-key=" + path("hmac.key")),
            "Invalid Key: Key must be PEM encoded PKCS1 or PKCS8 private key");
  EXPECT_EQ(msg("jwt,sign-method=HS256"), "auth: missing key data");
}

}  // namespace
}  // namespace etcd::auth
