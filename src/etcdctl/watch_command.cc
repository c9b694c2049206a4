// watch, as etcd 3.5's etcdctl has it: one watch from the command line or
// many from `watch ...` lines on stdin (-i), printed in every output format,
// optionally running a command for each event (docs/etcdctl.md).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "client/watcher.h"
#include "etcdctl/cluster_util.h"
#include "etcdctl/global.h"
#include "etcdctl/kv_parse.h"
#include "etcdctl/output/go_json.h"
#include "etcdctl/output/quote.h"
#include "etcdctl/printer.h"
#include "etcdctl/watch_args.h"

extern char** environ;

namespace etcd::ctl {

// ---- argument handling (watch_args.h) ----

namespace {

const char kBadArgsNum[] = "bad number of arguments";
const char kBadArgsConflictEnv[] = "bad number of arguments (found conflicting environment key)";
const char kBadArgsSeparator[] = "bad number of arguments (found separator --, but no commands)";

size_t index_of(const std::vector<std::string>& v, const std::string& s) {
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == s) return i;
  }
  return SIZE_MAX;
}

// Drops the watch arguments from the first exec argument on: cobra hands
// the words after "--" to the command together with the others.
std::string cut_exec_args(WatchArgs& out) {
  if (out.exec_args.empty()) return "";
  size_t end = SIZE_MAX;
  for (size_t i = out.watch_args.size(); i-- > 0;) {
    if (out.watch_args[i] == out.exec_args[0]) {
      end = i;
      break;
    }
  }
  if (end == SIZE_MAX) return "runtime error: slice bounds out of range [:-1]";
  out.watch_args.resize(end);
  return "";
}

void prepend_env(WatchArgs& out, const std::string& env_key, const std::string& env_range) {
  if (env_key.empty()) return;
  std::vector<std::string> ranges{env_key};
  if (!env_range.empty()) ranges.push_back(env_range);
  out.watch_args.insert(out.watch_args.begin(), ranges.begin(), ranges.end());
}

}  // namespace

void add_watch_flags(Command& cmd) {
  FlagSet& f = cmd.flags();
  f.add(FlagKind::kBool, "interactive", "i", "false", "Interactive mode");
  f.add(FlagKind::kBool, "prefix", "", "false", "Watch on a prefix if prefix is set");
  f.add(FlagKind::kInt, "rev", "", "0", "Revision to start watching");
  f.add(FlagKind::kBool, "prev-kv", "", "false",
        "get the previous key-value pair before the event happens");
  f.add(FlagKind::kBool, "progress-notify", "", "false",
        "get periodic watch progress notification from server");
}

WatchOptions watch_options_from(const Invocation& inv) {
  WatchOptions o;
  o.prefix = inv.get_bool("prefix");
  o.rev = inv.get_int("rev");
  o.prev_kv = inv.get_bool("prev-kv");
  o.progress_notify = inv.get_bool("progress-notify");
  return o;
}

WatchArgs parse_watch_args(const std::vector<std::string>& raw_args,
                           const std::vector<std::string>& command_args, const std::string& env_key,
                           const std::string& env_range) {
  WatchArgs out;
  // The words after "watch" on the command line, flags included.
  std::vector<std::string> raw = raw_args;
  if (size_t w = index_of(raw, "watch"); w != SIZE_MAX) {
    raw.erase(raw.begin(), raw.begin() + static_cast<std::ptrdiff_t>(w) + 1);
  } else {
    raw.insert(raw.begin(), "etcdctl");  // os.Args keeps the program name
  }
  out.watch_args = command_args;
  const size_t exec_at = index_of(raw, "--");
  const bool has_exec = exec_at != SIZE_MAX;
  if (has_exec && exec_at == raw.size() - 1) {
    out.error = kBadArgsSeparator;
    return out;
  }
  if (!has_exec && raw.empty() && env_key.empty()) {
    out.error = kBadArgsNum;
    return out;
  }
  if (has_exec && !env_key.empty()) {
    // A key given both ways: some watch argument before "--" besides the
    // exec words. Walk both lists from the end.
    size_t r = raw.size() - 1;
    for (size_t w = out.watch_args.size(); w-- > 0;) {
      if (r != SIZE_MAX && out.watch_args[w] == raw[r]) {
        --r;
        continue;
      }
      if (r == exec_at) {
        out.error = kBadArgsConflictEnv;
        return out;
      }
    }
  }
  if (!has_exec && !out.watch_args.empty() && !env_key.empty()) {
    out.error = kBadArgsConflictEnv;
    return out;
  }
  if (has_exec)
    out.exec_args.assign(raw.begin() + static_cast<std::ptrdiff_t>(exec_at) + 1, raw.end());
  prepend_env(out, env_key, env_range);
  if (std::string p = cut_exec_args(out); !p.empty()) out.panic = p;
  return out;
}

WatchArgs parse_interactive_watch_args(const std::vector<std::string>& line_args,
                                       const std::string& env_key, const std::string& env_range) {
  WatchArgs out;
  if (line_args.empty() || line_args[0] != "watch") {
    out.error = "args[0] must be 'watch' for interactive calls";
    return out;
  }
  const std::vector<std::string> words(line_args.begin() + 1, line_args.end());
  const size_t exec_at = index_of(words, "--");
  const bool has_exec = exec_at != SIZE_MAX;
  if (has_exec && exec_at == words.size() - 1) {
    out.error = kBadArgsSeparator;
    return out;
  }
  Command cmd("watch", "");
  add_watch_flags(cmd);
  Invocation inv;
  inv.cmd = &cmd;
  if (std::string err = cmd.parse(words, inv); !err.empty()) {
    out.error = err;
    return out;
  }
  for (const auto& a : inv.args) {
    if (a == "\x01help") {
      out.error = "pflag: help requested";
      return out;
    }
  }
  if (!has_exec && env_key.empty() && inv.args.empty()) {
    out.error = kBadArgsNum;
    return out;
  }
  if (!has_exec && !inv.args.empty() && !env_key.empty()) {
    out.error = kBadArgsConflictEnv;
    return out;
  }
  if (has_exec) {
    out.exec_args.assign(words.begin() + static_cast<std::ptrdiff_t>(exec_at) + 1, words.end());
  }
  out.watch_args = inv.args;
  out.options = watch_options_from(inv);
  prepend_env(out, env_key, env_range);
  if (std::string p = cut_exec_args(out); !p.empty()) out.panic = p;
  return out;
}

std::string watch_request(const std::vector<std::string>& args, const WatchOptions& o,
                          etcdserverpb::WatchCreateRequest* req) {
  if (args.empty()) return kBadArgsNum;
  std::string key = args[0];
  std::string end;
  if (args.size() == 2) {
    if (o.prefix) return "`range_end` and `--prefix` are mutually exclusive";
    end = args[1];
  }
  if (o.prefix) {
    if (key.empty()) {
      key = end = std::string(1, '\0');
    } else {
      end = key;
      while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
      if (end.empty()) {
        end = std::string(1, '\0');
      } else {
        end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      }
    }
  }
  req->set_key(key);
  req->set_range_end(end);
  req->set_start_revision(o.rev);
  req->set_prev_kv(o.prev_kv);
  req->set_progress_notify(o.progress_notify);
  return "";
}

std::string go_quote_list(const std::vector<std::string>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? " " : "") + go_quote(v[i]);
  return s + "]";
}

// ---- running ----

namespace {

// Output lines of concurrent watches (-i) stay whole.
std::mutex& print_mu() {
  static std::mutex mu;
  return mu;
}

// Ends the process now (watch threads may still run): etcdctl's
// ExitWithError.
[[noreturn]] void exit_now(int code, const std::string& message) {
  std::cout.flush();
  std::cerr << "Error: " << message << "\n" << std::flush;
  std::_Exit(code);
}

std::string errno_text(int err) {
  std::string s = std::strerror(err);
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

std::string signal_text(int sig) {
  static const std::map<int, std::string> kNames = {{SIGHUP, "hangup"},
                                                    {SIGINT, "interrupt"},
                                                    {SIGQUIT, "quit"},
                                                    {SIGILL, "illegal instruction"},
                                                    {SIGABRT, "aborted"},
                                                    {SIGBUS, "bus error"},
                                                    {SIGFPE, "floating point exception"},
                                                    {SIGKILL, "killed"},
                                                    {SIGSEGV, "segmentation fault"},
                                                    {SIGPIPE, "broken pipe"},
                                                    {SIGALRM, "alarm clock"},
                                                    {SIGTERM, "terminated"},
                                                    {SIGUSR1, "user defined signal 1"},
                                                    {SIGUSR2, "user defined signal 2"}};
  auto it = kNames.find(sig);
  return it != kNames.end() ? it->second : "signal " + std::to_string(sig);
}

// Where exec.Command finds `name`: as given with a slash, else on $PATH.
std::string look_path(const std::string& name, std::string* err) {
  auto executable = [](const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && !S_ISDIR(st.st_mode) && (st.st_mode & 0111);
  };
  if (name.find('/') != std::string::npos) return name;
  const char* path_env = std::getenv("PATH");
  std::string path = path_env ? path_env : "";
  size_t start = 0;
  while (true) {
    const size_t colon = path.find(':', start);
    std::string dir =
        path.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    if (dir.empty()) dir = ".";
    const std::string p = dir + "/" + name;
    if (executable(p)) return p;
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  *err = "exec: " + go_quote(name) + ": executable file not found in $PATH";
  return "";
}

// Runs `argv` with the environment plus `extra` (later entries win, as Go's
// exec dedups), stdout and stderr shared; "" or Go's error text.
std::string run_command(const std::vector<std::string>& argv,
                        const std::vector<std::string>& extra) {
  std::string err;
  const std::string path = look_path(argv[0], &err);
  if (path.empty()) return err;
  std::vector<std::string> env;
  std::map<std::string, size_t> at;
  auto put = [&](const std::string& kv) {
    const std::string key = kv.substr(0, kv.find('='));
    if (auto it = at.find(key); it != at.end()) {
      env[it->second] = kv;
    } else {
      at[key] = env.size();
      env.push_back(kv);
    }
  };
  for (char** e = environ; *e; ++e) put(*e);
  for (const auto& kv : extra) put(kv);
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& kv : env) cenv.push_back(const_cast<char*>(kv.c_str()));
  cenv.push_back(nullptr);
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return "pipe: " + errno_text(errno);
  std::cout.flush();
  const pid_t pid = ::fork();
  if (pid < 0) return "fork/exec " + path + ": " + errno_text(errno);
  if (pid == 0) {
    ::close(report[0]);
    ::execve(path.c_str(), cargv.data(), cenv.data());
    const int e = errno;
    (void)!::write(report[1], &e, sizeof e);
    ::_exit(127);
  }
  ::close(report[1]);
  int exec_errno = 0;
  const ssize_t n = ::read(report[0], &exec_errno, sizeof exec_errno);
  ::close(report[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (n == static_cast<ssize_t>(sizeof exec_errno)) {
    return "fork/exec " + path + ": " + errno_text(exec_errno);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    return "exit status " + std::to_string(WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) return "signal: " + signal_text(WTERMSIG(status));
  return "";
}

std::string event_type_name(mvccpb::Event::EventType t) {
  return t == mvccpb::Event::DELETE ? "DELETE" : "PUT";
}

// What clientv3 hands etcdctl for one watch response.
struct Delivered {
  etcdserverpb::WatchResponse resp;
  bool synthetic = false;  // made by the client (a failed watch), no events slice
  std::string error;       // resp.Err(): set for a canceled watch
};

void print_delivered(const Display& d, const Delivered& w) {
  const auto& r = w.resp;
  switch (d.format) {
    case OutputFormat::kSimple:
      for (const auto& e : r.events()) {
        std::cout << event_type_name(e.type()) << "\n";
        if (e.has_prev_kv()) print_kv(d, e.prev_kv());
        print_kv(d, e.kv());
      }
      return;
    case OutputFormat::kFields:
      print_header_fields(r.header());
      for (const auto& e : r.events()) {
        std::cout << "\"Type\" : " << event_type_name(e.type()) << "\n";
        if (e.has_prev_kv()) print_kv_fields("Prev", e.prev_kv());
        print_kv_fields("", e.kv());
      }
      return;
    case OutputFormat::kJson: {
      // clientv3.WatchResponse: a plain Go struct, no json tags.
      std::string events = "null";
      if (!w.synthetic) {
        events = "[";
        for (int i = 0; i < r.events_size(); ++i) {
          events += (i ? "," : "") + go_json(r.events(i));
        }
        events += "]";
      }
      GoJsonObject o;
      o.message("Header", r.header())
          .raw("Events", events)
          .int64("CompactRevision", r.compact_revision())
          .boolean("Canceled", r.canceled())
          .boolean("Created", r.created());
      std::cout << o.str() << "\n";
      return;
    }
    case OutputFormat::kProtobuf: {
      etcdserverpb::WatchResponse pb;
      *pb.mutable_header() = r.header();
      *pb.mutable_events() = r.events();
      pb.set_compact_revision(r.compact_revision());
      pb.set_canceled(r.canceled());
      pb.set_created(r.created());
      print_protobuf(pb);
      return;
    }
    case OutputFormat::kTable:
      exit_now(kExitBadFeature, "table not supported as output format");
  }
}

bool is_progress_notify(const Delivered& w) {
  const auto& r = w.resp;
  return r.events().empty() && !r.canceled() && !r.created() && r.compact_revision() == 0 &&
         r.header().revision() != 0;
}

// One watch until it ends: prints each response as etcdctl's printWatchCh
// does and runs `exec_args` per event.
void watch_and_print(client::Client& c, client::Watcher& watcher, const Display& d,
                     const std::vector<std::string>& exec_args) {
  auto deliver = [&](const Delivered& w) {
    {
      std::lock_guard<std::mutex> l(print_mu());
      if (w.resp.canceled()) {
        std::cout.flush();
        std::cerr << "watch was canceled (" << w.error << ")\n" << std::flush;
      }
      if (is_progress_notify(w)) {
        std::cout << "progress notify: " << w.resp.header().revision() << "\n";
      }
      print_delivered(d, w);
      std::cout.flush();
    }
    if (exec_args.empty()) return;
    for (const auto& ev : w.resp.events()) {
      std::vector<std::string> env{
          "ETCD_WATCH_REVISION=" + std::to_string(w.resp.header().revision()),
          "ETCD_WATCH_EVENT_TYPE=" + go_quote(event_type_name(ev.type())),
          "ETCD_WATCH_KEY=" + go_quote(ev.kv().key()),
          "ETCD_WATCH_VALUE=" + go_quote(ev.kv().value())};
      if (std::string err = run_command(exec_args, env); !err.empty()) {
        std::cout.flush();
        std::cerr << "command " << go_quote_list(exec_args) << " error (" << err << ")\n"
                  << std::flush;
        std::_Exit(kExitError);
      }
    }
  };
  while (true) {
    bool ended = false;
    grpc::Status s = watcher.run([&](const etcdserverpb::WatchResponse& r) {
      if (r.created()) {
        // clientv3 keeps the created response to itself; a watch the
        // server refused comes back as a canceled response with the reason.
        if (r.canceled() && !r.cancel_reason().empty()) {
          Delivered w;
          w.synthetic = true;
          w.resp.set_canceled(true);
          w.error = r.cancel_reason();
          deliver(w);
          ended = true;
          return false;
        }
        return true;
      }
      if (r.canceled() && r.compact_revision() == 0) {
        ended = true;  // the channel closes without a word
        return false;
      }
      Delivered w;
      w.resp = r;
      if (r.compact_revision() != 0) {
        w.error = "etcdserver: mvcc: required revision has been compacted";
      } else if (r.canceled()) {
        w.error = r.cancel_reason().empty()
                      ? "etcdserver: mvcc: required revision is a future revision"
                      : r.cancel_reason();
      }
      deliver(w);
      if (r.canceled()) {
        ended = true;
        return false;
      }
      return true;
    });
    if (ended) return;
    if (s.ok()) return;
    const auto code = s.error_code();
    if (code == grpc::StatusCode::DEADLINE_EXCEEDED || code == grpc::StatusCode::UNAVAILABLE) {
      // No endpoint for now: clientv3 keeps trying, so does etcdctl.
      continue;
    }
    // The server ended the stream with an error: a last canceled response.
    Delivered w;
    w.synthetic = true;
    w.resp.set_canceled(true);
    w.error = go_error_string(s);
    deliver(w);
    return;
  }
  (void)c;
}

std::string getenv_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

void run_interactive(const Invocation& inv, const std::string& env_key,
                     const std::string& env_range) {
  auto c = must_client(inv);
  const Display d = display_from(inv);
  StdinReader in;
  std::mutex watchers_mu;
  std::vector<client::Watcher*> watchers;  // live for the process's life
  std::string line;
  while (true) {
    if (!in.read_line(line)) {
      exit_now(kExitInvalidInput, "Error reading watch request line: EOF");
    }
    if (!line.empty() && line.back() == '\n') line.pop_back();
    ArgifyResult a;
    try {
      a = argify(line);
    } catch (const GoPanic& p) {
      go_panic(p.message);
    }
    if (!a.error.empty()) exit_now(kExitInvalidInput, a.error);
    if (a.args.empty()) {
      std::cerr << "Invalid command: " << line << " (watch and progress supported)\n";
      continue;
    }
    if (a.args[0] == "watch") {
      if (a.args.size() < 2 && env_key.empty()) {
        std::cerr << "Invalid command " << line << " (command type or key is not provided)\n";
        continue;
      }
      WatchArgs w = parse_interactive_watch_args(a.args, env_key, env_range);
      if (!w.error.empty()) exit_now(kExitBadArgs, w.error);
      if (!w.panic.empty()) go_panic(w.panic);
      etcdserverpb::WatchCreateRequest req;
      if (std::string err = watch_request(w.watch_args, w.options, &req); !err.empty()) {
        std::cerr << "Invalid command " << line << " (" << err << ")\n";
        continue;
      }
      auto* watcher = new client::Watcher(*c, req);
      {
        std::lock_guard<std::mutex> l(watchers_mu);
        watchers.push_back(watcher);
      }
      std::thread([&c, watcher, d, exec = w.exec_args] {
        watch_and_print(*c, *watcher, d, exec);
      }).detach();
    } else if (a.args[0] == "progress") {
      std::lock_guard<std::mutex> l(watchers_mu);
      for (auto* w : watchers) w->request_progress();
    } else {
      std::cerr << "Invalid command " << line << " (only support watch)\n";
    }
  }
}

void run_watch(Invocation& inv) {
  const std::string env_key = getenv_or_empty("ETCDCTL_WATCH_KEY");
  const std::string env_range = getenv_or_empty("ETCDCTL_WATCH_RANGE_END");
  if (env_key.empty() && !env_range.empty()) {
    exit_with_error(kExitBadArgs, "ETCDCTL_WATCH_KEY is empty but got ETCDCTL_WATCH_RANGE_END=" +
                                      go_quote(env_range));
  }
  if (inv.get_bool("interactive")) {
    run_interactive(inv, env_key, env_range);
    return;
  }
  WatchArgs w = parse_watch_args(inv.raw_args, inv.args, env_key, env_range);
  if (!w.error.empty()) exit_with_error(kExitBadArgs, w.error);
  if (!w.panic.empty()) go_panic(w.panic);
  auto c = must_client(inv);
  const Display d = display_from(inv);
  etcdserverpb::WatchCreateRequest req;
  if (std::string err = watch_request(w.watch_args, watch_options_from(inv), &req); !err.empty()) {
    exit_with_error(kExitBadArgs, err);
  }
  client::Watcher watcher(*c, req);
  watch_and_print(*c, watcher, d, w.exec_args);
  exit_with_error(kExitInterrupted, "watch is canceled by the server");
}

}  // namespace

void add_watch_command(Command& root) {
  add_watch_flags(
      root.add("watch [options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]",
               "Watches events stream on keys or prefixes", "", run_watch));
}

}  // namespace etcd::ctl
