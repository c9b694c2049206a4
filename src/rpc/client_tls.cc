#include "rpc/client_tls.h"

#include <filesystem>

#include "rpc/grpc_server.h"

namespace etcd::rpc {

Result<std::shared_ptr<tls::TlsContext>> make_client_tls(const config::ServerConfig& cfg,
                                                         log::Logger& logger) {
  // etcd checks the names whatever the URLs' schemes.
  for (const auto& name : cfg.cipher_suites) {
    auto mapped = tls::openssl_cipher_name(name);
    if (!mapped.is_ok()) return mapped.status();
  }
  const auto& info = cfg.client_tls;
  tls::TlsOptions o;
  o.cert_file = info.cert_file;
  o.key_file = info.key_file;
  o.trusted_ca_file = info.trusted_ca_file;
  o.crl_file = info.crl_file;
  o.client_cert_auth = info.client_cert_auth;
  o.allowed_hostname = info.allowed_hostname;
  o.cipher_suites = cfg.cipher_suites;
  o.min_version = cfg.tls_min_version;
  o.max_version = cfg.tls_max_version;
  if (info.auto_tls) {
    if (!info.cert_file.empty() || !info.key_file.empty()) {
      logger.warn("ignoring client auto TLS since certs given");
    } else {
      auto dir = (std::filesystem::path(cfg.data_dir) / "fixtures" / "client").string();
      auto self = tls::self_cert(logger, dir, cfg.listen_client_urls,
                                 cfg.self_signed_cert_validity_years, o);
      if (!self.is_ok()) return self.status();
      o = std::move(self).value();
      // A server does not verify its own certificate.
      o.insecure_skip_verify = false;
    }
  }
  const bool has_cert = !o.cert_file.empty() || !o.key_file.empty();
  bool any_secure = false;
  for (const auto& url : cfg.listen_client_urls) {
    if (is_secure_url(url)) {
      if (!has_cert) {
        return invalid_argument(
            "TLS key/cert (--cert-file, --key-file) must be provided for "
            "client url " +
            url + " with HTTPS scheme");
      }
      any_secure = true;
      continue;
    }
    if (has_cert) {
      logger.warn(
          "scheme is HTTP while key and cert files are present; ignoring key and cert files",
          {{"client-url", url}});
    }
    if (o.client_cert_auth) {
      logger.warn(
          "scheme is HTTP while --client-cert-auth is enabled; ignoring client cert auth for this "
          "URL",
          {{"client-url", url}});
    }
  }
  if (!any_secure) return std::shared_ptr<tls::TlsContext>();
  // HTTP/2 over TLS needs an AES-128-GCM suite (RFC 7540 9.2.2); etcd's
  // HTTP/2 server refuses a list without one when it starts serving.
  if (!cfg.cipher_suites.empty()) {
    bool h2_suite = false;
    for (const auto& name : cfg.cipher_suites) {
      h2_suite = h2_suite || name == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" ||
                 name == "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256";
    }
    if (!h2_suite) {
      return Status(Code::kFailedPrecondition,
                    "http2: TLSConfig.CipherSuites is missing an HTTP/2-required "
                    "AES_128_GCM_SHA256 cipher (need at least one of "
                    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 or "
                    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)");
    }
  }
  auto ctx = tls::TlsContext::create(tls::TlsContext::Role::kServer, o, logger);
  if (!ctx.is_ok()) return ctx.status();
  logger.info("starting with client TLS",
              {{"tls-info", "cert = " + o.cert_file + ", key = " + o.key_file +
                                ", trusted-ca = " + o.trusted_ca_file +
                                ", client-cert-auth = " + (o.client_cert_auth ? "true" : "false") +
                                ", crl-file = " + o.crl_file},
               {"cipher-suites", cfg.cipher_suites}});
  return ctx;
}

}  // namespace etcd::rpc
