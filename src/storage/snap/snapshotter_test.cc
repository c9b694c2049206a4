#include "storage/snap/snapshotter.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <sstream>
#include <string>

#include <spdlog/sinks/ostream_sink.h>

#include "base/crc32c.h"
#include "base/log.h"
#include "env/posix_file_system.h"
#include "env/sim_file_system.h"
#include "raft/raftpb_encode.h"
#include "storage/snap/snap_file.h"

namespace etcd::snap {
namespace {

const std::string kDir = "/data/member/snap";

raftpb::Snapshot make_snapshot(uint64_t index, uint64_t term, std::string data = "state") {
  raftpb::Snapshot s;
  s.set_data(std::move(data));
  s.mutable_metadata()->set_index(index);
  s.mutable_metadata()->set_term(term);
  s.mutable_metadata()->mutable_conf_state()->add_voters(1);
  s.mutable_metadata()->mutable_conf_state()->add_voters(2);
  s.mutable_metadata()->mutable_conf_state()->add_learners(3);
  return s;
}

bool same(const raftpb::Snapshot& a, const raftpb::Snapshot& b) {
  return a.SerializeAsString() == b.SerializeAsString();
}

std::vector<std::string> list(env::FileSystem& fs, const std::string& dir) {
  auto names = fs.list_dir(dir);
  return names.is_ok() ? *names : std::vector<std::string>{};
}

void flip_byte(env::FileSystem& fs, const std::string& path, uint64_t offset) {
  std::string bytes = env::read_file(fs, path).value();
  auto f = fs.open(path, env::OpenMode::kReadWrite).value();
  ASSERT_TRUE(f->write_at(offset, std::string(1, static_cast<char>(bytes[offset] ^ 0x01))).is_ok());
  ASSERT_TRUE(f->sync().is_ok());
}

TEST(SnapFileTest, FormatIsEtcdsSnappbEnvelope) {
  raftpb::Snapshot s = make_snapshot(5, 2);
  std::string data = raft::gogo::encode(s);
  std::string file = encode_snap_file(s);
  uint32_t crc = crc32c::value(data);
  std::string want;
  want.push_back(0x08);
  for (uint64_t v = crc;; v >>= 7) {
    if (v < 0x80) {
      want.push_back(static_cast<char>(v));
      break;
    }
    want.push_back(static_cast<char>(v | 0x80));
  }
  want.push_back(0x12);
  want.push_back(static_cast<char>(data.size()));  // < 128 here
  want += data;
  EXPECT_EQ(file, want);
  auto back = decode_snap_file(file);
  ASSERT_TRUE(back.is_ok());
  EXPECT_TRUE(same(*back, s));
}

TEST(SnapFileTest, CrcMismatchAndMalformedFilesAreDetected) {
  std::string file = encode_snap_file(make_snapshot(5, 2, "some state bytes"));
  std::string bad = file;
  bad[bad.size() - 3] ^= 0x01;  // a data byte
  auto r = decode_snap_file(bad);
  EXPECT_EQ(r.status().code(), Code::kDataLoss);
  EXPECT_EQ(r.status().message(), "snap: crc mismatch");
  EXPECT_EQ(decode_snap_file("").status().message(), "snap: empty snapshot");
  EXPECT_EQ(decode_snap_file(file.substr(0, file.size() - 1)).status().code(), Code::kDataLoss);
  // A data length of 2^50 is an error, never an allocation.
  EXPECT_EQ(decode_snap_file(std::string("\x08\x01\x12\x80\x80\x80\x80\x80\x80\x40", 10))
                .status()
                .message(),
            "snap: data length beyond the end of the file");
  EXPECT_EQ(decode_snap_file(file + "\x18\x01").status().code(), Code::kDataLoss);
}

TEST(SnapFileTest, ReadsASnapshotWrittenByEtcd) {
  env::PosixFileSystem posix;
  auto bytes = env::read_file(posix, std::string(SNAP_TESTDATA_DIR) +
                                         "/etcd-3.4.23-0000000000000002-0000000000000066.snap");
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().to_string();
  env::SimFileSystem fs;
  ASSERT_TRUE(env::mkdir_all(fs, kDir).is_ok());
  auto f = fs.open(env::join_path(kDir, "0000000000000002-0000000000000066.snap"),
                   env::OpenMode::kCreateNew)
               .value();
  ASSERT_TRUE(f->write_at(0, *bytes).is_ok());
  Snapshotter s(fs, kDir);
  auto got = s.load(Index(0x66), Term(2));
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->metadata().conf_state().voters_size(), 1);
  EXPECT_FALSE(got->data().empty());  // etcd 3.4 keeps its v2 store here
  // Written again by us, it is the same file, byte for byte.
  EXPECT_TRUE(encode_snap_file(*got) == *bytes);
  auto newest = s.load_newest();
  ASSERT_TRUE(newest.is_ok());
  EXPECT_TRUE(same(*newest, *got));
}

TEST(SnapshotterTest, SaveAndLoadNewest) {
  env::SimFileSystem fs;
  Snapshotter s(fs, kDir);
  EXPECT_EQ(s.load_newest().status().code(), Code::kNotFound);
  ASSERT_TRUE(s.save(make_snapshot(10, 1)).is_ok());
  ASSERT_TRUE(s.save(make_snapshot(20, 2, "newer")).is_ok());
  ASSERT_TRUE(s.save(make_snapshot(15, 2)).is_ok());
  EXPECT_EQ(list(fs, kDir), (std::vector<std::string>{"0000000000000001-000000000000000a.snap",
                                                      "0000000000000002-000000000000000f.snap",
                                                      "0000000000000002-0000000000000014.snap"}));
  auto newest = s.load_newest();
  ASSERT_TRUE(newest.is_ok()) << newest.status().to_string();
  EXPECT_TRUE(same(*newest, make_snapshot(20, 2, "newer")));
  // An empty snapshot is not written.
  ASSERT_TRUE(s.save(raftpb::Snapshot()).is_ok());
  EXPECT_EQ(list(fs, kDir).size(), 3u);
}

TEST(SnapshotterTest, LoadNewestBelowAnIndex) {
  env::SimFileSystem fs;
  Snapshotter s(fs, kDir);
  ASSERT_TRUE(s.save(make_snapshot(10, 1)).is_ok());
  ASSERT_TRUE(s.save(make_snapshot(20, 2, "newer")).is_ok());
  auto below = s.load_newest_below(Index(20));
  ASSERT_TRUE(below.is_ok()) << below.status().to_string();
  EXPECT_TRUE(same(*below, make_snapshot(10, 1)));
  EXPECT_EQ(s.load_newest_below(Index(10)).status().code(), Code::kNotFound);
  EXPECT_TRUE(same(*s.load_newest_below(Index(21)), make_snapshot(20, 2, "newer")));
}

TEST(SnapshotterTest, BrokenNewestIsSkippedAndRenamed) {
  env::SimFileSystem fs;
  Snapshotter s(fs, kDir);
  ASSERT_TRUE(s.save(make_snapshot(10, 1)).is_ok());
  ASSERT_TRUE(s.save(make_snapshot(20, 1, "to be damaged")).is_ok());
  const std::string newest = env::join_path(kDir, Snapshotter::snap_name(Term(1), Index(20)));
  flip_byte(fs, newest, env::read_file(fs, newest)->size() - 4);
  // An empty file is broken too.
  ASSERT_TRUE(fs.open(env::join_path(kDir, "0000000000000001-0000000000000019.snap"),
                      env::OpenMode::kCreate)
                  .is_ok());
  auto got = s.load_newest();
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->metadata().index(), 10u);
  EXPECT_EQ(list(fs, kDir),
            (std::vector<std::string>{"0000000000000001-000000000000000a.snap",
                                      "0000000000000001-0000000000000014.snap.broken",
                                      "0000000000000001-0000000000000019.snap.broken"}));
}

TEST(SnapshotterTest, LoadASpecificSnapshot) {
  env::SimFileSystem fs;
  Snapshotter s(fs, kDir);
  ASSERT_TRUE(s.save(make_snapshot(10, 1)).is_ok());
  ASSERT_TRUE(s.save(make_snapshot(20, 2)).is_ok());
  auto got = s.load(Index(10), Term(1));
  ASSERT_TRUE(got.is_ok());
  EXPECT_TRUE(same(*got, make_snapshot(10, 1)));
  EXPECT_EQ(s.load(Index(10), Term(2)).status().code(), Code::kNotFound);
  const std::string p = env::join_path(kDir, Snapshotter::snap_name(Term(2), Index(20)));
  flip_byte(fs, p, 10);
  EXPECT_EQ(s.load(Index(20), Term(2)).status().code(), Code::kDataLoss);
  EXPECT_TRUE(env::exists(fs, p + ".broken"));
  // A file whose contents do not match its name is not the snapshot asked for.
  auto f = fs.open(env::join_path(kDir, Snapshotter::snap_name(Term(3), Index(30))),
                   env::OpenMode::kCreateNew)
               .value();
  ASSERT_TRUE(f->write_at(0, encode_snap_file(make_snapshot(31, 3))).is_ok());
  EXPECT_EQ(s.load(Index(30), Term(3)).status().code(), Code::kDataLoss);
}

TEST(SnapshotterTest, PurgeKeepsTheNewestMaxSnapshots) {
  env::SimFileSystem fs;
  Snapshotter s(fs, kDir, 3);
  for (uint64_t i = 1; i <= 6; ++i) ASSERT_TRUE(s.save(make_snapshot(i * 10, 1)).is_ok());
  EXPECT_EQ(list(fs, kDir), (std::vector<std::string>{"0000000000000001-0000000000000028.snap",
                                                      "0000000000000001-0000000000000032.snap",
                                                      "0000000000000001-000000000000003c.snap"}));
  env::SimFileSystem fs2;
  Snapshotter unlimited(fs2, kDir, 0);
  for (uint64_t i = 1; i <= 7; ++i) ASSERT_TRUE(unlimited.save(make_snapshot(i, 1)).is_ok());
  EXPECT_EQ(list(fs2, kDir).size(), 7u);
  // Saved without purging (the server purges once the WAL marker is
  // durable): the older files stay until purge().
  env::SimFileSystem fs3;
  Snapshotter one(fs3, kDir, 1);
  ASSERT_TRUE(one.save(make_snapshot(10, 1)).is_ok());
  ASSERT_TRUE(one.save(make_snapshot(20, 1), /*purge_after=*/false).is_ok());
  EXPECT_EQ(list(fs3, kDir).size(), 2u);
  ASSERT_TRUE(one.purge().is_ok());
  EXPECT_EQ(list(fs3, kDir), (std::vector<std::string>{"0000000000000001-0000000000000014.snap"}));
}

TEST(SnapshotterTest, OtherFilesAreLeftAlone) {
  env::SimFileSystem fs;
  ASSERT_TRUE(env::mkdir_all(fs, kDir).is_ok());
  ASSERT_TRUE(fs.open(env::join_path(kDir, "db"), env::OpenMode::kCreateNew).is_ok());
  Snapshotter s(fs, kDir, 1);
  ASSERT_TRUE(s.save(make_snapshot(1, 1)).is_ok());
  ASSERT_TRUE(s.save(make_snapshot(2, 1)).is_ok());
  EXPECT_EQ(list(fs, kDir),
            (std::vector<std::string>{"0000000000000001-0000000000000002.snap", "db"}));
}

TEST(SnapshotterTest, TheBackendsFilesAreExpectedOthersAreWarnedAbout) {
  env::SimFileSystem fs;
  ASSERT_TRUE(env::mkdir_all(fs, kDir).is_ok());
  for (const char* name : {"db", "db-lock", "db.defrag.tmp", "0000000000000009.snap.db", "stray"}) {
    ASSERT_TRUE(fs.open(env::join_path(kDir, name), env::OpenMode::kCreateNew).is_ok());
  }
  std::ostringstream os;
  log::Logger lg(log::Level::kInfo, {std::make_shared<spdlog::sinks::ostream_sink_mt>(os)},
                 [] { return int64_t{0}; });
  Snapshotter s(fs, kDir, 1, &lg);
  ASSERT_TRUE(s.save(make_snapshot(1, 1)).is_ok());
  ASSERT_TRUE(s.load_newest().is_ok());
  const std::string out = os.str();
  EXPECT_NE(out.find("\"path\":\"stray\""), std::string::npos) << out;
  EXPECT_EQ(out.find("db"), std::string::npos) << out;
}

TEST(SnapshotterTest, CrashDuringSaveLeavesOldOrNewNeverBroken) {
  for (uint64_t seed = 0; seed < 300; ++seed) {
    env::SimFileSystem fs;
    Snapshotter s(fs, kDir, 2);
    ASSERT_TRUE(s.save(make_snapshot(10, 1, std::string(3000, 'a'))).is_ok());
    Rng rng(seed);
    fs.crash_after_ops(1 + rng.uniform(12));
    ASSERT_TRUE(s.save(make_snapshot(20, 1, std::string(3000, 'b'))).is_ok());
    const bool acked = !fs.crash_point_passed();
    fs.crash(rng);
    Snapshotter after(fs, kDir, 2);
    auto got = after.load_newest();
    ASSERT_TRUE(got.is_ok()) << "seed " << seed << ": " << got.status().to_string();
    if (acked) {
      EXPECT_EQ(got->metadata().index(), 20u) << "seed " << seed;
    }
    for (const auto& n : list(fs, kDir)) {
      EXPECT_EQ(n.find(".broken"), std::string::npos) << "seed " << seed << ": " << n;
      EXPECT_EQ(n.find(".tmp"), std::string::npos) << "seed " << seed << ": " << n;
    }
  }
}

TEST(SnapshotterTest, FsyncFailurePanics) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        env::SimFileSystem fs;
        Snapshotter s(fs, kDir);
        (void)env::mkdir_all(fs, kDir);
        fs.set_fail_sync(true);
        (void)s.save(make_snapshot(1, 1));
      },
      "fsync failed");
}

TEST(SnapshotterTest, ModesArePrivateAndFixed) {
  std::string tmpl = ::testing::TempDir() + "snap_test_XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const std::string root = tmpl;
  const std::string dir = root + "/member/snap";
  env::PosixFileSystem fs;
  Snapshotter s(fs, dir);
  ASSERT_TRUE(s.save(make_snapshot(1, 1)).is_ok());
  const std::string file = env::join_path(dir, Snapshotter::snap_name(Term(1), Index(1)));
  EXPECT_EQ(fs.stat(dir)->mode, 0700u);
  EXPECT_EQ(fs.stat(file)->mode, 0600u);
  ASSERT_TRUE(fs.chmod(dir, 0755).is_ok());
  ASSERT_TRUE(fs.chmod(file, 0644).is_ok());
  ASSERT_TRUE(s.load_newest().is_ok());
  EXPECT_EQ(fs.stat(dir)->mode, 0700u);
  EXPECT_EQ(fs.stat(file)->mode, 0600u);
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace etcd::snap
