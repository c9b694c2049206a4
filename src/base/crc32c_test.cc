#include "base/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace etcd::crc32c {
namespace {

// Test vectors from RFC 3720 (iSCSI), appendix B.4, and the common check value.
TEST(Crc32c, StandardVectors) {
  EXPECT_EQ(value("123456789"), 0xE3069283u);
  EXPECT_EQ(value(""), 0u);

  std::vector<uint8_t> buf(32, 0);
  EXPECT_EQ(value(buf.data(), buf.size()), 0x8A9136AAu);
  std::fill(buf.begin(), buf.end(), 0xFF);
  EXPECT_EQ(value(buf.data(), buf.size()), 0x62A8AB43u);
  for (int i = 0; i < 32; ++i) buf[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(value(buf.data(), buf.size()), 0x46DD794Eu);
  for (int i = 0; i < 32; ++i) buf[i] = static_cast<uint8_t>(31 - i);
  EXPECT_EQ(value(buf.data(), buf.size()), 0x113FDB5Cu);
}

TEST(Crc32c, PortableMatchesStandardVectors) {
  EXPECT_EQ(extend_portable(0, "123456789", 9), 0xE3069283u);
  std::vector<uint8_t> buf(32);
  for (int i = 0; i < 32; ++i) buf[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(extend_portable(0, buf.data(), buf.size()), 0x46DD794Eu);
}

TEST(Crc32c, ExtendChainsLikeOneComputation) {
  std::string a = "hello, ";
  std::string b = "write-ahead log";
  EXPECT_EQ(extend(value(a), b.data(), b.size()), value(a + b));
}

TEST(Crc32c, HardwareAndPortableAgreeOnAllLengthsAndAlignments) {
  std::mt19937 rng(7);
  std::vector<uint8_t> data(300);
  for (auto& c : data) c = static_cast<uint8_t>(rng());
  for (size_t off = 0; off < 9; ++off) {
    for (size_t len = 0; off + len <= data.size(); len += 7) {
      uint32_t seed = static_cast<uint32_t>(rng());
      ASSERT_EQ(extend(seed, data.data() + off, len), extend_portable(seed, data.data() + off, len))
          << "off=" << off << " len=" << len;
    }
  }
}

}  // namespace
}  // namespace etcd::crc32c
