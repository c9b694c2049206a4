// etcd's v2 API on the client port (etcd 3.4 with --enable-v2): the keys,
// members, machines and stats endpoints, with the pool their blocking work
// runs on. Without --enable-v2 none is registered and the router answers
// them 404 "404 page not found", as etcd does.
//
//   V2Routes routes(server.v2(), cluster_adapter);
//   routes.register_routes(client_router);   // before the listeners start
//   ...
//   routes.stop();                           // before the server stops
//
// Threads: handlers on the listeners' I/O threads; writes, quorum reads
// and membership changes on the pool (kV2Threads threads, kV2MaxQueued
// waiting; past that a request is refused at once).
#pragma once

#include <functional>

#include "base/task_pool.h"
#include "rpc/http/http.h"
#include "rpc/v2http/keys.h"
#include "rpc/v2http/members.h"
#include "server/v2_api.h"

namespace etcd::rpc::v2http {

inline constexpr size_t kV2Threads = 16;
inline constexpr size_t kV2MaxQueued = 1024;

class V2Routes {
 public:
  // `now_ns`: the wall clock in Unix ns (TTLs); the system clock if empty.
  V2Routes(server::V2Api& api, V2Cluster& cluster, std::function<int64_t()> now_ns = nullptr);
  ~V2Routes() { stop(); }
  V2Routes(const V2Routes&) = delete;
  V2Routes& operator=(const V2Routes&) = delete;

  // Adds /v2/keys[/...], /v2/members[/...], /v2/machines and
  // /v2/stats/{self,leader,store}; the handlers live as long as this.
  void register_routes(http::Router& router);
  // Waits for the running requests and refuses new ones. Idempotent.
  void stop() { pool_.stop(); }

 private:
  TaskPool pool_;
  KeysHandler keys_;
  MembersHandler members_;
  MachinesHandler machines_;
  StatsHandler self_;
  StatsHandler leader_;
  StatsHandler store_;
};

}  // namespace etcd::rpc::v2http
