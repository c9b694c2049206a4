// GET /metrics: the Prometheus text exposition format (version 0.0.4) of
// a Metrics, as etcd serves it on the client port and on
// --listen-metrics-urls.
#pragma once

#include <memory>

#include "metrics/metrics.h"
#include "rpc/http/http.h"

namespace etcd::metrics {

inline constexpr const char* kTextContentType = "text/plain; version=0.0.4; charset=utf-8";

class MetricsHandler final : public rpc::http::Handler {
 public:
  explicit MetricsHandler(Metrics& metrics) : metrics_(metrics) {}
  // Answers on the calling (I/O) thread: a scrape reads counters and a few
  // /proc files, and takes no lock a request path holds for long.
  void handle(rpc::http::Request req, std::shared_ptr<rpc::http::Responder> responder) override;

 private:
  Metrics& metrics_;
};

}  // namespace etcd::metrics
