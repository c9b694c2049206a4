#include "etcdutl/migrate.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "env/clock.h"
#include "storage/backend/backend.h"
#include "storage/bbolt/bbolt.h"

namespace etcd::utl {
namespace {

namespace fs = std::filesystem;

class MigrateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("migrate-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    db_ = (dir_ / "member" / "snap" / "db").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<backend::Backend> open_db() {
    auto b = backend::Backend::open(db_, backend::Options{}, clock_);
    EXPECT_TRUE(b.is_ok()) << b.status().to_string();
    return b.is_ok() ? std::move(b).value() : nullptr;
  }

  void fill() {
    auto b = open_db();
    {
      backend::BatchTx tx = b->batch_tx();
      ASSERT_TRUE(
          tx.put(backend::Bucket::kKey, backend::revision_key(Revision{2, 0}), "kv").is_ok());
      tx.set_consistent_index({Index(11), Term(2)});
    }
    b->close();
  }

  fs::path dir_;
  std::string db_;
  env::RealClock clock_;
};

TEST_F(MigrateTest, WritesABboltDbAndKeepsTheLmdbFile) {
  fill();
  auto r = migrate_to_etcd(dir_.string());
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_FALSE(r->already);
  EXPECT_GT(r->bytes, 0u);
  EXPECT_EQ(r->backup, db_ + ".lmdb-backup");
  EXPECT_TRUE(bbolt::is_bbolt_file(db_));
  EXPECT_FALSE(fs::exists(db_ + "-lock"));
  EXPECT_FALSE(fs::exists(db_ + ".bbolt.tmp"));
  auto reader = bbolt::Reader::open(db_);
  ASSERT_TRUE(reader.is_ok()) << reader.status().to_string();
  EXPECT_TRUE((*reader)->check().is_ok());
  std::string ci;
  ASSERT_TRUE((*reader)
                  ->for_each({"meta"},
                             [&](const bbolt::Entry& e) {
                               if (e.key == backend::kMetaConsistentIndex) ci = e.value;
                               return Status::ok();
                             })
                  .is_ok());
  EXPECT_EQ(ci, backend::u64_value(11));
  // The kept LMDB file opens as it was.
  fs::rename(r->backup, db_ + ".check");
  auto b = backend::Backend::open(db_ + ".check", backend::Options{}, clock_);
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  EXPECT_EQ((*b)->consistent_index().index.value(), 11u);
  (*b)->close();
  // A rerun finds it done.
  r = migrate_to_etcd(dir_.string());
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_TRUE(r->already);
}

TEST_F(MigrateTest, RefusesARunningMemberAndChangesNothing) {
  fill();
  auto running = open_db();
  auto r = migrate_to_etcd(dir_.string());
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("a member is running on this data dir"), std::string::npos)
      << r.status().message();
  running->close();
  EXPECT_FALSE(bbolt::is_bbolt_file(db_));
  EXPECT_FALSE(fs::exists(db_ + ".bbolt.tmp"));
  EXPECT_FALSE(fs::exists(db_ + ".lmdb-backup"));
}

TEST_F(MigrateTest, NoDbIsAnError) {
  auto r = migrate_to_etcd(dir_.string());
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_FALSE(fs::exists(db_));
}

}  // namespace
}  // namespace etcd::utl
