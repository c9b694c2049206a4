#include "auth/jwt_pss.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <memory>

#include "auth/password.h"

namespace etcd::auth::pss {

namespace {

const EVP_MD* digest_of(std::string_view alg) {
  if (alg == "PS256") return EVP_sha256();
  if (alg == "PS384") return EVP_sha384();
  if (alg == "PS512") return EVP_sha512();
  return nullptr;
}

std::string b64url(std::string_view data) {
  std::string s = base64_encode(data);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return s;
}

std::optional<std::string> unb64url(std::string_view text) {
  std::string s(text);
  for (char& c : s) {
    if (c == '-') {
      c = '+';
    } else if (c == '_') {
      c = '/';
    } else if (c == '+' || c == '/' || c == '=') {
      return std::nullopt;
    }
  }
  while (s.size() % 4 != 0) s.push_back('=');
  return base64_decode(s);
}

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

std::unique_ptr<EVP_PKEY, PkeyFree> read_key(const std::string& pem, bool is_private) {
  BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* k = is_private ? PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr)
                           : PEM_read_bio_PUBKEY(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  return std::unique_ptr<EVP_PKEY, PkeyFree>(k);
}

}  // namespace

bool is_pss(std::string_view alg) { return digest_of(alg) != nullptr; }

Result<std::string> sign(std::string_view alg, const std::string& private_pem,
                         const nlohmann::json& claims) {
  const EVP_MD* md = digest_of(alg);
  if (md == nullptr) return invalid_argument("auth: invalid auth signature method");
  auto key = read_key(private_pem, true);
  if (!key || EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA) {
    return invalid_argument("Key is not a valid RSA private key");
  }
  const nlohmann::json header = {{"alg", std::string(alg)}, {"typ", "JWT"}};
  const std::string input = b64url(header.dump()) + "." + b64url(claims.dump());
  std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, key.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1) {
    return internal_error("auth: cannot sign the JWT");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return internal_error("auth: cannot sign the JWT");
  }
  sig.resize(len);
  return input + "." + b64url(sig);
}

std::optional<nlohmann::json> verify(std::string_view alg, const std::string& public_pem,
                                     std::string_view token) {
  const EVP_MD* md = digest_of(alg);
  if (md == nullptr) return std::nullopt;
  const size_t d1 = token.find('.');
  if (d1 == std::string_view::npos) return std::nullopt;
  const size_t d2 = token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  auto header_text = unb64url(token.substr(0, d1));
  auto payload_text = unb64url(token.substr(d1 + 1, d2 - d1 - 1));
  auto sig = unb64url(token.substr(d2 + 1));
  if (!header_text || !payload_text || !sig || sig->empty()) return std::nullopt;
  const auto header = nlohmann::json::parse(*header_text, nullptr, false);
  if (!header.is_object() || !header.contains("alg") || !header["alg"].is_string() ||
      header["alg"].get<std::string>() != alg) {
    return std::nullopt;
  }
  auto key = read_key(public_pem, false);
  if (!key) return std::nullopt;
  std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  const std::string_view input = token.substr(0, d2);
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, key.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) != 1 ||
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig->data()), sig->size(),
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return std::nullopt;
  }
  auto claims = nlohmann::json::parse(*payload_text, nullptr, false);
  if (!claims.is_object()) return std::nullopt;
  return claims;
}

}  // namespace etcd::auth::pss
