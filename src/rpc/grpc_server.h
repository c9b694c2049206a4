// The client API over gRPC: thin adapters from etcd's services to the
// EtcdServer, with the error mapping in one place (Status codes are gRPC's
// codes, and the messages are etcd's).
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/status.h"
#include "metrics/grpc_metrics.h"
#include "metrics/metrics_handler.h"
#include "rpc/client_http.h"
#include "rpc/client_listener.h"
#include "rpc/http/access.h"
#include "rpc/tls/tls.h"
#include "server/config/config.h"
#include "server/etcd_server.h"

namespace etcd::rpc {

namespace gateway {
class Gateway;
}

class WatchServiceBase;
class SelfClient;

grpc::Status to_grpc(const Status& s);

// The caller of a request: the user of its token (or of its client
// certificate), or etcd's error for a bad token. Called only by the RPCs
// for which etcd looks at the credentials: Status, MoveLeader, MemberList,
// LeaseLeases and LeaseKeepAlive ignore them, as etcd's do.
Result<server::Caller> caller_of(const grpc::ServerContextBase& ctx, server::EtcdServer& s);
// etcd's answer to a learner asked for anything but a serializable read or
// its status.
inline grpc::Status learner_unsupported() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "etcdserver: rpc not supported for learner");
}

// "http://127.0.0.1:2379" or "https://..." -> "127.0.0.1:2379";
// "unix://p" or "unixs://p" -> "unix:p".
Result<std::string> listen_address(const std::string& url);
// https:// and unixs:// URLs: served through TLS.
bool is_secure_url(const std::string& url);

// Binds and releases each URL's address, so that a port another process
// holds fails at start-up with etcd's message ("listen tcp 127.0.0.1:2379:
// bind: address already in use"), before the data dir is touched.
Status check_listen(const std::string& url);

// The client side of a member: the gRPC services and the HTTP endpoints,
// on the client URLs (both protocols on each, the first bytes choosing),
// the --listen-client-http-urls (HTTP only; the client URLs then serve
// gRPC only) and the --listen-metrics-urls (/metrics and /health).
struct ClientServerOptions {
  std::vector<std::string> urls;          // --listen-client-urls
  std::vector<std::string> http_urls;     // --listen-client-http-urls
  std::vector<std::string> metrics_urls;  // --listen-metrics-urls
  uint64_t max_request_bytes = 1572864;
  config::ServerConfig::GrpcKeepalive keepalive;
  // The client TLS context: required when any URL is https:// or unixs://.
  std::shared_ptr<tls::TlsContext> tls;
  // --metrics extensive: gRPC handling-time histograms.
  bool extensive_metrics = false;
  // --cors and --host-whitelist, for the client URLs' HTTP side.
  http::AccessPolicy access;
};

class ClientServer {
 public:
  // Binds every URL; fails if any cannot be bound.
  static Result<std::unique_ptr<ClientServer>> start(server::EtcdServer& server,
                                                     const ClientServerOptions& options,
                                                     log::Logger& logger);
  ~ClientServer();
  void shutdown();

  // The bound addresses of the client URLs, in their order (tests).
  std::vector<std::string> client_addresses() const;

 private:
  ClientServer() = default;
  // go-grpc-prometheus' series for every call (an interceptor), and GET
  // /metrics on the client and metrics routers: both outlive server_ and
  // the listeners.
  std::unique_ptr<metrics::GrpcServerMetrics> grpc_metrics_;
  std::unique_ptr<metrics::MetricsHandler> metrics_handler_;
  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<ClientHttp> http_;                        // its routers outlive the listeners
  std::unique_ptr<http::AccessHandler> access_;             // before http_'s client router
  std::unique_ptr<gateway::Gateway> gateway_;               // in http_'s client router
  std::vector<std::unique_ptr<ClientListener>> listeners_;  // hand connections to server_
  WatchServiceBase* watch_ = nullptr;                       // in services_
  std::shared_ptr<SelfClient> self_client_;                 // Lock and Election's client
};

}  // namespace etcd::rpc
