// etcdctl lock and elect, done client-side with the concurrency recipes
// (client/concurrency.h) as etcdctl does them: a session (a lease kept
// alive), then a mutex or an election under the given name. SIGINT and
// SIGTERM release the lock or resign, and the command exits.
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <thread>

#include "client/concurrency.h"
#include "etcdctl/global.h"
#include "etcdctl/output/quote.h"
#include "etcdctl/printer.h"

extern char** environ;

namespace etcd::ctl {
namespace {

namespace cc = client::concurrency;

// SIGINT/SIGTERM handling as etcdctl's signal.Notify: the signals are
// blocked in every thread (before the client starts its threads) and one
// thread waits for them and cancels the context.
class SignalCanceller {
 public:
  SignalCanceller() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  // Starts waiting; `ctx` is cancelled on the first signal.
  void start(cc::Context& ctx) {
    thread_ = std::thread([this, &ctx] {
      int sig = 0;
      sigwait(&set_, &sig);
      ctx.cancel();
    });
    thread_.detach();  // ends with the process
  }
  const sigset_t& old_mask() const { return old_; }

 private:
  sigset_t set_;
  sigset_t old_;
  std::thread thread_;
};

// Go's exec.LookPath for a name without '/': the executable file in $PATH.
bool look_path(const std::string& name, std::string* path) {
  if (name.find('/') != std::string::npos) {
    *path = name;
    return true;
  }
  const char* env = std::getenv("PATH");
  std::string p = env ? env : "";
  size_t start = 0;
  while (true) {
    size_t end = p.find(':', start);
    std::string dir = p.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (dir.empty()) dir = ".";
    const std::string cand = dir + "/" + name;
    struct stat st;
    if (stat(cand.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111)) {
      *path = cand;
      return true;
    }
    if (end == std::string::npos) return false;
    start = end + 1;
  }
}

// Runs the command (stdout and stderr inherited, `env` before ours) as Go's
// cmd.Run; "" on success, else the error's text.
std::string run_command(const std::vector<std::string>& args, const std::vector<std::string>& env,
                        const sigset_t& mask) {
  std::string path;
  if (!look_path(args[0], &path)) {
    return "exec: " + go_quote(args[0]) + ": executable file not found in $PATH";
  }
  std::vector<std::string> envs = env;
  for (char** e = environ; *e; ++e) envs.emplace_back(*e);
  std::vector<char*> argv, envp;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : envs) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setsigmask(&attr, &mask);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  pid_t pid;
  std::cout << std::flush;
  const int rc = posix_spawn(&pid, path.c_str(), nullptr, &attr, argv.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    std::string e = std::strerror(rc);
    if (!e.empty()) e[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(e[0])));
    return "fork/exec " + path + ": " + e;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    if (WEXITSTATUS(status) == 0) return "";
    return "exit status " + std::to_string(WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    static const std::map<int, std::string> names = {
        {SIGHUP, "hangup"},   {SIGINT, "interrupt"},   {SIGQUIT, "quit"},
        {SIGKILL, "killed"},  {SIGTERM, "terminated"}, {SIGSEGV, "segmentation fault"},
        {SIGABRT, "aborted"}, {SIGPIPE, "broken pipe"}};
    auto it = names.find(sig);
    return "signal: " + (it != names.end() ? it->second : "signal " + std::to_string(sig));
  }
  return "exit status " + std::to_string(status);
}

grpc::Status get_key(client::Client& c, cc::Context& ctx, const std::string& key,
                     etcdserverpb::RangeResponse* resp) {
  etcdserverpb::RangeRequest req;
  req.set_key(key);
  return cc::call_cancellable(
      c, ctx,
      [&](client::Connection& conn, grpc::ClientContext& cctx) {
        return conn.kv->Range(&cctx, req, resp);
      },
      client::Idempotent::kYes);
}

// Waits for the context's cancel or the session's end; true on cancel.
bool wait_cancel_or_done(cc::Context& ctx, cc::Session& session) {
  // Shared with the callbacks, which may run after this returns.
  struct State {
    etcd::Mutex mu;
    std::condition_variable cv;
    bool woken = false;
  };
  auto st = std::make_shared<State>();
  auto wake = [st] {
    MutexLock l(&st->mu);
    st->woken = true;
    st->cv.notify_all();
  };
  const int h = ctx.on_cancel(wake);
  session.on_done(wake);
  {
    MutexLock l(&st->mu);
    l.wait(st->cv, [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return st->woken; });
  }
  ctx.remove(h);
  return ctx.cancelled();
}

void lock_command(Invocation& inv) {
  if (inv.args.empty()) {
    exit_with_error(kExitBadArgs,
                    "lock takes a lock name argument and an optional command to execute");
  }
  SignalCanceller signals;
  const Display d = display_from(inv);
  auto c = must_client(inv);
  cc::Context ctx;
  std::unique_ptr<cc::Session> session;
  cc::Context background;
  grpc::Status s =
      cc::Session::create(*c, background, static_cast<int>(inv.get_int("ttl")), &session);
  if (!s.ok()) exit_with_status(s);
  signals.start(ctx);
  cc::Mutex m(*session, inv.args[0]);
  s = m.lock(ctx);
  if (!s.ok()) exit_with_status(s);
  if (inv.args.size() > 1) {
    std::vector<std::string> cmd(inv.args.begin() + 1, inv.args.end());
    const std::string err = run_command(
        cmd, {"ETCD_LOCK_KEY=" + m.key(), "ETCD_LOCK_REV=" + std::to_string(m.header().revision())},
        signals.old_mask());
    cc::Context todo;
    grpc::Status u = m.unlock(todo);
    session->orphan();
    if (!err.empty()) exit_with_error(kExitError, err);
    if (!u.ok()) exit_with_status(u);
    return;
  }
  etcdserverpb::RangeResponse k;
  s = get_key(*c, ctx, m.key(), &k);
  if (!s.ok()) exit_with_status(s);
  if (k.kvs().empty()) exit_with_error(kExitError, "lock lost on init");
  print_get(d, k);
  if (wait_cancel_or_done(ctx, *session)) {
    cc::Context todo;
    s = m.unlock(todo);
    if (!s.ok()) exit_with_status(s);
    return;
  }
  exit_with_error(kExitError, "session expired");
}

void observe(client::Client& c, const Display& d, const std::string& name,
             SignalCanceller& signals) {
  cc::Context background;
  std::unique_ptr<cc::Session> session;
  grpc::Status s = cc::Session::create(c, background, 0, &session);
  if (!s.ok()) exit_with_status(s);
  cc::Context ctx;
  signals.start(ctx);
  cc::Election e(*session, name);
  e.observe(ctx, [&](const etcdserverpb::RangeResponse& r) {
    print_get(d, r);
    return true;
  });
  session->orphan();
  if (!ctx.cancelled()) exit_with_error(kExitError, "elect: observer lost");
}

void campaign(client::Client& c, const Display& d, const std::string& name,
              const std::string& proposal, SignalCanceller& signals) {
  cc::Context background;
  std::unique_ptr<cc::Session> session;
  grpc::Status s = cc::Session::create(c, background, 0, &session);
  if (!s.ok()) exit_with_status(s);
  cc::Context ctx;
  signals.start(ctx);
  cc::Election e(*session, name);
  s = e.campaign(ctx, proposal);
  if (!s.ok()) exit_with_status(s);
  etcdserverpb::RangeResponse resp;
  s = get_key(c, ctx, e.key(), &resp);
  if (!s.ok()) exit_with_status(s);
  print_get(d, resp);
  if (!wait_cancel_or_done(ctx, *session)) exit_with_error(kExitError, "elect: session expired");
  cc::Context todo;
  s = e.resign(todo);
  if (!s.ok()) exit_with_status(s);
}

void elect_command(Invocation& inv) {
  if (inv.args.size() != 1 && inv.args.size() != 2) {
    exit_with_error(kExitBadArgs,
                    "elect takes one election name argument and an optional proposal argument");
  }
  SignalCanceller signals;
  const Display d = display_from(inv);
  auto c = must_client(inv);
  const bool listen = inv.get_bool("listen");
  if (inv.args.size() == 1) {
    if (!listen) exit_with_error(kExitBadArgs, "no proposal argument but -l not set");
    observe(*c, d, inv.args[0], signals);
  } else {
    if (listen) exit_with_error(kExitBadArgs, "proposal given but -l is set");
    campaign(*c, d, inv.args[0], inv.args[1], signals);
  }
}

}  // namespace

void add_concurrency_commands(Command& root) {
  root.add("lock <lockname> [exec-command arg1 arg2 ...]", "Acquires a named lock", "",
           lock_command)
      .flags()
      .add(FlagKind::kInt, "ttl", "", "10", "timeout for session");
  root.add("elect <election-name> [proposal]", "Observes and participates in leader election", "",
           elect_command)
      .flags()
      .add(FlagKind::kBool, "listen", "l", "false", "observation mode");
}

}  // namespace etcd::ctl
