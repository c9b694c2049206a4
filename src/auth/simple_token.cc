#include "auth/simple_token.h"

#include <openssl/rand.h>

#include <algorithm>

#include "base/assert.h"

namespace etcd::auth {

SimpleTokenProvider::SimpleTokenProvider(env::Clock& clock, std::chrono::seconds ttl,
                                         size_t max_tokens)
    : clock_(clock), ttl_(ttl), max_tokens_(std::max<size_t>(max_tokens, 1)) {}

void SimpleTokenProvider::enable() {
  MutexLock lock(&mu_);
  enabled_ = true;
}

void SimpleTokenProvider::disable() {
  MutexLock lock(&mu_);
  enabled_ = false;
  tokens_.clear();
}

std::optional<AuthInfo> SimpleTokenProvider::info(std::string_view token,
                                                  uint64_t current_revision) {
  const TimePoint now = clock_.now();
  MutexLock lock(&mu_);
  if (!enabled_) return std::nullopt;
  auto it = tokens_.find(std::string(token));
  if (it == tokens_.end()) return std::nullopt;
  if (it->second.expires <= now) {
    tokens_.erase(it);
    return std::nullopt;
  }
  it->second.expires = now + ttl_;
  return AuthInfo{it->second.username, current_revision};
}

Result<std::string> SimpleTokenProvider::assign(std::string_view prefix, std::string_view username,
                                                uint64_t /*revision*/, uint64_t index) {
  if (prefix.empty()) return invalid_argument("auth: simple token prefix is empty");
  std::string token = std::string(prefix) + "." + std::to_string(index);
  const TimePoint now = clock_.now();
  MutexLock lock(&mu_);
  // A token is registered even while disabled is not possible: Authenticate
  // is refused then. Still, keep the table consistent.
  if (!enabled_) return token;
  if (tokens_.size() >= max_tokens_ && !tokens_.contains(token)) make_room(now);
  tokens_[token] = Entry{std::string(username), now + ttl_};
  return token;
}

void SimpleTokenProvider::make_room(TimePoint now) {
  std::erase_if(tokens_, [&](const auto& kv) { return kv.second.expires <= now; });
  if (tokens_.size() < max_tokens_) return;
  auto oldest = std::min_element(tokens_.begin(), tokens_.end(), [](const auto& a, const auto& b) {
    return a.second.expires < b.second.expires;
  });
  tokens_.erase(oldest);
}

void SimpleTokenProvider::invalidate_user(std::string_view username) {
  MutexLock lock(&mu_);
  std::erase_if(tokens_, [&](const auto& kv) { return kv.second.username == username; });
}

std::string SimpleTokenProvider::gen_token_prefix() {
  static constexpr std::string_view kLetters =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  std::string out;
  out.reserve(kSimpleTokenPrefixLength);
  // Rejection sampling over random bytes: uniform letters, no modulo bias.
  while (out.size() < kSimpleTokenPrefixLength) {
    unsigned char buf[32];
    ASSERT(RAND_bytes(buf, sizeof(buf)) == 1, "RAND_bytes failed");
    for (unsigned char b : buf) {
      if (b >= 4 * kLetters.size()) continue;  // 208: a multiple of 52
      out.push_back(kLetters[b % kLetters.size()]);
      if (out.size() == kSimpleTokenPrefixLength) break;
    }
  }
  return out;
}

size_t SimpleTokenProvider::size() const {
  MutexLock lock(&mu_);
  return tokens_.size();
}

}  // namespace etcd::auth
