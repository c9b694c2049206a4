#include "raft/tracker/progress.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace etcd::raft::tracker {
namespace {

Progress make(ProgressState state, uint64_t match, uint64_t next, size_t max_inflight = 256) {
  Progress p(next, max_inflight);
  p.state = state;
  p.match = match;
  return p;
}

TEST(ProgressState, ToString) {
  EXPECT_STREQ(to_string(ProgressState::kProbe), "StateProbe");
  EXPECT_STREQ(to_string(ProgressState::kReplicate), "StateReplicate");
  EXPECT_STREQ(to_string(ProgressState::kSnapshot), "StateSnapshot");
}

TEST(Progress, StartsInProbe) {
  const Progress p(7, 16);
  EXPECT_EQ(p.state, ProgressState::kProbe);
  EXPECT_EQ(p.match, 0u);
  EXPECT_EQ(p.next, 7u);
  EXPECT_EQ(p.inflights.capacity(), 16u);
  EXPECT_FALSE(p.recent_active);
  EXPECT_FALSE(p.probe_sent);
  EXPECT_FALSE(p.is_learner);
  EXPECT_EQ(p.pending_snapshot, 0u);
}

TEST(Progress, ToStringWithEverything) {
  Progress p = make(ProgressState::kSnapshot, 1, 2, 1);
  p.inflights.add(123);
  p.pending_snapshot = 123;
  p.recent_active = false;
  p.probe_sent = true;
  p.is_learner = true;
  EXPECT_EQ(
      p.to_string(),
      "StateSnapshot match=1 next=2 learner paused pendingSnap=123 inactive inflight=1[full]");
}

TEST(Progress, ToStringPlain) {
  Progress p = make(ProgressState::kReplicate, 5, 6, 4);
  p.recent_active = true;
  EXPECT_EQ(p.to_string(), "StateReplicate match=5 next=6");
  p.inflights.add(6);
  p.inflights.add(7);
  EXPECT_EQ(p.to_string(), "StateReplicate match=5 next=6 inflight=2");
  p.inflights.add(8);
  p.inflights.add(9);
  EXPECT_EQ(p.to_string(), "StateReplicate match=5 next=6 paused inflight=4[full]");
  p.recent_active = false;
  EXPECT_EQ(p.to_string(), "StateReplicate match=5 next=6 paused inactive inflight=4[full]");
  Progress probe(1, 4);
  probe.recent_active = true;
  EXPECT_EQ(probe.to_string(), "StateProbe match=0 next=1");
  probe.probe_sent = true;
  EXPECT_EQ(probe.to_string(), "StateProbe match=0 next=1 paused");
}

TEST(Progress, IsPaused) {
  struct Case {
    ProgressState state;
    bool probe_sent;
    bool want;
  };
  const std::vector<Case> cases = {
      {ProgressState::kProbe, false, false},     {ProgressState::kProbe, true, true},
      {ProgressState::kReplicate, false, false}, {ProgressState::kReplicate, true, false},
      {ProgressState::kSnapshot, false, true},   {ProgressState::kSnapshot, true, true},
  };
  for (const Case& c : cases) {
    Progress p = make(c.state, 0, 0);
    p.probe_sent = c.probe_sent;
    EXPECT_EQ(p.is_paused(), c.want) << to_string(c.state) << " probe_sent=" << c.probe_sent;
  }
}

TEST(Progress, ReplicatePausesOnAFullWindow) {
  Progress p = make(ProgressState::kReplicate, 0, 1, 2);
  p.inflights.add(1);
  EXPECT_FALSE(p.is_paused());
  p.inflights.add(2);
  EXPECT_TRUE(p.is_paused());
  p.inflights.free_le(1);
  EXPECT_FALSE(p.is_paused());
}

TEST(Progress, MaybeUpdateAndMaybeDecrToResumeProbing) {
  Progress p(2, 256);
  p.probe_sent = true;
  EXPECT_TRUE(p.maybe_decr_to(1, 1));
  EXPECT_FALSE(p.probe_sent);
  p.probe_sent = true;
  EXPECT_TRUE(p.maybe_update(2));
  EXPECT_FALSE(p.probe_sent);
}

TEST(Progress, MaybeUpdateWithoutProgressKeepsTheProbePaused) {
  // As in etcd, only an update that raises match counts as an answer.
  Progress p = make(ProgressState::kProbe, 3, 5);
  p.probe_sent = true;
  EXPECT_FALSE(p.maybe_update(3));
  EXPECT_TRUE(p.probe_sent);
}

TEST(Progress, BecomeProbe) {
  struct Case {
    ProgressState from;
    uint64_t pending_snapshot;
    uint64_t want_next;
  };
  const std::vector<Case> cases = {
      {ProgressState::kReplicate, 0, 2},
      {ProgressState::kSnapshot, 10, 11},  // the snapshot was applied
      {ProgressState::kSnapshot, 0, 2},    // the snapshot failed
      {ProgressState::kProbe, 0, 2},
  };
  for (const Case& c : cases) {
    Progress p = make(c.from, 1, 5);
    p.pending_snapshot = c.pending_snapshot;
    p.probe_sent = true;
    p.inflights.add(3);
    p.become_probe();
    EXPECT_EQ(p.state, ProgressState::kProbe);
    EXPECT_EQ(p.match, 1u);
    EXPECT_EQ(p.next, c.want_next) << to_string(c.from);
    EXPECT_EQ(p.pending_snapshot, 0u);
    EXPECT_FALSE(p.probe_sent);
    EXPECT_EQ(p.inflights.count(), 0u);
  }
}

TEST(Progress, BecomeProbeAfterSnapshotBelowMatch) {
  // A snapshot older than what the follower already matched does not move
  // next backwards.
  Progress p = make(ProgressState::kSnapshot, 20, 21);
  p.pending_snapshot = 10;
  p.become_probe();
  EXPECT_EQ(p.next, 21u);
}

TEST(Progress, BecomeReplicate) {
  Progress p = make(ProgressState::kProbe, 1, 5);
  p.probe_sent = true;
  p.become_replicate();
  EXPECT_EQ(p.state, ProgressState::kReplicate);
  EXPECT_EQ(p.match, 1u);
  EXPECT_EQ(p.next, 2u);
  EXPECT_FALSE(p.probe_sent);
}

TEST(Progress, BecomeSnapshot) {
  Progress p = make(ProgressState::kReplicate, 1, 5);
  p.inflights.add(4);
  p.become_snapshot(10);
  EXPECT_EQ(p.state, ProgressState::kSnapshot);
  EXPECT_EQ(p.match, 1u);
  EXPECT_EQ(p.next, 5u);
  EXPECT_EQ(p.pending_snapshot, 10u);
  EXPECT_EQ(p.inflights.count(), 0u);
  EXPECT_TRUE(p.is_paused());
}

TEST(Progress, ResetStateClearsTheStateFields) {
  Progress p = make(ProgressState::kSnapshot, 3, 9);
  p.pending_snapshot = 8;
  p.probe_sent = true;
  p.inflights.add(4);
  p.recent_active = true;
  p.is_learner = true;
  p.reset_state(ProgressState::kReplicate);
  EXPECT_EQ(p.state, ProgressState::kReplicate);
  EXPECT_EQ(p.pending_snapshot, 0u);
  EXPECT_FALSE(p.probe_sent);
  EXPECT_EQ(p.inflights.count(), 0u);
  // Everything else is kept.
  EXPECT_EQ(p.match, 3u);
  EXPECT_EQ(p.next, 9u);
  EXPECT_TRUE(p.recent_active);
  EXPECT_TRUE(p.is_learner);
}

TEST(Progress, MaybeUpdate) {
  const uint64_t match = 3;
  const uint64_t next = 5;
  struct Case {
    uint64_t update;
    uint64_t want_match;
    uint64_t want_next;
    bool want_ok;
  };
  const std::vector<Case> cases = {
      {match - 1, match, next, false},         // never lowers match or next
      {match, match, next, false},             // same match: nothing new
      {match + 1, match + 1, next, true},      // raises match, next already beyond
      {match + 2, match + 2, next + 1, true},  // raises both
  };
  for (const Case& c : cases) {
    Progress p = make(ProgressState::kProbe, match, next);
    EXPECT_EQ(p.maybe_update(c.update), c.want_ok) << c.update;
    EXPECT_EQ(p.match, c.want_match) << c.update;
    EXPECT_EQ(p.next, c.want_next) << c.update;
  }
}

TEST(Progress, OptimisticUpdate) {
  Progress p = make(ProgressState::kReplicate, 3, 4);
  p.optimistic_update(10);
  EXPECT_EQ(p.next, 11u);
  EXPECT_EQ(p.match, 3u);
}

TEST(Progress, MaybeDecrTo) {
  struct Case {
    ProgressState state;
    uint64_t match;
    uint64_t next;
    uint64_t rejected;
    uint64_t hint;
    bool want_ok;
    uint64_t want_next;
  };
  const std::vector<Case> cases = {
      // Replicate: a rejection at or below match is stale.
      {ProgressState::kReplicate, 5, 10, 5, 5, false, 10},
      {ProgressState::kReplicate, 5, 10, 4, 4, false, 10},
      // Replicate: otherwise fall back to match + 1 (the hint is not used).
      {ProgressState::kReplicate, 5, 10, 9, 9, true, 6},
      {ProgressState::kReplicate, 5, 10, 6, 100, true, 6},
      // Probe: only a rejection of next - 1 is current (next = 0 wraps).
      {ProgressState::kProbe, 0, 0, 0, 0, false, 0},
      {ProgressState::kProbe, 0, 10, 5, 5, false, 10},
      // Probe: step back to the rejected index...
      {ProgressState::kProbe, 0, 10, 9, 9, true, 9},
      {ProgressState::kProbe, 0, 2, 1, 1, true, 1},
      // ... but never below 1 ...
      {ProgressState::kProbe, 0, 1, 0, 0, true, 1},
      // ... and straight to the follower's hint + 1 when that is lower.
      {ProgressState::kProbe, 0, 10, 9, 2, true, 3},
      {ProgressState::kProbe, 0, 10, 9, 0, true, 1},
      // Snapshot follows the probe rules.
      {ProgressState::kSnapshot, 0, 10, 9, 2, true, 3},
      {ProgressState::kSnapshot, 0, 10, 8, 2, false, 10},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    Progress p = make(c.state, c.match, c.next);
    EXPECT_EQ(p.maybe_decr_to(c.rejected, c.hint), c.want_ok) << "#" << i;
    EXPECT_EQ(p.match, c.match) << "#" << i;
    EXPECT_EQ(p.next, c.want_next) << "#" << i;
  }
}

TEST(Progress, MaybeDecrToInReplicateKeepsProbeFlagAndState) {
  Progress p = make(ProgressState::kReplicate, 5, 10);
  p.inflights.add(7);
  ASSERT_TRUE(p.maybe_decr_to(8, 6));
  EXPECT_EQ(p.state, ProgressState::kReplicate);
  EXPECT_EQ(p.inflights.count(), 1u);  // the caller decides what to do next
}

}  // namespace
}  // namespace etcd::raft::tracker
