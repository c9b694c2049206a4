// Corruption checks (etcd's corrupt.go): --experimental-initial-corrupt-check
// before a restarted member serves, and --experimental-corrupt-check-time
// for a periodic check by the leader.
//
// etcd compares HashKV between members; peers come with clusters, through
// CorruptionHost::peer_hashes (empty on a single member). Beyond etcd, each
// pass also verifies the member's own data (verify_local):
//   - every record of the key bucket decodes; a put's KeyValue carries the
//     mod_revision of the revision key it is stored under, a create_revision
//     in [1, mod_revision] and a version >= 1; a deletion names its key;
//   - every key live in the in-memory index at the current revision has its
//     revision in the backend, holding that key;
//   - HashKV at the current revision is reproducible.
// The initial check fails start-up on any inconsistency; the periodic one
// raises the CORRUPT alarm through Raft (then writes fail with
// "etcdserver: corrupt cluster", as etcd's applierV3Corrupt).
//
// Threads: run() starts one thread that wakes every interval; the checks
// themselves may run on any thread (they read MVCC views only).
#pragma once

#include <absl/base/thread_annotations.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <vector>
#include "base/worker.h"

#include "base/ids.h"
#include "base/log.h"
#include "base/status.h"
#include "env/clock.h"
#include "etcdserverpb/rpc.pb.h"
#include "mvcc/kvstore.h"

namespace etcd::server {

// One peer's answer to HashKV at a revision: `resp` when it answered,
// otherwise `error` (etcd's future-revision and compacted errors matter).
struct PeerHashKV {
  MemberId id;
  std::vector<std::string> endpoints;
  std::optional<etcdserverpb::HashKVResponse> resp;
  Status error;
};

// What the checker needs from the server.
class CorruptionHost {
 public:
  virtual ~CorruptionHost() = default;
  virtual MemberId member_id() = 0;
  virtual bool is_leader() = 0;
  // HashKV of every other member at `rev`: the seam the cluster issue fills.
  virtual std::vector<PeerHashKV> peer_hashes(MainRev rev) = 0;
  // Returns once every write acknowledged before the call is applied here.
  virtual Status linearizable_barrier() = 0;
  // Proposes AlarmRequest{ACTIVATE, CORRUPT, member} through Raft.
  virtual void raise_corrupt_alarm(MemberId member) = 0;
};

class CorruptionChecker {
 public:
  CorruptionChecker(mvcc::KVStore& kv, CorruptionHost& host, log::Logger& logger);
  ~CorruptionChecker();  // stop()s
  CorruptionChecker(const CorruptionChecker&) = delete;
  CorruptionChecker& operator=(const CorruptionChecker&) = delete;

  // etcd's CheckInitialHashKV plus verify_local(): an error means the member
  // must not start ("<id> found data inconsistency with peers", or with its
  // own backend). `timeout` is only logged (etcd's request timeout).
  Status initial_check(std::chrono::milliseconds timeout);
  // One periodic pass (etcd's checkHashKV plus verify_local()); raises the
  // CORRUPT alarm on an inconsistency. An error is a check that could not
  // run ("failed to check hash KV").
  Status periodic_check();
  // The member's own data; an error describes the first inconsistency.
  Status verify_local();

  // Starts the periodic check: every `interval`, on the leader only.
  void run(std::chrono::nanoseconds interval);
  void stop();

 private:
  Status verify_local_at(MainRev rev);

  mvcc::KVStore& kv_;
  CorruptionHost& host_;
  log::Logger& logger_;

  Worker worker_;  // run()'s thread
};

}  // namespace etcd::server
