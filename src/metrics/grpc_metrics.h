// go-grpc-prometheus' server metrics, as etcd exports them:
// grpc_server_started_total, grpc_server_handled_total (with grpc_code),
// grpc_server_msg_received_total, grpc_server_msg_sent_total, and with
// --metrics extensive the grpc_server_handling_seconds histogram; labels
// grpc_type (unary, client_stream, server_stream, bidi_stream),
// grpc_service ("etcdserverpb.KV") and grpc_method ("Put"). Also counts
// etcd_network_client_grpc_{sent,received}_bytes_total (message sizes).
//
// A gRPC server interceptor: add factory() to the ServerBuilder's
// interceptor creators. Every method of the services named at construction
// has its series created at zero up front (as go-grpc-prometheus'
// InitializeMetrics), and each call looks its method up once, in a map
// built here and never changed (no lock).
#pragma once

#include <grpcpp/support/server_interceptor.h>

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "metrics/metrics.h"

namespace etcd::metrics {

// Go's names of the gRPC status codes, by code (0 = "OK" ... 16).
extern const std::array<const char*, 17> kGrpcCodeNames;

class GrpcServerMetrics {
 public:
  // `services`: full names of the services served ("etcdserverpb.KV"),
  // whose methods are read from the generated protobuf descriptors.
  // `handling_histogram`: --metrics extensive.
  GrpcServerMetrics(Metrics& metrics, const std::vector<std::string>& services,
                    bool handling_histogram);

  // A new factory for one ServerBuilder (the builder takes ownership); it
  // refers to this object, which must outlive the server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> factory();

  struct Method {
    prometheus::Counter* started = nullptr;
    std::array<prometheus::Counter*, 17> handled{};
    prometheus::Counter* msg_received = nullptr;
    prometheus::Counter* msg_sent = nullptr;
    prometheus::Histogram* handling = nullptr;  // null unless extensive
  };
  // The series of "/etcdserverpb.KV/Put"; null for a method not served.
  const Method* find(const char* path) const;
  Metrics& metrics() { return metrics_; }

 private:
  Metrics& metrics_;
  std::unordered_map<std::string, Method> methods_;  // by "/service/method"
};

}  // namespace etcd::metrics
