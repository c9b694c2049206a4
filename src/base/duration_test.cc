#include "base/duration.h"

#include <gtest/gtest.h>

namespace etcd {
namespace {

TEST(GoDuration, FormatsAndParsesAsGo) {
  EXPECT_EQ(format_go_duration(0), "0s");
  EXPECT_EQ(format_go_duration(int64_t{3600} * 1000000000), "1h0m0s");
  EXPECT_EQ(format_go_duration(int64_t{300} * 1000000000), "5m0s");
  EXPECT_EQ(format_go_duration(int64_t{1500} * 1000000), "1.5s");
  EXPECT_EQ(format_go_duration(1500000), "1.5ms");
  EXPECT_EQ(format_go_duration(1500), "1.5\xC2\xB5s");
  EXPECT_EQ(format_go_duration(42), "42ns");
  EXPECT_EQ(format_go_duration(int64_t{90061} * 1000000000 + 5), "25h1m1.000000005s");
  EXPECT_EQ(format_go_duration(-int64_t{2} * 1000000000), "-2s");
  EXPECT_EQ(*parse_go_duration("2h45m"), int64_t{9900} * 1000000000);
  EXPECT_EQ(*parse_go_duration("-1.5h"), -int64_t{5400} * 1000000000);
  EXPECT_EQ(*parse_go_duration("300ms"), int64_t{300} * 1000000);
  EXPECT_EQ(*parse_go_duration(".5s"), int64_t{500} * 1000000);
  EXPECT_EQ(*parse_go_duration("0"), 0);
  EXPECT_FALSE(parse_go_duration("").is_ok());
  EXPECT_FALSE(parse_go_duration(".s").is_ok());
  EXPECT_FALSE(parse_go_duration("1").is_ok());
  EXPECT_FALSE(parse_go_duration("9999999999h").is_ok());
}

TEST(GoDuration, ChronoDurations) {
  EXPECT_EQ(format_go_duration(std::chrono::milliseconds(7000)), "7s");
  EXPECT_EQ(format_go_duration(std::chrono::microseconds(1500)), "1.5ms");
}

}  // namespace
}  // namespace etcd
