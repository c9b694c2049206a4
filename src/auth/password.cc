#include "auth/password.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cctype>

#include <cstring>
#include <memory>

namespace etcd::auth {

namespace {

bool supported_prefix(std::string_view hash) {
  return hash.size() > 7 &&
         (hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$"));
}

// crypt_rn over a heap-allocated crypt_data (it is ~32 KiB); the password
// is passed as a NUL-terminated copy that is wiped afterwards.
std::string run_crypt(std::string_view password, const std::string& setting) {
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof(crypt_data));
  std::string phrase(password.substr(0, 72));
  const char* out = crypt_rn(phrase.c_str(), setting.c_str(), data.get(), sizeof(crypt_data));
  std::string result;
  if (out != nullptr && out[0] != '*') result = out;
  OPENSSL_cleanse(phrase.data(), phrase.size());
  OPENSSL_cleanse(data.get(), sizeof(crypt_data));
  return result;
}

}  // namespace

Result<std::string> bcrypt_hash(std::string_view password, int cost) {
  if (cost < kBcryptMinCost || cost > kBcryptMaxCost) {
    return invalid_argument("bcrypt: cost " + std::to_string(cost) +
                            " is outside the allowed range (4,31)");
  }
  if (password.find('\0') != std::string_view::npos) {
    // A NUL would silently cut the password short in crypt().
    return invalid_argument("bcrypt: password contains a NUL byte");
  }
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  // rbytes null: libxcrypt draws the salt from the OS's random source.
  if (crypt_gensalt_rn("$2a$", static_cast<unsigned long>(cost), nullptr, 0, setting,
                       sizeof(setting)) == nullptr) {
    return internal_error("bcrypt: cannot generate a salt");
  }
  std::string hash = run_crypt(password, setting);
  if (hash.empty()) return internal_error("bcrypt: hashing failed");
  return hash;
}

bool bcrypt_check(std::string_view hash, std::string_view password) {
  if (!supported_prefix(hash)) return false;
  if (password.find('\0') != std::string_view::npos) return false;
  const std::string stored(hash);
  const std::string computed = run_crypt(password, stored);
  if (computed.size() != stored.size()) return false;
  return CRYPTO_memcmp(computed.data(), stored.data(), stored.size()) == 0;
}

}  // namespace etcd::auth

namespace etcd::auth {

std::string base64_encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()),
                                static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  if (text.empty()) return std::string();
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool pad_ok =
        c == '=' && i >= text.size() - 2 && (i == text.size() - 1 || text[text.size() - 1] == '=');
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || pad_ok)) {
      return std::nullopt;
    }
  }
  std::string out(3 * text.size() / 4, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes.
  size_t len = static_cast<size_t>(n);
  if (text.ends_with("==")) {
    len -= 2;
  } else if (text.ends_with("=")) {
    len -= 1;
  }
  out.resize(len);
  return out;
}

}  // namespace etcd::auth
