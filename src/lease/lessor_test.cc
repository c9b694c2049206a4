#include "lease/lessor.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "leasepb/lease.pb.h"

namespace etcd::lease {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kAll("\0", 1);

class LessorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("lessor_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    open();
  }
  void TearDown() override {
    close();
    std::filesystem::remove_all(dir_);
  }
  void open(LessorOptions opts = {}) {
    backend::Options o;
    o.background_commit = false;
    auto b = backend::Backend::open((dir_ / "db").string(), o, clock_);
    ASSERT_TRUE(b.is_ok()) << b.status().to_string();
    backend_ = std::move(b).value();
    kv_ = std::make_unique<mvcc::KVStore>(*backend_);
    mvcc::KVStore::LeasedKeys leased;
    ASSERT_TRUE(kv_->restore(&leased).is_ok());
    lessor_ = std::make_unique<Lessor>(*kv_, clock_, opts);
    ASSERT_TRUE(lessor_->restore(leased).is_ok());
  }
  void close() {
    lessor_.reset();
    kv_.reset();
    if (backend_) backend_->close();
    backend_.reset();
  }
  void reopen(LessorOptions opts = {}) {
    close();
    open(opts);
  }
  backend::ConsistentIndex next_ci() { return {Index(++index_), Term(1)}; }
  void put(const std::string& k, int64_t lease) {
    auto txn = kv_->write();
    txn->put(k, "v", lease);
  }
  void del(const std::string& k) {
    auto txn = kv_->write();
    txn->delete_range(mvcc::KeyRange{k, ""});
  }
  std::vector<std::string> live_keys() {
    auto r = kv_->range(mvcc::KeyRange{"", kAll}, {});
    EXPECT_TRUE(r.is_ok());
    std::vector<std::string> out;
    for (const auto& kv : r->kvs) out.push_back(kv.key());
    return out;
  }
  std::vector<std::string> keys_of(int64_t id) {
    auto v = lessor_->lookup(LeaseId(id), true);
    return v ? v->keys : std::vector<std::string>{"<no lease>"};
  }
  std::optional<leasepb::Lease> stored(int64_t id) {
    auto rtx = backend_->read_tx();
    auto v = rtx.get(backend::Bucket::kLease, backend::lease_key(LeaseId(id)));
    if (!v) return std::nullopt;
    leasepb::Lease pb;
    EXPECT_TRUE(pb.ParseFromString(*v));
    return pb;
  }

  std::filesystem::path dir_;
  env::ManualClock clock_{1'700'000'000'000};
  std::unique_ptr<backend::Backend> backend_;
  std::unique_ptr<mvcc::KVStore> kv_;
  std::unique_ptr<Lessor> lessor_;
  uint64_t index_ = 0;
};

TEST_F(LessorTest, GrantValidatesLikeEtcd) {
  reopen(LessorOptions{.min_ttl_s = 2});
  auto g = lessor_->grant(LeaseId(1), 1, next_ci());
  ASSERT_TRUE(g.is_ok());
  EXPECT_EQ(g->ttl_s, 2);  // raised to the minimum
  EXPECT_EQ(lessor_->grant(LeaseId(1), 10, next_ci()).status(), err_lease_exists());
  EXPECT_EQ(lessor_->grant(LeaseId(2), kMaxLeaseTtl + 1, next_ci()).status(), err_ttl_too_large());
  EXPECT_TRUE(lessor_->grant(LeaseId(3), kMaxLeaseTtl, next_ci()).is_ok());
  EXPECT_EQ(lessor_->grant(LeaseId(0), 10, next_ci()).status(), err_lease_not_found());
  EXPECT_TRUE(lessor_->exists(LeaseId(1)));
  EXPECT_FALSE(lessor_->exists(LeaseId(2)));
  // Every apply records its consistent index, errors included.
  EXPECT_EQ(backend_->consistent_index().index.value(), index_);
  auto pb = stored(1);
  ASSERT_TRUE(pb.has_value());
  EXPECT_EQ(pb->id(), 1);
  EXPECT_EQ(pb->ttl(), 2);
  EXPECT_EQ(pb->remainingttl(), 0);
}

TEST_F(LessorTest, ObserverAttachesAndDetachesKeys) {
  ASSERT_TRUE(lessor_->grant(LeaseId(1), 10, next_ci()).is_ok());
  ASSERT_TRUE(lessor_->grant(LeaseId(2), 10, next_ci()).is_ok());
  put("a", 1);
  put("b", 1);
  put("c", 2);
  EXPECT_EQ(keys_of(1), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(lessor_->lease_of("a"), LeaseId(1));
  put("a", 2);  // moves to lease 2
  EXPECT_EQ(keys_of(1), (std::vector<std::string>{"b"}));
  EXPECT_EQ(keys_of(2), (std::vector<std::string>{"a", "c"}));
  put("b", 0);  // detached
  EXPECT_EQ(keys_of(1), (std::vector<std::string>{}));
  EXPECT_EQ(lessor_->lease_of("b"), LeaseId(0));
  del("c");
  EXPECT_EQ(keys_of(2), (std::vector<std::string>{"a"}));
  // A put naming an unknown lease attaches nothing (the applier refuses it
  // before it gets here).
  put("z", 99);
  EXPECT_EQ(lessor_->lease_of("z"), LeaseId(0));
}

TEST_F(LessorTest, RevokeDeletesKeysInOneRevision) {
  ASSERT_TRUE(lessor_->grant(LeaseId(7), 10, next_ci()).is_ok());
  put("k3", 7);
  put("k1", 7);
  put("k2", 7);
  put("other", 0);
  int64_t before = kv_->rev().value();
  std::vector<std::pair<std::string, int64_t>> seen;
  kv_->add_observer([&](const mvcc::KVStore::WriteTxn& t) {
    for (size_t i = 0; i < t.changes().size(); ++i) {
      EXPECT_TRUE(t.change_is_delete()[i]);
      seen.emplace_back(t.changes()[i].key(), t.changes()[i].mod_revision());
    }
  });
  ASSERT_TRUE(lessor_->revoke(LeaseId(7), next_ci()).is_ok());
  EXPECT_EQ(kv_->rev().value(), before + 1);
  // Sorted, all at one revision.
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, int64_t>>{
                      {"k1", before + 1}, {"k2", before + 1}, {"k3", before + 1}}));
  EXPECT_EQ(live_keys(), (std::vector<std::string>{"other"}));
  EXPECT_FALSE(lessor_->exists(LeaseId(7)));
  EXPECT_FALSE(stored(7).has_value());
  EXPECT_EQ(lessor_->lease_of("k1"), LeaseId(0));
  EXPECT_EQ(backend_->consistent_index().index.value(), index_);
  EXPECT_EQ(lessor_->revoke(LeaseId(7), next_ci()), err_lease_not_found());
  EXPECT_EQ(backend_->consistent_index().index.value(), index_);
  // A lease without keys: no new revision.
  ASSERT_TRUE(lessor_->grant(LeaseId(8), 10, next_ci()).is_ok());
  int64_t rev = kv_->rev().value();
  ASSERT_TRUE(lessor_->revoke(LeaseId(8), next_ci()).is_ok());
  EXPECT_EQ(kv_->rev().value(), rev);
}

TEST_F(LessorTest, ExpiryOnlyWhilePrimary) {
  ASSERT_TRUE(lessor_->grant(LeaseId(1), 5, next_ci()).is_ok());
  clock_.advance(seconds(100));
  EXPECT_TRUE(lessor_->find_expired(100).empty());  // not primary: never expires
  EXPECT_EQ(lessor_->renew(LeaseId(1)).status(), err_not_primary());

  lessor_->promote(milliseconds(1000));
  ASSERT_TRUE(lessor_->grant(LeaseId(2), 30, next_ci()).is_ok());
  EXPECT_EQ(lessor_->lookup(LeaseId(1), false)->remaining_s, 6);  // 5 s + 1 s extend
  EXPECT_EQ(lessor_->lookup(LeaseId(2), false)->remaining_s, 30);
  EXPECT_EQ(lessor_->leases(), (std::vector<LeaseId>{LeaseId(1), LeaseId(2)}));
  clock_.advance(milliseconds(5999));
  EXPECT_TRUE(lessor_->find_expired(100).empty());
  clock_.advance(milliseconds(1));
  EXPECT_EQ(lessor_->find_expired(100), (std::vector<LeaseId>{LeaseId(1)}));
  // Handed out once; again after the retry interval while it still exists.
  EXPECT_TRUE(lessor_->find_expired(100).empty());
  clock_.advance(seconds(3));
  EXPECT_EQ(lessor_->find_expired(100), (std::vector<LeaseId>{LeaseId(1)}));

  // The loop hands expired leases to the revoker.
  std::vector<LeaseId> revoked;
  lessor_->set_revoker([&](const std::vector<LeaseId>& ids) {
    for (LeaseId id : ids) {
      revoked.push_back(id);
      ASSERT_TRUE(lessor_->revoke(id, next_ci()).is_ok());
    }
  });
  clock_.advance(seconds(3));
  lessor_->run_once();
  EXPECT_EQ(revoked, (std::vector<LeaseId>{LeaseId(1)}));
  // A renewal pushes the expiry out by the TTL.
  EXPECT_EQ(lessor_->lookup(LeaseId(2), false)->remaining_s, 18);
  auto ttl = lessor_->renew(LeaseId(2));
  ASSERT_TRUE(ttl.is_ok());
  EXPECT_EQ(*ttl, 30);
  EXPECT_EQ(lessor_->lookup(LeaseId(2), false)->remaining_s, 30);
  EXPECT_EQ(lessor_->renew(LeaseId(1)).status(), err_lease_not_found());
  // An expired lease whose revoke does not come: the renewal gives up.
  clock_.advance(seconds(31));
  EXPECT_EQ(lessor_->renew(LeaseId(2), milliseconds(10)).status(), err_not_primary());

  // Demoted: nothing expires, the loop also demotes when not leading.
  lessor_->promote(milliseconds(0));
  lessor_->set_leader_check([] { return false; });
  lessor_->set_revoker([&](const std::vector<LeaseId>&) { FAIL() << "revoked while demoted"; });
  clock_.advance(seconds(60));
  lessor_->run_once();
  EXPECT_FALSE(lessor_->is_primary());
  EXPECT_EQ(lessor_->lookup(LeaseId(2), false)->remaining_s, 9223372036);
}

TEST_F(LessorTest, PromotionSpreadsPiledUpExpiries) {
  for (int i = 1; i <= 2000; ++i) {
    ASSERT_TRUE(lessor_->grant(LeaseId(i), 10, next_ci()).is_ok());
  }
  lessor_->promote(milliseconds(0));
  // Without spreading all 2000 would expire 10 s from now; now no one-second
  // window holds more than 750 of them.
  std::map<int64_t, int> per_second;
  for (int i = 1; i <= 2000; ++i) ++per_second[lessor_->lookup(LeaseId(i), false)->remaining_s];
  int total = 0;
  for (const auto& [s, n] : per_second) {
    EXPECT_LE(n, 750) << "second " << s;
    EXPECT_GE(s, 10);
    EXPECT_LE(s, 12);
    total += n;
  }
  EXPECT_EQ(total, 2000);
  EXPECT_EQ(per_second[10], 750);
}

TEST_F(LessorTest, CheckpointsRecordRemainingTtl) {
  LessorOptions opts;
  opts.checkpoint = true;
  opts.checkpoint_persist = true;
  opts.checkpoint_interval = seconds(60);
  reopen(opts);
  std::vector<std::vector<Checkpoint>> proposed;
  lessor_->set_checkpointer([&](const std::vector<Checkpoint>& cps) {
    proposed.push_back(cps);
    lessor_->checkpoint(cps, next_ci());  // as if through Raft
  });
  lessor_->promote(milliseconds(0));
  ASSERT_TRUE(lessor_->grant(LeaseId(1), 300, next_ci()).is_ok());
  ASSERT_TRUE(lessor_->grant(LeaseId(2), 30, next_ci()).is_ok());  // below the interval: none
  clock_.advance(seconds(59));
  lessor_->run_once();
  EXPECT_TRUE(proposed.empty());
  clock_.advance(seconds(1));
  lessor_->run_once();
  ASSERT_EQ(proposed.size(), 1u);
  ASSERT_EQ(proposed[0].size(), 1u);
  EXPECT_EQ(proposed[0][0].id, LeaseId(1));
  EXPECT_EQ(proposed[0][0].remaining_ttl_s, 240);
  EXPECT_EQ(stored(1)->remainingttl(), 240);  // persisted
  // Promotion counts from the checkpointed remaining TTL.
  lessor_->demote();
  clock_.advance(seconds(100));
  lessor_->promote(milliseconds(0));
  EXPECT_EQ(lessor_->lookup(LeaseId(1), false)->remaining_s, 240);
  // So does a restart (the checkpoint was persisted).
  reopen(opts);
  lessor_->set_checkpointer([&](const std::vector<Checkpoint>& cps) {
    proposed.push_back(cps);
    lessor_->checkpoint(cps, next_ci());
  });
  lessor_->promote(milliseconds(0));
  EXPECT_EQ(lessor_->lookup(LeaseId(1), false)->remaining_s, 240);
  // A renewal clears the checkpoint (through the checkpointer).
  proposed.clear();
  ASSERT_TRUE(lessor_->renew(LeaseId(1)).is_ok());
  ASSERT_EQ(proposed.size(), 1u);
  EXPECT_EQ(proposed[0][0].remaining_ttl_s, 0);
  EXPECT_EQ(lessor_->lookup(LeaseId(1), false)->remaining_s, 300);
  EXPECT_EQ(stored(1)->remainingttl(), 0);
}

TEST_F(LessorTest, CheckpointsNotPersistedWithoutTheFlag) {
  LessorOptions opts;
  opts.checkpoint = true;
  reopen(opts);
  lessor_->set_checkpointer([&](const std::vector<Checkpoint>&) {});
  ASSERT_TRUE(lessor_->grant(LeaseId(1), 300, next_ci()).is_ok());
  lessor_->checkpoint({Checkpoint{LeaseId(1), 100}}, next_ci());
  EXPECT_EQ(stored(1)->remainingttl(), 0);
  lessor_->promote(milliseconds(0));
  EXPECT_EQ(lessor_->lookup(LeaseId(1), false)->remaining_s, 100);  // in memory it counts
  reopen(opts);
  lessor_->promote(milliseconds(0));
  EXPECT_EQ(lessor_->lookup(LeaseId(1), false)->remaining_s, 300);
}

TEST_F(LessorTest, RestoreRebuildsLeasesAndKeys) {
  ASSERT_TRUE(lessor_->grant(LeaseId(1), 30, next_ci()).is_ok());
  ASSERT_TRUE(lessor_->grant(LeaseId(2), 60, next_ci()).is_ok());
  for (int i = 0; i < 2500; ++i) put("key" + std::to_string(i), i % 2 == 0 ? 1 : 2);
  put("free", 0);
  put("key7", 0);  // detached before the restart
  ASSERT_TRUE(lessor_->grant(LeaseId(3), 10, next_ci()).is_ok());
  ASSERT_TRUE(lessor_->revoke(LeaseId(3), next_ci()).is_ok());
  reopen(LessorOptions{.min_ttl_s = 45});
  EXPECT_EQ(lessor_->leases().size(), 2u);
  EXPECT_FALSE(lessor_->exists(LeaseId(3)));
  auto l1 = lessor_->lookup(LeaseId(1), true);
  ASSERT_TRUE(l1.has_value());
  EXPECT_EQ(l1->ttl_s, 45);  // raised to the new minimum
  EXPECT_EQ(l1->keys.size(), 1250u);
  auto l2 = lessor_->lookup(LeaseId(2), true);
  EXPECT_EQ(l2->ttl_s, 60);
  EXPECT_EQ(l2->keys.size(), 1249u);
  EXPECT_EQ(lessor_->lease_of("key7"), LeaseId(0));
  EXPECT_EQ(lessor_->lease_of("key9"), LeaseId(2));
  // Not primary until promoted; then TTLs count from now.
  EXPECT_EQ(l2->remaining_s, 9223372036);
  lessor_->promote(milliseconds(1000));
  EXPECT_EQ(lessor_->lookup(LeaseId(2), false)->remaining_s, 61);
  // Revoking after the restart removes the re-attached keys in one revision.
  int64_t rev = kv_->rev().value();
  ASSERT_TRUE(lessor_->revoke(LeaseId(1), next_ci()).is_ok());
  EXPECT_EQ(kv_->rev().value(), rev + 1);
  EXPECT_EQ(live_keys().size(), 1251u);
}

TEST_F(LessorTest, LoopThreadRevokesExpiredLeases) {
  // The real loop thread, with the manual clock moved past the expiry.
  std::mutex mu;
  std::condition_variable cv;
  std::vector<LeaseId> got;
  lessor_->set_revoker([&](const std::vector<LeaseId>& ids) {
    std::lock_guard lock(mu);
    got.insert(got.end(), ids.begin(), ids.end());
    cv.notify_all();
  });
  lessor_->promote(milliseconds(0));
  ASSERT_TRUE(lessor_->grant(LeaseId(5), 1, next_ci()).is_ok());
  clock_.advance(seconds(2));
  lessor_->start();
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, seconds(5), [&] { return !got.empty(); }));
  }
  lessor_->stop();
  EXPECT_EQ(got.front(), LeaseId(5));
}

}  // namespace
}  // namespace etcd::lease
