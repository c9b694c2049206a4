#include "metrics/metrics_handler.h"

namespace etcd::metrics {

void MetricsHandler::handle(rpc::http::Request req,
                            std::shared_ptr<rpc::http::Responder> responder) {
  rpc::http::Response r;
  // Go's promhttp handler serves any method; HEAD gets no body.
  r.content_type = kTextContentType;
  if (req.method != "HEAD") r.body = metrics_.scrape();
  responder->respond(std::move(r));
}

}  // namespace etcd::metrics
