// Builds the token provider from --auth-token (etcd's syntax):
//   "simple"                                    simple tokens, TTL --auth-token-ttl
//   "jwt,sign-method=RS256,priv-key=F,pub-key=F,ttl=10m"
// Errors carry etcd's texts ("auth: invalid auth options", "auth: missing
// key data", "auth: public and private keys don't match", the key parser's
// "Invalid Key: ..."), which the server prints when it refuses to start.
#pragma once

#include <chrono>
#include <memory>
#include <string_view>

#include "auth/token_provider.h"
#include "base/log.h"
#include "base/status.h"
#include "env/clock.h"

namespace etcd::auth {

Result<std::unique_ptr<TokenProvider>> make_token_provider(std::string_view options,
                                                           std::chrono::seconds simple_ttl,
                                                           env::Clock& clock, log::Logger& logger);

}  // namespace etcd::auth
