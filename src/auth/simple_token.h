// etcd's simple tokens: "<16 random letters>.<raft index>", registered on
// every member when the Authenticate entry is applied, held in memory only,
// each valid for `ttl` after its last use (a use refreshes it). Not signed:
// a token is as secret as a password and must travel over TLS.
//
// The table is bounded (kMaxSimpleTokens): when full, expired tokens are
// swept first, then the one closest to expiry is dropped.
//
// Threads: any; mu_ guards the table.
#pragma once

#include <absl/base/thread_annotations.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "auth/token_provider.h"
#include "base/mutex.h"
#include "env/clock.h"

namespace etcd::auth {

inline constexpr size_t kMaxSimpleTokens = 100'000;
inline constexpr size_t kSimpleTokenPrefixLength = 16;

class SimpleTokenProvider final : public TokenProvider {
 public:
  SimpleTokenProvider(env::Clock& clock, std::chrono::seconds ttl,
                      size_t max_tokens = kMaxSimpleTokens);

  void enable() override;
  void disable() override;
  std::optional<AuthInfo> info(std::string_view token, uint64_t current_revision) override;
  Result<std::string> assign(std::string_view prefix, std::string_view username, uint64_t revision,
                             uint64_t index) override;
  void invalidate_user(std::string_view username) override;
  std::string gen_token_prefix() override;
  void set_index_waiter(IndexWaiter w) override;

  size_t size() const;

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Entry {
    std::string username;
    TimePoint expires;
  };
  void make_room(TimePoint now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::optional<AuthInfo> lookup(const std::string& token, uint64_t current_revision)
      ABSL_LOCKS_EXCLUDED(mu_);

  env::Clock& clock_;
  const std::chrono::seconds ttl_;
  const size_t max_tokens_;
  mutable Mutex mu_;
  bool enabled_ ABSL_GUARDED_BY(mu_) = false;
  IndexWaiter index_waiter_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, Entry> tokens_ ABSL_GUARDED_BY(mu_);
};

}  // namespace etcd::auth
