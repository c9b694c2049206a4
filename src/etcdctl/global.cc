#include "etcdctl/global.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <random>
#include <set>

#include "base/version.h"
#include "client/srv.h"
#include "etcdctl/v2/backup_command.h"
#include "etcdctl/v2/ctlv2.h"

extern char** environ;

namespace etcd::ctl {

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

namespace {

std::string env_name(const std::string& flag) {
  std::string s = "ETCDCTL_";
  for (char c : flag)
    s += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

// speakeasy.Ask, which etcdctl prompts with: the prompt on stdout, echo off
// while a line is read from stdin byte by byte (so the rest of stdin stays
// unread), then a newline on stdout. speakeasy turns echo off and on by
// running stty on the terminal; when stdin is not one, stty's complaint goes
// to stderr twice, and etcdctl's users see it: so do ours.
std::string ask_password(const std::string& prompt) {
  std::cout << prompt << std::flush;
  termios old{};
  const bool tty = tcgetattr(STDIN_FILENO, &old) == 0;
  constexpr const char* kSttyComplaint = "stty: 'standard input': Inappropriate ioctl for device\n";
  if (tty) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  } else {
    std::cerr << kSttyComplaint << std::flush;
  }
  std::string line;
  char c;
  while (::read(STDIN_FILENO, &c, 1) == 1 && c != '\n') line += c;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
  } else {
    std::cerr << kSttyComplaint << std::flush;
  }
  std::cout << "\n" << std::flush;
  return line;
}

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

client::Options connection_options_from(const Invocation& inv) {
  client::Options o;
  o.endpoints = endpoints_from(inv);
  o.dial_timeout = std::chrono::milliseconds(inv.get_duration_ns("dial-timeout") / 1000000);
  o.keepalive_time = std::chrono::milliseconds(inv.get_duration_ns("keepalive-time") / 1000000);
  o.keepalive_timeout =
      std::chrono::milliseconds(inv.get_duration_ns("keepalive-timeout") / 1000000);
  // etcdctl refuses a TLS file flag given as "" (keyAndCertFromCmd).
  for (const char* name : {"cert", "key", "cacert"}) {
    const Flag* f = inv.cmd->lookup(name);
    if (f && f->changed && inv.get_string(name).empty()) {
      exit_with_error(kExitBadArgs, std::string("empty string is passed to --") + name + " option");
    }
  }
  const std::string cert = inv.get_string("cert");
  const std::string key = inv.get_string("key");
  const std::string cacert = inv.get_string("cacert");
  const bool insecure_transport = inv.get_bool("insecure-transport");
  const bool skip_verify = inv.get_bool("insecure-skip-tls-verify");
  // Any TLS file, or a secure transport asked for: TLS (system roots unless
  // --cacert); --insecure-skip-tls-verify only matters with TLS.
  if (!cert.empty() || !key.empty() || !cacert.empty() || !insecure_transport) {
    client::TlsOptions t;
    t.cert_file = cert;
    t.key_file = key;
    t.ca_file = cacert;
    t.insecure_skip_verify = skip_verify;
    o.tls = t;
  }
  return o;
}

namespace {
constexpr const char* kMaskedSecret = "******";
}  // namespace

client::Options client_config_from(const Invocation& inv) {
  if (inv.get_bool("debug")) {
    // As etcdctl: every global flag as the variable that sets it; but never
    // a password (etcdctl prints --user's whole "name:password").
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
      if (name == "password" && !value.empty()) value = kMaskedSecret;
      if (name == "user") {
        if (auto colon = value.find(':'); colon != std::string::npos) {
          value = value.substr(0, colon + 1) + kMaskedSecret;
        }
      }
      std::cerr << env_name(name) << "=" << value << "\n";
    }
  }
  client::Options o = connection_options_from(inv);
  const std::string user = inv.get_string("user");
  const std::string password = inv.get_string("password");
  if (!user.empty()) {
    if (password.empty()) {
      const size_t colon = user.find(':');
      if (colon == std::string::npos) {
        o.user = user;
        o.password = ask_password("Password: ");
      } else {
        o.user = user.substr(0, colon);
        o.password = user.substr(colon + 1);
      }
    } else {
      o.user = user;
      o.password = password;
    }
  }
  display_from(inv);
  return o;
}

namespace {

const char* go_code_name(grpc::StatusCode c);  // below

// A zap JSON string: quotes, backslashes and control characters escaped.
std::string zap_string(const std::string& v) {
  std::string out = "\"";
  for (unsigned char c : v) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// zap's ISO8601 time: "2026-12-07T07:37:55.563Z" (local time, its offset).
std::string zap_time() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char zone[16] = "Z";
  if (tm.tm_gmtoff != 0) std::strftime(zone, sizeof zone, "%z", &tm);
  char out[96];
  std::snprintf(out, sizeof out, "%s.%03lld%s", buf, static_cast<long long>(ms), zone);
  return out;
}

// The id etcd's client gives its resolver ("client-<uuid v4>").
std::string client_uuid() {
  std::random_device rd;
  std::mt19937_64 g((static_cast<uint64_t>(rd()) << 32) ^ rd());
  unsigned char b[16];
  for (auto& x : b) x = static_cast<unsigned char>(g());
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  char out[40];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out;
}

}  // namespace

namespace {

// Why a TCP connection to `addr` ("host:port") fails now, as Go's dialer
// says it ("dial tcp 127.0.0.1:1: connect: connection refused"); "" when it
// connects.
std::string dial_error(const std::string& addr) {
  const size_t colon = addr.rfind(':');
  if (colon == std::string::npos) return "";
  std::string host = addr.substr(0, colon);
  if (host.size() > 1 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), addr.substr(colon + 1).c_str(), &hints, &res) != 0 || !res) {
    return "";
  }
  std::string out;
  const int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    timeval tv{1, 0};  // a bound on a connect that hangs
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
      char ip[INET6_ADDRSTRLEN] = "";
      const void* a =
          res->ai_family == AF_INET6
              ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(res->ai_addr)->sin6_addr)
              : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr);
      inet_ntop(res->ai_family, a, ip, sizeof ip);
      std::string why = std::strerror(errno);
      if (!why.empty())
        why[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(why[0])));
      const std::string shown = res->ai_family == AF_INET6 ? "[" + std::string(ip) + "]" : ip;
      out = "dial tcp " + shown + ":" + addr.substr(colon + 1) + ": connect: " + why;
    }
    ::close(fd);
  }
  freeaddrinfo(res);
  return out;
}

// etcd's Go client logs each failed attempt of a unary call on stderr (a
// zap warning, "retrying of unary invoker failed"). etcd 3.4's client names
// its balanced connection "endpoint://client-<uuid>/<first endpoint>" and a
// connection to one endpoint (Status, HashKV, ...) "passthrough:///<it>";
// on the latter a call that times out while the endpoint refuses
// connections reports grpc-go's pick_first error with the dial's.
void log_failed_attempts(client::Options& o) {
  if (o.endpoints.empty()) return;
  const std::string target =
      "endpoint://client-" + client_uuid() + "/" + client::endpoint_address(o.endpoints[0]);
  o.on_attempt_failed = [target](unsigned attempt, const grpc::Status& s,
                                 const std::string& endpoint) {
    std::string error;
    std::string dial;
    if (!endpoint.empty() && s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      dial = dial_error(endpoint);
    }
    if (!dial.empty()) {
      error =
          "rpc error: code = DeadlineExceeded desc = latest balancer error: connection error: "
          "desc = \"transport: Error while dialing " +
          dial + "\"";
    } else if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
               s.error_message() != client::kNoConnection) {
      error = "rpc error: code = DeadlineExceeded desc = context deadline exceeded";
    } else if (s.error_code() == grpc::StatusCode::CANCELLED) {
      error = "rpc error: code = Canceled desc = context canceled";
    } else {
      error = std::string("rpc error: code = ") + go_code_name(s.error_code()) +
              " desc = " + s.error_message();
    }
    const std::string& shown_target = endpoint.empty() ? target : "passthrough:///" + endpoint;
    std::cout.flush();
    std::cerr << "{\"level\":\"warn\",\"ts\":\"" << zap_time()
              << "\",\"caller\":\"clientv3/retry_interceptor.go:62\",\"msg\":\"retrying of "
                 "unary invoker failed\",\"target\":"
              << zap_string(shown_target) << ",\"attempt\":" << attempt
              << ",\"error\":" << zap_string(error) << "}\n"
              << std::flush;
  };
}

}  // namespace

grpc::Status new_client(client::Options o, std::unique_ptr<client::Client>& out) {
  log_failed_attempts(o);
  out = std::make_unique<client::Client>(std::move(o));
  // etcd 3.5's clientv3.New does not wait for a connection (etcdctl sets no
  // WithBlock): only with a user does it talk to the cluster, to get a token
  // within --dial-timeout. A dead endpoint shows in the first call instead.
  if (!out->uses_auth()) return grpc::Status::OK;
  return out->connect(std::chrono::system_clock::now() + out->options().dial_timeout);
}

std::unique_ptr<client::Client> must_client(client::Options o, int fail_code) {
  // newClientCfg: TLS with a certificate needs its key and the reverse.
  if (o.tls && o.tls->cert_file.empty() != o.tls->key_file.empty()) {
    exit_with_error(kExitBadArgs, "KeyFile and CertFile must both be present[key: " +
                                      o.tls->key_file + ", cert: " + o.tls->cert_file + "]");
  }
  std::unique_ptr<client::Client> c;
  if (grpc::Status s = new_client(std::move(o), c); !s.ok()) exit_with_status(s, fail_code);
  return c;
}

std::unique_ptr<client::Client> must_client(const Invocation& inv) {
  return must_client(client_config_from(inv));
}

client::Deadline command_deadline(const Invocation& inv) {
  return std::chrono::system_clock::now() +
         std::chrono::nanoseconds(inv.get_duration_ns("command-timeout"));
}

namespace {

// The descriptions etcd's client turns into its typed errors (rpctypes'
// errStringToError): etcdctl prints these bare; any other gRPC error prints
// as grpc-go's status error, "rpc error: code = <Code> desc = <message>".
bool is_etcd_error(const std::string& desc) {
  static const std::set<std::string> kKnown = {
      "etcdserver: key is not provided",
      "etcdserver: key not found",
      "etcdserver: value is provided",
      "etcdserver: lease is provided",
      "etcdserver: too many operations in txn request",
      "etcdserver: duplicate key given in txn request",
      "etcdserver: mvcc: required revision has been compacted",
      "etcdserver: mvcc: required revision is a future revision",
      "etcdserver: mvcc: database space exceeded",
      "etcdserver: requested lease not found",
      "etcdserver: lease already exists",
      "etcdserver: too large lease TTL",
      "etcdserver: member ID already exist",
      "etcdserver: Peer URLs already exists",
      "etcdserver: re-configuration failed due to not enough started members",
      "etcdserver: given member URLs are invalid",
      "etcdserver: member not found",
      "etcdserver: can only promote a learner member",
      "etcdserver: can only promote a learner member which is in sync with leader",
      "etcdserver: too many learner members in cluster",
      "etcdserver: request is too large",
      "etcdserver: too many requests",
      "etcdserver: root user does not exist",
      "etcdserver: root user does not have root role",
      "etcdserver: user name already exists",
      "etcdserver: user name is empty",
      "etcdserver: user name not found",
      "etcdserver: role name already exists",
      "etcdserver: role name not found",
      "etcdserver: role name is empty",
      "etcdserver: authentication failed, invalid user ID or password",
      "etcdserver: permission denied",
      "etcdserver: role is not granted to the user",
      "etcdserver: permission is not granted to the role",
      "etcdserver: authentication is not enabled",
      "etcdserver: invalid auth token",
      "etcdserver: invalid auth management",
      "etcdserver: revision of auth store is old",
      "etcdserver: no leader",
      "etcdserver: not leader",
      "etcdserver: leader changed",
      "etcdserver: not capable",
      "etcdserver: server stopped",
      "etcdserver: request timed out",
      "etcdserver: request timed out, possibly due to previous leader failure",
      "etcdserver: request timed out, possibly due to connection lost",
      "etcdserver: request timed out, waiting for the applied index took too long",
      "etcdserver: unhealthy cluster",
      "etcdserver: corrupt cluster",
      "etcdserver: bad leader transferee",
      "etcdserver: rpc not supported for learner",
  };
  return kKnown.count(desc) > 0;
}

const char* go_code_name(grpc::StatusCode c) {
  switch (c) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "Canceled";
    case grpc::StatusCode::UNKNOWN:
      return "Unknown";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "InvalidArgument";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DeadlineExceeded";
    case grpc::StatusCode::NOT_FOUND:
      return "NotFound";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "AlreadyExists";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PermissionDenied";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "ResourceExhausted";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FailedPrecondition";
    case grpc::StatusCode::ABORTED:
      return "Aborted";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OutOfRange";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "Unimplemented";
    case grpc::StatusCode::INTERNAL:
      return "Internal";
    case grpc::StatusCode::UNAVAILABLE:
      return "Unavailable";
    case grpc::StatusCode::DATA_LOSS:
      return "DataLoss";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "Unauthenticated";
    default:
      return "Unknown";
  }
}

}  // namespace

std::string go_error_string(const grpc::Status& s) {
  if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) return "context deadline exceeded";
  if (s.error_code() == grpc::StatusCode::CANCELLED) return "context canceled";
  if (is_etcd_error(s.error_message())) return s.error_message();
  return std::string("rpc error: code = ") + go_code_name(s.error_code()) +
         " desc = " + s.error_message();
}

std::string grpc_error_text(const grpc::Status& s) {
  return std::string("rpc error: code = ") + go_code_name(s.error_code()) +
         " desc = " + s.error_message();
}

void exit_with_status(const grpc::Status& s, int code) {
  exit_with_error(code, go_error_string(s));
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
  root->suggestion_order = {"get",    "put",      "del",         "txn",       "compaction", "alarm",
                            "defrag", "endpoint", "move-leader", "watch",     "version",    "lease",
                            "member", "snapshot", "make-mirror", "lock",      "elect",      "auth",
                            "user",   "role",     "check",       "completion"};
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
      v2::register_backup_runner([](const std::vector<std::string>& a) {
        return v2::run_backup(a, std::cout, std::cerr);
      });
      return v2::run_ctlv2(std::vector<std::string>(argv + 1, argv + argc));
    }
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  auto root = make_root();
  if (!args.empty() && (args[0] == "__complete" || args[0] == "__completeNoDesc")) {
    return run_shell_complete(*root, args);
  }
  return root->execute(args);
}

}  // namespace etcd::ctl
