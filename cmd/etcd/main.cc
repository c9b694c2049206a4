// etcd: the server. Reads its configuration with etcd's rules, sets up the
// zap-shaped logger and starts the member.
#include <absl/synchronization/mutex.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "base/duration.h"
#include "base/log.h"
#include "base/version.h"
#include "env/clock.h"
#include "env/posix_file_system.h"
#include "rpc/client_tls.h"
#include "rpc/grpc_server.h"
#include "rpc/peer/http_client.h"
#include "rpc/peer/peer_tls.h"
#include "rpc/peer/transport.h"
#include "server/config/config.h"
#include "server/etcd_server.h"
#include "server/systemd_notify.h"

namespace {

std::vector<std::string> environment() {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  return env;
}

// etcd's start-up lines before the member opens its data dir: the
// listeners, then "starting an etcd server" with the configuration (etcd's
// fields first, in its order; then ours).
void log_starting(etcd::log::Logger& lg, const etcd::config::ServerConfig& cfg) {
  namespace fs = std::filesystem;
  using etcd::format_go_duration;
  const std::string member_dir = (fs::path(cfg.data_dir) / "member").string();
  const std::string wal_dir =
      cfg.wal_dir.empty() ? (fs::path(member_dir) / "wal").string() : cfg.wal_dir;
  std::error_code ec;
  // etcd's wal.Exist: the directory holds a *.wal file.
  bool initialized = false;
  for (fs::directory_iterator it(wal_dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".wal") initialized = true;
  }
  if (fs::exists(member_dir, ec)) {
    lg.info("server has been already initialized",
            {{"data-dir", cfg.data_dir}, {"dir-type", "member"}});
  }
  lg.info("configuring peer listeners", {{"listen-peer-urls", cfg.listen_peer_urls}});
  lg.info("configuring client listeners", {{"listen-client-urls", cfg.listen_client_urls}});
  const int64_t ms = 1000000;
  // As etcd: the retention as the duration it means (a bare number is hours
  // in periodic mode, revisions in revision mode); a bad one is reported
  // when the compactor is set up.
  auto parsed = etcd::server::parse_compaction_retention(cfg.auto_compaction_mode,
                                                         cfg.auto_compaction_retention);
  const std::string retention =
      parsed.is_ok() ? format_go_duration(*parsed) : cfg.auto_compaction_retention;
  lg.info(
      "starting an etcd server",
      {{"etcd-version", etcd::kEtcdVersion},
       {"git-sha", etcd::kGitSha},
       {"implementation",
        std::string(etcd::kImplementationName) + " " + etcd::kImplementationVersion},
       {"go-os", "linux"},
       {"max-cpu-available", std::thread::hardware_concurrency()},
       {"member-initialized", initialized},
       {"name", cfg.name},
       {"data-dir", cfg.data_dir},
       {"wal-dir", cfg.wal_dir},
       {"wal-dir-dedicated", cfg.wal_dir},
       {"member-dir", member_dir},
       {"force-new-cluster", cfg.force_new_cluster},
       {"heartbeat-interval",
        format_go_duration(static_cast<int64_t>(cfg.heartbeat_interval_ms) * ms)},
       {"election-timeout", format_go_duration(static_cast<int64_t>(cfg.election_timeout_ms) * ms)},
       {"initial-election-tick-advance", true},
       {"snapshot-count", cfg.snapshot_count},
       {"max-wals", cfg.max_wals},
       {"max-snapshots", cfg.max_snapshots},
       {"snapshot-catchup-entries", etcd::server::kSnapshotCatchUpEntries},
       {"initial-advertise-peer-urls", cfg.initial_advertise_peer_urls},
       {"listen-peer-urls", cfg.listen_peer_urls},
       {"advertise-client-urls", cfg.advertise_client_urls},
       {"listen-client-urls", cfg.listen_client_urls},
       {"listen-metrics-urls", cfg.listen_metrics_urls},
       // etcd reads these only to bootstrap: a restarted member logs them empty.
       {"initial-cluster", initialized ? "" : cfg.initial_cluster},
       {"initial-cluster-state", cfg.initial_cluster_state},
       {"initial-cluster-token", initialized ? "" : cfg.initial_cluster_token},
       {"quota-backend-bytes",
        cfg.quota_backend_bytes == 0 ? int64_t{2} << 30 : cfg.quota_backend_bytes},
       {"max-request-bytes", cfg.max_request_bytes},
       {"pre-vote", true},
       {"initial-corrupt-check", cfg.initial_corrupt_check},
       {"corrupt-check-time-interval", format_go_duration(cfg.corrupt_check_time_ns)},
       {"auto-compaction-mode", cfg.auto_compaction_mode},
       {"auto-compaction-retention", retention},
       {"auto-compaction-interval", retention},
       {"max-txn-ops", cfg.max_txn_ops}});
}

// etcd's name of a stop signal (Go's os.Signal String()).
const char* signal_name(int sig) { return sig == SIGINT ? "interrupt" : "terminated"; }

// After a clean shutdown etcd raises the stop signal again with its default
// action, so the process ends as killed by it (exit status 143 for SIGTERM
// in a shell): supervisors and scripts see what they see with etcd.
[[noreturn]] void exit_by(int sig) {
  signal(sig, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  raise(sig);
  _exit(128 + sig);  // not reached
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
  log_starting(lg, cfg);
  // Debian's abseil checks every absl::Mutex acquisition for lock-order
  // cycles (gRPC's locks included), a few percent of CPU per request.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // Signals are taken by sigwait below, not by whichever thread runs.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  for (const auto* urls : {&cfg.listen_peer_urls, &cfg.listen_client_urls,
                           &cfg.listen_client_http_urls, &cfg.listen_metrics_urls}) {
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
  // TLS on the peer port (--peer-* flags): its listeners' and its dials'.
  // First, as etcd configures its peer listeners before its client ones.
  auto peer_tls_made = etcd::rpc::peer::make_peer_tls(cfg, lg);
  if (!peer_tls_made.is_ok()) start_failed(peer_tls_made.status().message());
  const etcd::rpc::peer::PeerTls peer_tls = std::move(peer_tls_made).value();
  // The client port's TLS (certificates checked, --auto-tls ones made)
  // before the data dir is opened, as etcd configures its listeners first.
  auto client_tls = etcd::rpc::make_client_tls(cfg, lg);
  if (!client_tls.is_ok()) {
    if (client_tls.status().code() == etcd::Code::kFailedPrecondition) {
      lg.fatal("listener failed", {{"error", client_tls.status().message()}});
    }
    start_failed(client_tls.status().message());
  }
  etcd::env::PosixFileSystem fs;
  // The peer port: etcd's rafthttp (it binds here, before the data dir is
  // opened, and serves once the member starts).
  etcd::server::PeerWiring wiring;
  wiring.http =
      [peer_client_tls = peer_tls.client](
          const std::string& url, const std::string& method, const std::string& target,
          const std::string& body,
          std::chrono::milliseconds timeout) -> etcd::Result<etcd::server::PeerHttpReply> {
    etcd::rpc::peer::HttpRequest req;
    req.method = method;
    req.target = target;
    req.body = body;
    if (!body.empty()) req.headers.emplace_back("Content-Type", "application/protobuf");
    auto r = etcd::rpc::peer::http_call(url, req, timeout, peer_client_tls);
    if (!r.is_ok()) return r.status();
    etcd::server::PeerHttpReply reply;
    reply.status = r->status;
    reply.content_type = r->header("Content-Type");
    reply.body = std::move(r->body);
    reply.cluster_id = r->header("X-Etcd-Cluster-ID");
    return reply;
  };
  wiring.network = [&cfg, &lg, &peer_tls](const etcd::server::PeerNetworkContext& ctx)
      -> etcd::Result<std::unique_ptr<etcd::server::PeerNetwork>> {
    etcd::rpc::peer::PeerTransport::Options o;
    o.context = ctx;
    o.listen_urls = cfg.listen_peer_urls;
    o.advertise_urls = cfg.initial_advertise_peer_urls;
    o.logger = &lg;
    o.server_tls = peer_tls.server;
    o.client_tls = peer_tls.client;
    o.skip_client_san_verify = peer_tls.skip_client_san_verify;
    if (const char* f = getenv("ETCDCPP_TEST_PARTITION_FILE")) o.partition_file = f;
    auto t = etcd::rpc::peer::PeerTransport::create(std::move(o));
    if (!t.is_ok()) return t.status();
    return std::unique_ptr<etcd::server::PeerNetwork>(std::move(t).value());
  };
  auto server = etcd::server::EtcdServer::create(cfg, lg, clock, fs, std::move(wiring));
  if (!server.is_ok()) {
    lg.fatal("failed to start etcd", {{"error", server.status().message()}});
  }
  if (auto st = (*server)->initial_corruption_check(); !st.is_ok()) {
    (*server)->stop();
    start_failed(st.message());
  }
  auto log_closing = [&lg, &cfg](const char* msg) {
    lg.info(msg, {{"name", cfg.name},
                  {"data-dir", cfg.data_dir},
                  {"advertise-peer-urls", cfg.initial_advertise_peer_urls},
                  {"advertise-client-urls", cfg.advertise_client_urls}});
  };
  (*server)->start();
  lg.info("now serving peer/client/metrics",
          {{"local-member-id", etcd::to_hex((*server)->id())},
           {"initial-advertise-peer-urls", cfg.initial_advertise_peer_urls},
           {"listen-peer-urls", cfg.listen_peer_urls},
           {"advertise-client-urls", cfg.advertise_client_urls},
           {"listen-client-urls", cfg.listen_client_urls},
           {"listen-metrics-urls", cfg.listen_metrics_urls}});
  // READY=1 / STOPPING=1 for systemd's Type=notify units.
  etcd::server::SystemdNotifier notifier(lg);
  // As etcd, clients are served once this member has published itself
  // through Raft; a stop signal meanwhile still stops it.
  int sig = 0;
  timespec poll{0, 0};
  while (!(*server)->wait_ready(std::chrono::milliseconds(100))) {
    sig = sigtimedwait(&stop_signals, nullptr, &poll);
    if (sig == SIGINT || sig == SIGTERM) {
      lg.info("received signal; shutting down", {{"signal", signal_name(sig)}});
      notifier.stopping();
      log_closing("closing etcd server");
      (*server)->stop();
      log_closing("closed etcd server");
      exit_by(sig);
    }
  }
  lg.info("ready to serve client requests");
  etcd::rpc::ClientServerOptions client_options;
  client_options.urls = cfg.listen_client_urls;
  client_options.http_urls = cfg.listen_client_http_urls;
  client_options.metrics_urls = cfg.listen_metrics_urls;
  client_options.max_request_bytes = cfg.max_request_bytes;
  client_options.keepalive = cfg.grpc_keepalive;
  client_options.tls = std::move(client_tls).value();
  client_options.extensive_metrics = cfg.metrics == "extensive";
  client_options.access.cors = cfg.cors;
  client_options.access.host_whitelist = cfg.host_whitelist;
  auto client = etcd::rpc::ClientServer::start(**server, client_options, lg);
  if (!client.is_ok()) {
    (*server)->stop();
    lg.fatal("failed to serve client requests", {{"error", client.status().message()}});
  }
  // As etcd 3.5: once the member has joined and its client port serves.
  notifier.ready();

  // A signal, or this member's removal from the cluster, stops it.
  timespec tick{0, 100 * 1000 * 1000};
  while (true) {
    sig = sigtimedwait(&stop_signals, nullptr, &tick);
    if (sig == SIGINT || sig == SIGTERM) break;
    if ((*server)->removed()) {
      notifier.stopping();
      // Give the leader a moment to hear that this member applied it.
      std::this_thread::sleep_for(std::chrono::seconds(1));
      log_closing("closing etcd server");
      (*client)->shutdown();
      (*server)->stop();
      log_closing("closed etcd server");
      lg.warn("the member has been permanently removed from the cluster");
      return 0;
    }
  }
  lg.info("received signal; shutting down", {{"signal", signal_name(sig)}});
  notifier.stopping();
  // etcd's order: clients first, then the member (a leader hands over its
  // leadership), then the peer listeners.
  log_closing("closing etcd server");
  (*client)->shutdown();
  (*server)->stop();
  log_closing("closed etcd server");
  exit_by(sig);
}
