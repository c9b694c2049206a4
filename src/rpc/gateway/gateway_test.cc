#include "rpc/gateway/gateway.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "etcdserverpb/rpc.grpc.pb.h"

namespace etcd::rpc::gateway {
namespace {

using namespace std::chrono_literals;

// Canned KV answers; records what reached the server.
class FakeKv : public etcdserverpb::KV::Service {
 public:
  grpc::Status Range(grpc::ServerContext* ctx, const etcdserverpb::RangeRequest* req,
                     etcdserverpb::RangeResponse* resp) override {
    {
      std::lock_guard l(mu);
      last_range = *req;
      auto it = ctx->client_metadata().find("token");
      token = it == ctx->client_metadata().end()
                  ? ""
                  : std::string(it->second.data(), it->second.size());
    }
    resp->mutable_header()->set_cluster_id(14841639068965178418ull);
    resp->mutable_header()->set_revision(9000000000);
    auto* kv = resp->add_kvs();
    kv->set_key(req->key());
    kv->set_value(std::string("\x00\xff", 2));
    kv->set_mod_revision(5);
    resp->set_count(1);
    return grpc::Status::OK;
  }
  grpc::Status DeleteRange(grpc::ServerContext*, const etcdserverpb::DeleteRangeRequest*,
                           etcdserverpb::DeleteRangeResponse*) override {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "etcdserver: permission denied");
  }
  grpc::Status Compact(grpc::ServerContext*, const etcdserverpb::CompactionRequest*,
                       etcdserverpb::CompactionResponse*) override {
    return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                        "etcdserver: mvcc: required revision is a future revision");
  }

  std::mutex mu;
  etcdserverpb::RangeRequest last_range;
  std::string token;
};

// Answers each create request with "created", then one event per watch,
// then waits until the client cancels.
class FakeWatch : public etcdserverpb::Watch::Service {
 public:
  grpc::Status Watch(grpc::ServerContext* ctx,
                     grpc::ServerReaderWriter<etcdserverpb::WatchResponse,
                                              etcdserverpb::WatchRequest>* stream) override {
    etcdserverpb::WatchRequest req;
    int64_t id = 0;
    while (stream->Read(&req)) {
      etcdserverpb::WatchResponse created;
      created.set_watch_id(id);
      created.set_created(true);
      stream->Write(created);
      etcdserverpb::WatchResponse ev;
      ev.set_watch_id(id);
      auto* e = ev.add_events();
      e->mutable_kv()->set_key(req.create_request().key());
      e->mutable_kv()->set_mod_revision(3);
      stream->Write(ev);
      ++id;
    }
    // The send side is closed; the stream stays open, as etcd's does.
    for (int i = 0; i < 500 && !ctx->IsCancelled(); ++i) std::this_thread::sleep_for(10ms);
    std::lock_guard l(mu);
    cancelled = ctx->IsCancelled();
    done = true;
    cv.notify_all();
    return grpc::Status::OK;
  }

  bool wait_done() {
    std::unique_lock l(mu);
    return cv.wait_for(l, 10s, [&] { return done; });
  }

  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  bool cancelled = false;
};

class Recorder : public http::Responder {
 public:
  void respond(http::Response r) override {
    std::lock_guard l(mu_);
    response = std::move(r);
    complete = true;
    cv_.notify_all();
  }
  void start_stream(int status, std::string content_type, http::Headers headers) override {
    std::lock_guard l(mu_);
    response.status = status;
    response.content_type = std::move(content_type);
    response.headers = std::move(headers);
    streaming = true;
  }
  bool write(std::string chunk) override {
    std::lock_guard l(mu_);
    chunks.push_back(std::move(chunk));
    cv_.notify_all();
    return accept_writes;
  }
  void finish() override {
    std::lock_guard l(mu_);
    complete = true;
    cv_.notify_all();
  }
  void on_cancel(std::function<void()> f) override {
    std::lock_guard l(mu_);
    cancel_fn = std::move(f);
  }
  bool cancelled() const override { return false; }

  bool wait_complete() {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, 10s, [&] { return complete; });
  }
  bool wait_chunks(size_t n) {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, 10s, [&] { return chunks.size() >= n; });
  }
  // The client goes away.
  void disconnect() {
    std::function<void()> f;
    {
      std::lock_guard l(mu_);
      f = cancel_fn;
    }
    ASSERT_TRUE(f);
    f();
  }

  http::Response response;
  std::vector<std::string> chunks;
  bool complete = false;
  bool streaming = false;
  bool accept_writes = true;
  std::function<void()> cancel_fn;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
};

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder b;
    b.RegisterService(&kv_);
    b.RegisterService(&watch_);
    server_ = b.BuildAndStart();
    gateway_ = std::make_unique<Gateway>(server_->InProcessChannel(grpc::ChannelArguments()));
  }
  void TearDown() override {
    gateway_.reset();
    server_->Shutdown(std::chrono::system_clock::now() + 2s);
  }

  std::shared_ptr<Recorder> post(std::string path, std::string body, std::string token = "",
                                 std::string method = "POST") {
    http::Request req;
    req.method = std::move(method);
    req.path = std::move(path);
    req.target = req.path;
    req.body = std::move(body);
    if (!token.empty()) req.headers.emplace_back("authorization", token);
    auto rec = std::make_shared<Recorder>();
    gateway_->handle(std::move(req), rec);
    return rec;
  }

  FakeKv kv_;
  FakeWatch watch_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Gateway> gateway_;
};

TEST_F(GatewayTest, UnaryCallAsJson) {
  auto rec = post("/v3/kv/range", "{\"key\":\"Zm9v\",\"limit\":\"5\",\"sort_order\":\"DESCEND\"}",
                  "tok123");
  ASSERT_TRUE(rec->wait_complete());
  EXPECT_EQ(rec->response.status, 200);
  EXPECT_EQ(rec->response.content_type, "application/json");
  EXPECT_EQ(rec->response.body,
            "{\"header\":{\"cluster_id\":\"14841639068965178418\",\"revision\":\"9000000000\"},"
            "\"kvs\":[{\"key\":\"Zm9v\",\"mod_revision\":\"5\",\"value\":\"AP8=\"}],"
            "\"count\":\"1\"}");
  std::lock_guard l(kv_.mu);
  EXPECT_EQ(kv_.last_range.key(), "foo");
  EXPECT_EQ(kv_.last_range.limit(), 5);
  EXPECT_EQ(kv_.last_range.sort_order(), etcdserverpb::RangeRequest::DESCEND);
  EXPECT_EQ(kv_.token, "tok123");
}

TEST_F(GatewayTest, V3betaIsAnAlias) {
  auto rec = post("/v3beta/kv/range", "{\"key\":\"YmFy\"}");
  ASSERT_TRUE(rec->wait_complete());
  EXPECT_EQ(rec->response.status, 200);
  std::lock_guard l(kv_.mu);
  EXPECT_EQ(kv_.last_range.key(), "bar");
  EXPECT_EQ(kv_.token, "");
}

TEST_F(GatewayTest, BadRequestsAnsweredWithoutACall) {
  auto rec = post("/v3/kv/range", "{\"key\":");
  ASSERT_TRUE(rec->wait_complete());
  EXPECT_EQ(rec->response.status, 400);
  EXPECT_EQ(rec->response.content_type, "application/json");
  EXPECT_EQ(rec->response.body,
            "{\"error\":\"unexpected EOF\",\"message\":\"unexpected EOF\",\"code\":3}");
  rec = post("/v3/kv/range", "{\"key\":1}");
  ASSERT_TRUE(rec->wait_complete());
  EXPECT_EQ(rec->response.status, 400);
  EXPECT_EQ(rec->response.body,
            "{\"error\":\"json: cannot unmarshal number into Go value of type []uint8\","
            "\"message\":\"json: cannot unmarshal number into Go value of type []uint8\","
            "\"code\":3}");
  {
    std::lock_guard l(kv_.mu);
    EXPECT_EQ(kv_.last_range.key(), "");  // nothing reached the server
  }
  rec = post("/v3/kv/range", "", "", "GET");
  ASSERT_TRUE(rec->wait_complete());
  EXPECT_EQ(rec->response.status, 405);
  EXPECT_EQ(rec->response.body, "Method Not Allowed\n");
  EXPECT_EQ(rec->response.content_type, "text/plain; charset=utf-8");
  rec = post("/v3/kv/nope", "{}");
  ASSERT_TRUE(rec->wait_complete());
  EXPECT_EQ(rec->response.status, 404);
  EXPECT_EQ(rec->response.body, "Not Found\n");
}

TEST_F(GatewayTest, CommonNameRefusedWhenAsked) {
  bool refuse = true;
  Gateway g(server_->InProcessChannel(grpc::ChannelArguments()), [&] { return refuse; });
  auto send = [&](bool tls, std::string cn) {
    http::Request req;
    req.method = "POST";
    req.path = "/v3beta/kv/range";
    req.body = "{\"key\":\"Zm9v\"}";
    req.tls = tls;
    req.cn = std::move(cn);
    auto rec = std::make_shared<Recorder>();
    g.handle(std::move(req), rec);
    EXPECT_TRUE(rec->wait_complete());
    return rec->response;
  };
  http::Response r = send(true, "client1");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body,
            "CommonName of client sending a request against gateway will be ignored and not used "
            "as expected\n");
  EXPECT_EQ(send(true, "").status, 200);
  EXPECT_EQ(send(false, "").status, 200);
  refuse = false;
  EXPECT_EQ(send(true, "client1").status, 200);
}

TEST_F(GatewayTest, GrpcTimeoutHeader) {
  auto with_timeout = [&](std::string tm) {
    http::Request req;
    req.method = "POST";
    req.path = "/v3/kv/range";
    req.body = "{\"key\":\"Zm9v\"}";
    req.headers.emplace_back("grpc-timeout", tm);
    auto rec = std::make_shared<Recorder>();
    gateway_->handle(std::move(req), rec);
    EXPECT_TRUE(rec->wait_complete());
    return rec->response;
  };
  http::Response r = with_timeout("abc");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body,
            "{\"error\":\"invalid grpc-timeout: abc\",\"message\":\"invalid grpc-timeout: "
            "abc\",\"code\":3}");
  r = with_timeout("-1S");
  EXPECT_EQ(r.status, 504);
  EXPECT_EQ(r.body,
            "{\"error\":\"context deadline exceeded\",\"message\":\"context deadline "
            "exceeded\",\"code\":4}");
  EXPECT_EQ(with_timeout("5S").status, 200);
  EXPECT_EQ(with_timeout("0S").status, 200);
}

TEST_F(GatewayTest, GrpcErrorsMapped) {
  auto rec = post("/v3/kv/deleterange", "{\"key\":\"Zm9v\"}");
  ASSERT_TRUE(rec->wait_complete());
  EXPECT_EQ(rec->response.status, 403);
  EXPECT_EQ(rec->response.body,
            "{\"error\":\"etcdserver: permission denied\",\"message\":\"etcdserver: permission "
            "denied\",\"code\":7}");
  rec = post("/v3/kv/compaction", "{\"revision\":\"100\"}");
  ASSERT_TRUE(rec->wait_complete());
  EXPECT_EQ(rec->response.status, 400);
  EXPECT_NE(rec->response.body.find("\"code\":11"), std::string::npos);
  // A service the server does not have.
  rec = post("/v3/lock/lock", "{\"name\":\"bA==\"}");
  ASSERT_TRUE(rec->wait_complete());
  EXPECT_EQ(rec->response.status, 501);
  EXPECT_NE(rec->response.body.find("\"code\":12"), std::string::npos);
  EXPECT_EQ(Gateway::http_status(16), 401);
  EXPECT_EQ(Gateway::http_status(5), 404);
  EXPECT_EQ(Gateway::http_status(9), 412);
  EXPECT_EQ(Gateway::http_status(14), 503);
}

TEST_F(GatewayTest, WatchStreamsLinesUntilTheClientGoes) {
  auto rec =
      post("/v3/watch",
           "{\"create_request\":{\"key\":\"YQ==\"}}\n{\"create_request\":{\"key\":\"Yg==\"}}");
  ASSERT_TRUE(rec->wait_chunks(4));
  {
    EXPECT_TRUE(rec->streaming);
    EXPECT_EQ(rec->response.status, 200);
    EXPECT_EQ(rec->chunks[0], "{\"result\":{\"created\":true}}\n");
    EXPECT_EQ(rec->chunks[1],
              "{\"result\":{\"events\":[{\"kv\":{\"key\":\"YQ==\",\"mod_revision\":\"3\"}}]}}\n");
    EXPECT_EQ(rec->chunks[2], "{\"result\":{\"watch_id\":\"1\",\"created\":true}}\n");
  }
  EXPECT_FALSE(rec->complete);
  rec->disconnect();
  ASSERT_TRUE(watch_.wait_done());
  EXPECT_TRUE(watch_.cancelled);
}

TEST_F(GatewayTest, DestroyingTheGatewayCancelsItsCalls) {
  auto rec = post("/v3/watch", "{\"create_request\":{\"key\":\"YQ==\"}}");
  ASSERT_TRUE(rec->wait_chunks(2));
  gateway_.reset();  // returns once the call is gone
  ASSERT_TRUE(watch_.wait_done());
  EXPECT_TRUE(watch_.cancelled);
  EXPECT_TRUE(rec->complete);
}

TEST_F(GatewayTest, SlowStreamReaderCancelsTheCall) {
  auto rec = std::make_shared<Recorder>();
  rec->accept_writes = false;
  http::Request req;
  req.method = "POST";
  req.path = "/v3/watch";
  req.body = "{\"create_request\":{\"key\":\"YQ==\"}}";
  gateway_->handle(std::move(req), rec);
  ASSERT_TRUE(watch_.wait_done());
  EXPECT_TRUE(watch_.cancelled);
}

TEST_F(GatewayTest, WatchBadFirstRequestIsUnknown) {
  auto rec = post("/v3/watch", "{\"create_request\":{\"key\":1}}");
  ASSERT_TRUE(rec->wait_complete());
  EXPECT_EQ(rec->response.status, 500);
  EXPECT_EQ(rec->response.body,
            "{\"error\":\"json: cannot unmarshal number into Go value of type []uint8\","
            "\"message\":\"json: cannot unmarshal number into Go value of type []uint8\","
            "\"code\":2}");
}

TEST_F(GatewayTest, StreamErrorBeforeAnyResult) {
  // The fake server has no Lease service: the call fails at once.
  auto rec = post("/v3/lease/keepalive", "{\"ID\":\"1\"}");
  ASSERT_TRUE(rec->wait_complete());
  EXPECT_EQ(rec->response.status, 501);
  EXPECT_EQ(rec->response.body.rfind("{\"error\":{\"grpc_code\":12,\"http_code\":501,", 0), 0u)
      << rec->response.body;
}

}  // namespace
}  // namespace etcd::rpc::gateway
