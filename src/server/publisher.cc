#include "server/publisher.h"

#include "base/duration.h"
#include "base/version.h"

namespace etcd::server {

void Publisher::start() {
  worker_.start([this](Worker& self) { run(self); });
}

bool Publisher::wait_ready(std::chrono::milliseconds timeout) {
  MutexLock lock(&mu_);
  return lock.wait_for(cv_, timeout, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return ready_; });
}

void Publisher::run(Worker& self) {
  const config::ServerConfig& cfg = core_.cfg;
  log::Logger& logger = core_.logger;
  serverpb::InternalRaftRequest req;
  auto* a = req.mutable_member_attributes();
  a->set_member_id(core_.id().value());
  a->set_name(cfg.name);
  for (const auto& u : cfg.advertise_client_urls) a->add_client_urls(u);
  std::string attributes = "{Name:" + cfg.name + " ClientURLs:[";
  for (size_t i = 0; i < cfg.advertise_client_urls.size(); ++i) {
    attributes += (i ? " " : "") + cfg.advertise_client_urls[i];
  }
  attributes += "]}";
  const std::string request_path = "/0/members/" + to_hex(core_.id()) + "/attributes";
  const std::string timeout = format_go_duration(core_.request_timeout());
  // etcd's proposal blocks until there is a leader and goes through at
  // once; ours is dropped while there is none, so it is retried every
  // 100 ms. The warning comes as etcd's does: once a whole request timeout
  // passed without success, and once per timeout after that.
  auto warn_at = core_.clock.now() + core_.request_timeout();
  while (!self.stopping()) {
    auto done = core_.process(req);
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
      // As etcd, the leader then records the cluster version.
      if (core_.raft.is_leader() && core_.membership.version().empty()) {
        logger.info("setting up initial cluster version", {{"cluster-version", kApiVersion}});
        serverpb::InternalRaftRequest v;
        v.mutable_cluster_version_set()->set_version(std::string(kApiVersion) + ".0");
        if (core_.process(v).is_ok()) {
          logger.info("cluster version is updated", {{"cluster-version", kApiVersion}});
        }
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
