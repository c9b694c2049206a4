#include "raft/tracker/inflights.h"

#include <gtest/gtest.h>

#include <vector>

namespace etcd::raft::tracker {
namespace {

// The in-flight indexes, oldest first, recovered through the public API
// only: on a copy, free the oldest message one at a time and find the value
// it carried by probing free_le on further copies. Indexes lie in [0, limit).
std::vector<uint64_t> contents(const Inflights& in, uint64_t limit = 64) {
  std::vector<uint64_t> out;
  Inflights rest = in;
  while (rest.count() > 0) {
    // The oldest index is the smallest v for which free_le(v) frees anything.
    uint64_t oldest = limit;
    for (uint64_t v = 0; v < limit; ++v) {
      Inflights probe = rest;
      probe.free_le(v);
      if (probe.count() < rest.count()) {
        oldest = v;
        break;
      }
    }
    EXPECT_LT(oldest, limit) << "index outside the probed range";
    if (oldest == limit) break;
    const size_t before = rest.count();
    rest.free_first_one();
    // free_first_one frees every message carrying the oldest index.
    for (size_t i = rest.count(); i < before; ++i) out.push_back(oldest);
  }
  return out;
}

std::vector<uint64_t> range(uint64_t from, uint64_t to) {  // [from, to)
  std::vector<uint64_t> v;
  for (uint64_t i = from; i < to; ++i) v.push_back(i);
  return v;
}

TEST(Inflights, AddUntilFull) {
  Inflights in(10);
  EXPECT_EQ(in.capacity(), 10u);
  EXPECT_EQ(in.count(), 0u);
  EXPECT_FALSE(in.full());
  for (uint64_t i = 0; i < 5; ++i) in.add(i);
  EXPECT_EQ(in.count(), 5u);
  EXPECT_FALSE(in.full());
  EXPECT_EQ(contents(in), range(0, 5));
  for (uint64_t i = 5; i < 10; ++i) in.add(i);
  EXPECT_EQ(in.count(), 10u);
  EXPECT_TRUE(in.full());
  EXPECT_EQ(contents(in), range(0, 10));
}

TEST(Inflights, AddWrapsAroundTheRing) {
  // Move the start of the window to the middle of the ring, then fill it so
  // that the newest entries wrap to the front of the buffer.
  Inflights in(10);
  for (uint64_t i = 0; i < 5; ++i) in.add(i);
  in.free_le(3);  // frees 0..3; the window now starts at slot 4
  EXPECT_EQ(in.count(), 1u);
  for (uint64_t i = 5; i < 14; ++i) in.add(i);
  EXPECT_TRUE(in.full());
  EXPECT_EQ(contents(in), range(4, 14));
}

TEST(Inflights, FreeLe) {
  Inflights in(10);
  for (uint64_t i = 0; i < 10; ++i) in.add(i);

  in.free_le(4);
  EXPECT_EQ(in.count(), 5u);
  EXPECT_EQ(contents(in), range(5, 10));

  in.free_le(8);
  EXPECT_EQ(in.count(), 1u);
  EXPECT_EQ(contents(in), range(9, 10));

  // The next five wrap to the front of the ring.
  for (uint64_t i = 10; i < 15; ++i) in.add(i);
  EXPECT_EQ(contents(in), range(9, 15));

  in.free_le(12);
  EXPECT_EQ(in.count(), 2u);
  EXPECT_EQ(contents(in), range(13, 15));

  in.free_le(14);
  EXPECT_EQ(in.count(), 0u);
  EXPECT_TRUE(contents(in).empty());

  // An empty window restarts and fills up again normally.
  for (uint64_t i = 20; i < 30; ++i) in.add(i);
  EXPECT_TRUE(in.full());
  EXPECT_EQ(contents(in), range(20, 30));
}

TEST(Inflights, FreeLeBelowTheWindowIsANoOp) {
  Inflights in(4);
  in.free_le(100);  // empty: nothing to do
  EXPECT_EQ(in.count(), 0u);
  for (uint64_t i = 10; i < 13; ++i) in.add(i);
  in.free_le(9);
  EXPECT_EQ(in.count(), 3u);
  in.free_le(0);
  EXPECT_EQ(contents(in), range(10, 13));
}

TEST(Inflights, FreeLeBeyondEverythingEmptiesTheWindow) {
  Inflights in(3);
  for (uint64_t i = 1; i <= 3; ++i) in.add(i);
  in.free_le(1000);
  EXPECT_EQ(in.count(), 0u);
  EXPECT_FALSE(in.full());
}

TEST(Inflights, FreeFirstOne) {
  Inflights in(10);
  for (uint64_t i = 0; i < 10; ++i) in.add(i);
  in.free_first_one();
  EXPECT_EQ(in.count(), 9u);
  EXPECT_FALSE(in.full());
  EXPECT_EQ(contents(in), range(1, 10));
  in.add(10);
  EXPECT_TRUE(in.full());
  EXPECT_EQ(contents(in), range(1, 11));
}

TEST(Inflights, FreeFirstOneOnEmptyIsANoOp) {
  Inflights in(3);
  in.free_first_one();
  EXPECT_EQ(in.count(), 0u);
  in.add(5);
  in.free_first_one();
  EXPECT_EQ(in.count(), 0u);
  in.free_first_one();
  EXPECT_EQ(in.count(), 0u);
}

TEST(Inflights, Reset) {
  Inflights in(4);
  for (uint64_t i = 0; i < 4; ++i) in.add(i);
  ASSERT_TRUE(in.full());
  in.reset();
  EXPECT_EQ(in.count(), 0u);
  EXPECT_FALSE(in.full());
  for (uint64_t i = 7; i < 11; ++i) in.add(i);
  EXPECT_EQ(contents(in), range(7, 11));
}

TEST(Inflights, LongRunAgainstAModel) {
  // A sliding window driven far past its size: the ring wraps many times
  // and the lazily grown buffer must keep every entry in place.
  Inflights in(7);
  std::vector<uint64_t> model;
  uint64_t next = 1;
  for (int round = 0; round < 200; ++round) {
    const int adds = round % 5;
    for (int i = 0; i < adds && !in.full(); ++i) {
      in.add(next);
      model.push_back(next++);
    }
    ASSERT_EQ(in.count(), model.size());
    ASSERT_EQ(in.full(), model.size() == 7);
    if (round % 3 == 0 && !model.empty()) {
      const uint64_t to = model[model.size() / 2];
      in.free_le(to);
      std::erase_if(model, [to](uint64_t v) { return v <= to; });
    } else if (round % 3 == 1) {
      in.free_first_one();
      if (!model.empty()) model.erase(model.begin());
    }
    ASSERT_EQ(in.count(), model.size());
  }
  EXPECT_EQ(contents(in, next + 1), model);
}

TEST(Inflights, ZeroSizeIsAlwaysFull) {
  Inflights in(0);
  EXPECT_TRUE(in.full());
  EXPECT_EQ(in.count(), 0u);
}

TEST(InflightsDeathTest, AddWhenFullAsserts) {
  Inflights in(2);
  in.add(1);
  in.add(2);
  EXPECT_DEATH(in.add(3), "full");
}

}  // namespace
}  // namespace etcd::raft::tracker
