#include "auth/jwt_token.h"

#include <jwt.h>

#include <cerrno>
#include <cstdlib>
#include <memory>

#include "auth/errors.h"
#include "auth/jwt_pss.h"
#include "base/assert.h"

namespace etcd::auth {

namespace {

struct JwtFree {
  void operator()(jwt_t* j) const { jwt_free(j); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtFree>;

const unsigned char* bytes(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

JwtTokenProvider::JwtTokenProvider(env::Clock& clock, JwtKeys keys, std::chrono::nanoseconds ttl)
    : clock_(clock),
      keys_(std::move(keys)),
      pss_(pss::is_pss(keys_.alg)),
      alg_(pss_ ? JWT_ALG_NONE : jwt_str_alg(keys_.alg.c_str())),
      ttl_(ttl) {
  ASSERT(pss_ || (alg_ != JWT_ALG_INVAL && alg_ != JWT_ALG_NONE),
         "JWT provider built with a bad algorithm");
  ASSERT(!keys_.verify_key.empty(), "JWT provider built without a verification key");
}

std::optional<AuthInfo> JwtTokenProvider::info_pss(std::string_view token) {
  auto claims = pss::verify(keys_.alg, keys_.verify_key, token);
  if (!claims) return std::nullopt;
  const auto& c = *claims;
  if (!c.contains("username") || !c["username"].is_string()) return std::nullopt;
  if (!c.contains("revision") || !c["revision"].is_number() || c["revision"].get<double>() < 0) {
    return std::nullopt;
  }
  if (c.contains("exp")) {
    if (!c["exp"].is_number()) return std::nullopt;
    if (static_cast<double>(clock_.wall_unix_ms() / 1000) >= c["exp"].get<double>()) {
      return std::nullopt;
    }
  } else if (ttl_.count() > 0) {
    return std::nullopt;
  }
  return AuthInfo{c["username"].get<std::string>(), c["revision"].get<uint64_t>()};
}

std::optional<AuthInfo> JwtTokenProvider::info(std::string_view token, uint64_t) {
  if (token.empty()) return std::nullopt;
  if (pss_) return info_pss(token);
  const std::string tok(token);
  jwt_t* raw = nullptr;
  const int rc = jwt_decode(&raw, tok.c_str(), bytes(keys_.verify_key),
                            static_cast<int>(keys_.verify_key.size()));
  JwtPtr j(raw);
  if (rc != 0 || !j) return std::nullopt;
  // jwt_decode verifies with the algorithm the token's header names: only
  // the configured one is acceptable (no "none", no algorithm confusion).
  if (jwt_get_alg(j.get()) != alg_) return std::nullopt;
  const char* user = jwt_get_grant(j.get(), "username");
  if (user == nullptr) return std::nullopt;
  errno = 0;
  const long revision = jwt_get_grant_int(j.get(), "revision");
  if (errno != 0 || revision < 0) return std::nullopt;
  errno = 0;
  const long exp = jwt_get_grant_int(j.get(), "exp");
  if (errno == 0) {
    if (clock_.wall_unix_ms() / 1000 >= exp) return std::nullopt;
  } else if (ttl_.count() > 0) {
    return std::nullopt;  // a token of ours always carries exp when ttl > 0
  }
  return AuthInfo{user, static_cast<uint64_t>(revision)};
}

Result<std::string> JwtTokenProvider::assign(std::string_view, std::string_view username,
                                             uint64_t revision, uint64_t) {
  if (verify_only()) return errors::verify_only();
  if (pss_) {
    const long exp =
        static_cast<long>(clock_.wall_unix_ms() / 1000 +
                          std::chrono::duration_cast<std::chrono::seconds>(ttl_).count());
    return pss::sign(keys_.alg, keys_.sign_key,
                     {{"username", std::string(username)}, {"revision", revision}, {"exp", exp}});
  }
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) return internal_error("auth: cannot allocate a JWT");
  JwtPtr j(raw);
  const std::string user(username);
  const long exp =
      static_cast<long>(clock_.wall_unix_ms() / 1000 +
                        std::chrono::duration_cast<std::chrono::seconds>(ttl_).count());
  if (jwt_add_grant(j.get(), "username", user.c_str()) != 0 ||
      jwt_add_grant_int(j.get(), "revision", static_cast<long>(revision)) != 0 ||
      jwt_add_grant_int(j.get(), "exp", exp) != 0) {
    return internal_error("auth: cannot build the JWT claims");
  }
  if (jwt_set_alg(j.get(), static_cast<jwt_alg_t>(alg_), bytes(keys_.sign_key),
                  static_cast<int>(keys_.sign_key.size())) != 0) {
    return internal_error("auth: cannot set the JWT signing key");
  }
  char* out = jwt_encode_str(j.get());
  if (out == nullptr) return internal_error("auth: cannot sign the JWT");
  std::string token(out);
  std::free(out);
  return token;
}

}  // namespace etcd::auth
