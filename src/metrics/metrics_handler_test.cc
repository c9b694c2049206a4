#include "metrics/metrics_handler.h"

#include <gtest/gtest.h>

namespace etcd::metrics {
namespace {

class Recorder : public rpc::http::Responder {
 public:
  void respond(rpc::http::Response r) override { got = std::move(r); }
  void start_stream(int, std::string, rpc::http::Headers) override {}
  bool write(std::string) override { return true; }
  void finish() override {}
  void on_cancel(std::function<void()>) override {}
  bool cancelled() const override { return false; }
  std::optional<rpc::http::Response> got;
};

TEST(MetricsHandler, ServesTheTextFormat) {
  Metrics m;
  m.put_total->Increment(3);
  MetricsHandler h(m);
  auto rec = std::make_shared<Recorder>();
  rpc::http::Request req;
  req.method = "GET";
  req.path = req.target = "/metrics";
  h.handle(req, rec);
  ASSERT_TRUE(rec->got.has_value());
  EXPECT_EQ(rec->got->status, 200);
  EXPECT_EQ(rec->got->content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(rec->got->body.find("\netcd_mvcc_put_total 3\n"), std::string::npos);
  EXPECT_NE(rec->got->body.find("# TYPE process_cpu_seconds_total counter\n"), std::string::npos);
}

}  // namespace
}  // namespace etcd::metrics
