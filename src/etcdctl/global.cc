#include "etcdctl/global.h"

#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <map>
#include <set>

#include "base/version.h"
#include "client/srv.h"

extern char** environ;

namespace etcd::ctl {
namespace {

std::string env_name(const std::string& flag) {
  std::string s = "ETCDCTL_";
  for (char c : flag)
    s += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// capnslog's line prefix: "2026-12-07 07:31:00.396938 ".
std::string capnslog_time() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() %
      1000000;
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  char out[80];
  std::snprintf(out, sizeof out, "%s.%06lld", buf, static_cast<long long>(us));
  return out;
}

std::string read_password(const std::string& prompt) {
  std::cerr << prompt << std::flush;
  termios old{};
  const bool tty = tcgetattr(STDIN_FILENO, &old) == 0;
  if (tty) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::cerr << "\n";
  }
  return line;
}

}  // namespace

void apply_env(Invocation& inv) {
  std::set<std::string> known;
  std::set<std::string> shadowed;
  for (Command* c = inv.cmd->parent(); c; c = c->parent()) {
    for (const auto& [name, f] : c->persistent_flags().all()) {
      (void)f;
      Flag* flag = inv.cmd->lookup(name);
      const std::string key = env_name(name);
      known.insert(key);
      if (flag->changed) {
        shadowed.insert(key);
        continue;
      }
      if (const char* v = std::getenv(key.c_str())) {
        if (std::string err = FlagSet::set(*flag, v); !err.empty()) {
          exit_with_error(kExitError,
                          "invalid value " + std::string(v) + " for " + key + ": " + err);
        }
      }
    }
  }
  // watch's own variables are read by the watch command.
  known.insert("ETCDCTL_WATCH_KEY");
  known.insert("ETCDCTL_WATCH_RANGE_END");
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    const std::string key = kv.substr(0, kv.find('='));
    if (shadowed.count(key)) {
      std::cerr << capnslog_time() << " C | pkg/flags: conflicting environment variable \"" << key
                << "\" is shadowed by corresponding command-line flag (either unset environment "
                   "variable or disable flag)\n";
      std::exit(kExitError);
    }
    if (key.rfind("ETCDCTL_", 0) == 0 && !known.count(key)) {
      std::cerr << capnslog_time() << " W | pkg/flags: unrecognized environment variable " << kv
                << "\n";
    }
  }
}

Display display_from(const Invocation& inv) {
  Display d;
  d.hex = inv.get_bool("hex");
  const std::string w = inv.get_string("write-out");
  if (w == "simple") {
    d.format = OutputFormat::kSimple;
  } else if (w == "json") {
    d.format = OutputFormat::kJson;
  } else if (w == "table") {
    d.format = OutputFormat::kTable;
  } else if (w == "fields") {
    d.format = OutputFormat::kFields;
  } else if (w == "protobuf") {
    d.format = OutputFormat::kProtobuf;
  } else {
    exit_with_error(kExitBadFeature, "unsupported output format");
  }
  return d;
}

std::vector<std::string> endpoints_from(const Invocation& inv) {
  const std::string domain = inv.get_string("discovery-srv");
  std::vector<std::string> eps;
  if (!domain.empty()) {
    auto found = client::discover_srv("etcd-client", domain, inv.get_string("discovery-srv-name"));
    if (!found.is_ok()) exit_with_error(kExitError, found.status().message());
    for (const auto& ep : *found) {
      if (!inv.get_bool("insecure-discovery") && ep.rfind("http://", 0) == 0) {
        std::cerr << "ignoring discovered insecure endpoint \"" << ep << "\"\n";
        continue;
      }
      eps.push_back(ep);
    }
  }
  if (eps.empty()) {
    for (std::string ep : inv.get_slice("endpoints")) {
      const size_t b = ep.find_first_not_of(" \t");
      const size_t e = ep.find_last_not_of(" \t");
      eps.push_back(b == std::string::npos ? "" : ep.substr(b, e - b + 1));
    }
  }
  return eps;
}

client::Options client_options_from(const Invocation& inv) {
  client::Options o;
  o.endpoints = endpoints_from(inv);
  o.dial_timeout = std::chrono::milliseconds(inv.get_duration_ns("dial-timeout") / 1000000);
  o.keepalive_time = std::chrono::milliseconds(inv.get_duration_ns("keepalive-time") / 1000000);
  o.keepalive_timeout =
      std::chrono::milliseconds(inv.get_duration_ns("keepalive-timeout") / 1000000);
  const std::string cert = inv.get_string("cert");
  const std::string key = inv.get_string("key");
  const std::string cacert = inv.get_string("cacert");
  if (!cert.empty() && key.empty())
    exit_with_error(kExitBadArgs, "empty string is passed to --key option");
  if (cert.empty() && !key.empty())
    exit_with_error(kExitBadArgs, "empty string is passed to --cert option");
  const bool insecure_transport = inv.get_bool("insecure-transport");
  const bool skip_verify = inv.get_bool("insecure-skip-tls-verify");
  if (!cert.empty() || !cacert.empty() || !insecure_transport || skip_verify) {
    client::TlsOptions t;
    t.cert_file = cert;
    t.key_file = key;
    t.ca_file = cacert;
    t.insecure_skip_verify = skip_verify;
    if (!cert.empty() || !cacert.empty() || skip_verify) o.tls = t;
  }
  const std::string user = inv.get_string("user");
  const std::string password = inv.get_string("password");
  if (!user.empty()) {
    if (password.empty()) {
      const size_t colon = user.find(':');
      if (colon == std::string::npos) {
        o.user = user;
        o.password = read_password("Password: ");
      } else {
        o.user = user.substr(0, colon);
        o.password = user.substr(colon + 1);
      }
    } else {
      if (user.find(':') != std::string::npos) {
        exit_with_error(kExitBadArgs, "username contains ':' and password is also given");
      }
      o.user = user;
      o.password = password;
    }
  }
  return o;
}

std::unique_ptr<client::Client> client_from(const Invocation& inv) {
  if (inv.get_bool("debug")) {
    // As etcdctl: every global flag as the variable that sets it.
    std::map<std::string, const Flag*> inherited;
    for (Command* c = inv.cmd->parent(); c; c = c->parent()) {
      for (const auto& [name, f] : c->persistent_flags().all())
        inherited.emplace(name, inv.cmd->lookup(name));
    }
    for (const auto& [name, f] : inherited) {
      std::string value = f->value;
      if (f->kind == FlagKind::kStringSlice || f->kind == FlagKind::kStringArray) {
        value = "[";
        for (size_t i = 0; i < f->list.size(); ++i) value += (i ? "," : "") + f->list[i];
        value += "]";
      }
      std::cerr << env_name(name) << "=" << value << "\n";
    }
  }
  display_from(inv);
  return std::make_unique<client::Client>(client_options_from(inv));
}

client::Deadline command_deadline(const Invocation& inv) {
  return std::chrono::system_clock::now() +
         std::chrono::nanoseconds(inv.get_duration_ns("command-timeout"));
}

void exit_with_status(const grpc::Status& s, int code) {
  if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    exit_with_error(code, "context deadline exceeded");
  }
  if (s.error_code() == grpc::StatusCode::CANCELLED) exit_with_error(code, "context canceled");
  exit_with_error(code, s.error_message());
}

std::unique_ptr<Command> make_root() {
  auto root = std::make_unique<Command>("etcdctl", "A simple command line client for etcd3.");
  FlagSet& p = root->persistent_flags();
  p.add(FlagKind::kStringSlice, "endpoints", "", "[127.0.0.1:2379]", "gRPC endpoints");
  p.add(FlagKind::kBool, "debug", "", "false", "enable client-side debug logging");
  p.add(FlagKind::kString, "write-out", "w", "simple",
        "set the output format (fields, json, protobuf, simple, table)");
  p.add(FlagKind::kBool, "hex", "", "false", "print byte strings as hex encoded strings");
  p.add(FlagKind::kDuration, "dial-timeout", "", "2s", "dial timeout for client connections");
  p.add(FlagKind::kDuration, "command-timeout", "", "5s",
        "timeout for short running command (excluding dial timeout)");
  p.add(FlagKind::kDuration, "keepalive-time", "", "2s", "keepalive time for client connections");
  p.add(FlagKind::kDuration, "keepalive-timeout", "", "6s",
        "keepalive timeout for client connections");
  p.add(FlagKind::kBool, "insecure-transport", "", "true",
        "disable transport security for client connections");
  p.add(FlagKind::kBool, "insecure-discovery", "", "true",
        "accept insecure SRV records describing cluster endpoints");
  p.add(FlagKind::kBool, "insecure-skip-tls-verify", "", "false",
        "skip server certificate verification (CAUTION: this option should be enabled only for "
        "testing "
        "purposes)");
  p.add(FlagKind::kString, "cert", "", "",
        "identify secure client using this TLS certificate file");
  p.add(FlagKind::kString, "key", "", "", "identify secure client using this TLS key file");
  p.add(FlagKind::kString, "cacert", "", "",
        "verify certificates of TLS-enabled secure servers using this CA bundle");
  p.add(FlagKind::kString, "user", "", "",
        "username[:password] for authentication (prompt if password is not supplied)");
  p.add(FlagKind::kString, "password", "", "",
        "password for authentication (if this option is used, --user option shouldn't include "
        "password)");
  p.add(FlagKind::kString, "discovery-srv", "d", "",
        "domain name to query for SRV records describing cluster endpoints");
  p.add(FlagKind::kString, "discovery-srv-name", "", "",
        "service name to query when using DNS discovery");
  root->before_run = [](Invocation& inv) { apply_env(inv); };

  add_kv_commands(*root);
  add_watch_command(*root);
  add_lease_commands(*root);
  add_member_commands(*root);
  add_endpoint_commands(*root);
  add_maintenance_commands(*root);
  add_mirror_command(*root);
  add_concurrency_commands(*root);
  add_auth_commands(*root);
  add_check_commands(*root);
  add_misc_commands(*root);
  root->add("help [command]", "Help about any command",
            "Help provides help for any command in the application.\nSimply type etcdctl help "
            "[path to command] "
            "for full details.",
            [](Invocation&) {});  // "help ..." is answered by Command::execute
  return root;
}

int run_etcdctl(int argc, char** argv) {
  if (const char* api = std::getenv("ETCDCTL_API")) {
    const std::string v = api;
    unsetenv("ETCDCTL_API");
    if (v == "2") {
      std::cerr << "Error: ETCDCTL_API=2 (the v2 API and its commands) is not supported by this "
                   "etcdctl yet; "
                   "use ETCDCTL_API=3\n";
      return kExitBadFeature;
    }
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  return make_root()->execute(args);
}

}  // namespace etcd::ctl
