// The v2 API's side of a member (V2Api): etcd's EtcdServer.Do for the keys
// API, and the leader's SYNC of the v2 store's TTLs.
//
// - do_request(): GET and HEAD read the local store; POST, PUT, DELETE and
//   a quorum GET (QGET) are proposed as a raw v2 Request, as etcd 3.4/3.5
//   members propose them, and wait for their apply (bounded by the
//   request timeout).
// - While this member leads and the store has keys with a TTL, it
//   proposes etcd's SYNC request every 500 ms; applying it expires the
//   keys whose time has come, on every member at the same point of the log.
//
// Threads: do_request() blocks its caller; the SYNC loop is a Worker of
// its own (start() to stop()).
#pragma once

#include <chrono>

#include "base/worker.h"
#include "server/proposer.h"
#include "server/raft_node.h"
#include "server/v2_api.h"
#include "v2store/store.h"

namespace etcd::server {

class V2Front final : public V2Api {
 public:
  // etcd's syncTicker interval.
  static constexpr std::chrono::milliseconds kSyncInterval{500};

  V2Front(Proposer& proposer, RaftNode& raft, v2store::Store& store)
      : proposer_(proposer), raft_(raft), store_(store) {}
  ~V2Front() override { stop(); }

  void start();
  void stop() { sync_.stop(); }

  Result<V2Outcome> do_request(etcdserverpb::Request r) override;
  v2store::Store& store() override { return store_; }
  uint64_t raft_term() const override { return raft_.term(); }
  uint64_t raft_index() const override { return raft_.commit_index(); }

 private:
  void sync_once();

  Proposer& proposer_;
  RaftNode& raft_;
  v2store::Store& store_;
  Worker sync_;
};

}  // namespace etcd::server
