#include "auth/simple_token.h"

#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <cstdint>

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

std::optional<AuthInfo> SimpleTokenProvider::lookup(const std::string& token,
                                                    uint64_t current_revision) {
  const TimePoint now = clock_.now();
  MutexLock lock(&mu_);
  if (!enabled_) return std::nullopt;
  auto it = tokens_.find(token);
  if (it == tokens_.end()) return std::nullopt;
  if (it->second.expires <= now) {
    tokens_.erase(it);
    return std::nullopt;
  }
  it->second.expires = now + ttl_;
  return AuthInfo{it->second.username, current_revision};
}

std::optional<AuthInfo> SimpleTokenProvider::info(std::string_view token,
                                                  uint64_t current_revision) {
  const std::string tok(token);
  if (auto found = lookup(tok, current_revision)) return found;
  // Unknown: perhaps issued by an Authenticate entry this member has not
  // applied yet. Wait for its index (named after the last '.'), then look
  // again, once.
  const size_t dot = tok.rfind('.');
  if (dot == std::string::npos || dot + 1 == tok.size()) return std::nullopt;
  uint64_t index = 0;
  for (size_t i = dot + 1; i < tok.size(); ++i) {
    if (tok[i] < '0' || tok[i] > '9' || index > (UINT64_MAX - 9) / 10) return std::nullopt;
    index = index * 10 + static_cast<uint64_t>(tok[i] - '0');
  }
  IndexWaiter waiter;
  {
    MutexLock lock(&mu_);
    waiter = index_waiter_;
  }
  if (!waiter || !waiter(index)) return std::nullopt;
  return lookup(tok, current_revision);
}

void SimpleTokenProvider::set_index_waiter(IndexWaiter w) {
  MutexLock lock(&mu_);
  index_waiter_ = std::move(w);
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
