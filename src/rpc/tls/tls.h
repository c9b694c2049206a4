// TLS for the client and the peer port, as etcd's transport.TLSInfo has it:
// certificate files re-read when they change on disk (renewed certificates
// apply to new handshakes, no restart), client certificates checked against
// a CA, a CRL, an allowed CN or hostname, etcd's (Go's) cipher-suite names,
// TLS version bounds, and the self-signed certificates of --auto-tls.
//
// One OpenSSL library for everything: the client port terminates TLS in
// our own listener (src/rpc/client_listener.h) and the peer transport
// wraps its Asio sockets; both take their SSL_CTX from here.
#pragma once

#include <utility>  // before Asio (Boost 1.74 uses std::exchange unincluded)

#include <boost/asio/ssl.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/mutex.h"
#include "base/status.h"

namespace etcd::rpc::tls {

struct TlsOptions {
  std::string cert_file;        // PEM certificate (chain) this side presents
  std::string key_file;         // its PEM private key
  std::string trusted_ca_file;  // CA bundle peers' certificates are verified against
  // PEM or DER CRL (server side): revoked client certificates are refused.
  // OpenSSL checks it against the issuing CA, so it must be that CA's CRL.
  std::string crl_file;
  bool client_cert_auth = false;  // server side: a client certificate is required
  // Server side, with client certificates: the certificate must name this
  // CN (--peer-cert-allowed-cn) or this hostname in its SANs, or failing
  // that its CN (--*-cert-allowed-hostname).
  std::string allowed_cn;
  std::string allowed_hostname;
  // Go's names (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ...); empty: the
  // library's defaults.
  std::vector<std::string> cipher_suites;
  std::string min_version = "TLS1.2";  // "TLS1.2" or "TLS1.3"
  std::string max_version;             // "" (highest), "TLS1.2" or "TLS1.3"
  // Client side (a member dialing a peer over https): skip verifying the
  // server's certificate (etcd's --insecure-skip-tls-verify; also what it
  // does with auto TLS, whose certificates no CA signed). Otherwise the
  // chain is verified against trusted_ca_file (or the system's roots); the
  // host name is the caller's to check, per connection
  // (asio::ssl::host_name_verification or SSL_set1_host).
  bool insecure_skip_verify = false;
};

// Go's cipher-suite name -> OpenSSL's, or kInvalidArgument with etcd's
// message: unexpected TLS cipher suite "X".
Result<std::string> openssl_cipher_name(const std::string& go_name);

// --auto-tls / --peer-auto-tls: a self-signed ECDSA P-256 certificate and
// key in `dir` (cert.pem, key.pem, mode 0600; reused when both exist), for
// the hosts of `urls` (IP SANs for addresses, DNS SANs for names), valid
// `validity_years`. Returns the options with cert_file / key_file set (and
// insecure_skip_verify, as etcd's SelfCert). Logs like etcd does.
Result<TlsOptions> self_cert(log::Logger& logger, const std::string& dir,
                             const std::vector<std::string>& urls, uint64_t validity_years,
                             TlsOptions base);

// The SSL contexts of one side (a listener, or a member's outgoing peer
// connections). Thread-safe.
class TlsContext {
 public:
  enum class Role { kServer, kClient };
  // Loads and checks the files (a bad file fails here, at start-up, with a
  // message naming it).
  static Result<std::shared_ptr<TlsContext>> create(Role role, TlsOptions options,
                                                    log::Logger& logger);

  // The context for a new handshake. A server context selects ALPN "h2"
  // when offered (gRPC requires it), else "http/1.1". When any of the files changed on disk
  // (checked at most once a second), they are loaded again and a new context
  // is built; connections already up keep theirs. A renewed file that does
  // not load is logged and the previous context kept.
  std::shared_ptr<boost::asio::ssl::context> context();

  // After a server-side handshake: the allowed CN / hostname rules above.
  // Returns the client certificate's CN ("" when it sent none), or
  // kPermissionDenied with a message naming the certificate's subject.
  Result<std::string> check_peer(SSL* ssl) const;

  const TlsOptions& options() const { return options_; }

 private:
  TlsContext(Role role, TlsOptions options, log::Logger& logger);
  Result<std::shared_ptr<boost::asio::ssl::context>> build() const;

  const Role role_;
  const TlsOptions options_;
  log::Logger& logger_;
  Mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> current_ ABSL_GUARDED_BY(mu_);
  std::string stamp_ ABSL_GUARDED_BY(mu_);  // files' mtimes and sizes at load
  std::chrono::steady_clock::time_point checked_ ABSL_GUARDED_BY(mu_);
};

}  // namespace etcd::rpc::tls
