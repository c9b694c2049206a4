#include "mvcc/index.h"

#include <gtest/gtest.h>

namespace etcd::mvcc {
namespace {

const std::string kAll("\0", 1);

TEST(TreeIndex, RangesAtRevisions) {
  TreeIndex idx;
  idx.put("a", {1, 0});
  idx.put("b", {2, 0});
  idx.put("c", {3, 0});
  idx.put("b", {4, 0});
  ASSERT_TRUE(idx.tombstone("a", {5, 0}));
  EXPECT_EQ(idx.range_keys({"a", "c"}, 3), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(idx.range_keys({"a", "c"}, 5), (std::vector<std::string>{"b"}));
  EXPECT_EQ(idx.range_keys({"a", kAll}, 5), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(idx.range_keys({"b", ""}, 1), std::vector<std::string>{});
  auto r = idx.revisions({"a", kAll}, 4, 2);
  EXPECT_EQ(r.total, 3);
  EXPECT_EQ(r.revs, (std::vector<Revision>{{1, 0}, {4, 0}}));
  EXPECT_EQ(r.keys, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(idx.count_revisions({"a", kAll}, 5), 2);
  EXPECT_FALSE(idx.tombstone("zz", {6, 0}));
}

TEST(TreeIndex, CompactRemovesDeadKeys) {
  TreeIndex idx;
  idx.put("a", {1, 0});
  idx.put("b", {2, 0});
  ASSERT_TRUE(idx.tombstone("a", {3, 0}));
  idx.put("b", {4, 0});
  EXPECT_EQ(idx.keep(3), (std::set<Revision>{{2, 0}}));
  auto kept = idx.compact(3);
  EXPECT_EQ(kept, (std::set<Revision>{{2, 0}}));
  EXPECT_EQ(idx.size(), 1u);
  EXPECT_FALSE(idx.get("a", 3).has_value());
  EXPECT_EQ(idx.get("b", 4)->version, 2);
}

TEST(TreeIndex, RangeSinceForWatchers) {
  TreeIndex idx;
  idx.put("k1", {2, 0});
  idx.put("k2", {3, 0});
  idx.put("k1", {4, 0});
  auto got = idx.range_since({"k", "l"}, 3);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].first, "k1");
  EXPECT_EQ(got[0].second, (std::vector<Revision>{Revision{4, 0}}));
  EXPECT_EQ(got[1].second, (std::vector<Revision>{Revision{3, 0}}));
}

}  // namespace
}  // namespace etcd::mvcc
