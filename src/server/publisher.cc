#include "server/publisher.h"

#include <cstdio>

#include "base/duration.h"
#include "base/version.h"
#include "server/bootstrap.h"
#include "server/raft_entry.h"

namespace etcd::server {

bool use_v2_membership_requests(const std::string& cluster_version) {
  return cluster_version.empty() || version_below(cluster_version, 3, 5);
}

etcdserverpb::Request publish_request_v2(MemberId id, const std::string& name,
                                         const std::vector<std::string>& client_urls) {
  // The id is the proposer's.
  return v2_request(0, "PUT", member_attributes_path(id), attributes_json(name, client_urls));
}

serverpb::InternalRaftRequest publish_request_v3(MemberId id, const std::string& name,
                                                 const std::vector<std::string>& client_urls) {
  serverpb::InternalRaftRequest req;
  auto* r = req.mutable_cluster_member_attr_set();
  r->set_member_id(id.value());
  r->mutable_member_attributes()->set_name(name);
  for (const auto& u : client_urls) r->mutable_member_attributes()->add_client_urls(u);
  return req;
}

ClusterVersionRequest cluster_version_request(const std::string& version) {
  ClusterVersionRequest out;
  if (version_below(version, 3, 5)) {
    out.v2 = v2_request(0, "PUT", std::string(kStoreClusterVersionKey), version);
  } else {
    out.v3.emplace();
    out.v3->mutable_cluster_version_set()->set_ver(version);
  }
  return out;
}

Status propose_cluster_version(ServerCore& core, const std::string& version) {
  const std::string was = core.membership.version();
  if (was.empty()) {
    core.logger.info("setting up initial cluster version",
                     {{"cluster-version", cluster_version(version)}});
  } else {
    core.logger.info("updating cluster version",
                     {{"from", cluster_version(was)}, {"to", cluster_version(version)}});
  }
  ClusterVersionRequest req = cluster_version_request(version);
  auto done = req.v2 ? core.process_v2(std::move(*req.v2)) : core.process(std::move(*req.v3));
  Status st = done.is_ok() ? done->status : done.status();
  if (st.is_ok()) {
    core.logger.info("cluster version is updated", {{"cluster-version", cluster_version(version)}});
  } else if (st.code() != Code::kUnavailable || core.started()) {
    core.logger.error("failed to update cluster version",
                      {{"cluster-version", cluster_version(version)}, {"error", st.message()}});
  }
  return st;
}

void Publisher::start() {
  worker_.start([this](Worker& self) { run(self); });
}

bool Publisher::wait_ready(std::chrono::milliseconds timeout) {
  MutexLock lock(&mu_);
  return lock.wait_for(cv_, timeout, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return ready_; });
}

void Publisher::decide_cluster_version() {
  if (!core_.raft.is_leader()) return;
  const std::string lowest = lowest_ ? lowest_() : std::string(kEtcdVersion);
  if (lowest.empty()) return;  // a member did not answer: decide later
  const std::string target = cluster_version(lowest) + ".0";
  const std::string current = core_.membership.version();
  int major = 0, minor = 0;
  if (std::sscanf(target.c_str(), "%d.%d", &major, &minor) != 2) return;
  if (!current.empty() && !version_below(current, major, minor)) return;
  (void)propose_cluster_version(core_, target);
}

void Publisher::run(Worker& self) {
  const config::ServerConfig& cfg = core_.cfg;
  log::Logger& logger = core_.logger;
  const std::vector<std::string>& urls = cfg.advertise_client_urls;
  std::string attributes = "{Name:" + cfg.name + " ClientURLs:[";
  for (size_t i = 0; i < urls.size(); ++i) attributes += (i ? " " : "") + urls[i];
  attributes += "]}";
  const std::string request_path = member_attributes_path(core_.id());
  const std::string timeout = format_go_duration(core_.request_timeout());
  // etcd's proposal blocks until there is a leader and goes through at
  // once; ours is dropped while there is none, so it is retried every
  // 100 ms. The warning comes as etcd's does: once a whole request timeout
  // passed without success, and once per timeout after that.
  auto warn_at = core_.clock.now() + core_.request_timeout();
  while (!self.stopping()) {
    auto done = use_v2_membership_requests(core_.membership.version())
                    ? core_.process_v2(publish_request_v2(core_.id(), cfg.name, urls))
                    : core_.process(publish_request_v3(core_.id(), cfg.name, urls));
    const Status published = done.is_ok() ? done->status : done.status();
    if (published.is_ok()) {
      logger.info("published local member to cluster through raft",
                  {{"local-member-id", to_hex(core_.id())},
                   {"local-member-attributes", attributes},
                   {"request-path", request_path},
                   {"cluster-id", to_hex(MemberId(core_.cluster_id()))},
                   {"publish-timeout", timeout}});
      {
        MutexLock lock(&mu_);
        ready_ = true;
      }
      cv_.notify_all();
      // As etcd, the leader then records the cluster version, and watches
      // the members' versions (every 4 s, as etcd's monitorVersions).
      while (!self.stopping() && core_.started()) {
        decide_cluster_version();
        self.sleep_for(std::chrono::seconds(4));
      }
      return;
    }
    if (!core_.started() || self.stopping()) return;
    if (auto now = core_.clock.now(); now >= warn_at) {
      // Not serving until this succeeds: say so.
      logger.warn("failed to publish local member to cluster through raft",
                  {{"local-member-id", to_hex(core_.id())},
                   {"local-member-attributes", attributes},
                   {"request-path", request_path},
                   {"publish-timeout", timeout},
                   {"error", published.message()}});
      warn_at = now + core_.request_timeout();
    }
    self.sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace etcd::server
