#include "server/kv_apply.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "env/clock.h"
#include "server/errors.h"
#include "server/kv_validation.h"
#include "server/test_util.h"

namespace etcd::server {
namespace {

using etcdserverpb::Compare;
using etcdserverpb::RangeRequest;

class KvApplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing_util::fresh_test_dir("kvapply");
    backend_ = testing_util::open_test_backend(dir_, clock_);
    ASSERT_NE(backend_, nullptr);
    store_ = std::make_unique<mvcc::KVStore>(*backend_);
    ASSERT_TRUE(store_->restore().is_ok());
    applier_ = std::make_unique<KvApplier>(*store_, [](int64_t id) { return id == 7; });
  }
  void TearDown() override {
    applier_.reset();
    store_.reset();
    backend_->close();
    std::filesystem::remove_all(dir_);
  }
  backend::ConsistentIndex next_ci() { return {Index(++index_), Term(1)}; }
  etcdserverpb::PutResponse put(const std::string& k, const std::string& v, int64_t lease = 0) {
    etcdserverpb::PutRequest p;
    p.set_key(k);
    p.set_value(v);
    p.set_lease(lease);
    auto r = applier_->put(p, next_ci());
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    return r.is_ok() ? *r : etcdserverpb::PutResponse();
  }
  std::vector<std::string> keys(const etcdserverpb::RangeResponse& r) {
    std::vector<std::string> out;
    for (const auto& kv : r.kvs()) out.push_back(kv.key());
    return out;
  }

  std::filesystem::path dir_;
  env::ManualClock clock_;
  std::unique_ptr<backend::Backend> backend_;
  std::unique_ptr<mvcc::KVStore> store_;
  std::unique_ptr<KvApplier> applier_;
  uint64_t index_ = 0;
};

TEST_F(KvApplyTest, RangeLimitMoreCountAndKeysOnly) {
  for (const char* k : {"a", "b", "c", "d"}) put(k, std::string("v") + k);
  RangeRequest r;
  r.set_key("a");
  r.set_range_end("z");
  r.set_limit(2);
  auto resp = applier_->range(r);
  ASSERT_TRUE(resp.is_ok());
  EXPECT_EQ(keys(*resp), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(resp->more());
  EXPECT_EQ(resp->count(), 4);
  EXPECT_EQ(resp->header().revision(), 5);
  r.set_limit(4);
  EXPECT_FALSE(applier_->range(r)->more());
  r.set_limit(0);
  r.set_keys_only(true);
  resp = applier_->range(r);
  EXPECT_EQ(resp->kvs(0).value(), "");
  r.set_count_only(true);
  resp = applier_->range(r);
  EXPECT_EQ(resp->kvs_size(), 0);
  EXPECT_EQ(resp->count(), 4);
}

TEST_F(KvApplyTest, SortingAndFilters) {
  put("a", "3");
  put("b", "1");
  put("c", "2");
  put("b", "4");  // b: version 2, mod 5
  RangeRequest r;
  r.set_key("a");
  r.set_range_end("d");
  r.set_sort_target(RangeRequest::VALUE);  // ascending by default
  EXPECT_EQ(keys(*applier_->range(r)), (std::vector<std::string>{"c", "a", "b"}));
  r.set_sort_order(RangeRequest::DESCEND);
  r.set_sort_target(RangeRequest::MOD);
  EXPECT_EQ(keys(*applier_->range(r)), (std::vector<std::string>{"b", "c", "a"}));
  r.set_sort_order(RangeRequest::DESCEND);
  r.set_sort_target(RangeRequest::KEY);
  r.set_limit(1);
  auto resp = applier_->range(r);
  EXPECT_EQ(keys(*resp), std::vector<std::string>{"c"});
  EXPECT_TRUE(resp->more());
  RangeRequest f;
  f.set_key("a");
  f.set_range_end("d");
  f.set_min_mod_revision(4);
  EXPECT_EQ(keys(*applier_->range(f)), (std::vector<std::string>{"b", "c"}));
  f.set_max_create_revision(3);
  EXPECT_EQ(keys(*applier_->range(f)), std::vector<std::string>{"b"});
}

TEST_F(KvApplyTest, PutPrevKvIgnoreValueAndLease) {
  put("k", "v1", 7);
  etcdserverpb::PutRequest p;
  p.set_key("k");
  p.set_value("v2");
  p.set_prev_kv(true);
  auto r = applier_->put(p, next_ci());
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->prev_kv().value(), "v1");
  EXPECT_EQ(r->header().revision(), 3);
  // ignore_value keeps the value, ignore_lease the lease.
  etcdserverpb::PutRequest iv;
  iv.set_key("k");
  iv.set_ignore_value(true);
  iv.set_lease(7);
  ASSERT_TRUE(applier_->put(iv, next_ci()).is_ok());
  RangeRequest get;
  get.set_key("k");
  auto kv = applier_->range(get)->kvs(0);
  EXPECT_EQ(kv.value(), "v2");
  EXPECT_EQ(kv.lease(), 7);
  etcdserverpb::PutRequest missing;
  missing.set_key("nope");
  missing.set_ignore_lease(true);
  auto e = applier_->put(missing, next_ci());
  ASSERT_FALSE(e.is_ok());
  EXPECT_EQ(e.status().message(), "etcdserver: key not found");
  etcdserverpb::PutRequest bad_lease;
  bad_lease.set_key("x");
  bad_lease.set_lease(99);
  e = applier_->put(bad_lease, next_ci());
  EXPECT_EQ(e.status().code(), Code::kNotFound);
  EXPECT_EQ(e.status().message(), "etcdserver: requested lease not found");
  // The failed requests still advanced the consistent index.
  EXPECT_EQ(backend_->consistent_index().index, Index(index_));
}

TEST_F(KvApplyTest, DeleteWithPrevKv) {
  put("a", "1");
  put("ab", "2");
  put("b", "3");
  etcdserverpb::DeleteRangeRequest d;
  d.set_key("a");
  d.set_range_end("b");
  d.set_prev_kv(true);
  auto r = applier_->delete_range(d, next_ci());
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->deleted(), 2);
  EXPECT_EQ(r->prev_kvs_size(), 2);
  EXPECT_EQ(r->header().revision(), 5);
  // Deleting nothing keeps the revision.
  r = applier_->delete_range(d, next_ci());
  EXPECT_EQ(r->deleted(), 0);
  EXPECT_EQ(r->header().revision(), 5);
}

TEST_F(KvApplyTest, TxnComparesAndOneRevision) {
  put("k", "v");
  etcdserverpb::TxnRequest t;
  auto* c = t.add_compare();
  c->set_key("k");
  c->set_target(Compare::VALUE);
  c->set_result(Compare::EQUAL);
  c->set_value("v");
  auto* c2 = t.add_compare();
  c2->set_key("missing");
  c2->set_target(Compare::VERSION);
  c2->set_result(Compare::EQUAL);
  c2->set_version(0);  // a missing key has version 0
  auto* p1 = t.add_success()->mutable_request_put();
  p1->set_key("x");
  p1->set_value("1");
  auto* p2 = t.add_success()->mutable_request_put();
  p2->set_key("y");
  p2->set_value("2");
  t.add_success()->mutable_request_range()->set_key("x");
  t.add_failure()->mutable_request_delete_range()->set_key("k");
  auto r = applier_->txn(t, next_ci());
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_TRUE(r->succeeded());
  EXPECT_EQ(r->header().revision(), 3);
  ASSERT_EQ(r->responses_size(), 3);
  EXPECT_EQ(r->responses(2).response_range().kvs(0).value(), "1");  // sees its own write
  EXPECT_EQ(r->responses(2).response_range().kvs(0).mod_revision(), 3);
  // A value compare on a missing key is false.
  etcdserverpb::TxnRequest t2;
  auto* c3 = t2.add_compare();
  c3->set_key("missing");
  c3->set_target(Compare::VALUE);
  c3->set_result(Compare::EQUAL);
  c3->set_value("");
  t2.add_failure()->mutable_request_range()->set_key("k");
  r = applier_->txn(t2, next_ci());
  EXPECT_FALSE(r->succeeded());
  EXPECT_EQ(r->header().revision(), 3);
}

TEST_F(KvApplyTest, NestedTxnUsesPreTxnState) {
  put("k", "1");
  etcdserverpb::TxnRequest t;
  auto* p = t.add_success()->mutable_request_put();
  p->set_key("k");
  p->set_value("2");
  auto* inner = t.add_success()->mutable_request_txn();
  auto* c = inner->add_compare();
  c->set_key("k");
  c->set_target(Compare::VALUE);
  c->set_result(Compare::EQUAL);
  c->set_value("1");  // true before the txn, false after its put
  auto* ip = inner->add_success()->mutable_request_put();
  ip->set_key("inner");
  ip->set_value("then");
  auto r = applier_->txn(t, next_ci());
  ASSERT_TRUE(r.is_ok());
  EXPECT_TRUE(r->responses(1).response_txn().succeeded());
  RangeRequest get;
  get.set_key("inner");
  EXPECT_EQ(applier_->range(get)->kvs(0).value(), "then");
}

TEST_F(KvApplyTest, TxnValidation) {
  etcdserverpb::TxnRequest dup;
  for (int i = 0; i < 2; ++i) {
    auto* p = dup.add_success()->mutable_request_put();
    p->set_key("same");
  }
  EXPECT_EQ(check_txn_request(dup, 128).message(),
            "etcdserver: duplicate key given in txn request");
  etcdserverpb::TxnRequest put_and_delete;
  put_and_delete.add_success()->mutable_request_put()->set_key("b");
  auto* d = put_and_delete.add_success()->mutable_request_delete_range();
  d->set_key("a");
  d->set_range_end("c");
  EXPECT_EQ(check_txn_request(put_and_delete, 128), errors::duplicate_key());
  // then/else of a nested txn may put the same key.
  etcdserverpb::TxnRequest branches;
  auto* inner = branches.add_success()->mutable_request_txn();
  inner->add_success()->mutable_request_put()->set_key("k");
  inner->add_failure()->mutable_request_put()->set_key("k");
  EXPECT_TRUE(check_txn_request(branches, 128).is_ok());
  etcdserverpb::TxnRequest many;
  for (int i = 0; i < 3; ++i) many.add_success()->mutable_request_range()->set_key("k");
  EXPECT_EQ(check_txn_request(many, 2).message(), "etcdserver: too many operations in txn request");
  etcdserverpb::TxnRequest empty_op;
  empty_op.add_success();
  EXPECT_EQ(check_txn_request(empty_op, 128), errors::key_not_found());
  RangeRequest no_key;
  EXPECT_EQ(check_range_request(no_key).message(), "etcdserver: key is not provided");
  etcdserverpb::PutRequest both;
  both.set_key("k");
  both.set_value("v");
  both.set_ignore_value(true);
  EXPECT_EQ(check_put_request(both).message(), "etcdserver: value is provided");
}

TEST_F(KvApplyTest, TxnFailingCheckWritesNothing) {
  put("k", "v");
  etcdserverpb::TxnRequest t;
  t.add_success()->mutable_request_put()->set_key("a");
  auto* bad = t.add_success()->mutable_request_put();
  bad->set_key("b");
  bad->set_lease(12345);
  auto r = applier_->txn(t, next_ci());
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status(), errors::lease_not_found());
  EXPECT_EQ(store_->rev().value(), 2);
  RangeRequest future;
  future.set_key("k");
  future.set_revision(10);
  etcdserverpb::TxnRequest t2;
  *t2.add_success()->mutable_request_range() = future;
  EXPECT_EQ(applier_->txn(t2, next_ci()).status(), errors::future_rev());
}

TEST_F(KvApplyTest, CompactionErrors) {
  put("k", "1");
  put("k", "2");
  etcdserverpb::CompactionRequest c;
  c.set_revision(2);
  ASSERT_TRUE(applier_->compact(c, next_ci()).is_ok());
  EXPECT_EQ(applier_->compact(c, next_ci()).status(), errors::compacted());
  c.set_revision(100);
  EXPECT_EQ(applier_->compact(c, next_ci()).status(), errors::future_rev());
  RangeRequest old;
  old.set_key("k");
  old.set_revision(1);
  auto r = applier_->range(old);
  EXPECT_EQ(r.status().code(), Code::kOutOfRange);
  EXPECT_EQ(r.status().message(), "etcdserver: mvcc: required revision has been compacted");
}

}  // namespace
}  // namespace etcd::server
