#include "auth/auth_store.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "auth/errors.h"
#include "auth/password.h"
#include "auth/simple_token.h"
#include "env/clock.h"
#include "storage/backend/schema.h"

namespace etcd::auth {
namespace {

using namespace etcdserverpb;

class AuthStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("auth_store_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    open();
  }
  void TearDown() override {
    store_.reset();
    if (b_) b_->close();
    std::filesystem::remove_all(dir_);
  }
  void open() {
    backend::Options o;
    o.background_commit = false;
    auto b = backend::Backend::open((dir_ / "db").string(), o, clock_);
    ASSERT_TRUE(b.is_ok()) << b.status().to_string();
    b_ = std::move(b).value();
    auto tokens = std::make_unique<SimpleTokenProvider>(clock_, std::chrono::seconds(300));
    simple_ = tokens.get();
    store_ = std::make_unique<AuthStore>(std::move(tokens), kBcryptMinCost);
    store_->load(*b_);
  }
  // Closes and reopens the backend: everything must come back from disk.
  void reopen() {
    store_.reset();
    b_->close();
    b_.reset();
    open();
  }

  template <typename F>
  auto in_tx(F f) {
    backend::BatchTx tx = b_->batch_tx();
    return f(tx);
  }
  Status user_add(const std::string& name, const std::string& pw, bool no_password = false) {
    AuthUserAddRequest r;
    r.set_name(name);
    if (no_password) {
      r.mutable_options()->set_no_password(true);
    } else {
      auto h = store_->hash_password(pw);
      EXPECT_TRUE(h.is_ok());
      r.set_hashedpassword(*h);
    }
    return in_tx([&](auto& tx) { return store_->apply_user_add(r, tx).status(); });
  }
  Status role_add(const std::string& name) {
    AuthRoleAddRequest r;
    r.set_name(name);
    return in_tx([&](auto& tx) { return store_->apply_role_add(r, tx).status(); });
  }
  Status grant_role(const std::string& user, const std::string& role) {
    AuthUserGrantRoleRequest r;
    r.set_user(user);
    r.set_role(role);
    return in_tx([&](auto& tx) { return store_->apply_user_grant_role(r, tx).status(); });
  }
  Status grant_perm(const std::string& role, authpb::Permission::Type t, const std::string& key,
                    const std::string& end) {
    AuthRoleGrantPermissionRequest r;
    r.set_name(role);
    r.mutable_perm()->set_permtype(t);
    r.mutable_perm()->set_key(key);
    r.mutable_perm()->set_range_end(end);
    return in_tx([&](auto& tx) { return store_->apply_role_grant_permission(r, tx).status(); });
  }
  Status enable() {
    return in_tx([&](auto& tx) { return store_->apply_auth_enable(tx).status(); });
  }
  Status disable() {
    return in_tx([&](auto& tx) { return store_->apply_auth_disable(tx).status(); });
  }
  // Root with the root role, auth enabled.
  void setup_root() {
    ASSERT_TRUE(user_add("root", "rootpw").is_ok());
    ASSERT_TRUE(grant_role("root", "root").is_ok());
    ASSERT_TRUE(enable().is_ok());
  }
  AuthInfo login(const std::string& user, const std::string& pw) {
    auto rev = store_->check_password(user, pw);
    EXPECT_TRUE(rev.is_ok()) << rev.status().to_string();
    serverpb::InternalAuthenticateRequest r;
    r.set_name(user);
    r.set_simple_token(store_->gen_token_prefix());
    auto resp = store_->apply_authenticate(r, 77);
    EXPECT_TRUE(resp.is_ok()) << resp.status().to_string();
    auto info = store_->info_from_token(resp->token());
    EXPECT_TRUE(info.is_ok());
    return *info;
  }

  std::filesystem::path dir_;
  env::ManualClock clock_{1'000};
  std::unique_ptr<backend::Backend> b_;
  std::unique_ptr<AuthStore> store_;
  SimpleTokenProvider* simple_ = nullptr;
};

TEST_F(AuthStoreTest, NewStoreStartsDisabledAtRevisionOne) {
  EXPECT_FALSE(store_->enabled());
  EXPECT_EQ(store_->revision(), 1u);
  auto st = store_->apply_auth_status();
  ASSERT_TRUE(st.is_ok());
  EXPECT_FALSE(st->enabled());
  EXPECT_EQ(st->authrevision(), 1u);
  // Auth disabled: everything is permitted, even without a user.
  EXPECT_TRUE(store_->is_put_permitted(AuthInfo{}, "k").is_ok());
  EXPECT_TRUE(store_->is_admin_permitted(AuthInfo{}).is_ok());
  EXPECT_EQ(store_->check_password("root", "x").status(), errors::auth_not_enabled());
}

TEST_F(AuthStoreTest, EnableNeedsRootUserWithRootRole) {
  EXPECT_EQ(enable(), errors::root_user_not_exist());
  ASSERT_TRUE(user_add("root", "pw").is_ok());
  EXPECT_EQ(enable(), errors::root_role_not_exist());
  ASSERT_TRUE(grant_role("root", "root").is_ok());  // the root role need not exist
  const uint64_t rev = store_->revision();
  ASSERT_TRUE(enable().is_ok());
  EXPECT_TRUE(store_->enabled());
  EXPECT_EQ(store_->revision(), rev);  // enabling does not move the revision (etcd)
  EXPECT_TRUE(enable().is_ok());       // again: a no-op
  EXPECT_EQ(store_->revision(), rev);
  ASSERT_TRUE(disable().is_ok());
  EXPECT_FALSE(store_->enabled());
  EXPECT_EQ(store_->revision(), rev + 1);
  EXPECT_TRUE(disable().is_ok());
  EXPECT_EQ(store_->revision(), rev + 1);
}

TEST_F(AuthStoreTest, UserLifecycleErrorsAndRevisions) {
  uint64_t rev = store_->revision();
  AuthUserAddRequest empty;
  EXPECT_EQ(in_tx([&](auto& tx) { return store_->apply_user_add(empty, tx).status(); }),
            errors::user_empty());
  ASSERT_TRUE(user_add("alice", "pw").is_ok());
  EXPECT_EQ(store_->revision(), ++rev);
  EXPECT_EQ(user_add("alice", "pw"), errors::user_already_exist());
  EXPECT_EQ(store_->revision(), rev);
  EXPECT_EQ(grant_role("alice", "nope"), errors::role_not_found());
  EXPECT_EQ(grant_role("bob", "root"), errors::user_not_found());
  ASSERT_TRUE(role_add("b-role").is_ok());
  ASSERT_TRUE(role_add("a-role").is_ok());
  rev += 2;
  EXPECT_EQ(role_add("a-role"), errors::role_already_exist());
  EXPECT_EQ(role_add(""), errors::role_empty());
  ASSERT_TRUE(grant_role("alice", "b-role").is_ok());
  ASSERT_TRUE(grant_role("alice", "a-role").is_ok());
  rev += 2;
  ASSERT_TRUE(grant_role("alice", "a-role").is_ok());  // already granted: no change
  EXPECT_EQ(store_->revision(), rev);
  AuthUserGetRequest get;
  get.set_name("alice");
  auto g = store_->apply_user_get(get);
  ASSERT_TRUE(g.is_ok());
  ASSERT_EQ(g->roles_size(), 2);
  EXPECT_EQ(g->roles(0), "a-role");  // sorted
  EXPECT_EQ(g->roles(1), "b-role");
  get.set_name("zed");
  EXPECT_EQ(store_->apply_user_get(get).status(), errors::user_not_found());

  AuthUserRevokeRoleRequest revoke;
  revoke.set_name("alice");
  revoke.set_role("a-role");
  ASSERT_TRUE(
      in_tx([&](auto& tx) { return store_->apply_user_revoke_role(revoke, tx).status(); }).is_ok());
  EXPECT_EQ(store_->revision(), ++rev);
  EXPECT_EQ(in_tx([&](auto& tx) { return store_->apply_user_revoke_role(revoke, tx).status(); }),
            errors::role_not_granted());
  revoke.set_name("zed");
  EXPECT_EQ(in_tx([&](auto& tx) { return store_->apply_user_revoke_role(revoke, tx).status(); }),
            errors::user_not_found());

  ASSERT_TRUE(user_add("bob", "", true).is_ok());
  ++rev;
  auto list = store_->apply_user_list();
  ASSERT_TRUE(list.is_ok());
  ASSERT_EQ(list->users_size(), 2);
  EXPECT_EQ(list->users(0), "alice");
  EXPECT_EQ(list->users(1), "bob");

  AuthUserDeleteRequest del;
  del.set_name("bob");
  ASSERT_TRUE(in_tx([&](auto& tx) { return store_->apply_user_delete(del, tx).status(); }).is_ok());
  EXPECT_EQ(store_->revision(), ++rev);
  EXPECT_EQ(in_tx([&](auto& tx) { return store_->apply_user_delete(del, tx).status(); }),
            errors::user_not_found());
}

TEST_F(AuthStoreTest, PasswordsCheckedAndChanged) {
  setup_root();
  ASSERT_TRUE(user_add("alice", "old").is_ok());
  ASSERT_TRUE(user_add("nopw", "", true).is_ok());
  EXPECT_TRUE(store_->check_password("alice", "old").is_ok());
  EXPECT_EQ(store_->check_password("alice", "bad").status(), errors::auth_failed());
  EXPECT_EQ(store_->check_password("ghost", "x").status(), errors::auth_failed());
  EXPECT_EQ(store_->check_password("nopw", "x").status(), errors::no_password_user());
  EXPECT_EQ(store_->auth_failures(), 2u);
  AuthInfo alice = login("alice", "old");
  EXPECT_EQ(alice.username, "alice");
  AuthUserChangePasswordRequest cp;
  cp.set_name("alice");
  cp.set_hashedpassword(*store_->hash_password("new"));
  ASSERT_TRUE(
      in_tx([&](auto& tx) { return store_->apply_user_change_password(cp, tx).status(); }).is_ok());
  EXPECT_EQ(store_->check_password("alice", "old").status(), errors::auth_failed());
  EXPECT_TRUE(store_->check_password("alice", "new").is_ok());
  cp.set_name("ghost");
  EXPECT_EQ(in_tx([&](auto& tx) { return store_->apply_user_change_password(cp, tx).status(); }),
            errors::user_not_found());
  // The old token died with the old password.
  EXPECT_EQ(simple_->size(), 0u);
  // A plain password (an entry from an etcd older than 3.5) is hashed.
  AuthUserAddRequest legacy;
  legacy.set_name("legacy");
  legacy.set_password("plain");
  ASSERT_TRUE(in_tx([&](auto& tx) { return store_->apply_user_add(legacy, tx).status(); }).is_ok());
  EXPECT_TRUE(store_->check_password("legacy", "plain").is_ok());
  // A no-password user cannot authenticate.
  serverpb::InternalAuthenticateRequest r;
  r.set_name("nopw");
  r.set_simple_token("abcdefghijklmnop");
  EXPECT_EQ(store_->apply_authenticate(r, 5).status(), errors::auth_failed());
  r.set_name("ghost");
  EXPECT_EQ(store_->apply_authenticate(r, 5).status(), errors::auth_failed());
}

TEST_F(AuthStoreTest, RootCannotBeDeletedOrLoseRootWhileEnabled) {
  setup_root();
  AuthUserDeleteRequest del;
  del.set_name("root");
  EXPECT_EQ(in_tx([&](auto& tx) { return store_->apply_user_delete(del, tx).status(); }),
            errors::invalid_auth_mgmt());
  AuthUserRevokeRoleRequest revoke;
  revoke.set_name("root");
  revoke.set_role("root");
  EXPECT_EQ(in_tx([&](auto& tx) { return store_->apply_user_revoke_role(revoke, tx).status(); }),
            errors::invalid_auth_mgmt());
  AuthRoleDeleteRequest rd;
  rd.set_role("root");
  EXPECT_EQ(in_tx([&](auto& tx) { return store_->apply_role_delete(rd, tx).status(); }),
            errors::invalid_auth_mgmt());
  ASSERT_TRUE(disable().is_ok());
  EXPECT_TRUE(
      in_tx([&](auto& tx) { return store_->apply_user_revoke_role(revoke, tx).status(); }).is_ok());
  EXPECT_TRUE(in_tx([&](auto& tx) { return store_->apply_user_delete(del, tx).status(); }).is_ok());
}

TEST_F(AuthStoreTest, RolePermissionsGrantRevokeDelete) {
  ASSERT_TRUE(role_add("r").is_ok());
  EXPECT_EQ(grant_perm("x", authpb::Permission::READ, "k", ""), errors::role_not_found());
  EXPECT_EQ(grant_perm("r", authpb::Permission::READ, "", ""), errors::invalid_auth_mgmt());
  EXPECT_EQ(grant_perm("r", authpb::Permission::READ, "b", "a"), errors::invalid_auth_mgmt());
  AuthRoleGrantPermissionRequest noperm;
  noperm.set_name("r");
  EXPECT_EQ(
      in_tx([&](auto& tx) { return store_->apply_role_grant_permission(noperm, tx).status(); }),
      errors::permission_not_given());
  ASSERT_TRUE(grant_perm("r", authpb::Permission::READ, "z", "").is_ok());
  ASSERT_TRUE(grant_perm("r", authpb::Permission::READ, "a", "c").is_ok());
  const uint64_t rev = store_->revision();
  ASSERT_TRUE(grant_perm("r", authpb::Permission::READWRITE, "a", "c").is_ok());  // update
  EXPECT_EQ(store_->revision(), rev + 1);
  AuthRoleGetRequest get;
  get.set_role("r");
  auto g = store_->apply_role_get(get);
  ASSERT_TRUE(g.is_ok());
  ASSERT_EQ(g->perm_size(), 2);
  EXPECT_EQ(g->perm(0).key(), "a");
  EXPECT_EQ(g->perm(0).permtype(), authpb::Permission::READWRITE);
  EXPECT_EQ(g->perm(1).key(), "z");
  get.set_role("nope");
  EXPECT_EQ(store_->apply_role_get(get).status(), errors::role_not_found());

  AuthRoleRevokePermissionRequest rp;
  rp.set_role("r");
  rp.set_key("a");
  rp.set_range_end("b");  // not the granted range
  EXPECT_EQ(in_tx([&](auto& tx) { return store_->apply_role_revoke_permission(rp, tx).status(); }),
            errors::permission_not_granted());
  rp.set_range_end("c");
  ASSERT_TRUE(in_tx([&](auto& tx) {
                return store_->apply_role_revoke_permission(rp, tx).status();
              }).is_ok());
  rp.set_role("nope");
  EXPECT_EQ(in_tx([&](auto& tx) { return store_->apply_role_revoke_permission(rp, tx).status(); }),
            errors::role_not_found());

  ASSERT_TRUE(user_add("u", "pw").is_ok());
  ASSERT_TRUE(grant_role("u", "r").is_ok());
  AuthRoleDeleteRequest rd;
  rd.set_role("r");
  ASSERT_TRUE(in_tx([&](auto& tx) { return store_->apply_role_delete(rd, tx).status(); }).is_ok());
  EXPECT_EQ(in_tx([&](auto& tx) { return store_->apply_role_delete(rd, tx).status(); }),
            errors::role_not_found());
  AuthUserGetRequest ug;
  ug.set_name("u");
  EXPECT_EQ(store_->apply_user_get(ug)->roles_size(), 0);  // the role left its users
  auto roles = store_->apply_role_list();
  ASSERT_TRUE(roles.is_ok());
  EXPECT_EQ(roles->roles_size(), 0);
}

TEST_F(AuthStoreTest, PermissionChecks) {
  ASSERT_TRUE(user_add("root", "pw").is_ok());
  ASSERT_TRUE(grant_role("root", "root").is_ok());
  ASSERT_TRUE(user_add("u", "pw").is_ok());
  ASSERT_TRUE(role_add("r").is_ok());
  ASSERT_TRUE(grant_role("u", "r").is_ok());
  ASSERT_TRUE(grant_perm("r", authpb::Permission::READ, "key", "").is_ok());
  ASSERT_TRUE(grant_perm("r", authpb::Permission::WRITE, "dir/", "dir0").is_ok());  // prefix
  ASSERT_TRUE(grant_perm("r", authpb::Permission::READWRITE, "m", "p").is_ok());    // range
  ASSERT_TRUE(grant_perm("r", authpb::Permission::READ, "x", std::string("\0", 1)).is_ok());
  ASSERT_TRUE(enable().is_ok());

  AuthInfo u = login("u", "pw");
  AuthInfo root = login("root", "pw");
  EXPECT_EQ(u.revision, store_->revision());
  EXPECT_TRUE(store_->is_range_permitted(u, "key", "").is_ok());
  EXPECT_EQ(store_->is_put_permitted(u, "key"), errors::permission_denied());
  EXPECT_TRUE(store_->is_put_permitted(u, "dir/a/b").is_ok());
  EXPECT_TRUE(store_->is_delete_range_permitted(u, "dir/", "dir0").is_ok());
  EXPECT_EQ(store_->is_range_permitted(u, "dir/a", ""), errors::permission_denied());
  EXPECT_TRUE(store_->is_range_permitted(u, "m", "p").is_ok());
  EXPECT_TRUE(store_->is_put_permitted(u, "o").is_ok());
  EXPECT_EQ(store_->is_range_permitted(u, "m", "q"), errors::permission_denied());
  EXPECT_TRUE(store_->is_range_permitted(u, "xyz", std::string("\0", 1)).is_ok());
  EXPECT_TRUE(store_->is_range_permitted(u, "zzz", "").is_ok());
  EXPECT_EQ(store_->is_range_permitted(u, "w", std::string("\0", 1)), errors::permission_denied());
  EXPECT_EQ(store_->is_admin_permitted(u), errors::permission_denied());
  // Root: everything.
  EXPECT_TRUE(store_->is_put_permitted(root, "anything").is_ok());
  EXPECT_TRUE(store_->is_range_permitted(root, "", std::string("\0", 1)).is_ok());
  EXPECT_TRUE(store_->is_admin_permitted(root).is_ok());
  // No user; unknown user; stale revision.
  EXPECT_EQ(store_->is_range_permitted(AuthInfo{}, "key", ""), errors::user_empty());
  EXPECT_EQ(store_->is_admin_permitted(AuthInfo{}), errors::user_empty());
  EXPECT_EQ(store_->is_admin_permitted(AuthInfo{"ghost", 5}), errors::user_not_found());
  EXPECT_EQ(store_->is_put_permitted(AuthInfo{"ghost", store_->revision()}, "k"),
            errors::permission_denied());
  AuthInfo stale = u;
  ASSERT_TRUE(role_add("other").is_ok());
  EXPECT_EQ(store_->is_range_permitted(stale, "key", ""), errors::auth_old_revision());
  // Revoking the permission takes effect at once.
  AuthRoleRevokePermissionRequest rp;
  rp.set_role("r");
  rp.set_key("key");
  ASSERT_TRUE(in_tx([&](auto& tx) {
                return store_->apply_role_revoke_permission(rp, tx).status();
              }).is_ok());
  AuthInfo fresh{"u", store_->revision()};
  EXPECT_EQ(store_->is_range_permitted(fresh, "key", ""), errors::permission_denied());
  // Tokens: unknown one refused.
  EXPECT_EQ(store_->info_from_token("bogus.1").status(), errors::invalid_auth_token());
  auto cn = store_->info_from_common_name("u");
  ASSERT_TRUE(cn.is_ok());
  EXPECT_EQ(cn->username, "u");
  EXPECT_EQ(cn->revision, store_->revision());
}

TEST_F(AuthStoreTest, ReloadFromBackendInEtcdLayout) {
  ASSERT_TRUE(user_add("root", "pw").is_ok());
  ASSERT_TRUE(grant_role("root", "root").is_ok());
  ASSERT_TRUE(role_add("r").is_ok());
  ASSERT_TRUE(grant_perm("r", authpb::Permission::WRITE, "a", "b").is_ok());
  ASSERT_TRUE(user_add("u", "upw").is_ok());
  ASSERT_TRUE(grant_role("u", "r").is_ok());
  ASSERT_TRUE(enable().is_ok());
  const uint64_t rev = store_->revision();
  b_->force_commit();
  reopen();
  EXPECT_TRUE(store_->enabled());
  EXPECT_EQ(store_->revision(), rev);
  EXPECT_TRUE(store_->check_password("u", "upw").is_ok());
  EXPECT_TRUE(store_->is_put_permitted(AuthInfo{"u", rev}, "a0").is_ok());
  EXPECT_EQ(store_->is_put_permitted(AuthInfo{"u", rev}, "b"), errors::permission_denied());
  // The raw layout: etcd's keys and values.
  auto rtx = b_->read_tx();
  std::map<std::string, std::string> auth, users;
  rtx.for_each(backend::Bucket::kAuth, "", "", [&](std::string_view k, std::string_view v) {
    auth[std::string(k)] = std::string(v);
    return true;
  });
  rtx.for_each(backend::Bucket::kAuthUsers, "", "", [&](std::string_view k, std::string_view v) {
    users[std::string(k)] = std::string(v);
    return true;
  });
  EXPECT_EQ(auth["authEnabled"], std::string("\x01", 1));
  EXPECT_EQ(auth["authRevision"], backend::u64_value(rev));
  ASSERT_TRUE(users.contains("u"));
  authpb::User u;
  ASSERT_TRUE(u.ParseFromString(users["u"]));
  EXPECT_EQ(u.name(), "u");
  EXPECT_TRUE(u.password().starts_with("$2a$04$"));  // the raw bcrypt hash, as etcd stores it
  ASSERT_EQ(u.roles_size(), 1);
  EXPECT_EQ(u.roles(0), "r");
}

}  // namespace
}  // namespace etcd::auth
