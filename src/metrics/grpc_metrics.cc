#include "metrics/grpc_metrics.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message_lite.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/interceptor.h>

namespace etcd::metrics {

const std::array<const char*, 17> kGrpcCodeNames = {
    "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
    "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
    "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
    "DataLoss", "Unauthenticated"};

namespace {

const char* grpc_type(bool client_streaming, bool server_streaming) {
  if (client_streaming && server_streaming) return "bidi_stream";
  if (client_streaming) return "client_stream";
  if (server_streaming) return "server_stream";
  return "unary";
}

using grpc::experimental::InterceptionHookPoints;

// One per call: created when the call starts, destroyed when it ends.
class CallInterceptor final : public grpc::experimental::Interceptor {
 public:
  CallInterceptor(Metrics& metrics, const GrpcServerMetrics::Method& m)
      : metrics_(metrics), m_(m), start_(std::chrono::steady_clock::now()) {
    m_.started->Increment();
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* b) override {
    if (b->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE)) {
      // Null when the read failed (the client half-closed the stream).
      if (const void* msg = b->GetRecvMessage()) {
        m_.msg_received->Increment();
        // Every message of our services is a generated protobuf message, of
        // which MessageLite is the first (and only) base.
        metrics_.client_grpc_received_bytes->Increment(static_cast<double>(
            static_cast<const google::protobuf::MessageLite*>(msg)->ByteSizeLong()));
      }
    }
    if (b->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_MESSAGE)) {
      m_.msg_sent->Increment();
      // gRPC serialises the message here rather than later: no extra work.
      if (grpc::ByteBuffer* buf = b->GetSerializedSendMessage()) {
        metrics_.client_grpc_sent_bytes->Increment(static_cast<double>(buf->Length()));
      }
    }
    if (b->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const size_t code = static_cast<size_t>(b->GetSendStatus().error_code());
      m_.handled[code < m_.handled.size() ? code : 2]->Increment();  // else Unknown
      if (m_.handling != nullptr) m_.handling->Observe(seconds_since(start_));
    }
    b->Proceed();
  }

 private:
  Metrics& metrics_;
  const GrpcServerMetrics::Method& m_;
  const std::chrono::steady_clock::time_point start_;
};

class Factory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit Factory(GrpcServerMetrics& g) : g_(g) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    const GrpcServerMetrics::Method* m = g_.find(info->method());
    if (m == nullptr) return nullptr;  // unknown method: gRPC answers Unimplemented
    return new CallInterceptor(g_.metrics(), *m);
  }

 private:
  GrpcServerMetrics& g_;
};

}  // namespace

GrpcServerMetrics::GrpcServerMetrics(Metrics& metrics, const std::vector<std::string>& services,
                                     bool handling_histogram)
    : metrics_(metrics) {
  auto& r = metrics.registry();
  auto& started = prometheus::BuildCounter()
                      .Name("grpc_server_started_total")
                      .Help("RPCs started on the server.")
                      .Register(r);
  auto& handled = prometheus::BuildCounter()
                      .Name("grpc_server_handled_total")
                      .Help("RPCs the server completed, by status code.")
                      .Register(r);
  auto& received = prometheus::BuildCounter()
                       .Name("grpc_server_msg_received_total")
                       .Help("Messages the server received on RPCs.")
                       .Register(r);
  auto& sent = prometheus::BuildCounter()
                   .Name("grpc_server_msg_sent_total")
                   .Help("Messages the server sent on RPCs.")
                   .Register(r);
  prometheus::Family<prometheus::Histogram>* handling = nullptr;
  if (handling_histogram) {
    handling = &prometheus::BuildHistogram()
                    .Name("grpc_server_handling_seconds")
                    .Help("How long the server took to complete RPCs.")
                    .Register(r);
  }
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const auto& name : services) {
    const auto* svc = pool->FindServiceByName(name);
    if (svc == nullptr) continue;
    for (int i = 0; i < svc->method_count(); ++i) {
      const auto* md = svc->method(i);
      prometheus::Labels labels = {
          {"grpc_type", grpc_type(md->client_streaming(), md->server_streaming())},
          {"grpc_service", svc->full_name()},
          {"grpc_method", md->name()}};
      Method m;
      m.started = &started.Add(labels);
      for (size_t c = 0; c < kGrpcCodeNames.size(); ++c) {
        auto l = labels;
        l["grpc_code"] = kGrpcCodeNames[c];
        m.handled[c] = &handled.Add(l);
      }
      m.msg_received = &received.Add(labels);
      m.msg_sent = &sent.Add(labels);
      if (handling != nullptr) {
        m.handling =
            &handling->Add(labels, prometheus::Histogram::BucketBoundaries{
                                       0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
      }
      methods_.emplace("/" + svc->full_name() + "/" + md->name(), m);
    }
  }
}

const GrpcServerMetrics::Method* GrpcServerMetrics::find(const char* path) const {
  if (path == nullptr) return nullptr;
  auto it = methods_.find(path);
  return it == methods_.end() ? nullptr : &it->second;
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
GrpcServerMetrics::factory() {
  return std::make_unique<Factory>(*this);
}

}  // namespace etcd::metrics
