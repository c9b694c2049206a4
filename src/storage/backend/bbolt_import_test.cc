// import_bbolt: bbolt files made with bbolt::Writer, imported into a fresh
// backend.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "storage/backend/bbolt_convert.h"
#include "storage/backend/test_util.h"
#include "storage/bbolt/bbolt.h"

namespace etcd::backend {
namespace {

using testing::manual_options;
using testing::must_open;
using testing::TempDir;

// bucket name -> key -> value; std::map keeps both in byte order, as the
// writer wants them.
using Content = std::map<std::string, std::map<std::string, std::string>>;

void write_bbolt(const std::string& path, const Content& content) {
  auto w = bbolt::Writer::create(path);
  ASSERT_TRUE(w.is_ok()) << w.status().to_string();
  for (const auto& [bucket, kvs] : content) {
    ASSERT_TRUE((*w)->begin_bucket(bucket).is_ok());
    for (const auto& [k, v] : kvs) ASSERT_TRUE((*w)->put(k, v).is_ok()) << bucket << "/" << k;
    ASSERT_TRUE((*w)->end_bucket().is_ok());
  }
  auto size = (*w)->finish();
  ASSERT_TRUE(size.is_ok()) << size.status().to_string();
}

std::string rev_value(int i) { return "value-of-revision-" + std::to_string(i); }

// What etcd 3.5 leaves in a small db: every bucket, meta with a term.
Content etcd35_content() {
  Content c;
  for (int i = 1; i <= 20; ++i) c["key"][revision_key(Revision{i, 0})] = rev_value(i);
  c["key"][revision_key(Revision{21, 0}, /*tombstone=*/true)] = "tomb";
  c["meta"][std::string(kMetaConsistentIndex)] = u64_value(42);
  c["meta"][std::string(kMetaTerm)] = u64_value(3);
  c["meta"][std::string(kMetaFinishedCompactRev)] = revision_key(Revision{5, 0});
  c["meta"][std::string(kMetaScheduledCompactRev)] = revision_key(Revision{5, 0});
  c["meta"][std::string(kMetaConfState)] = R"({"voters":[1]})";
  c["lease"][lease_key(LeaseId(7))] = "lease-7";
  c["auth"][std::string(kAuthEnabled)] = std::string(1, '\1');
  c["auth"][std::string(kAuthRevision)] = u64_value(9);
  c["authUsers"]["root"] = "user-root";
  c["authRoles"]["root"] = "role-root";
  c["members"]["8e9e05c52164694d"] = R"({"id":1})";
  c["members_removed"]["1234"] = "removed";
  c["cluster"][std::string(kClusterVersion)] = "3.5.0";
  c["alarm"]["\x08\x01\x10\x01"] = "";
  return c;
}

Content dump(Backend& b) {
  Content c;
  ReadTx r = b.read_tx();
  for (Bucket bucket : kAllBuckets) {
    for (const KeyValue& kv : r.range(bucket, "", "")) {
      c[std::string(bucket_name(bucket))][kv.key] = kv.value;
    }
  }
  return c;
}

class BboltImportTest : public ::testing::Test {
 protected:
  std::string bolt_path() const { return dir_.path() + "/etcd.db"; }
  std::string db_path() const { return dir_.path() + "/member/snap/db"; }

  Result<ImportStats> import(Backend& dest) {
    auto r = bbolt::Reader::open(bolt_path());
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    if (!r.is_ok()) return r.status();
    return import_bbolt(**r, dest);
  }

  TempDir dir_;
  env::ManualClock clock_;
};

TEST_F(BboltImportTest, CopiesEveryBucketAndTheConsistentIndex) {
  Content src = etcd35_content();
  src["unknownBucket"]["x"] = "y";  // not etcd's: skipped and reported
  write_bbolt(bolt_path(), src);
  auto b = must_open(db_path(), manual_options(), clock_);
  auto stats = import(*b);
  ASSERT_TRUE(stats.is_ok()) << stats.status().to_string();
  Content want = etcd35_content();
  EXPECT_EQ(dump(*b), want);
  uint64_t keys = 0;
  uint64_t bytes = 0;
  for (const auto& [bucket, kvs] : want) {
    for (const auto& [k, v] : kvs) {
      ++keys;
      bytes += k.size() + v.size();
    }
  }
  EXPECT_EQ(stats->keys, keys);
  EXPECT_EQ(stats->bytes, bytes);
  EXPECT_EQ(stats->skipped_buckets, std::vector<std::string>{"unknownBucket"});
  EXPECT_EQ(b->consistent_index(), (ConsistentIndex{Index(42), Term(3)}));
  // Committed and synced: a crash keeps it all.
  EXPECT_EQ(b->committed_consistent_index(), (ConsistentIndex{Index(42), Term(3)}));
  b->close_without_commit_for_testing();
  b = must_open(db_path(), manual_options(), clock_);
  EXPECT_EQ(dump(*b), want);
  EXPECT_EQ(b->consistent_index(), (ConsistentIndex{Index(42), Term(3)}));
}

TEST_F(BboltImportTest, Etcd34DbWithoutTermKeepsItsConsistentIndex) {
  Content src = etcd35_content();
  src["meta"].erase(std::string(kMetaTerm));
  src["meta"].erase(std::string(kMetaConfState));
  write_bbolt(bolt_path(), src);
  auto b = must_open(db_path(), manual_options(), clock_);
  ASSERT_TRUE(import(*b).is_ok());
  // The index loads; no term key appears (etcd 3.4 has none).
  EXPECT_EQ(b->consistent_index(), (ConsistentIndex{Index(42), Term(0)}));
  EXPECT_EQ(b->read_tx().get(Bucket::kMeta, kMetaTerm), std::nullopt);
  EXPECT_EQ(dump(*b), src);
  b->close();
  b = must_open(db_path(), manual_options(), clock_);
  EXPECT_EQ(b->consistent_index(), (ConsistentIndex{Index(42), Term(0)}));
  EXPECT_EQ(dump(*b), src);
}

TEST_F(BboltImportTest, ManyKeysGoInBoundedBatches) {
  Content src;
  const int n = 25000;
  for (int i = 1; i <= n; ++i) src["key"][revision_key(Revision{i, 0})] = rev_value(i);
  src["meta"][std::string(kMetaConsistentIndex)] = u64_value(n);
  write_bbolt(bolt_path(), src);
  auto b = must_open(db_path(), manual_options(), clock_);
  auto stats = import(*b);
  ASSERT_TRUE(stats.is_ok()) << stats.status().to_string();
  EXPECT_EQ(stats->keys, uint64_t{n} + 1);
  // 10000 keys a scope: at least three LMDB commits, nothing left buffered.
  EXPECT_GE(b->stats().commits, 3u);
  EXPECT_EQ(b->stats().buffered_ops, 0u);
  EXPECT_EQ(dump(*b), src);
}

TEST_F(BboltImportTest, AKeyLmdbCannotHoldIsAClearError) {
  Content src = etcd35_content();
  src["authUsers"][std::string(600, 'u')] = "user";  // bbolt allows 32 KiB keys
  write_bbolt(bolt_path(), src);
  auto b = must_open(db_path(), manual_options(), clock_);
  auto stats = import(*b);
  ASSERT_FALSE(stats.is_ok());
  EXPECT_EQ(stats.status().code(), Code::kInvalidArgument);
  EXPECT_NE(stats.status().message().find("bucket \"authUsers\" key \"uuuu"), std::string::npos)
      << stats.status().message();
  EXPECT_NE(stats.status().message().find("600 bytes"), std::string::npos);
}

TEST_F(BboltImportTest, RefusesANonEmptyDestination) {
  write_bbolt(bolt_path(), etcd35_content());
  auto b = must_open(db_path(), manual_options(), clock_);
  {
    BatchTx tx = b->batch_tx();
    ASSERT_TRUE(tx.put(Bucket::kLease, "x", "y").is_ok());
  }
  auto stats = import(*b);
  ASSERT_FALSE(stats.is_ok());
  EXPECT_EQ(stats.status().code(), Code::kFailedPrecondition);
}

TEST_F(BboltImportTest, AnEmptyDbImportsAsEmpty) {
  write_bbolt(bolt_path(), {});
  auto b = must_open(db_path(), manual_options(), clock_);
  auto stats = import(*b);
  ASSERT_TRUE(stats.is_ok()) << stats.status().to_string();
  EXPECT_EQ(stats->keys, 0u);
  EXPECT_EQ(b->consistent_index(), (ConsistentIndex{Index(0), Term(0)}));
}

}  // namespace
}  // namespace etcd::backend
