// The Auth service's front (etcd 3.5's v3_server.go auth half). Every
// request goes through Raft with the caller in the entry's header (the
// apply thread checks the admin rule, src/server/auth_apply.h). Work that
// must not run on the apply thread happens here, on the gRPC thread:
//   - UserAdd / UserChangePassword: the bcrypt hash is made here and carried
//     base64-encoded in hashedPassword (etcd 3.5); the password itself never
//     enters the log;
//   - Authenticate: the password is checked here (bcrypt), then an
//     InternalAuthenticateRequest without the password, with the simple
//     token's random part, is proposed so every member registers the token;
//     if the auth revision moved meanwhile, it starts over (etcd's loop,
//     bounded here).
// Beyond etcd: UserAdd with an empty password and without no_password is
// refused (errors::empty_password), and so is changing a password to "".
// Thread-safe: gRPC threads call it.
#pragma once

#include "auth/auth_info.h"
#include "auth/auth_store.h"
#include "server/server_core.h"

namespace etcd::server {

class AuthFront {
 public:
  AuthFront(ServerCore& core, auth::AuthStore& store) : core_(core), store_(store) {}

  using Caller = auth::AuthInfo;
  Result<etcdserverpb::AuthEnableResponse> auth_enable(const Caller& c);
  Result<etcdserverpb::AuthDisableResponse> auth_disable(const Caller& c);
  Result<etcdserverpb::AuthStatusResponse> auth_status(const Caller& c);
  Result<etcdserverpb::AuthenticateResponse> authenticate(
      const etcdserverpb::AuthenticateRequest& r, const Caller& c);
  Result<etcdserverpb::AuthUserAddResponse> user_add(etcdserverpb::AuthUserAddRequest r,
                                                     const Caller& c);
  Result<etcdserverpb::AuthUserGetResponse> user_get(const etcdserverpb::AuthUserGetRequest& r,
                                                     const Caller& c);
  Result<etcdserverpb::AuthUserListResponse> user_list(const Caller& c);
  Result<etcdserverpb::AuthUserDeleteResponse> user_delete(
      const etcdserverpb::AuthUserDeleteRequest& r, const Caller& c);
  Result<etcdserverpb::AuthUserChangePasswordResponse> user_change_password(
      etcdserverpb::AuthUserChangePasswordRequest r, const Caller& c);
  Result<etcdserverpb::AuthUserGrantRoleResponse> user_grant_role(
      const etcdserverpb::AuthUserGrantRoleRequest& r, const Caller& c);
  Result<etcdserverpb::AuthUserRevokeRoleResponse> user_revoke_role(
      const etcdserverpb::AuthUserRevokeRoleRequest& r, const Caller& c);
  Result<etcdserverpb::AuthRoleAddResponse> role_add(const etcdserverpb::AuthRoleAddRequest& r,
                                                     const Caller& c);
  Result<etcdserverpb::AuthRoleGetResponse> role_get(const etcdserverpb::AuthRoleGetRequest& r,
                                                     const Caller& c);
  Result<etcdserverpb::AuthRoleListResponse> role_list(const Caller& c);
  Result<etcdserverpb::AuthRoleDeleteResponse> role_delete(
      const etcdserverpb::AuthRoleDeleteRequest& r, const Caller& c);
  Result<etcdserverpb::AuthRoleGrantPermissionResponse> role_grant_permission(
      const etcdserverpb::AuthRoleGrantPermissionRequest& r, const Caller& c);
  Result<etcdserverpb::AuthRoleRevokePermissionResponse> role_revoke_permission(
      const etcdserverpb::AuthRoleRevokePermissionRequest& r, const Caller& c);

  auth::AuthStore& store() { return store_; }

 private:
  // Proposes `req` with the caller in its header; fills the response header.
  template <typename Resp>
  Result<Resp> propose(serverpb::InternalRaftRequest req, const Caller& c);

  ServerCore& core_;
  auth::AuthStore& store_;
};

}  // namespace etcd::server
