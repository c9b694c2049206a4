#include "server/auth_apply.h"

namespace etcd::server {

using Req = serverpb::InternalRaftRequest;

namespace {

// etcd's needAdminPermission: every auth request but Authenticate, UserGet
// and RoleGet (those two have their own rule).
bool needs_admin(const Req& req) {
  switch (req.request_case()) {
    case Req::kAuthEnable:
    case Req::kAuthDisable:
    case Req::kAuthStatus:
    case Req::kAuthUserAdd:
    case Req::kAuthUserDelete:
    case Req::kAuthUserChangePassword:
    case Req::kAuthUserGrantRole:
    case Req::kAuthUserRevokeRole:
    case Req::kAuthRoleAdd:
    case Req::kAuthRoleGrantPermission:
    case Req::kAuthRoleRevokePermission:
    case Req::kAuthRoleDelete:
    case Req::kAuthUserList:
    case Req::kAuthRoleList:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool AuthRequestApplier::handles(const Req& req) {
  switch (req.request_case()) {
    case Req::kAuthenticate:
    case Req::kAuthUserGet:
    case Req::kAuthRoleGet:
      return true;
    default:
      return needs_admin(req);
  }
}

ApplyResult AuthRequestApplier::apply(const Req& req, backend::ConsistentIndex ci) {
  ApplyResult out;
  {
    backend::BatchTx tx = backend_.batch_tx();
    tx.set_consistent_index(ci);
    out = apply_in_tx(req, ci, tx);
  }
  // etcd commits the flag change at once.
  if (out.status.is_ok() && (req.has_auth_enable() || req.has_auth_disable())) {
    backend_.force_commit();
  }
  return out;
}

ApplyResult AuthRequestApplier::apply_in_tx(const Req& req, backend::ConsistentIndex ci,
                                            backend::BatchTx& tx) {
  const auth::AuthInfo who{req.header().username(), req.header().auth_revision()};
  if (needs_admin(req)) {
    if (Status st = store_.is_admin_permitted(who); !st.is_ok()) return ApplyResult::error(st);
  }
  switch (req.request_case()) {
    case Req::kAuthEnable: {
      auto r = store_.apply_auth_enable(tx);
      if (r.is_ok()) logger_.info("enabled authentication");
      return ApplyResult::of(std::move(r));
    }
    case Req::kAuthDisable: {
      const bool was = store_.enabled();
      auto r = store_.apply_auth_disable(tx);
      if (r.is_ok() && was) logger_.info("disabled authentication");
      return ApplyResult::of(std::move(r));
    }
    case Req::kAuthStatus:
      return ApplyResult::of(store_.apply_auth_status());
    case Req::kAuthenticate: {
      auto r = store_.apply_authenticate(req.authenticate(), ci.index.value());
      // The token is a credential: never logged.
      if (r.is_ok())
        logger_.debug("authenticated a user", {{"user-name", req.authenticate().name()}});
      return ApplyResult::of(std::move(r));
    }
    case Req::kAuthUserAdd: {
      auto r = store_.apply_user_add(req.auth_user_add(), tx);
      if (r.is_ok()) logger_.info("added a user", {{"user-name", req.auth_user_add().name()}});
      return ApplyResult::of(std::move(r));
    }
    case Req::kAuthUserDelete: {
      auto r = store_.apply_user_delete(req.auth_user_delete(), tx);
      if (r.is_ok()) logger_.info("deleted a user", {{"user-name", req.auth_user_delete().name()}});
      return ApplyResult::of(std::move(r));
    }
    case Req::kAuthUserChangePassword: {
      auto r = store_.apply_user_change_password(req.auth_user_change_password(), tx);
      if (r.is_ok()) {
        logger_.info("changed a password of a user",
                     {{"user-name", req.auth_user_change_password().name()}});
      }
      return ApplyResult::of(std::move(r));
    }
    case Req::kAuthUserGrantRole: {
      auto r = store_.apply_user_grant_role(req.auth_user_grant_role(), tx);
      if (r.is_ok()) {
        logger_.info("granted a role to a user",
                     {{"user-name", req.auth_user_grant_role().user()},
                      {"role-name", req.auth_user_grant_role().role()}});
      }
      return ApplyResult::of(std::move(r));
    }
    case Req::kAuthUserRevokeRole: {
      auto r = store_.apply_user_revoke_role(req.auth_user_revoke_role(), tx);
      if (r.is_ok()) {
        logger_.info("revoked a role from a user",
                     {{"user-name", req.auth_user_revoke_role().name()},
                      {"role-name", req.auth_user_revoke_role().role()}});
      }
      return ApplyResult::of(std::move(r));
    }
    case Req::kAuthUserGet: {
      const auto& r = req.auth_user_get();
      Status st = store_.is_admin_permitted(who);
      if (!st.is_ok() && r.name() != who.username) return ApplyResult::error(st);
      return ApplyResult::of(store_.apply_user_get(r));
    }
    case Req::kAuthUserList:
      return ApplyResult::of(store_.apply_user_list());
    case Req::kAuthRoleAdd: {
      auto r = store_.apply_role_add(req.auth_role_add(), tx);
      if (r.is_ok()) logger_.info("created a role", {{"role-name", req.auth_role_add().name()}});
      return ApplyResult::of(std::move(r));
    }
    case Req::kAuthRoleDelete: {
      auto r = store_.apply_role_delete(req.auth_role_delete(), tx);
      if (r.is_ok()) logger_.info("deleted a role", {{"role-name", req.auth_role_delete().role()}});
      return ApplyResult::of(std::move(r));
    }
    case Req::kAuthRoleGet: {
      const auto& r = req.auth_role_get();
      Status st = store_.is_admin_permitted(who);
      if (!st.is_ok() && !store_.has_role(who.username, r.role())) return ApplyResult::error(st);
      return ApplyResult::of(store_.apply_role_get(r));
    }
    case Req::kAuthRoleList:
      return ApplyResult::of(store_.apply_role_list());
    case Req::kAuthRoleGrantPermission: {
      auto r = store_.apply_role_grant_permission(req.auth_role_grant_permission(), tx);
      if (r.is_ok()) {
        logger_.info("granted/updated a permission to a role",
                     {{"role-name", req.auth_role_grant_permission().name()}});
      }
      return ApplyResult::of(std::move(r));
    }
    case Req::kAuthRoleRevokePermission: {
      auto r = store_.apply_role_revoke_permission(req.auth_role_revoke_permission(), tx);
      if (r.is_ok()) {
        logger_.info("revoked a permission on range",
                     {{"role-name", req.auth_role_revoke_permission().role()}});
      }
      return ApplyResult::of(std::move(r));
    }
    default:
      return ApplyResult::error(internal_error("etcdserver: not an auth request"));
  }
}

}  // namespace etcd::server
