// etcd: the server. Reads its configuration with etcd's rules, sets up the
// zap-shaped logger and starts the member.
#include <absl/synchronization/mutex.h>
#include <signal.h>
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "base/log.h"
#include "env/clock.h"
#include "rpc/grpc_server.h"
#include "server/config/config.h"
#include "server/etcd_server.h"

namespace {

std::vector<std::string> environment() {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  return env;
}

}  // namespace

int main(int argc, char** argv) {
  using etcd::config::LoadResult;
  namespace log = etcd::log;
  etcd::env::RealClock clock;
  log::WallClock wall = [&clock] { return clock.wall_unix_ms(); };

  std::vector<std::string> args(argv + 1, argv + argc);
  LoadResult r = etcd::config::load(args, environment());
  switch (r.action) {
    case LoadResult::Action::kHelp:
      std::cout << etcd::config::help_text();
      return 0;
    case LoadResult::Action::kVersion:
      std::cout << etcd::config::version_text();
      return 0;
    case LoadResult::Action::kError: {
      if (r.error_kind == LoadResult::ErrorKind::kUsage) {
        std::cerr << r.error << "\n" << etcd::config::usage_text();
        return 2;
      }
      auto lg = log::Logger::create(log::Level::kInfo, {"default"}, wall);
      if (r.error_kind == LoadResult::ErrorKind::kConflict) (*lg)->fatal(r.error);
      (*lg)->warn("failed to verify flags", {{"error", r.error}});
      return 1;
    }
    case LoadResult::Action::kRun:
      break;
  }

  const etcd::config::ServerConfig& cfg = r.config;
  auto created = log::Logger::create(cfg.log_level, cfg.log_outputs, wall);
  if (!created.is_ok()) {
    auto lg = log::Logger::create(log::Level::kInfo, {"default"}, wall);
    (*lg)->warn("failed to verify flags", {{"error", created.status().message()}});
    return 1;
  }
  log::Logger& lg = **created;
  for (const auto& [name, value] : r.env.used) {
    lg.info("recognized and used environment variable",
            {{"variable-name", name}, {"variable-value", value}});
  }
  for (const auto& var : r.env.unrecognized) {
    lg.warn("unrecognized environment variable", {{"environment-variable", var}});
  }
  for (const auto& key : r.file_unknown) {
    lg.warn("unrecognized config-file key", {{"config-file", cfg.config_file}, {"key", key}});
  }
  std::vector<std::string> running(argv, argv + argc);
  lg.info("Running: ", {{"args", running}});
  lg.info("configuration", {{"name", cfg.name},
                            {"data-dir", cfg.data_dir},
                            {"listen-client-urls", cfg.listen_client_urls},
                            {"listen-peer-urls", cfg.listen_peer_urls},
                            {"advertise-client-urls", cfg.advertise_client_urls},
                            {"initial-advertise-peer-urls", cfg.initial_advertise_peer_urls},
                            {"initial-cluster", cfg.initial_cluster},
                            {"initial-cluster-state", cfg.initial_cluster_state},
                            {"initial-cluster-token", cfg.initial_cluster_token},
                            {"heartbeat-interval-ms", cfg.heartbeat_interval_ms},
                            {"election-timeout-ms", cfg.election_timeout_ms},
                            {"snapshot-count", cfg.snapshot_count},
                            {"quota-backend-bytes", cfg.quota_backend_bytes},
                            {"max-request-bytes", cfg.max_request_bytes},
                            {"max-txn-ops", cfg.max_txn_ops},
                            {"initial-corrupt-check", cfg.initial_corrupt_check},
                            {"corrupt-check-time-interval",
                             etcd::config::format_go_duration(cfg.corrupt_check_time_ns)},
                            {"auto-compaction-mode", cfg.auto_compaction_mode},
                            {"auto-compaction-retention", cfg.auto_compaction_retention}});
  // Debian's abseil checks every absl::Mutex acquisition for lock-order
  // cycles (gRPC's locks included), a few percent of CPU per request.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // Signals are taken by sigwait below, not by whichever thread runs.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  for (const auto* urls : {&cfg.listen_peer_urls, &cfg.listen_client_urls}) {
    for (const auto& url : *urls) {
      if (auto st = etcd::rpc::check_listen(url); !st.is_ok()) {
        lg.fatal("failed to start etcd", {{"error", st.message()}});
      }
    }
  }

  // etcd rejects a bad --auto-compaction-retention (and a failed initial
  // corruption check) as a failed start: a warning, then "discovery failed".
  auto start_failed = [&lg](const std::string& error) {
    lg.warn("failed to start etcd", {{"error", error}});
    lg.fatal("discovery failed", {{"error", error}});
  };
  auto retention = etcd::server::parse_compaction_retention(cfg.auto_compaction_mode,
                                                            cfg.auto_compaction_retention);
  if (!retention.is_ok()) start_failed(retention.status().message());
  auto server = etcd::server::EtcdServer::create(cfg, lg, clock);
  if (!server.is_ok()) {
    lg.fatal("failed to start etcd", {{"error", server.status().message()}});
  }
  if (auto st = (*server)->initial_corruption_check(); !st.is_ok()) {
    (*server)->stop();
    start_failed(st.message());
  }
  auto peer = etcd::rpc::ClientServer::start_peer(**server, cfg.listen_peer_urls, lg);
  if (!peer.is_ok()) lg.fatal("failed to listen for peers", {{"error", peer.status().message()}});
  (*server)->start();
  // As etcd, clients are served once this member has published itself
  // through Raft; a stop signal meanwhile still stops it.
  int sig = 0;
  timespec poll{0, 0};
  while (!(*server)->wait_ready(std::chrono::milliseconds(100))) {
    sig = sigtimedwait(&stop_signals, nullptr, &poll);
    if (sig == SIGINT || sig == SIGTERM) {
      lg.info("received signal; shutting down", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
      (*server)->stop();
      return 0;
    }
  }
  auto client =
      etcd::rpc::ClientServer::start(**server, cfg.listen_client_urls, cfg.max_request_bytes, lg);
  if (!client.is_ok()) {
    (*server)->stop();
    lg.fatal("failed to serve client requests", {{"error", client.status().message()}});
  }
  lg.info("ready to serve client requests");

  sigwait(&stop_signals, &sig);
  lg.info("received signal; shutting down", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
  (*client)->shutdown();
  (*peer)->shutdown();
  (*server)->stop();
  return 0;
}
