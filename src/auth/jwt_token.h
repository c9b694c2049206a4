// etcd's JWT tokens: claims "username", "revision" and "exp" (now + ttl),
// signed by the member that applies the Authenticate entry with the
// configured private key, verified by any member with the configured key.
//
// Verification accepts exactly the configured algorithm: a token whose
// header names another one (alg "none", or HS256 signed with the RSA
// public key as an HMAC secret: "algorithm confusion") is refused, and so
// is one past its exp. A member given only pub-key verifies but cannot
// sign (assign answers "auth: token signing attempted with verify-only
// key"), as etcd.
//
// Algorithms: RS256/384/512, ES256/384/512, HS256/384/512 through libjwt;
// PS256/384/512 (which libjwt 1.10 lacks) through jwt_pss.h.
//
// Threads: any (immutable after construction).
#pragma once

#include <chrono>
#include <string>

#include "auth/token_provider.h"
#include "env/clock.h"

namespace etcd::auth {

struct JwtKeys {
  std::string alg;         // "RS256", ...
  std::string sign_key;    // PEM private key (RS/ES) or HMAC secret; empty: verify only
  std::string verify_key;  // PEM public key (RS/ES) or HMAC secret
};

class JwtTokenProvider final : public TokenProvider {
 public:
  JwtTokenProvider(env::Clock& clock, JwtKeys keys, std::chrono::nanoseconds ttl);

  void enable() override {}
  void disable() override {}
  std::optional<AuthInfo> info(std::string_view token, uint64_t current_revision) override;
  Result<std::string> assign(std::string_view prefix, std::string_view username, uint64_t revision,
                             uint64_t index) override;
  void invalidate_user(std::string_view) override {}
  std::string gen_token_prefix() override { return ""; }

  bool verify_only() const { return keys_.sign_key.empty(); }

 private:
  std::optional<AuthInfo> info_pss(std::string_view token);

  env::Clock& clock_;
  const JwtKeys keys_;
  const bool pss_;  // PS*: jwt_pss.h, not libjwt
  const int alg_;   // jwt_alg_t (JWT_ALG_NONE for PS*)
  const std::chrono::nanoseconds ttl_;
};

}  // namespace etcd::auth
