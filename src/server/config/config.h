// The server's configuration: etcd's flags with etcd's defaults, read from
// the command line, `ETCD_*` variables or a YAML config file, validated
// with etcd's rules and messages. Every later feature adds its flags here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/log.h"
#include "server/config/flag_set.h"

namespace etcd::config {

struct ServerConfig {
  // Member
  std::string name;
  std::string data_dir;
  std::string wal_dir;  // empty: <data-dir>/member/wal
  uint64_t snapshot_count = 0;
  uint64_t heartbeat_interval_ms = 0;
  uint64_t election_timeout_ms = 0;
  std::vector<std::string> listen_peer_urls;
  std::vector<std::string> listen_client_urls;
  // --listen-client-http-urls (3.5): HTTP only; when given, the client
  // URLs serve gRPC only.
  std::vector<std::string> listen_client_http_urls;
  // --listen-metrics-urls: /metrics and /health on listeners of their own.
  std::vector<std::string> listen_metrics_urls;
  std::string metrics = "basic";    // --metrics: basic or extensive
  int64_t quota_backend_bytes = 0;  // 0 means the default quota (2 GiB)
  uint64_t max_txn_ops = 0;
  uint64_t max_request_bytes = 0;
  // --grpc-keepalive-*: the client port's HTTP/2 keepalive. Clients pinging
  // more often than min_time are sent away (too_many_pings); the server
  // pings an idle connection every interval and closes it after timeout.
  struct GrpcKeepalive {
    int64_t min_time_ns = int64_t{5} * 1000000000;
    int64_t interval_ns = int64_t{7200} * 1000000000;
    int64_t timeout_ns = int64_t{20} * 1000000000;
  } grpc_keepalive;
  uint64_t max_snapshots = 5;  // 0: unlimited
  uint64_t max_wals = 5;       // 0: unlimited
  // Clustering
  std::vector<std::string> initial_advertise_peer_urls;
  std::string initial_cluster;        // "name=url,name=url"
  std::string initial_cluster_state;  // "new" or "existing"
  std::string initial_cluster_token;
  bool strict_reconfig_check = true;
  // Restart as a one-member cluster: the WAL's other members are removed
  // by conf-change entries appended before Raft starts (a new member
  // ignores it). See server/force_new_cluster.h.
  bool force_new_cluster = false;
  bool pre_vote = true;
  bool initial_election_tick_advance = true;
  uint64_t snapshot_catchup_entries = 5000;
  std::vector<std::string> advertise_client_urls;
  // Auto-compaction (parsed and started with the server: etcd reports a bad
  // retention at start-up, not while verifying flags).
  std::string auto_compaction_mode = "periodic";    // "periodic" or "revision"
  bool enable_v2 = false;                           // serve the v2 API
  std::vector<std::string> cors = {"*"};            // allowed CORS origins
  std::vector<std::string> host_whitelist = {"*"};  // hosts plain HTTP may name
  std::string auto_compaction_retention = "0";      // "0": off
  // Ours, not etcd's: how often revision mode looks at the revision (etcd:
  // a fixed 5 minutes).
  int64_t auto_compaction_revision_interval_ns = int64_t{300} * 1000000000;
  // Leases: the leader checkpoints remaining TTLs through Raft (and, with
  // persist, the lease bucket keeps them).
  bool lease_checkpoint = false;
  bool lease_checkpoint_persist = false;
  // Corruption checks (etcd's experimental flags).
  bool initial_corrupt_check = false;
  int64_t corrupt_check_time_ns = 0;  // 0: no periodic check
  // Watch progress notifications for watches that ask (etcd's default 10m;
  // below 100ms etcd raises it to 100ms).
  int64_t watch_progress_notify_interval_ns = int64_t{600} * 1000000000;
  // Security: TLS on the client and the peer port (etcd's transport.TLSInfo).
  struct TlsInfo {
    std::string cert_file;
    std::string key_file;
    std::string trusted_ca_file;
    std::string crl_file;
    bool client_cert_auth = false;
    bool auto_tls = false;         // --auto-tls / --peer-auto-tls
    std::string allowed_cn;        // --peer-cert-allowed-cn (peer only)
    std::string allowed_hostname;  // --client-cert-allowed-hostname / --peer-cert-allowed-hostname
    bool skip_client_san_verify = false;  // --experimental-peer-skip-client-san-verification
    // Nothing asks for TLS on this port (https URLs then have no certificate).
    bool empty() const { return cert_file.empty() && key_file.empty() && !auto_tls; }
  };
  TlsInfo client_tls;
  TlsInfo peer_tls;
  std::vector<std::string> cipher_suites;  // etcd's (Go's) names, both ports
  std::string tls_min_version;             // "", "TLS1.2" or "TLS1.3"
  std::string tls_max_version;
  uint64_t self_signed_cert_validity_years = 1;
  // Auth
  std::string auth_token = "simple";  // "simple" or "jwt,pub-key=...,priv-key=...,sign-method=..."
  uint64_t auth_token_ttl_s = 300;
  uint64_t bcrypt_cost = 10;
  // Logging
  std::string logger;
  log::Level log_level = log::Level::kInfo;
  std::vector<std::string> log_outputs;
  // Where the configuration came from, when a file.
  std::string config_file;
};

// The outcome of reading the configuration. main() turns it into output and
// an exit status.
struct LoadResult {
  enum class Action { kRun, kHelp, kVersion, kError };
  enum class ErrorKind {
    kUsage,     // bad command line (Go's flag errors): message + usage, exit 2
    kConflict,  // an ETCD_* variable shadowed by a flag: fatal log, exit 1
    kInvalid,   // a value that fails verification: "failed to verify flags", exit 1
  };
  Action action = Action::kRun;
  ErrorKind error_kind = ErrorKind::kInvalid;
  std::string error;
  ServerConfig config;
  FlagSet::EnvReport env;                 // variables used and unrecognized, for the log
  std::vector<std::string> file_unknown;  // config-file keys that match no flag
};

FlagSet make_server_flags();
LoadResult load(const std::vector<std::string>& args, const std::vector<std::string>& environ);

// The URL rules of etcd's types.NewURLs (scheme, "host:port", no path):
// the error text etcd gives, or nothing when `url` is valid. Also used by
// `etcdutl snapshot restore` for its cluster flags.
std::optional<std::string> check_url(std::string_view url);

// The short usage printed after a command-line error.
std::string usage_text();
// The full `etcd --help`: the usage, then every flag by group with its default.
std::string help_text();
// `etcd --version`.
std::string version_text();

}  // namespace etcd::config
