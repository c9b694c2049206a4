// The caller of an RPC: the user behind the request's credentials.
#pragma once

#include <grpcpp/server_context.h>

#include "auth/auth_info.h"
#include "auth/auth_store.h"
#include "base/status.h"

#include <optional>
#include <string>

namespace etcd::rpc {

// Who calls: auth disabled -> an empty AuthInfo; else the gRPC metadata
// "token" (kUnauthenticated "etcdserver: invalid auth token" when it is not
// valid); without a token, the client certificate's CN when there is one;
// else an empty AuthInfo (the permission checks then refuse with
// "etcdserver: user name is empty").
// (ServerContextBase: the Watch service's callback API has no grpc::ServerContext.)
Result<auth::AuthInfo> caller(const grpc::ServerContextBase& ctx, const auth::AuthStore& store);

}  // namespace etcd::rpc
