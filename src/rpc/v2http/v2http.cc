#include "rpc/v2http/v2http.h"

#include <chrono>

namespace etcd::rpc::v2http {

namespace {

int64_t system_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

V2Routes::V2Routes(server::V2Api& api, V2Cluster& cluster, std::function<int64_t()> now_ns)
    : pool_(kV2Threads, kV2MaxQueued),
      keys_(
          api, pool_, [&cluster] { return cluster.cluster_id(); },
          now_ns ? std::move(now_ns) : std::function<int64_t()>(system_now_ns)),
      members_(cluster, pool_),
      machines_(cluster),
      self_(StatsHandler::Kind::kSelf, cluster, api.store()),
      leader_(StatsHandler::Kind::kLeader, cluster, api.store()),
      store_(StatsHandler::Kind::kStore, cluster, api.store()) {}

void V2Routes::register_routes(http::Router& router) {
  router.add_exact("/v2/keys", &keys_);
  router.add_prefix("/v2/keys/", &keys_);
  router.add_exact("/v2/members", &members_);
  router.add_prefix("/v2/members/", &members_);
  router.add_exact("/v2/machines", &machines_);
  router.add_exact("/v2/stats/self", &self_);
  router.add_exact("/v2/stats/leader", &leader_);
  router.add_exact("/v2/stats/store", &store_);
}

}  // namespace etcd::rpc::v2http
