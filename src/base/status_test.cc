#include "base/status.h"

#include <gtest/gtest.h>

#include "base/ids.h"

namespace etcd {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return invalid_argument("not positive: " + std::to_string(v));
  return v;
}

Status chain(int v) {
  RETURN_IF_ERROR(parse_positive(v).status());
  return Status::ok();
}

TEST(Status, OkAndError) {
  EXPECT_TRUE(Status::ok().is_ok());
  Status s = not_found("no such key");
  EXPECT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_EQ(s.to_string(), "NOT_FOUND: no such key");
  // Codes carry gRPC's numbers.
  EXPECT_EQ(static_cast<int>(Code::kOutOfRange), 11);
  EXPECT_EQ(static_cast<int>(Code::kUnavailable), 14);
}

TEST(Result, ValueOrStatus) {
  auto ok = parse_positive(3);
  ASSERT_TRUE(ok.is_ok());
  EXPECT_EQ(*ok, 3);
  auto bad = parse_positive(-1);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().message(), "not positive: -1");
  EXPECT_EQ(chain(-2).code(), Code::kInvalidArgument);
  EXPECT_TRUE(chain(2).is_ok());
}

TEST(ResultDeathTest, ValueOfErrorAsserts) {
  auto bad = parse_positive(0);
  EXPECT_DEATH((void)bad.value(), "value\\(\\) on an error Result");
}

TEST(Ids, StrongTypesCompareAndPrint) {
  EXPECT_LT(Term(1), Term(2));
  EXPECT_EQ(Index(5), Index(5));
  EXPECT_EQ(to_hex(MemberId(0x8e9e05c52164694dULL)), "8e9e05c52164694d");
  EXPECT_EQ(to_hex(LeaseId(0x694d71ddacfda227LL)), "694d71ddacfda227");
  EXPECT_LT((Revision{1, 5}), (Revision{2, 0}));
  EXPECT_LT((Revision{2, 0}), (Revision{2, 1}));
  static_assert(!std::is_convertible_v<Term, Index>);
  static_assert(!std::is_convertible_v<uint64_t, Term>);
}

}  // namespace
}  // namespace etcd
