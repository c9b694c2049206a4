#include "raft/raft_log.h"

#include <gtest/gtest.h>

namespace etcd::raft {
namespace {

raftpb::Entry ent(uint64_t index, uint64_t term) {
  raftpb::Entry e;
  e.set_index(index);
  e.set_term(term);
  return e;
}

std::vector<uint64_t> terms(const std::vector<raftpb::Entry>& ents) {
  std::vector<uint64_t> out;
  for (const auto& e : ents) out.push_back(e.term());
  return out;
}

TEST(RaftLog, AppendAndConflict) {
  MemoryStorage s;
  ASSERT_TRUE(s.append({ent(1, 1), ent(2, 2)}).is_ok());
  RaftLog log(s, kNoLimit);
  EXPECT_EQ(log.last_index(), 2u);
  EXPECT_EQ(log.append({ent(3, 2), ent(4, 3)}), 4u);
  EXPECT_EQ(log.find_conflict({ent(1, 1), ent(2, 2)}), 0u);
  EXPECT_EQ(log.find_conflict({ent(2, 2), ent(3, 3)}), 3u);
  EXPECT_EQ(log.find_conflict({ent(5, 3)}), 5u);  // new entry
  // Replacing the unstable suffix.
  EXPECT_EQ(log.append({ent(3, 4)}), 3u);
  EXPECT_EQ(terms(log.all_entries()), (std::vector<uint64_t>{1, 2, 4}));
}

TEST(RaftLog, MaybeAppendCommitsAndRejects) {
  MemoryStorage s;
  RaftLog log(s, kNoLimit);
  log.append({ent(1, 1), ent(2, 2), ent(3, 3)});
  // Mismatching term at index 3: rejected.
  EXPECT_FALSE(log.maybe_append(3, 2, 3, {ent(4, 4)}).has_value());
  // Matching: appended, commit = min(leader commit, last new index).
  auto last = log.maybe_append(3, 3, 10, {ent(4, 4)});
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(*last, 4u);
  EXPECT_EQ(log.committed(), 4u);
}

TEST(RaftLog, FindConflictByTerm) {
  MemoryStorage s;
  RaftLog log(s, kNoLimit);
  // index: 1 2 3 4 5 6 7
  // term:  1 1 2 2 2 5 5
  log.append({ent(1, 1), ent(2, 1), ent(3, 2), ent(4, 2), ent(5, 2), ent(6, 5), ent(7, 5)});
  EXPECT_EQ(log.find_conflict_by_term(7, 5), 7u);
  EXPECT_EQ(log.find_conflict_by_term(7, 4), 5u);  // skips the whole term-5 run
  EXPECT_EQ(log.find_conflict_by_term(7, 1), 2u);
  EXPECT_EQ(log.find_conflict_by_term(7, 0), 0u);
  EXPECT_EQ(log.find_conflict_by_term(9, 3), 9u);  // beyond the log: unchanged
}

TEST(RaftLog, CommitOnlyCurrentTermAndUpToDate) {
  MemoryStorage s;
  RaftLog log(s, kNoLimit);
  log.append({ent(1, 1), ent(2, 2)});
  EXPECT_FALSE(log.maybe_commit(2, 3));  // entry 2 is not of term 3
  EXPECT_TRUE(log.maybe_commit(2, 2));
  EXPECT_EQ(log.committed(), 2u);
  EXPECT_TRUE(log.is_up_to_date(2, 2));
  EXPECT_TRUE(log.is_up_to_date(1, 3));  // a higher last term wins
  EXPECT_FALSE(log.is_up_to_date(1, 2));
  EXPECT_FALSE(log.is_up_to_date(5, 1));
}

TEST(RaftLog, NextEntsAndStable) {
  MemoryStorage s;
  RaftLog log(s, kNoLimit);
  log.append({ent(1, 1), ent(2, 1), ent(3, 1)});
  log.commit_to(2);
  EXPECT_TRUE(log.has_next_ents());
  EXPECT_EQ(log.next_ents().size(), 2u);
  log.applied_to(2);
  EXPECT_FALSE(log.has_next_ents());
  EXPECT_EQ(log.unstable_entries().size(), 3u);
  ASSERT_TRUE(s.append(log.unstable_entries()).is_ok());
  log.stable_to(3, 1);
  EXPECT_TRUE(log.unstable_entries().empty());
  EXPECT_EQ(log.last_index(), 3u);
  // A stale stable_to (wrong term) is ignored.
  log.append({ent(4, 2)});
  log.stable_to(4, 1);
  EXPECT_EQ(log.unstable_entries().size(), 1u);
}

TEST(RaftLog, RestoreFromSnapshot) {
  MemoryStorage s;
  RaftLog log(s, kNoLimit);
  raftpb::Snapshot snap;
  snap.mutable_metadata()->set_index(100);
  snap.mutable_metadata()->set_term(5);
  log.restore(snap);
  EXPECT_EQ(log.committed(), 100u);
  EXPECT_EQ(log.last_index(), 100u);
  EXPECT_EQ(log.first_index(), 101u);
  EXPECT_EQ(*log.term(100), 5u);
  EXPECT_TRUE(log.has_pending_snapshot());
  log.stable_snap_to(100);
  EXPECT_FALSE(log.has_pending_snapshot());
}

}  // namespace
}  // namespace etcd::raft
