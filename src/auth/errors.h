// The authentication errors a client sees: etcd's gRPC codes and exact
// messages (etcd's rpctypes), which client libraries match to raise typed
// errors. The store returns these; the RPC layer passes them through.
#pragma once

#include "base/status.h"

namespace etcd::auth::errors {

inline Status root_user_not_exist() {
  return {Code::kFailedPrecondition, "etcdserver: root user does not exist"};
}
inline Status root_role_not_exist() {
  return {Code::kFailedPrecondition, "etcdserver: root user does not have root role"};
}
inline Status user_already_exist() {
  return {Code::kFailedPrecondition, "etcdserver: user name already exists"};
}
inline Status user_empty() { return {Code::kInvalidArgument, "etcdserver: user name is empty"}; }
inline Status user_not_found() {
  return {Code::kFailedPrecondition, "etcdserver: user name not found"};
}
inline Status role_already_exist() {
  return {Code::kFailedPrecondition, "etcdserver: role name already exists"};
}
inline Status role_not_found() {
  return {Code::kFailedPrecondition, "etcdserver: role name not found"};
}
inline Status role_empty() { return {Code::kInvalidArgument, "etcdserver: role name is empty"}; }
inline Status permission_not_given() {
  return {Code::kInvalidArgument, "etcdserver: permission not given"};
}
inline Status auth_failed() {
  return {Code::kInvalidArgument, "etcdserver: authentication failed, invalid user ID or password"};
}
inline Status permission_denied() {
  return {Code::kPermissionDenied, "etcdserver: permission denied"};
}
inline Status role_not_granted() {
  return {Code::kFailedPrecondition, "etcdserver: role is not granted to the user"};
}
inline Status permission_not_granted() {
  return {Code::kFailedPrecondition, "etcdserver: permission is not granted to the role"};
}
inline Status auth_not_enabled() {
  return {Code::kFailedPrecondition, "etcdserver: authentication is not enabled"};
}
inline Status invalid_auth_token() {
  return {Code::kUnauthenticated, "etcdserver: invalid auth token"};
}
inline Status invalid_auth_mgmt() {
  return {Code::kInvalidArgument, "etcdserver: invalid auth management"};
}
inline Status auth_old_revision() {
  return {Code::kInvalidArgument, "etcdserver: revision of auth store is old"};
}
// Beyond etcd: UserAdd with an empty password and without no_password
// (etcd 3.4 stores a bcrypt hash of "", which anyone can log in with).
inline Status empty_password() {
  return {Code::kInvalidArgument,
          "etcdserver: password is empty (use the no-password option for a user without one)"};
}
// etcd's errors that reach the client as a plain Unknown error (no rpctypes
// entry): a JWT member with only a public key cannot sign.
inline Status no_password_user() {
  return {Code::kUnknown, "auth: authentication failed, password was given for no password user"};
}
inline Status verify_only() {
  return {Code::kUnknown, "auth: token signing attempted with verify-only key"};
}

}  // namespace etcd::auth::errors
