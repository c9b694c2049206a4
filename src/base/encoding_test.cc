#include "base/encoding.h"

#include <gtest/gtest.h>

namespace etcd {
namespace {

TEST(Encoding, BigEndianRoundTripAndOrder) {
  std::string s;
  append_u64_be(&s, 0x0102030405060708ULL);
  ASSERT_EQ(s.size(), 8u);
  EXPECT_EQ(s, std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  EXPECT_EQ(get_u64_be(s), 0x0102030405060708ULL);

  std::string a, b;
  append_u64_be(&a, 255);
  append_u64_be(&b, 256);
  EXPECT_LT(a, b);  // byte order follows numeric order

  std::string c;
  append_u32_be(&c, 0xDEADBEEF);
  EXPECT_EQ(c, std::string("\xDE\xAD\xBE\xEF", 4));
  EXPECT_EQ(get_u32_be(c), 0xDEADBEEFu);
}

TEST(Encoding, LittleEndianRoundTrip) {
  uint8_t b[8];
  put_u64_le(b, 0x0102030405060708ULL);
  EXPECT_EQ(b[0], 0x08);
  EXPECT_EQ(b[7], 0x01);
  EXPECT_EQ(get_u64_le(b), 0x0102030405060708ULL);
  put_u32_le(b, 0xA1B2C3D4);
  EXPECT_EQ(b[0], 0xD4);
  EXPECT_EQ(get_u32_le(b), 0xA1B2C3D4u);
}

}  // namespace
}  // namespace etcd
