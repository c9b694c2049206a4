#include "server/auth_applier.h"

namespace etcd::server {

using Req = serverpb::InternalRaftRequest;

Status AuthApplier::check(const Req& req) const {
  // An entry without a header (etcd before 3.0) has no user.
  const auth::AuthInfo who{req.header().username(), req.header().auth_revision()};
  switch (req.request_case()) {
    case Req::kRange:
      return checks_.range(who, req.range());
    case Req::kPut:
      return checks_.put(who, req.put());
    case Req::kDeleteRange:
      return checks_.delete_range(who, req.delete_range());
    case Req::kTxn:
      return checks_.txn(who, req.txn());
    case Req::kLeaseRevoke:
      return checks_.lease_keys_writable(who, LeaseId(req.lease_revoke().id()));
    // Auth management: root only.
    case Req::kAuthEnable:
    case Req::kAuthDisable:
    case Req::kAuthStatus:
    case Req::kAuthUserAdd:
    case Req::kAuthUserDelete:
    case Req::kAuthUserChangePassword:
    case Req::kAuthUserGrantRole:
    case Req::kAuthUserRevokeRole:
    case Req::kAuthUserList:
    case Req::kAuthRoleList:
    case Req::kAuthRoleAdd:
    case Req::kAuthRoleDelete:
    case Req::kAuthRoleGrantPermission:
    case Req::kAuthRoleRevokePermission:
      return checks_.admin(who);
    case Req::kAuthUserGet: {
      // A user may read itself.
      Status st = checks_.admin(who);
      if (st.is_ok() || req.auth_user_get().name() == who.username) return Status::ok();
      return st;
    }
    case Req::kAuthRoleGet: {
      // A user may read the roles it has.
      Status st = checks_.admin(who);
      if (st.is_ok() || checks_.store().has_role(who.username, req.auth_role_get().role())) {
        return Status::ok();
      }
      return st;
    }
    default:
      // Compaction, lease grants and checkpoints, alarms, authenticate and
      // the membership entries: no permission needed (etcd).
      return Status::ok();
  }
}

ApplyResult AuthApplier::apply(const Req& req, backend::ConsistentIndex ci) {
  if (Status st = check(req); !st.is_ok()) {
    record_consistent_index(backend_, ci);
    return ApplyResult::error(std::move(st));
  }
  return next_.apply(req, ci);
}

}  // namespace etcd::server
