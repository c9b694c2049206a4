#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "env/file_system.h"
#include "env/posix_file_system.h"
#include "env/sim_file_system.h"

namespace etcd::env {
namespace {

std::string contents(FileSystem& fs, const std::string& path) {
  auto r = read_file(fs, path);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? *r : std::string();
}

// The same behaviour from both implementations.
class FileSystemTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) {
      fs_ = std::make_unique<SimFileSystem>();
      root_ = "/data";
    } else {
      fs_ = std::make_unique<PosixFileSystem>();
      std::string tmpl = ::testing::TempDir() + "fs_test_XXXXXX";
      ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
      tmp_ = tmpl;
      root_ = tmp_ + "/data";
    }
    ASSERT_TRUE(mkdir_all(*fs_, root_).is_ok());
  }
  void TearDown() override {
    if (!tmp_.empty()) std::filesystem::remove_all(tmp_);
  }

  std::unique_ptr<FileSystem> fs_;
  std::string tmp_;
  std::string root_;
};

TEST_P(FileSystemTest, WriteReadSizeTruncateAllocate) {
  std::string p = join_path(root_, "f");
  auto f = fs_->open(p, OpenMode::kCreateNew);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  ASSERT_TRUE((*f)->append("hello").is_ok());
  ASSERT_TRUE((*f)->write_at(10, "world").is_ok());
  EXPECT_EQ(*(*f)->size(), 15u);
  EXPECT_EQ(contents(*fs_, p), std::string("hello\0\0\0\0\0world", 15));
  ASSERT_TRUE((*f)->sync().is_ok());
  ASSERT_TRUE((*f)->allocate(4096).is_ok());
  EXPECT_EQ(*(*f)->size(), 4096u);
  ASSERT_TRUE((*f)->allocate(100).is_ok());  // never shrinks
  EXPECT_EQ(*(*f)->size(), 4096u);
  ASSERT_TRUE((*f)->truncate(3).is_ok());
  EXPECT_EQ(contents(*fs_, p), "hel");
  char buf[8];
  auto n = (*f)->read_at(1, buf, sizeof(buf));
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(std::string(buf, *n), "el");

  EXPECT_EQ(fs_->open(p, OpenMode::kCreateNew).status().code(), Code::kAlreadyExists);
  EXPECT_EQ(fs_->open(join_path(root_, "missing"), OpenMode::kReadOnly).status().code(),
            Code::kNotFound);
  auto t = fs_->open(p, OpenMode::kCreateTruncate);
  ASSERT_TRUE(t.is_ok());
  EXPECT_EQ(*(*t)->size(), 0u);
}

TEST_P(FileSystemTest, DirectoryOperations) {
  std::string a = join_path(root_, "a");
  std::string b = join_path(root_, "b");
  ASSERT_TRUE(fs_->open(a, OpenMode::kCreate).is_ok());
  ASSERT_TRUE(fs_->rename(a, b).is_ok());
  ASSERT_TRUE(fs_->sync_dir(root_).is_ok());
  EXPECT_FALSE(exists(*fs_, a));
  EXPECT_TRUE(exists(*fs_, b));
  ASSERT_TRUE(fs_->mkdir(join_path(root_, "sub"), 0700).is_ok());
  EXPECT_EQ(fs_->mkdir(join_path(root_, "sub"), 0700).code(), Code::kAlreadyExists);
  auto names = fs_->list_dir(root_);
  ASSERT_TRUE(names.is_ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"b", "sub"}));
  ASSERT_TRUE(fs_->chmod(b, 0644).is_ok());
  EXPECT_EQ(fs_->stat(b)->mode, 0644u);
  EXPECT_EQ(fs_->stat(join_path(root_, "sub"))->mode, 0700u);
  EXPECT_TRUE(fs_->stat(join_path(root_, "sub"))->is_dir);
  ASSERT_TRUE(fs_->remove(b).is_ok());
  EXPECT_EQ(fs_->stat(b).status().code(), Code::kNotFound);
  EXPECT_EQ(fs_->remove(b).code(), Code::kNotFound);
}

TEST_P(FileSystemTest, MkdirAllCreatesParentsWithPrivateMode) {
  std::string deep = join_path(root_, "x/y/z");
  ASSERT_TRUE(mkdir_all(*fs_, deep).is_ok());
  EXPECT_TRUE(fs_->stat(deep)->is_dir);
  EXPECT_EQ(fs_->stat(deep)->mode, kPrivateDirMode);
  EXPECT_EQ(fs_->stat(join_path(root_, "x"))->mode, kPrivateDirMode);
  EXPECT_TRUE(mkdir_all(*fs_, deep).is_ok());
}

INSTANTIATE_TEST_SUITE_P(Both, FileSystemTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Sim" : "Posix"; });

TEST(PathTest, Helpers) {
  EXPECT_EQ(join_path("a/b", "c"), "a/b/c");
  EXPECT_EQ(join_path("a/b/", "c"), "a/b/c");
  EXPECT_EQ(parent_dir("a/b/c"), "a/b");
  EXPECT_EQ(parent_dir("/c"), "/");
  EXPECT_EQ(parent_dir("c"), ".");
  EXPECT_EQ(base_name("a/b/c"), "c");
  EXPECT_EQ(base_name("c"), "c");
}

// --- SimFileSystem's crash model --------------------------------------------

TEST(SimFileSystemTest, SyncedDataAndNamesSurviveEveryCrash) {
  for (uint64_t seed = 0; seed < 50; ++seed) {
    SimFileSystem fs;
    ASSERT_TRUE(mkdir_all(fs, "/d").is_ok());
    auto f = fs.open("/d/f", OpenMode::kCreateNew);
    ASSERT_TRUE((*f)->append("durable").is_ok());
    ASSERT_TRUE((*f)->sync().is_ok());
    ASSERT_TRUE(fs.sync_dir("/d").is_ok());
    ASSERT_TRUE((*f)->append(std::string(2000, 'x')).is_ok());
    Rng rng(seed);
    fs.crash(rng);
    std::string got = contents(fs, "/d/f");
    ASSERT_GE(got.size(), 7u);
    EXPECT_EQ(got.substr(0, 7), "durable");
    // Whatever of the un-synced write survived is the written bytes or zeros.
    for (size_t i = 7; i < got.size(); ++i) ASSERT_TRUE(got[i] == 'x' || got[i] == '\0');
    EXPECT_EQ((*f)->size().status().code(), Code::kFailedPrecondition);  // stale handle
  }
}

TEST(SimFileSystemTest, UnsyncedWritesCanBeLostReorderedOrTorn) {
  bool lost_first_kept_second = false;
  bool torn = false;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    SimFileSystem fs;
    auto f = fs.open("/f", OpenMode::kCreateNew);
    ASSERT_TRUE(fs.sync_dir("/").is_ok());
    ASSERT_TRUE((*f)->write_at(0, std::string(1024, 'a')).is_ok());
    ASSERT_TRUE((*f)->write_at(1024, std::string(1024, 'b')).is_ok());
    Rng rng(seed);
    fs.crash(rng);
    std::string got = contents(fs, "/f");
    got.resize(2048, '\0');
    if (got[0] == '\0' && got[1024] == 'b') lost_first_kept_second = true;
    if (got[0] != got[512]) torn = true;
  }
  EXPECT_TRUE(lost_first_kept_second);
  EXPECT_TRUE(torn);
}

TEST(SimFileSystemTest, NamesNeedDirectorySync) {
  bool lost = false;
  bool kept = false;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    SimFileSystem fs;
    auto f = fs.open("/f", OpenMode::kCreateNew);
    ASSERT_TRUE((*f)->append("data").is_ok());
    ASSERT_TRUE((*f)->sync().is_ok());  // data synced, name not
    Rng rng(seed);
    fs.crash(rng);
    (exists(fs, "/f") ? kept : lost) = true;
  }
  EXPECT_TRUE(lost);
  EXPECT_TRUE(kept);

  // A rename is atomic: after a crash exactly one of the names exists.
  for (uint64_t seed = 0; seed < 50; ++seed) {
    SimFileSystem fs;
    auto f = fs.open("/tmp", OpenMode::kCreateNew);
    ASSERT_TRUE((*f)->append("x").is_ok());
    ASSERT_TRUE((*f)->sync().is_ok());
    ASSERT_TRUE(fs.sync_dir("/").is_ok());
    ASSERT_TRUE(fs.rename("/tmp", "/final").is_ok());
    Rng rng(seed);
    fs.crash(rng);
    EXPECT_NE(exists(fs, "/tmp"), exists(fs, "/final"));
  }
}

TEST(SimFileSystemTest, CrashPointFreezesTheDurableState) {
  SimFileSystem fs;
  auto f = fs.open("/f", OpenMode::kCreateNew);
  ASSERT_TRUE(fs.sync_dir("/").is_ok());
  ASSERT_TRUE((*f)->append("one").is_ok());
  fs.crash_after_ops(2);  // the append below is op 1, the sync op 2: lost
  ASSERT_TRUE((*f)->append("two").is_ok());
  EXPECT_FALSE(fs.crash_point_passed());
  ASSERT_TRUE((*f)->sync().is_ok());
  EXPECT_TRUE(fs.crash_point_passed());
  EXPECT_EQ(contents(fs, "/f"), "onetwo");  // the process still sees its writes
  Rng rng(7);
  fs.crash(rng);
  std::string got = contents(fs, "/f");
  // The sync never happened: nothing is guaranteed, nothing beyond "onetwo".
  EXPECT_LE(got.size(), 6u);
}

TEST(SimFileSystemTest, CrashAtNextSyncKeepsTheWriteBeforeItPending) {
  SimFileSystem fs;
  auto f = fs.open("/f", OpenMode::kCreateNew);
  ASSERT_TRUE((*f)->append("one").is_ok());
  ASSERT_TRUE((*f)->sync().is_ok());
  ASSERT_TRUE(fs.sync_dir("/").is_ok());
  ASSERT_TRUE((*f)->append("two").is_ok());
  // Across seeds the write before the crash point is sometimes kept,
  // sometimes lost; what was synced before always survives.
  bool kept = false, lost = false;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    auto copy = fs.clone();
    auto g = copy->open("/f", OpenMode::kReadWrite);
    copy->crash_at_sync(1);
    EXPECT_FALSE(copy->crash_point_passed());
    ASSERT_TRUE((*g)->sync().is_ok());  // "works", but the process is dead
    EXPECT_TRUE(copy->crash_point_passed());
    Rng rng(seed);
    copy->crash(rng);
    std::string got = contents(*copy, "/f");
    ASSERT_EQ(got.substr(0, 3), "one");
    kept |= got == "onetwo";
    lost |= got == "one";
  }
  EXPECT_TRUE(kept);
  EXPECT_TRUE(lost);
  // Disarmed, a sync is a sync.
  fs.crash_at_sync(1);
  fs.crash_at_sync(0);
  ASSERT_TRUE((*f)->sync().is_ok());
  EXPECT_FALSE(fs.crash_point_passed());
  EXPECT_EQ(fs.unsynced_write_bytes(), 0u);
}

TEST(SimFileSystemTest, LyingSyncMakesNothingDurable) {
  SimFileSystem fs;
  auto f = fs.open("/f", OpenMode::kCreateNew);
  ASSERT_TRUE(fs.sync_dir("/").is_ok());
  fs.set_lying_sync(true);
  ASSERT_TRUE((*f)->append("data").is_ok());
  ASSERT_TRUE((*f)->sync().is_ok());
  EXPECT_EQ(fs.unsynced_write_bytes(), 4u);
}

TEST(SimFileSystemTest, FailSyncInjectsErrors) {
  SimFileSystem fs;
  auto f = fs.open("/f", OpenMode::kCreateNew);
  fs.set_fail_sync(true);
  EXPECT_EQ((*f)->sync().code(), Code::kInternal);
  EXPECT_EQ(fs.sync_dir("/").code(), Code::kInternal);
  fs.set_fail_sync(false);
  EXPECT_TRUE((*f)->sync().is_ok());
}

TEST(SimFileSystemTest, CloneIsIndependent) {
  SimFileSystem fs;
  auto f = fs.open("/f", OpenMode::kCreateNew);
  ASSERT_TRUE((*f)->append("abc").is_ok());
  auto copy = fs.clone();
  ASSERT_TRUE((*f)->append("def").is_ok());
  EXPECT_EQ(contents(*copy, "/f"), "abc");
  EXPECT_EQ(contents(fs, "/f"), "abcdef");
  EXPECT_EQ(copy->unsynced_write_bytes(), 3u);
}

}  // namespace
}  // namespace etcd::env
