// The v2 commands and their table. One function per command, as etcdctl
// 3.4's ctlv2/command has them; the client comes first (with the member
// sync unless --no-sync), then the arguments are checked, as there.
#include "etcdctl/v2/ctlv2.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <thread>

#include "base/log.h"
#include "base/version.h"
#include "client/srv.h"
#include "etcdctl/global.h"
#include "etcdctl/output/go_json.h"
#include "etcdctl/output/quote.h"
#include "etcdctl/v2/client.h"
#include "rpc/peer/http_client.h"
#include "rpc/tls/tls.h"

extern char** environ;

namespace etcd::ctl::v2 {
namespace {

// ctlv2's exit codes.
constexpr int kExitSuccess = 0;
constexpr int kExitBadArgs = 1;
constexpr int kExitBadConnection = 2;
constexpr int kExitServerError = 4;
constexpr int kExitClusterNotHealthy = 5;

BackupRunner& backup_runner() {
  static BackupRunner run;
  return run;
}

[[noreturn]] void go_exit(int code) {
  std::cout.flush();
  std::cerr.flush();
  std::exit(code);
}

// handleError: "Error:  <err>", and a cluster error's detail; then exit.
[[noreturn]] void handle_error(int code, const Error& e) {
  std::cout.flush();
  std::cerr << "Error:  " << e.text << "\n";
  if (e.is_cluster) std::cerr << e.detail() << "\n";
  go_exit(code);
}

[[noreturn]] void fail(const std::string& line) {
  std::cout.flush();
  std::cerr << line << "\n";
  go_exit(1);
}

std::string lower_first(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string::npos ? p : p - start));
    if (p == std::string::npos) break;
    start = p + 1;
  }
  return out;
}

Deadline total_deadline(const Context& c) {
  return Clock::now() + std::chrono::nanoseconds(c.global_duration_ns("total-timeout"));
}

// getEndpoints: DNS discovery, else the endpoint flags and variables, else
// the two defaults; each parsed as a URL (http when it names no scheme).
std::vector<std::string> endpoints_of(const Context& c) {
  std::string domain = c.global_string("discovery-srv");
  if (domain.empty()) domain = env("ETCDCTL_DISCOVERY_SRV");
  const bool insecure =
      c.global_bool("insecure-discovery") || !env("ETCDCTL_INSECURE_DISCOVERY").empty();
  std::vector<std::string> eps;
  if (!domain.empty()) {
    auto found = client::discover_srv("etcd-client", domain, env("ETCDCTL_DISCOVERY_SRV_NAME"));
    if (!found.is_ok()) fail(found.status().message());
    for (const auto& ep : *found) {
      if (!insecure && ep.rfind("http://", 0) == 0) {
        std::cerr << "ignoring discovered insecure endpoint " << go_quote(ep) << "\n";
        continue;
      }
      eps.push_back(ep);
    }
  }
  if (eps.empty()) {
    std::string peers = c.global_string("endpoints");
    if (peers.empty()) peers = env("ETCDCTL_ENDPOINTS");
    if (peers.empty()) peers = c.global_string("endpoint");
    if (peers.empty()) peers = env("ETCDCTL_ENDPOINT");
    if (peers.empty()) peers = c.global_string("peers");
    if (peers.empty()) peers = env("ETCDCTL_PEERS");
    if (peers.empty()) peers = "http://127.0.0.1:2379,http://127.0.0.1:4001";
    eps = split(peers, ',');
  }
  for (auto& ep : eps) {
    std::string err;
    auto u = parse_url(ep, &err);
    if (!u) fail(err);
    if (u->scheme.empty()) u->scheme = "http";
    ep = u->str();
  }
  return eps;
}

// getTransport's TLS: nullptr without any file; `err` gets Go's error
// (transport.TLSInfo's checks, then the files read in its order).
std::shared_ptr<rpc::tls::TlsContext> tls_of(const Context& c, std::string* err) {
  std::string ca = c.global_string("ca-file");
  std::string cert = c.global_string("cert-file");
  std::string key = c.global_string("key-file");
  if (ca.empty()) ca = env("ETCDCTL_CA_FILE");
  if (cert.empty()) cert = env("ETCDCTL_CERT_FILE");
  if (key.empty()) key = env("ETCDCTL_KEY_FILE");
  if (ca.empty() && cert.empty() && key.empty()) return nullptr;
  auto unreadable = [](const std::string& f) -> std::string {
    if (::access(f.c_str(), R_OK) == 0) return "";
    return "open " + f + ": " + lower_first(std::strerror(errno));
  };
  if (!cert.empty() || !key.empty()) {
    if (cert.empty() || key.empty()) {
      *err = "KeyFile and CertFile must both be present[key: " + key + ", cert: " + cert + "]";
      return nullptr;
    }
    for (const auto& f : {cert, key}) {
      if (std::string e = unreadable(f); !e.empty()) {
        *err = e;
        return nullptr;
      }
    }
  }
  if (!ca.empty()) {
    if (std::string e = unreadable(ca); !e.empty()) {
      *err = e;
      return nullptr;
    }
  }
  rpc::tls::TlsOptions o;
  o.cert_file = cert;
  o.key_file = key;
  o.trusted_ca_file = ca;
  static log::Logger quiet(log::Level::kError, {}, [] { return int64_t{0}; });
  auto ctx = rpc::tls::TlsContext::create(rpc::tls::TlsContext::Role::kClient, o, quiet);
  if (!ctx.is_ok()) {
    *err = ctx.status().message();
    return nullptr;
  }
  return *ctx;
}

// getUsernamePassword: "name:password", or the password asked for.
std::pair<std::string, std::string> user_password(const std::string& prompt,
                                                  const std::string& flag) {
  const size_t colon = flag.find(':');
  if (colon == std::string::npos) return {flag, ask_password(prompt)};
  return {flag.substr(0, colon), flag.substr(colon + 1)};
}

std::unique_ptr<Client> new_client(const Context& c) {
  ClientConfig cfg;
  cfg.endpoints = endpoints_of(c);
  std::string tls_err;
  cfg.tls = tls_of(c, &tls_err);
  if (!tls_err.empty()) fail(tls_err);
  cfg.header_timeout = std::chrono::nanoseconds(c.global_duration_ns("timeout"));
  std::string u = c.global_string("username");
  if (u.empty()) u = env("ETCDCTL_USERNAME");
  if (!u.empty()) {
    auto [name, password] = user_password("Password: ", u);
    cfg.username = name;
    cfg.password = password;
  }
  return std::make_unique<Client>(std::move(cfg));
}

// mustNewClient: the client, synced with the member list unless --no-sync.
std::unique_ptr<Client> must_client(const Context& c) {
  auto hc = new_client(c);
  const bool debug = c.global_bool("debug");
  if (debug) hc->set_curl_debug(true);
  if (!c.global_bool("no-sync")) {
    if (debug) {
      std::cerr << "start to sync cluster using endpoints(" << join(hc->endpoints(), ",") << ")\n";
    }
    if (auto err = hc->sync(total_deadline(c))) {
      if (err->no_endpoints) {
        std::cerr << "etcd cluster has no published client endpoints.\n";
        std::cerr << "Try '--no-sync' if you want to access non-published client endpoints("
                  << join(hc->endpoints(), ",") << ").\n";
        handle_error(kExitServerError, *err);
      }
      if (err->connection) handle_error(kExitBadConnection, *err);
    }
    if (debug) {
      std::cerr << "got endpoints(" << join(hc->endpoints(), ",") << ") after sync\n";
    }
  }
  if (debug) std::cerr << "Cluster-Endpoints: " << join(hc->endpoints(), ", ") << "\n";
  return hc;
}

std::unique_ptr<Client> must_client_no_sync(const Context& c) {
  auto hc = new_client(c);
  if (c.global_bool("debug")) {
    std::cerr << "Cluster-Endpoints: " << join(hc->endpoints(), ", ") << "\n";
    hc->set_curl_debug(true);
  }
  return hc;
}

// argOrStdin: the argument, or all of stdin (none: "value required").
std::optional<std::string> arg_or_stdin(const std::vector<std::string>& args, size_t i) {
  if (i < args.size()) return args[i];
  std::string all;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(STDIN_FILENO, buf, sizeof buf)) > 0) all.append(buf, static_cast<size_t>(n));
  if (n < 0 || all.empty()) return std::nullopt;
  return all;
}

void print_response(const KeysResponse& r, const std::string& format) {
  std::string err;
  std::cout << format_response(r, format, &err) << std::flush;
  if (!err.empty()) std::cerr << err;
}

KeysResponse must_keys(Client& hc, const Request& req, const Deadline& d, bool one_shot) {
  Response http;
  if (auto err = hc.call(req, d, one_shot, http)) handle_error(kExitServerError, *err);
  KeysResponse r;
  if (auto err = keys_result(http, r)) handle_error(kExitServerError, *err);
  return r;
}

// --- keys commands ---

int get_command(Context& c) {
  auto hc = must_client(c);
  if (c.args.empty()) handle_error(kExitBadArgs, Error{"key required"});
  auto r = must_keys(*hc, get_request(c.args[0], false, c.flag_bool("sort"), c.flag_bool("quorum")),
                     total_deadline(c), false);
  if (r.node && r.node->dir) {
    std::cerr << r.node->key << ": is a directory\n";
    go_exit(1);
  }
  print_response(r, c.global_string("output"));
  return 0;
}

void print_ls_node(const Context& c, const Node& n) {
  std::cout << n.key << (n.dir && c.flag_bool("p") ? "/" : "") << "\n";
  if (n.nodes) {
    for (const auto& child : *n.nodes) print_ls_node(c, child);
  }
}

int ls_command(Context& c) {
  auto hc = must_client(c);
  const std::string key = c.args.empty() ? "/" : c.args[0];
  auto r = must_keys(
      *hc, get_request(key, c.flag_bool("recursive"), c.flag_bool("sort"), c.flag_bool("quorum")),
      total_deadline(c), false);
  if (c.global_string("output") == "simple") {
    if (r.node && !r.node->dir) std::cout << r.node->key << "\n";
    if (r.node && r.node->nodes) {
      for (const auto& n : *r.node->nodes) print_ls_node(c, n);
    }
    std::cout.flush();
  } else {
    print_response(r, c.global_string("output"));
  }
  return 0;
}

int set_like(Context& c, const std::string& prev_exist, bool with_swap) {
  auto hc = must_client(c);
  if (c.args.empty()) handle_error(kExitBadArgs, Error{"key required"});
  const std::string key = c.args[0];
  auto value = arg_or_stdin(c.args, 1);
  if (!value) handle_error(kExitBadArgs, Error{"value required"});
  SetOptions o;
  o.ttl_s = c.flag_int("ttl");
  o.prev_exist = prev_exist;
  if (with_swap) {
    o.prev_value = c.flag_string("swap-with-value");
    o.prev_index = static_cast<uint64_t>(c.flag_int("swap-with-index"));
  }
  auto r = must_keys(*hc, set_request(key, *value, o), total_deadline(c), prev_exist == "false");
  print_response(r, c.global_string("output"));
  return 0;
}

int mk_command(Context& c) {
  if (!c.flag_bool("in-order")) return set_like(c, "false", false);
  auto hc = must_client(c);
  if (c.args.empty()) handle_error(kExitBadArgs, Error{"key required"});
  auto value = arg_or_stdin(c.args, 1);
  if (!value) handle_error(kExitBadArgs, Error{"value required"});
  auto r = must_keys(*hc, create_in_order_request(c.args[0], *value, c.flag_int("ttl")),
                     total_deadline(c), false);
  print_response(r, c.global_string("output"));
  return 0;
}

int dir_command(Context& c, const std::string& prev_exist) {
  auto hc = must_client(c);
  if (c.args.empty()) handle_error(kExitBadArgs, Error{"key required"});
  SetOptions o;
  o.ttl_s = c.flag_int("ttl");
  o.dir = true;
  o.prev_exist = prev_exist;
  auto r = must_keys(*hc, set_request(c.args[0], "", o), total_deadline(c), prev_exist == "false");
  if (c.global_string("output") != "simple") print_response(r, c.global_string("output"));
  return 0;
}

int rm_like(Context& c, bool dir, bool recursive, const std::string& with_value,
            uint64_t with_index) {
  auto hc = must_client(c);
  if (c.args.empty()) handle_error(kExitBadArgs, Error{"key required"});
  auto r = must_keys(*hc, delete_request(c.args[0], with_value, with_index, dir, recursive),
                     total_deadline(c), true);
  if (!(r.node && r.node->dir) || c.global_string("output") != "simple") {
    print_response(r, c.global_string("output"));
  }
  return 0;
}

// --- watch ---

void exit_on_interrupt() {
  struct sigaction sa {};
  sa.sa_handler = [](int) { _exit(0); };
  sigaction(SIGINT, &sa, nullptr);
}

// A watcher (httpWatcher): each next() one wait request from the index
// after the last event.
class Watcher {
 public:
  Watcher(Client& hc, std::string key, uint64_t after, bool recursive)
      : hc_(hc), key_(std::move(key)), index_(after > 0 ? after + 1 : 0), recursive_(recursive) {}
  KeysResponse next(const Context&) {
    while (true) {
      Response http;
      if (auto err = hc_.call(wait_request(key_, index_, recursive_), std::nullopt, false, http)) {
        handle_error(kExitServerError, *err);
      }
      KeysResponse r;
      if (auto err = keys_result(http, r)) {
        if (err->text == "client: response body is empty") continue;
        handle_error(kExitServerError, *err);
      }
      index_ = (r.node ? r.node->modified_index : 0) + 1;
      return r;
    }
  }

 private:
  Client& hc_;
  std::string key_;
  uint64_t index_;
  bool recursive_;
};

int watch_command(Context& c) {
  auto hc = must_client(c);
  if (c.args.empty()) handle_error(kExitBadArgs, Error{"key required"});
  const bool recursive = c.flag_bool("recursive");
  const bool forever = c.flag_bool("forever");
  Watcher w(*hc, c.args[0], static_cast<uint64_t>(c.flag_int("after-index")), recursive);
  exit_on_interrupt();
  while (true) {
    KeysResponse r = w.next(c);
    if (r.node && r.node->dir) continue;
    if (recursive) std::cout << "[" << r.action << "] " << (r.node ? r.node->key : "") << "\n";
    print_response(r, c.global_string("output"));
    if (!forever) break;
  }
  return 0;
}

// exec.LookPath: a name without a slash searched in $PATH.
std::optional<std::string> look_path(const std::string& name, std::string* err) {
  if (name.find('/') != std::string::npos) {
    // No lookup; the exec fails as Go's fork/exec reports it.
    if (::access(name.c_str(), X_OK) != 0) {
      *err = "fork/exec " + name + ": " + lower_first(std::strerror(errno));
      return std::nullopt;
    }
    return name;
  }
  for (const auto& dir : split(env("PATH"), ':')) {
    const std::string p = (dir.empty() ? std::string(".") : dir) + "/" + name;
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111)) return p;
  }
  *err = "exec: " + go_quote(name) + ": executable file not found in $PATH";
  return std::nullopt;
}

int exec_watch_command(Context& c) {
  auto hc = must_client(c);
  const auto& args = c.args;
  if (args.size() < 2) handle_error(kExitBadArgs, Error{"key and command to exec required"});
  bool sep = false;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--") sep = true;
  }
  std::string key;
  std::vector<std::string> cmd;
  if (sep) {
    key = args[0];
    cmd.assign(args.begin() + 2, args.end());
  } else {
    key = args.back();
    cmd.assign(args.begin(), args.end() - 1);
  }
  exit_on_interrupt();
  signal(SIGCHLD, SIG_IGN);  // the commands run on; nobody waits for them
  Watcher w(*hc, key, static_cast<uint64_t>(c.flag_int("after-index")), c.flag_bool("recursive"));
  while (true) {
    KeysResponse r = w.next(c);
    const Node n = r.node.value_or(Node{});
    if (n.dir) {
      std::cerr << "Ignored dir " << n.key << " change\n";
      continue;
    }
    if (cmd.empty()) {
      std::cerr << "panic: runtime error: index out of range [0] with length 0\n";
      go_exit(2);
    }
    std::string err;
    auto path = look_path(cmd[0], &err);
    if (!path) {
      std::cout.flush();
      std::cerr << err << std::flush;
      go_exit(1);
    }
    // The environment plus the event; Go's os/exec keeps the last of
    // duplicate keys, so an inherited ETCD_WATCH_* gives way.
    const std::vector<std::string> event = {
        "ETCD_WATCH_ACTION=" + r.action,
        "ETCD_WATCH_MODIFIED_INDEX=" + std::to_string(n.modified_index), "ETCD_WATCH_KEY=" + n.key,
        "ETCD_WATCH_VALUE=" + n.value};
    std::vector<std::string> envs;
    for (char** e = environ; *e; ++e) {
      const std::string kv = *e;
      const std::string k = kv.substr(0, kv.find('=') + 1);
      bool replaced = false;
      for (const auto& ev : event) replaced = replaced || ev.rfind(k, 0) == 0;
      if (!replaced) envs.push_back(kv);
    }
    envs.insert(envs.end(), event.begin(), event.end());
    std::cout.flush();
    std::cerr.flush();
    const pid_t pid = fork();
    if (pid == 0) {
      // As Go's os/exec: stdin from /dev/null, default signal dispositions.
      signal(SIGCHLD, SIG_DFL);
      if (const int null_fd = ::open("/dev/null", O_RDONLY); null_fd >= 0) {
        ::dup2(null_fd, STDIN_FILENO);
        if (null_fd != STDIN_FILENO) ::close(null_fd);
      }
      std::vector<char*> argv, envp;
      for (auto& a : cmd) argv.push_back(a.data());
      argv.push_back(nullptr);
      for (auto& e : envs) envp.push_back(e.data());
      envp.push_back(nullptr);
      ::execve(path->c_str(), argv.data(), envp.data());
      _exit(127);
    }
    if (pid < 0) fail("fork/exec " + *path + ": " + std::strerror(errno));
  }
}

// --- members ---

struct MembersResult {
  std::optional<Error> err;
  std::vector<Member> members;
};

MembersResult list_members(Client& hc, const Deadline& d) {
  MembersResult out;
  Request req;
  req.path = "/v2/members";
  Response http;
  if (auto err = hc.call(req, d, false, http)) {
    out.err = err;
    return out;
  }
  if (http.status != 200) {
    out.err = Error{"unexpected status code " + std::to_string(http.status)};
    return out;
  }
  try {
    auto j = nlohmann::json::parse(http.body);
    if (j.contains("members") && j["members"].is_array()) {
      for (const auto& m : j["members"]) out.members.push_back(member_from_json(m));
    }
  } catch (const std::exception& e) {
    out.err = Error{e.what()};
  }
  return out;
}

int member_list(Context& c) {
  if (!c.args.empty()) fail("No arguments accepted");
  auto hc = must_client(c);
  const Deadline d = total_deadline(c);
  auto ms = list_members(*hc, d);
  if (ms.err) fail(ms.err->text);
  Request req;
  req.path = "/v2/members/leader";
  Response http;
  Member leader;
  std::optional<Error> err = hc->call(req, d, false, http);
  if (!err && http.status != 200)
    err = Error{"unexpected status code " + std::to_string(http.status)};
  if (!err) {
    try {
      leader = member_from_json(nlohmann::json::parse(http.body));
    } catch (const std::exception& e) {
      err = Error{e.what()};
    }
  }
  if (err) fail("Failed to get leader:  " + err->text);
  for (const auto& m : ms.members) {
    if (m.name.empty()) {
      std::cout << m.id << "[unstarted]: peerURLs=" << join(m.peer_urls, ",") << "\n";
    } else {
      std::cout << m.id << ": name=" << m.name << " peerURLs=" << join(m.peer_urls, ",")
                << " clientURLs=" << join(m.client_urls, ",")
                << " isLeader=" << (m.id == leader.id ? "true" : "false") << "\n";
    }
  }
  return 0;
}

// types.NewURLs: each URL checked; sorted.
std::optional<std::vector<std::string>> new_urls(std::vector<std::string> in, std::string* err) {
  if (in.empty()) {
    *err = "no valid URLs given";
    return std::nullopt;
  }
  for (auto& s : in) {
    const size_t b = s.find_first_not_of(" \t\n\r\v\f");
    const size_t e = s.find_last_not_of(" \t\n\r\v\f");
    s = b == std::string::npos ? "" : s.substr(b, e - b + 1);
    auto u = parse_url(s, err);
    if (!u) return std::nullopt;
    if (u->scheme != "http" && u->scheme != "https" && u->scheme != "unix" &&
        u->scheme != "unixs") {
      *err = "URL scheme must be http, https, unix, or unixs: " + s;
      return std::nullopt;
    }
    const size_t colon = u->host.rfind(':');
    const bool bracket_ok = u->host.empty() || u->host[0] != '[' || u->host.find(']') == colon - 1;
    if (colon == std::string::npos || !bracket_ok ||
        (u->host[0] != '[' && u->host.substr(0, colon).find(':') != std::string::npos)) {
      *err = "URL address does not have the form \"host:port\": " + s;
      return std::nullopt;
    }
    if (!u->path.empty()) {
      *err = "URL must not contain a path: " + s;
      return std::nullopt;
    }
    s = u->str();
  }
  std::sort(in.begin(), in.end());
  return in;
}

std::string peer_urls_body(const std::vector<std::string>& urls) {
  std::string s = "{\"peerURLs\":[";
  for (size_t i = 0; i < urls.size(); ++i) s += (i ? "," : "") + go_json_string(urls[i]);
  return s + "]}";
}

std::string members_error(const Response& http, std::string* err) {
  try {
    auto j = nlohmann::json::parse(http.body);
    if (j.contains("message") && j["message"].is_string()) return j["message"];
    return "";
  } catch (const std::exception& e) {
    *err = e.what();
    return "";
  }
}

int member_add(Context& c) {
  if (c.args.size() != 2) fail("Provide a name and a single member peerURL");
  auto hc = must_client(c);
  const Deadline d = total_deadline(c);
  std::string err;
  auto urls = new_urls({c.args[1]}, &err);
  if (!urls) fail(err);
  Request req;
  req.method = "POST";
  req.path = "/v2/members";
  req.body = peer_urls_body(*urls);
  req.content_type = "application/json";
  Response http;
  if (auto e = hc->call(req, d, false, http)) fail(e->text);
  if (http.status != 201 && http.status != 409) {
    fail("unexpected status code " + std::to_string(http.status));
  }
  if (http.status != 201) fail(members_error(http, &err));
  Member m;
  try {
    m = member_from_json(nlohmann::json::parse(http.body));
  } catch (const std::exception& e) {
    fail(e.what());
  }
  const std::string name = c.args[0];
  std::cout << "Added member named " << name << " with ID " << m.id << " to cluster\n";
  auto ms = list_members(*hc, d);
  if (ms.err) fail(ms.err->text);
  std::vector<std::string> conf;
  for (const auto& mb : ms.members) {
    for (const auto& u : mb.peer_urls) conf.push_back((mb.id == m.id ? name : mb.name) + "=" + u);
  }
  std::cout << "\nETCD_NAME=" << go_quote(name)
            << "\nETCD_INITIAL_CLUSTER=" << go_quote(join(conf, ","))
            << "\nETCD_INITIAL_CLUSTER_STATE=\"existing\"\n";
  return 0;
}

int member_remove(Context& c) {
  if (c.args.size() != 1) fail("Provide a single member ID");
  const std::string id = c.args[0];
  auto hc = must_client(c);
  const Deadline d = total_deadline(c);
  auto ms = list_members(*hc, d);
  if (ms.err) fail("Error while verifying ID against known members: " + ms.err->text);
  bool found = false;
  for (const auto& m : ms.members) {
    if (m.id == id) found = true;
    if (m.name == id) {
      std::cerr << "Found a member named " << m.name
                << "; if this is correct, please use its ID, eg:\n\tetcdctl member remove " << m.id
                << "\n"
                << "For more details, read the documentation at "
                   "https://github.com/etcd-io/etcd/blob/master/Documentation/"
                   "runtime-configuration.md#remove-a-member\n\n";
    }
  }
  if (!found) {
    std::cerr << "Couldn't find a member in the cluster with an ID of " << id << ".\n";
    go_exit(1);
  }
  Request req;
  req.method = "DELETE";
  req.path = canonical_path("/v2/members/" + id);
  Response http;
  std::optional<Error> err = hc->call(req, d, false, http);
  if (!err && http.status != 204 && http.status != 410) {
    err = Error{"unexpected status code " + std::to_string(http.status)};
  }
  if (err) {
    std::cerr << "Received an error trying to remove member " << id << ": " << err->text;
    go_exit(1);
  }
  std::cout << "Removed member " << id << " from cluster\n";
  return 0;
}

int member_update(Context& c) {
  if (c.args.size() != 2) {
    fail(
        "Provide an ID and a list of comma separated peerURL (0xabcd "
        "http://example.com,http://example1.com)");
  }
  auto hc = must_client(c);
  const std::string id = c.args[0];
  std::string err;
  auto urls = new_urls(split(c.args[1], ','), &err);
  if (!urls) fail(err);
  Request req;
  req.method = "PUT";
  req.path = canonical_path("/v2/members/" + id);
  req.body = peer_urls_body(*urls);
  req.content_type = "application/json";
  Response http;
  if (auto e = hc->call(req, total_deadline(c), false, http)) fail(e->text);
  if (http.status != 204 && http.status != 404 && http.status != 409) {
    fail("unexpected status code " + std::to_string(http.status));
  }
  if (http.status != 204) fail(members_error(http, &err));
  std::cout << "Updated member with ID " << id << " in cluster\n";
  return 0;
}

// --- cluster-health ---

int cluster_health(Context& c) {
  const bool forever = c.flag_bool("forever");
  if (forever) exit_on_interrupt();
  std::string tls_err;
  auto tls = tls_of(c, &tls_err);
  if (!tls_err.empty()) handle_error(kExitServerError, Error(tls_err));
  auto hc = must_client_no_sync(c);
  auto ms = list_members(*hc, std::nullopt);
  if (ms.err) {
    std::cout << "cluster may be unhealthy: failed to list members\n";
    handle_error(kExitServerError, *ms.err);
  }
  const long long total_ns = c.global_duration_ns("total-timeout");
  auto dial = std::chrono::milliseconds(30000);
  if (total_ns > 0 && std::chrono::nanoseconds(total_ns) < dial) {
    dial =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::nanoseconds(total_ns));
  }
  while (true) {
    size_t healthy = 0;
    for (const auto& m : ms.members) {
      if (m.client_urls.empty()) {
        std::cout << "member " << m.id << " is unreachable: no available published client urls\n";
        continue;
      }
      bool checked = false;
      for (const auto& url : m.client_urls) {
        rpc::peer::HttpRequest req;
        req.target = "/health";
        // etcdctl's transport bounds the dial only: a member that takes
        // its time to say it is unhealthy (no quorum) is waited for.
        req.answer_timeout = std::chrono::minutes(1);
        auto p = parse_url(url, nullptr);
        if (p) {
          req.target = escape_path(p->path + "/health");
        }
        rpc::peer::HttpCallFailure why;
        auto r = rpc::peer::http_call(url + "/health", req, dial, tls, &why);
        if (!r.is_ok()) {
          std::string text = why.message;
          if (why.kind == rpc::peer::HttpCallFailure::Kind::kConnect) {
            auto hp = rpc::peer::parse_http_url(url);
            text = "dial tcp " + (hp.is_ok() ? hp->host + ":" + hp->port : url) +
                   ": connect: " + std::string(std::strerror(why.sys_errno));
            text[text.find(": connect: ") + 11] = static_cast<char>(
                std::tolower(static_cast<unsigned char>(text[text.find(": connect: ") + 11])));
          }
          std::cout << "failed to check the health of member " << m.id << " on " << url << ": Get "
                    << go_quote(url + "/health") << ": " << text << "\n";
          continue;
        }
        bool ok = false;
        try {
          auto j = nlohmann::json::parse(r->body);
          for (auto it = j.begin(); it != j.end(); ++it) {
            std::string k = it.key();
            std::transform(k.begin(), k.end(), k.begin(), ::tolower);
            if (k != "health") continue;
            if (it->is_string()) ok = it->get<std::string>() == "true";
            if (it->is_boolean()) ok = it->get<bool>();
          }
        } catch (const std::exception& e) {
          std::cout << "failed to check the health of member " << m.id << " on " << url << ": "
                    << e.what() << "\n";
          continue;
        }
        checked = true;
        if (ok) {
          std::cout << "member " << m.id << " is healthy: got healthy result from " << url << "\n";
          ++healthy;
        } else {
          std::cout << "member " << m.id << " is unhealthy: got unhealthy result from " << url
                    << "\n";
        }
        break;
      }
      if (!checked) {
        std::cout << "member " << m.id << " is unreachable: [" << join(m.client_urls, " ")
                  << "] are all unreachable\n";
      }
    }
    if (healthy == ms.members.size()) {
      std::cout << "cluster is healthy\n";
    } else if (healthy == 0) {
      std::cout << "cluster is unavailable\n";
    } else {
      std::cout << "cluster is degraded\n";
    }
    if (!forever) go_exit(healthy == ms.members.size() ? kExitSuccess : kExitClusterNotHealthy);
    std::cout << "\nnext check after 10 second...\n\n" << std::flush;
    std::this_thread::sleep_for(std::chrono::seconds(10));
  }
}

// --- auth (the v2 auth API, /v2/auth) ---

// An auth call: the answer's body, or the error as the Go client words it
// (a non-OK answer's {"message"}).
std::optional<std::string> auth_call(Client& hc, const Request& req, const Deadline& d,
                                     std::vector<int> ok, std::string* body) {
  Response http;
  if (auto e = hc.call(req, d, false, http)) return e->text;
  if (std::find(ok.begin(), ok.end(), http.status) == ok.end()) {
    std::string err;
    const std::string msg = members_error(http, &err);
    return err.empty() ? msg : err;
  }
  *body = http.body;
  return std::nullopt;
}

Request auth_request(const std::string& method, const std::string& what, const std::string& name,
                     std::optional<std::string> body) {
  Request r;
  r.method = method;
  r.path = canonical_path("/v2/auth/" + what + (name.empty() ? "" : "/" + name));
  if (r.path.size() > 1 && r.path.back() == '/') r.path.pop_back();
  r.body = std::move(body);
  if (r.body) r.content_type = "application/json";
  return r;
}

int auth_enable_disable(Context& c, bool enable) {
  if (!c.args.empty()) fail("No arguments accepted");
  auto hc = must_client(c);
  if (c.global_bool("debug")) {
    std::cerr << "Cluster-Endpoints: " << join(hc->endpoints(), ", ") << "\n";
  }
  std::string body;
  if (auto e = auth_call(*hc, auth_request(enable ? "PUT" : "DELETE", "enable", "", std::nullopt),
                         total_deadline(c), {200, 201}, &body)) {
    fail(*e);
  }
  std::cout << (enable ? "Authentication Enabled\n" : "Authentication Disabled\n");
  return 0;
}

std::unique_ptr<Client> auth_client(const Context& c) {
  auto hc = must_client(c);
  if (c.global_bool("debug")) {
    std::cerr << "Cluster-Endpoints: " << join(hc->endpoints(), ", ") << "\n";
  }
  return hc;
}

std::string names_of(const std::string& body, const char* list, const char* field) {
  std::string out;
  auto j = nlohmann::json::parse(body);
  if (j.contains(list) && j[list].is_array()) {
    for (const auto& e : j[list]) {
      if (e.is_object() && e.contains(field) && e[field].is_string()) {
        out += e[field].get<std::string>() + "\n";
      }
    }
  }
  return out;
}

int user_list(Context& c) {
  if (!c.args.empty()) fail("No arguments accepted");
  auto hc = auth_client(c);
  std::string body;
  if (auto e = auth_call(*hc, auth_request("GET", "users", "", std::nullopt), total_deadline(c),
                         {200}, &body)) {
    fail(*e);
  }
  std::cout << names_of(body, "users", "user");
  return 0;
}

std::string user_name(Context& c) {
  if (c.args.size() != 1) fail("Please provide a username");
  return c.args[0];
}

int user_add(Context& c) {
  const std::string arg = user_name(c);
  auto hc = auth_client(c);
  const std::string user = arg.substr(0, arg.find(':'));
  const std::string pass = user_password("New password: ", arg).second;
  std::string body;
  const std::string req = "{\"user\":" + go_json_string(user) +
                          (pass.empty() ? "" : ",\"password\":" + go_json_string(pass)) +
                          ",\"roles\":null}";
  if (auto e = auth_call(*hc, auth_request("PUT", "users", user, req), total_deadline(c),
                         {200, 201}, &body)) {
    fail(*e);
  }
  std::cout << "User " << user << " created\n";
  return 0;
}

int user_remove(Context& c) {
  const std::string user = user_name(c);
  auto hc = auth_client(c);
  std::string body;
  if (auto e = auth_call(*hc, auth_request("DELETE", "users", user, std::nullopt),
                         total_deadline(c), {200, 201}, &body)) {
    fail(*e);
  }
  std::cout << "User " << user << " removed\n";
  return 0;
}

std::string quoted_list(const std::vector<std::string>& v) {
  if (v.empty()) return "null";
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + go_json_string(v[i]);
  return s + "]";
}

int user_passwd(Context& c) {
  const std::string user = user_name(c);
  auto hc = auth_client(c);
  const std::string pass = ask_password("New password: ");
  std::string body;
  const std::string req = "{\"user\":" + go_json_string(user) +
                          (pass.empty() ? "" : ",\"password\":" + go_json_string(pass)) +
                          ",\"roles\":null}";
  if (auto e = auth_call(*hc, auth_request("PUT", "users", user, req), total_deadline(c), {200},
                         &body)) {
    fail(*e);
  }
  std::cout << "Password updated\n";
  return 0;
}

int user_grant_revoke(Context& c, bool grant) {
  const auto roles = c.flag_slice("roles");
  if (roles.empty()) fail("No roles specified; please use `--roles`");
  const std::string user = user_name(c);
  auto hc = auth_client(c);
  std::string body;
  const std::string req = "{\"user\":" + go_json_string(user) + ",\"roles\":null,\"" +
                          (grant ? "grant" : "revoke") + "\":" + quoted_list(roles) + "}";
  if (auto e = auth_call(*hc, auth_request("PUT", "users", user, req), total_deadline(c), {200},
                         &body)) {
    fail(*e);
  }
  std::cout << "User " << user << " updated\n";
  return 0;
}

int user_get(Context& c) {
  const std::string user = user_name(c);
  auto hc = auth_client(c);
  std::string body;
  if (auto e = auth_call(*hc, auth_request("GET", "users", user, std::nullopt), total_deadline(c),
                         {200}, &body)) {
    fail(*e);
  }
  std::vector<std::string> roles;
  std::string name;
  try {
    auto j = nlohmann::json::parse(body);
    if (j.contains("user") && j["user"].is_string()) name = j["user"];
    if (j.contains("roles") && j["roles"].is_array()) {
      // The Go client decodes the roles as strings first; when the server
      // sends role objects that fails, leaving one "" per role, and the
      // role names are then appended to those.
      bool objects = false;
      for (const auto& r : j["roles"]) objects = objects || !r.is_string();
      for (const auto& r : j["roles"]) roles.push_back(r.is_string() && !objects ? r : "");
      if (objects) {
        for (const auto& r : j["roles"]) {
          roles.push_back(r.is_object() && r.contains("role") && r["role"].is_string()
                              ? r["role"].get<std::string>()
                              : "");
        }
      }
    }
  } catch (const std::exception& e) {
    fail(e.what());
  }
  std::cout << "User: " << name << "\nRoles: " << join(roles, " ") << "\n";
  return 0;
}

std::string role_name(Context& c) {
  if (c.args.size() != 1) fail("Please provide a role name");
  return c.args[0];
}

int role_list(Context& c) {
  if (!c.args.empty()) fail("No arguments accepted");
  auto hc = auth_client(c);
  Response http;
  if (auto e = hc->call(auth_request("GET", "roles", "", std::nullopt), total_deadline(c), false,
                        http)) {
    fail(e->text);
  }
  if (http.status != 200) fail("unexpected status code " + std::to_string(http.status));
  std::cout << names_of(http.body, "roles", "role");
  return 0;
}

int role_add(Context& c) {
  const std::string role = role_name(c);
  auto hc = auth_client(c);
  const Deadline d = total_deadline(c);
  std::string body;
  if (!auth_call(*hc, auth_request("GET", "roles", role, std::nullopt), d, {200}, &body)) {
    std::cerr << "Role " << role << " already exists\n";
    go_exit(1);
  }
  const std::string req = "{\"role\":" + go_json_string(role) +
                          ",\"permissions\":{\"kv\":{\"read\":null,\"write\":null}}}";
  if (auto e = auth_call(*hc, auth_request("PUT", "roles", role, req), d, {200, 201}, &body)) {
    fail(*e);
  }
  std::cout << "Role " << role << " created\n";
  return 0;
}

int role_remove(Context& c) {
  const std::string role = role_name(c);
  auto hc = auth_client(c);
  std::string body;
  if (auto e = auth_call(*hc, auth_request("DELETE", "roles", role, std::nullopt),
                         total_deadline(c), {200, 201}, &body)) {
    fail(*e);
  }
  std::cout << "Role " << role << " removed\n";
  return 0;
}

int role_grant_revoke(Context& c, bool grant) {
  const std::string path = c.flag_string("path");
  if (path.empty()) fail("No path specified; please use `--path`");
  if (canonical_path(path) != path) {
    fail("Not canonical path; please use `--path=" + canonical_path(path) + "`");
  }
  const bool read = c.flag_bool("read"), write = c.flag_bool("write"),
             rw = c.flag_bool("readwrite");
  if (int(read) + int(write) + int(rw) != 1) {
    fail("Please specify exactly one of --read, --write or --readwrite");
  }
  const std::string role = role_name(c);
  auto hc = auth_client(c);
  const Deadline d = total_deadline(c);
  std::string before;
  if (auto e =
          auth_call(*hc, auth_request("GET", "roles", role, std::nullopt), d, {200}, &before)) {
    fail(*e);
  }
  const std::string paths = quoted_list({path});
  const std::string kv = "{\"kv\":{\"read\":" + std::string(read || rw ? paths : "null") +
                         ",\"write\":" + (write || rw ? paths : "null") + "}}";
  const std::string req = "{\"role\":" + go_json_string(role) +
                          ",\"permissions\":{\"kv\":{\"read\":null,\"write\":null}},\"" +
                          (grant ? "grant" : "revoke") + "\":" + kv + "}";
  std::string after;
  if (auto e = auth_call(*hc, auth_request("PUT", "roles", role, req), d, {200}, &after)) {
    fail(*e);
  }
  try {
    if (nlohmann::json::parse(before) == nlohmann::json::parse(after)) {
      std::cout << (grant ? "Role unchanged; already granted" : "Role unchanged; already revoked");
    }
  } catch (const std::exception&) {
  }
  std::cout << "Role " << role << " updated\n";
  return 0;
}

int role_get(Context& c) {
  const std::string role = role_name(c);
  auto hc = auth_client(c);
  std::string body;
  if (auto e = auth_call(*hc, auth_request("GET", "roles", role, std::nullopt), total_deadline(c),
                         {200}, &body)) {
    fail(*e);
  }
  std::string name;
  std::vector<std::string> rd, wr;
  try {
    auto j = nlohmann::json::parse(body);
    if (j.contains("role") && j["role"].is_string()) name = j["role"];
    auto kv =
        j.value("permissions", nlohmann::json::object()).value("kv", nlohmann::json::object());
    for (const char* k : {"read", "write"}) {
      if (kv.contains(k) && kv[k].is_array()) {
        for (const auto& p : kv[k]) (std::string(k) == "read" ? rd : wr).push_back(p);
      }
    }
  } catch (const std::exception& e) {
    fail(e.what());
  }
  std::cout << "Role: " << name << "\nKV Read:\n";
  for (const auto& p : rd) std::cout << "\t" << p << "\n";
  std::cout << "KV Write:\n";
  for (const auto& p : wr) std::cout << "\t" << p << "\n";
  return 0;
}

// --- the table ---

FlagDef bool_flag(std::string name, std::string usage) {
  return {FlagType::kBool, std::move(name), std::move(usage), ""};
}
FlagDef int_flag(std::string name, std::string usage) {
  return {FlagType::kInt, std::move(name), std::move(usage), "0"};
}
FlagDef string_flag(std::string name, std::string usage) {
  return {FlagType::kString, std::move(name), std::move(usage), ""};
}

CommandDef leaf(std::string name, std::string usage, std::string args_usage, Action a,
                std::vector<FlagDef> flags = {}) {
  CommandDef c;
  c.name = std::move(name);
  c.usage = std::move(usage);
  c.args_usage = std::move(args_usage);
  c.action = std::move(a);
  c.flags = std::move(flags);
  return c;
}

CommandDef group(std::string name, std::string usage, std::vector<CommandDef> subs) {
  CommandDef c;
  c.name = std::move(name);
  c.usage = std::move(usage);
  c.subcommands = std::move(subs);
  return c;
}

CommandDef backup_entry() {
  // The flags of etcdctl 3.4's backup, so that its help reads the same.
  CommandDef c = leaf("backup", "backup an etcd directory", " ",
                      [](Context&) {
                        std::cerr << "backup is not available in this build\n";
                        return 1;
                      },
                      {string_flag("data-dir", "Path to the etcd data dir"),
                       string_flag("wal-dir", "Path to the etcd wal dir"),
                       string_flag("backup-dir", "Path to the backup dir"),
                       string_flag("backup-wal-dir", "Path to the backup wal dir"),
                       bool_flag("with-v3", "Backup v3 backend data")});
  if (backup_runner()) c.raw_action = backup_runner();
  return c;
}

}  // namespace

void register_backup_runner(BackupRunner run) { backup_runner() = std::move(run); }

std::string format_response(const KeysResponse& r, const std::string& format, std::string* err) {
  const Node node = r.node.value_or(Node{});
  std::string out;
  if (format == "simple") {
    if (r.action != "delete") {
      out = node.value + "\n";
    } else {
      out = "PrevNode.Value: " + (r.prev_node ? r.prev_node->value : "") + "\n";
    }
  } else if (format == "extended") {
    out = "Key: " + node.key + "\nCreated-Index: " + std::to_string(node.created_index) +
          "\nModified-Index: " + std::to_string(node.modified_index) + "\n";
    if (r.prev_node) out += "PrevNode.Value: " + r.prev_node->value + "\n";
    out += "TTL: " + std::to_string(node.ttl) + "\nIndex: " + std::to_string(r.index) + "\n";
    if (r.action != "delete") out += "\n" + node.value + "\n";
  } else if (format == "json") {
    out = response_json(r) + "\n";
  } else if (err) {
    *err = "Unsupported output format: " + format + "\n";
  }
  return out;
}

std::vector<CommandDef> command_table() {
  const FlagDef ttl = int_flag("ttl", "key time-to-live in seconds");
  std::vector<CommandDef> t;
  t.push_back(backup_entry());
  t.push_back(
      leaf("cluster-health", "check the health of the etcd cluster", " ", cluster_health,
           {bool_flag("forever, f", "forever check the health every 10 second until CTRL+C")}));
  t.push_back(leaf("mk", "make a new key with a given value", "<key> <value>", mk_command,
                   {bool_flag("in-order", "create in-order key under directory <key>"), ttl}));
  t.push_back(leaf("mkdir", "make a new directory", "<key>",
                   [](Context& c) { return dir_command(c, "false"); }, {ttl}));
  t.push_back(leaf(
      "rm", "remove a key or a directory", "<key>",
      [](Context& c) {
        return rm_like(c, c.flag_bool("dir"), c.flag_bool("recursive"), c.flag_string("with-value"),
                       static_cast<uint64_t>(c.flag_int("with-index")));
      },
      {bool_flag("dir", "removes the key if it is an empty directory or a key-value pair"),
       bool_flag("recursive, r", "removes the key and all child keys(if it is a directory)"),
       string_flag("with-value", "previous value"), int_flag("with-index", "previous index")}));
  t.push_back(leaf("rmdir", "removes the key if it is an empty directory or a key-value pair",
                   "<key>", [](Context& c) { return rm_like(c, true, false, "", 0); }));
  t.push_back(leaf("get", "retrieve the value of a key", "<key>", get_command,
                   {bool_flag("sort", "returns result in sorted order"),
                    bool_flag("quorum, q", "require quorum for get request")}));
  t.push_back(
      leaf("ls", "retrieve a directory", "[key]", ls_command,
           {bool_flag("sort", "returns result in sorted order"),
            bool_flag("recursive, r", "returns all key names recursively for the given path"),
            bool_flag("p", "append slash (/) to directories"),
            bool_flag("quorum, q", "require quorum for get request")}));
  CommandDef set = leaf("set", "set the value of a key", "<key> <value>",
                        [](Context& c) { return set_like(c, "", true); },
                        {ttl, string_flag("swap-with-value", "previous value"),
                         int_flag("swap-with-index", "previous index")});
  set.description =
      "Set sets the value of a key.\n\n   When <value> begins with '-', <value> is interpreted as "
      "a flag.\n   Insert '--' for workaround:\n\n   $ set -- <key> <value>";
  t.push_back(set);
  t.push_back(leaf("setdir", "create a new directory or update an existing directory TTL", "<key>",
                   [](Context& c) { return dir_command(c, ""); }, {ttl}));
  t.push_back(leaf("update", "update an existing key with a given value", "<key> <value>",
                   [](Context& c) { return set_like(c, "true", false); }, {ttl}));
  t.push_back(leaf("updatedir", "update an existing directory", "<key> <value>",
                   [](Context& c) { return dir_command(c, "true"); }, {ttl}));
  t.push_back(leaf("watch", "watch a key for changes", "<key>", watch_command,
                   {bool_flag("forever, f", "forever watch a key until CTRL+C"),
                    int_flag("after-index", "watch after the given index"),
                    bool_flag("recursive, r", "returns all values for key and child keys")}));
  t.push_back(leaf("exec-watch", "watch a key for changes and exec an executable",
                   "<key> <command> [args...]", exec_watch_command,
                   {int_flag("after-index", "watch after the given index"),
                    bool_flag("recursive, r", "watch all values for key and child keys")}));
  t.push_back(
      group("member", "member add, remove and list subcommands",
            {leaf("list", "enumerate existing cluster members", " ", member_list),
             leaf("add", "add a new member to the etcd cluster", "<name> <peerURL>", member_add),
             leaf("remove", "remove an existing member from the etcd cluster", "<memberID>",
                  member_remove),
             leaf("update", "update an existing member in the etcd cluster",
                  "<memberID> <peerURLs>", member_update)}));
  const FlagDef roles{FlagType::kStringSlice, "roles", "List of roles to grant or revoke", ""};
  t.push_back(group("user", "user add, grant and revoke subcommands",
                    {leaf("add", "add a new user for the etcd cluster", "<user>", user_add),
                     leaf("get", "get details for a user", "<user>", user_get),
                     leaf("list", "list all current users", "<user>", user_list),
                     leaf("remove", "remove a user for the etcd cluster", "<user>", user_remove),
                     leaf("grant", "grant roles to an etcd user", "<user>",
                          [](Context& c) { return user_grant_revoke(c, true); }, {roles}),
                     leaf("revoke", "revoke roles for an etcd user", "<user>",
                          [](Context& c) { return user_grant_revoke(c, false); }, {roles}),
                     leaf("passwd", "change password for a user", "<user>", user_passwd)}));
  t.push_back(group(
      "role", "role add, grant and revoke subcommands",
      {leaf("add", "add a new role for the etcd cluster", "<role> ", role_add),
       leaf("get", "get details for a role", "<role>", role_get),
       leaf("list", "list all roles", " ", role_list),
       leaf("remove", "remove a role from the etcd cluster", "<role>", role_remove),
       leaf("grant", "grant path matches to an etcd role", "<role>",
            [](Context& c) { return role_grant_revoke(c, true); },
            {string_flag("path", "Path granted for the role to access"),
             bool_flag("read", "Grant read-only access"),
             bool_flag("write", "Grant write-only access"),
             bool_flag("readwrite, rw", "Grant read-write access")}),
       leaf("revoke", "revoke path matches for an etcd role", "<role>",
            [](Context& c) { return role_grant_revoke(c, false); },
            {string_flag("path", "Path revoked for the role to access"),
             bool_flag("read", "Revoke read access"), bool_flag("write", "Revoke write access"),
             bool_flag("readwrite, rw", "Revoke read-write access")})}));
  t.push_back(group("auth", "overall auth controls",
                    {leaf("enable", "enable auth access controls", " ",
                          [](Context& c) { return auth_enable_disable(c, true); }),
                     leaf("disable", "disable auth access controls", " ",
                          [](Context& c) { return auth_enable_disable(c, false); })}));
  return t;
}

int run_ctlv2(const std::vector<std::string>& args) {
  AppDef app;
  app.usage = "A simple command line client for etcd.";
  app.version = kEtcdVersion;
  app.flags = {
      bool_flag("debug", "output cURL commands which can be used to reproduce the request"),
      bool_flag("no-sync", "don't synchronize cluster information before sending request"),
      {FlagType::kString, "output, o",
       "output response in the given format (`simple`, `extended` or `json`)", "simple"},
      string_flag("discovery-srv, D",
                  "domain name to query for SRV records describing cluster endpoints"),
      bool_flag("insecure-discovery", "accept insecure SRV records describing cluster endpoints"),
      string_flag("peers, C", "DEPRECATED - \"--endpoints\" should be used instead"),
      string_flag("endpoint", "DEPRECATED - \"--endpoints\" should be used instead"),
      string_flag("endpoints",
                  "a comma-delimited list of machine addresses in the cluster (default: "
                  "\"http://127.0.0.1:2379,http://127.0.0.1:4001\")"),
      string_flag("cert-file", "identify HTTPS client using this SSL certificate file"),
      string_flag("key-file", "identify HTTPS client using this SSL key file"),
      string_flag("ca-file", "verify certificates of HTTPS-enabled servers using this CA bundle"),
      string_flag("username, u",
                  "provide username[:password] and prompt if password is not supplied."),
      {FlagType::kDuration, "timeout", "connection timeout per request", "2s"},
      {FlagType::kDuration, "total-timeout", "timeout for the command execution (except watch)",
       "5s"},
  };
  app.commands = command_table();
  const int code = run_app(std::move(app), args);
  std::cout.flush();
  return code;
}

}  // namespace etcd::ctl::v2
