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
#include "rpc/client_listener.h"
#include "rpc/tls/tls.h"
#include "server/config/config.h"
#include "server/etcd_server.h"

namespace etcd::rpc {

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

class ClientServer {
 public:
  // Binds every URL; fails if any cannot be bound. http:// and unix://
  // URLs are gRPC's own listeners; https:// and unixs:// URLs go through
  // a ClientTlsListener with `tls` (required when there are any).
  static Result<std::unique_ptr<ClientServer>> start(
      server::EtcdServer& server, const std::vector<std::string>& urls, uint64_t max_request_bytes,
      const config::ServerConfig::GrpcKeepalive& keepalive, log::Logger& logger,
      std::shared_ptr<tls::TlsContext> tls = nullptr);
  ~ClientServer();
  void shutdown();

 private:
  ClientServer() = default;
  static Result<std::unique_ptr<ClientServer>> listen(
      const std::vector<std::string>& urls, std::vector<std::unique_ptr<grpc::Service>> services,
      uint64_t max_request_bytes, const config::ServerConfig::GrpcKeepalive& keepalive,
      log::Logger& logger, std::shared_ptr<tls::TlsContext> tls);
  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<ClientTlsListener> tls_listener_;  // hands connections to server_
  WatchServiceBase* watch_ = nullptr;                // in services_
  std::shared_ptr<SelfClient> self_client_;          // Lock and Election's client
  std::vector<std::string> addresses_;
};

}  // namespace etcd::rpc
