// The HTTP endpoints of the client port, of --listen-client-http-urls and
// of --listen-metrics-urls: /health (etcd 3.5), /livez and /readyz with
// their per-check paths (etcd 3.6), /version. The metrics and gateway
// handlers are registered here too, on the routers this class owns.
//
// Threads: the handlers run on the listeners' I/O threads and move the
// checks that block (a read through Raft) to a small TaskPool; a full
// pool answers 503 at once.
#pragma once

#include <memory>

#include "base/log.h"
#include "base/task_pool.h"
#include "rpc/http/http.h"
#include "rpc/v2http/server_v2_cluster.h"
#include "rpc/v2http/v2http.h"
#include "server/etcd_server.h"
#include "server/health.h"

namespace etcd::rpc {

class ClientHttp {
 public:
  ClientHttp(server::EtcdServer& server, log::Logger& logger);
  ~ClientHttp();

  // The client URLs' (or --listen-client-http-urls') router.
  http::Router& client_router() { return client_; }
  // --listen-metrics-urls: /metrics and /health only, as etcd.
  http::Router& metrics_router() { return metrics_; }

  // Waits for running checks and refuses new ones (before the server
  // stops). Idempotent.
  void stop() {
    if (v2_) v2_->stop();
    pool_.stop();
  }

 private:
  void health(http::Request req, std::shared_ptr<http::Responder> r);
  void checks(const std::vector<std::string>& names, http::Request req,
              std::shared_ptr<http::Responder> r);
  void version(http::Request req, std::shared_ptr<http::Responder> r);
  // Runs `fn` on the pool, or answers 503 when it is full.
  void off_thread(const std::shared_ptr<http::Responder>& r, std::function<void()> fn);

  server::EtcdServer& server_;
  log::Logger& logger_;
  server::HealthChecker checker_;
  TaskPool pool_;
  std::vector<std::unique_ptr<http::Handler>> handlers_;
  // --enable-v2: etcd's v2 API (null without it).
  std::unique_ptr<v2http::ServerV2Cluster> v2_cluster_;
  std::unique_ptr<v2http::V2Routes> v2_;
  http::Router client_;
  http::Router metrics_;
};

}  // namespace etcd::rpc
