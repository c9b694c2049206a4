// The applier chain (corrupt -> capped -> quota -> auth -> stores), the membership
// applier and the apply loop, over a real backend and KV store.
#include "server/applier.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "auth/errors.h"
#include "auth/password.h"
#include "auth/simple_token.h"
#include "server/apply_loop.h"
#include "server/errors.h"
#include "server/publisher.h"
#include "server/raft_entry.h"
#include "server/test_util.h"

namespace etcd::server {
namespace {

class ApplierTest : public ::testing::Test {
 protected:
  ApplierTest() : logger_(log::Level::kError, {}, [] { return int64_t{0}; }) {}

  void SetUp() override {
    dir_ = testing_util::fresh_test_dir("applier");
    backend_ = testing_util::open_test_backend(dir_, clock_);
    ASSERT_NE(backend_, nullptr);
    kv_ = std::make_unique<mvcc::KVStore>(*backend_);
    ASSERT_TRUE(kv_->restore().is_ok());
    lessor_ = std::make_unique<lease::Lessor>(*kv_, clock_, lease::LessorOptions{});
    ASSERT_TRUE(lessor_->restore({}).is_ok());
    kv_applier_ = std::make_unique<KvApplier>(
        *kv_, [this](int64_t id) { return lessor_->exists(LeaseId(id)); });
    membership_ = std::make_unique<Membership>(MemberId(1), 99);
    membership_applier_ = std::make_unique<MembershipApplier>(*membership_, *backend_, logger_);
    membership_applier_->set_mirror(&mirror_);
    auth_ = std::make_unique<auth::AuthStore>(
        std::make_unique<auth::SimpleTokenProvider>(clock_, std::chrono::seconds(300)),
        auth::kBcryptMinCost);
    auth_->load(*backend_);
    auth_applier_ = std::make_unique<AuthRequestApplier>(*auth_, *backend_, logger_);
    checks_ = std::make_unique<AuthChecks>(*auth_, *lessor_);
  }
  void TearDown() override {
    chain_.reset();
    checks_.reset();
    auth_.reset();
    lessor_.reset();
    kv_.reset();
    backend_->close();
    std::filesystem::remove_all(dir_);
  }
  void make_chain(int64_t quota_bytes) {
    quota_ = std::make_unique<Quota>(quota_bytes, *backend_, logger_);
    chain_ =
        std::make_unique<ApplierChain>(*kv_applier_, *kv_, *lessor_, alarms_, *auth_applier_,
                                       *membership_applier_, *quota_, *checks_, *backend_, logger_);
  }
  backend::ConsistentIndex next_ci() { return {Index(++index_), Term(1)}; }
  // The value of a v2 key, "" when absent.
  std::string stored(const std::string& path) {
    auto r = v2_.get(path, false, false);
    auto* ev = std::get_if<v2store::Event>(&r);
    return ev != nullptr && ev->node && ev->node->value ? *ev->node->value : "";
  }
  static serverpb::InternalRaftRequest put(const std::string& k, const std::string& v) {
    serverpb::InternalRaftRequest r;
    r.mutable_put()->set_key(k);
    r.mutable_put()->set_value(v);
    return r;
  }
  static serverpb::InternalRaftRequest del(const std::string& k) {
    serverpb::InternalRaftRequest r;
    r.mutable_delete_range()->set_key(k);
    return r;
  }
  void raise(etcdserverpb::AlarmType t) {
    serverpb::InternalRaftRequest r;
    r.mutable_alarm()->set_action(etcdserverpb::AlarmRequest::ACTIVATE);
    r.mutable_alarm()->set_memberid(1);
    r.mutable_alarm()->set_alarm(t);
    ApplyResult a = chain_->head().apply(r, next_ci());
    ASSERT_TRUE(a.status.is_ok());
    ASSERT_TRUE(std::holds_alternative<etcdserverpb::AlarmResponse>(a.response));
  }
  uint64_t ci() const { return backend_->consistent_index().index.value(); }

  std::filesystem::path dir_;
  env::ManualClock clock_;
  log::Logger logger_;
  std::unique_ptr<backend::Backend> backend_;
  std::unique_ptr<mvcc::KVStore> kv_;
  std::unique_ptr<lease::Lessor> lessor_;
  std::unique_ptr<AuthChecks> checks_;
  std::unique_ptr<KvApplier> kv_applier_;
  std::unique_ptr<Membership> membership_;
  std::unique_ptr<MembershipApplier> membership_applier_;
  v2store::Store v2_{{"/0", "/1"}};
  MembershipMirror mirror_{v2_};
  AlarmStore alarms_;
  std::unique_ptr<auth::AuthStore> auth_;
  std::unique_ptr<AuthRequestApplier> auth_applier_;
  std::unique_ptr<Quota> quota_;
  std::unique_ptr<ApplierChain> chain_;
  uint64_t index_ = 0;
};

// Auth entries reach the auth store in the entry's batch; while auth is
// enabled, management needs root in the entry's header (etcd's
// authApplierV3), UserGet is allowed for oneself and RoleGet for one's role.
TEST_F(ApplierTest, AuthRequestsAppliedWithTheAdminRule) {
  make_chain(0);
  auto apply = [&](serverpb::InternalRaftRequest r, const std::string& user = "") {
    r.mutable_header()->set_username(user);
    r.mutable_header()->set_auth_revision(auth_->revision());
    return chain_->head().apply(r, next_ci());
  };
  serverpb::InternalRaftRequest add;
  add.mutable_auth_user_add()->set_name("root");
  add.mutable_auth_user_add()->set_hashedpassword(*auth_->hash_password("pw"));
  ASSERT_TRUE(apply(add).status.is_ok());
  EXPECT_EQ(ci(), index_);
  serverpb::InternalRaftRequest enable;
  enable.mutable_auth_enable();
  EXPECT_EQ(apply(enable).status, auth::errors::root_role_not_exist());
  EXPECT_EQ(ci(), index_);  // a refused entry is recorded too
  serverpb::InternalRaftRequest grant;
  grant.mutable_auth_user_grant_role()->set_user("root");
  grant.mutable_auth_user_grant_role()->set_role("root");
  ASSERT_TRUE(apply(grant).status.is_ok());
  add.mutable_auth_user_add()->set_name("alice");
  ASSERT_TRUE(apply(add).status.is_ok());
  serverpb::InternalRaftRequest role;
  role.mutable_auth_role_add()->set_name("reader");
  ASSERT_TRUE(apply(role).status.is_ok());
  grant.mutable_auth_user_grant_role()->set_user("alice");
  grant.mutable_auth_user_grant_role()->set_role("reader");
  ASSERT_TRUE(apply(grant).status.is_ok());
  ApplyResult en = apply(enable);
  ASSERT_TRUE(en.status.is_ok());
  ASSERT_TRUE(std::holds_alternative<etcdserverpb::AuthEnableResponse>(en.response));
  EXPECT_TRUE(auth_->enabled());

  serverpb::InternalRaftRequest status;
  status.mutable_auth_status();
  EXPECT_EQ(apply(status).status, auth::errors::user_empty());
  EXPECT_EQ(apply(status, "alice").status, auth::errors::permission_denied());
  EXPECT_EQ(apply(status, "ghost").status, auth::errors::user_not_found());
  ApplyResult st = apply(status, "root");
  ASSERT_TRUE(st.status.is_ok());
  EXPECT_TRUE(std::get<etcdserverpb::AuthStatusResponse>(st.response).enabled());

  serverpb::InternalRaftRequest uget;
  uget.mutable_auth_user_get()->set_name("alice");
  EXPECT_TRUE(apply(uget, "alice").status.is_ok());
  uget.mutable_auth_user_get()->set_name("root");
  EXPECT_EQ(apply(uget, "alice").status, auth::errors::permission_denied());
  EXPECT_TRUE(apply(uget, "root").status.is_ok());
  serverpb::InternalRaftRequest rget;
  rget.mutable_auth_role_get()->set_role("reader");
  EXPECT_TRUE(apply(rget, "alice").status.is_ok());
  rget.mutable_auth_role_get()->set_role("root");
  EXPECT_EQ(apply(rget, "alice").status, auth::errors::permission_denied());

  serverpb::InternalRaftRequest authn;
  authn.mutable_authenticate()->set_name("alice");
  authn.mutable_authenticate()->set_simple_token("abcdefghijklmnop");
  ApplyResult tok = apply(authn);
  ASSERT_TRUE(tok.status.is_ok()) << tok.status.to_string();
  EXPECT_EQ(std::get<etcdserverpb::AuthenticateResponse>(tok.response).token(),
            "abcdefghijklmnop." + std::to_string(index_));
  auto who = auth_->info_from_token("abcdefghijklmnop." + std::to_string(index_));
  ASSERT_TRUE(who.is_ok());
  EXPECT_EQ(who->username, "alice");

  serverpb::InternalRaftRequest disable;
  disable.mutable_auth_disable();
  EXPECT_EQ(apply(disable, "alice").status, auth::errors::permission_denied());
  EXPECT_TRUE(auth_->enabled());
  ASSERT_TRUE(apply(disable, "root").status.is_ok());
  EXPECT_FALSE(auth_->enabled());
  EXPECT_EQ(ci(), index_);
}

TEST_F(ApplierTest, APutReachesTheStoreWithATypedResponse) {
  make_chain(0);
  ApplyResult r = chain_->head().apply(put("a", "1"), next_ci());
  ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
  ASSERT_TRUE(std::holds_alternative<etcdserverpb::PutResponse>(r.response));
  EXPECT_EQ(std::get<etcdserverpb::PutResponse>(r.response).header().revision(), 2);
  EXPECT_EQ(kv_->rev().value(), 2);
  EXPECT_EQ(ci(), 1u);
}

TEST_F(ApplierTest, UnderCorruptWritesFailAndTheIndexIsStillRecorded) {
  make_chain(0);
  raise(etcdserverpb::CORRUPT);
  EXPECT_TRUE(alarms_.corrupt());
  for (const auto& req : {put("a", "1"), del("a")}) {
    ApplyResult r = chain_->head().apply(req, next_ci());
    EXPECT_EQ(r.status, errors::corrupt());
    EXPECT_TRUE(std::holds_alternative<std::monostate>(r.response));
    EXPECT_EQ(ci(), index_);  // not applied again after a restart
  }
  EXPECT_EQ(kv_->rev().value(), 1);
}

TEST_F(ApplierTest, UnderNospacePutsFailDeletesPass) {
  make_chain(0);
  ASSERT_TRUE(chain_->head().apply(put("a", "1"), next_ci()).status.is_ok());
  raise(etcdserverpb::NOSPACE);
  EXPECT_TRUE(alarms_.nospace());
  EXPECT_EQ(chain_->head().apply(put("b", "1"), next_ci()).status, errors::no_space());
  EXPECT_EQ(ci(), index_);
  serverpb::InternalRaftRequest txn;
  auto* op = txn.mutable_txn()->add_success();
  op->mutable_request_put()->set_key("c");
  EXPECT_EQ(chain_->head().apply(txn, next_ci()).status, errors::no_space());
  serverpb::InternalRaftRequest grant;
  grant.mutable_lease_grant()->set_id(5);
  grant.mutable_lease_grant()->set_ttl(10);
  EXPECT_EQ(chain_->head().apply(grant, next_ci()).status, errors::no_space());
  ApplyResult d = chain_->head().apply(del("a"), next_ci());
  ASSERT_TRUE(d.status.is_ok());
  EXPECT_EQ(std::get<etcdserverpb::DeleteRangeResponse>(d.response).deleted(), 1);
  // Disarmed: puts pass again.
  serverpb::InternalRaftRequest off;
  off.mutable_alarm()->set_action(etcdserverpb::AlarmRequest::DEACTIVATE);
  off.mutable_alarm()->set_memberid(1);
  off.mutable_alarm()->set_alarm(etcdserverpb::NOSPACE);
  ASSERT_TRUE(chain_->head().apply(off, next_ci()).status.is_ok());
  EXPECT_FALSE(alarms_.nospace());
  EXPECT_TRUE(chain_->head().apply(put("b", "1"), next_ci()).status.is_ok());
}

TEST_F(ApplierTest, APutOverTheQuotaIsAppliedButAnsweredNoSpace) {
  make_chain(backend_->size() + 100);  // room for less than one put's cost
  ApplyResult r = chain_->head().apply(put("a", "1"), next_ci());
  EXPECT_EQ(r.status, errors::no_space());
  EXPECT_EQ(kv_->rev().value(), 2);  // applied all the same, as etcd's quotaApplierV3
  // A delete costs nothing.
  EXPECT_TRUE(chain_->head().apply(del("a"), next_ci()).status.is_ok());
}

TEST_F(ApplierTest, LeaseGrantAndRevokeAndTheirErrors) {
  make_chain(0);
  serverpb::InternalRaftRequest grant;
  grant.mutable_lease_grant()->set_id(5);
  grant.mutable_lease_grant()->set_ttl(10);
  ApplyResult g = chain_->head().apply(grant, next_ci());
  ASSERT_TRUE(g.status.is_ok());
  EXPECT_EQ(std::get<etcdserverpb::LeaseGrantResponse>(g.response).id(), 5);
  EXPECT_EQ(chain_->head().apply(grant, next_ci()).status, errors::lease_exists());
  serverpb::InternalRaftRequest revoke;
  revoke.mutable_lease_revoke()->set_id(5);
  EXPECT_TRUE(chain_->head().apply(revoke, next_ci()).status.is_ok());
  EXPECT_EQ(chain_->head().apply(revoke, next_ci()).status, errors::lease_not_found());
}

TEST_F(ApplierTest, MembershipChangesAndTheConfStateRaftWillHave) {
  Member m2;
  m2.id = MemberId(2);
  m2.peer_urls = {"http://10.0.0.2:2380"};
  raftpb::ConfChange add;
  add.set_type(raftpb::ConfChangeAddLearnerNode);
  add.set_node_id(2);
  add.set_context(m2.to_json());
  raftpb::ConfState cs = membership_applier_->apply_conf_change(add, next_ci(), false).conf_state;
  ASSERT_EQ(cs.learners_size(), 1);
  EXPECT_EQ(cs.learners(0), 2u);
  EXPECT_EQ(ci(), index_);
  raftpb::ConfChange promote;
  promote.set_type(raftpb::ConfChangeAddNode);
  promote.set_node_id(2);
  cs = membership_applier_->apply_conf_change(promote, next_ci(), false).conf_state;
  ASSERT_EQ(cs.voters_size(), 1);
  EXPECT_EQ(cs.learners_size(), 0);
  // An entry the backend already has changes nothing.
  raftpb::ConfChange remove;
  remove.set_type(raftpb::ConfChangeRemoveNode);
  remove.set_node_id(2);
  cs = membership_applier_->apply_conf_change(remove, next_ci(), /*already=*/true).conf_state;
  EXPECT_EQ(cs.voters_size(), 1);
  cs = membership_applier_->apply_conf_change(remove, next_ci(), false).conf_state;
  EXPECT_EQ(cs.voters_size(), 0);
  EXPECT_TRUE(membership_->is_removed(MemberId(2)));

  membershippb::Attributes attrs;
  attrs.set_name("one");
  attrs.add_client_urls("http://10.0.0.1:2379");
  membership_applier_->apply_attributes(MemberId(1), attrs, next_ci());
  membership_applier_->apply_cluster_version("3.5.0", next_ci());
  EXPECT_EQ(membership_->version(), "3.5.0");
  EXPECT_EQ(ci(), index_);
}

// ---- the apply loop ----

raftpb::Entry entry(uint64_t index, const google::protobuf::Message& req) {
  raftpb::Entry e;
  e.set_index(index);
  e.set_term(1);
  e.set_type(raftpb::EntryNormal);
  e.set_data(req.SerializeAsString());
  return e;
}

// What etcd 3.4 members propose, applied by the apply loop: raw v2
// requests, and the 3.5 membership requests.
TEST_F(ApplierTest, TheApplyLoopAppliesEtcdsV2AndMembershipRequests) {
  make_chain(0);
  {
    backend::BatchTx tx = backend_->batch_tx();
    Member m;
    m.id = MemberId(0x8e9e05c52164694d);
    m.peer_urls = {"http://127.0.0.1:2380"};
    membership_->add(m, tx);
  }
  std::vector<std::pair<uint64_t, ApplyResult>> completed;
  ApplyLoop::Hooks hooks;
  hooks.complete = [&](uint64_t id, ApplyResult r) { completed.emplace_back(id, std::move(r)); };
  ApplyLoop::Options options;
  options.local_id = MemberId(1);
  ApplyLoop loop(*backend_, chain_->head(), *membership_applier_, v2_, logger_, std::move(hooks),
                 options);
  const MemberId peer(0x8e9e05c52164694d);
  auto attrs = publish_request_v2(peer, "infra1", {"http://127.0.0.1:2379"});
  attrs.set_id(22);
  auto version = *cluster_version_request("3.4.0").v2;
  version.set_id(23);
  auto user_key = v2_request(24, "PUT", "/1/foo", "bar");
  auto del_member = v2_request(25, "DELETE", "/0/members/8e9e05c52164694d");
  loop.apply_batch(ApplyBatch{{entry(1, v2_sync_request(21, 1700000000000000000)), entry(2, attrs),
                               entry(3, version), entry(4, user_key), entry(5, del_member)},
                              {}});
  EXPECT_EQ(loop.applied(), 5u);
  EXPECT_EQ(ci(), 5u);
  ASSERT_EQ(completed.size(), 5u);
  for (size_t i = 0; i < completed.size(); ++i) {
    EXPECT_EQ(completed[i].first, 21 + i);
    EXPECT_TRUE(completed[i].second.status.is_ok());
  }
  auto m = membership_->member(peer);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->name, "infra1");
  EXPECT_EQ(m->client_urls, std::vector<std::string>{"http://127.0.0.1:2379"});
  EXPECT_EQ(membership_->version(), "3.4.0");
  EXPECT_EQ(kv_->rev().value(), 1);  // v2 keys are not v3 keys
  EXPECT_TRUE(membership_->member(peer).has_value());
  // The v2 store: the user's key, and the membership facts etcd mirrors
  // there; a DELETE of the member's directory without dir=true is refused
  // by the store (etcd's "Not a file"), as a result, not a failed apply.
  auto foo = std::get<V2ApplyResponse>(completed[3].second.response);
  ASSERT_TRUE(std::holds_alternative<v2store::Event>(foo.result));
  EXPECT_EQ(std::get<v2store::Event>(foo.result).action, "set");
  auto del = std::get<V2ApplyResponse>(completed[4].second.response);
  ASSERT_TRUE(std::holds_alternative<v2store::Error>(del.result));
  EXPECT_EQ(std::get<v2store::Error>(del.result).code, v2store::kNotFile);
  EXPECT_EQ(stored("/1/foo"), "bar");
  EXPECT_EQ(stored("/0/version"), "3.4.0");
  EXPECT_EQ(stored("/0/members/8e9e05c52164694d/attributes"),
            R"({"name":"infra1","clientURLs":["http://127.0.0.1:2379"]})");

  // A v2 request inside an InternalRaftRequest completes by its own id;
  // the 3.5 forms go through the chain.
  completed.clear();
  serverpb::InternalRaftRequest wrapped;
  wrapped.mutable_header()->set_id(30);
  *wrapped.mutable_v2() = v2_request(31, "PUT", "/0/version", "3.5.0");
  auto v3_attrs = publish_request_v3(peer, "renamed", {"http://10.0.0.1:2379"});
  v3_attrs.mutable_header()->set_id(32);
  auto v3_version = *cluster_version_request("3.6.0").v3;
  v3_version.set_id(33);  // the old top-level id wins over the header's
  v3_version.mutable_header()->set_id(34);
  serverpb::InternalRaftRequest downgrade;
  downgrade.mutable_header()->set_id(35);
  downgrade.mutable_downgrade_info_set()->set_enabled(true);
  loop.apply_batch(ApplyBatch{
      {entry(6, wrapped), entry(7, v3_attrs), entry(8, v3_version), entry(9, downgrade)}, {}});
  ASSERT_EQ(completed.size(), 4u);
  EXPECT_EQ(completed[0].first, 31u);
  EXPECT_EQ(completed[1].first, 32u);
  EXPECT_EQ(completed[2].first, 33u);
  EXPECT_EQ(completed[3].first, 35u);
  EXPECT_EQ(membership_->member(peer)->name, "renamed");
  EXPECT_EQ(membership_->version(), "3.6.0");
  EXPECT_EQ(ci(), 9u);
  EXPECT_EQ(stored("/0/version"), "3.6.0");
  EXPECT_EQ(stored("/0/members/8e9e05c52164694d/attributes"),
            R"({"name":"renamed","clientURLs":["http://10.0.0.1:2379"]})");

  // What etcd would stop on is logged and skipped; an unknown method fails.
  completed.clear();
  auto bad_json = v2_request(40, "PUT", "/0/members/8e9e05c52164694d/attributes", "{oops");
  auto bad_version = v2_request(41, "PUT", "/0/version", "three");
  auto unknown = v2_request(42, "PATCH", "/1/foo");
  auto conditional = v2_request(43, "PUT", "/0/version", "9.9.9");
  conditional.set_prev_exist(true);
  loop.apply_batch(ApplyBatch{
      {entry(10, bad_json), entry(11, bad_version), entry(12, unknown), entry(13, conditional)},
      {}});
  ASSERT_EQ(completed.size(), 4u);
  EXPECT_TRUE(completed[0].second.status.is_ok());
  EXPECT_TRUE(completed[1].second.status.is_ok());
  EXPECT_EQ(completed[2].second.status.message(), "etcdserver: unknown method");
  EXPECT_EQ(membership_->member(peer)->name, "renamed");
  EXPECT_EQ(membership_->version(), "3.6.0");
  EXPECT_EQ(ci(), 13u);
  EXPECT_EQ(loop.applied(), 13u);
}

TEST_F(ApplierTest, TheApplyLoopCompletesEachRequestAndSkipsWhatTheBackendHas) {
  make_chain(0);
  std::vector<std::pair<uint64_t, ApplyResult>> completed;
  std::vector<std::pair<uint64_t, bool>> snapshots;  // (index, compact)
  ApplyLoop::Hooks hooks;
  hooks.complete = [&](uint64_t id, ApplyResult r) { completed.emplace_back(id, std::move(r)); };
  hooks.snapshot = [&](uint64_t index, raftpb::ConfState, bool compact) {
    // The hook runs on the apply thread with the v2 store at `index`.
    snapshots.emplace_back(index, compact);
  };
  ApplyLoop::Options options;
  options.snapshot_count = 3;
  options.local_id = MemberId(1);
  ApplyLoop loop(*backend_, chain_->head(), *membership_applier_, v2_, logger_, std::move(hooks),
                 options);
  auto a = put("a", "1");
  a.mutable_header()->set_id(11);
  auto b = put("b", "2");
  b.mutable_header()->set_id(12);
  raftpb::Entry empty;
  empty.set_index(1);
  empty.set_term(1);
  loop.apply_batch(ApplyBatch{{empty, entry(2, a), entry(3, b)}, {}});
  EXPECT_EQ(loop.applied(), 3u);
  EXPECT_EQ(ci(), 3u);
  ASSERT_EQ(completed.size(), 2u);
  EXPECT_EQ(completed[0].first, 11u);
  EXPECT_EQ(std::get<etcdserverpb::PutResponse>(completed[0].second.response).header().revision(),
            2);
  EXPECT_EQ(completed[1].first, 12u);
  EXPECT_TRUE(snapshots.empty());
  // Re-delivered after a restart (index <= the consistent index): skipped.
  completed.clear();
  loop.apply_batch(ApplyBatch{{entry(2, a), entry(3, b)}, {}});
  EXPECT_TRUE(completed.empty());
  EXPECT_EQ(kv_->rev().value(), 3);
  // One more: past --snapshot-count entries since the last snapshot.
  auto c = put("c", "3");
  loop.apply_batch(ApplyBatch{{entry(4, c)}, {}});
  ASSERT_EQ(snapshots.size(), 1u);
  EXPECT_EQ(snapshots[0].first, 4u);
  EXPECT_TRUE(snapshots[0].second);  // compacts the log
  EXPECT_TRUE(loop.wait_applied(4, std::chrono::milliseconds(0)));
  EXPECT_FALSE(loop.wait_applied(5, std::chrono::milliseconds(1)));
  // A member added at run time: a snapshot at once, naming it, that leaves
  // the log whole (the leader still sends the new member entries).
  Member m2;
  m2.id = MemberId(2);
  m2.peer_urls = {"http://10.0.0.2:2380"};
  raftpb::ConfChange add;
  add.set_type(raftpb::ConfChangeAddNode);
  add.set_node_id(2);
  add.set_id(21);
  add.set_context(m2.to_json());
  raftpb::Entry cc;
  cc.set_type(raftpb::EntryConfChange);
  cc.set_index(5);
  cc.set_term(1);
  cc.set_data(add.SerializeAsString());
  loop.apply_batch(ApplyBatch{{cc}, {}});
  ASSERT_EQ(snapshots.size(), 2u);
  EXPECT_EQ(snapshots[1].first, 5u);
  EXPECT_FALSE(snapshots[1].second);
}

// The v2 store lives in memory: after a restart it is the snapshot's, and
// the log after the snapshot is replayed into it, entries the backend holds
// already included (their v3 effects are not applied twice).
TEST_F(ApplierTest, TheApplyLoopReplaysV2RequestsTheBackendHolds) {
  make_chain(0);
  std::vector<uint64_t> completed;
  ApplyLoop::Hooks hooks;
  hooks.complete = [&](uint64_t id, ApplyResult) { completed.push_back(id); };
  ApplyLoop::Options options;
  options.local_id = MemberId(1);
  ApplyLoop loop(*backend_, chain_->head(), *membership_applier_, v2_, logger_, hooks, options);
  Member m2;
  m2.id = MemberId(0x2a);
  m2.peer_urls = {"http://10.0.0.2:2380"};
  raftpb::ConfChange add;
  add.set_type(raftpb::ConfChangeAddNode);
  add.set_node_id(0x2a);
  add.set_context(m2.to_json());
  raftpb::Entry cc;
  cc.set_type(raftpb::EntryConfChange);
  cc.set_index(1);
  cc.set_term(1);
  cc.set_data(add.SerializeAsString());
  auto set = v2_request(11, "PUT", "/1/dir/a", "1");
  auto post = v2_request(12, "POST", "/1/queue", "job");
  auto v3 = put("k", "v");
  v3.mutable_header()->set_id(13);
  auto attrs = publish_request_v3(MemberId(0x2a), "m2", {"http://10.0.0.2:2379"});
  attrs.mutable_header()->set_id(14);
  const std::vector<raftpb::Entry> log = {cc, entry(2, set), entry(3, post), entry(4, v3),
                                          entry(5, attrs)};
  loop.apply_batch(ApplyBatch{log, {}});
  ASSERT_EQ(completed.size(), 5u);
  EXPECT_EQ(stored("/0/members/2a/raftAttributes"), R"({"peerURLs":["http://10.0.0.2:2380"]})");
  EXPECT_EQ(stored("/0/members/2a/attributes"),
            R"({"name":"m2","clientURLs":["http://10.0.0.2:2379"]})");
  EXPECT_EQ(stored("/1/dir/a"), "1");
  const std::string before = v2_.save();
  const uint64_t index_before = v2_.index();
  EXPECT_EQ(index_before, 4u);  // raftAttributes, a, the queue item, attributes

  // A restart: an empty store (no snapshot), the same log re-delivered.
  v2store::Store fresh({"/0", "/1"});
  ASSERT_TRUE(std::holds_alternative<std::monostate>(v2_.recovery(fresh.save())));
  completed.clear();
  loop.apply_batch(ApplyBatch{log, {}});
  EXPECT_EQ(completed, std::vector<uint64_t>{0});  // only the conf change, for Raft
  EXPECT_EQ(kv_->rev().value(), 2);                // the v3 put was not applied twice
  EXPECT_EQ(v2_.index(), index_before);
  EXPECT_EQ(stored("/1/dir/a"), "1");
  EXPECT_EQ(stored("/0/members/2a/attributes"),
            R"({"name":"m2","clientURLs":["http://10.0.0.2:2379"]})");
  EXPECT_EQ(ci(), 5u);

  // SYNC expires keys whose time has come, at the request's time.
  auto ttl = v2_request(20, "PUT", "/1/ttl", "x");
  ttl.set_expiration(1'800'000'000'000'000'000);
  loop.apply_batch(ApplyBatch{{entry(6, ttl)}, {}});
  EXPECT_TRUE(v2_.has_ttl_keys());
  loop.apply_batch(ApplyBatch{{entry(7, v2_sync_request(21, 1'799'999'999'999'999'999))}, {}});
  EXPECT_EQ(stored("/1/ttl"), "x");
  loop.apply_batch(ApplyBatch{{entry(8, v2_sync_request(22, 1'800'000'000'000'000'000))}, {}});
  EXPECT_EQ(stored("/1/ttl"), "");
  EXPECT_FALSE(v2_.has_ttl_keys());
}

TEST_F(ApplierTest, TheApplyLoopThreadTakesBatchesInOrder) {
  make_chain(0);
  ApplyLoop::Options options;
  options.local_id = MemberId(1);
  ApplyLoop loop(*backend_, chain_->head(), *membership_applier_, v2_, logger_, ApplyLoop::Hooks{},
                 options);
  loop.start();
  for (uint64_t i = 1; i <= 100; ++i) {
    loop.push(ApplyBatch{{entry(i, put("k" + std::to_string(i), "v"))}, {}});
  }
  EXPECT_TRUE(loop.wait_applied(100, std::chrono::seconds(30)));
  loop.stop();
  EXPECT_EQ(kv_->rev().value(), 101);
  loop.push(ApplyBatch{{entry(101, put("late", "v"))}, {}});  // dropped after stop
  EXPECT_EQ(loop.applied(), 100u);
}

// ---- the auth link (etcd's authApplierV3) ----

class AuthApplierTest : public ApplierTest {
 protected:
  void SetUp() override {
    ApplierTest::SetUp();
    make_chain(0);
    // Keys written before auth is on; then root, and "u" with role "r"
    // that may read and write "a" and read "ro".
    for (const char* k : {"a", "b", "ro"}) {
      ASSERT_TRUE(chain_->head().apply(put(k, "0"), next_ci()).status.is_ok());
    }
    auth_op([&](backend::BatchTx& tx) {
      etcdserverpb::AuthUserAddRequest u;
      u.set_name("root");
      u.mutable_options()->set_no_password(true);
      ASSERT_TRUE(auth_->apply_user_add(u, tx).is_ok());
      u.set_name("u");
      ASSERT_TRUE(auth_->apply_user_add(u, tx).is_ok());
      etcdserverpb::AuthRoleAddRequest r;
      r.set_name("r");
      ASSERT_TRUE(auth_->apply_role_add(r, tx).is_ok());
      etcdserverpb::AuthUserGrantRoleRequest g;
      g.set_user("root");
      g.set_role("root");
      ASSERT_TRUE(auth_->apply_user_grant_role(g, tx).is_ok());
      g.set_user("u");
      g.set_role("r");
      ASSERT_TRUE(auth_->apply_user_grant_role(g, tx).is_ok());
    });
    grant(authpb::Permission::READWRITE, "a");
    grant(authpb::Permission::READ, "ro");
    auth_op([&](backend::BatchTx& tx) { ASSERT_TRUE(auth_->apply_auth_enable(tx).is_ok()); });
  }
  template <typename F>
  void auth_op(F f) {
    backend::BatchTx tx = backend_->batch_tx();
    f(tx);
  }
  void grant(authpb::Permission::Type t, const std::string& key) {
    auth_op([&](backend::BatchTx& tx) {
      etcdserverpb::AuthRoleGrantPermissionRequest p;
      p.set_name("r");
      p.mutable_perm()->set_permtype(t);
      p.mutable_perm()->set_key(key);
      ASSERT_TRUE(auth_->apply_role_grant_permission(p, tx).is_ok());
    });
  }
  // `req` as sent by `user` with a token of the current auth revision.
  serverpb::InternalRaftRequest as(const std::string& user, serverpb::InternalRaftRequest req) {
    req.mutable_header()->set_username(user);
    req.mutable_header()->set_auth_revision(auth_->revision());
    return req;
  }
  Status apply(const serverpb::InternalRaftRequest& req) {
    ApplyResult r = chain_->head().apply(req, next_ci());
    EXPECT_EQ(ci(), index_);  // recorded, refused or not
    return r.status;
  }
  static serverpb::InternalRaftRequest txn_putting(const std::string& key, bool nested) {
    serverpb::InternalRaftRequest r;
    etcdserverpb::TxnRequest* t = r.mutable_txn();
    if (nested) t = t->add_success()->mutable_request_txn();
    t->add_success()->mutable_request_put()->set_key(key);
    return r;
  }
};

TEST_F(AuthApplierTest, WritesAreCheckedWithTheUserInTheHeader) {
  const int64_t rev = kv_->rev().value();
  EXPECT_TRUE(apply(as("u", put("a", "1"))).is_ok());
  EXPECT_EQ(apply(as("u", put("b", "1"))), auth::errors::permission_denied());
  EXPECT_EQ(apply(as("u", put("ro", "1"))), auth::errors::permission_denied());
  EXPECT_EQ(apply(as("u", del("b"))), auth::errors::permission_denied());
  EXPECT_EQ(apply(put("a", "2")), auth::errors::user_empty());  // no user in the header
  EXPECT_TRUE(apply(as("root", put("b", "1"))).is_ok());
  EXPECT_EQ(kv_->rev().value(), rev + 2);
}

TEST_F(AuthApplierTest, PrevKvNeedsReadToo) {
  grant(authpb::Permission::WRITE, "w");
  auto p = as("u", put("w", "1"));
  EXPECT_TRUE(apply(p).is_ok());
  p.mutable_put()->set_prev_kv(true);
  EXPECT_EQ(apply(p), auth::errors::permission_denied());
  auto d = as("u", del("w"));
  d.mutable_delete_range()->set_prev_kv(true);
  EXPECT_EQ(apply(d), auth::errors::permission_denied());
  d.mutable_delete_range()->set_prev_kv(false);
  EXPECT_TRUE(apply(d).is_ok());
}

TEST_F(AuthApplierTest, TxnComparesOpsAndNestedTxnsAreChecked) {
  const int64_t rev = kv_->rev().value();
  EXPECT_TRUE(apply(as("u", txn_putting("a", false))).is_ok());
  EXPECT_EQ(apply(as("u", txn_putting("b", false))), auth::errors::permission_denied());
  EXPECT_EQ(apply(as("u", txn_putting("b", true))), auth::errors::permission_denied());
  EXPECT_TRUE(apply(as("u", txn_putting("a", true))).is_ok());
  // A compare on a key the user may not read, even with nothing to do.
  serverpb::InternalRaftRequest c;
  auto* cmp = c.mutable_txn()->add_compare();
  cmp->set_key("b");
  cmp->set_target(etcdserverpb::Compare::VERSION);
  EXPECT_EQ(apply(as("u", c)), auth::errors::permission_denied());
  // An op of the branch that does not run is checked too.
  serverpb::InternalRaftRequest f = txn_putting("a", false);
  f.mutable_txn()->add_failure()->mutable_request_delete_range()->set_key("b");
  EXPECT_EQ(apply(as("u", f)), auth::errors::permission_denied());
  EXPECT_EQ(kv_->rev().value(), rev + 2);
}

TEST_F(AuthApplierTest, AChangeBetweenProposeAndApplyIsHonoured) {
  auto p = as("u", put("a", "1"));        // proposed at this revision
  grant(authpb::Permission::READ, "zz");  // applied first: the revision moves
  EXPECT_EQ(apply(p), auth::errors::auth_old_revision());
  EXPECT_TRUE(apply(as("u", put("a", "1"))).is_ok());
}

TEST_F(AuthApplierTest, LeaseRevokeNeedsWriteOnEveryAttachedKeyUnlessRoot) {
  serverpb::InternalRaftRequest g;
  g.mutable_lease_grant()->set_id(7);
  g.mutable_lease_grant()->set_ttl(100);
  ASSERT_TRUE(apply(as("u", g)).is_ok());
  auto pa = as("u", put("a", "1"));
  pa.mutable_put()->set_lease(7);
  ASSERT_TRUE(apply(pa).is_ok());
  auto pb = as("root", put("b", "1"));
  pb.mutable_put()->set_lease(7);
  ASSERT_TRUE(apply(pb).is_ok());
  // "b" is attached: u may neither attach more keys nor revoke.
  EXPECT_EQ(apply(pa), auth::errors::permission_denied());
  serverpb::InternalRaftRequest r;
  r.mutable_lease_revoke()->set_id(7);
  EXPECT_EQ(apply(as("u", r)), auth::errors::permission_denied());
  EXPECT_TRUE(lessor_->exists(LeaseId(7)));
  EXPECT_TRUE(apply(as("root", r)).is_ok());
  EXPECT_FALSE(lessor_->exists(LeaseId(7)));
}

TEST_F(AuthApplierTest, AuthManagementIsRootOnlyButUsersReadThemselves) {
  AuthApplier link(chain_->head(), *checks_, *backend_);  // check() alone
  serverpb::InternalRaftRequest add;
  add.mutable_auth_role_add()->set_name("x");
  EXPECT_EQ(link.check(as("u", add)), auth::errors::permission_denied());
  EXPECT_EQ(link.check(add), auth::errors::user_empty());
  EXPECT_TRUE(link.check(as("root", add)).is_ok());
  serverpb::InternalRaftRequest ug;
  ug.mutable_auth_user_get()->set_name("u");
  EXPECT_TRUE(link.check(as("u", ug)).is_ok());
  ug.mutable_auth_user_get()->set_name("root");
  EXPECT_EQ(link.check(as("u", ug)), auth::errors::permission_denied());
  serverpb::InternalRaftRequest rg;
  rg.mutable_auth_role_get()->set_role("r");
  EXPECT_TRUE(link.check(as("u", rg)).is_ok());
  rg.mutable_auth_role_get()->set_role("root");
  EXPECT_EQ(link.check(as("u", rg)), auth::errors::permission_denied());
  // Authenticate, compaction and alarms need nothing.
  serverpb::InternalRaftRequest other;
  other.mutable_authenticate()->set_name("u");
  EXPECT_TRUE(link.check(other).is_ok());
  other.mutable_compaction()->set_revision(1);
  EXPECT_TRUE(link.check(other).is_ok());
}

TEST_F(AuthApplierTest, ReadChecksOfTheFronts) {
  const auth::AuthInfo u{"u", auth_->revision()};
  etcdserverpb::RangeRequest r;
  r.set_key("a");
  EXPECT_TRUE(checks_->range(u, r).is_ok());
  r.set_range_end(std::string("a\0", 2));  // [a, a\0): the key alone
  EXPECT_TRUE(checks_->range(u, r).is_ok());
  r.set_range_end("b");
  EXPECT_EQ(checks_->range(u, r), auth::errors::permission_denied());
  EXPECT_TRUE(checks_->watch(u, "a", "").is_ok());
  EXPECT_EQ(checks_->watch(u, "a", std::string(1, '\0')), auth::errors::permission_denied());
  EXPECT_EQ(checks_->watch(auth::AuthInfo{}, "a", ""), auth::errors::user_empty());
  // Compaction: any user, but a user.
  EXPECT_TRUE(checks_->authenticated(u).is_ok());
  EXPECT_EQ(checks_->authenticated(auth::AuthInfo{}), auth::errors::user_empty());
  EXPECT_EQ(unconverted_auth_error(auth::errors::permission_denied()),
            Status(Code::kUnknown, "auth: permission denied"));
  EXPECT_EQ(unconverted_auth_error(errors::no_space()), errors::no_space());
}

}  // namespace
}  // namespace etcd::server
