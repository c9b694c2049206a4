#include "server/db_import.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "storage/backend/backend.h"
#include "storage/bbolt/bbolt.h"

namespace etcd::server {
namespace {

namespace fs = std::filesystem;

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class DbImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("dbimport-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "member" / "snap");
    paths_.data_dir = dir_.string();
    paths_.db = (dir_ / "member" / "snap" / "db").string();
    paths_.wal = (dir_ / "member" / "wal").string();
    paths_.wal_exists = true;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // An etcd db: a few keys, consistent index `ci`.
  void write_bbolt(uint64_t ci) {
    auto w = bbolt::Writer::create(paths_.db);
    ASSERT_TRUE(w.is_ok()) << w.status().to_string();
    ASSERT_TRUE((*w)->begin_bucket("key").is_ok());
    ASSERT_TRUE((*w)->put(backend::revision_key(Revision{2, 0}), "kv2").is_ok());
    ASSERT_TRUE((*w)->put(backend::revision_key(Revision{3, 0}), "kv3").is_ok());
    ASSERT_TRUE((*w)->end_bucket().is_ok());
    ASSERT_TRUE((*w)->begin_bucket("meta").is_ok());
    ASSERT_TRUE((*w)->put(backend::kMetaConsistentIndex, backend::u64_value(ci)).is_ok());
    ASSERT_TRUE((*w)->end_bucket().is_ok());
    ASSERT_TRUE((*w)->begin_bucket("zzz").is_ok());  // not etcd's
    ASSERT_TRUE((*w)->put("a", "b").is_ok());
    ASSERT_TRUE((*w)->end_bucket().is_ok());
    ASSERT_TRUE((*w)->finish().is_ok());
  }

  Status run(bool* imported = nullptr) { return import_etcd_db(paths_, logger_, clock_, imported); }

  fs::path snap(const std::string& name) const { return dir_ / "member" / "snap" / name; }

  fs::path dir_;
  DbImportPaths paths_;
  std::ostringstream out_;
  log::Logger logger_{log::Level::kInfo,
                      {std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)},
                      [] { return int64_t{0}; }};
  env::ManualClock clock_;
};

TEST_F(DbImportTest, ImportsKeepsTheOriginalAndLogs) {
  write_bbolt(7);
  const std::string original = read_all(paths_.db);
  bool imported = false;
  ASSERT_TRUE(run(&imported).is_ok());
  EXPECT_TRUE(imported);
  EXPECT_FALSE(bbolt::is_bbolt_file(paths_.db));
  EXPECT_EQ(read_all(snap("db.etcd-bbolt")), original);
  EXPECT_FALSE(fs::exists(snap("db.import.tmp")));
  EXPECT_FALSE(fs::exists(snap("db.import.tmp-lock")));
  EXPECT_NE(out_.str().find("\"msg\":\"imported etcd bbolt db; the original is kept until the "
                            "operator removes it\""),
            std::string::npos)
      << out_.str();
  EXPECT_NE(out_.str().find("\"keys\":3"), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find("\"original-kept-at\":\"" + paths_.db + ".etcd-bbolt\""),
            std::string::npos);
  EXPECT_NE(out_.str().find("\"bucket\":\"zzz\""), std::string::npos);
  {
    env::RealClock clock;
    auto be = backend::Backend::open(paths_.db, backend::Options{}, clock);
    ASSERT_TRUE(be.is_ok()) << be.status().to_string();
    EXPECT_EQ((*be)->consistent_index().index.value(), 7u);
    EXPECT_EQ((*be)->read_tx().get(backend::Bucket::kKey, backend::revision_key(Revision{3, 0})),
              "kv3");
  }
  // Done: a second run changes nothing.
  out_.str("");
  ASSERT_TRUE(run(&imported).is_ok());
  EXPECT_FALSE(imported);
  EXPECT_EQ(read_all(snap("db.etcd-bbolt")), original);
}

TEST_F(DbImportTest, HalfMadeBboltDirIsRefusedUntouched) {
  write_bbolt(9);
  paths_.wal_exists = false;
  const std::string original = read_all(paths_.db);
  Status s = run();
  ASSERT_EQ(s.code(), Code::kFailedPrecondition) << s.to_string();
  EXPECT_NE(s.message().find("is half-made"), std::string::npos);
  EXPECT_NE(s.message().find("(an etcd bbolt db)"), std::string::npos);
  EXPECT_NE(s.message().find("consistent index 9"), std::string::npos);
  EXPECT_NE(s.message().find("no WAL in " + paths_.wal), std::string::npos);
  EXPECT_EQ(read_all(paths_.db), original);
  EXPECT_FALSE(fs::exists(snap("db.import.tmp")));
  EXPECT_FALSE(fs::exists(snap("db.etcd-bbolt")));
}

TEST_F(DbImportTest, AFreshBboltDbWithoutWalImports) {
  write_bbolt(0);
  paths_.wal_exists = false;
  ASSERT_TRUE(run().is_ok());
  EXPECT_FALSE(bbolt::is_bbolt_file(paths_.db));
}

TEST_F(DbImportTest, LeftoversOfAKilledImportAreRedoneOrRemoved) {
  write_bbolt(5);
  // Killed while writing the tmp file: garbage there.
  std::ofstream(snap("db.import.tmp")) << "half";
  std::ofstream(snap("db.import.tmp-lock")) << "";
  // Killed after the link, before the rename: both names are the original.
  fs::create_hard_link(paths_.db, snap("db.etcd-bbolt"));
  const std::string original = read_all(paths_.db);
  ASSERT_TRUE(run().is_ok());
  EXPECT_FALSE(bbolt::is_bbolt_file(paths_.db));
  EXPECT_EQ(read_all(snap("db.etcd-bbolt")), original);
  EXPECT_FALSE(fs::exists(snap("db.import.tmp")));
  // db is LMDB now; a leftover tmp beside it is removed.
  std::ofstream(snap("db.import.tmp")) << "half";
  ASSERT_TRUE(run().is_ok());
  EXPECT_FALSE(fs::exists(snap("db.import.tmp")));
}

TEST_F(DbImportTest, AnOlderKeptOriginalIsReplaced) {
  std::ofstream(snap("db.etcd-bbolt")) << "an older import's original";
  write_bbolt(4);
  const std::string original = read_all(paths_.db);
  ASSERT_TRUE(run().is_ok());
  EXPECT_EQ(read_all(snap("db.etcd-bbolt")), original);
}

TEST_F(DbImportTest, ADbLockedByARunningEtcdIsRefused) {
  write_bbolt(4);
  int fd = ::open(paths_.db.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  Status s = run();
  ::close(fd);
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.to_string();
  EXPECT_TRUE(bbolt::is_bbolt_file(paths_.db));
  EXPECT_FALSE(fs::exists(snap("db.import.tmp")));
}

TEST_F(DbImportTest, ADamagedBboltDbIsAnErrorAndStaysAsItWas) {
  write_bbolt(4);
  std::string bytes = read_all(paths_.db);
  // Keep the meta pages, damage every page after them.
  for (size_t i = 2 * 4096; i < bytes.size(); ++i) bytes[i] = static_cast<char>(0xAB);
  std::ofstream(paths_.db, std::ios::binary | std::ios::trunc) << bytes;
  Status s = run();
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("(the db is unchanged)"), std::string::npos) << s.to_string();
  EXPECT_EQ(read_all(paths_.db), bytes);
  EXPECT_FALSE(fs::exists(snap("db.import.tmp")));
  EXPECT_FALSE(fs::exists(snap("db.etcd-bbolt")));
}

TEST_F(DbImportTest, NoDbNothingToDo) {
  bool imported = true;
  ASSERT_TRUE(run(&imported).is_ok());
  EXPECT_FALSE(imported);
  EXPECT_FALSE(fs::exists(paths_.db));
}

}  // namespace
}  // namespace etcd::server
