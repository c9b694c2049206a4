#include "raft/storage.h"

#include <gtest/gtest.h>

#include "raft/types.h"

namespace etcd::raft {
namespace {

raftpb::Entry ent(uint64_t index, uint64_t term, std::string data = "") {
  raftpb::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data(std::move(data));
  return e;
}

void fill(MemoryStorage& s, uint64_t first_index, uint64_t term, int count) {
  raftpb::Snapshot snap;
  snap.mutable_metadata()->set_index(first_index - 1);
  snap.mutable_metadata()->set_term(term);
  if (first_index > 1) {
    EXPECT_TRUE(s.apply_snapshot(snap).is_ok());
  }
  std::vector<raftpb::Entry> ents;
  for (int i = 0; i < count; ++i) ents.push_back(ent(first_index + i, term + i));
  EXPECT_TRUE(s.append(ents).is_ok());
}

TEST(MemoryStorage, TermAndBounds) {
  MemoryStorage s;
  fill(s, 4, 3, 3);  // snapshot at 3 (term 3), entries 4,5,6
  EXPECT_EQ(s.first_index()->value(), 4u);
  EXPECT_EQ(s.last_index()->value(), 6u);
  EXPECT_TRUE(is_compacted(s.term(Index(2)).status()));
  EXPECT_EQ(s.term(Index(3))->value(), 3u);
  EXPECT_EQ(s.term(Index(4))->value(), 3u);
  EXPECT_EQ(s.term(Index(6))->value(), 5u);
  EXPECT_TRUE(is_unavailable(s.term(Index(7)).status()));
}

TEST(MemoryStorage, EntriesWithSizeLimit) {
  MemoryStorage s;
  ASSERT_TRUE(s.append({ent(1, 1, "aaaa"), ent(2, 1, "bbbb"), ent(3, 1, "cccc")}).is_ok());
  EXPECT_EQ(s.entries(Index(1), Index(4), kNoLimit)->size(), 3u);
  EXPECT_EQ(s.entries(Index(1), Index(4), 0)->size(), 1u);  // always at least one
  uint64_t two = ent(1, 1, "aaaa").ByteSizeLong() * 2;
  EXPECT_EQ(s.entries(Index(1), Index(4), two)->size(), 2u);
  EXPECT_TRUE(is_compacted(s.entries(Index(0), Index(2), kNoLimit).status()));
}

TEST(MemoryStorage, CompactAndSnapshot) {
  MemoryStorage s;
  fill(s, 1, 1, 5);
  ASSERT_TRUE(s.compact(Index(3)).is_ok());
  EXPECT_EQ(s.first_index()->value(), 4u);
  EXPECT_TRUE(is_compacted(s.compact(Index(2))));
  raftpb::ConfState cs;
  cs.add_voters(1);
  auto snap = s.create_snapshot(Index(4), &cs, "state");
  ASSERT_TRUE(snap.is_ok());
  EXPECT_EQ(snap->metadata().index(), 4u);
  EXPECT_EQ(snap->metadata().term(), 4u);
  EXPECT_EQ(snap->data(), "state");
  EXPECT_FALSE(s.create_snapshot(Index(4), &cs, "again").is_ok());  // out of date
}

TEST(MemoryStorage, AppendTruncatesConflicts) {
  MemoryStorage s;
  fill(s, 1, 1, 3);  // (1,1) (2,2) (3,3)
  ASSERT_TRUE(s.append({ent(2, 5), ent(3, 5), ent(4, 5)}).is_ok());
  EXPECT_EQ(s.last_index()->value(), 4u);
  EXPECT_EQ(s.term(Index(2))->value(), 5u);
  EXPECT_EQ(s.term(Index(1))->value(), 1u);
  // Entries entirely below the first index are ignored.
  ASSERT_TRUE(s.compact(Index(3)).is_ok());
  ASSERT_TRUE(s.append({ent(1, 9), ent(2, 9)}).is_ok());
  EXPECT_EQ(s.last_index()->value(), 4u);
  EXPECT_EQ(s.term(Index(4))->value(), 5u);
}

TEST(MemoryStorage, ApplySnapshotReplacesEverything) {
  MemoryStorage s;
  fill(s, 1, 1, 3);
  raftpb::Snapshot snap;
  snap.mutable_metadata()->set_index(10);
  snap.mutable_metadata()->set_term(4);
  ASSERT_TRUE(s.apply_snapshot(snap).is_ok());
  EXPECT_EQ(s.first_index()->value(), 11u);
  EXPECT_EQ(s.last_index()->value(), 10u);
  EXPECT_FALSE(s.apply_snapshot(snap).is_ok());
}

}  // namespace
}  // namespace etcd::raft
