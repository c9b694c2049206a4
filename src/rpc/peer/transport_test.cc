// The peer transport between two in-process members on loopback: streams
// both ways (message and msgappv2 encodings), the pipeline, the snapshot
// POST with its db image, probing, and etcd's refusals (cluster id
// mismatch, removed member); the same over TLS, and the peers TLS refuses
// (a certificate from another CA, a CN not allowed).
#include "rpc/peer/transport.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <spdlog/sinks/ringbuffer_sink.h>

#include "rpc/peer/http_client.h"
#include "rpc/tls/test_certs.h"

namespace etcd::rpc::peer {
namespace {

using namespace std::chrono_literals;

class FakeHost final : public server::PeerHost {
 public:
  explicit FakeHost(std::string dir) : dir_(std::move(dir)) {}
  void process(raftpb::Message m) override {
    MutexLock lock(&mu_);
    got_.push_back(std::move(m));
    cv_.notify_all();
  }
  bool is_removed(MemberId id) override { return removed_ids.count(id.value()) > 0; }
  void report_unreachable(MemberId) override {}
  void report_snapshot(MemberId id, bool failed) override {
    MutexLock lock(&mu_);
    snapshot_reports_.emplace_back(id.value(), failed);
    cv_.notify_all();
  }
  void removed_from_cluster() override {
    MutexLock lock(&mu_);
    removed_ = true;
    cv_.notify_all();
  }
  Result<std::unique_ptr<server::SnapshotSource>> open_snapshot() override {
    class Source final : public server::SnapshotSource {
     public:
      explicit Source(std::vector<std::string> pieces) : pieces_(std::move(pieces)) {}
      Result<std::string> next() override {
        if (i_ == pieces_.size()) return std::string();
        return pieces_[i_++];
      }

     private:
      std::vector<std::string> pieces_;
      size_t i_ = 0;
    };
    return std::unique_ptr<server::SnapshotSource>(new Source(image_pieces));
  }
  std::string snapshot_db_path(uint64_t index) override {
    return dir_ + "/" + std::to_string(index) + ".snap.db";
  }
  server::PeerHttpReply http(const std::string& method, const std::string& target,
                             const std::string&) override {
    if (target == "/block") {
      // Blocks until the test releases it (an answer that waits for Raft).
      MutexLock lock(&mu_);
      blocked_ = true;
      cv_.notify_all();
      lock.wait(cv_, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return released_; });
    }
    return server::PeerHttpReply{200, "application/json", method + " " + target, ""};
  }
  bool wait_blocked() {
    MutexLock lock(&mu_);
    return lock.wait_for(cv_, 10s, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return blocked_; });
  }
  void release() {
    MutexLock lock(&mu_);
    released_ = true;
    cv_.notify_all();
  }

  // Waits for a message matching `pred`.
  bool wait_for(const std::function<bool(const raftpb::Message&)>& pred,
                std::chrono::milliseconds timeout = 10s) {
    MutexLock lock(&mu_);
    return lock.wait_for(cv_, timeout, [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      for (const auto& m : got_) {
        if (pred(m)) return true;
      }
      return false;
    });
  }
  bool wait_removed(std::chrono::milliseconds timeout = 10s) {
    MutexLock lock(&mu_);
    return lock.wait_for(cv_, timeout, [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return removed_; });
  }
  bool wait_snapshot_report(bool* failed, std::chrono::milliseconds timeout = 10s) {
    MutexLock lock(&mu_);
    bool ok = lock.wait_for(
        cv_, timeout, [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return !snapshot_reports_.empty(); });
    if (ok) *failed = snapshot_reports_.front().second;
    return ok;
  }

  std::set<uint64_t> removed_ids;
  std::vector<std::string> image_pieces;

 private:
  const std::string dir_;
  Mutex mu_;
  std::condition_variable cv_;
  std::vector<raftpb::Message> got_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<uint64_t, bool>> snapshot_reports_ ABSL_GUARDED_BY(mu_);
  bool removed_ ABSL_GUARDED_BY(mu_) = false;
  bool blocked_ ABSL_GUARDED_BY(mu_) = false;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
};

struct Member {
  std::unique_ptr<FakeHost> host;
  std::unique_ptr<PeerTransport> transport;
  std::string url;
  std::shared_ptr<tls::TlsContext> client_tls;  // TLS members
};

class TransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("peer_transport_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    for (auto& m : members_) {
      if (m.transport) m.transport->stop();
    }
    std::filesystem::remove_all(dir_);
  }

  Member& make(uint64_t id, uint64_t cluster) {
    Member m;
    m.host = std::make_unique<FakeHost>(dir_.string());
    PeerTransport::Options o;
    o.context = server::PeerNetworkContext{MemberId(id), cluster, m.host.get()};
    o.listen_urls = {"http://127.0.0.1:0"};
    o.logger = &logger_;
    auto t = PeerTransport::create(std::move(o));
    EXPECT_TRUE(t.is_ok()) << t.status().to_string();
    m.transport = std::move(t).value();
    m.url = "http://" + m.transport->addresses().front();
    members_.push_back(std::move(m));
    return members_.back();
  }

  // Starts both and makes each the other's peer.
  static void link(Member& a, Member& b) {
    a.transport->start();
    b.transport->start();
    a.transport->add_peer(MemberId(0xb), {b.url});
    b.transport->add_peer(MemberId(0xa), {a.url});
  }

  static raftpb::Message msg(raftpb::MessageType type, uint64_t from, uint64_t to) {
    raftpb::Message m;
    m.set_type(type);
    m.set_from(from);
    m.set_to(to);
    m.set_term(3);
    return m;
  }

  std::filesystem::path dir_;
  log::Logger logger_{log::Level::kError, {}, [] { return int64_t{0}; }};
  std::deque<Member> members_;
};

TEST_F(TransportTest, StreamsCarryMessagesBothWaysInBothEncodings) {
  Member& a = make(0xa, 0xc1);
  Member& b = make(0xb, 0xc1);
  link(a, b);
  // Wait for the streams, then send: a heartbeat (message stream) and an
  // append with entries (msgappv2, whole then short form).
  for (int i = 0; i < 100 && !(a.transport->active_since(MemberId(0xb)) &&
                               b.transport->active_since(MemberId(0xa)));
       ++i) {
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(a.transport->active_since(MemberId(0xb)).has_value());
  std::vector<raftpb::Message> out;
  out.push_back(msg(raftpb::MsgHeartbeat, 0xa, 0xb));
  raftpb::Message app = msg(raftpb::MsgApp, 0xa, 0xb);
  app.set_log_term(3);
  app.set_index(10);
  app.set_commit(10);
  auto* e = app.add_entries();
  e->set_term(3);
  e->set_index(11);
  e->set_data("first");
  out.push_back(app);
  raftpb::Message app2 = msg(raftpb::MsgApp, 0xa, 0xb);
  app2.set_log_term(3);
  app2.set_index(11);
  app2.set_commit(11);
  auto* e2 = app2.add_entries();
  e2->set_term(3);
  e2->set_index(12);
  e2->set_data("second");
  out.push_back(app2);
  a.transport->send(out);
  EXPECT_TRUE(b.host->wait_for([](const raftpb::Message& m) {
    return m.type() == raftpb::MsgHeartbeat && m.from() == 0xa && m.term() == 3;
  }));
  EXPECT_TRUE(b.host->wait_for([](const raftpb::Message& m) {
    return m.type() == raftpb::MsgApp && m.entries_size() == 1 && m.entries(0).data() == "second" &&
           m.index() == 11 && m.commit() == 11 && m.from() == 0xa && m.to() == 0xb;
  }));
  b.transport->send({msg(raftpb::MsgAppResp, 0xb, 0xa)});
  EXPECT_TRUE(a.host->wait_for(
      [](const raftpb::Message& m) { return m.type() == raftpb::MsgAppResp && m.from() == 0xb; }));
  // Removing a peer with live streams closes them (once crashed: a
  // closing stream was freed by its own close handler).
  a.transport->remove_peer(MemberId(0xb));
  b.transport->remove_peer(MemberId(0xa));
  for (int i = 0; i < 100 && a.transport->active_since(MemberId(0xb)); ++i) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_FALSE(a.transport->active_since(MemberId(0xb)).has_value());
  a.transport->send({msg(raftpb::MsgHeartbeat, 0xa, 0xb)});  // dropped: not a peer
}

TEST_F(TransportTest, PipelineProbingAndTheMembersOwnEndpoints) {
  Member& b = make(0xb, 0xc1);
  b.transport->start();
  b.transport->add_peer(MemberId(0xa), {"http://127.0.0.1:1"});
  HttpRequest post;
  post.method = "POST";
  post.target = "/raft";
  post.headers = {{"X-Etcd-Cluster-ID", "c1"}, {"X-Server-From", "a"}};
  post.body = msg(raftpb::MsgVote, 0xa, 0xb).SerializeAsString();
  auto r = http_call(b.url, post, 5s);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->status, 204) << r->body;
  EXPECT_EQ(r->header("X-Etcd-Cluster-ID"), "c1");
  EXPECT_TRUE(
      b.host->wait_for([](const raftpb::Message& m) { return m.type() == raftpb::MsgVote; }));

  // Another cluster: 412, and nothing reaches Raft.
  post.headers = {{"X-Etcd-Cluster-ID", "dead"}, {"X-Server-From", "a"}};
  post.body = msg(raftpb::MsgPreVote, 0xa, 0xb).SerializeAsString();
  r = http_call(b.url, post, 5s);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->status, 412);
  EXPECT_NE(r->body.find("cluster ID mismatch"), std::string::npos);
  EXPECT_FALSE(b.host->wait_for(
      [](const raftpb::Message& m) { return m.type() == raftpb::MsgPreVote; }, 300ms));

  HttpRequest probe;
  probe.target = "/raft/probing";
  r = http_call(b.url, probe, 5s);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("\"OK\":true"), std::string::npos);

  HttpRequest members;
  members.target = "/members";
  r = http_call(b.url, members, 5s);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->body, "GET /members");

  // A stream from an unknown member: 404, as etcd answers.
  HttpRequest stream;
  stream.target = "/raft/stream/message/77";
  stream.headers = {{"X-Etcd-Cluster-ID", "c1"}, {"X-Raft-To", "b"}};
  r = http_call(b.url, stream, 5s);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->status, 404);
  EXPECT_NE(r->body.find("error sender not found"), std::string::npos);
}

TEST_F(TransportTest, AnAnswerThatWaitsNeverHoldsRaftTraffic) {
  Member& a = make(0xa, 0xc1);
  Member& b = make(0xb, 0xc1);
  link(a, b);
  // b's /block answer waits (as a promotion waits for Raft) ...
  std::thread slow([&] {
    HttpRequest req;
    req.method = "POST";
    req.target = "/block";
    auto r = http_call(b.url, req, 20s);
    EXPECT_TRUE(r.is_ok());
  });
  ASSERT_TRUE(b.host->wait_blocked());
  // ... while a's messages still reach b.
  a.transport->send({msg(raftpb::MsgHeartbeat, 0xa, 0xb)});
  EXPECT_TRUE(b.host->wait_for([](const raftpb::Message& m) {
    return m.type() == raftpb::MsgHeartbeat && m.from() == 0xa;
  }));
  b.host->release();
  slow.join();
}

TEST_F(TransportTest, ARemovedMemberIsToldSoAndStops) {
  Member& a = make(0xa, 0xc1);
  Member& b = make(0xb, 0xc1);
  b.host->removed_ids.insert(0xa);
  a.transport->start();
  b.transport->start();
  b.transport->add_peer(MemberId(0xa), {a.url});
  a.transport->add_peer(MemberId(0xb), {b.url});
  EXPECT_TRUE(a.host->wait_removed());
}

TEST_F(TransportTest, SnapshotGoesWithItsDbImage) {
  Member& a = make(0xa, 0xc1);
  Member& b = make(0xb, 0xc1);
  a.host->image_pieces = {std::string(300000, 'x'), "tail-of-the-image"};
  link(a, b);
  raftpb::Message snap = msg(raftpb::MsgSnap, 0xa, 0xb);
  snap.mutable_snapshot()->mutable_metadata()->set_index(42);
  snap.mutable_snapshot()->mutable_metadata()->set_term(3);
  a.transport->send({snap});
  bool failed = true;
  ASSERT_TRUE(a.host->wait_snapshot_report(&failed));
  EXPECT_FALSE(failed);
  ASSERT_TRUE(b.host->wait_for([](const raftpb::Message& m) {
    return m.type() == raftpb::MsgSnap && m.snapshot().metadata().index() == 42;
  }));
  std::ifstream f(b.host->snapshot_db_path(42), std::ios::binary);
  std::string got((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(got, std::string(300000, 'x') + "tail-of-the-image");
}

// Members over TLS: each with its own certificate (the member's peer
// certificate, presented by its listener and as its client certificate),
// verified against `ca` (client certificates required).
class TlsTransportTest : public TransportTest {
 protected:
  void SetUp() override {
    TransportTest::SetUp();
    certs_ = std::make_unique<tls::testing::CertFactory>(dir_);
    ca_ = certs_->make("ca", {.cn = "peer-ca", .ca = true}, nullptr);
    other_ca_ = certs_->make("other-ca", {.cn = "other-ca", .ca = true}, nullptr);
    // Both CAs in one bundle: a member that trusts the cluster's CA but
    // holds a certificate of another.
    std::ifstream a(ca_.cert_file), b(other_ca_.cert_file);
    std::ofstream both(dir_ / "both-ca.pem");
    both << a.rdbuf() << b.rdbuf();
    both_ca_file_ = (dir_ / "both-ca.pem").string();
  }

  tls::testing::Issued issue(const std::string& name, const std::string& cn,
                             const tls::testing::Issued& by,
                             std::vector<std::string> sans = {"IP:127.0.0.1", "DNS:localhost"}) {
    return certs_->make(name, {.cn = cn, .sans = std::move(sans)}, &by);
  }

  Member& make_tls(uint64_t id, const tls::testing::Issued& cert, const std::string& ca_file,
                   const std::string& allowed_cn = "", bool skip_san = false) {
    tls::TlsOptions o;
    o.cert_file = cert.cert_file;
    o.key_file = cert.key_file;
    o.trusted_ca_file = ca_file;
    o.client_cert_auth = true;
    o.allowed_cn = allowed_cn;
    auto server = tls::TlsContext::create(tls::TlsContext::Role::kServer, o, logger_);
    EXPECT_TRUE(server.is_ok()) << server.status().to_string();
    o.client_cert_auth = false;
    o.allowed_cn.clear();
    auto client = tls::TlsContext::create(tls::TlsContext::Role::kClient, o, logger_);
    EXPECT_TRUE(client.is_ok()) << client.status().to_string();
    Member m;
    m.host = std::make_unique<FakeHost>(dir_.string());
    PeerTransport::Options t;
    t.context = server::PeerNetworkContext{MemberId(id), 0xc1, m.host.get()};
    t.listen_urls = {"https://127.0.0.1:0"};
    t.logger = &tls_logger_;
    t.server_tls = *server;
    t.client_tls = *client;
    t.skip_client_san_verify = skip_san;
    auto made = PeerTransport::create(std::move(t));
    EXPECT_TRUE(made.is_ok()) << made.status().to_string();
    m.transport = std::move(made).value();
    m.url = "https://" + m.transport->addresses().front();
    m.client_tls = *client;
    members_.push_back(std::move(m));
    return members_.back();
  }

  static bool wait_active(Member& m, uint64_t peer) {
    for (int i = 0; i < 200 && !m.transport->active_since(MemberId(peer)); ++i) {
      std::this_thread::sleep_for(25ms);
    }
    return m.transport->active_since(MemberId(peer)).has_value();
  }

  // Waits for a logged line holding every one of `parts`.
  bool wait_logged(const std::vector<std::string>& parts, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      for (const auto& line : sink_->last_formatted()) {
        bool all = true;
        for (const auto& p : parts) all = all && line.find(p) != std::string::npos;
        if (all) return true;
      }
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  std::string logged() const {
    std::string out;
    for (const auto& line : sink_->last_formatted()) out += line;
    return out;
  }

  std::unique_ptr<tls::testing::CertFactory> certs_;
  tls::testing::Issued ca_, other_ca_;
  std::string both_ca_file_;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_ =
      std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000);
  log::Logger tls_logger_{log::Level::kInfo, {sink_}, [] { return int64_t{0}; }};
};

TEST_F(TlsTransportTest, MembersExchangeMessagesSnapshotsAndCallsOverTls) {
  Member& a = make_tls(0xa, issue("a", "etcd-a", ca_), ca_.cert_file);
  Member& b = make_tls(0xb, issue("b", "etcd-b", ca_), ca_.cert_file);
  ASSERT_EQ(a.url.rfind("https://", 0), 0u);
  a.host->image_pieces = {std::string(200000, 's'), "end"};
  link(a, b);
  ASSERT_TRUE(wait_active(a, 0xb)) << logged();
  ASSERT_TRUE(wait_active(b, 0xa)) << logged();
  raftpb::Message app = msg(raftpb::MsgApp, 0xa, 0xb);
  app.set_index(5);
  app.add_entries()->set_data("over-tls");
  a.transport->send({msg(raftpb::MsgHeartbeat, 0xa, 0xb), app});
  EXPECT_TRUE(b.host->wait_for([](const raftpb::Message& m) {
    return m.type() == raftpb::MsgApp && m.entries_size() == 1 && m.entries(0).data() == "over-tls";
  }));
  b.transport->send({msg(raftpb::MsgHeartbeatResp, 0xb, 0xa)});
  EXPECT_TRUE(a.host->wait_for([](const raftpb::Message& m) {
    return m.type() == raftpb::MsgHeartbeatResp && m.from() == 0xb;
  }));
  // The snapshot POST streams its image through TLS too.
  raftpb::Message snap = msg(raftpb::MsgSnap, 0xa, 0xb);
  snap.mutable_snapshot()->mutable_metadata()->set_index(7);
  a.transport->send({snap});
  bool failed = true;
  ASSERT_TRUE(a.host->wait_snapshot_report(&failed));
  EXPECT_FALSE(failed);
  std::ifstream f(b.host->snapshot_db_path(7), std::ios::binary);
  std::string got((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(got, std::string(200000, 's') + "end");
  // The member-to-member calls (GET /members, ...) with a's certificate.
  HttpRequest members;
  members.target = "/members";
  auto r = http_call(b.url, members, 5s, a.client_tls);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->body, "GET /members");
  // Without a client certificate the listener refuses the call, and says
  // from where it came.
  tls::TlsOptions anonymous;
  anonymous.trusted_ca_file = ca_.cert_file;
  auto no_cert =
      tls::TlsContext::create(tls::TlsContext::Role::kClient, anonymous, logger_).value();
  r = http_call(b.url, members, 5s, no_cert);
  EXPECT_FALSE(r.is_ok());
  EXPECT_TRUE(wait_logged({"rejected connection", "remote-addr", "127.0.0.1:"})) << logged();
  // A server whose certificate is not from the trusted CA is refused by
  // the client side.
  tls::TlsOptions other;
  other.trusted_ca_file = other_ca_.cert_file;
  auto wrong_ca = tls::TlsContext::create(tls::TlsContext::Role::kClient, other, logger_).value();
  r = http_call(b.url, members, 5s, wrong_ca);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("certificate verify failed"), std::string::npos)
      << r.status().message();
}

TEST_F(TlsTransportTest, APeerWithACertificateOfAnotherCaIsRefusedAndNamed) {
  Member& a = make_tls(0xa, issue("a", "etcd-a", ca_), ca_.cert_file);
  Member& b = make_tls(0xb, issue("b", "etcd-b", ca_), ca_.cert_file);
  // c trusts the cluster's CA, but its own certificate is another CA's.
  Member& c = make_tls(0xc, issue("c", "intruder", other_ca_), both_ca_file_);
  link(a, b);
  c.transport->start();
  c.transport->add_peer(MemberId(0xa), {a.url});
  ASSERT_TRUE(wait_active(a, 0xb)) << logged();
  EXPECT_TRUE(wait_logged({"rejected connection", "intruder", "127.0.0.1:"})) << logged();
  c.transport->send({msg(raftpb::MsgVote, 0xc, 0xa)});
  std::this_thread::sleep_for(500ms);
  EXPECT_FALSE(a.host->wait_for([](const raftpb::Message& m) { return m.from() == 0xc; }, 100ms));
  EXPECT_FALSE(c.transport->active_since(MemberId(0xa)).has_value());
  // a and b go on.
  a.transport->send({msg(raftpb::MsgHeartbeat, 0xa, 0xb)});
  EXPECT_TRUE(b.host->wait_for([](const raftpb::Message& m) { return m.from() == 0xa; }));
}

TEST_F(TlsTransportTest, AllowedCnRefusesOtherNames) {
  Member& a = make_tls(0xa, issue("a", "etcd-peer", ca_), ca_.cert_file, "etcd-peer");
  Member& b = make_tls(0xb, issue("b", "etcd-peer", ca_), ca_.cert_file, "etcd-peer");
  Member& c = make_tls(0xc, issue("c", "rogue", ca_), ca_.cert_file, "etcd-peer");
  link(a, b);
  c.transport->start();
  c.transport->add_peer(MemberId(0xa), {a.url});
  ASSERT_TRUE(wait_active(a, 0xb)) << logged();
  ASSERT_TRUE(wait_active(b, 0xa)) << logged();
  EXPECT_TRUE(wait_logged({"rejected connection", "rogue"})) << logged();
  EXPECT_FALSE(c.transport->active_since(MemberId(0xa)).has_value());
}

TEST(CheckCertSan, TheCertificateMustNameTheRemoteAddress) {
  EXPECT_TRUE(check_cert_san(PeerCertInfo{}, "10.0.0.9").is_ok());  // no SANs: nothing to check
  PeerCertInfo ip;
  ip.ip_addresses = {"10.0.0.1", "127.0.0.1"};
  EXPECT_TRUE(check_cert_san(ip, "127.0.0.1").is_ok());
  auto refused = check_cert_san(ip, "10.0.0.9");
  EXPECT_EQ(refused.code(), Code::kPermissionDenied);
  EXPECT_NE(refused.message().find("10.0.0.9"), std::string::npos) << refused.message();
  PeerCertInfo dns;
  dns.dns_names = {"localhost"};
  EXPECT_TRUE(check_cert_san(dns, "127.0.0.1").is_ok());
  EXPECT_FALSE(check_cert_san(dns, "10.0.0.9").is_ok());
}

TEST_F(TlsTransportTest, AClientCertificateMustNameTheAddressItConnectsFrom) {
  Member& a = make_tls(0xa, issue("a", "etcd-a", ca_), ca_.cert_file);
  // d's certificate names another address than the one it connects from.
  Member& d = make_tls(0xd, issue("d", "elsewhere", ca_, {"IP:10.9.9.9"}), ca_.cert_file);
  a.transport->start();
  d.transport->start();
  d.transport->add_peer(MemberId(0xa), {a.url});
  EXPECT_TRUE(wait_logged({"rejected connection", "elsewhere", "10.9.9.9"})) << logged();
  d.transport->send({msg(raftpb::MsgVote, 0xd, 0xa)});
  EXPECT_FALSE(a.host->wait_for([](const raftpb::Message& m) { return m.from() == 0xd; }, 1s));
  HttpRequest members;
  members.target = "/members";
  EXPECT_FALSE(http_call(a.url, members, 5s, d.client_tls).is_ok());
  // --experimental-peer-skip-client-san-verification lets it in.
  Member& lenient = make_tls(0xe, issue("e", "etcd-e", ca_), ca_.cert_file, "", true);
  lenient.transport->start();
  auto r = http_call(lenient.url, members, 5s, d.client_tls);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->body, "GET /members");
}

}  // namespace
}  // namespace etcd::rpc::peer
