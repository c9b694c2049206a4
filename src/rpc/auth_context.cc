#include "rpc/auth_context.h"

#include "auth/errors.h"

namespace etcd::rpc {

// The client certificate's CN of a connection, by its gRPC peer string;
// the TLS module (src/rpc/client_listener.h) defines it. (By peer string
// rather than by grpc::ServerContext: the Watch service's callback API has
// a grpc::CallbackServerContext, and both have peer().)
std::string client_cert_common_name(const std::string& grpc_peer);

// TODO(lead, at the merge with the TLS branch): remove this weak fallback;
// the TLS module's strong definition of client_cert_common_name replaces
// it. Until then no request carries a client certificate CN.
__attribute__((weak)) std::string client_cert_common_name(const std::string&) { return ""; }

namespace {

// etcd reads the token from metadata "token" (its clients) or
// "authorization" (the gRPC gateway's swagger field).
std::optional<std::string> token_of(const grpc::ServerContextBase& ctx) {
  const auto& md = ctx.client_metadata();
  for (const char* key : {"token", "authorization"}) {
    auto it = md.find(key);
    if (it != md.end()) return std::string(it->second.data(), it->second.size());
  }
  return std::nullopt;
}

}  // namespace

Result<auth::AuthInfo> caller(const grpc::ServerContextBase& ctx, const auth::AuthStore& store) {
  if (auto token = token_of(ctx)) {
    // As etcd: a token is looked up even while auth is disabled, and one
    // that is not valid is refused.
    return store.info_from_token(*token);
  }
  const std::string cn = client_cert_common_name(ctx.peer());
  if (!cn.empty()) return store.info_from_common_name(cn);
  return auth::AuthInfo{};
}

}  // namespace etcd::rpc
