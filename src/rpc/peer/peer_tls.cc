#include "rpc/peer/peer_tls.h"

#include <filesystem>

#include "rpc/peer/http_client.h"

namespace etcd::rpc::peer {

Result<PeerTls> make_peer_tls(const config::ServerConfig& cfg, log::Logger& logger) {
  for (const auto& name : cfg.cipher_suites) {
    auto mapped = tls::openssl_cipher_name(name);
    if (!mapped.is_ok()) return mapped.status();
  }
  const auto& info = cfg.peer_tls;
  tls::TlsOptions o;
  o.cipher_suites = cfg.cipher_suites;
  if (!cfg.tls_min_version.empty()) o.min_version = cfg.tls_min_version;
  o.max_version = cfg.tls_max_version;
  PeerTls out;
  if (info.auto_tls && (!info.cert_file.empty() || !info.key_file.empty())) {
    logger.warn("ignoring peer auto TLS since certs given");
  }
  if (info.auto_tls && info.cert_file.empty() && info.key_file.empty()) {
    // As etcd, the self-signed certificate replaces the whole peer TLS
    // configuration (no CA, so no client-certificate checks).
    const auto dir = (std::filesystem::path(cfg.data_dir) / "fixtures" / "peer").string();
    auto self =
        tls::self_cert(logger, dir, cfg.listen_peer_urls, cfg.self_signed_cert_validity_years, o);
    if (!self.is_ok()) return self.status();
    o = std::move(self).value();
    o.insecure_skip_verify = true;
  } else {
    o.cert_file = info.cert_file;
    o.key_file = info.key_file;
    o.trusted_ca_file = info.trusted_ca_file;
    o.crl_file = info.crl_file;
    o.client_cert_auth = info.client_cert_auth;
    o.allowed_cn = info.allowed_cn;
    o.allowed_hostname = info.allowed_hostname;
    out.skip_client_san_verify = info.skip_client_san_verify;
  }
  const bool has_cert = !o.cert_file.empty() || !o.key_file.empty();
  bool any_secure = false;
  for (const auto& url : cfg.listen_peer_urls) {
    auto u = parse_http_url(url);
    if (!u.is_ok()) return u.status();
    if (u->scheme == "https") {
      if (!has_cert) {
        return invalid_argument("cannot listen on TLS for " + u->host + ":" + u->port +
                                ": KeyFile and CertFile are not presented");
      }
      any_secure = true;
      continue;
    }
    if (has_cert) {
      logger.warn(
          "scheme is HTTP while key and cert files are present; ignoring key and cert files",
          {{"peer-url", url}});
    }
    if (o.client_cert_auth) {
      logger.warn(
          "scheme is HTTP while --peer-client-cert-auth is enabled; ignoring client cert auth for "
          "this URL",
          {{"peer-url", url}});
    }
  }
  if (!has_cert) return out;
  logger.info("starting with peer TLS",
              {{"tls-info", "cert = " + o.cert_file + ", key = " + o.key_file +
                                ", client-cert=, client-key=, trusted-ca = " + o.trusted_ca_file +
                                ", client-cert-auth = " + (o.client_cert_auth ? "true" : "false") +
                                ", crl-file = " + o.crl_file},
               {"cipher-suites", cfg.cipher_suites}});
  if (any_secure) {
    tls::TlsOptions server = o;
    // The server side verifies clients, never "skips" a server.
    server.insecure_skip_verify = false;
    auto ctx = tls::TlsContext::create(tls::TlsContext::Role::kServer, server, logger);
    if (!ctx.is_ok()) return ctx.status();
    out.server = std::move(ctx).value();
  }
  // etcd dials other members with the same certificate as a client
  // certificate, verifying them against the same trusted CA.
  tls::TlsOptions client = o;
  client.client_cert_auth = false;
  client.crl_file.clear();
  client.allowed_cn.clear();
  client.allowed_hostname.clear();
  auto ctx = tls::TlsContext::create(tls::TlsContext::Role::kClient, client, logger);
  if (!ctx.is_ok()) return ctx.status();
  out.client = std::move(ctx).value();
  return out;
}

}  // namespace etcd::rpc::peer
