// The client library's failover, proved against real 3-member clusters of our
// etcd (build/bin/etcd, or $ETCD_BIN_DIR/etcd): reads go on past a dead
// endpoint, a write whose answer was lost is reported and not sent again,
// a watch resumes on another member without losing or repeating an event,
// and a lease keep-alive moves to another member.
#include "client/client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "client/keep_alive.h"
#include "client/watcher.h"

namespace etcd::client {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

Deadline in(std::chrono::milliseconds d) { return std::chrono::system_clock::now() + d; }

fs::path etcd_binary() {
  if (const char* dir = std::getenv("ETCD_BIN_DIR")) return fs::path(dir) / "etcd";
  // Tests run from build/tests/; the binaries are in build/bin/.
  return fs::read_symlink("/proc/self/exe").parent_path().parent_path() / "bin" / "etcd";
}

// Starts `args` (args[0] the binary) with stdout and stderr to `log`.
pid_t spawn(std::vector<std::string> args, const std::string& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// Three members of ours on loopback ports from `base_port` (client, peer per
// member), each with its own data dir; every process is killed at the end.
class TestCluster {
 public:
  explicit TestCluster(int base_port) {
    char tmpl[] = "/tmp/client-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    std::string initial;
    for (int i = 0; i < 3; ++i) {
      ports_.push_back({base_port + 2 * i, base_port + 2 * i + 1});
      initial += (i ? "," : "") + name(i) + "=http://127.0.0.1:" + std::to_string(peer(i));
    }
    for (int i = 0; i < 3; ++i) start(i, initial);
  }
  ~TestCluster() {
    for (size_t i = 0; i < pids_.size(); ++i) kill_member(static_cast<int>(i));
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string endpoint(int i) const { return "127.0.0.1:" + std::to_string(ports_[i].first); }

  void kill_member(int i) {
    if (pids_[i] <= 0) return;
    ::kill(pids_[i], SIGKILL);
    waitpid(pids_[i], nullptr, 0);
    pids_[i] = -1;
  }

  // Until a write and a linearizable read go through every member.
  bool wait_ready() {
    const auto until = in(20s);
    for (int i = 0; i < 3; ++i) {
      Options o;
      o.endpoints = {endpoint(i)};
      Client c(o);
      while (true) {
        etcdserverpb::RangeRequest req;
        req.set_key("ready");
        etcdserverpb::RangeResponse resp;
        if (c.call(&Connection::kv, &etcdserverpb::KV::Stub::Range, req, &resp, in(1s),
                   Idempotent::kYes)
                .ok()) {
          break;
        }
        if (std::chrono::system_clock::now() > until) return false;
        std::this_thread::sleep_for(100ms);
      }
    }
    return true;
  }

 private:
  static std::string name(int i) { return "m" + std::to_string(i); }
  int peer(int i) const { return ports_[i].second; }

  void start(int i, const std::string& initial) {
    const std::string data = dir_ + "/" + name(i);
    const std::string log = dir_ + "/" + name(i) + ".log";
    const std::string client_url = "http://127.0.0.1:" + std::to_string(ports_[i].first);
    const std::string peer_url = "http://127.0.0.1:" + std::to_string(peer(i));
    std::vector<std::string> args = {etcd_binary().string(),
                                     "--name=" + name(i),
                                     "--data-dir=" + data,
                                     "--listen-client-urls=" + client_url,
                                     "--advertise-client-urls=" + client_url,
                                     "--listen-peer-urls=" + peer_url,
                                     "--initial-advertise-peer-urls=" + peer_url,
                                     "--initial-cluster=" + initial,
                                     "--initial-cluster-token=client-test",
                                     "--initial-cluster-state=new",
                                     "--heartbeat-interval=50",
                                     "--election-timeout=500"};
    pids_.push_back(spawn(args, log));
  }

  std::string dir_;
  std::vector<std::pair<int, int>> ports_;
  std::vector<pid_t> pids_;
};

// A TCP proxy to one member that, once armed, passes requests on but drops
// the member's answers and then breaks the connection: the client's write
// reaches the server, is applied, and its answer is lost.
class LosingProxy {
 public:
  explicit LosingProxy(int target_port) : target_port_(target_port) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(listen_fd_, 8);
    socklen_t len = sizeof a;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~LosingProxy() {
    stop_ = true;
    shutdown(listen_fd_, SHUT_RDWR);
    close(listen_fd_);
    accept_thread_.join();
    for (auto& t : conns_) t.join();
  }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  void arm() { armed_ = true; }
  int dropped_bytes() const { return dropped_; }

 private:
  void accept_loop() {
    while (!stop_) {
      const int c = accept(listen_fd_, nullptr, nullptr);
      if (c < 0) return;
      conns_.emplace_back([this, c] { serve(c); });
    }
  }

  void serve(int client_fd) {
    const int server_fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(target_port_));
    if (connect(server_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close(client_fd);
      close(server_fd);
      return;
    }
    std::optional<std::chrono::steady_clock::time_point> break_at;
    char buf[65536];
    while (!stop_) {
      if (break_at && std::chrono::steady_clock::now() >= *break_at) break;
      pollfd fds[2] = {{client_fd, POLLIN, 0}, {server_fd, POLLIN, 0}};
      if (poll(fds, 2, 50) < 0) break;
      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        const ssize_t n = read(client_fd, buf, sizeof buf);
        if (n <= 0 || write(server_fd, buf, static_cast<size_t>(n)) != n) break;
      }
      if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
        const ssize_t n = read(server_fd, buf, sizeof buf);
        if (n <= 0) break;
        if (armed_) {
          // The answer is lost; the connection breaks a little later, when
          // the server has certainly applied what it answered.
          dropped_ += static_cast<int>(n);
          if (!break_at) break_at = std::chrono::steady_clock::now() + 300ms;
        } else if (write(client_fd, buf, static_cast<size_t>(n)) != n) {
          break;
        }
      }
    }
    // RST rather than FIN, as a crashed member's kernel would answer.
    linger l{1, 0};
    setsockopt(client_fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(client_fd);
    close(server_fd);
  }

  const int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> armed_{false};
  std::atomic<bool> stop_{false};
  std::atomic<int> dropped_{0};
  std::thread accept_thread_;
  std::vector<std::thread> conns_;  // touched by the accept thread only, joined after it
};

Options options_for(std::vector<std::string> endpoints) {
  Options o;
  o.endpoints = std::move(endpoints);
  return o;
}

grpc::Status put(Client& c, const std::string& key, const std::string& value,
                 etcdserverpb::PutResponse* resp = nullptr, int64_t lease = 0) {
  etcdserverpb::PutRequest req;
  req.set_key(key);
  req.set_value(value);
  req.set_prev_kv(true);
  req.set_lease(lease);
  etcdserverpb::PutResponse local;
  return c.call(&Connection::kv, &etcdserverpb::KV::Stub::Put, req, resp ? resp : &local, in(5s),
                Idempotent::kNo);
}

std::optional<mvccpb::KeyValue> get(Client& c, const std::string& key) {
  etcdserverpb::RangeRequest req;
  req.set_key(key);
  etcdserverpb::RangeResponse resp;
  grpc::Status s =
      c.call(&Connection::kv, &etcdserverpb::KV::Stub::Range, req, &resp, in(5s), Idempotent::kYes);
  EXPECT_TRUE(s.ok()) << s.error_message();
  if (!s.ok() || resp.kvs().empty()) return std::nullopt;
  return resp.kvs(0);
}

class ClientFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(etcd_binary())) << etcd_binary() << " is missing: build etcd first";
    cluster_ = std::make_unique<TestCluster>(24410);
    ASSERT_TRUE(cluster_->wait_ready()) << "the cluster did not come up";
  }
  void TearDown() override { cluster_.reset(); }

  std::unique_ptr<TestCluster> cluster_;
};

TEST_F(ClientFailoverTest, ReadsGoOnWithTheFirstEndpointDead) {
  Client writer(options_for({cluster_->endpoint(1)}));
  ASSERT_TRUE(put(writer, "k", "v").ok());
  cluster_->kill_member(0);
  Client c(options_for({cluster_->endpoint(0), cluster_->endpoint(1), cluster_->endpoint(2)}));
  auto kv = get(c, "k");
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->value(), "v");
  // And again, now that the client moved on.
  kv = get(c, "k");
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->value(), "v");
}

TEST_F(ClientFailoverTest, WriteWhoseAnswerWasLostIsReportedNotRepeated) {
  Client other(options_for({cluster_->endpoint(1)}));
  etcdserverpb::PutResponse first;
  ASSERT_TRUE(put(other, "w", "0", &first).ok());

  LosingProxy proxy(24410);  // to member 0
  // Pinned to the first endpoint, so the put goes through the proxy.
  Options pinned = options_for({proxy.endpoint(), cluster_->endpoint(1), cluster_->endpoint(2)});
  pinned.round_robin = false;
  Client c(pinned);
  ASSERT_TRUE(get(c, "w").has_value());  // connected through the proxy
  proxy.arm();
  etcdserverpb::PutResponse resp;
  const grpc::Status s = put(c, "w", "1", &resp);
  EXPECT_FALSE(s.ok()) << "the client claimed an answer it never got";
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_GT(proxy.dropped_bytes(), 0);

  // The put was applied exactly once: one version more, its value.
  auto kv = get(other, "w");
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->version(), 2);
  EXPECT_EQ(kv->value(), "1");
  EXPECT_EQ(kv->mod_revision(), first.header().revision() + 1);

  // The client works on (on another endpoint) for the next call.
  ASSERT_TRUE(put(c, "w", "2").ok());
  kv = get(other, "w");
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->version(), 3);
}

TEST_F(ClientFailoverTest, WatchResumesOnAnotherMemberWithoutLossOrRepeat) {
  Client writer(options_for({cluster_->endpoint(1), cluster_->endpoint(2)}));
  etcdserverpb::PutResponse start;
  ASSERT_TRUE(put(writer, "other", "x", &start).ok());

  // Pinned: the watch starts on member 0, the one killed below.
  Options pinned =
      options_for({cluster_->endpoint(0), cluster_->endpoint(1), cluster_->endpoint(2)});
  pinned.round_robin = false;
  Client c(pinned);
  etcdserverpb::WatchCreateRequest create;
  create.set_key("w/");
  create.set_range_end("w0");
  create.set_start_revision(start.header().revision() + 1);
  Watcher watcher(c, create);
  constexpr int kEvents = 40;
  std::mutex mu;
  std::vector<std::pair<std::string, int64_t>> seen;
  std::atomic<int> created{0};
  grpc::Status watch_status;
  std::thread t([&] {
    watch_status = watcher.run([&](const etcdserverpb::WatchResponse& r) {
      if (r.created()) ++created;
      std::lock_guard<std::mutex> l(mu);
      for (const auto& ev : r.events()) seen.emplace_back(ev.kv().key(), ev.kv().mod_revision());
      return seen.size() < kEvents;
    });
  });
  const auto until = in(10s);
  while (created == 0 && std::chrono::system_clock::now() < until)
    std::this_thread::sleep_for(10ms);
  ASSERT_EQ(created, 1);

  std::vector<std::pair<std::string, int64_t>> written;
  for (int i = 0; i < kEvents; ++i) {
    if (i == kEvents / 2) cluster_->kill_member(0);  // the watched member
    etcdserverpb::PutResponse r;
    const std::string key = "w/" + std::to_string(100 + i);
    grpc::Status s = put(writer, key, "v", &r);
    if (!s.ok()) {  // an election after the kill: the write was not applied
      std::this_thread::sleep_for(200ms);
      auto kv = get(writer, key);
      ASSERT_FALSE(kv.has_value()) << s.error_message();
      --i;
      continue;
    }
    written.emplace_back(key, r.header().revision());
    std::this_thread::sleep_for(20ms);
  }
  const auto done_by = in(20s);
  while (std::chrono::system_clock::now() < done_by) {
    {
      std::lock_guard<std::mutex> l(mu);
      if (seen.size() >= kEvents) break;
    }
    std::this_thread::sleep_for(20ms);
  }
  watcher.cancel();
  t.join();
  EXPECT_TRUE(watch_status.ok()) << watch_status.error_message();
  EXPECT_EQ(created, 1) << "the resumed watch's creation reached the caller";
  std::lock_guard<std::mutex> l(mu);
  EXPECT_EQ(seen, written);
}

TEST_F(ClientFailoverTest, KeepAliveMovesToAnotherMember) {
  Client other(options_for({cluster_->endpoint(1), cluster_->endpoint(2)}));
  etcdserverpb::LeaseGrantRequest grant;
  grant.set_ttl(5);
  etcdserverpb::LeaseGrantResponse lease;
  ASSERT_TRUE(other
                  .call(&Connection::lease, &etcdserverpb::Lease::Stub::LeaseGrant, grant, &lease,
                        in(5s), Idempotent::kNo)
                  .ok());
  ASSERT_TRUE(put(other, "leased", "v", nullptr, lease.id()).ok());

  // Pinned: the keep-alive starts on member 0, the one killed below.
  Options pinned =
      options_for({cluster_->endpoint(0), cluster_->endpoint(1), cluster_->endpoint(2)});
  pinned.round_robin = false;
  Client c(pinned);
  KeepAlive keep(c, lease.id());
  std::atomic<int> renewals{0};
  std::atomic<int64_t> last_ttl{0};
  grpc::Status keep_status;
  std::thread t([&] {
    keep_status = keep.run([&](const etcdserverpb::LeaseKeepAliveResponse& r) {
      last_ttl = r.ttl();
      ++renewals;
      return true;
    });
  });
  auto wait_renewals = [&](int n, Deadline until) {
    while (renewals < n && std::chrono::system_clock::now() < until) {
      std::this_thread::sleep_for(20ms);
    }
    return renewals >= n;
  };
  ASSERT_TRUE(wait_renewals(1, in(5s)));
  cluster_->kill_member(0);
  const int before = renewals;
  // Three TTLs: without the move, the lease and its key would be gone.
  std::this_thread::sleep_for(15s);
  EXPECT_GE(renewals, before + 3);
  EXPECT_GT(last_ttl, 0);
  keep.cancel();
  t.join();
  EXPECT_TRUE(keep_status.ok()) << keep_status.error_message();

  etcdserverpb::LeaseTimeToLiveRequest ttl_req;
  ttl_req.set_id(lease.id());
  etcdserverpb::LeaseTimeToLiveResponse ttl;
  ASSERT_TRUE(other
                  .call(&Connection::lease, &etcdserverpb::Lease::Stub::LeaseTimeToLive, ttl_req,
                        &ttl, in(5s), Idempotent::kYes)
                  .ok());
  EXPECT_GT(ttl.ttl(), 0);
  auto kv = get(other, "leased");
  EXPECT_TRUE(kv.has_value());
}

// Auth against the reference etcd 3.4.23 (/usr/bin/etcd), whose simple
// tokens live one second here: with a user, calls work while the server has
// auth off, and an expired token is replaced and the call sent again.
TEST(ClientAuthTest, TokensAgainstTheReferenceServer) {
  const fs::path reference = "/usr/bin/etcd";
  ASSERT_TRUE(fs::exists(reference)) << "the reference etcd (etcd-server) is not installed";
  char tmpl[] = "/tmp/client-auth-test-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string client_url = "http://127.0.0.1:24420";
  const std::string peer_url = "http://127.0.0.1:24421";
  const pid_t pid =
      spawn({reference.string(), "--name=ref", "--data-dir=" + dir + "/data",
             "--listen-client-urls=" + client_url, "--advertise-client-urls=" + client_url,
             "--listen-peer-urls=" + peer_url, "--initial-advertise-peer-urls=" + peer_url,
             "--initial-cluster=ref=" + peer_url, "--auth-token-ttl=1"},
            dir + "/ref.log");
  struct Cleanup {
    pid_t pid;
    std::string dir;
    ~Cleanup() {
      ::kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{pid, dir};

  Options o = options_for({"127.0.0.1:24420"});
  Client admin(o);
  const auto until = in(15s);
  while (!put(admin, "k", "v").ok()) {
    ASSERT_LT(std::chrono::system_clock::now(), until) << "the reference server did not start";
    std::this_thread::sleep_for(100ms);
  }

  // Auth off on the server: a client with a user works without a token.
  o.user = "root";
  o.password = "rootpw";
  Client root(o);
  ASSERT_TRUE(root.connect(in(5s)).ok());
  ASSERT_TRUE(get(root, "k").has_value());
  EXPECT_EQ(root.token(), "");

  using Stub = etcdserverpb::Auth::Stub;
  auto auth_call = [&](auto method, const auto& req, auto* resp) {
    return admin.call(&Connection::auth, method, req, resp, in(5s), Idempotent::kNo);
  };
  etcdserverpb::AuthUserAddRequest user;
  user.set_name("root");
  user.set_password("rootpw");
  etcdserverpb::AuthUserAddResponse user_resp;
  ASSERT_TRUE(auth_call(&Stub::UserAdd, user, &user_resp).ok());
  etcdserverpb::AuthRoleAddRequest role;
  role.set_name("root");
  etcdserverpb::AuthRoleAddResponse role_resp;
  ASSERT_TRUE(auth_call(&Stub::RoleAdd, role, &role_resp).ok());
  etcdserverpb::AuthUserGrantRoleRequest grant;
  grant.set_user("root");
  grant.set_role("root");
  etcdserverpb::AuthUserGrantRoleResponse grant_resp;
  ASSERT_TRUE(auth_call(&Stub::UserGrantRole, grant, &grant_resp).ok());
  etcdserverpb::AuthEnableResponse enable_resp;
  ASSERT_TRUE(auth_call(&Stub::AuthEnable, etcdserverpb::AuthEnableRequest(), &enable_resp).ok());

  // Auth on: a new client gets a token; after the token's TTL the server no
  // longer knows it, and the client gets a new one for the same call.
  Client fresh(o);
  ASSERT_TRUE(fresh.connect(in(5s)).ok());
  const std::string first = fresh.token();
  EXPECT_FALSE(first.empty());
  ASSERT_TRUE(get(fresh, "k").has_value());
  std::this_thread::sleep_for(3s);
  etcdserverpb::PutResponse put_resp;
  const grpc::Status s = put(fresh, "k", "v2", &put_resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_NE(fresh.token(), first);
  EXPECT_EQ(put_resp.prev_kv().value(), "v");
  // And the client that started while auth was off gets its token now.
  std::this_thread::sleep_for(100ms);
  auto kv = get(root, "k");
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->value(), "v2");
  // A watch that is a client's first call authenticates first too.
  Client watching(o);
  etcdserverpb::WatchCreateRequest create;
  create.set_key("k");
  Watcher watcher(watching, create);
  std::atomic<bool> seen{false};
  std::thread t([&] {
    watcher.run([&](const etcdserverpb::WatchResponse& r) {
      for (const auto& ev : r.events()) {
        if (ev.kv().value() == "v3") seen = true;
      }
      return !seen && !r.canceled();
    });
  });
  for (int i = 0; i < 50 && !seen; ++i) {
    if (!put(fresh, "k", "v3").ok()) break;
    std::this_thread::sleep_for(100ms);
  }
  watcher.cancel();
  t.join();
  EXPECT_TRUE(seen);
  // call_on (one given endpoint) replaces an expired token too.
  std::this_thread::sleep_for(3s);
  etcdserverpb::RangeRequest on_req;
  on_req.set_key("k");
  etcdserverpb::RangeResponse on_resp;
  const std::string before_on = fresh.token();
  const grpc::Status on = fresh.call_on("127.0.0.1:24420", &Connection::kv,
                                        &etcdserverpb::KV::Stub::Range, on_req, &on_resp, in(5s));
  EXPECT_TRUE(on.ok()) << on.error_message();
  EXPECT_NE(fresh.token(), before_on);
  // A wrong password is the server's error.
  Options wrong = o;
  wrong.password = "nope";
  Client bad(wrong);
  const grpc::Status b = bad.connect(in(5s));
  EXPECT_EQ(b.error_message(), "etcdserver: authentication failed, invalid user ID or password");
}

}  // namespace
}  // namespace etcd::client
