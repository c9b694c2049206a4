#include "mvcc/key_index.h"

#include <gtest/gtest.h>

namespace etcd::mvcc {
namespace {

Revision rv(int64_t main, int64_t sub = 0) { return Revision{main, sub}; }

// foo: put@2 put@4 del@6 | put@8 put@10 del@12 | put@14 put@14.1 put@16
KeyIndex sample() {
  KeyIndex ki("foo");
  ki.put(rv(2));
  ki.put(rv(4));
  EXPECT_TRUE(ki.tombstone(rv(6)));
  ki.put(rv(8));
  ki.put(rv(10));
  EXPECT_TRUE(ki.tombstone(rv(12)));
  ki.put(rv(14));
  ki.put(rv(14, 1));
  ki.put(rv(16));
  return ki;
}

TEST(KeyIndex, GetAtEveryRevision) {
  KeyIndex ki = sample();
  struct Case {
    int64_t at;
    std::optional<Revision> modified;
    Revision created;
    int64_t version;
  };
  std::vector<Case> cases = {
      {1, std::nullopt, {}, 0},   {2, rv(2), rv(2), 1},       {3, rv(2), rv(2), 1},
      {4, rv(4), rv(2), 2},       {5, rv(4), rv(2), 2},       {6, std::nullopt, {}, 0},
      {7, std::nullopt, {}, 0},   {8, rv(8), rv(8), 1},       {10, rv(10), rv(8), 2},
      {11, rv(10), rv(8), 2},     {12, std::nullopt, {}, 0},  {13, std::nullopt, {}, 0},
      {14, rv(14, 1), rv(14), 2}, {15, rv(14, 1), rv(14), 2}, {16, rv(16), rv(14), 3},
      {17, rv(16), rv(14), 3},
  };
  for (const auto& c : cases) {
    auto got = ki.get(c.at);
    ASSERT_EQ(got.has_value(), c.modified.has_value()) << "at " << c.at;
    if (!got) continue;
    EXPECT_EQ(got->modified, *c.modified) << "at " << c.at;
    EXPECT_EQ(got->created, c.created) << "at " << c.at;
    EXPECT_EQ(got->version, c.version) << "at " << c.at;
  }
}

TEST(KeyIndex, TombstoneOfDeletedKeyFails) {
  KeyIndex ki("k");
  ki.put(rv(1));
  EXPECT_TRUE(ki.tombstone(rv(2)));
  EXPECT_FALSE(ki.tombstone(rv(3)));
  // A later put starts a new generation with version 1.
  ki.put(rv(4));
  EXPECT_EQ(ki.get(4)->version, 1);
  EXPECT_EQ(ki.get(4)->created, rv(4));
}

TEST(KeyIndex, SinceReplaysOnePerMainRevision) {
  KeyIndex ki = sample();
  auto all = ki.since(1);
  std::vector<Revision> want = {rv(2), rv(4), rv(6), rv(8), rv(10), rv(12), rv(14, 1), rv(16)};
  EXPECT_EQ(all, want);
  EXPECT_EQ(ki.since(13), (std::vector<Revision>{rv(14, 1), rv(16)}));
  EXPECT_EQ(ki.since(17), std::vector<Revision>{});
}

TEST(KeyIndex, CompactKeepsLatestAtRevisionAndDropsDeadGenerations) {
  struct Case {
    int64_t at;
    std::set<Revision> available;
    std::string after;
  };
  std::vector<Case> cases = {
      {1,
       {},
       "key=\"foo\" modified=16.0 generations=[{ver=3 created=2.0 revs=(2.0 4.0 6.0)} {ver=3 "
       "created=8.0 revs=(8.0 10.0 12.0)} {ver=3 created=14.0 revs=(14.0 14.1 16.0)}]"},
      {2,
       {rv(2)},
       "key=\"foo\" modified=16.0 generations=[{ver=3 created=2.0 revs=(2.0 4.0 6.0)} {ver=3 "
       "created=8.0 revs=(8.0 10.0 12.0)} {ver=3 created=14.0 revs=(14.0 14.1 16.0)}]"},
      {5,
       {rv(4)},
       "key=\"foo\" modified=16.0 generations=[{ver=3 created=2.0 revs=(4.0 6.0)} {ver=3 "
       "created=8.0 revs=(8.0 10.0 12.0)} {ver=3 created=14.0 revs=(14.0 14.1 16.0)}]"},
      // At the tombstone the whole first generation is history.
      {6,
       {},
       "key=\"foo\" modified=16.0 generations=[{ver=3 created=8.0 revs=(8.0 10.0 12.0)} {ver=3 "
       "created=14.0 revs=(14.0 14.1 16.0)}]"},
      {11,
       {rv(10)},
       "key=\"foo\" modified=16.0 generations=[{ver=3 created=8.0 revs=(10.0 12.0)} {ver=3 "
       "created=14.0 revs=(14.0 14.1 16.0)}]"},
      {15,
       {rv(14, 1)},
       "key=\"foo\" modified=16.0 generations=[{ver=3 created=14.0 revs=(14.1 16.0)}]"},
      {16, {rv(16)}, "key=\"foo\" modified=16.0 generations=[{ver=3 created=14.0 revs=(16.0)}]"},
  };
  for (const auto& c : cases) {
    KeyIndex ki = sample();
    std::set<Revision> kept;
    ki.keep(c.at, &kept);
    std::set<Revision> available;
    ki.compact(c.at, &available);
    EXPECT_EQ(available, c.available) << "at " << c.at;
    EXPECT_EQ(kept, c.available) << "keep at " << c.at;
    EXPECT_EQ(ki.to_string(), c.after) << "at " << c.at;
  }
}

TEST(KeyIndex, CompactOfDeletedKeyEmptiesIt) {
  KeyIndex ki("k");
  ki.put(rv(1));
  ASSERT_TRUE(ki.tombstone(rv(2)));
  std::set<Revision> available;
  ki.compact(2, &available);
  EXPECT_TRUE(ki.empty());
  EXPECT_TRUE(available.empty());
}

}  // namespace
}  // namespace etcd::mvcc
