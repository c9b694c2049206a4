#include "rpc/tls/tls.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

namespace etcd::rpc::tls {
namespace {

namespace fs = std::filesystem;

// Go's cipher-suite names (crypto/tls CipherSuites() and
// InsecureCipherSuites(), plus the two CHACHA20 aliases etcd accepts) and
// OpenSSL's names for the same suites. TLS 1.3 suites keep their names; as
// in Go, they cannot be switched off.
const std::unordered_map<std::string, std::string>& cipher_table() {
  static const std::unordered_map<std::string, std::string> kTable = {
      {"TLS_RSA_WITH_RC4_128_SHA", "RC4-SHA"},
      {"TLS_RSA_WITH_3DES_EDE_CBC_SHA", "DES-CBC3-SHA"},
      {"TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"},
      {"TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"},
      {"TLS_RSA_WITH_AES_128_CBC_SHA256", "AES128-SHA256"},
      {"TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"},
      {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"},
      {"TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", "ECDHE-ECDSA-RC4-SHA"},
      {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"},
      {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"},
      {"TLS_ECDHE_RSA_WITH_RC4_128_SHA", "ECDHE-RSA-RC4-SHA"},
      {"TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "ECDHE-RSA-DES-CBC3-SHA"},
      {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"},
      {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"},
      {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256"},
      {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256"},
      {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
      {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"},
      {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
      {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"},
      {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305"},
      {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"},
      {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"},
      {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305"},
      {"TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"},
      {"TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384"},
      {"TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256"},
  };
  return kTable;
}

// ALPN on a server: HTTP/2 when the client offers it (gRPC clients refuse a
// server that selects nothing), else HTTP/1.1, else no protocol.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  for (const char* want : {"h2", "http/1.1"}) {
    const size_t want_len = std::strlen(want);
    for (unsigned int i = 0; i < inlen;) {
      unsigned int len = in[i];
      if (i + 1 + len > inlen) break;
      if (len == want_len && std::memcmp(in + i + 1, want, len) == 0) {
        *out = in + i + 1;
        *outlen = static_cast<unsigned char>(len);
        return SSL_TLSEXT_ERR_OK;
      }
      i += 1 + len;
    }
  }
  return SSL_TLSEXT_ERR_NOACK;
}

bool is_tls13_suite(const std::string& openssl_name) { return openssl_name.rfind("TLS_", 0) == 0; }

// The oldest queued OpenSSL error as text, and the queue cleared.
std::string ssl_error() {
  unsigned long code = ERR_peek_last_error();
  std::string text;
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    text = buf;
  }
  ERR_clear_error();
  return text.empty() ? "unknown OpenSSL error" : text;
}

// Go's os.ReadFile error: "open /x: no such file or directory".
Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::string reason = std::strerror(errno);
    if (!reason.empty()) reason[0] = static_cast<char>(std::tolower(reason[0]));
    return invalid_argument("open " + path + ": " + reason);
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using CrlPtr = std::unique_ptr<X509_CRL, decltype(&X509_CRL_free)>;
using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

BioPtr mem_bio(const std::string& data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())), BIO_free);
}

// A CRL file in PEM or DER.
Result<CrlPtr> load_crl(const std::string& path) {
  auto data = read_file(path);
  if (!data.is_ok()) return data.status();
  auto bio = mem_bio(*data);
  CrlPtr crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr), X509_CRL_free);
  if (!crl) {
    ERR_clear_error();
    auto der = mem_bio(*data);
    crl.reset(d2i_X509_CRL_bio(der.get(), nullptr));
  }
  if (!crl) {
    return invalid_argument("failed to parse CRL file " + path + ": " + ssl_error());
  }
  return crl;
}

int proto_version(const std::string& name) {
  if (name == "TLS1.0") return TLS1_VERSION;
  if (name == "TLS1.1") return TLS1_1_VERSION;
  if (name == "TLS1.2") return TLS1_2_VERSION;
  if (name == "TLS1.3") return TLS1_3_VERSION;
  return -1;
}

// The CN of a certificate's subject ("" when it has none).
std::string common_name(X509* cert) {
  X509_NAME* name = X509_get_subject_name(cert);
  int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return "";
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return "";
  std::string cn(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return cn;
}

std::string subject_text(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()), BIO_free);
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* p = nullptr;
  long n = BIO_get_mem_data(bio.get(), &p);
  return std::string(p, static_cast<size_t>(n));
}

// The rules of --peer-cert-allowed-cn and --*-cert-allowed-hostname (the
// hostname as Go's VerifyHostname: an IP against the IP SANs, a name
// against the DNS SANs, or the CN when the certificate has none).
bool allowed(const TlsOptions& o, X509* cert) {
  if (!o.allowed_cn.empty()) return common_name(cert) == o.allowed_cn;
  if (!o.allowed_hostname.empty()) {
    std::string host = o.allowed_hostname;
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    if (X509_check_ip_asc(cert, host.c_str(), 0) == 1) return true;
    return X509_check_host(cert, host.c_str(), host.size(), 0, nullptr) == 1;
  }
  return true;
}

// Files' mtimes and sizes: a change means a renewed certificate.
std::string file_stamp(const TlsOptions& o) {
  std::string stamp;
  for (const std::string* f : {&o.cert_file, &o.key_file, &o.trusted_ca_file, &o.crl_file}) {
    if (f->empty()) continue;
    struct stat st {};
    if (stat(f->c_str(), &st) != 0) {
      stamp += "-;";
      continue;
    }
    stamp += std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + "/" +
             std::to_string(st.st_size) + "/" + std::to_string(st.st_ino) + ";";
  }
  return stamp;
}

// "https://127.0.0.1:2379" -> "127.0.0.1"; "https://[::1]:2379" -> "::1".
std::string url_host(const std::string& url) {
  std::string rest = url;
  if (auto p = rest.find("://"); p != std::string::npos) rest = rest.substr(p + 3);
  if (auto p = rest.find('/'); p != std::string::npos) rest = rest.substr(0, p);
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    return close == std::string::npos ? rest.substr(1) : rest.substr(1, close - 1);
  }
  if (auto p = rest.rfind(':'); p != std::string::npos) rest = rest.substr(0, p);
  return rest;
}

Status write_private_file(const std::string& path, const std::string& data) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return invalid_argument("open " + path + ": " + std::strerror(errno));
  ::chmod(path.c_str(), 0600);
  bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
  ok = std::fclose(f) == 0 && ok;
  if (!ok) return internal_error("write " + path + ": " + std::strerror(errno));
  return Status::ok();
}

// A self-signed ECDSA P-256 certificate for `hosts`.
Status generate_self_cert(const std::string& cert_path, const std::string& key_path,
                          const std::vector<std::string>& hosts, uint64_t validity_years) {
  KeyPtr key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!key) return internal_error("cannot generate ECDSA key: " + ssl_error());
  X509Ptr cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  // A random 128-bit serial, as Go's crypto/x509 users do.
  std::unique_ptr<BIGNUM, decltype(&BN_free)> serial(BN_new(), BN_free);
  BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY);
  BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_time_adj_ex(X509_getm_notAfter(cert.get()), static_cast<int>(validity_years * 365), 0,
                   nullptr);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("etcd"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());
  std::string sans;
  for (const auto& h : hosts) {
    if (h.empty()) continue;
    unsigned char buf[16];
    bool ip = inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
    if (!sans.empty()) sans += ",";
    sans += (ip ? "IP:" : "DNS:") + h;
  }
  std::vector<std::pair<int, std::string>> exts = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
      {NID_ext_key_usage, "serverAuth,clientAuth"},
  };
  if (!sans.empty()) exts.emplace_back(NID_subject_alt_name, sans);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] : exts) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (ext == nullptr) return internal_error("cannot generate x509 certificate: " + ssl_error());
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return internal_error("cannot generate x509 certificate: " + ssl_error());
  }
  auto pem = [](auto write) {
    BioPtr bio(BIO_new(BIO_s_mem()), BIO_free);
    write(bio.get());
    char* p = nullptr;
    long n = BIO_get_mem_data(bio.get(), &p);
    return std::string(p, static_cast<size_t>(n));
  };
  std::string cert_pem = pem([&](BIO* b) { PEM_write_bio_X509(b, cert.get()); });
  std::string key_pem = pem([&](BIO* b) {
    PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  RETURN_IF_ERROR(write_private_file(cert_path, cert_pem));
  return write_private_file(key_path, key_pem);
}

}  // namespace

Result<std::string> openssl_cipher_name(const std::string& go_name) {
  const auto& table = cipher_table();
  auto it = table.find(go_name);
  if (it == table.end()) return invalid_argument("unexpected TLS cipher suite \"" + go_name + "\"");
  return it->second;
}

Result<TlsOptions> self_cert(log::Logger& logger, const std::string& dir,
                             const std::vector<std::string>& urls, uint64_t validity_years,
                             TlsOptions base) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    logger.warn("cannot create cert directory", {{"error", ec.message()}});
    return invalid_argument("mkdir " + dir + ": " + ec.message());
  }
  ::chmod(dir.c_str(), 0700);
  const std::string cert_path = (fs::path(dir) / "cert.pem").string();
  const std::string key_path = (fs::path(dir) / "key.pem").string();
  base.cert_file = cert_path;
  base.key_file = key_path;
  base.insecure_skip_verify = true;
  if (fs::exists(cert_path, ec) && fs::exists(key_path, ec)) return base;
  std::vector<std::string> hosts;
  for (const auto& u : urls) hosts.push_back(url_host(u));
  logger.info("automatically generate certificates",
              {{"certificate-validity-bound-years", validity_years}});
  if (auto st = generate_self_cert(cert_path, key_path, hosts, validity_years); !st.is_ok()) {
    logger.warn("cannot generate x509 certificate", {{"error", st.message()}});
    return st;
  }
  logger.info("created cert file", {{"path", cert_path}});
  logger.info("created key file", {{"path", key_path}});
  return base;
}

TlsContext::TlsContext(Role role, TlsOptions options, log::Logger& logger)
    : role_(role), options_(std::move(options)), logger_(logger) {}

Result<std::shared_ptr<TlsContext>> TlsContext::create(Role role, TlsOptions options,
                                                       log::Logger& logger) {
  if (!options.allowed_cn.empty() && !options.allowed_hostname.empty()) {
    return invalid_argument("AllowedCN and AllowedHostname are mutually exclusive (cn=\"" +
                            options.allowed_cn + "\", hostname=\"" + options.allowed_hostname +
                            "\")");
  }
  std::shared_ptr<TlsContext> tc(new TlsContext(role, std::move(options), logger));
  std::string stamp = file_stamp(tc->options_);
  auto built = tc->build();
  if (!built.is_ok()) return built.status();
  MutexLock lock(&tc->mu_);
  tc->current_ = std::move(built).value();
  tc->stamp_ = std::move(stamp);
  tc->checked_ = std::chrono::steady_clock::now();
  return tc;
}

Result<std::shared_ptr<boost::asio::ssl::context>> TlsContext::build() const {
  namespace ssl = boost::asio::ssl;
  const TlsOptions& o = options_;
  ERR_clear_error();
  auto ctx = std::make_shared<ssl::context>(role_ == Role::kServer ? ssl::context::tls_server
                                                                   : ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  // Versions: TLS 1.2 at least unless asked otherwise, as etcd.
  int min_v = proto_version(o.min_version.empty() ? "TLS1.2" : o.min_version);
  if (min_v < 0) return invalid_argument("unknown TLS version \"" + o.min_version + "\"");
  int max_v = o.max_version.empty() ? 0 : proto_version(o.max_version);
  if (max_v < 0) return invalid_argument("unknown TLS version \"" + o.max_version + "\"");
  if (max_v != 0 && max_v < min_v) {
    return invalid_argument("min version (" + o.min_version + ") is greater than max version (" +
                            o.max_version + ")");
  }
  if (min_v < TLS1_2_VERSION) SSL_CTX_set_security_level(native, 0);
  SSL_CTX_set_min_proto_version(native, min_v);
  SSL_CTX_set_max_proto_version(native, max_v);
  if (!o.cipher_suites.empty()) {
    std::string list;
    for (const auto& name : o.cipher_suites) {
      auto mapped = openssl_cipher_name(name);
      if (!mapped.is_ok()) return mapped.status();
      if (is_tls13_suite(*mapped)) continue;
      if (!list.empty()) list += ":";
      list += *mapped;
    }
    // Only TLS 1.3 names: TLS 1.2 gets none (Go's behaviour for a list
    // that has no 1.2 suite).
    if (list.empty()) list = "!ALL";
    if (SSL_CTX_set_cipher_list(native, list.c_str()) != 1 && list != "!ALL") {
      return invalid_argument("cipher suites " + list + " are not available: " + ssl_error());
    }
    ERR_clear_error();
  }

  // The certificate and key: read here first, so that errors name the file.
  if (o.cert_file.empty() != o.key_file.empty()) {
    return invalid_argument("KeyFile and CertFile must both be present[key: " + o.key_file +
                            ", cert: " + o.cert_file + "]");
  }
  if (!o.cert_file.empty()) {
    auto cert_pem = read_file(o.cert_file);
    if (!cert_pem.is_ok()) return cert_pem.status();
    auto key_pem = read_file(o.key_file);
    if (!key_pem.is_ok()) return key_pem.status();
    auto cbio = mem_bio(*cert_pem);
    X509Ptr leaf(PEM_read_bio_X509_AUX(cbio.get(), nullptr, nullptr, nullptr), X509_free);
    if (!leaf) {
      ERR_clear_error();
      return invalid_argument("tls: failed to find any PEM data in certificate input (" +
                              o.cert_file + ")");
    }
    if (SSL_CTX_use_certificate(native, leaf.get()) != 1) {
      return invalid_argument("cannot use certificate " + o.cert_file + ": " + ssl_error());
    }
    // The rest of the file is the chain.
    SSL_CTX_clear_chain_certs(native);
    while (X509* extra = PEM_read_bio_X509(cbio.get(), nullptr, nullptr, nullptr)) {
      if (SSL_CTX_add0_chain_cert(native, extra) != 1) {
        X509_free(extra);
        return invalid_argument("cannot use certificate chain " + o.cert_file + ": " + ssl_error());
      }
    }
    ERR_clear_error();
    auto kbio = mem_bio(*key_pem);
    KeyPtr key(PEM_read_bio_PrivateKey(kbio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
    if (!key) {
      ERR_clear_error();
      return invalid_argument("tls: failed to find any PEM data in key input (" + o.key_file + ")");
    }
    if (SSL_CTX_use_PrivateKey(native, key.get()) != 1 || SSL_CTX_check_private_key(native) != 1) {
      ERR_clear_error();
      return invalid_argument("tls: private key does not match public key (cert " + o.cert_file +
                              ", key " + o.key_file + ")");
    }
  } else if (role_ == Role::kServer) {
    return invalid_argument("KeyFile and CertFile must both be present[key: , cert: ]");
  }

  // Trust: the CA file, or (a client without one) the system's roots.
  if (!o.trusted_ca_file.empty()) {
    auto ca = read_file(o.trusted_ca_file);
    if (!ca.is_ok()) return ca.status();
    auto bio = mem_bio(*ca);
    X509_STORE* store = SSL_CTX_get_cert_store(native);
    int n = 0;
    while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
      X509_STORE_add_cert(store, c);
      X509_free(c);
      ++n;
    }
    ERR_clear_error();
    if (n == 0) {
      return invalid_argument("failed to parse any certificate from the CA file " +
                              o.trusted_ca_file);
    }
    if (role_ == Role::kServer) {
      // The CAs a server names in its certificate request.
      auto names = SSL_load_client_CA_file(o.trusted_ca_file.c_str());
      if (names != nullptr) SSL_CTX_set_client_CA_list(native, names);
      ERR_clear_error();
    }
  } else if (role_ == Role::kClient) {
    SSL_CTX_set_default_verify_paths(native);
  }

  // Revoked certificates (server side, as etcd checks the CRL in its
  // listener).
  if (!o.crl_file.empty() && role_ == Role::kServer) {
    auto crl = load_crl(o.crl_file);
    if (!crl.is_ok()) return crl.status();
    X509_STORE* store = SSL_CTX_get_cert_store(native);
    X509_STORE_add_crl(store, crl->get());
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
  }

  // Verification.
  if (role_ == Role::kServer) {
    SSL_CTX_set_alpn_select_cb(native, select_alpn, nullptr);
    if (o.client_cert_auth) {
      SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      if (!o.allowed_cn.empty() || !o.allowed_hostname.empty()) {
        // The CN / hostname rule fails the handshake itself, as etcd's
        // VerifyPeerCertificate does; check_peer applies it again.
        TlsOptions rules;
        rules.allowed_cn = o.allowed_cn;
        rules.allowed_hostname = o.allowed_hostname;
        ctx->set_verify_callback([rules](bool preverified, ssl::verify_context& vc) {
          if (!preverified) return false;
          X509_STORE_CTX* sc = vc.native_handle();
          if (X509_STORE_CTX_get_error_depth(sc) != 0) return true;
          if (allowed(rules, X509_STORE_CTX_get_current_cert(sc))) return true;
          X509_STORE_CTX_set_error(sc, X509_V_ERR_APPLICATION_VERIFICATION);
          return false;
        });
      }
    } else {
      SSL_CTX_set_verify(native, SSL_VERIFY_NONE, nullptr);
    }
  } else {
    SSL_CTX_set_verify(native, o.insecure_skip_verify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, nullptr);
  }
  return ctx;
}

std::shared_ptr<boost::asio::ssl::context> TlsContext::context() {
  MutexLock lock(&mu_);
  auto now = std::chrono::steady_clock::now();
  if (now - checked_ < std::chrono::seconds(1)) return current_;
  checked_ = now;
  std::string stamp = file_stamp(options_);
  if (stamp == stamp_) return current_;
  stamp_ = stamp;
  auto built = build();
  if (!built.is_ok()) {
    // Often a renewal caught half-way (the certificate replaced, the key
    // not yet): the next change is tried again.
    logger_.warn("failed to reload TLS certificates; keeping the previous ones",
                 {{"cert-file", options_.cert_file},
                  {"key-file", options_.key_file},
                  {"error", built.status().message()}});
    return current_;
  }
  current_ = std::move(built).value();
  logger_.info("reloaded TLS certificates",
               {{"cert-file", options_.cert_file}, {"key-file", options_.key_file}});
  return current_;
}

Result<std::string> TlsContext::check_peer(SSL* ssl) const {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) {
    if (role_ == Role::kServer && options_.client_cert_auth) {
      return Status(Code::kPermissionDenied, "tls: client didn't provide a certificate");
    }
    return std::string();
  }
  if (!allowed(options_, cert)) {
    return Status(Code::kPermissionDenied, "client certificate authentication failed (subject \"" +
                                               subject_text(cert) + "\")");
  }
  return common_name(cert);
}

}  // namespace etcd::rpc::tls
