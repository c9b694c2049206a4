#include "rpc/auth_context.h"

#include "auth/errors.h"
#include "rpc/client_listener.h"
#include "rpc/self_client.h"

namespace etcd::rpc {

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
  // The server's own call for a caller known by its certificate.
  if (auto self_cn = self_caller_cn(ctx)) return store.info_from_common_name(*self_cn);
  const std::string cn = client_cert_common_name(ctx.peer());
  if (!cn.empty()) return store.info_from_common_name(cn);
  return auth::AuthInfo{};
}

}  // namespace etcd::rpc
