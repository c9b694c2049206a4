// Tokens: what Authenticate hands out and every later request carries
// (gRPC metadata "token"). Two kinds, as etcd: simple tokens (random,
// registered on every member through the Authenticate entry, held in
// memory with a TTL) and JWTs (signed by the member that applied the
// Authenticate, verified by any member with the key).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "auth/auth_info.h"
#include "base/status.h"

namespace etcd::auth {

class TokenProvider {
 public:
  virtual ~TokenProvider() = default;
  // Auth turned on / off (simple tokens: start / stop holding tokens).
  virtual void enable() = 0;
  virtual void disable() = 0;
  // The user behind `token`, or nullopt when unknown, expired or invalid.
  // `current_revision` is the store's auth revision (simple tokens carry
  // none: they are dropped instead when their user changes).
  virtual std::optional<AuthInfo> info(std::string_view token, uint64_t current_revision) = 0;
  // Issues the token for a user authenticated at auth revision `revision`
  // by the Authenticate entry at raft index `index`; `prefix` is the
  // proposer's gen_token_prefix() (simple tokens).
  virtual Result<std::string> assign(std::string_view prefix, std::string_view username,
                                     uint64_t revision, uint64_t index) = 0;
  // Drops every token of `username` (deleted user, changed password).
  virtual void invalidate_user(std::string_view username) = 0;
  // The random part of a new simple token; empty for JWT.
  virtual std::string gen_token_prefix() = 0;

  // Waits (bounded) until this member applied raft index `index`; false
  // when it did not get there. Simple tokens name the index of their
  // Authenticate entry: a member that has not applied it yet waits for it
  // before calling the token unknown (etcd's indexWaiter).
  using IndexWaiter = std::function<bool(uint64_t index)>;
  virtual void set_index_waiter(IndexWaiter) {}
};

}  // namespace etcd::auth
