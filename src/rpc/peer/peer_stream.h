// One connection of the peer port, plain TCP or TLS over TCP, behind one
// type: the transport's coroutines and the member-to-member HTTP client
// read and write through it without knowing which (docs/peer-protocol.md,
// "TLS"). It is an Asio AsyncStream, so Beast's HTTP reads and writes take
// it as they take a beast::tcp_stream; the timeouts stay on the TCP layer.
#pragma once

#include <utility>  // before Asio (Boost 1.74 uses std::exchange unincluded)

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rpc/peer/http_client.h"

namespace etcd::rpc::peer {

class PeerStream {
 public:
  using executor_type = boost::beast::tcp_stream::executor_type;
  using TlsLayer = boost::beast::ssl_stream<boost::beast::tcp_stream>;

  // Not connected yet (a dial follows); TLS when `ctx` is set.
  PeerStream(const executor_type& ex, std::shared_ptr<boost::asio::ssl::context> ctx);
  // An accepted connection; TLS (the server's handshake follows) when `ctx`
  // is set.
  PeerStream(boost::asio::ip::tcp::socket sock, std::shared_ptr<boost::asio::ssl::context> ctx);

  PeerStream(PeerStream&&) = default;
  PeerStream& operator=(PeerStream&&) = delete;  // the stream it holds cannot be reassigned

  bool is_tls() const { return tls_ != nullptr; }
  boost::beast::tcp_stream& tcp() { return tls_ ? tls_->next_layer() : *plain_; }
  SSL* ssl() { return tls_ ? tls_->native_handle() : nullptr; }
  executor_type get_executor() { return tcp().get_executor(); }
  template <class Duration>
  void expires_after(Duration d) {
    tcp().expires_after(d);
  }
  void expires_never() { tcp().expires_never(); }
  // Closes the socket: pending operations end with operation_aborted.
  void close();
  // "127.0.0.1:53412", or "" when not connected.
  std::string remote_address();

  // Server side, before the handshake: keeps the certificate the peer
  // presents even when verifying it fails, so that the refusal can name it.
  void keep_peer_cert();
  // The peer's certificate (borrowed; nullptr when none): the verified
  // one, or the one kept by keep_peer_cert().
  X509* peer_cert();

  // Client side, before the handshake: the name sent as SNI and, when
  // `verify`, the name or address the server's certificate must carry.
  void expect_server(const std::string& host, bool verify);

  // The AsyncReadStream / AsyncWriteStream operations, forwarded to the
  // layer in use.
  template <class Buffers, class Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const Buffers& b) {
          if (tls_) {
            tls_->async_read_some(b, std::move(handler));
          } else {
            plain_->async_read_some(b, std::move(handler));
          }
        },
        token, buffers);
  }
  template <class Buffers, class Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const Buffers& b) {
          if (tls_) {
            tls_->async_write_some(b, std::move(handler));
          } else {
            plain_->async_write_some(b, std::move(handler));
          }
        },
        token, buffers);
  }
  // TLS only.
  template <class Token>
  auto async_handshake(boost::asio::ssl::stream_base::handshake_type type, Token&& token) {
    return tls_->async_handshake(type, std::forward<Token>(token));
  }

 private:
  std::shared_ptr<boost::asio::ssl::context> ctx_;  // outlives tls_
  std::optional<boost::beast::tcp_stream> plain_;   // set when not TLS
  std::unique_ptr<TlsLayer> tls_;                   // set when TLS
  struct Kept;
  std::unique_ptr<Kept, void (*)(Kept*)> kept_{nullptr, nullptr};  // keep_peer_cert()
};

// What a peer's certificate says, for the lines that name a refused peer:
// its subject, CN, IP and DNS SANs (empty when it sent none).
struct PeerCertInfo {
  std::string subject;
  std::string cn;
  std::vector<std::string> ip_addresses;
  std::vector<std::string> dns_names;
};
PeerCertInfo peer_cert_info(X509* cert);

// etcd's check of a peer's client certificate against the connection
// (skipped with --peer-client-cert-auth's --peer-skip-client-san-verify):
// a certificate naming IP or DNS SANs must name the remote address, or a
// name that resolves to it. kPermissionDenied otherwise.
Status check_cert_san(const PeerCertInfo& cert, const std::string& remote_ip);

// Resolves the URL's host and connects within `connect_timeout`, then, on
// a TLS stream, makes the client's handshake within `handshake_timeout`,
// verifying the server's certificate and its name when `verify_server`.
boost::asio::awaitable<boost::system::error_code> dial(
    PeerStream& stream, const HttpUrl& url, bool verify_server,
    std::chrono::milliseconds connect_timeout,
    std::chrono::milliseconds handshake_timeout = std::chrono::seconds(5));

// For https peer URLs when the member has no peer TLS of its own: the
// system's CAs verify the server (what Go's default client does).
std::shared_ptr<boost::asio::ssl::context> default_client_context();

}  // namespace etcd::rpc::peer
