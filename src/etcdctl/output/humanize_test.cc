#include "etcdctl/output/humanize.h"

#include <gtest/gtest.h>

namespace etcd::ctl {
namespace {

TEST(Humanize, SeenInEtcdctlOutput) {
  // endpoint status / snapshot status of the reference server.
  EXPECT_EQ(humanize_bytes(20480), "20 kB");
  EXPECT_EQ(humanize_bytes(2301952), "2.3 MB");
}

TEST(Humanize, Bytes) {
  EXPECT_EQ(humanize_bytes(0), "0 B");
  EXPECT_EQ(humanize_bytes(9), "9 B");
  EXPECT_EQ(humanize_bytes(10), "10 B");
  EXPECT_EQ(humanize_bytes(999), "999 B");
  EXPECT_EQ(humanize_bytes(1000), "1.0 kB");
  EXPECT_EQ(humanize_bytes(1024), "1.0 kB");
  EXPECT_EQ(humanize_bytes(4096), "4.1 kB");
  EXPECT_EQ(humanize_bytes(9999), "10 kB");
  EXPECT_EQ(humanize_bytes(999999), "1000 kB");
  EXPECT_EQ(humanize_bytes(1024 * 1024), "1.0 MB");
  EXPECT_EQ(humanize_bytes(82854982), "83 MB");
  EXPECT_EQ(humanize_bytes(999999000), "1000 MB");
  EXPECT_EQ(humanize_bytes(1000000000), "1.0 GB");
  EXPECT_EQ(humanize_bytes(5500000000), "5.5 GB");
  EXPECT_EQ(humanize_bytes(1000000000000000 - 1000000000000), "999 TB");
  EXPECT_EQ(humanize_bytes(1000000000000000000), "1.0 EB");
  EXPECT_EQ(humanize_bytes(UINT64_MAX), "18 EB");
}

}  // namespace
}  // namespace etcd::ctl
