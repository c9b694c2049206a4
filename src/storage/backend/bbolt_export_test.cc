#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "storage/backend/bbolt_convert.h"
#include "storage/backend/fs_util.h"
#include "storage/backend/snapshot.h"
#include "storage/backend/test_util.h"
#include "storage/bbolt/bbolt.h"

namespace etcd::backend {
namespace {

using testing::manual_options;
using testing::must_open;
using testing::TempDir;

using Content = std::map<std::string, std::map<std::string, std::string>>;

// Everything a Backend holds, bucket name -> key -> value.
Content content_of(Backend& b) {
  Content out;
  ReadTx tx = b.read_tx();
  for (Bucket bucket : kAllBuckets) {
    auto& m = out[std::string(bucket_name(bucket))];
    tx.for_each(bucket, "", "", [&](std::string_view k, std::string_view v) {
      m.emplace(k, v);
      return true;
    });
  }
  return out;
}

// Everything a bbolt file holds, and its top-level bucket names in order.
Content content_of(bbolt::Reader& r, std::vector<std::string>* names = nullptr) {
  Content out;
  auto got = r.bucket_names();
  EXPECT_TRUE(got.is_ok()) << got.status().to_string();
  if (!got.is_ok()) return out;
  if (names != nullptr) *names = *got;
  for (const std::string& name : *got) {
    auto& m = out[name];
    Status st = r.for_each({name}, [&](const bbolt::Entry& e) {
      EXPECT_FALSE(e.is_bucket) << name << "/" << e.key;
      m.emplace(e.key, e.value);
      return Status::ok();
    });
    EXPECT_TRUE(st.is_ok()) << st.to_string();
  }
  return out;
}

class BboltExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    be_ = must_open(dir_.path() + "/member/snap/db", manual_options(), clock_);
    // Enough keys for multi-level trees, values of every size class (empty,
    // small, several pages), every bucket touched but two left empty.
    {
      BatchTx tx = be_->batch_tx();
      for (int i = 0; i < 5000; ++i) {
        ASSERT_TRUE(
            tx.put(Bucket::kKey, revision_key(Revision{i + 2, 0}),
                   std::string(static_cast<size_t>(i % 300), static_cast<char>('a' + i % 26)))
                .is_ok());
      }
      ASSERT_TRUE(
          tx.put(Bucket::kKey, revision_key(Revision{6000, 0}), std::string(20000, 'L')).is_ok());
      ASSERT_TRUE(tx.put(Bucket::kLease, lease_key(LeaseId(7)), "lease").is_ok());
      ASSERT_TRUE(tx.put(Bucket::kAuth, kAuthEnabled, std::string(1, '\0')).is_ok());
      ASSERT_TRUE(tx.put(Bucket::kAuthUsers, "root", "u").is_ok());
      ASSERT_TRUE(tx.put(Bucket::kAuthRoles, "root", "r").is_ok());
      ASSERT_TRUE(tx.put(Bucket::kMembers, member_key(MemberId(0xabc)), "{}").is_ok());
      ASSERT_TRUE(tx.put(Bucket::kCluster, kClusterVersion, "3.5.0").is_ok());
      ASSERT_TRUE(tx.put(Bucket::kAlarm, "alarm", "").is_ok());
      tx.set_consistent_index({Index(77), Term(3)});
    }
    be_->force_commit();
    // Some writes stay buffered (published, not committed): they are part
    // of what a ReadTx sees, so of the export too.
    {
      BatchTx tx = be_->batch_tx();
      ASSERT_TRUE(tx.put(Bucket::kKey, revision_key(Revision{7000, 0}), "buffered").is_ok());
      tx.del(Bucket::kKey, revision_key(Revision{2, 0}));
      tx.set_consistent_index({Index(78), Term(3)});
    }
  }

  TempDir dir_;
  env::ManualClock clock_;
  std::unique_ptr<Backend> be_;
};

TEST_F(BboltExportTest, ExportReadsBackAsTheBackendContent) {
  const std::string path = dir_.path() + "/export.db";
  auto w = bbolt::Writer::create(path, {});
  ASSERT_TRUE(w.is_ok()) << w.status().to_string();
  Result<uint64_t> size = [&] {
    ReadTx tx = be_->read_tx();
    return export_bbolt(tx, **w);
  }();
  ASSERT_TRUE(size.is_ok()) << size.status().to_string();
  EXPECT_EQ(*size % bbolt::kDefaultPageSize, 0u);
  EXPECT_EQ(*size, static_cast<uint64_t>(std::filesystem::file_size(path)));
  EXPECT_TRUE(bbolt::is_bbolt_file(path));

  auto r = bbolt::Reader::open(path);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_TRUE((*r)->check().is_ok());
  std::vector<std::string> names;
  const Content got = content_of(**r, &names);
  // Every bucket, the empty ones (membersRemoved) too, in byte order.
  std::vector<std::string> want_names;
  for (Bucket b : buckets_in_name_order()) want_names.emplace_back(bucket_name(b));
  EXPECT_EQ(names, want_names);
  const Content want = content_of(*be_);
  EXPECT_EQ(got, want);
  EXPECT_EQ(got.at("key").size(), 5001u);
  EXPECT_EQ(got.at("key").count(revision_key(Revision{7000, 0})), 1u);
  EXPECT_EQ(got.at("meta").at(std::string(kMetaConsistentIndex)), u64_value(78));
}

TEST_F(BboltExportTest, SnapshotStreamsABboltImageAndConvertsBack) {
  auto reader = be_->snapshot();
  ASSERT_TRUE(reader.is_ok()) << reader.status().to_string();
  const std::string file = dir_.path() + "/snap.db";
  ASSERT_TRUE(save_snapshot_file(**reader, file).is_ok());
  EXPECT_TRUE(verify_snapshot_file(file).is_ok());
  EXPECT_TRUE(bbolt::is_bbolt_file(file));
  // A write after the snapshot began is not in it.
  {
    BatchTx tx = be_->batch_tx();
    ASSERT_TRUE(tx.put(Bucket::kKey, "late", "x").is_ok());
  }
  auto r = bbolt::Reader::open(file);  // the trailing digest is ignored
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  Content got = content_of(**r);
  EXPECT_EQ(got.at("key").count("late"), 0u);

  // install_snapshot imports it into an LMDB db with the same content.
  const std::string restored = dir_.path() + "/r/member/snap/db";
  ASSERT_TRUE(install_snapshot(file, restored).is_ok());
  EXPECT_FALSE(bbolt::is_bbolt_file(restored));
  EXPECT_NE(::access((restored + ".import.tmp").c_str(), F_OK), 0);
  auto dst = must_open(restored, manual_options(), clock_);
  EXPECT_EQ(content_of(*dst), got);
  EXPECT_EQ(dst->consistent_index(), (ConsistentIndex{Index(78), Term(3)}));
}

TEST_F(BboltExportTest, ReplaceWithAcceptsBboltAndLmdbImages) {
  // A bbolt image (what a leader sends) and an LMDB one (an older member
  // of ours) both replace another backend's content.
  const Content want = content_of(*be_);
  const std::string bolt = dir_.path() + "/other/0000000000000010.snap.db";
  {
    auto reader = be_->snapshot();
    ASSERT_TRUE(reader.is_ok());
    ASSERT_TRUE(fs::make_dirs(dir_.path() + "/other").is_ok());
    std::string image;
    std::vector<char> buf(1 << 16);
    for (;;) {
      auto n = (*reader)->read(buf.data(), buf.size());
      ASSERT_TRUE(n.is_ok());
      if (*n == 0) break;
      image.append(buf.data(), *n);
    }
    std::ofstream(bolt, std::ios::binary) << image;
  }
  auto other = must_open(dir_.path() + "/other/db", manual_options(), clock_);
  {
    BatchTx tx = other->batch_tx();
    ASSERT_TRUE(tx.put(Bucket::kKey, "gone", "x").is_ok());
  }
  ASSERT_TRUE(other->replace_with(bolt).is_ok());
  EXPECT_EQ(content_of(*other), want);
  EXPECT_EQ(other->consistent_index(), (ConsistentIndex{Index(78), Term(3)}));
  EXPECT_NE(::access(bolt.c_str(), F_OK), 0);
  EXPECT_NE(::access((bolt + ".lmdb").c_str(), F_OK), 0);
  EXPECT_NE(::access((bolt + ".lmdb-lock").c_str(), F_OK), 0);

  // An LMDB image (what an older member of ours sends) replaces it too.
  {
    BatchTx tx = other->batch_tx();
    ASSERT_TRUE(tx.put(Bucket::kKey, "gone", "x").is_ok());
  }
  {
    auto reader = be_->copy_lmdb();
    ASSERT_TRUE(reader.is_ok());
    ASSERT_TRUE(save_snapshot_file(**reader, bolt + ".tmp").is_ok());
    std::filesystem::resize_file(bolt + ".tmp", std::filesystem::file_size(bolt + ".tmp") - 32);
    std::filesystem::rename(bolt + ".tmp", bolt);
  }
  ASSERT_FALSE(bbolt::is_bbolt_file(bolt));
  ASSERT_TRUE(other->replace_with(bolt).is_ok());
  EXPECT_EQ(content_of(*other), want);
  EXPECT_NE(::access(bolt.c_str(), F_OK), 0);

  // A corrupt bbolt image (meta pages without a valid checksum) and a file
  // of neither format are refused; the backend stays as it was.
  std::string bad(8192, '\0');
  bad[8] = 0x04;                           // page flags: meta
  bad.replace(16, 4, "\xED\xDA\x0C\xED");  // magic, little-endian
  bad[20] = 2;                             // version
  std::ofstream(bolt, std::ios::binary) << bad;
  ASSERT_TRUE(bbolt::is_bbolt_file(bolt));
  EXPECT_FALSE(other->replace_with(bolt).is_ok());
  EXPECT_EQ(content_of(*other), want);
  std::ofstream(bolt, std::ios::binary) << std::string(8192, 'x');
  Status unknown = other->replace_with(bolt);
  EXPECT_EQ(unknown.code(), Code::kInvalidArgument) << unknown.to_string();
  EXPECT_EQ(content_of(*other), want);
  other->close();
}

}  // namespace
}  // namespace etcd::backend
