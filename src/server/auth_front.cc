#include "server/auth_front.h"

#include "auth/errors.h"
#include "server/errors.h"

namespace etcd::server {

namespace {

// Authenticate retries while the auth revision moves between the password
// check and the apply (etcd loops without bound).
constexpr int kMaxAuthenticateAttempts = 8;

}  // namespace

template <typename Resp>
Result<Resp> AuthFront::propose(serverpb::InternalRaftRequest req, const Caller& c) {
  req.mutable_header()->set_username(c.username);
  req.mutable_header()->set_auth_revision(c.revision);
  auto resp = core_.propose<Resp>(std::move(req));
  if (resp.is_ok()) core_.fill_header(resp->mutable_header(), 0);
  return resp;
}

Result<etcdserverpb::AuthEnableResponse> AuthFront::auth_enable(const Caller& c) {
  serverpb::InternalRaftRequest req;
  req.mutable_auth_enable();
  return propose<etcdserverpb::AuthEnableResponse>(std::move(req), c);
}

Result<etcdserverpb::AuthDisableResponse> AuthFront::auth_disable(const Caller& c) {
  serverpb::InternalRaftRequest req;
  req.mutable_auth_disable();
  return propose<etcdserverpb::AuthDisableResponse>(std::move(req), c);
}

Result<etcdserverpb::AuthStatusResponse> AuthFront::auth_status(const Caller& c) {
  serverpb::InternalRaftRequest req;
  req.mutable_auth_status();
  return propose<etcdserverpb::AuthStatusResponse>(std::move(req), c);
}

Result<etcdserverpb::AuthenticateResponse> AuthFront::authenticate(
    const etcdserverpb::AuthenticateRequest& r, const Caller& c) {
  RETURN_IF_ERROR(core_.linearizable_read_barrier());
  for (int attempt = 0; attempt < kMaxAuthenticateAttempts; ++attempt) {
    auto checked = store_.check_password(r.name(), r.password());
    if (!checked.is_ok()) {
      if (checked.status() != auth::errors::auth_not_enabled()) {
        // The user name only: never the password.
        core_.logger.warn("invalid authentication was requested",
                          {{"user", r.name()}, {"error", checked.status().message()}});
      }
      return checked.status();
    }
    serverpb::InternalRaftRequest req;
    req.mutable_authenticate()->set_name(r.name());
    req.mutable_authenticate()->set_simple_token(store_.gen_token_prefix());
    auto resp = propose<etcdserverpb::AuthenticateResponse>(std::move(req), c);
    if (!resp.is_ok()) return resp.status();
    if (*checked == store_.revision()) return resp;
    core_.logger.info("revision when password checked became stale; retrying");
  }
  return errors::timeout();
}

Result<etcdserverpb::AuthUserAddResponse> AuthFront::user_add(etcdserverpb::AuthUserAddRequest r,
                                                              const Caller& c) {
  // The hash is ours to make: a client's hashedPassword is ignored.
  r.clear_hashedpassword();
  if (!r.options().no_password()) {
    if (r.password().empty()) return auth::errors::empty_password();
    auto hashed = store_.hash_password(r.password());
    if (!hashed.is_ok()) return hashed.status();
    r.set_hashedpassword(std::move(*hashed));
    r.clear_password();
  }
  serverpb::InternalRaftRequest req;
  *req.mutable_auth_user_add() = std::move(r);
  return propose<etcdserverpb::AuthUserAddResponse>(std::move(req), c);
}

Result<etcdserverpb::AuthUserGetResponse> AuthFront::user_get(
    const etcdserverpb::AuthUserGetRequest& r, const Caller& c) {
  serverpb::InternalRaftRequest req;
  *req.mutable_auth_user_get() = r;
  return propose<etcdserverpb::AuthUserGetResponse>(std::move(req), c);
}

Result<etcdserverpb::AuthUserListResponse> AuthFront::user_list(const Caller& c) {
  serverpb::InternalRaftRequest req;
  req.mutable_auth_user_list();
  return propose<etcdserverpb::AuthUserListResponse>(std::move(req), c);
}

Result<etcdserverpb::AuthUserDeleteResponse> AuthFront::user_delete(
    const etcdserverpb::AuthUserDeleteRequest& r, const Caller& c) {
  serverpb::InternalRaftRequest req;
  *req.mutable_auth_user_delete() = r;
  return propose<etcdserverpb::AuthUserDeleteResponse>(std::move(req), c);
}

Result<etcdserverpb::AuthUserChangePasswordResponse> AuthFront::user_change_password(
    etcdserverpb::AuthUserChangePasswordRequest r, const Caller& c) {
  r.clear_hashedpassword();  // ours to make, as for UserAdd
  if (!r.password().empty()) {
    auto hashed = store_.hash_password(r.password());
    if (!hashed.is_ok()) return hashed.status();
    r.set_hashedpassword(std::move(*hashed));
    r.clear_password();
  } else if (store_.has_user(r.name()) && !store_.is_no_password_user(r.name())) {
    // etcd would store an empty hash, locking the user out for good.
    return auth::errors::empty_password();
  }
  serverpb::InternalRaftRequest req;
  *req.mutable_auth_user_change_password() = std::move(r);
  return propose<etcdserverpb::AuthUserChangePasswordResponse>(std::move(req), c);
}

Result<etcdserverpb::AuthUserGrantRoleResponse> AuthFront::user_grant_role(
    const etcdserverpb::AuthUserGrantRoleRequest& r, const Caller& c) {
  serverpb::InternalRaftRequest req;
  *req.mutable_auth_user_grant_role() = r;
  return propose<etcdserverpb::AuthUserGrantRoleResponse>(std::move(req), c);
}

Result<etcdserverpb::AuthUserRevokeRoleResponse> AuthFront::user_revoke_role(
    const etcdserverpb::AuthUserRevokeRoleRequest& r, const Caller& c) {
  serverpb::InternalRaftRequest req;
  *req.mutable_auth_user_revoke_role() = r;
  return propose<etcdserverpb::AuthUserRevokeRoleResponse>(std::move(req), c);
}

Result<etcdserverpb::AuthRoleAddResponse> AuthFront::role_add(
    const etcdserverpb::AuthRoleAddRequest& r, const Caller& c) {
  serverpb::InternalRaftRequest req;
  *req.mutable_auth_role_add() = r;
  return propose<etcdserverpb::AuthRoleAddResponse>(std::move(req), c);
}

Result<etcdserverpb::AuthRoleGetResponse> AuthFront::role_get(
    const etcdserverpb::AuthRoleGetRequest& r, const Caller& c) {
  serverpb::InternalRaftRequest req;
  *req.mutable_auth_role_get() = r;
  return propose<etcdserverpb::AuthRoleGetResponse>(std::move(req), c);
}

Result<etcdserverpb::AuthRoleListResponse> AuthFront::role_list(const Caller& c) {
  serverpb::InternalRaftRequest req;
  req.mutable_auth_role_list();
  return propose<etcdserverpb::AuthRoleListResponse>(std::move(req), c);
}

Result<etcdserverpb::AuthRoleDeleteResponse> AuthFront::role_delete(
    const etcdserverpb::AuthRoleDeleteRequest& r, const Caller& c) {
  serverpb::InternalRaftRequest req;
  *req.mutable_auth_role_delete() = r;
  return propose<etcdserverpb::AuthRoleDeleteResponse>(std::move(req), c);
}

Result<etcdserverpb::AuthRoleGrantPermissionResponse> AuthFront::role_grant_permission(
    const etcdserverpb::AuthRoleGrantPermissionRequest& r, const Caller& c) {
  serverpb::InternalRaftRequest req;
  *req.mutable_auth_role_grant_permission() = r;
  return propose<etcdserverpb::AuthRoleGrantPermissionResponse>(std::move(req), c);
}

Result<etcdserverpb::AuthRoleRevokePermissionResponse> AuthFront::role_revoke_permission(
    const etcdserverpb::AuthRoleRevokePermissionRequest& r, const Caller& c) {
  serverpb::InternalRaftRequest req;
  *req.mutable_auth_role_revoke_permission() = r;
  return propose<etcdserverpb::AuthRoleRevokePermissionResponse>(std::move(req), c);
}

}  // namespace etcd::server
