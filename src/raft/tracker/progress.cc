#include "raft/tracker/progress.h"

#include <algorithm>

namespace etcd::raft::tracker {

const char* to_string(ProgressState s) {
  switch (s) {
    case ProgressState::kProbe:
      return "StateProbe";
    case ProgressState::kReplicate:
      return "StateReplicate";
    case ProgressState::kSnapshot:
      return "StateSnapshot";
  }
  return "StateUnknown";
}

void Progress::reset_state(ProgressState new_state) {
  probe_sent = false;
  pending_snapshot = 0;
  state = new_state;
  inflights.reset();
}

void Progress::become_probe() {
  // Leaving kSnapshot means the snapshot was applied (or the attempt is
  // over): everything up to it need not be probed again.
  const uint64_t snapshot_index = state == ProgressState::kSnapshot ? pending_snapshot : 0;
  reset_state(ProgressState::kProbe);
  next = std::max(match + 1, snapshot_index + 1);
}

void Progress::become_replicate() {
  reset_state(ProgressState::kReplicate);
  next = match + 1;
}

void Progress::become_snapshot(uint64_t snapshot_index) {
  reset_state(ProgressState::kSnapshot);
  pending_snapshot = snapshot_index;
}

bool Progress::maybe_update(uint64_t n) {
  bool grew = false;
  if (match < n) {
    match = n;
    grew = true;
    probe_sent = false;  // the probe was answered: resume sending
  }
  next = std::max(next, n + 1);
  return grew;
}

bool Progress::maybe_decr_to(uint64_t rejected, uint64_t match_hint) {
  if (state == ProgressState::kReplicate) {
    // Anything at or below match was acknowledged already: a reordered or
    // duplicated rejection.
    if (rejected <= match) return false;
    next = match + 1;
    return true;
  }
  // Outside kReplicate one append is outstanding at a time, sent at next - 1;
  // a rejection of any other index is stale. (next == 0 wraps, as in etcd.)
  if (next - 1 != rejected) return false;
  next = std::max<uint64_t>(std::min(rejected, match_hint + 1), 1);
  probe_sent = false;
  return true;
}

bool Progress::is_paused() const {
  switch (state) {
    case ProgressState::kProbe:
      return probe_sent;
    case ProgressState::kReplicate:
      return inflights.full();
    case ProgressState::kSnapshot:
      return true;
  }
  return true;
}

std::string Progress::to_string() const {
  std::string out = tracker::to_string(state);
  out += " match=" + std::to_string(match) + " next=" + std::to_string(next);
  if (is_learner) out += " learner";
  if (is_paused()) out += " paused";
  if (pending_snapshot > 0) out += " pendingSnap=" + std::to_string(pending_snapshot);
  if (!recent_active) out += " inactive";
  if (inflights.count() > 0) {
    out += " inflight=" + std::to_string(inflights.count());
    if (inflights.full()) out += "[full]";
  }
  return out;
}

}  // namespace etcd::raft::tracker
