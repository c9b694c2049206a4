#include "metrics/grpc_metrics.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <sstream>

#include "etcdserverpb/rpc.grpc.pb.h"

namespace etcd::metrics {
namespace {

std::optional<double> sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

class FakeKv final : public etcdserverpb::KV::Service {
 public:
  grpc::Status Put(grpc::ServerContext*, const etcdserverpb::PutRequest*,
                   etcdserverpb::PutResponse* resp) override {
    resp->mutable_header()->set_revision(7);
    return grpc::Status::OK;
  }
  grpc::Status Range(grpc::ServerContext*, const etcdserverpb::RangeRequest*,
                     etcdserverpb::RangeResponse*) override {
    return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                        "etcdserver: mvcc: required revision is a future revision");
  }
};

// Answers every keep-alive with one response.
class FakeLease final : public etcdserverpb::Lease::Service {
 public:
  grpc::Status LeaseKeepAlive(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<etcdserverpb::LeaseKeepAliveResponse,
                               etcdserverpb::LeaseKeepAliveRequest>* stream) override {
    etcdserverpb::LeaseKeepAliveRequest req;
    while (stream->Read(&req)) {
      etcdserverpb::LeaseKeepAliveResponse resp;
      resp.set_id(req.id());
      resp.set_ttl(5);
      stream->Write(resp);
    }
    return grpc::Status::OK;
  }
};

struct Server {
  explicit Server(GrpcServerMetrics& g) {
    grpc::ServerBuilder b;
    b.RegisterService(&kv);
    b.RegisterService(&lease);
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> f;
    f.push_back(g.factory());
    b.experimental().SetInterceptorCreators(std::move(f));
    server = b.BuildAndStart();
    channel = server->InProcessChannel(grpc::ChannelArguments());
  }
  ~Server() { server->Shutdown(); }
  FakeKv kv;
  FakeLease lease;
  std::unique_ptr<grpc::Server> server;
  std::shared_ptr<grpc::Channel> channel;
};

const std::vector<std::string> kServices = {"etcdserverpb.KV", "etcdserverpb.Lease",
                                            "etcdserverpb.Watch"};

TEST(GrpcServerMetrics, EveryMethodStartsAtZero) {
  Metrics m;
  GrpcServerMetrics g(m, kServices, false);
  std::string text = m.scrape();
  EXPECT_EQ(sample(text,
                   "grpc_server_started_total{grpc_method=\"Put\",grpc_service=\"etcdserverpb.KV\","
                   "grpc_type=\"unary\"}"),
            0);
  EXPECT_EQ(sample(text,
                   "grpc_server_handled_total{grpc_code=\"Unauthenticated\",grpc_method="
                   "\"Compact\",grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"}"),
            0);
  EXPECT_EQ(sample(text,
                   "grpc_server_msg_sent_total{grpc_method=\"Watch\",grpc_service=\"etcdserverpb."
                   "Watch\",grpc_type=\"bidi_stream\"}"),
            0);
  EXPECT_EQ(sample(text,
                   "grpc_server_msg_received_total{grpc_method=\"LeaseKeepAlive\",grpc_service="
                   "\"etcdserverpb.Lease\",grpc_type=\"bidi_stream\"}"),
            0);
  // Without --metrics extensive, no handling-time histogram.
  EXPECT_EQ(text.find("grpc_server_handling_seconds"), std::string::npos);
  EXPECT_NE(g.find("/etcdserverpb.KV/Put"), nullptr);
  EXPECT_EQ(g.find("/etcdserverpb.KV/Nope"), nullptr);
}

TEST(GrpcServerMetrics, CountsUnaryCallsByCode) {
  Metrics m;
  GrpcServerMetrics g(m, kServices, true);
  Server s(g);
  auto kv = etcdserverpb::KV::NewStub(s.channel);
  for (int i = 0; i < 2; ++i) {
    grpc::ClientContext ctx;
    etcdserverpb::PutRequest req;
    req.set_key("foo");
    req.set_value("bar");
    etcdserverpb::PutResponse resp;
    ASSERT_TRUE(kv->Put(&ctx, req, &resp).ok());
  }
  {
    grpc::ClientContext ctx;
    etcdserverpb::RangeRequest req;
    etcdserverpb::RangeResponse resp;
    EXPECT_EQ(kv->Range(&ctx, req, &resp).error_code(), grpc::StatusCode::OUT_OF_RANGE);
  }
  std::string text = m.scrape();
  const std::string put =
      "grpc_method=\"Put\",grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"";
  const std::string range =
      "grpc_method=\"Range\",grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"";
  EXPECT_EQ(sample(text, "grpc_server_started_total{" + put + "}"), 2);
  EXPECT_EQ(sample(text, "grpc_server_handled_total{grpc_code=\"OK\"," + put + "}"), 2);
  EXPECT_EQ(sample(text, "grpc_server_msg_received_total{" + put + "}"), 2);
  EXPECT_EQ(sample(text, "grpc_server_msg_sent_total{" + put + "}"), 2);
  EXPECT_EQ(sample(text, "grpc_server_handled_total{grpc_code=\"OutOfRange\"," + range + "}"), 1);
  EXPECT_EQ(sample(text, "grpc_server_handled_total{grpc_code=\"OK\"," + range + "}"), 0);
  // A failed unary call sends no message.
  EXPECT_EQ(sample(text, "grpc_server_msg_sent_total{" + range + "}"), 0);
  EXPECT_EQ(sample(text, "grpc_server_handling_seconds_count{" + put + "}"), 2);
  EXPECT_EQ(sample(text, "grpc_server_handling_seconds_bucket{" + put + ",le=\"10\"}"), 2);
  // Message bytes: each PutRequest is 10 bytes ("foo", "bar" with tags and
  // lengths); each response a header with a revision (4 bytes).
  EXPECT_EQ(sample(text, "etcd_network_client_grpc_received_bytes_total"), 2 * 10 + 0);
  EXPECT_EQ(sample(text, "etcd_network_client_grpc_sent_bytes_total"), 2 * 4);
}

TEST(GrpcServerMetrics, CountsStreamMessages) {
  Metrics m;
  GrpcServerMetrics g(m, kServices, false);
  Server s(g);
  auto lease = etcdserverpb::Lease::NewStub(s.channel);
  grpc::ClientContext ctx;
  auto stream = lease->LeaseKeepAlive(&ctx);
  for (int i = 1; i <= 3; ++i) {
    etcdserverpb::LeaseKeepAliveRequest req;
    req.set_id(i);
    ASSERT_TRUE(stream->Write(req));
    etcdserverpb::LeaseKeepAliveResponse resp;
    ASSERT_TRUE(stream->Read(&resp));
    EXPECT_EQ(resp.id(), i);
  }
  stream->WritesDone();
  ASSERT_TRUE(stream->Finish().ok());
  std::string text = m.scrape();
  const std::string l =
      "grpc_method=\"LeaseKeepAlive\",grpc_service=\"etcdserverpb.Lease\",grpc_type=\"bidi_"
      "stream\"";
  EXPECT_EQ(sample(text, "grpc_server_started_total{" + l + "}"), 1);
  EXPECT_EQ(sample(text, "grpc_server_msg_received_total{" + l + "}"), 3);  // not the half-close
  EXPECT_EQ(sample(text, "grpc_server_msg_sent_total{" + l + "}"), 3);
  EXPECT_EQ(sample(text, "grpc_server_handled_total{grpc_code=\"OK\"," + l + "}"), 1);
}

}  // namespace
}  // namespace etcd::metrics
