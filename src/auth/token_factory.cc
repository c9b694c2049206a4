#include "auth/token_factory.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "auth/jwt_token.h"
#include "auth/simple_token.h"
#include "base/duration.h"

namespace etcd::auth {

namespace {

Status invalid_opts() { return {Code::kInvalidArgument, "auth: invalid auth options"}; }
Status missing_key() { return {Code::kInvalidArgument, "auth: missing key data"}; }
Status key_mismatch() {
  return {Code::kInvalidArgument, "auth: public and private keys don't match"};
}

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

BioPtr mem_bio(const std::string& s) {
  return BioPtr(BIO_new_mem_buf(s.data(), static_cast<int>(s.size())));
}

PkeyPtr read_private(const std::string& pem) {
  BioPtr b = mem_bio(pem);
  return PkeyPtr(PEM_read_bio_PrivateKey(b.get(), nullptr, nullptr, nullptr));
}

// A PKIX public key, or the key of an X.509 certificate (as jwt-go accepts).
PkeyPtr read_public(const std::string& pem) {
  {
    BioPtr b = mem_bio(pem);
    if (EVP_PKEY* k = PEM_read_bio_PUBKEY(b.get(), nullptr, nullptr, nullptr)) return PkeyPtr(k);
  }
  BioPtr b = mem_bio(pem);
  X509* cert = PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr);
  if (cert == nullptr) return nullptr;
  PkeyPtr k(X509_get_pubkey(cert));
  X509_free(cert);
  return k;
}

std::string public_pem(EVP_PKEY* k) {
  BioPtr b(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PUBKEY(b.get(), k) != 1) return "";
  char* data = nullptr;
  const long n = BIO_get_mem_data(b.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(Code::kInvalidArgument, "open " + path + ": no such file or directory");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The keys of an asymmetric method (RS*: RSA, ES*: EC), with jwt-go's
// parse errors.
Result<JwtKeys> asymmetric_keys(const std::string& alg, const std::string& priv_pem,
                                const std::string& pub_pem) {
  const bool rsa = alg[0] == 'R' || alg[0] == 'P';
  const int want = rsa ? EVP_PKEY_RSA : EVP_PKEY_EC;
  const std::string kind = rsa ? "RSA" : "ECDSA";
  PkeyPtr priv, pub;
  if (!priv_pem.empty()) {
    priv = read_private(priv_pem);
    if (!priv) {
      return Status(Code::kInvalidArgument,
                    "Invalid Key: Key must be PEM encoded PKCS1 or PKCS8 private key");
    }
    if (EVP_PKEY_base_id(priv.get()) != want) {
      return Status(Code::kInvalidArgument, "Key is not a valid " + kind + " private key");
    }
  }
  if (!pub_pem.empty()) {
    pub = read_public(pub_pem);
    if (!pub) {
      return Status(Code::kInvalidArgument,
                    "Invalid Key: Key must be PEM encoded PKCS1 or PKCS8 private key");
    }
    if (EVP_PKEY_base_id(pub.get()) != want) {
      return Status(Code::kInvalidArgument, "Key is not a valid " + kind + " public key");
    }
  }
  if (!priv && !pub) return missing_key();
  if (priv && pub && EVP_PKEY_eq(priv.get(), pub.get()) != 1) return key_mismatch();
  JwtKeys keys;
  keys.alg = alg;
  if (priv) keys.sign_key = priv_pem;
  keys.verify_key = public_pem(priv ? priv.get() : pub.get());
  if (keys.verify_key.empty()) return invalid_opts();
  return keys;
}

}  // namespace

Result<std::unique_ptr<TokenProvider>> make_token_provider(std::string_view options,
                                                           std::chrono::seconds simple_ttl,
                                                           env::Clock& clock, log::Logger& logger) {
  // "type,k=v,k=v": a pair without exactly one '=' or a repeated key is invalid.
  std::vector<std::string> parts;
  {
    std::string cur;
    for (char c : options) {
      if (c == ',') {
        parts.push_back(cur);
        cur.clear();
      } else {
        cur.push_back(c);
      }
    }
    parts.push_back(cur);
  }
  const std::string type = parts[0];
  std::map<std::string, std::string> opts;
  for (size_t i = 1; i < parts.size(); ++i) {
    const size_t eq = parts[i].find('=');
    if (eq == std::string::npos || parts[i].find('=', eq + 1) != std::string::npos) {
      logger.error("invalid token option", {{"option", parts[i]}});
      return invalid_opts();
    }
    if (!opts.emplace(parts[i].substr(0, eq), parts[i].substr(eq + 1)).second) {
      logger.error("duplicate token option", {{"option", parts[i].substr(0, eq)}});
      return invalid_opts();
    }
  }
  if (type == "simple") {
    logger.warn("simple token is not cryptographically signed");
    return std::unique_ptr<TokenProvider>(std::make_unique<SimpleTokenProvider>(clock, simple_ttl));
  }
  if (type != "jwt") {
    logger.error("unknown token type", {{"type", type}, {"error", "auth: invalid auth options"}});
    return invalid_opts();
  }
  std::chrono::nanoseconds ttl = std::chrono::minutes(5);
  if (auto it = opts.find("ttl"); it != opts.end() && !it->second.empty()) {
    auto ns = parse_go_duration(it->second);
    if (!ns.is_ok()) {
      logger.error("problem loading JWT options", {{"error", ns.status().message()}});
      return invalid_opts();
    }
    ttl = std::chrono::nanoseconds(*ns);
  }
  std::string priv, pub;
  for (auto [name, out] : {std::pair{"priv-key", &priv}, std::pair{"pub-key", &pub}}) {
    auto it = opts.find(name);
    if (it == opts.end() || it->second.empty()) continue;
    auto data = read_file(it->second);
    if (!data.is_ok()) {
      logger.error("problem loading JWT options", {{"error", data.status().message()}});
      return invalid_opts();
    }
    *out = std::move(*data);
  }
  const std::string alg = opts.contains("sign-method") ? opts["sign-method"] : "";
  static const std::set<std::string> kAsymmetric = {"RS256", "RS384", "RS512", "PS256", "PS384",
                                                    "PS512", "ES256", "ES384", "ES512"};
  static const std::set<std::string> kHmac = {"HS256", "HS384", "HS512"};
  std::vector<std::string> unknown;
  for (const auto& [k, v] : opts) {
    if (k != "ttl" && k != "priv-key" && k != "pub-key" && k != "sign-method") unknown.push_back(k);
  }
  if (!unknown.empty()) {
    std::string list;
    for (const auto& k : unknown) list += (list.empty() ? "" : ",") + k;
    logger.warn("unknown JWT options", {{"keys", list}});
  }
  JwtKeys keys;
  if (kAsymmetric.contains(alg)) {
    auto k = asymmetric_keys(alg, priv, pub);
    if (!k.is_ok()) return k.status();
    keys = std::move(*k);
  } else if (kHmac.contains(alg)) {
    if (priv.empty()) return missing_key();
    keys = JwtKeys{alg, priv, priv};
  } else {
    logger.error("problem loading JWT options", {{"error", "auth: invalid auth signature method"}});
    return invalid_opts();
  }
  return std::unique_ptr<TokenProvider>(
      std::make_unique<JwtTokenProvider>(clock, std::move(keys), ttl));
}

}  // namespace etcd::auth
