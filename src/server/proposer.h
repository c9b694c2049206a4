// Proposals and linearizable reads through Raft, for every part of the
// server that writes or reads linearizably: etcd's request id generator
// (idutil), its wait registry and processInternalRaftRequestOnce, and its
// linearizableReadLoop.
//
// - propose(), propose_v2(): give the request a fresh id (the header's, a
//   v2 Request's own), propose it and wait (once) for the apply thread to
//   complete() it, for the request timeout, or for stop(). A proposal that Raft drops at once fails
//   with "no leader" when there is none, else with the timeout error, as etcd answers then.
// - read_index(): joins the ReadIndex round about to start (every read
//   waiting at that moment shares it; one round is in flight at a time) and
//   returns the index the local state machine must reach. An unanswered
//   round is sent again every `read_retry` and said so in the log.
//
// Threads: propose() and read_index() block their caller (gRPC threads,
// workers); complete() runs on the apply thread, on_read_state() on the
// raft thread, stop() on the stopping thread. Waiters are guarded by
// wait_mu_, read rounds by read_mu_; neither is held while calling Raft
// or logging.
#pragma once

#include <absl/base/thread_annotations.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <memory>
#include <string>

#include "base/ids.h"
#include "base/log.h"
#include "base/mutex.h"
#include "base/status.h"
#include "env/clock.h"
#include "etcdserverpb/etcdserver.pb.h"
#include "raft/rawnode.h"
#include "server/apply_result.h"
#include "serverpb/raft_internal.pb.h"

namespace etcd::server {

// What the proposer needs of the raft node (RaftNode; a fake in tests).
class RaftPort {
 public:
  virtual ~RaftPort() = default;
  // Hands `data` to Raft as a proposal; an error when Raft dropped it.
  virtual Status propose(std::string data) = 0;
  // Starts a ReadIndex round with `ctx`; the answer comes to
  // Proposer::on_read_state (or never, without a leader).
  virtual void read_index(std::string ctx) = 0;
  // The leader, MemberId(0) when none is known.
  virtual MemberId lead() const = 0;
  // Hands a configuration change to Raft; an error when Raft dropped it.
  virtual Status propose_conf_change(raftpb::ConfChange cc) {
    (void)cc;
    return Status(Code::kUnimplemented, "conf changes are not supported here");
  }
};

class Proposer {
 public:
  struct Options {
    // etcd's ReqTimeout: 5 s + 2 election timeouts.
    std::chrono::milliseconds request_timeout{7000};
    uint64_t max_request_bytes = 1572864;
    // etcd's readIndexRetryTime.
    std::chrono::milliseconds read_retry{500};
  };

  // The clock's wall time at construction seeds the request ids (etcd: the
  // member id's low 16 bits, then the start time in ms, then a counter), so
  // ids stay unique across restarts; its monotonic time times the waits.
  Proposer(RaftPort& raft, MemberId member, env::Clock& clock, log::Logger& logger,
           Options options);
  Proposer(const Proposer&) = delete;
  Proposer& operator=(const Proposer&) = delete;

  // A fresh id (requests, leases).
  uint64_t next_id() { return id_prefix_ + id_counter_.fetch_add(1, std::memory_order_relaxed); }

  // How often a proposal dropped for want of a leader is handed to Raft
  // again while it waits for one.
  static constexpr std::chrono::milliseconds kNoLeaderRetry{20};

  Result<ApplyResult> propose(serverpb::InternalRaftRequest req);
  // The same for a configuration change: `cc` gets a fresh id, and the
  // result is the membership's verdict once the change is applied.
  Result<ApplyResult> propose_conf_change(raftpb::ConfChange cc);
  // The same for a raw v2 Request (its id is the request id), as etcd
  // 3.4/3.5 members propose member attributes and the cluster version.
  Result<ApplyResult> propose_v2(etcdserverpb::Request req);
  // The apply thread's result for request `id`; dropped when nothing waits
  // (another member's request, or a waiter that timed out).
  void complete(uint64_t id, ApplyResult result);

  Result<uint64_t> read_index();
  void on_read_state(const raft::ReadState& rs);
  // The leader changed (raft thread): the round in flight may never be
  // answered, so its readers fail with "leader changed" (etcd's retryable
  // ErrLeaderChanged) and the next round starts.
  void on_leader_change();

  // Fails every waiting proposal with "server stopped", and every later one
  // at once.
  void stop();

  // Proposals waiting for their application, reads waiting for a round
  // (tests, metrics).
  size_t waiting();
  size_t reading() const { return readers_.load(std::memory_order_acquire); }

 private:
  // Registers a waiter for `id`, hands `data` to Raft with `submit`, waits.
  Result<ApplyResult> submit_and_wait(uint64_t id, const std::function<Status()>& submit);
  Result<ApplyResult> submit_and_wait_once(uint64_t id, const std::function<Status()>& submit);

  struct Round {
    std::string ctx;
    bool done = false;
    uint64_t index = 0;
    Status error;                                  // done without an index
    std::chrono::steady_clock::time_point sent{};  // last (re)sent
  };
  std::shared_ptr<Round> new_round() ABSL_EXCLUSIVE_LOCKS_REQUIRED(read_mu_);
  // Makes the queued round current and returns its ctx to send ("": none).
  std::string advance_rounds() ABSL_EXCLUSIVE_LOCKS_REQUIRED(read_mu_);
  // Proposes the encoded request `id` and waits for its result.
  Result<ApplyResult> propose_data(uint64_t id, std::string data);

  RaftPort& raft_;
  env::Clock& clock_;
  log::Logger& logger_;
  const Options options_;
  const uint64_t id_prefix_;
  std::atomic<uint64_t> id_counter_{0};

  Mutex wait_mu_;
  std::map<uint64_t, std::shared_ptr<std::promise<ApplyResult>>> waiters_ ABSL_GUARDED_BY(wait_mu_);
  bool stopped_ ABSL_GUARDED_BY(wait_mu_) = false;

  Mutex read_mu_;
  std::condition_variable read_cv_;
  std::shared_ptr<Round> current_ ABSL_GUARDED_BY(read_mu_);  // in flight
  std::shared_ptr<Round> next_ ABSL_GUARDED_BY(read_mu_);     // starts when current_ ends
  uint64_t read_seq_ ABSL_GUARDED_BY(read_mu_) = 0;
  std::atomic<size_t> readers_{0};  // in read_index(), having joined a round
};

}  // namespace etcd::server
