#include "rpc/client_listener.h"

#include <fcntl.h>
#include <grpcpp/server_posix.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <future>
#include <thread>
#include <unordered_map>

#include "base/assert.h"

namespace etcd::rpc {
namespace {

namespace asio = boost::asio;

// fd handed to gRPC -> (connection id, client certificate CN). The id
// keeps a closing connection from erasing the entry of a newer one that
// got the same fd number.
class CnRegistry {
 public:
  void put(int fd, uint64_t id, std::string cn) {
    MutexLock lock(&mu_);
    by_fd_[fd] = {id, std::move(cn)};
  }
  void erase(int fd, uint64_t id) {
    MutexLock lock(&mu_);
    auto it = by_fd_.find(fd);
    if (it != by_fd_.end() && it->second.first == id) by_fd_.erase(it);
  }
  std::string get(int fd) {
    MutexLock lock(&mu_);
    auto it = by_fd_.find(fd);
    return it == by_fd_.end() ? std::string() : it->second.second;
  }

 private:
  Mutex mu_;
  std::unordered_map<int, std::pair<uint64_t, std::string>> by_fd_ ABSL_GUARDED_BY(mu_);
};

CnRegistry& registry() {
  static CnRegistry* r = new CnRegistry();  // never destroyed: gRPC threads may ask late
  return *r;
}

std::atomic<uint64_t> next_connection_id{1};

std::string endpoint_text(const asio::ip::tcp::endpoint& ep) {
  auto addr = ep.address();
  std::string host = addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
  return host + ":" + std::to_string(ep.port());
}
std::string endpoint_text(const asio::local::stream_protocol::endpoint& ep) { return ep.path(); }

}  // namespace

std::string client_cert_common_name(const std::string& grpc_peer) {
  if (grpc_peer.rfind("fd:", 0) != 0) return "";
  int fd = 0;
  for (size_t i = 3; i < grpc_peer.size(); ++i) {
    char c = grpc_peer[i];
    if (c < '0' || c > '9') return "";
    fd = fd * 10 + (c - '0');
  }
  return registry().get(fd);
}

std::string client_cert_common_name(const grpc::ServerContext& ctx) {
  return client_cert_common_name(ctx.peer());
}

Result<std::string> add_hidden_port(grpc::ServerBuilder& builder) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "etcd-grpc-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    return Status(Code::kUnavailable, "mkdtemp " + tmpl + ": " + std::strerror(errno));
  }
  builder.AddListeningPort("unix:" + tmpl + "/s", grpc::InsecureServerCredentials());
  return tmpl;
}

void remove_hidden_port(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

// The HTTP/2 connection preface every gRPC client sends first.
constexpr std::string_view kH2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

enum class Sniffed { kNeedMore, kGrpc, kHttp };

// The first bytes of a connection decide: the HTTP/2 preface (4 bytes of
// it are enough: no HTTP/1.1 method is "PRI") is gRPC, anything else is
// HTTP/1.1.
Sniffed sniff(std::string_view first) {
  size_t n = std::min(first.size(), kH2Preface.size());
  if (first.substr(0, n) != kH2Preface.substr(0, n)) return Sniffed::kHttp;
  return n >= 4 ? Sniffed::kGrpc : Sniffed::kNeedMore;
}

class ClientListener::Impl : public http::ConnectionTable {
 public:
  explicit Impl(Options o) : options_(std::move(o)), work_(asio::make_work_guard(io_)) {}

  template <typename Protocol>
  class TlsConnection;
  template <typename Protocol>
  class PlainConnection;

  template <typename Protocol>
  struct Acceptor {
    typename Protocol::acceptor acceptor;
    asio::steady_timer retry;
    bool secure = false;
  };

  Status bind(const std::string& url, std::string* address);
  void run() {
    thread_ = std::thread([this] { io_.run(); });
  }
  void stop_accepting() {
    asio::post(io_, [this] {
      for (auto& a : tcp_) a->acceptor.close(), a->retry.cancel();
      for (auto& a : unix_) a->acceptor.close(), a->retry.cancel();
    });
  }
  void stop() {
    if (!thread_.joinable()) return;
    stop_accepting();
    asio::post(io_, [this] {
      // close() erases from the map: copy first.
      auto conns = conns_;
      for (auto& [id, close] : conns) close();
    });
    work_.reset();
    thread_.join();
  }
  size_t connection_count() {
    if (!thread_.joinable()) return conns_.size();
    std::promise<size_t> p;
    auto f = p.get_future();
    asio::post(io_, [&] { p.set_value(conns_.size()); });
    return f.get();
  }

  // http::ConnectionTable (I/O thread).
  uint64_t add(std::function<void()> close) override {
    uint64_t id = next_connection_id++;
    conns_[id] = std::move(close);
    return id;
  }
  void remove(uint64_t id) override { conns_.erase(id); }

  // Hands a connected socket to gRPC as an fd channel; `cn` is what
  // client_cert_common_name answers for its calls (set before gRPC can
  // see the fd, so a reused fd number never shows an older CN).
  void to_grpc(int fd, uint64_t id, const std::string& cn) {
    registry().put(fd, id, cn);
    // gRPC owns fd from here and closes it when the connection ends.
    grpc::AddInsecureChannelFromFd(options_.server, fd);
  }

  template <typename Stream>
  void to_http(std::unique_ptr<Stream> stream, std::string_view initial, std::string remote,
               bool tls, std::string cn, std::shared_ptr<void> keep) {
    auto s = std::make_shared<http::Session<Stream>>(
        io_, *this, *options_.http, options_.http_limits, std::move(stream), initial,
        std::move(remote), tls, std::move(cn), std::move(keep));
    s->start();
  }

  template <typename Protocol>
  void accept(Acceptor<Protocol>& a);

  Options options_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  std::vector<std::unique_ptr<Acceptor<asio::ip::tcp>>> tcp_;
  std::vector<std::unique_ptr<Acceptor<asio::local::stream_protocol>>> unix_;
  // Open connections by id -> how to close one. I/O thread only.
  std::unordered_map<uint64_t, std::function<void()>> conns_;
};

// A plain connection: its first bytes are peeked at (MSG_PEEK), then the
// socket itself goes to gRPC or to an HTTP session.
template <typename Protocol>
class ClientListener::Impl::PlainConnection
    : public std::enable_shared_from_this<ClientListener::Impl::PlainConnection<Protocol>> {
 public:
  using Socket = typename Protocol::socket;
  PlainConnection(Impl& owner, Socket socket)
      : owner_(owner), socket_(std::move(socket)), timer_(owner.io_) {}

  void start() {
    boost::system::error_code ec;
    auto remote = socket_.remote_endpoint(ec);
    remote_ = ec ? std::string() : endpoint_text(remote);
    switch (owner_.options_.serve) {
      case Serve::kGrpcOnly:
        return grpc();
      case Serve::kHttpOnly:
        return http();
      case Serve::kGrpcAndHttp:
        break;
    }
    auto self = this->shared_from_this();
    id_ = owner_.add([self] { self->close(); });
    deadline_ = std::chrono::steady_clock::now() + owner_.options_.handshake_timeout;
    wait();
  }

 private:
  void wait() {
    auto self = this->shared_from_this();
    socket_.async_wait(asio::socket_base::wait_read,
                       [self](boost::system::error_code ec) { self->on_readable(ec); });
  }

  void on_readable(boost::system::error_code ec) {
    if (closed_) return;
    if (ec) return close();
    char buf[kH2Preface.size()];
    ssize_t n = ::recv(socket_.native_handle(), buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return close();  // gone before a byte
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return wait();
      return close();
    }
    switch (sniff(std::string_view(buf, static_cast<size_t>(n)))) {
      case Sniffed::kGrpc:
        owner_.remove(id_);
        return grpc();
      case Sniffed::kHttp:
        owner_.remove(id_);
        return http();
      case Sniffed::kNeedMore:
        break;
    }
    // Fewer than 4 bytes, all of them the preface's: the bytes stay
    // readable, so poll again shortly (bounded by the deadline).
    if (std::chrono::steady_clock::now() > deadline_) return close();
    timer_.expires_after(std::chrono::milliseconds(2));
    auto self = this->shared_from_this();
    timer_.async_wait([self](boost::system::error_code ec) {
      if (ec || self->closed_) return;
      self->on_readable({});
    });
  }

  void grpc() {
    closed_ = true;
    // A fresh id for the fd's CN entry (none: a plain connection).
    owner_.to_grpc(socket_.release(), next_connection_id++, "");
  }

  void http() {
    closed_ = true;
    owner_.to_http(std::make_unique<Socket>(std::move(socket_)), {}, remote_, false, "", nullptr);
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    timer_.cancel();
    boost::system::error_code ignored;
    socket_.shutdown(asio::socket_base::shutdown_both, ignored);
    socket_.close(ignored);
    owner_.remove(id_);
  }

  Impl& owner_;
  Socket socket_;
  asio::steady_timer timer_;
  std::string remote_;
  uint64_t id_ = 0;
  std::chrono::steady_clock::time_point deadline_;
  bool closed_ = false;
};

template <typename Protocol>
class ClientListener::Impl::TlsConnection
    : public std::enable_shared_from_this<ClientListener::Impl::TlsConnection<Protocol>> {
 public:
  using Socket = typename Protocol::socket;
  using Stream = asio::ssl::stream<Socket>;
  TlsConnection(Impl& owner, Socket socket, std::shared_ptr<asio::ssl::context> ctx)
      : owner_(owner),
        ctx_(std::move(ctx)),
        tls_(std::make_unique<Stream>(std::move(socket), *ctx_)),
        plain_(owner.io_),
        timer_(owner.io_),
        up_(owner.options_.buffer_bytes),
        down_(owner.options_.buffer_bytes) {}

  void start() {
    boost::system::error_code ec;
    auto remote = tls_->lowest_layer().remote_endpoint(ec);
    remote_ = ec ? std::string() : endpoint_text(remote);
    auto self = this->shared_from_this();
    id_ = owner_.add([self] { self->close(); });
    timer_.expires_after(owner_.options_.handshake_timeout);
    timer_.async_wait([self](boost::system::error_code ec) {
      if (!ec && !self->sniffed_) {
        if (self->handshaken_) return self->close();  // no first bytes in time
        self->reject("tls: handshake timed out");
      }
    });
    tls_->async_handshake(asio::ssl::stream_base::server,
                          [self](boost::system::error_code ec) { self->on_handshake(ec); });
  }

 private:
  void on_handshake(boost::system::error_code ec) {
    if (closed_) return;
    if (ec) {
      timer_.cancel();
      // OpenSSL's handshake error says "certificate verify failed"; the
      // verification result says why (expired, revoked, unknown CA...).
      long verify = SSL_get_verify_result(tls_->native_handle());
      if (verify == X509_V_ERR_APPLICATION_VERIFICATION) {
        // The allowed CN / hostname rule (etcd's wording).
        reject("client certificate authentication failed");
      } else if (verify != X509_V_OK) {
        reject(std::string("tls: failed to verify client certificate: ") +
               X509_verify_cert_error_string(verify));
      } else {
        reject(ec.message());
      }
      return;
    }
    handshaken_ = true;
    auto cn = owner_.options_.tls->check_peer(tls_->native_handle());
    if (!cn.is_ok()) {
      timer_.cancel();
      reject(cn.status().message());
      return;
    }
    cn_ = *cn;
    switch (owner_.options_.serve) {
      case Serve::kGrpcOnly:
        return serve_grpc(0);
      case Serve::kHttpOnly:
        return serve_http(0);
      case Serve::kGrpcAndHttp:
        return read_first_bytes(0);
    }
  }

  // The plaintext's first bytes choose gRPC or HTTP (within the handshake
  // deadline, which is still running).
  void read_first_bytes(size_t have) {
    auto self = this->shared_from_this();
    tls_->async_read_some(asio::buffer(up_.data() + have, up_.size() - have),
                          [self, have](boost::system::error_code ec, size_t n) {
                            if (ec || self->closed_) return self->close();
                            size_t total = have + n;
                            switch (sniff(std::string_view(self->up_.data(), total))) {
                              case Sniffed::kGrpc:
                                return self->serve_grpc(total);
                              case Sniffed::kHttp:
                                return self->serve_http(total);
                              case Sniffed::kNeedMore:
                                return self->read_first_bytes(total);
                            }
                          });
  }

  // The rest of the connection is an HTTP session on the TLS stream, with
  // the first `initial` bytes of up_ already read.
  void serve_http(size_t initial) {
    sniffed_ = true;
    timer_.cancel();
    closed_ = true;  // the session owns the stream from here
    owner_.remove(id_);
    owner_.to_http(std::move(tls_), std::string_view(up_.data(), initial), remote_, true, cn_,
                   ctx_);
  }

  // The plaintext goes to gRPC over a socket pair, the first `initial`
  // bytes of up_ first.
  void serve_grpc(size_t initial) {
    sniffed_ = true;
    timer_.cancel();
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
      owner_.options_.logger->warn("cannot hand a client connection to gRPC",
                                   {{"remote-addr", remote_}, {"error", std::strerror(errno)}});
      close();
      return;
    }
    boost::system::error_code ec;
    plain_.assign(asio::local::stream_protocol(), fds[0], ec);
    if (ec) {
      ::close(fds[0]);
      ::close(fds[1]);
      close();
      return;
    }
    grpc_fd_ = fds[1];
    owner_.to_grpc(grpc_fd_, id_, cn_);
    read_plain();
    if (initial == 0) return read_tls();
    auto self = this->shared_from_this();
    asio::async_write(plain_, asio::buffer(up_.data(), initial),
                      [self](boost::system::error_code ec, size_t) {
                        if (ec || self->closed_) return self->close();
                        self->read_tls();
                      });
  }

  // client -> gRPC
  void read_tls() {
    auto self = this->shared_from_this();
    tls_->async_read_some(asio::buffer(up_), [self](boost::system::error_code ec, size_t n) {
      if (ec || self->closed_) return self->close();
      asio::async_write(self->plain_, asio::buffer(self->up_.data(), n),
                        [self](boost::system::error_code ec, size_t) {
                          if (ec || self->closed_) return self->close();
                          self->read_tls();
                        });
    });
  }

  // gRPC -> client. gRPC closing its end (after its GOAWAY, which was
  // read and forwarded first) ends the connection.
  void read_plain() {
    auto self = this->shared_from_this();
    plain_.async_read_some(asio::buffer(down_), [self](boost::system::error_code ec, size_t n) {
      if (ec || self->closed_) return self->close();
      asio::async_write(*self->tls_, asio::buffer(self->down_.data(), n),
                        [self](boost::system::error_code ec, size_t) {
                          if (ec || self->closed_) return self->close();
                          self->read_plain();
                        });
    });
  }

  // etcd's "rejected connection" warning for a failed handshake or a
  // client certificate the rules refuse.
  void reject(const std::string& error) {
    SSL* ssl = tls_->native_handle();
    const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    log::Fields fields = {{"remote-addr", remote_}, {"server-name", sni != nullptr ? sni : ""}};
    if (X509* cert = SSL_get0_peer_certificate(ssl)) {
      std::vector<std::string> ips, dns;
      auto* names = static_cast<GENERAL_NAMES*>(
          X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
      for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
        const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
        if (gn->type == GEN_DNS) {
          const auto* s = gn->d.dNSName;
          dns.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                           static_cast<size_t>(ASN1_STRING_length(s)));
        } else if (gn->type == GEN_IPADD) {
          const auto* s = gn->d.iPAddress;
          const unsigned char* p = ASN1_STRING_get0_data(s);
          if (ASN1_STRING_length(s) == 4) {
            ips.push_back(
                asio::ip::make_address_v4(asio::ip::address_v4::bytes_type{p[0], p[1], p[2], p[3]})
                    .to_string());
          } else if (ASN1_STRING_length(s) == 16) {
            asio::ip::address_v6::bytes_type b;
            std::memcpy(b.data(), p, 16);
            ips.push_back(asio::ip::make_address_v6(b).to_string());
          }
        }
      }
      GENERAL_NAMES_free(names);
      fields.push_back({"ip-addresses", ips});
      fields.push_back({"dns-names", dns});
    }
    fields.push_back({"error", error});
    owner_.options_.logger->warn("rejected connection", fields);
    close();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    timer_.cancel();
    boost::system::error_code ignored;
    tls_->lowest_layer().shutdown(asio::socket_base::shutdown_both, ignored);
    tls_->lowest_layer().close(ignored);
    plain_.close(ignored);
    if (grpc_fd_ >= 0) registry().erase(grpc_fd_, id_);
    owner_.remove(id_);
  }

  Impl& owner_;
  std::shared_ptr<asio::ssl::context> ctx_;     // the context this connection was made with
  std::unique_ptr<Stream> tls_;                 // moved to the HTTP session if HTTP
  asio::local::stream_protocol::socket plain_;  // our end of the pair to gRPC
  asio::steady_timer timer_;
  uint64_t id_ = 0;
  std::string remote_;
  std::string cn_;
  int grpc_fd_ = -1;
  bool handshaken_ = false;
  bool sniffed_ = false;
  bool closed_ = false;
  std::vector<char> up_;    // client -> gRPC
  std::vector<char> down_;  // gRPC -> client
};

template <typename Protocol>
void ClientListener::Impl::accept(Acceptor<Protocol>& a) {
  a.acceptor.async_accept([this, &a](boost::system::error_code ec,
                                     typename Protocol::socket socket) {
    if (ec == asio::error::operation_aborted || !a.acceptor.is_open()) return;
    if (ec) {
      // Out of descriptors and the like: try again shortly rather than spin.
      options_.logger->warn("failed to accept a client connection", {{"error", ec.message()}});
      a.retry.expires_after(std::chrono::milliseconds(100));
      a.retry.async_wait([this, &a](boost::system::error_code ec) {
        if (!ec) accept(a);
      });
      return;
    }
    if (a.secure) {
      std::make_shared<TlsConnection<Protocol>>(*this, std::move(socket), options_.tls->context())
          ->start();
    } else {
      std::make_shared<PlainConnection<Protocol>>(*this, std::move(socket))->start();
    }
    accept(a);
  });
}

Status ClientListener::Impl::bind(const std::string& url, std::string* address) {
  auto sep = url.find("://");
  std::string scheme = sep == std::string::npos ? "" : url.substr(0, sep);
  std::string rest = sep == std::string::npos ? url : url.substr(sep + 3);
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  boost::system::error_code ec;
  const bool secure = scheme == "https" || scheme == "unixs";
  if (secure && options_.tls == nullptr) {
    return invalid_argument(
        "TLS key/cert (--cert-file, --key-file) must be provided for client url " + url +
        " with HTTPS scheme");
  }
  if (scheme == "unixs" || scheme == "unix") {
    std::error_code fec;
    std::filesystem::remove(rest, fec);  // a stale socket file of an earlier run
    auto a = std::make_unique<Acceptor<asio::local::stream_protocol>>(
        Acceptor<asio::local::stream_protocol>{asio::local::stream_protocol::acceptor(io_),
                                               asio::steady_timer(io_)});
    asio::local::stream_protocol::endpoint ep(rest);
    a->acceptor.open(ep.protocol(), ec);
    if (!ec) a->acceptor.bind(ep, ec);
    if (!ec) a->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Status(Code::kUnavailable, "listen unix " + rest + ": " + ec.message());
    *address = rest;
    a->secure = secure;
    accept(*a);
    unix_.push_back(std::move(a));
    return Status::ok();
  }
  if (scheme != "https" && scheme != "http") {
    return invalid_argument("listen URL " + url + ": unknown scheme " + scheme);
  }
  auto colon = rest.rfind(':');
  if (colon == std::string::npos) return invalid_argument("missing port in address " + rest);
  std::string host = rest.substr(0, colon);
  std::string port = rest.substr(colon + 1);
  if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
  asio::ip::tcp::resolver resolver(io_);
  auto results =
      resolver.resolve(host.empty() ? "0.0.0.0" : host, port, asio::ip::resolver_base::passive, ec);
  if (ec || results.empty()) {
    return invalid_argument("listen tcp " + rest + ": lookup " + host + ": " + ec.message());
  }
  asio::ip::tcp::endpoint ep = results.begin()->endpoint();
  auto a = std::make_unique<Acceptor<asio::ip::tcp>>(
      Acceptor<asio::ip::tcp>{asio::ip::tcp::acceptor(io_), asio::steady_timer(io_)});
  a->acceptor.open(ep.protocol(), ec);
  if (!ec) a->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a->acceptor.bind(ep, ec);
  if (!ec) a->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    // Go prints the errno text in lower case.
    std::string reason = ec.message();
    if (!reason.empty()) reason[0] = static_cast<char>(std::tolower(reason[0]));
    return Status(Code::kUnavailable, "listen tcp " + rest + ": bind: " + reason);
  }
  *address = endpoint_text(a->acceptor.local_endpoint());
  a->secure = secure;
  accept(*a);
  tcp_.push_back(std::move(a));
  return Status::ok();
}

ClientListener::ClientListener(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ClientListener::~ClientListener() { stop(); }

Result<std::unique_ptr<ClientListener>> ClientListener::start(Options options) {
  ASSERT(options.logger != nullptr, "ClientListener needs a logger");
  ASSERT(options.serve == Serve::kHttpOnly || options.server != nullptr,
         "a ClientListener serving gRPC needs the gRPC server");
  ASSERT(options.serve == Serve::kGrpcOnly || options.http != nullptr,
         "a ClientListener serving HTTP needs a handler");
  std::vector<std::string> urls = options.urls;
  auto impl = std::make_unique<Impl>(std::move(options));
  std::vector<std::string> addresses;
  for (const auto& url : urls) {
    std::string address;
    RETURN_IF_ERROR(impl->bind(url, &address));
    addresses.push_back(address);
  }
  std::unique_ptr<ClientListener> l(new ClientListener(std::move(impl)));
  l->addresses_ = std::move(addresses);
  l->impl_->run();
  return l;
}

size_t ClientListener::connection_count() const { return impl_->connection_count(); }

void ClientListener::stop_accepting() { impl_->stop_accepting(); }

void ClientListener::stop() { impl_->stop(); }

}  // namespace etcd::rpc
