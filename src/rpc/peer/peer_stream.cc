#include "rpc/peer/peer_stream.h"

#include <netdb.h>
#include <openssl/x509v3.h>

namespace etcd::rpc::peer {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

PeerStream::PeerStream(const executor_type& ex, std::shared_ptr<asio::ssl::context> ctx)
    : ctx_(std::move(ctx)) {
  if (ctx_) {
    tls_ = std::make_unique<TlsLayer>(ex, *ctx_);
  } else {
    plain_.emplace(ex);
  }
}

PeerStream::PeerStream(tcp::socket sock, std::shared_ptr<asio::ssl::context> ctx)
    : ctx_(std::move(ctx)) {
  if (ctx_) {
    tls_ = std::make_unique<TlsLayer>(beast::tcp_stream(std::move(sock)), *ctx_);
  } else {
    plain_.emplace(std::move(sock));
  }
}

// What keep_peer_cert() hangs on the SSL object: the verify callback it
// wraps and the leaf certificate seen.
struct PeerStream::Kept {
  int (*wrapped)(int, X509_STORE_CTX*) = nullptr;
  X509* leaf = nullptr;
};

namespace {

int kept_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

}  // namespace

void PeerStream::keep_peer_cert() {
  if (!tls_ || kept_) return;
  SSL* s = tls_->native_handle();
  kept_ = std::unique_ptr<Kept, void (*)(Kept*)>(new Kept, [](Kept* k) {
    if (k->leaf != nullptr) X509_free(k->leaf);
    delete k;
  });
  kept_->wrapped = SSL_get_verify_callback(s);
  SSL_set_ex_data(s, kept_index(), kept_.get());
  SSL_set_verify(s, SSL_get_verify_mode(s), [](int ok, X509_STORE_CTX* sc) -> int {
    auto* ssl =
        static_cast<SSL*>(X509_STORE_CTX_get_ex_data(sc, SSL_get_ex_data_X509_STORE_CTX_idx()));
    auto* kept = ssl ? static_cast<Kept*>(SSL_get_ex_data(ssl, kept_index())) : nullptr;
    if (kept == nullptr) return ok;
    if (kept->leaf == nullptr) {
      if (X509* leaf = X509_STORE_CTX_get0_cert(sc); leaf != nullptr) {
        X509_up_ref(leaf);
        kept->leaf = leaf;
      }
    }
    return kept->wrapped ? kept->wrapped(ok, sc) : ok;
  });
}

X509* PeerStream::peer_cert() {
  if (!tls_) return nullptr;
  if (X509* c = SSL_get0_peer_certificate(tls_->native_handle()); c != nullptr) return c;
  return kept_ ? kept_->leaf : nullptr;
}

void PeerStream::close() {
  beast::error_code ec;
  tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
  tcp().socket().close(ec);
}

std::string PeerStream::remote_address() {
  beast::error_code ec;
  auto ep = tcp().socket().remote_endpoint(ec);
  if (ec) return "";
  const std::string addr = ep.address().to_string();
  return (ep.address().is_v6() ? "[" + addr + "]" : addr) + ":" + std::to_string(ep.port());
}

void PeerStream::expect_server(const std::string& host, bool verify) {
  if (!tls_) return;
  SSL* s = tls_->native_handle();
  beast::error_code ec;
  asio::ip::make_address(host, ec);
  const bool ip = !ec;
  // SNI carries names only (RFC 6066), as Go's client does.
  if (!ip) SSL_set_tlsext_host_name(s, host.c_str());
  if (!verify) {
    SSL_set_verify(s, SSL_VERIFY_NONE, nullptr);
    return;
  }
  SSL_set_verify(s, SSL_VERIFY_PEER, nullptr);
  X509_VERIFY_PARAM* param = SSL_get0_param(s);
  if (ip) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
  }
}

PeerCertInfo peer_cert_info(X509* cert) {
  PeerCertInfo info;
  if (cert == nullptr) return info;
  char buf[1024];
  X509_NAME* name = X509_get_subject_name(cert);
  if (name != nullptr) {
    X509_NAME_oneline(name, buf, sizeof(buf));
    info.subject = buf;
    int n = X509_NAME_get_text_by_NID(name, NID_commonName, buf, sizeof(buf));
    if (n > 0) info.cn.assign(buf, static_cast<size_t>(n));
  }
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
    if (g->type == GEN_DNS) {
      const auto* s = g->d.dNSName;
      info.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                  static_cast<size_t>(ASN1_STRING_length(s)));
    } else if (g->type == GEN_IPADD) {
      const auto* s = g->d.iPAddress;
      const unsigned char* p = ASN1_STRING_get0_data(s);
      const int len = ASN1_STRING_length(s);
      if (len == 4) {
        asio::ip::address_v4::bytes_type b;
        std::copy(p, p + 4, b.begin());
        info.ip_addresses.push_back(asio::ip::address_v4(b).to_string());
      } else if (len == 16) {
        asio::ip::address_v6::bytes_type b;
        std::copy(p, p + 16, b.begin());
        info.ip_addresses.push_back(asio::ip::address_v6(b).to_string());
      }
    }
  }
  GENERAL_NAMES_free(sans);
  return info;
}

Status check_cert_san(const PeerCertInfo& cert, const std::string& remote_ip) {
  if (cert.ip_addresses.empty() && cert.dns_names.empty()) return Status::ok();
  beast::error_code ec;
  const auto remote = asio::ip::make_address(remote_ip, ec);
  if (ec) return Status(Code::kPermissionDenied, "bad remote address " + remote_ip);
  for (const auto& ip : cert.ip_addresses) {
    auto a = asio::ip::make_address(ip, ec);
    if (!ec && a == remote) return Status::ok();
  }
  // A name is good when it resolves to the remote address.
  for (const auto& name : cert.dns_names) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (getaddrinfo(name.c_str(), nullptr, &hints, &res) != 0) continue;
    bool match = false;
    for (addrinfo* ai = res; ai != nullptr && !match; ai = ai->ai_next) {
      char host[NI_MAXHOST];
      if (getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof(host), nullptr, 0,
                      NI_NUMERICHOST) != 0) {
        continue;
      }
      auto a = asio::ip::make_address(host, ec);
      match = !ec && a == remote;
    }
    freeaddrinfo(res);
    if (match) return Status::ok();
  }
  std::string names;
  for (const auto& s : cert.ip_addresses) names += (names.empty() ? "" : ",") + s;
  for (const auto& s : cert.dns_names) names += (names.empty() ? "" : ",") + s;
  return Status(Code::kPermissionDenied,
                "tls: \"" + remote_ip + "\" does not match any of DNSNames/IPAddresses " + names);
}

std::shared_ptr<asio::ssl::context> default_client_context() {
  static const std::shared_ptr<asio::ssl::context> ctx = [] {
    auto c = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    beast::error_code ec;
    c->set_default_verify_paths(ec);
    c->set_verify_mode(asio::ssl::verify_peer, ec);
    SSL_CTX_set_min_proto_version(c->native_handle(), TLS1_2_VERSION);
    return c;
  }();
  return ctx;
}

asio::awaitable<beast::error_code> dial(PeerStream& stream, const HttpUrl& u, bool verify_server,
                                        std::chrono::milliseconds connect_timeout,
                                        std::chrono::milliseconds handshake_timeout) {
  beast::error_code ec;
  tcp::resolver resolver(stream.get_executor());
  auto eps = co_await resolver.async_resolve(u.host, u.port,
                                             asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return ec;
  stream.expires_after(connect_timeout);
  co_await stream.tcp().async_connect(eps, asio::redirect_error(asio::use_awaitable, ec));
  if (ec || !stream.is_tls()) co_return ec;
  stream.expect_server(u.host, verify_server);
  stream.expires_after(handshake_timeout);
  co_await stream.async_handshake(asio::ssl::stream_base::client,
                                  asio::redirect_error(asio::use_awaitable, ec));
  co_return ec;
}

}  // namespace etcd::rpc::peer
