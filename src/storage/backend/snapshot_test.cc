#include "storage/backend/snapshot.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "storage/backend/backend.h"
#include "storage/backend/test_util.h"
#include "storage/bbolt/bbolt.h"

namespace etcd::backend {
namespace {

using testing::manual_options;
using testing::must_open;
using testing::TempDir;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = must_open(dir_.path() + "/src/member/snap/db", manual_options(), clock_);
    BatchTx tx = src_->batch_tx();
    for (int i = 0; i < 300; ++i) {
      ASSERT_TRUE(tx.put(Bucket::kKey, "key" + std::to_string(i), std::string(100, 'a')).is_ok());
    }
    ASSERT_TRUE(tx.put(Bucket::kMembers, member_key(MemberId(0xabc)), "{}").is_ok());
    tx.set_consistent_index({Index(77), Term(3)});
  }

  // Streams a snapshot of src_ (whose last writes are still buffered) into a file.
  std::string save_snapshot() {
    auto reader = src_->snapshot();
    EXPECT_TRUE(reader.is_ok()) << reader.status().to_string();
    std::string path = dir_.path() + "/snapshot.db";
    EXPECT_TRUE(save_snapshot_file(**reader, path).is_ok());
    return path;
  }

  TempDir dir_;
  env::ManualClock clock_;
  std::unique_ptr<Backend> src_;
};

TEST_F(SnapshotTest, StreamIsTheImageThenItsSha256InChunks) {
  auto reader = src_->snapshot();
  ASSERT_TRUE(reader.is_ok()) << reader.status().to_string();
  const uint64_t size = (*reader)->size();
  EXPECT_GT(size, 0u);
  EXPECT_EQ(size % 4096, 0u);  // whole pages, so the trailer test works
  EXPECT_EQ((*reader)->remaining(), size);
  std::vector<std::string> chunks;
  ASSERT_TRUE((*reader)
                  ->write_to(
                      [&](std::string_view c) {
                        chunks.emplace_back(c);
                        return Status::ok();
                      },
                      4096)
                  .is_ok());
  ASSERT_GE(chunks.size(), 2u);
  std::string image;
  for (size_t i = 0; i + 1 < chunks.size(); ++i) {
    EXPECT_LE(chunks[i].size(), 4096u);
    image += chunks[i];
  }
  EXPECT_EQ(image.size(), size);
  EXPECT_EQ((*reader)->remaining(), 0u);
  const Sha256 digest = sha256_of(image);
  EXPECT_EQ(chunks.back(), std::string(reinterpret_cast<const char*>(digest.data()), 32));
  EXPECT_EQ((*reader)->sha256(), digest);
  EXPECT_TRUE(has_sha256_trailer(size + kSha256Size));
  EXPECT_FALSE(has_sha256_trailer(size));
}

TEST_F(SnapshotTest, RoundTripThroughAFile) {
  const std::string path = save_snapshot();
  EXPECT_TRUE(verify_snapshot_file(path).is_ok());
  const std::string restored = dir_.path() + "/restored/member/snap/db";
  ASSERT_TRUE(install_snapshot(path, restored).is_ok());
  struct stat st;
  ASSERT_EQ(::stat(restored.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // The snapshot is a bbolt image; the installed db is LMDB, imported.
  EXPECT_TRUE(bbolt::is_bbolt_file(path));
  EXPECT_FALSE(bbolt::is_bbolt_file(restored));

  auto dst = must_open(restored, manual_options(), clock_);
  EXPECT_EQ(dst->hash(), src_->hash());
  EXPECT_EQ(dst->consistent_index(), (ConsistentIndex{Index(77), Term(3)}));
  EXPECT_EQ(dst->read_tx().range(Bucket::kKey, "", "").size(), 300u);
  EXPECT_EQ(dst->read_tx().get(Bucket::kMembers, "abc"), "{}");
}

TEST_F(SnapshotTest, AnLmdbImageInstallsAsItIs) {
  // What this server streamed before its snapshots were bbolt.
  auto reader = src_->copy_lmdb();
  ASSERT_TRUE(reader.is_ok()) << reader.status().to_string();
  const std::string path = dir_.path() + "/lmdb-snapshot.db";
  ASSERT_TRUE(save_snapshot_file(**reader, path).is_ok());
  EXPECT_FALSE(bbolt::is_bbolt_file(path));
  const std::string restored = dir_.path() + "/restored/member/snap/db";
  ASSERT_TRUE(install_snapshot(path, restored).is_ok());
  struct stat st;
  ASSERT_EQ(::stat(restored.c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size) + kSha256Size, read_file(path).size());
  auto dst = must_open(restored, manual_options(), clock_);
  EXPECT_EQ(dst->hash(), src_->hash());
  EXPECT_EQ(dst->consistent_index(), (ConsistentIndex{Index(77), Term(3)}));
}

TEST_F(SnapshotTest, CorruptedSnapshotIsRejected) {
  const std::string path = save_snapshot();
  std::string data = read_file(path);
  data[data.size() / 2] ^= 0x01;
  write_file(path, data);
  Status v = verify_snapshot_file(path);
  EXPECT_EQ(v.code(), Code::kDataLoss);
  EXPECT_EQ(v.message().rfind("expected sha256 [", 0), 0u) << v.message();
  EXPECT_NE(v.message().find("], got ["), std::string::npos);
  const std::string restored = dir_.path() + "/restored/db";
  Status s = install_snapshot(path, restored);
  EXPECT_EQ(s.code(), Code::kDataLoss);
  struct stat st;
  EXPECT_NE(::stat(restored.c_str(), &st), 0);  // nothing installed
  EXPECT_NE(::stat((restored + ".install.tmp").c_str(), &st), 0);
}

TEST_F(SnapshotTest, MissingChecksumNeedsSkipHashCheck) {
  const std::string path = save_snapshot();
  std::string data = read_file(path);
  data.resize(data.size() - kSha256Size);
  write_file(path, data);
  EXPECT_EQ(verify_snapshot_file(path).message(),
            "sha256 checksum not found [bytes: " + std::to_string(data.size()) + "]");
  const std::string restored = dir_.path() + "/restored/db";
  EXPECT_EQ(install_snapshot(path, restored).message(),
            "snapshot missing hash but --skip-hash-check=false");
  ASSERT_TRUE(install_snapshot(path, restored, /*skip_hash_check=*/true).is_ok());
  auto dst = must_open(restored, manual_options(), clock_);
  EXPECT_EQ(dst->hash(), src_->hash());
}

TEST_F(SnapshotTest, WritesAfterTheSnapshotAreNotInIt) {
  auto reader = src_->snapshot();
  ASSERT_TRUE(reader.is_ok());
  {
    BatchTx tx = src_->batch_tx();
    ASSERT_TRUE(tx.put(Bucket::kKey, "late", "x").is_ok());
  }
  src_->force_commit();
  const std::string path = dir_.path() + "/snap.db";
  ASSERT_TRUE(save_snapshot_file(**reader, path).is_ok());
  const std::string restored = dir_.path() + "/r/db";
  ASSERT_TRUE(install_snapshot(path, restored).is_ok());
  auto dst = must_open(restored, manual_options(), clock_);
  EXPECT_FALSE(dst->read_tx().get(Bucket::kKey, "late").has_value());
  EXPECT_EQ(dst->read_tx().range(Bucket::kKey, "", "").size(), 300u);
}

}  // namespace
}  // namespace etcd::backend
