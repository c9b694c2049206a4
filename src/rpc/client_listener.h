// The TLS side of the client port: our own acceptors for the https:// and
// unixs:// listen URLs. Each connection is a TLS handshake (the TlsContext
// of the client port, so renewed certificates apply to new connections),
// the client-certificate rules (check_peer), then its plaintext is handed
// to the gRPC server over a socket pair (grpc::AddInsecureChannelFromFd)
// and bytes are pumped both ways between the TLS stream and our end of the
// pair. http:// URLs stay on gRPC's own listener.
//
//   client ──TLS──▶ acceptor ─▶ Connection: handshake, check_peer
//                                   │ plaintext
//                                   ▼
//                      socketpair ──▶ gRPC (fd channel "fd:<n>")
//
// The step between "plaintext" and "gRPC" is Connection::serve_plaintext:
// the HTTP/1.1 issue puts its protocol sniffer there (HTTP/2 preface to
// gRPC, the rest to the HTTP server), on the same Connection.
//
// Threads: one I/O thread runs every acceptor and connection of a
// listener; connection state is touched only there. Memory per connection
// is bounded: two buffers of Options::buffer_bytes plus OpenSSL's state.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/status.h"
#include "rpc/tls/tls.h"

namespace etcd::rpc {

// The CN of the client certificate of the connection a call came on (""
// for a plain connection or one without a certificate). gRPC names the
// peer of an fd channel "fd:<n>"; the listener keeps the CN of each fd it
// hands over until the connection ends.
std::string client_cert_common_name(const grpc::ServerContext& ctx);
// The same, by gRPC's peer string.
std::string client_cert_common_name(const std::string& grpc_peer);

// gRPC polls the connections handed to it by fd only through the pollsets
// of a server that has a listening port of its own: a server without one
// leaves them stalled until its completion queues time out (10 s). A
// server whose only listeners are ours gets a Unix-socket port in a
// private temporary directory (add_hidden_port, before BuildAndStart),
// removed from the file system once the server runs (remove_hidden_port):
// the listening socket keeps the pollsets, and nothing can connect to it.
Result<std::string> add_hidden_port(grpc::ServerBuilder& builder);
void remove_hidden_port(const std::string& dir);

class ClientTlsListener {
 public:
  struct Options {
    std::vector<std::string> urls;  // https://host:port or unixs://path
    std::shared_ptr<tls::TlsContext> tls;
    grpc::Server* server = nullptr;  // outlives the listener's connections
    log::Logger* logger = nullptr;
    size_t buffer_bytes = 16 * 1024;  // per direction, per connection
    std::chrono::milliseconds handshake_timeout{10000};
  };

  // Binds every URL (fails, naming it, if one cannot be bound) and starts
  // the I/O thread.
  static Result<std::unique_ptr<ClientTlsListener>> start(Options options);
  ~ClientTlsListener();

  // The bound addresses, in the URLs' order ("127.0.0.1:2379", or the
  // socket path).
  const std::vector<std::string>& addresses() const { return addresses_; }
  // Connections open now (for tests).
  size_t connection_count() const;

  // Closes the acceptors; connections already up go on.
  void stop_accepting();
  // Closes every connection and joins the I/O thread (idempotent).
  void stop();

 private:
  class Impl;
  explicit ClientTlsListener(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::vector<std::string> addresses_;
};

}  // namespace etcd::rpc
