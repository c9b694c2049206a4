// What the leader knows of one follower's log (Raft thesis 3.5 nextIndex /
// matchIndex), and the replication state machine etcd uses on top of it:
//   probe:     one MsgApp per heartbeat until the follower's log matches;
//   replicate: optimistic pipelining, bounded by the inflight window;
//   snapshot:  waiting for a snapshot to be applied; no appends.
#pragma once

#include <cstdint>
#include <string>

#include "raft/tracker/inflights.h"

namespace etcd::raft::tracker {

enum class ProgressState { kProbe, kReplicate, kSnapshot };
const char* to_string(ProgressState s);  // "StateProbe", "StateReplicate", "StateSnapshot"

struct Progress {
  Progress(uint64_t next_index, size_t max_inflight) : next(next_index), inflights(max_inflight) {}

  uint64_t match = 0;  // highest index known replicated on the follower
  uint64_t next = 0;   // next index to send
  ProgressState state = ProgressState::kProbe;
  // In kSnapshot: the index of the snapshot being sent.
  uint64_t pending_snapshot = 0;
  // Whether the follower was heard from since the last check-quorum round.
  bool recent_active = false;
  // In kProbe: a MsgApp was sent since the last heartbeat; pause until then.
  bool probe_sent = false;
  Inflights inflights;
  bool is_learner = false;

  // Moves to `state`, clearing probe_sent, pending_snapshot and inflights.
  void reset_state(ProgressState state);
  // Probe from match+1 (or from the pending snapshot's index+1 when leaving
  // kSnapshot, whichever is larger).
  void become_probe();
  // Replicate from match+1.
  void become_replicate();
  void become_snapshot(uint64_t snapshot_index);

  // Called on an accepted MsgAppResp for index n: raises match (and next to
  // at least n+1); returns whether match grew. Clears probe_sent.
  bool maybe_update(uint64_t n);
  // Called after sending entries up to n in kReplicate: next = n + 1.
  void optimistic_update(uint64_t n) { next = n + 1; }
  // Called on a rejected MsgApp for `rejected` (the index the leader sent),
  // with the follower's hint `match_hint`. Returns false when the rejection
  // is stale (ignored). In kReplicate: next = match + 1 unless stale. In
  // kProbe: next = max(min(rejected, match_hint + 1), 1), clears probe_sent.
  bool maybe_decr_to(uint64_t rejected, uint64_t match_hint);
  // Whether sending must wait: kProbe with probe_sent, kReplicate with a
  // full inflight window, always in kSnapshot.
  bool is_paused() const;

  // etcd's format, e.g. "StateReplicate match=5 next=6" plus
  // " learner", " paused", " pendingSnap=N", " inactive", " inflight=N[full]"
  // where they apply.
  std::string to_string() const;
};

}  // namespace etcd::raft::tracker
