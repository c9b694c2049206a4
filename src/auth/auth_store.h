// etcd's auth store (etcd 3.5 auth/store.go, our own code): users, roles,
// the enabled flag and the auth revision, persisted in the backend's
// `auth`, `authUsers` and `authRoles` buckets with etcd's keys and
// marshalled authpb protos, so an etcd data dir carries over.
//
// Threads: the mutations (the apply_* methods) run only on the apply thread,
// inside the backend batch that also records the entry's consistent index,
// and each successful one bumps the auth revision. Everything else (the
// permission checks, token look-ups, reads for the gRPC thread) may run on
// any thread: mu_ guards the in-memory copy, and the permission cache is
// rebuilt under it after every change.
//
// Passwords: bcrypt runs only on gRPC threads (hash_password before a
// UserAdd/ChangePassword is proposed, check_password before Authenticate is
// proposed); the apply thread stores the hash carried in the request.
#pragma once

#include <absl/base/thread_annotations.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "auth/auth_info.h"
#include "auth/range_perm_cache.h"
#include "auth/token_provider.h"
#include "authpb/auth.pb.h"
#include "base/mutex.h"
#include "base/status.h"
#include "etcdserverpb/rpc.pb.h"
#include "serverpb/raft_internal.pb.h"
#include "storage/backend/backend.h"

namespace etcd::auth {

inline constexpr std::string_view kRootUser = "root";
inline constexpr std::string_view kRootRole = "root";

class AuthStore {
 public:
  // `tokens` issues and checks tokens (simple or JWT); `bcrypt_cost` is
  // the cost of new hashes (already clamped to 4..31 by the caller).
  AuthStore(std::unique_ptr<TokenProvider> tokens, int bcrypt_cost);
  ~AuthStore();
  AuthStore(const AuthStore&) = delete;
  AuthStore& operator=(const AuthStore&) = delete;

  // (Re)loads everything from the backend: at start and after a snapshot
  // restore replaced the backend's contents.
  void load(backend::Backend& b);

  // ---- reads, any thread ----
  bool enabled() const { return enabled_.load(std::memory_order_acquire); }
  uint64_t revision() const { return revision_.load(std::memory_order_acquire); }

  // The user behind a token: kUnauthenticated "etcdserver: invalid auth
  // token" when unknown, expired or badly signed.
  Result<AuthInfo> info_from_token(std::string_view token) const;
  // Client-certificate auth: the certificate's CN is the user (etcd:
  // AuthInfoFromTLS). An empty CN gives an empty AuthInfo.
  Result<AuthInfo> info_from_common_name(std::string_view cn) const;

  // etcd's permission checks: auth disabled -> OK; empty username ->
  // user_empty; info.revision older than the store -> auth_old_revision;
  // root role -> OK; else the user's merged READ (range) or WRITE
  // (put/delete) ranges, or permission_denied.
  Status is_range_permitted(const AuthInfo& info, std::string_view key,
                            std::string_view range_end) const;
  Status is_put_permitted(const AuthInfo& info, std::string_view key) const;
  Status is_delete_range_permitted(const AuthInfo& info, std::string_view key,
                                   std::string_view range_end) const;
  // Root-only operations (auth management, defrag, member changes...).
  Status is_admin_permitted(const AuthInfo& info) const;

  // ---- gRPC thread, before proposing ----
  // A bcrypt "$2a$" hash of `password` at the configured cost.
  Result<std::string> hash_password(std::string_view password) const;
  // etcd's CheckPassword: the auth revision the password was checked at,
  // or auth_not_enabled / auth_failed / no_password_user. Counts failures.
  Result<uint64_t> check_password(std::string_view name, std::string_view password) const;
  // The random part of a simple token (empty for JWT), carried in the
  // proposed InternalAuthenticateRequest so every member registers it.
  std::string gen_token_prefix() const;

  // Failed logins since start (wrong password or unknown user); exported by
  // the metrics module as etcd_server_auth_failures_total.
  uint64_t auth_failures() const { return auth_failures_.load(std::memory_order_relaxed); }

  // ---- apply thread: one per Auth entry, inside the entry's batch ----
  Result<etcdserverpb::AuthEnableResponse> apply_auth_enable(backend::BatchTx& tx);
  Result<etcdserverpb::AuthDisableResponse> apply_auth_disable(backend::BatchTx& tx);
  Result<etcdserverpb::AuthStatusResponse> apply_auth_status();
  // `index` is the entry's raft index: the simple token's suffix.
  Result<etcdserverpb::AuthenticateResponse> apply_authenticate(
      const serverpb::InternalAuthenticateRequest& r, uint64_t index);
  Result<etcdserverpb::AuthUserAddResponse> apply_user_add(
      const etcdserverpb::AuthUserAddRequest& r, backend::BatchTx& tx);
  Result<etcdserverpb::AuthUserDeleteResponse> apply_user_delete(
      const etcdserverpb::AuthUserDeleteRequest& r, backend::BatchTx& tx);
  Result<etcdserverpb::AuthUserChangePasswordResponse> apply_user_change_password(
      const etcdserverpb::AuthUserChangePasswordRequest& r, backend::BatchTx& tx);
  Result<etcdserverpb::AuthUserGrantRoleResponse> apply_user_grant_role(
      const etcdserverpb::AuthUserGrantRoleRequest& r, backend::BatchTx& tx);
  Result<etcdserverpb::AuthUserRevokeRoleResponse> apply_user_revoke_role(
      const etcdserverpb::AuthUserRevokeRoleRequest& r, backend::BatchTx& tx);
  Result<etcdserverpb::AuthUserGetResponse> apply_user_get(
      const etcdserverpb::AuthUserGetRequest& r) const;
  Result<etcdserverpb::AuthUserListResponse> apply_user_list() const;
  Result<etcdserverpb::AuthRoleAddResponse> apply_role_add(
      const etcdserverpb::AuthRoleAddRequest& r, backend::BatchTx& tx);
  Result<etcdserverpb::AuthRoleDeleteResponse> apply_role_delete(
      const etcdserverpb::AuthRoleDeleteRequest& r, backend::BatchTx& tx);
  Result<etcdserverpb::AuthRoleGetResponse> apply_role_get(
      const etcdserverpb::AuthRoleGetRequest& r) const;
  Result<etcdserverpb::AuthRoleListResponse> apply_role_list() const;
  Result<etcdserverpb::AuthRoleGrantPermissionResponse> apply_role_grant_permission(
      const etcdserverpb::AuthRoleGrantPermissionRequest& r, backend::BatchTx& tx);
  Result<etcdserverpb::AuthRoleRevokePermissionResponse> apply_role_revoke_permission(
      const etcdserverpb::AuthRoleRevokePermissionRequest& r, backend::BatchTx& tx);

  bool has_user(std::string_view user) const;
  // Whether `user` exists with the no_password option.
  bool is_no_password_user(std::string_view user) const;
  // Whether `user` has `role` (RoleGet of one's own role, as etcd).
  bool has_role(std::string_view user, std::string_view role) const;
  int bcrypt_cost() const { return bcrypt_cost_; }
  TokenProvider& tokens() { return *tokens_; }

 private:
  // etcd 3.5's selectPassword: the bcrypt hash from hashedPassword
  // (base64), or a hash of password for an entry from an etcd < 3.5.
  Result<std::string> select_password(const std::string& password, const std::string& hashed) const;
  Status check_permission(const AuthInfo& info, std::string_view key, std::string_view range_end,
                          PermType need) const;
  bool has_root_role(const authpb::User& u) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Bumps the revision, persists it, and rebuilds the permission cache.
  void commit_revision(backend::BatchTx& tx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void put_user(const authpb::User& u, backend::BatchTx& tx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void put_role(const authpb::Role& r, backend::BatchTx& tx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::unique_ptr<TokenProvider> tokens_;
  const int bcrypt_cost_;

  mutable Mutex mu_;
  // Ordered by name: UserList/RoleList answer in byte order, as bolt does.
  std::map<std::string, authpb::User> users_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, authpb::Role> roles_ ABSL_GUARDED_BY(mu_);
  RangePermCache perm_cache_ ABSL_GUARDED_BY(mu_);

  std::atomic<bool> enabled_{false};
  std::atomic<uint64_t> revision_{0};
  mutable std::atomic<uint64_t> auth_failures_{0};
};

}  // namespace etcd::auth
