#include "auth/auth_store.h"

#include <algorithm>

#include "auth/errors.h"
#include "auth/password.h"
#include "base/assert.h"
#include "metrics/metrics.h"
#include "storage/backend/schema.h"

namespace etcd::auth {

namespace {

// etcd's values of the authEnabled key.
constexpr std::string_view kEnabledValue("\x01", 1);
constexpr std::string_view kDisabledValue("\x00", 1);

bool no_password(const authpb::User& u) { return u.has_options() && u.options().no_password(); }

// etcd 3.5's isValidPermissionRange: a key, and an end that is empty (one
// key), after the key, or "\0" (from the key on).
bool valid_permission_range(std::string_view key, std::string_view end) {
  if (key.empty()) return false;
  if (end.empty()) return true;
  if (key < end) return true;
  return end == std::string_view("\0", 1);
}

}  // namespace

AuthStore::AuthStore(std::unique_ptr<TokenProvider> tokens, int bcrypt_cost)
    : tokens_(std::move(tokens)), bcrypt_cost_(bcrypt_cost) {
  ASSERT(tokens_ != nullptr, "AuthStore needs a token provider");
}

AuthStore::~AuthStore() = default;

void AuthStore::load(backend::Backend& b) {
  std::map<std::string, authpb::User> users;
  std::map<std::string, authpb::Role> roles;
  bool enabled = false;
  uint64_t revision = 0;
  {
    auto rtx = b.read_tx();
    rtx.for_each(backend::Bucket::kAuth, "", "", [&](std::string_view k, std::string_view v) {
      if (k == backend::kAuthEnabled) enabled = v == kEnabledValue;
      if (k == backend::kAuthRevision) revision = backend::parse_u64_value(v).value_or(0);
      return true;
    });
    rtx.for_each(backend::Bucket::kAuthUsers, "", "", [&](std::string_view k, std::string_view v) {
      authpb::User u;
      if (!u.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
        PANIC("corrupt authpb.User in the authUsers bucket");
      }
      users.emplace(std::string(k), std::move(u));
      return true;
    });
    rtx.for_each(backend::Bucket::kAuthRoles, "", "", [&](std::string_view k, std::string_view v) {
      authpb::Role r;
      if (!r.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
        PANIC("corrupt authpb.Role in the authRoles bucket");
      }
      roles.emplace(std::string(k), std::move(r));
      return true;
    });
  }
  if (revision == 0) {
    // A new store starts at revision 1, as etcd's NewAuthStore. (Before
    // mu_: the apply_* methods take mu_ while their batch holds the
    // backend's lock, so mu_ is never held while taking it.)
    revision = 1;
    backend::BatchTx tx = b.batch_tx();
    Status st = tx.put(backend::Bucket::kAuth, backend::kAuthRevision, backend::u64_value(1));
    ASSERT(st.is_ok(), "storing the auth revision failed");
  }
  MutexLock lock(&mu_);
  users_ = std::move(users);
  roles_ = std::move(roles);
  perm_cache_.rebuild(users_, roles_);
  revision_.store(revision, std::memory_order_release);
  enabled_.store(enabled, std::memory_order_release);
  if (enabled) {
    tokens_->enable();
  } else {
    tokens_->disable();
  }
}

// ---- reads ----

Result<AuthInfo> AuthStore::info_from_token(std::string_view token) const {
  auto info = tokens_->info(token, revision());
  if (!info) return errors::invalid_auth_token();
  return *info;
}

Result<AuthInfo> AuthStore::info_from_common_name(std::string_view cn) const {
  if (cn.empty()) return AuthInfo{};
  return AuthInfo{std::string(cn), revision()};
}

Status AuthStore::check_permission(const AuthInfo& info, std::string_view key,
                                   std::string_view range_end, PermType need) const {
  if (!enabled()) return Status::ok();
  if (info.username.empty() || info.revision == 0) return errors::user_empty();
  if (info.revision < revision()) return errors::auth_old_revision();
  MutexLock lock(&mu_);
  auto it = users_.find(info.username);
  if (it == users_.end()) return errors::permission_denied();
  if (has_root_role(it->second)) return Status::ok();
  if (perm_cache_.permitted(info.username, key, range_end, need)) return Status::ok();
  return errors::permission_denied();
}

Status AuthStore::is_range_permitted(const AuthInfo& info, std::string_view key,
                                     std::string_view range_end) const {
  return check_permission(info, key, range_end, PermType::kRead);
}

Status AuthStore::is_put_permitted(const AuthInfo& info, std::string_view key) const {
  return check_permission(info, key, "", PermType::kWrite);
}

Status AuthStore::is_delete_range_permitted(const AuthInfo& info, std::string_view key,
                                            std::string_view range_end) const {
  return check_permission(info, key, range_end, PermType::kWrite);
}

Status AuthStore::is_admin_permitted(const AuthInfo& info) const {
  if (!enabled()) return Status::ok();
  if (info.username.empty()) return errors::user_empty();
  MutexLock lock(&mu_);
  auto it = users_.find(info.username);
  if (it == users_.end()) return errors::user_not_found();
  if (!has_root_role(it->second)) return errors::permission_denied();
  return Status::ok();
}

bool AuthStore::has_role(std::string_view user, std::string_view role) const {
  MutexLock lock(&mu_);
  auto it = users_.find(std::string(user));
  if (it == users_.end()) return false;
  const auto& roles = it->second.roles();
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

bool AuthStore::has_user(std::string_view user) const {
  MutexLock lock(&mu_);
  return users_.contains(std::string(user));
}

bool AuthStore::is_no_password_user(std::string_view user) const {
  MutexLock lock(&mu_);
  auto it = users_.find(std::string(user));
  return it != users_.end() && no_password(it->second);
}

bool AuthStore::has_root_role(const authpb::User& u) const {
  const auto& roles = u.roles();
  return std::find(roles.begin(), roles.end(), kRootRole) != roles.end();
}

// ---- gRPC thread ----

Result<std::string> AuthStore::hash_password(std::string_view password) const {
  auto hash = bcrypt_hash(password, bcrypt_cost_);
  if (!hash.is_ok()) return hash.status();
  return base64_encode(*hash);
}

Result<uint64_t> AuthStore::check_password(std::string_view name, std::string_view password) const {
  if (!enabled()) return errors::auth_not_enabled();
  std::string hash;
  uint64_t rev = 0;
  bool found = false;
  {
    MutexLock lock(&mu_);
    auto it = users_.find(std::string(name));
    if (it != users_.end()) {
      if (no_password(it->second)) return errors::no_password_user();
      found = true;
      hash = it->second.password();
      rev = revision();
    }
  }
  if (!found) {
    // As slow as a wrong password: the answer's timing does not tell
    // whether the user exists.
    (void)bcrypt_check(dummy_hash(), password);
    auth_failures_.fetch_add(1, std::memory_order_relaxed);
    metrics::Metrics::global().auth_failures->Increment();
    return errors::auth_failed();
  }
  // bcrypt outside the lock: it takes tens of milliseconds by design.
  if (!bcrypt_check(hash, password)) {
    auth_failures_.fetch_add(1, std::memory_order_relaxed);
    metrics::Metrics::global().auth_failures->Increment();
    return errors::auth_failed();
  }
  return rev;
}

const std::string& AuthStore::dummy_hash() const {
  std::call_once(dummy_once_, [this] {
    auto h = bcrypt_hash("unknown-user", bcrypt_cost_);
    dummy_hash_ = h.is_ok() ? *h : std::string();
  });
  return dummy_hash_;
}

std::string AuthStore::gen_token_prefix() const { return tokens_->gen_token_prefix(); }

// ---- apply thread ----

void AuthStore::commit_revision(backend::BatchTx& tx) {
  const uint64_t rev = revision_.load(std::memory_order_relaxed) + 1;
  Status st = tx.put(backend::Bucket::kAuth, backend::kAuthRevision, backend::u64_value(rev));
  ASSERT(st.is_ok(), "storing the auth revision failed");
  revision_.store(rev, std::memory_order_release);
  perm_cache_.rebuild(users_, roles_);
}

void AuthStore::put_user(const authpb::User& u, backend::BatchTx& tx) {
  Status st = tx.put(backend::Bucket::kAuthUsers, u.name(), u.SerializeAsString());
  ASSERT(st.is_ok(), "storing a user failed");
  users_[u.name()] = u;
}

void AuthStore::put_role(const authpb::Role& r, backend::BatchTx& tx) {
  Status st = tx.put(backend::Bucket::kAuthRoles, r.name(), r.SerializeAsString());
  ASSERT(st.is_ok(), "storing a role failed");
  roles_[r.name()] = r;
}

Result<etcdserverpb::AuthEnableResponse> AuthStore::apply_auth_enable(backend::BatchTx& tx) {
  if (enabled()) return etcdserverpb::AuthEnableResponse{};
  MutexLock lock(&mu_);
  auto it = users_.find(std::string(kRootUser));
  if (it == users_.end()) return errors::root_user_not_exist();
  if (!has_root_role(it->second)) return errors::root_role_not_exist();
  Status st = tx.put(backend::Bucket::kAuth, backend::kAuthEnabled, kEnabledValue);
  ASSERT(st.is_ok(), "storing the auth flag failed");
  // As etcd: enabling does not move the revision.
  perm_cache_.rebuild(users_, roles_);
  tokens_->enable();
  enabled_.store(true, std::memory_order_release);
  return etcdserverpb::AuthEnableResponse{};
}

Result<etcdserverpb::AuthDisableResponse> AuthStore::apply_auth_disable(backend::BatchTx& tx) {
  if (!enabled()) return etcdserverpb::AuthDisableResponse{};
  MutexLock lock(&mu_);
  Status st = tx.put(backend::Bucket::kAuth, backend::kAuthEnabled, kDisabledValue);
  ASSERT(st.is_ok(), "storing the auth flag failed");
  commit_revision(tx);
  enabled_.store(false, std::memory_order_release);
  tokens_->disable();
  return etcdserverpb::AuthDisableResponse{};
}

Result<etcdserverpb::AuthStatusResponse> AuthStore::apply_auth_status() {
  etcdserverpb::AuthStatusResponse resp;
  resp.set_enabled(enabled());
  resp.set_authrevision(revision());
  return resp;
}

Result<etcdserverpb::AuthenticateResponse> AuthStore::apply_authenticate(
    const serverpb::InternalAuthenticateRequest& r, uint64_t index) {
  if (!enabled()) return errors::auth_not_enabled();
  {
    MutexLock lock(&mu_);
    auto it = users_.find(r.name());
    if (it == users_.end()) return errors::auth_failed();
    if (no_password(it->second)) return errors::auth_failed();
  }
  // The password was checked before proposing (check_password).
  auto token = tokens_->assign(r.simple_token(), r.name(), revision(), index);
  if (!token.is_ok()) return token.status();
  etcdserverpb::AuthenticateResponse resp;
  resp.set_token(std::move(*token));
  return resp;
}

Result<std::string> AuthStore::select_password(const std::string& password,
                                               const std::string& hashed) const {
  if (!password.empty() && hashed.empty()) {
    // An entry proposed by an etcd older than 3.5 carries the password
    // itself: only then does the apply thread hash.
    return bcrypt_hash(password, bcrypt_cost_);
  }
  auto decoded = base64_decode(hashed);
  if (!decoded) return errors::no_password_user();
  return std::move(*decoded);
}

Result<etcdserverpb::AuthUserAddResponse> AuthStore::apply_user_add(
    const etcdserverpb::AuthUserAddRequest& r, backend::BatchTx& tx) {
  if (r.name().empty()) return errors::user_empty();
  MutexLock lock(&mu_);
  if (users_.contains(r.name())) return errors::user_already_exist();
  authpb::User u;
  u.set_name(r.name());
  *u.mutable_options() = r.options();
  if (!r.options().no_password()) {
    auto pw = select_password(r.password(), r.hashedpassword());
    if (!pw.is_ok()) return errors::no_password_user();
    u.set_password(std::move(*pw));
  }
  put_user(u, tx);
  commit_revision(tx);
  return etcdserverpb::AuthUserAddResponse{};
}

Result<etcdserverpb::AuthUserDeleteResponse> AuthStore::apply_user_delete(
    const etcdserverpb::AuthUserDeleteRequest& r, backend::BatchTx& tx) {
  if (enabled() && r.name() == kRootUser) return errors::invalid_auth_mgmt();
  MutexLock lock(&mu_);
  auto it = users_.find(r.name());
  if (it == users_.end()) return errors::user_not_found();
  users_.erase(it);
  tx.del(backend::Bucket::kAuthUsers, r.name());
  commit_revision(tx);
  tokens_->invalidate_user(r.name());
  return etcdserverpb::AuthUserDeleteResponse{};
}

Result<etcdserverpb::AuthUserChangePasswordResponse> AuthStore::apply_user_change_password(
    const etcdserverpb::AuthUserChangePasswordRequest& r, backend::BatchTx& tx) {
  MutexLock lock(&mu_);
  auto it = users_.find(r.name());
  if (it == users_.end()) return errors::user_not_found();
  authpb::User u = it->second;
  u.clear_password();
  if (!no_password(u)) {
    auto pw = select_password(r.password(), r.hashedpassword());
    if (!pw.is_ok()) return errors::no_password_user();
    u.set_password(std::move(*pw));
  }
  put_user(u, tx);
  commit_revision(tx);
  tokens_->invalidate_user(r.name());
  return etcdserverpb::AuthUserChangePasswordResponse{};
}

Result<etcdserverpb::AuthUserGrantRoleResponse> AuthStore::apply_user_grant_role(
    const etcdserverpb::AuthUserGrantRoleRequest& r, backend::BatchTx& tx) {
  MutexLock lock(&mu_);
  auto it = users_.find(r.user());
  if (it == users_.end()) return errors::user_not_found();
  if (r.role() != kRootRole && !roles_.contains(r.role())) return errors::role_not_found();
  authpb::User u = it->second;
  std::vector<std::string> roles(u.roles().begin(), u.roles().end());
  auto pos = std::lower_bound(roles.begin(), roles.end(), r.role());
  // Granting a role the user has is a success that changes nothing.
  if (pos != roles.end() && *pos == r.role()) return etcdserverpb::AuthUserGrantRoleResponse{};
  roles.insert(pos, r.role());
  u.clear_roles();
  for (auto& role : roles) u.add_roles(std::move(role));
  put_user(u, tx);
  commit_revision(tx);
  return etcdserverpb::AuthUserGrantRoleResponse{};
}

Result<etcdserverpb::AuthUserRevokeRoleResponse> AuthStore::apply_user_revoke_role(
    const etcdserverpb::AuthUserRevokeRoleRequest& r, backend::BatchTx& tx) {
  if (enabled() && r.name() == kRootUser && r.role() == kRootRole) {
    return errors::invalid_auth_mgmt();
  }
  MutexLock lock(&mu_);
  auto it = users_.find(r.name());
  if (it == users_.end()) return errors::user_not_found();
  authpb::User u = it->second;
  u.clear_roles();
  for (const auto& role : it->second.roles()) {
    if (role != r.role()) u.add_roles(role);
  }
  if (u.roles_size() == it->second.roles_size()) return errors::role_not_granted();
  put_user(u, tx);
  commit_revision(tx);
  return etcdserverpb::AuthUserRevokeRoleResponse{};
}

Result<etcdserverpb::AuthUserGetResponse> AuthStore::apply_user_get(
    const etcdserverpb::AuthUserGetRequest& r) const {
  MutexLock lock(&mu_);
  auto it = users_.find(r.name());
  if (it == users_.end()) return errors::user_not_found();
  etcdserverpb::AuthUserGetResponse resp;
  for (const auto& role : it->second.roles()) resp.add_roles(role);
  return resp;
}

Result<etcdserverpb::AuthUserListResponse> AuthStore::apply_user_list() const {
  MutexLock lock(&mu_);
  etcdserverpb::AuthUserListResponse resp;
  for (const auto& [name, u] : users_) resp.add_users(name);
  return resp;
}

Result<etcdserverpb::AuthRoleAddResponse> AuthStore::apply_role_add(
    const etcdserverpb::AuthRoleAddRequest& r, backend::BatchTx& tx) {
  if (r.name().empty()) return errors::role_empty();
  MutexLock lock(&mu_);
  if (roles_.contains(r.name())) return errors::role_already_exist();
  authpb::Role role;
  role.set_name(r.name());
  put_role(role, tx);
  commit_revision(tx);
  return etcdserverpb::AuthRoleAddResponse{};
}

Result<etcdserverpb::AuthRoleDeleteResponse> AuthStore::apply_role_delete(
    const etcdserverpb::AuthRoleDeleteRequest& r, backend::BatchTx& tx) {
  if (enabled() && r.role() == kRootRole) return errors::invalid_auth_mgmt();
  MutexLock lock(&mu_);
  auto it = roles_.find(r.role());
  if (it == roles_.end()) return errors::role_not_found();
  roles_.erase(it);
  tx.del(backend::Bucket::kAuthRoles, r.role());
  // Every user loses the role.
  std::vector<authpb::User> changed;
  for (const auto& [name, user] : users_) {
    if (std::find(user.roles().begin(), user.roles().end(), r.role()) == user.roles().end()) {
      continue;
    }
    authpb::User u = user;
    u.clear_roles();
    for (const auto& role : user.roles()) {
      if (role != r.role()) u.add_roles(role);
    }
    changed.push_back(std::move(u));
  }
  for (const auto& u : changed) put_user(u, tx);
  commit_revision(tx);
  return etcdserverpb::AuthRoleDeleteResponse{};
}

Result<etcdserverpb::AuthRoleGetResponse> AuthStore::apply_role_get(
    const etcdserverpb::AuthRoleGetRequest& r) const {
  MutexLock lock(&mu_);
  auto it = roles_.find(r.role());
  if (it == roles_.end()) return errors::role_not_found();
  etcdserverpb::AuthRoleGetResponse resp;
  for (const auto& p : it->second.keypermission()) *resp.add_perm() = p;
  return resp;
}

Result<etcdserverpb::AuthRoleListResponse> AuthStore::apply_role_list() const {
  MutexLock lock(&mu_);
  etcdserverpb::AuthRoleListResponse resp;
  for (const auto& [name, r] : roles_) resp.add_roles(name);
  return resp;
}

Result<etcdserverpb::AuthRoleGrantPermissionResponse> AuthStore::apply_role_grant_permission(
    const etcdserverpb::AuthRoleGrantPermissionRequest& r, backend::BatchTx& tx) {
  if (!r.has_perm()) return errors::permission_not_given();
  if (!valid_permission_range(r.perm().key(), r.perm().range_end())) {
    return errors::invalid_auth_mgmt();
  }
  MutexLock lock(&mu_);
  auto it = roles_.find(r.name());
  if (it == roles_.end()) return errors::role_not_found();
  authpb::Role role = it->second;
  auto* perms = role.mutable_keypermission();
  // Sorted by key; the same (key, range_end) is updated in place.
  auto pos = std::lower_bound(
      perms->begin(), perms->end(), r.perm().key(),
      [](const authpb::Permission& p, const std::string& key) { return p.key() < key; });
  if (pos != perms->end() && pos->key() == r.perm().key() &&
      pos->range_end() == r.perm().range_end()) {
    pos->set_permtype(r.perm().permtype());
  } else {
    *perms->Add() = r.perm();
    std::stable_sort(
        perms->begin(), perms->end(),
        [](const authpb::Permission& a, const authpb::Permission& b) { return a.key() < b.key(); });
  }
  put_role(role, tx);
  commit_revision(tx);
  return etcdserverpb::AuthRoleGrantPermissionResponse{};
}

Result<etcdserverpb::AuthRoleRevokePermissionResponse> AuthStore::apply_role_revoke_permission(
    const etcdserverpb::AuthRoleRevokePermissionRequest& r, backend::BatchTx& tx) {
  MutexLock lock(&mu_);
  auto it = roles_.find(r.role());
  if (it == roles_.end()) return errors::role_not_found();
  authpb::Role role;
  role.set_name(it->second.name());
  for (const auto& p : it->second.keypermission()) {
    if (p.key() != r.key() || p.range_end() != r.range_end()) *role.add_keypermission() = p;
  }
  if (role.keypermission_size() == it->second.keypermission_size()) {
    return errors::permission_not_granted();
  }
  put_role(role, tx);
  commit_revision(tx);
  return etcdserverpb::AuthRoleRevokePermissionResponse{};
}

}  // namespace etcd::auth
