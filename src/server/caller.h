// Who a front call is made for: a client, as the rpc layer identified it
// (the user of its token or client certificate, and the auth revision the
// token was issued at), or this member itself (the compactor, the
// corruption checker, the lessor's expiry), which no permission check
// refuses. Fronts take one as their first argument.
#pragma once

#include <utility>

#include "auth/auth_info.h"

namespace etcd::server {

struct Caller {
  auth::AuthInfo info;  // empty username: no credentials (or auth disabled)
  bool member = false;  // the member's own request

  static Caller client(auth::AuthInfo info) { return Caller{std::move(info), false}; }
  static Caller self() { return Caller{{}, true}; }
};

}  // namespace etcd::server
