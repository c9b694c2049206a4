#include "server/config/config.h"

#include <yaml-cpp/yaml.h>

#include <sstream>

#include "base/duration.h"
#include "base/version.h"

namespace etcd::config {

std::optional<std::string> check_url(std::string_view url) {
  std::string u(url);
  auto sep = url.find("://");
  std::string_view scheme = sep == std::string_view::npos ? "" : url.substr(0, sep);
  if (scheme != "http" && scheme != "https" && scheme != "unix" && scheme != "unixs") {
    return "URL scheme must be http, https, unix, or unixs: " + u;
  }
  std::string_view rest = url.substr(sep + 3);
  auto slash = rest.find('/');
  std::string_view host = rest.substr(0, slash);
  if (slash != std::string_view::npos && slash + 1 < rest.size()) {
    return "URL must not contain a path: " + u;
  }
  if (scheme == "http" || scheme == "https") {
    // host:port, where host may be a bracketed IPv6 literal.
    auto colon = host.rfind(':');
    bool ok = colon != std::string_view::npos && colon + 1 < host.size() &&
              (host.find(']') == std::string_view::npos || host.find(']') < colon);
    if (ok) {
      for (char c : host.substr(colon + 1)) ok = ok && c >= '0' && c <= '9';
    }
    if (!ok) return "URL address does not have the form \"host:port\": " + u;
  }
  return std::nullopt;
}

namespace {

std::optional<std::string> check_urls(std::string_view list) {
  auto urls = split_list(list);
  if (urls.empty()) return "no URL given";
  for (const auto& u : urls) {
    if (auto err = check_url(u)) return err;
  }
  return std::nullopt;
}

// An optional list (default ''): empty, or URLs.
std::optional<std::string> check_optional_urls(std::string_view list) {
  if (split_list(list).empty()) return std::nullopt;
  return check_urls(list);
}

std::optional<std::string> check_metrics(std::string_view v) {
  if (v == "basic" || v == "extensive") return std::nullopt;
  return "invalid value \"" + std::string(v) + "\" (basic or extensive)";
}

std::optional<std::string> check_initial_cluster(std::string_view v) {
  for (const auto& item : split_list(v)) {
    auto eq = item.find('=');
    if (eq == std::string::npos) return "missing '=' in \"" + item + "\"";
    if (auto err = check_url(std::string_view(item).substr(eq + 1))) return err;
  }
  return std::nullopt;
}

std::optional<std::string> check_duration(std::string_view v) {
  if (!parse_go_duration(v).is_ok()) return "parse error";  // Go's flag.Duration
  return std::nullopt;
}

std::optional<std::string> check_cluster_state(std::string_view v) {
  if (v == "new" || v == "existing") return std::nullopt;
  return "invalid value \"" + std::string(v) + "\"";
}

constexpr const char* kMember = "Member";
constexpr const char* kClustering = "Clustering";
constexpr const char* kLogging = "Logging";
constexpr const char* kSecurity = "Security";
constexpr const char* kAuth = "Auth";
constexpr const char* kExperimental = "Experimental feature";
constexpr const char* kUnsafe = "Unsafe feature";

// The --help sections in etcd's order; a section is printed once it has flags.
const std::vector<std::string>& group_order() {
  static const std::vector<std::string> kOrder = {kMember,
                                                  kClustering,
                                                  kSecurity,
                                                  kAuth,
                                                  "Profiling and Monitoring",
                                                  kLogging,
                                                  "Experimental distributed tracing",
                                                  "v2 Proxy",
                                                  kExperimental,
                                                  kUnsafe};
  return kOrder;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out += sep;
    out += v[i];
  }
  return out;
}

// Maps the nested TLS sections of a config file onto flag names.
std::string tls_flag_name(const std::string& section, const std::string& key) {
  return section == "peer-transport-security" ? "peer-" + key : key;
}

std::string yaml_scalar_text(const YAML::Node& n) {
  if (n.IsNull()) return "";
  if (n.IsSequence()) {
    std::vector<std::string> items;
    for (const auto& item : n) items.push_back(item.as<std::string>());
    return join(items, ",");
  }
  return n.as<std::string>();
}

// Applies a config file to the flag set. Returns an error text on failure.
std::optional<std::string> apply_config_file(const std::string& path, FlagSet* flags,
                                             std::vector<std::string>* unknown) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return "open " + path + ": no such file or directory";
  } catch (const YAML::Exception& e) {
    return "error parsing config file " + path + ": " + e.what();
  }
  if (root.IsNull()) return std::nullopt;
  if (!root.IsMap()) return "config file " + path + " is not a YAML mapping";
  auto apply = [&](const std::string& name, const YAML::Node& value) -> std::optional<std::string> {
    if (!flags->has(name) || name == "config-file") {
      unknown->push_back(name);
      return std::nullopt;
    }
    std::string text;
    try {
      text = yaml_scalar_text(value);
    } catch (const YAML::Exception&) {
      return "invalid value for \"" + name + "\" in config file " + path;
    }
    Status st = flags->set(name, text);
    if (!st.is_ok()) {
      return "invalid value \"" + text + "\" for \"" + name + "\" in config file " + path + ": " +
             st.message();
    }
    return std::nullopt;
  };
  for (const auto& kv : root) {
    std::string key = kv.first.as<std::string>();
    if ((key == "client-transport-security" || key == "peer-transport-security") &&
        kv.second.IsMap()) {
      for (const auto& inner : kv.second) {
        if (auto err = apply(tls_flag_name(key, inner.first.as<std::string>()), inner.second)) {
          return err;
        }
      }
      continue;
    }
    if (auto err = apply(key, kv.second)) return err;
  }
  return std::nullopt;
}

LoadResult fail(LoadResult::ErrorKind kind, std::string message) {
  LoadResult r;
  r.action = LoadResult::Action::kError;
  r.error_kind = kind;
  r.error = std::move(message);
  return r;
}

}  // namespace

FlagSet make_server_flags() {
  FlagSet f;
  auto add = [&f](std::string name, FlagType type, std::string def, std::string group,
                  std::string usage,
                  std::function<std::optional<std::string>(std::string_view)> check = nullptr) {
    f.add(FlagSpec{std::move(name), type, std::move(def), std::move(usage), std::move(group),
                   std::move(check)});
  };
  using T = FlagType;
  add("config-file", T::kString, "", "", "Path to a YAML server configuration file.");
  add("version", T::kBool, "false", "", "Print the version and exit.");

  add("name", T::kString, "default", kMember, "Human-readable name of this member.");
  add("data-dir", T::kString, "${name}.etcd", kMember, "Directory holding the member's data.");
  add("wal-dir", T::kString, "", kMember,
      "Directory for the write-ahead log, if not <data-dir>/member/wal.");
  add("snapshot-count", T::kUint, "100000", kMember,
      "Committed transactions between two snapshots to disk.");
  add("heartbeat-interval", T::kUint, "100", kMember, "Heartbeat interval in milliseconds.");
  add("election-timeout", T::kUint, "1000", kMember,
      "Election timeout in milliseconds (at least 5 heartbeat intervals).");
  add("listen-peer-urls", T::kStrings, "http://localhost:2380", kMember,
      "URLs to listen on for traffic from other members.", check_urls);
  add("listen-client-urls", T::kStrings, "http://localhost:2379", kMember,
      "List of URLs to listen on for client grpc traffic and http as long as "
      "--listen-client-http-urls is not specified.",
      check_urls);
  add("listen-client-http-urls", T::kStrings, "", kMember,
      "List of URLs to listen on for http only client traffic. Enabling this flag removes http "
      "services from --listen-client-urls.",
      check_optional_urls);
  add("max-snapshots", T::kUint, "5", kMember, "Snapshot files to keep (0 keeps all).");
  add("max-wals", T::kUint, "5", kMember, "WAL segment files to keep (0 keeps all).");
  add("quota-backend-bytes", T::kInt, "0", kMember,
      "Backend size that raises the NOSPACE alarm (0 means the default, 2 GiB).");
  add("max-txn-ops", T::kUint, "128", kMember, "Maximum number of operations in one transaction.");
  add("max-request-bytes", T::kUint, "1572864", kMember,
      "Maximum size in bytes of a client request.");
  add("grpc-keepalive-min-time", T::kString, "5s", kMember,
      "Minimum interval duration that a client should wait before pinging server.", check_duration);
  add("grpc-keepalive-interval", T::kString, "2h0m0s", kMember,
      "Frequency duration of server-to-client ping to check if a connection is alive (0 to "
      "disable).",
      check_duration);
  add("grpc-keepalive-timeout", T::kString, "20s", kMember,
      "Additional duration of wait before closing a non-responsive connection (0 to disable).",
      check_duration);
  add("auto-compaction-retention", T::kString, "0", kMember,
      "How much history auto-compaction keeps; 0 turns it off.");
  add("auto-compaction-mode", T::kString, "periodic", kMember,
      "How to read --auto-compaction-retention: 'periodic' (a duration such as '30m', or a "
      "bare number of hours) or 'revision' (a number of revisions).");
  add("enable-v2", T::kBool, "false", kClustering,
      "Serve the v2 API (/v2/keys, /v2/members, /v2/stats, /v2/machines) on the client URLs.");

  add("initial-advertise-peer-urls", T::kStrings, "http://localhost:2380", kClustering,
      "This member's peer URLs as announced to the rest of the cluster.", check_urls);
  add("initial-cluster", T::kString, "default=http://localhost:2380", kClustering,
      "Every member of the initial cluster, as name=peer-url pairs separated by commas.",
      check_initial_cluster);
  add("initial-cluster-state", T::kString, "new", kClustering,
      "'new' when every member starts together, 'existing' to join a running cluster.",
      check_cluster_state);
  add("initial-cluster-token", T::kString, "etcd-cluster", kClustering,
      "Token that makes the ids of a new cluster unique.");
  add("advertise-client-urls", T::kStrings, "http://localhost:2379", kClustering,
      "This member's client URLs as announced to the rest of the cluster.", check_urls);
  add("strict-reconfig-check", T::kBool, "true", kClustering,
      "Reject reconfiguration requests that would cause quorum loss.");
  add("pre-vote", T::kBool, "true", kClustering,
      "Enable the Raft Pre-Vote algorithm to prevent disruption when a node rejoins.");
  add("initial-election-tick-advance", T::kBool, "true", kClustering,
      "Whether to fast-forward initial election ticks on boot for faster election.");

  add("cors", T::kStrings, "*", kSecurity,
      "Comma-separated whitelist of origins for CORS, or cross-origin resource sharing, (empty "
      "or * means allow all).");
  add("host-whitelist", T::kStrings, "*", kSecurity,
      "Acceptable hostnames from HTTP client requests, if server is not secure (empty or * means "
      "allow all).");
  add("cert-file", T::kString, "", kSecurity, "Path to the client server TLS cert file.");
  add("key-file", T::kString, "", kSecurity, "Path to the client server TLS key file.");
  add("client-cert-auth", T::kBool, "false", kSecurity, "Enable client cert authentication.");
  add("client-crl-file", T::kString, "", kSecurity,
      "Path to the client certificate revocation list file.");
  add("client-cert-allowed-hostname", T::kString, "", kSecurity,
      "Allowed TLS hostname for client cert authentication.");
  add("trusted-ca-file", T::kString, "", kSecurity,
      "Path to the client server TLS trusted CA cert file.");
  add("auto-tls", T::kBool, "false", kSecurity, "Client TLS using generated certificates.");
  add("peer-cert-file", T::kString, "", kSecurity, "Path to the peer server TLS cert file.");
  add("peer-key-file", T::kString, "", kSecurity, "Path to the peer server TLS key file.");
  add("peer-client-cert-auth", T::kBool, "false", kSecurity,
      "Enable peer client cert authentication.");
  add("peer-trusted-ca-file", T::kString, "", kSecurity,
      "Path to the peer server TLS trusted CA file.");
  add("peer-cert-allowed-cn", T::kString, "", kSecurity,
      "Required CN for client certs connecting to the peer endpoint.");
  add("peer-cert-allowed-hostname", T::kString, "", kSecurity,
      "Allowed TLS hostname for inter peer authentication.");
  add("peer-auto-tls", T::kBool, "false", kSecurity, "Peer TLS using self-generated certificates.");
  add("self-signed-cert-validity", T::kUint, "1", kSecurity,
      "The validity period of the client and peer certificates that are automatically generated "
      "by etcd when you specify ClientAutoTLS and PeerAutoTLS, the unit is year, and the default "
      "is 1.");
  add("peer-crl-file", T::kString, "", kSecurity,
      "Path to the peer certificate revocation list file.");
  add("cipher-suites", T::kStrings, "", kSecurity,
      "Comma-separated list of supported TLS cipher suites between client/server and peers "
      "(empty will be auto-populated by Go).");
  add("tls-min-version", T::kString, "TLS1.2", kSecurity,
      "Minimum TLS version supported by etcd. Possible values: TLS1.2, TLS1.3.");
  add("tls-max-version", T::kString, "", kSecurity,
      "Maximum TLS version supported by etcd. Possible values: TLS1.2, TLS1.3 (empty defers to "
      "Go).");
  add("experimental-peer-skip-client-san-verification", T::kBool, "false", kExperimental,
      "Skip verification of SAN field in client certificate for peer connections.");

  add("auth-token", T::kString, "simple", kAuth,
      "Specify a v3 authentication token type and token specific options, especially for JWT. "
      "Its format is \"type,var1=val1,var2=val2,...\". Possible type is 'simple' or 'jwt'. "
      "Possible variables are 'sign-method' for specifying a sign method of jwt (its possible "
      "values are 'ES256', 'ES384', 'ES512', 'HS256', 'HS384', 'HS512', 'RS256', 'RS384', "
      "'RS512', 'PS256', 'PS384', or 'PS512'), 'pub-key' for specifying a path to a public key "
      "for verifying jwt, 'priv-key' for specifying a path to a private key for signing jwt, "
      "and 'ttl' for specifying TTL of jwt tokens.");
  add("bcrypt-cost", T::kUint, "10", kAuth,
      "Specify the cost/strength of the bcrypt algorithm for hashing auth passwords. Valid "
      "values are between 4 and 31.");
  add("auth-token-ttl", T::kUint, "300", kAuth, "Time (in seconds) of the auth-token-ttl.");

  add("experimental-initial-corrupt-check", T::kBool, "false", kExperimental,
      "Check the data for corruption before serving clients (on a restart).");
  add("experimental-corrupt-check-time", T::kString, "0s", kExperimental,
      "Interval between two corruption checks by the leader; 0s turns them off.", check_duration);
  add("experimental-watch-progress-notify-interval", T::kString, "10m0s", kExperimental,
      "Duration of periodic watch progress notifications.", check_duration);
  add("experimental-auto-compaction-revision-interval", T::kString, "5m0s", kExperimental,
      "Not in etcd: how often auto-compaction in revision mode checks the revision (etcd: "
      "always 5m).",
      check_duration);

  add("experimental-snapshot-catchup-entries", T::kUint, "5000", kExperimental,
      "Entries a slow follower can catch up from after a snapshot is taken.");
  add("experimental-enable-lease-checkpoint", T::kBool, "false", kExperimental,
      "The leader checkpoints remaining lease TTLs through Raft, so a leader change does not "
      "reset them.");
  add("experimental-enable-lease-checkpoint-persist", T::kBool, "false", kExperimental,
      "Also store checkpointed remaining TTLs in the lease bucket (needs "
      "--experimental-enable-lease-checkpoint).");

  add("metrics", T::kString, "basic", "Profiling and Monitoring",
      "Set level of detail for exported metrics, specify 'extensive' to include server side grpc "
      "histogram metrics.",
      check_metrics);
  add("listen-metrics-urls", T::kStrings, "", "Profiling and Monitoring",
      "List of URLs to listen on for the metrics and health endpoints.", check_optional_urls);

  add("force-new-cluster", T::kBool, "false", kUnsafe, "Force to create a new one-member cluster.");

  add("logger", T::kString, "zap", kLogging, "Logger implementation; 'zap' (JSON lines).");
  add("log-outputs", T::kStrings, "default", kLogging,
      "Where logs go: 'default' (stderr), 'stderr', 'stdout', 'systemd/journal' (journald, "
      "alone) or file paths, comma-separated.");
  add("log-level", T::kString, "info", kLogging,
      "Lowest level logged: debug, info, warn, error, panic or fatal.");
  return f;
}

LoadResult load(const std::vector<std::string>& args, const std::vector<std::string>& environ) {
  using Kind = LoadResult::ErrorKind;
  FlagSet flags = make_server_flags();
  auto parsed = flags.parse(args);
  if (!parsed.is_ok()) return fail(Kind::kUsage, parsed.status().message());
  if (*parsed == FlagSet::Outcome::kHelp) {
    LoadResult r;
    r.action = LoadResult::Action::kHelp;
    return r;
  }
  if (!flags.positional().empty()) {
    return fail(Kind::kInvalid, "'" + flags.positional().front() + "' is not a valid flag");
  }
  auto env = flags.set_from_env("ETCD", environ);
  if (!env.is_ok()) {
    return fail(env.status().code() == Code::kFailedPrecondition ? Kind::kConflict : Kind::kInvalid,
                env.status().message());
  }
  if (flags.get_bool("version")) {
    LoadResult r;
    r.action = LoadResult::Action::kVersion;
    return r;
  }

  LoadResult r;
  r.env = std::move(env.value());
  const std::string config_file = flags.get("config-file");
  if (!config_file.empty()) {
    // As etcd: with a config file, other flags and variables are ignored.
    FlagSet from_file = make_server_flags();
    if (auto err = apply_config_file(config_file, &from_file, &r.file_unknown)) {
      return fail(Kind::kInvalid, *err);
    }
    flags = std::move(from_file);
  }

  ServerConfig& c = r.config;
  c.config_file = config_file;
  c.name = flags.get("name");
  c.data_dir = flags.is_set("data-dir") ? flags.get("data-dir") : "";
  if (c.data_dir.empty()) c.data_dir = c.name + ".etcd";
  c.wal_dir = flags.get("wal-dir");
  c.max_snapshots = flags.get_uint("max-snapshots");
  c.max_wals = flags.get_uint("max-wals");
  c.snapshot_count = flags.get_uint("snapshot-count");
  c.strict_reconfig_check = flags.get_bool("strict-reconfig-check");
  c.force_new_cluster = flags.get_bool("force-new-cluster");
  c.pre_vote = flags.get_bool("pre-vote");
  c.initial_election_tick_advance = flags.get_bool("initial-election-tick-advance");
  c.snapshot_catchup_entries = flags.get_uint("experimental-snapshot-catchup-entries");
  c.heartbeat_interval_ms = flags.get_uint("heartbeat-interval");
  c.election_timeout_ms = flags.get_uint("election-timeout");
  c.listen_peer_urls = flags.get_strings("listen-peer-urls");
  c.listen_client_urls = flags.get_strings("listen-client-urls");
  c.listen_client_http_urls = flags.get_strings("listen-client-http-urls");
  c.listen_metrics_urls = flags.get_strings("listen-metrics-urls");
  c.metrics = flags.get("metrics");
  c.quota_backend_bytes = flags.get_int("quota-backend-bytes");
  c.max_txn_ops = flags.get_uint("max-txn-ops");
  c.max_request_bytes = flags.get_uint("max-request-bytes");
  c.grpc_keepalive.min_time_ns = *parse_go_duration(flags.get("grpc-keepalive-min-time"));
  c.grpc_keepalive.interval_ns = *parse_go_duration(flags.get("grpc-keepalive-interval"));
  c.grpc_keepalive.timeout_ns = *parse_go_duration(flags.get("grpc-keepalive-timeout"));
  c.initial_advertise_peer_urls = flags.get_strings("initial-advertise-peer-urls");
  c.initial_cluster_state = flags.get("initial-cluster-state");
  c.initial_cluster_token = flags.get("initial-cluster-token");
  c.advertise_client_urls = flags.get_strings("advertise-client-urls");
  c.auto_compaction_mode = flags.get("auto-compaction-mode");
  c.enable_v2 = flags.get_bool("enable-v2");
  c.cors = flags.get_strings("cors");
  c.host_whitelist = flags.get_strings("host-whitelist");
  c.auto_compaction_retention = flags.get("auto-compaction-retention");
  c.auto_compaction_revision_interval_ns =
      *parse_go_duration(flags.get("experimental-auto-compaction-revision-interval"));
  c.lease_checkpoint = flags.get_bool("experimental-enable-lease-checkpoint");
  c.lease_checkpoint_persist = flags.get_bool("experimental-enable-lease-checkpoint-persist");
  c.initial_corrupt_check = flags.get_bool("experimental-initial-corrupt-check");
  c.corrupt_check_time_ns = *parse_go_duration(flags.get("experimental-corrupt-check-time"));
  c.watch_progress_notify_interval_ns =
      *parse_go_duration(flags.get("experimental-watch-progress-notify-interval"));
  auto tls = [&flags](const std::string& p) {
    ServerConfig::TlsInfo t;
    t.cert_file = flags.get(p + "cert-file");
    t.key_file = flags.get(p + "key-file");
    t.trusted_ca_file = flags.get(p + "trusted-ca-file");
    t.client_cert_auth = flags.get_bool(p + "client-cert-auth");
    t.auto_tls = flags.get_bool(p + "auto-tls");
    return t;
  };
  c.client_tls = tls("");
  c.client_tls.crl_file = flags.get("client-crl-file");
  c.client_tls.allowed_hostname = flags.get("client-cert-allowed-hostname");
  c.peer_tls = tls("peer-");
  c.peer_tls.crl_file = flags.get("peer-crl-file");
  c.peer_tls.allowed_cn = flags.get("peer-cert-allowed-cn");
  c.peer_tls.allowed_hostname = flags.get("peer-cert-allowed-hostname");
  c.peer_tls.skip_client_san_verify =
      flags.get_bool("experimental-peer-skip-client-san-verification");
  c.cipher_suites = flags.get_strings("cipher-suites");
  c.tls_min_version = flags.get("tls-min-version");
  c.tls_max_version = flags.get("tls-max-version");
  c.self_signed_cert_validity_years = flags.get_uint("self-signed-cert-validity");
  c.auth_token = flags.get("auth-token");
  c.auth_token_ttl_s = flags.get_uint("auth-token-ttl");
  c.bcrypt_cost = flags.get_uint("bcrypt-cost");
  if (flags.is_set("initial-cluster")) {
    c.initial_cluster = flags.get("initial-cluster");
  } else {
    // As etcd: without --initial-cluster this member alone forms the
    // cluster, under its own name and advertised peer URLs.
    std::vector<std::string> items;
    for (const auto& u : c.initial_advertise_peer_urls) items.push_back(c.name + "=" + u);
    c.initial_cluster = join(items, ",");
  }
  c.logger = flags.get("logger");
  c.log_outputs = flags.get_strings("log-outputs");
  // etcd keeps --log-outputs as a sorted set of unique values.
  std::sort(c.log_outputs.begin(), c.log_outputs.end());
  c.log_outputs.erase(std::unique(c.log_outputs.begin(), c.log_outputs.end()), c.log_outputs.end());

  // Verification, with etcd's messages.
  if (c.logger == "capnslog") return fail(Kind::kInvalid, "--logger=capnslog is removed in v3.5");
  if (c.logger != "zap") return fail(Kind::kInvalid, "unknown logger option \"" + c.logger + "\"");
  auto level = log::parse_level(flags.get("log-level"));
  if (!level.is_ok()) return fail(Kind::kInvalid, level.status().message());
  c.log_level = *level;
  if (c.log_outputs.size() > 1 &&
      std::find(c.log_outputs.begin(), c.log_outputs.end(), "default") != c.log_outputs.end()) {
    return fail(Kind::kInvalid, "multi logoutput for \"default\" is not supported yet");
  }
  if (c.heartbeat_interval_ms == 0) {
    return fail(Kind::kInvalid, "--heartbeat-interval must be >0 (set to 0ms)");
  }
  if (c.election_timeout_ms == 0) {
    return fail(Kind::kInvalid, "--election-timeout must be >0 (set to 0ms)");
  }
  if (5 * c.heartbeat_interval_ms > c.election_timeout_ms) {
    return fail(Kind::kInvalid, "--election-timeout[" + std::to_string(c.election_timeout_ms) +
                                    "ms] should be at least as 5 times as --heartbeat-interval[" +
                                    std::to_string(c.heartbeat_interval_ms) + "ms]");
  }
  if (c.election_timeout_ms > 50000) {
    return fail(Kind::kInvalid, "--election-timeout[" + std::to_string(c.election_timeout_ms) +
                                    "ms] is too long, and should be set less than 50000ms");
  }
  if (c.auto_compaction_mode != "" && c.auto_compaction_mode != "periodic" &&
      c.auto_compaction_mode != "revision") {
    return fail(Kind::kInvalid, "unknown auto-compaction-mode \"" + c.auto_compaction_mode + "\"");
  }
  if (c.lease_checkpoint_persist && !c.lease_checkpoint) {
    return fail(Kind::kInvalid,
                "setting experimental-enable-lease-checkpoint-persist requires "
                "experimental-enable-lease-checkpoint");
  }
  for (const std::string* v : {&c.tls_min_version, &c.tls_max_version}) {
    if (!v->empty() && *v != "TLS1.2" && *v != "TLS1.3") {
      return fail(Kind::kInvalid,
                  "unexpected TLS version \"" + *v + "\" (must be one of: TLS1.2, TLS1.3)");
    }
  }
  if (!c.tls_max_version.empty() && c.tls_min_version > c.tls_max_version) {
    return fail(Kind::kInvalid, "min version (" + c.tls_min_version +
                                    ") is greater than max version (" + c.tls_max_version + ")");
  }
  if (!c.cipher_suites.empty() && c.tls_min_version == "TLS1.3") {
    return fail(Kind::kInvalid, "cipher suites cannot be configured when only TLS1.3 is enabled");
  }
  if (c.self_signed_cert_validity_years == 0) {
    return fail(Kind::kInvalid, "--self-signed-cert-validity must be >0");
  }
  if (c.auto_compaction_revision_interval_ns <= 0) {
    return fail(Kind::kInvalid, "--experimental-auto-compaction-revision-interval must be >0");
  }
  return r;
}

std::string usage_text() {
  return "Usage:\n"
         "\n"
         "  etcd [flags]\n"
         "    Start an etcd member.\n"
         "\n"
         "  etcd --version\n"
         "    Print the version and exit.\n"
         "\n"
         "  etcd -h | --help\n"
         "    Print this help and exit.\n"
         "\n"
         "  etcd --config-file\n"
         "    Read the configuration from this YAML file; when given, every other flag\n"
         "    and ETCD_* variable is ignored.\n";
}

std::string help_text() {
  FlagSet flags = make_server_flags();
  std::ostringstream out;
  out << usage_text();
  for (const std::string& group : group_order()) {
    bool header = false;
    for (const FlagSpec& s : flags.specs()) {
      if (s.group != group) continue;
      if (!header) {
        out << "\n" << group << ":\n";
        header = true;
      }
      out << "  --" << s.name << " '" << s.default_value << "'\n    " << s.usage << "\n";
    }
    if (header && group == kUnsafe) {
      out << "\nCAUTIOUS with unsafe flag! It may break the guarantees given by the consensus "
             "protocol!\n";
    }
  }
  return out.str();
}

std::string version_text() {
  std::ostringstream out;
  out << "etcd Version: " << kEtcdVersion << "\n"
      << "API Version: " << kApiVersion << "\n"
      << "Implementation: " << kImplementationName << " " << kImplementationVersion << "\n"
      << "Git SHA: " << kGitSha << "\n"
      << "Compiler: " << kCompiler << "\n"
      << "OS/Arch: " << kOsArch << "\n";
  return out.str();
}

}  // namespace etcd::config
