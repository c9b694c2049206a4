#include "v2store/go_json.h"

#include <gtest/gtest.h>

namespace etcd::v2store {
namespace {

TEST(GoTime, FormatsRfc3339Nano) {
  EXPECT_EQ(go_time_rfc3339nano(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(go_time_rfc3339nano(1796667601123456789), "2026-12-07T18:20:01.123456789Z");
  EXPECT_EQ(go_time_rfc3339nano(1796667601120000000), "2026-12-07T18:20:01.12Z");
  EXPECT_EQ(go_time_rfc3339nano(1796667601000000001), "2026-12-07T18:20:01.000000001Z");
  EXPECT_EQ(go_time_rfc3339nano(951782400000000000), "2000-02-29T00:00:00Z");
  EXPECT_EQ(go_time_rfc3339nano(-1), "1969-12-31T23:59:59.999999999Z");
  EXPECT_EQ(go_time_rfc3339nano(INT64_MAX), "2262-04-11T23:47:16.854775807Z");
  EXPECT_EQ(go_time_rfc3339nano(INT64_MIN + 1), "1677-09-21T00:12:43.145224193Z");
}

TEST(GoTime, Parses) {
  auto t = parse_go_time("2026-12-07T18:20:01.123456789Z");
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->zero);
  EXPECT_EQ(t->unix_ns, 1796667601123456789);
  t = parse_go_time("2026-12-07T19:20:01.5+01:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->unix_ns, 1796667601500000000);
  t = parse_go_time("2026-12-07T17:20:01-01:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->unix_ns, 1796667601000000000);
  t = parse_go_time("0001-01-01T00:00:00Z");
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->zero);
  t = parse_go_time("1969-12-31T23:59:59.999999999Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->unix_ns, -1);
  for (const char* bad :
       {"", "2026-12-07", "2026-12-07T18:20:01", "2026-13-07T18:20:01Z", "2026-02-30T18:20:01Z",
        "2026-12-07T24:00:00Z", "2026-12-07T18:20:01.Z", "2026-12-07T18:20:01Zx",
        "9999-12-31T23:59:59Z", "1000-01-01T00:00:00Z", "2026-12-07 18:20:01Z"}) {
    EXPECT_FALSE(parse_go_time(bad)) << bad;
  }
  // Round trip through the formatter.
  for (int64_t ns :
       {int64_t{0}, int64_t{1796667601123456789}, int64_t{-123456789}, int64_t{INT64_MAX}}) {
    auto p = parse_go_time(go_time_rfc3339nano(ns));
    ASSERT_TRUE(p);
    EXPECT_EQ(p->unix_ns, ns);
  }
}

}  // namespace
}  // namespace etcd::v2store
