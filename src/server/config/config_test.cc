#include "server/config/config.h"

#include <gtest/gtest.h>

#include <fstream>

namespace etcd::config {
namespace {

using Action = LoadResult::Action;
using Kind = LoadResult::ErrorKind;

std::string write_file(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(Config, EtcdDefaults) {
  LoadResult r = load({}, {});
  ASSERT_EQ(r.action, Action::kRun) << r.error;
  const ServerConfig& c = r.config;
  EXPECT_EQ(c.name, "default");
  EXPECT_EQ(c.data_dir, "default.etcd");
  EXPECT_EQ(c.listen_client_urls, std::vector<std::string>{"http://localhost:2379"});
  EXPECT_EQ(c.advertise_client_urls, std::vector<std::string>{"http://localhost:2379"});
  EXPECT_EQ(c.listen_peer_urls, std::vector<std::string>{"http://localhost:2380"});
  EXPECT_EQ(c.initial_advertise_peer_urls, std::vector<std::string>{"http://localhost:2380"});
  EXPECT_EQ(c.initial_cluster, "default=http://localhost:2380");
  EXPECT_EQ(c.initial_cluster_token, "etcd-cluster");
  EXPECT_EQ(c.initial_cluster_state, "new");
  EXPECT_EQ(c.heartbeat_interval_ms, 100u);
  EXPECT_EQ(c.election_timeout_ms, 1000u);
  EXPECT_EQ(c.snapshot_count, 100000u);
  EXPECT_EQ(c.max_request_bytes, 1572864u);
  EXPECT_EQ(c.max_txn_ops, 128u);
  EXPECT_EQ(c.quota_backend_bytes, 0);
  EXPECT_EQ(c.logger, "zap");
  EXPECT_EQ(c.log_level, log::Level::kInfo);
  EXPECT_EQ(c.log_outputs, std::vector<std::string>{"default"});
}

TEST(Config, DataDirFollowsNameAndInitialClusterFollowsPeerUrls) {
  LoadResult r =
      load({"--name", "infra1", "--initial-advertise-peer-urls=http://127.0.0.1:12380"}, {});
  ASSERT_EQ(r.action, Action::kRun) << r.error;
  EXPECT_EQ(r.config.data_dir, "infra1.etcd");
  EXPECT_EQ(r.config.initial_cluster, "infra1=http://127.0.0.1:12380");
}

TEST(Config, FlagsEnvAndPrecedence) {
  LoadResult r = load({"--name=a", "-snapshot-count", "5"},
                      {"ETCD_DATA_DIR=/tmp/d", "ETCD_HEARTBEAT_INTERVAL=50",
                       "ETCD_ELECTION_TIMEOUT=500", "ETCD_LOG_LEVEL=debug", "ETCD_UNKNOWN_X=1"});
  ASSERT_EQ(r.action, Action::kRun) << r.error;
  EXPECT_EQ(r.config.name, "a");
  EXPECT_EQ(r.config.snapshot_count, 5u);
  EXPECT_EQ(r.config.data_dir, "/tmp/d");
  EXPECT_EQ(r.config.heartbeat_interval_ms, 50u);
  EXPECT_EQ(r.config.election_timeout_ms, 500u);
  EXPECT_EQ(r.config.log_level, log::Level::kDebug);
  EXPECT_EQ(r.env.unrecognized, std::vector<std::string>{"ETCD_UNKNOWN_X=1"});
  EXPECT_EQ(r.env.used.size(), 4u);
}

TEST(Config, ConflictBetweenEnvAndFlag) {
  LoadResult r = load({"--name", "y"}, {"ETCD_NAME=x"});
  ASSERT_EQ(r.action, Action::kError);
  EXPECT_EQ(r.error_kind, Kind::kConflict);
  EXPECT_EQ(r.error,
            "conflicting environment variable \"ETCD_NAME\" is shadowed by corresponding "
            "command-line flag (either unset environment variable or disable flag)");
}

TEST(Config, UsageErrors) {
  LoadResult r = load({"--no-such-flag"}, {});
  ASSERT_EQ(r.action, Action::kError);
  EXPECT_EQ(r.error_kind, Kind::kUsage);
  EXPECT_EQ(r.error, "flag provided but not defined: -no-such-flag");

  r = load({"--listen-client-urls=localhost:2379"}, {});
  EXPECT_EQ(r.error_kind, Kind::kUsage);
  EXPECT_EQ(r.error,
            "invalid value \"localhost:2379\" for flag -listen-client-urls: URL scheme must be "
            "http, https, unix, or unixs: localhost:2379");

  r = load({"--listen-peer-urls=http://127.0.0.1"}, {});
  EXPECT_EQ(r.error,
            "invalid value \"http://127.0.0.1\" for flag -listen-peer-urls: URL address does not "
            "have the form \"host:port\": http://127.0.0.1");

  r = load({"--initial-cluster-state=bogus"}, {});
  EXPECT_EQ(r.error,
            "invalid value \"bogus\" for flag -initial-cluster-state: invalid value \"bogus\"");
}

TEST(Config, VerificationErrors) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  std::vector<Case> cases = {
      {{"extra"}, "'extra' is not a valid flag"},
      {{"--heartbeat-interval=300"},
       "--election-timeout[1000ms] should be at least as 5 times as --heartbeat-interval[300ms]"},
      {{"--heartbeat-interval=0"}, "--heartbeat-interval must be >0 (set to 0ms)"},
      {{"--election-timeout=60000"},
       "--election-timeout[60000ms] is too long, and should be set less than 50000ms"},
      {{"--logger=capnslog"}, "--logger=capnslog is removed in v3.5"},
      {{"--logger=glog"}, "unknown logger option \"glog\""},
      {{"--log-level=loud"}, "unrecognized level: \"loud\""},
      {{"--log-outputs=default,stdout"}, "multi logoutput for \"default\" is not supported yet"},
  };
  for (const auto& c : cases) {
    LoadResult r = load(c.args, {});
    ASSERT_EQ(r.action, Action::kError) << c.args[0];
    EXPECT_EQ(r.error_kind, Kind::kInvalid) << c.args[0];
    EXPECT_EQ(r.error, c.message);
  }
}

TEST(Config, LogFlags) {
  // systemd/journal is an output like the others at this stage; the logger
  // checks that it stands alone and that journald is there.
  LoadResult r = load({"--log-outputs=systemd/journal"}, {});
  ASSERT_EQ(r.action, Action::kRun) << r.error;
  EXPECT_EQ(r.config.log_outputs, std::vector<std::string>{"systemd/journal"});
  // From the environment (an EnvironmentFile=): a sorted set, as etcd's.
  r = load({}, {"ETCD_LOG_OUTPUTS=stdout,/var/log/etcd.log,stdout", "ETCD_LOG_LEVEL=WARN",
                "ETCD_LOGGER=zap"});
  ASSERT_EQ(r.action, Action::kRun) << r.error;
  EXPECT_EQ(r.config.log_outputs, (std::vector<std::string>{"/var/log/etcd.log", "stdout"}));
  EXPECT_EQ(r.config.log_level, log::Level::kWarn);
  EXPECT_EQ(r.config.logger, "zap");
  const std::vector<std::pair<std::string, log::Level>> levels = {
      {"debug", log::Level::kDebug}, {"info", log::Level::kInfo},   {"warn", log::Level::kWarn},
      {"error", log::Level::kError}, {"panic", log::Level::kPanic}, {"fatal", log::Level::kFatal}};
  for (const auto& [text, level] : levels) {
    r = load({"--log-level", text}, {});
    ASSERT_EQ(r.action, Action::kRun) << text << ": " << r.error;
    EXPECT_EQ(r.config.log_level, level) << text;
  }
  std::string path =
      write_file("journal.yml", "log-outputs: [systemd/journal]\nlog-level: error\n");
  r = load({"--config-file", path}, {});
  ASSERT_EQ(r.action, Action::kRun) << r.error;
  EXPECT_EQ(r.config.log_outputs, std::vector<std::string>{"systemd/journal"});
  EXPECT_EQ(r.config.log_level, log::Level::kError);
}

TEST(Config, HelpAndVersion) {
  EXPECT_EQ(load({"--help"}, {}).action, Action::kHelp);
  EXPECT_EQ(load({"-h"}, {}).action, Action::kHelp);
  EXPECT_EQ(load({"--version"}, {}).action, Action::kVersion);
  EXPECT_EQ(load({}, {"ETCD_VERSION=true"}).action, Action::kVersion);
  std::string help = help_text();
  EXPECT_NE(help.find("\nMember:\n"), std::string::npos);
  EXPECT_NE(help.find("\nClustering:\n"), std::string::npos);
  EXPECT_NE(help.find("\nLogging:\n"), std::string::npos);
  EXPECT_LT(help.find("\nMember:\n"), help.find("\nClustering:\n"));
  EXPECT_LT(help.find("\nClustering:\n"), help.find("\nLogging:\n"));
  EXPECT_NE(help.find("  --name 'default'\n"), std::string::npos);
  EXPECT_NE(help.find("  --max-request-bytes '1572864'\n"), std::string::npos);
  EXPECT_EQ(version_text().rfind("etcd Version: 3.5.", 0), 0u);
  EXPECT_NE(version_text().find("API Version: 3.5\n"), std::string::npos);
  EXPECT_NE(version_text().find("Implementation: etcd-cpp "), std::string::npos);
}

TEST(Config, ConfigFileOverridesFlagsAndEnv) {
  std::string path =
      write_file("etcd.conf.yml",
                 "name: 'infra0'\n"
                 "data-dir: /var/lib/infra0\n"
                 "snapshot-count: 2000\n"
                 "heartbeat-interval: 200\n"
                 "election-timeout: 2000\n"
                 "listen-client-urls: http://127.0.0.1:22379,http://127.0.0.1:32379\n"
                 "initial-cluster-state: 'existing'\n"
                 "log-outputs: [stdout]\n"
                 "quota-backend-bytes: 8589934592\n"
                 "enable-v2: true\n");
  // The command line and environment give other values: the file wins.
  LoadResult r = load({"--config-file", path, "--snapshot-count=5"}, {"ETCD_MAX_TXN_OPS=3"});
  ASSERT_EQ(r.action, Action::kRun) << r.error;
  const ServerConfig& c = r.config;
  EXPECT_EQ(c.config_file, path);
  EXPECT_EQ(c.name, "infra0");
  EXPECT_EQ(c.data_dir, "/var/lib/infra0");
  EXPECT_EQ(c.snapshot_count, 2000u);
  EXPECT_EQ(c.heartbeat_interval_ms, 200u);
  EXPECT_EQ(c.listen_client_urls,
            (std::vector<std::string>{"http://127.0.0.1:22379", "http://127.0.0.1:32379"}));
  EXPECT_EQ(c.initial_cluster_state, "existing");
  EXPECT_EQ(c.log_outputs, std::vector<std::string>{"stdout"});
  EXPECT_EQ(c.quota_backend_bytes, 8589934592LL);
  EXPECT_EQ(c.max_txn_ops, 128u);  // the variable is ignored with a config file
  EXPECT_TRUE(c.enable_v2);
  EXPECT_TRUE(r.file_unknown.empty());
}

TEST(Config, ConfigFileFromEnvAndErrors) {
  std::string path = write_file("small.yml", "name: fromfile\n");
  LoadResult r = load({}, {"ETCD_CONFIG_FILE=" + path});
  ASSERT_EQ(r.action, Action::kRun) << r.error;
  EXPECT_EQ(r.config.name, "fromfile");
  EXPECT_EQ(r.config.data_dir, "fromfile.etcd");

  std::string bad = write_file("bad.yml", "snapshot-count: many\n");
  r = load({"--config-file=" + bad}, {});
  ASSERT_EQ(r.action, Action::kError);
  EXPECT_EQ(r.error_kind, Kind::kInvalid);
  EXPECT_NE(r.error.find("invalid value \"many\" for \"snapshot-count\""), std::string::npos);

  r = load({"--config-file=/nonexistent/etcd.yml"}, {});
  ASSERT_EQ(r.action, Action::kError);
  EXPECT_EQ(r.error, "open /nonexistent/etcd.yml: no such file or directory");

  std::string broken = write_file("broken.yml", "name: [unclosed\n");
  r = load({"--config-file=" + broken}, {});
  ASSERT_EQ(r.action, Action::kError);
  EXPECT_NE(r.error.find("error parsing config file"), std::string::npos);
}

TEST(Config, ConfigFileTlsSectionsMapToFlagNames) {
  std::string path = write_file("tls.yml",
                                "client-transport-security:\n"
                                "  cert-file: /a.pem\n"
                                "  client-cert-auth: true\n"
                                "peer-transport-security:\n"
                                "  key-file: /b.pem\n"
                                "  auto-tls: true\n"
                                "cipher-suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\n");
  LoadResult r = load({"--config-file", path}, {});
  ASSERT_EQ(r.action, Action::kRun) << r.error;
  EXPECT_TRUE(r.file_unknown.empty());
  EXPECT_EQ(r.config.client_tls.cert_file, "/a.pem");
  EXPECT_TRUE(r.config.client_tls.client_cert_auth);
  EXPECT_EQ(r.config.peer_tls.key_file, "/b.pem");
  EXPECT_TRUE(r.config.peer_tls.auto_tls);
  EXPECT_FALSE(r.config.client_tls.auto_tls);
  EXPECT_EQ(r.config.cipher_suites,
            (std::vector<std::string>{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}));
}

TEST(Config, SecurityAndAuthFlagsWithEtcdsDefaultsAndChecks) {
  LoadResult d = load({}, {});
  ASSERT_EQ(d.action, Action::kRun) << d.error;
  EXPECT_TRUE(d.config.client_tls.empty());
  EXPECT_EQ(d.config.tls_min_version, "TLS1.2");
  EXPECT_EQ(d.config.auth_token, "simple");
  EXPECT_EQ(d.config.auth_token_ttl_s, 300u);
  EXPECT_EQ(d.config.bcrypt_cost, 10u);
  LoadResult r = load({"--peer-cert-allowed-cn", "etcd", "--client-crl-file=/c.pem"},
                      {"ETCD_PEER_CLIENT_CERT_AUTH=true", "ETCD_AUTH_TOKEN=jwt,sign-method=RS256"});
  ASSERT_EQ(r.action, Action::kRun) << r.error;
  EXPECT_EQ(r.config.peer_tls.allowed_cn, "etcd");
  EXPECT_TRUE(r.config.peer_tls.client_cert_auth);
  EXPECT_EQ(r.config.client_tls.crl_file, "/c.pem");
  EXPECT_EQ(r.config.auth_token, "jwt,sign-method=RS256");
  LoadResult v = load({"--tls-min-version=TLS1.1"}, {});
  ASSERT_EQ(v.action, Action::kError);
  EXPECT_EQ(v.error, "unexpected TLS version \"TLS1.1\" (must be one of: TLS1.2, TLS1.3)");
  LoadResult m = load({"--tls-min-version=TLS1.3", "--tls-max-version=TLS1.2"}, {});
  EXPECT_EQ(m.error, "min version (TLS1.3) is greater than max version (TLS1.2)");
  LoadResult c = load({"--tls-min-version=TLS1.3", "--cipher-suites=TLS_AES_128_GCM_SHA256"}, {});
  EXPECT_EQ(c.error, "cipher suites cannot be configured when only TLS1.3 is enabled");
}

TEST(Config, MetricsFlags) {
  LoadResult r = load({}, {});
  ASSERT_EQ(r.action, Action::kRun) << r.error;
  EXPECT_EQ(r.config.metrics, "basic");
  EXPECT_TRUE(r.config.listen_metrics_urls.empty());
  r = load({"--metrics=extensive", "--listen-metrics-urls=http://127.0.0.1:2381,http://[::1]:2381"},
           {});
  ASSERT_EQ(r.action, Action::kRun) << r.error;
  EXPECT_EQ(r.config.metrics, "extensive");
  EXPECT_EQ(r.config.listen_metrics_urls,
            (std::vector<std::string>{"http://127.0.0.1:2381", "http://[::1]:2381"}));
  r = load({}, {"ETCD_METRICS=extensive", "ETCD_LISTEN_METRICS_URLS=http://127.0.0.1:9"});
  ASSERT_EQ(r.action, Action::kRun) << r.error;
  EXPECT_EQ(r.config.metrics, "extensive");
  EXPECT_EQ(r.config.listen_metrics_urls, std::vector<std::string>{"http://127.0.0.1:9"});
  r = load({"--listen-metrics-urls=127.0.0.1:9"}, {});
  EXPECT_EQ(r.action, Action::kError);
  r = load({"--metrics=bogus"}, {});
  EXPECT_EQ(r.action, Action::kError);
}

TEST(Config, ForceNewClusterFromFlagEnvAndConfigFile) {
  EXPECT_FALSE(load({}, {}).config.force_new_cluster);
  EXPECT_TRUE(load({"--force-new-cluster"}, {}).config.force_new_cluster);
  EXPECT_TRUE(load({"-force-new-cluster=true"}, {}).config.force_new_cluster);
  EXPECT_FALSE(load({"--force-new-cluster=false"}, {}).config.force_new_cluster);
  EXPECT_TRUE(load({}, {"ETCD_FORCE_NEW_CLUSTER=true"}).config.force_new_cluster);
  std::string path = write_file("force.yml", "force-new-cluster: true\n");
  auto r = load({"--config-file", path}, {});
  ASSERT_EQ(r.action, Action::kRun) << r.error;
  EXPECT_TRUE(r.config.force_new_cluster);
  EXPECT_TRUE(r.file_unknown.empty());
  // etcd's --help: the flag alone in the last section, then the caution.
  std::string help = help_text();
  EXPECT_NE(help.find("\nUnsafe feature:\n  --force-new-cluster 'false'\n    Force to create a new "
                      "one-member cluster.\n\nCAUTIOUS with unsafe flag! It may break the "
                      "guarantees given by the consensus protocol!\n"),
            std::string::npos)
      << help;
}

}  // namespace
}  // namespace etcd::config
