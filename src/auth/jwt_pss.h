// JWTs signed with RSA-PSS (PS256/PS384/PS512), which libjwt 1.10 lacks:
// compact JWS by hand over OpenSSL, in jwt-go's conventions (etcd's
// library): the salt as long as the digest when signing; verification
// reads the salt length from the signature. Only the given algorithm is
// accepted: the header's "alg" must name it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace etcd::auth::pss {

bool is_pss(std::string_view alg);

// "header.payload.signature" for `claims`, signed with the PEM private key.
Result<std::string> sign(std::string_view alg, const std::string& private_pem,
                         const nlohmann::json& claims);

// The claims of a token signed with `alg` by the key of `public_pem`, or
// nullopt (malformed, another alg, bad signature).
std::optional<nlohmann::json> verify(std::string_view alg, const std::string& public_pem,
                                     std::string_view token);

}  // namespace etcd::auth::pss
