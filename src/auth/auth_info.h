// Who makes a request (etcd's AuthInfo).
#pragma once

#include <cstdint>
#include <string>

namespace etcd::auth {

// Empty username = no user (auth disabled, or no credentials given);
// revision = the auth revision the credentials were issued at.
struct AuthInfo {
  std::string username;
  uint64_t revision = 0;
};

}  // namespace etcd::auth
