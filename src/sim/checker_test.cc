// Unit tests of the invariant checker: each invariant is fed a fabricated
// history that violates it, and must report it; a consistent history must
// pass. Without these the simulation could "pass" with a checker that sees
// nothing.
#include "sim/checker.h"

#include <gtest/gtest.h>

#include <map>

namespace etcd::sim {
namespace {

// A log given as index -> term, starting after `snap`.
LogView view(uint64_t snap_index, uint64_t snap_term, std::map<uint64_t, uint64_t> terms) {
  LogView v;
  v.snapshot_index = snap_index;
  v.snapshot_term = snap_term;
  v.last_index = terms.empty() ? snap_index : terms.rbegin()->first;
  v.term_at = [terms](uint64_t i) {
    auto it = terms.find(i);
    return it == terms.end() ? uint64_t{0} : it->second;
  };
  return v;
}

TEST(Checker, ConsistentHistoryPasses) {
  Checker c;
  EXPECT_TRUE(c.observe_leader(1, 2));
  EXPECT_FALSE(c.observe_leader(1, 2));  // seen before: not a new leader
  c.observe_entry(1, 2, 2, 1, "N:");
  c.observe_entry(1, 3, 2, 2, "N:a");
  c.observe_entry(2, 3, 2, 2, "N:a");
  c.observe_entry(3, 3, 3, std::nullopt, "N:b");  // another term at 3: allowed
  c.observe_committed(1, 2, 2, 2);
  c.observe_committed(2, 3, 2, 3);
  c.observe_committed(1, 3, 2, 2);
  c.observe_applied(1, 2, 2, "N:");
  c.observe_applied(1, 3, 2, "N:a");
  c.observe_applied(2, 3, 2, "N:a");
  c.observe_snapshot_state(3, 3, {"a"});
  EXPECT_TRUE(c.observe_leader(2, 4));
  c.check_new_leader(2, 4, view(1, 1, {{2, 2}, {3, 2}, {4, 4}}));
  c.check_new_leader(3, 5, view(3, 2, {{4, 4}}));  // compacted, snapshot agrees
  c.read_issued("r1", 100);
  c.observe_read_state(1, "r1", 3);
  EXPECT_FALSE(c.failed()) << c.violation()->detail;
  EXPECT_EQ(c.max_committed(), 3u);
  EXPECT_EQ(c.applied_payloads(), 1u);
}

TEST(Checker, TwoLeadersInOneTerm) {
  Checker c;
  c.observe_leader(1, 5);
  c.observe_leader(2, 6);
  EXPECT_FALSE(c.failed());
  c.observe_leader(3, 5);
  ASSERT_TRUE(c.failed());
  EXPECT_EQ(c.violation()->invariant, "election-safety");
}

TEST(Checker, SameIndexAndTermDifferentEntry) {
  Checker c;
  c.observe_entry(1, 7, 3, 3, "N:x");
  c.observe_entry(2, 7, 3, 3, "N:y");
  ASSERT_TRUE(c.failed());
  EXPECT_EQ(c.violation()->invariant, "log-matching");
}

TEST(Checker, SameIndexAndTermDifferentPredecessor) {
  Checker c;
  c.observe_entry(1, 7, 3, 2, "N:x");
  c.observe_entry(2, 7, 3, std::nullopt, "N:x");  // unknown predecessor: no verdict
  EXPECT_FALSE(c.failed());
  c.observe_entry(2, 7, 3, 1, "N:x");
  ASSERT_TRUE(c.failed());
  EXPECT_EQ(c.violation()->invariant, "log-matching");
}

TEST(Checker, NewLeaderMissingACommittedEntry) {
  Checker c;
  c.observe_committed(1, 4, 2, 2);
  c.check_new_leader(2, 3, view(1, 1, {{2, 1}, {3, 2}, {4, 3}}));  // 4 has the wrong term
  ASSERT_TRUE(c.failed());
  EXPECT_EQ(c.violation()->invariant, "leader-completeness");
}

TEST(Checker, NewLeaderWithAShortLog) {
  Checker c;
  c.observe_committed(1, 6, 2, 2);
  c.check_new_leader(2, 3, view(1, 1, {{2, 2}, {3, 2}}));
  ASSERT_TRUE(c.failed());
  EXPECT_EQ(c.violation()->invariant, "leader-completeness");
}

TEST(Checker, NewLeaderWithAConflictingSnapshot) {
  Checker c;
  c.observe_committed(1, 5, 2, 2);
  c.check_new_leader(2, 3, view(5, 3, {{6, 3}}));
  ASSERT_TRUE(c.failed());
  EXPECT_EQ(c.violation()->invariant, "leader-completeness");
}

TEST(Checker, LateLeaderOfAnOlderTermNeedNotHoldNewerCommits) {
  // A candidate of term 6 cut off from the cluster wins with delayed votes
  // after term 7 committed index 6: legal, it can never commit anything.
  Checker c;
  c.observe_committed(3, 5, 5, 5);
  c.observe_committed(3, 6, 7, 7);
  c.observe_committed(4, 6, 7, 8);  // seen later in a newer term: bound stays 7
  c.check_new_leader(1, 6, view(1, 1, {{5, 5}, {6, 6}}));
  EXPECT_FALSE(c.failed());
  c.check_new_leader(2, 8, view(1, 1, {{5, 5}, {6, 6}}));  // term 8 must hold it
  ASSERT_TRUE(c.failed());
  EXPECT_EQ(c.violation()->invariant, "leader-completeness");
}

TEST(Checker, CommittedEntryChanges) {
  Checker c;
  c.observe_committed(1, 9, 4, 4);
  c.observe_committed(2, 9, 4, 5);
  EXPECT_FALSE(c.failed());
  c.observe_committed(3, 9, 5, 5);  // after a crash lost it, 9 was reused
  ASSERT_TRUE(c.failed());
  EXPECT_EQ(c.violation()->invariant, "committed-entry-lost");
}

TEST(Checker, DifferentEntriesAppliedAtOneIndex) {
  Checker c;
  c.observe_applied(1, 3, 2, "N:a");
  c.observe_applied(2, 3, 2, "N:b");
  ASSERT_TRUE(c.failed());
  EXPECT_EQ(c.violation()->invariant, "state-machine-safety");
}

TEST(Checker, SnapshotDisagreesWithAppliedHistory) {
  Checker c;
  c.observe_applied(1, 2, 2, "N:a");
  c.observe_applied(1, 3, 2, "N:b");
  c.observe_snapshot_state(2, 3, {"a"});  // lost "b"
  ASSERT_TRUE(c.failed());
  EXPECT_EQ(c.violation()->invariant, "state-machine-safety");
}

TEST(Checker, SnapshotCoversUnappliedIndex) {
  Checker c;
  c.observe_applied(1, 2, 2, "N:a");
  c.observe_snapshot_state(2, 3, {"a"});
  ASSERT_TRUE(c.failed());
  EXPECT_EQ(c.violation()->invariant, "state-machine-safety");
}

TEST(Checker, StaleRead) {
  Checker c;
  c.observe_committed(1, 10, 3, 3);
  c.read_issued("r", 100);
  c.observe_read_state(2, "r", 10);
  EXPECT_FALSE(c.failed());
  c.observe_read_state(3, "r", 9);  // misses a write acknowledged before
  ASSERT_TRUE(c.failed());
  EXPECT_EQ(c.violation()->invariant, "read-index");
}

TEST(Checker, ReadBeforeItsIssueIsFine) {
  // A read issued before a commit may return an index below that commit.
  Checker c;
  c.read_issued("r", 100);
  c.observe_committed(1, 10, 3, 3);
  c.observe_read_state(2, "r", 5);
  EXPECT_FALSE(c.failed());
}

TEST(Checker, FirstViolationIsKept) {
  Checker c;
  c.observe_leader(1, 5);
  c.observe_leader(2, 5);
  c.fail("liveness", "later");
  EXPECT_EQ(c.violation()->invariant, "election-safety");
}

}  // namespace
}  // namespace etcd::sim
