#include "mvcc/kvstore.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "base/crc32c.h"
#include "env/clock.h"
#include "metrics/metrics.h"

namespace etcd::mvcc {
namespace {

const std::string kAll("\0", 1);

class KVStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("kvstore_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    open();
  }
  void TearDown() override {
    store_.reset();
    if (backend_) backend_->close();
    backend_.reset();
    std::filesystem::remove_all(dir_);
  }
  void open() {
    backend::Options o;
    o.background_commit = false;
    auto b = backend::Backend::open((dir_ / "db").string(), o, clock_);
    ASSERT_TRUE(b.is_ok()) << b.status().to_string();
    backend_ = std::move(b).value();
    store_ = std::make_unique<KVStore>(*backend_);
    ASSERT_TRUE(store_->restore().is_ok());
  }
  void reopen() {
    store_.reset();
    backend_->close();
    backend_.reset();
    open();
  }
  void put(const std::string& k, const std::string& v, int64_t lease = 0) {
    auto txn = store_->write();
    txn->put(k, v, lease);
  }
  std::vector<std::string> keys_at(KeyRange r, int64_t rev = 0) {
    RangeOptions ro;
    ro.rev = MainRev(rev);
    auto res = store_->range(r, ro);
    EXPECT_TRUE(res.is_ok()) << res.status().to_string();
    std::vector<std::string> out;
    for (const auto& kv : res->kvs) out.push_back(kv.key() + "=" + kv.value());
    return out;
  }

  std::filesystem::path dir_;
  env::ManualClock clock_;
  std::unique_ptr<backend::Backend> backend_;
  std::unique_ptr<KVStore> store_;
};

TEST_F(KVStoreTest, RevisionsVersionsAndCreateRevisions) {
  EXPECT_EQ(store_->rev().value(), 1);
  put("foo", "bar");  // rev 2
  put("foo", "baz");  // rev 3
  put("zoo", "z");    // rev 4
  EXPECT_EQ(store_->rev().value(), 4);
  auto r = store_->range({"foo", ""}, {});
  ASSERT_TRUE(r.is_ok());
  ASSERT_EQ(r->kvs.size(), 1u);
  const auto& kv = r->kvs[0];
  EXPECT_EQ(kv.value(), "baz");
  EXPECT_EQ(kv.create_revision(), 2);
  EXPECT_EQ(kv.mod_revision(), 3);
  EXPECT_EQ(kv.version(), 2);
  EXPECT_EQ(r->rev.value(), 4);
  EXPECT_EQ(keys_at({"foo", ""}, 2), std::vector<std::string>{"foo=bar"});
}

TEST_F(KVStoreTest, DeleteResetsVersionAndRangeLimits) {
  put("a", "1");
  put("b", "2");
  put("c", "3");  // rev 4
  {
    auto txn = store_->write();
    EXPECT_EQ(txn->delete_range({"a", "c"}), 2);  // rev 5
    EXPECT_EQ(txn->write_rev().value(), 5);
  }
  EXPECT_EQ(store_->rev().value(), 5);
  EXPECT_EQ(keys_at({"a", kAll}), std::vector<std::string>{"c=3"});
  EXPECT_EQ(keys_at({"a", kAll}, 4), (std::vector<std::string>{"a=1", "b=2", "c=3"}));
  put("a", "again");  // rev 6: a new generation
  auto r = store_->range({"a", ""}, {});
  EXPECT_EQ(r->kvs[0].version(), 1);
  EXPECT_EQ(r->kvs[0].create_revision(), 6);
  RangeOptions ro;
  ro.limit = 1;
  r = store_->range({"a", kAll}, ro);
  EXPECT_EQ(r->kvs.size(), 1u);
  EXPECT_EQ(r->count, 2);
  ro = {};
  ro.count_only = true;
  r = store_->range({"a", kAll}, ro);
  EXPECT_TRUE(r->kvs.empty());
  EXPECT_EQ(r->count, 2);
}

TEST_F(KVStoreTest, OneRevisionPerTransactionAndReadsOwnWrites) {
  {
    auto txn = store_->write();
    txn->put("x", "1", 0);
    txn->put("y", "2", 0);
    txn->put("x", "3", 0);
    auto in_txn = txn->range({"x", ""}, {});
    ASSERT_TRUE(in_txn.is_ok());
    EXPECT_EQ(in_txn->kvs[0].value(), "3");
    EXPECT_EQ(in_txn->kvs[0].version(), 2);
    EXPECT_EQ(txn->changes().size(), 3u);
  }
  EXPECT_EQ(store_->rev().value(), 2);
  auto r = store_->range({"x", ""}, {});
  EXPECT_EQ(r->kvs[0].mod_revision(), 2);
  EXPECT_EQ(r->kvs[0].version(), 2);
  // A transaction without changes does not advance the revision.
  { auto txn = store_->write(); }
  EXPECT_EQ(store_->rev().value(), 2);
}

TEST_F(KVStoreTest, ObserversSeeEachChangingTransactionOnceBeforeItsRevision) {
  std::vector<std::string> seen;
  store_->add_observer([&](const KVStore::WriteTxn& txn) {
    // Called before the revision moves: readers do not see it yet.
    EXPECT_EQ(store_->rev().value(), txn.write_rev().value() - 1);
    std::string s = "a" + std::to_string(txn.write_rev().value()) + ":";
    for (size_t i = 0; i < txn.changes().size(); ++i) {
      s += (txn.change_is_delete()[i] ? "-" : "+") + txn.changes()[i].key();
    }
    seen.push_back(s);
  });
  store_->add_observer([&](const KVStore::WriteTxn& txn) {
    seen.push_back("b" + std::to_string(txn.write_rev().value()));
  });
  {
    auto txn = store_->write();
    txn->put("x", "1", 0);
    txn->put("y", "2", 0);
  }
  { auto txn = store_->write(); }  // no change: not observed
  {
    auto txn = store_->write();
    EXPECT_EQ(txn->delete_range({"x", ""}), 1);
    EXPECT_EQ(txn->delete_range({"nothing", ""}), 0);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"a2:+x+y", "b2", "a3:-x", "b3"}));
  EXPECT_EQ(store_->rev().value(), 3);
}

TEST_F(KVStoreTest, FutureAndCompactedRevisions) {
  put("k", "1");  // 2
  put("k", "2");  // 3
  put("k", "3");  // 4
  RangeOptions ro;
  ro.rev = MainRev(5);
  auto r = store_->range({"k", ""}, ro);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().message(), "mvcc: required revision is a future revision");
  ASSERT_TRUE(store_->compact(MainRev(3)).is_ok());
  ro.rev = MainRev(2);
  r = store_->range({"k", ""}, ro);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kOutOfRange);
  EXPECT_EQ(r.status().message(), "mvcc: required revision has been compacted");
  EXPECT_EQ(keys_at({"k", ""}, 3), std::vector<std::string>{"k=2"});
  EXPECT_TRUE(is_compacted(store_->compact(MainRev(3))));
  EXPECT_TRUE(is_future_rev(store_->compact(MainRev(9))));
  // The superseded revision 2 is gone from the backend; 3 and 4 remain.
  auto rtx = backend_->read_tx();
  EXPECT_FALSE(rtx.get(backend::Bucket::kKey, backend::revision_key({2, 0})).has_value());
  EXPECT_TRUE(rtx.get(backend::Bucket::kKey, backend::revision_key({3, 0})).has_value());
}

TEST_F(KVStoreTest, RestoreRebuildsIndexAndRevision) {
  put("a", "1");  // 2
  put("b", "1");  // 3
  put("a", "2");  // 4
  {
    auto txn = store_->write();
    txn->delete_range({"b", ""});  // 5
  }
  put("b", "new");  // 6
  ASSERT_TRUE(store_->compact(MainRev(4)).is_ok());
  backend_->force_commit();
  reopen();
  EXPECT_EQ(store_->rev().value(), 6);
  EXPECT_EQ(store_->compact_rev().value(), 4);
  EXPECT_EQ(keys_at({"a", kAll}), (std::vector<std::string>{"a=2", "b=new"}));
  auto r = store_->range({"a", ""}, {});
  EXPECT_EQ(r->kvs[0].version(), 2);
  EXPECT_EQ(r->kvs[0].create_revision(), 2);
  r = store_->range({"b", ""}, {});
  EXPECT_EQ(r->kvs[0].version(), 1);
  EXPECT_EQ(r->kvs[0].create_revision(), 6);
  EXPECT_EQ(keys_at({"a", kAll}, 5), std::vector<std::string>{"a=2"});
  // Writing continues at the next revision.
  put("c", "x");
  EXPECT_EQ(store_->rev().value(), 7);
}

TEST_F(KVStoreTest, RestoreReportsTheLiveKeysThatNameALease) {
  put("a", "1", 7);  // stays on lease 7
  put("b", "1", 7);
  put("b", "2", 0);  // detached by a later put
  put("c", "1", 8);
  {
    auto txn = store_->write();
    txn->delete_range({"c", ""});  // deleted
  }
  put("d", "1", 0);
  put("d", "2", 9);  // attached by a later put
  put("e", "1", 8);
  ASSERT_TRUE(store_->compact(store_->rev()).is_ok());  // history gone, live keys stay
  store_.reset();
  backend_->close();
  backend_.reset();
  auto b = backend::Backend::open((dir_ / "db").string(), backend::Options{}, clock_);
  ASSERT_TRUE(b.is_ok());
  backend_ = std::move(b).value();
  store_ = std::make_unique<KVStore>(*backend_);
  KVStore::LeasedKeys leased;
  ASSERT_TRUE(store_->restore(&leased).is_ok());
  EXPECT_EQ(leased, (KVStore::LeasedKeys{{"a", 7}, {"d", 9}, {"e", 8}}));
}

TEST_F(KVStoreTest, ReadsFromAnotherThreadSeeAcknowledgedWrites) {
  for (int i = 0; i < 50; ++i) {
    put("k" + std::to_string(i), "v");
    int64_t want = store_->rev().value();
    std::thread reader([&] {
      auto r = store_->range({"k", "l"}, {});
      ASSERT_TRUE(r.is_ok());
      EXPECT_EQ(r->rev.value(), want);
      EXPECT_EQ(static_cast<int>(r->kvs.size()), i + 1);
    });
    reader.join();
  }
}

// The CRC-32C of "key" and every revision key and value in the backend with
// main revision <= rev: what hash_by_rev must give when nothing is skipped.
uint32_t crc_of_backend(backend::Backend& b, int64_t rev) {
  auto rtx = b.read_tx();
  uint32_t h = crc32c::value("key");
  rtx.for_each(backend::Bucket::kKey, "", backend::revision_key(Revision{rev + 1, 0}),
               [&](std::string_view k, std::string_view v) {
                 h = crc32c::extend(h, k.data(), k.size());
                 h = crc32c::extend(h, v.data(), v.size());
                 return true;
               });
  return h;
}

TEST_F(KVStoreTest, HashByRevFollowsEtcdsAlgorithm) {
  put("foo", "1");  // rev 2
  put("foo", "2");  // rev 3
  put("bar", "3");  // rev 4
  auto h = store_->hash_by_rev(MainRev(0));
  ASSERT_TRUE(h.is_ok());
  EXPECT_EQ(h->hash_rev.value(), 4);
  EXPECT_EQ(h->current_rev.value(), 4);
  EXPECT_EQ(h->compact_rev.value(), -1);
  EXPECT_EQ(h->hash, crc_of_backend(*backend_, 4));
  EXPECT_EQ(store_->hash_by_rev(MainRev(4))->hash, h->hash);
  EXPECT_EQ(store_->hash_by_rev(MainRev(3))->hash, crc_of_backend(*backend_, 3));
  EXPECT_NE(store_->hash_by_rev(MainRev(3))->hash, h->hash);
  EXPECT_TRUE(is_future_rev(store_->hash_by_rev(MainRev(5)).status()));

  ASSERT_TRUE(store_->compact(MainRev(3)).is_ok());
  EXPECT_TRUE(is_compacted(store_->hash_by_rev(MainRev(3)).status()));
  EXPECT_TRUE(is_compacted(store_->hash_by_rev(MainRev(2)).status()));
  auto after = store_->hash_by_rev(MainRev(4));
  ASSERT_TRUE(after.is_ok());
  EXPECT_EQ(after->compact_rev.value(), 3);
  // Revision 2 is gone; what is left is hashed as is.
  EXPECT_EQ(after->hash, crc_of_backend(*backend_, 4));

  // Later writes do not change the hash at 4, and a restart keeps it.
  put("foo", "4");  // rev 5
  EXPECT_EQ(store_->hash_by_rev(MainRev(4))->hash, after->hash);
  auto at5 = store_->hash_by_rev(MainRev(0))->hash;
  reopen();
  EXPECT_EQ(store_->hash_by_rev(MainRev(4))->hash, after->hash);
  EXPECT_EQ(store_->hash_by_rev(MainRev(0))->hash, at5);
  EXPECT_EQ(store_->hash_by_rev(MainRev(0))->compact_rev.value(), 3);
}

// etcd's MVCC counters: every put, delete and range call once; a write
// transaction of more than one call is a txn; live keys follow puts and
// deletes and survive a restart.
TEST_F(KVStoreTest, MetricsCountCallsAndLiveKeys) {
  auto& m = metrics::Metrics::global();
  const double puts = m.put_total->Value(), deletes = m.delete_total->Value(),
               ranges = m.range_total->Value(), txns = m.txn_total->Value();
  put("a", "1");
  put("b", "2");
  put("a", "3");  // not a new key
  EXPECT_EQ(store_->live_keys(), 2);
  {
    auto txn = store_->write();
    txn->put("c", "4", 0);
    EXPECT_EQ(txn->delete_range(KeyRange{"a", kAll}), 3);  // a, b, c
    (void)txn->range(KeyRange{"a", ""}, RangeOptions{});
  }
  EXPECT_EQ(store_->live_keys(), 0);
  put("d", "5");
  (void)keys_at(KeyRange{"a", kAll});
  EXPECT_EQ(m.put_total->Value() - puts, 5);
  EXPECT_EQ(m.delete_total->Value() - deletes, 1);
  EXPECT_EQ(m.range_total->Value() - ranges, 2);
  EXPECT_EQ(m.txn_total->Value() - txns, 1);
  reopen();
  EXPECT_EQ(store_->live_keys(), 1);
}

}  // namespace
}  // namespace etcd::mvcc
