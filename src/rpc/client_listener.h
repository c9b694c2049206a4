// The client port's listeners: our own acceptors for every client, HTTP
// and metrics URL (http, https, unix, unixs). Each connection:
//
//   client ──[TLS: handshake, check_peer]──▶ first bytes?
//      "PRI * HTTP/2.0" (gRPC) ──▶ the gRPC server, as an fd channel
//                                   (plain: the socket itself; TLS: its
//                                   plaintext over a socket pair)
//      anything else (HTTP/1.1) ──▶ http::Session ──▶ the Router
//
// A plain connection is sniffed with MSG_PEEK, so gRPC gets the socket
// with nothing consumed and no copy; a TLS connection's plaintext is
// pumped between the TLS stream and our end of a socket pair
// (grpc::AddInsecureChannelFromFd). Renewed certificates apply to new
// connections (the TlsContext of the port).
//
// Threads: one I/O thread runs every acceptor and connection of a
// listener; connection state is touched only there. Memory per connection
// is bounded: two buffers of Options::buffer_bytes plus OpenSSL's state
// for TLS to gRPC; SessionLimits for HTTP.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/status.h"
#include "rpc/http/http.h"
#include "rpc/http/http_session.h"
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

class ClientListener {
 public:
  // What a listener's connections may speak.
  enum class Serve {
    kGrpcAndHttp,  // the client port: the first bytes choose
    kGrpcOnly,     // client URLs when --listen-client-http-urls is given
    kHttpOnly,     // --listen-client-http-urls, --listen-metrics-urls
  };
  struct Options {
    std::vector<std::string> urls;  // http(s)://host:port or unix(s)://path
    Serve serve = Serve::kGrpcAndHttp;
    std::shared_ptr<tls::TlsContext> tls;  // required for https:// and unixs://
    grpc::Server* server = nullptr;        // unless kHttpOnly; outlives the connections
    http::Handler* http = nullptr;         // unless kGrpcOnly; outlives the listener
    http::SessionLimits http_limits;
    log::Logger* logger = nullptr;
    size_t buffer_bytes = 16 * 1024;  // per direction, per TLS connection to gRPC
    // A TLS handshake, or the first bytes of a connection, must come within.
    std::chrono::milliseconds handshake_timeout{10000};
  };

  // Binds every URL (fails, naming it, if one cannot be bound) and starts
  // the I/O thread.
  static Result<std::unique_ptr<ClientListener>> start(Options options);
  ~ClientListener();

  // The bound addresses, in the URLs' order ("127.0.0.1:2379", or the
  // socket path).
  const std::vector<std::string>& addresses() const { return addresses_; }
  // Connections open now that the listener still serves: TLS connections
  // and HTTP sessions (a plain gRPC connection is gRPC's once sniffed).
  size_t connection_count() const;

  // Closes the acceptors; connections already up go on.
  void stop_accepting();
  // Closes every connection and joins the I/O thread (idempotent).
  void stop();

 private:
  class Impl;
  explicit ClientListener(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::vector<std::string> addresses_;
};

}  // namespace etcd::rpc
