// bcrypt password hashes through libxcrypt, compatible with Go's
// golang.org/x/crypto/bcrypt (what etcd stores in authpb.User.password):
// new hashes are "$2a$<cost>$...", as Go writes them; "$2a$", "$2b$" and
// "$2y$" hashes are accepted, so an etcd data dir's users carry over.
// Expensive by design: call only from gRPC threads, never the apply thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace etcd::auth {

// Go's bcrypt.MinCost, MaxCost and DefaultCost.
inline constexpr int kBcryptMinCost = 4;
inline constexpr int kBcryptMaxCost = 31;
inline constexpr int kBcryptDefaultCost = 10;

// A new hash of `password` at `cost` (kBcryptMinCost..kBcryptMaxCost).
// bcrypt reads at most 72 bytes of the password, as Go's does.
Result<std::string> bcrypt_hash(std::string_view password, int cost);

// Whether `password` matches `hash` (false for a malformed hash). The
// comparison of the computed and stored hashes takes constant time.
bool bcrypt_check(std::string_view hash, std::string_view password);

}  // namespace etcd::auth

namespace etcd::auth {

// Standard base64 with padding (Go's base64.StdEncoding): etcd 3.5 carries
// the bcrypt hash base64-encoded in the requests' hashedPassword field.
std::string base64_encode(std::string_view data);
// nullopt when `text` is not valid padded standard base64.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace etcd::auth
