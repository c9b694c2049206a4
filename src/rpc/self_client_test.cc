#include "rpc/self_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <thread>

namespace etcd::rpc {
namespace {

using namespace std::chrono_literals;

// A KV service whose Range answers the token it was called with, as the
// value of one kv (so a test sees what the inner call carried).
class TokenEchoKv final : public etcdserverpb::KV::Service {
 public:
  grpc::Status Range(grpc::ServerContext* ctx, const etcdserverpb::RangeRequest*,
                     etcdserverpb::RangeResponse* resp) override {
    auto* kv = resp->add_kvs();
    const auto& md = ctx->client_metadata();
    auto it = md.find("token");
    kv->set_value(it == md.end() ? "<none>" : std::string(it->second.data(), it->second.size()));
    auto cn = self_caller_cn(*ctx);
    kv->set_key(cn ? *cn : "<no cn>");
    return grpc::Status::OK;
  }
};

// A Lock service standing for the real ones: Lock begins a SelfCall, reads
// the token through the inner client, then waits until the call is
// cancelled; its answer is SelfCall::result(context canceled).
class WaitingLock final : public v3lockpb::Lock::Service {
 public:
  explicit WaitingLock(SelfClient& self) : self_(self) {}

  grpc::Status Lock(grpc::ServerContext* ctx, const v3lockpb::LockRequest* req,
                    v3lockpb::LockResponse* resp) override {
    auto call = self_.begin(*ctx);
    if (!call.is_ok()) {
      return grpc::Status(static_cast<grpc::StatusCode>(call.status().code()),
                          call.status().message());
    }
    auto& c = **call;
    etcdserverpb::RangeRequest range;
    range.set_key("k");
    etcdserverpb::RangeResponse got;
    grpc::Status s = client::concurrency::call_cancellable(
        c.client(), c.context(),
        [&](client::Connection& conn, grpc::ClientContext& cctx) {
          return conn.kv->Range(&cctx, range, &got);
        },
        client::Idempotent::kYes);
    if (!s.ok()) return c.result(s);
    resp->set_key(got.kvs(0).value());
    // The CN the inner call carried (none: no certificate here).
    resp->mutable_header()->set_cluster_id(got.kvs(0).key() == "<no cn>" ? 0 : 1);
    if (req->lease() == 0) return grpc::Status::OK;  // no wait
    {
      MutexLock l(&mu_);
      ++waiting_;
    }
    cv_.notify_all();
    std::mutex m;
    std::condition_variable done;
    bool cancelled = false;
    const int h = c.context().on_cancel([&] {
      std::lock_guard<std::mutex> g(m);
      cancelled = true;
      done.notify_all();
    });
    {
      std::unique_lock<std::mutex> g(m);
      done.wait_for(g, 20s, [&] { return cancelled; });
    }
    c.context().remove(h);
    ended_.fetch_add(1);
    return c.result(client::concurrency::context_canceled());
  }

  void wait_for_waiters(int n) {
    MutexLock l(&mu_);
    l.wait_for(cv_, 10s, [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return waiting_ >= n; });
  }
  int ended() const { return ended_.load(); }

 private:
  SelfClient& self_;
  Mutex mu_;
  std::condition_variable cv_;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<int> ended_{0};
};

class SelfClientTest : public ::testing::Test {
 protected:
  void start(size_t max_calls = SelfClient::kDefaultMaxCalls) {
    self_ = std::make_shared<SelfClient>(max_calls);
    lock_ = std::make_unique<WaitingLock>(*self_);
    grpc::ServerBuilder b;
    b.RegisterService(&kv_);
    b.RegisterService(lock_.get());
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    server_ = b.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    self_->attach_to(*server_);
    stub_ = v3lockpb::Lock::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }
  void TearDown() override {
    if (self_) self_->stop(0ms);
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + 2s);
  }
  grpc::Status lock(grpc::ClientContext& ctx, int64_t lease, v3lockpb::LockResponse* resp) {
    v3lockpb::LockRequest req;
    req.set_lease(lease);
    return stub_->Lock(&ctx, req, resp);
  }

  TokenEchoKv kv_;
  std::shared_ptr<SelfClient> self_;
  std::unique_ptr<WaitingLock> lock_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v3lockpb::Lock::Stub> stub_;
  int port_ = 0;
};

TEST_F(SelfClientTest, InnerCallsCarryTheCallersToken) {
  start();
  grpc::ClientContext with;
  with.AddMetadata("token", "abc.123");
  v3lockpb::LockResponse resp;
  ASSERT_TRUE(lock(with, 0, &resp).ok());
  EXPECT_EQ(resp.key(), "abc.123");
  grpc::ClientContext gateway;  // the gateway's header
  gateway.AddMetadata("authorization", "gw.7");
  ASSERT_TRUE(lock(gateway, 0, &resp).ok());
  EXPECT_EQ(resp.key(), "gw.7");
  grpc::ClientContext without;
  ASSERT_TRUE(lock(without, 0, &resp).ok());
  EXPECT_EQ(resp.key(), "<none>");
  EXPECT_EQ(self_->running(), 0u);
}

TEST_F(SelfClientTest, AClaimedCnNeedsTheProcessSecret) {
  start();
  auto tcp = v3lockpb::Lock::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port_),
                                                         grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  v3lockpb::LockRequest req;
  v3lockpb::LockResponse resp;
  ASSERT_TRUE(tcp->Lock(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.header().cluster_id(), 0u);  // no certificate, no CN passed on
  EXPECT_EQ(self_call_secret().size(), 64u);
  EXPECT_EQ(self_call_secret(), self_call_secret());
}

// A KV service answering the CN self_caller_cn() finds in its call.
class CnEchoKv final : public etcdserverpb::KV::Service {
 public:
  grpc::Status Range(grpc::ServerContext* ctx, const etcdserverpb::RangeRequest*,
                     etcdserverpb::RangeResponse* resp) override {
    auto cn = self_caller_cn(*ctx);
    resp->add_kvs()->set_value(cn ? *cn : "<none>");
    return grpc::Status::OK;
  }
};

TEST(SelfCallerCn, BelievedOnlyWithTheSecret) {
  CnEchoKv kv;
  grpc::ServerBuilder b;
  b.RegisterService(&kv);
  auto server = b.BuildAndStart();
  auto stub = etcdserverpb::KV::NewStub(server->InProcessChannel(grpc::ChannelArguments()));
  auto ask = [&](std::vector<std::pair<std::string, std::string>> md) {
    grpc::ClientContext ctx;
    for (auto& [k, v] : md) ctx.AddMetadata(k, v);
    etcdserverpb::RangeResponse resp;
    EXPECT_TRUE(stub->Range(&ctx, etcdserverpb::RangeRequest(), &resp).ok());
    return resp.kvs(0).value();
  };
  EXPECT_EQ(ask({{kSelfCallerCnMetadata, "alice"}, {kSelfCallSecretMetadata, self_call_secret()}}),
            "alice");
  EXPECT_EQ(ask({{kSelfCallerCnMetadata, "alice"}}), "<none>");
  std::string wrong = self_call_secret();
  wrong[5] = wrong[5] == 'a' ? 'b' : 'a';
  EXPECT_EQ(ask({{kSelfCallerCnMetadata, "alice"}, {kSelfCallSecretMetadata, wrong}}), "<none>");
  EXPECT_EQ(ask({{kSelfCallerCnMetadata, "alice"}, {kSelfCallSecretMetadata, "short"}}), "<none>");
  EXPECT_EQ(ask({}), "<none>");
  server->Shutdown();
}

TEST_F(SelfClientTest, ACallEndsWhenItsCallerCancels) {
  start();
  grpc::ClientContext ctx;
  grpc::Status s;
  std::thread t([&] {
    v3lockpb::LockResponse resp;
    s = lock(ctx, 1, &resp);
  });
  lock_->wait_for_waiters(1);
  EXPECT_EQ(self_->running(), 1u);
  ctx.TryCancel();
  t.join();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::CANCELLED);
  // The handler itself noticed (within a few poll intervals).
  for (int i = 0; i < 100 && lock_->ended() < 1; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(lock_->ended(), 1);
  for (int i = 0; i < 100 && self_->running() > 0; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(self_->running(), 0u);
}

TEST_F(SelfClientTest, ACallEndsAtItsDeadline) {
  start();
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 300ms);
  v3lockpb::LockResponse resp;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(lock(ctx, 1, &resp).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  for (int i = 0; i < 100 && lock_->ended() < 1; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(lock_->ended(), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

TEST_F(SelfClientTest, StopEndsRunningCallsAndRefusesNewOnes) {
  start();
  grpc::Status s[2];
  std::thread t[2];
  grpc::ClientContext ctx[2];
  for (int i = 0; i < 2; ++i) {
    t[i] = std::thread([&, i] {
      v3lockpb::LockResponse resp;
      s[i] = lock(ctx[i], 1, &resp);
    });
  }
  lock_->wait_for_waiters(2);
  const auto t0 = std::chrono::steady_clock::now();
  self_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_EQ(self_->running(), 0u);  // stop() waited for them
  for (int i = 0; i < 2; ++i) {
    t[i].join();
    EXPECT_EQ(s[i].error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_EQ(s[i].error_message(), "etcdserver: server stopped");
  }
  grpc::ClientContext late;
  v3lockpb::LockResponse resp;
  grpc::Status after = lock(late, 0, &resp);
  EXPECT_EQ(after.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(after.error_message(), "etcdserver: server stopped");
}

TEST_F(SelfClientTest, CallsBeyondTheBoundAreRefused) {
  start(/*max_calls=*/1);
  grpc::ClientContext first;
  std::thread t([&] {
    v3lockpb::LockResponse resp;
    lock(first, 1, &resp);
  });
  lock_->wait_for_waiters(1);
  grpc::ClientContext second;
  v3lockpb::LockResponse resp;
  grpc::Status s = lock(second, 0, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(s.error_message(), "etcdserver: too many requests");
  first.TryCancel();
  t.join();
}

TEST(SelfClientError, EtcdServerErrorsBecomeUnknownOthersKeepTheirCode) {
  grpc::Status lease(grpc::StatusCode::NOT_FOUND, "etcdserver: requested lease not found");
  EXPECT_EQ(self_client_error(lease).error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(self_client_error(lease).error_message(), "etcdserver: requested lease not found");
  grpc::Status not_leader(grpc::StatusCode::UNKNOWN, "election: not leader");
  EXPECT_EQ(self_client_error(not_leader).error_code(), grpc::StatusCode::UNKNOWN);
  grpc::Status cancelled(grpc::StatusCode::CANCELLED, "context canceled");
  EXPECT_EQ(self_client_error(cancelled).error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(self_client_error(grpc::Status::OK).ok());
}

}  // namespace
}  // namespace etcd::rpc
