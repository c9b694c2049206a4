// Auto-compaction (etcd's v3compactor): --auto-compaction-mode periodic or
// revision with --auto-compaction-retention. Compactions are ordinary
// CompactionRequests proposed through Raft (the host's compact()), so every
// member applies them at the same point of the log.
//
//  - periodic: the revision is sampled every retention/10 (at most every 6
//    minutes); once `retention` has passed since the start or the last
//    success (then at most an hour), the store is compacted to the sample
//    taken `retention` ago. A failure is retried at the next sample.
//  - revision: every check interval (etcd: 5 minutes) the store is compacted
//    to current revision - retention, when that is positive and moved.
//
// Only the leader compacts: at each wake-up a compactor whose host is not the
// leader skips its turn (etcd pauses and resumes the compactor on leadership
// changes; asking at the wake-up is the same thing).
//
// Threads: run() starts one thread ("compactor") that owns all the state
// below; stop() may be called from any thread. Tests drive
// the state machine without the thread: poll() after moving a ManualClock.
#pragma once

#include <absl/base/thread_annotations.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "base/worker.h"

#include "base/ids.h"
#include "base/log.h"
#include "base/status.h"
#include "env/clock.h"

namespace etcd::server {

enum class CompactionMode { kPeriodic, kRevision };

// What the compactor needs from the server.
class CompactorHost {
 public:
  virtual ~CompactorHost() = default;
  // The store's current revision.
  virtual MainRev current_revision() = 0;
  // True when this member is the raft leader.
  virtual bool is_leader() = 0;
  // Proposes a CompactionRequest for `revision` and waits for it to apply.
  // etcd's "required revision has been compacted" counts as done.
  virtual Status compact(MainRev revision) = 0;
};

// etcd's parseCompactionRetention: a bare non-negative integer is hours in
// periodic mode and a revision count in revision mode; anything else must be
// a Go duration (in revision mode its nanoseconds are the count, as etcd's).
// Returns the retention in nanoseconds (periodic) or revisions (revision);
// 0 turns auto-compaction off. Errors are etcd's start-up error:
// `error parsing CompactionRetention: time: invalid duration "x"`.
Result<int64_t> parse_compaction_retention(std::string_view mode, std::string_view retention);

class Compactor {
 public:
  static constexpr std::chrono::nanoseconds kDefaultRevisionInterval = std::chrono::minutes(5);

  // `retention`: nanoseconds (periodic) or revisions (revision), > 0.
  // `revision_interval`: the revision mode's check interval.
  Compactor(CompactionMode mode, int64_t retention, CompactorHost& host, log::Logger& logger,
            env::Clock& clock,
            std::chrono::nanoseconds revision_interval = kDefaultRevisionInterval);
  ~Compactor();  // stop()s
  Compactor(const Compactor&) = delete;
  Compactor& operator=(const Compactor&) = delete;

  // Starts the compactor thread (sleeps on the real time until each due
  // wake-up of the injected clock).
  void run();
  void stop();

  // One step of the loop, on the caller's thread: if the wake-up is due on
  // the clock, runs it (maybe compacting) and schedules the next. Returns
  // true if a wake-up ran. Not to be mixed with run().
  bool poll();
  // When the next wake-up is due (clock time).
  std::chrono::steady_clock::time_point next_wakeup() const { return next_; }

  // The periodic mode's sampling interval and number of samples kept.
  std::chrono::nanoseconds retry_interval() const;
  size_t retentions() const;

 private:
  void wake_periodic(std::chrono::steady_clock::time_point now);
  void wake_revision(std::chrono::steady_clock::time_point now);

  const CompactionMode mode_;
  const int64_t retention_;  // ns (periodic) or revisions (revision)
  CompactorHost& host_;
  log::Logger& logger_;
  env::Clock& clock_;
  const std::chrono::nanoseconds revision_interval_;

  // Loop state: owned by the compactor thread (or poll()'s caller).
  std::chrono::steady_clock::time_point next_;
  // periodic: revisions sampled every retry_interval(), oldest first; the
  // front is the revision of `retention` ago once the window is full.
  std::deque<MainRev> revs_;
  std::chrono::steady_clock::time_point last_success_;
  std::chrono::nanoseconds base_interval_{0};
  MainRev last_revision_;  // the last revision compacted (both modes)

  Worker worker_;  // run()'s thread
};

}  // namespace etcd::server
