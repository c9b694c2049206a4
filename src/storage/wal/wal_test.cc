#include "storage/wal/wal.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "base/encoding.h"
#include "env/posix_file_system.h"
#include "env/sim_file_system.h"
#include "raft/raftpb_encode.h"
#include "storage/wal/decoder.h"

namespace etcd::wal {
namespace {

const std::string kDir = "/data/member/wal";

raftpb::Entry make_entry(uint64_t index, uint64_t term, size_t data_bytes) {
  raftpb::Entry e;
  e.set_index(index);
  e.set_term(term);
  std::string data(data_bytes, '\0');
  for (size_t i = 0; i < data_bytes; ++i) data[i] = static_cast<char>('a' + (index + i) % 26);
  e.set_data(std::move(data));
  return e;
}

raftpb::HardState make_state(uint64_t term, uint64_t vote, uint64_t commit) {
  raftpb::HardState hs;
  hs.set_term(term);
  hs.set_vote(vote);
  hs.set_commit(commit);
  return hs;
}

bool same(const raftpb::Entry& a, const raftpb::Entry& b) {
  return a.SerializeAsString() == b.SerializeAsString();
}

void expect_entries(const std::vector<raftpb::Entry>& got, const std::vector<raftpb::Entry>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(same(got[i], want[i])) << "entry " << i << " differs";
  }
}

std::vector<std::string> segments(env::FileSystem& fs, const std::string& dir) {
  std::vector<std::string> out;
  uint64_t seq;
  uint64_t index;
  auto names = fs.list_dir(dir);
  EXPECT_TRUE(names.is_ok());
  if (!names.is_ok()) return out;
  for (const std::string& n : *names) {
    if (Wal::parse_segment_name(n, &seq, &index)) out.push_back(n);
  }
  return out;
}

Result<WalContents> reopen(env::FileSystem& fs, const std::string& dir, WalSnapshot snap = {},
                           const WalOptions& o = {}, std::unique_ptr<Wal>* keep = nullptr) {
  auto w = Wal::open(fs, dir, snap, o);
  if (!w.is_ok()) return w.status();
  auto contents = (*w)->read_all();
  if (keep != nullptr) *keep = std::move(*w);
  return contents;
}

void overwrite(env::FileSystem& fs, const std::string& path, uint64_t offset,
               std::string_view bytes) {
  auto f = fs.open(path, env::OpenMode::kReadWrite);
  ASSERT_TRUE(f.is_ok());
  ASSERT_TRUE((*f)->write_at(offset, bytes).is_ok());
  ASSERT_TRUE((*f)->sync().is_ok());
}

void flip_bit(env::FileSystem& fs, const std::string& path, uint64_t offset) {
  std::string bytes = env::read_file(fs, path).value();
  overwrite(fs, path, offset, std::string(1, static_cast<char>(bytes[offset] ^ 0x10)));
}

WalOptions small(uint64_t segment_bytes = 4096) {
  WalOptions o;
  o.segment_size_bytes = segment_bytes;
  return o;
}

// --- round trip ---------------------------------------------------------------

void round_trip(env::FileSystem& fs, const std::string& dir) {
  const WalOptions o = small(4096);
  auto created = Wal::create(fs, dir, "member-meta", o);
  ASSERT_TRUE(created.is_ok()) << created.status().to_string();
  auto w = std::move(*created);
  std::vector<raftpb::Entry> all;
  uint64_t index = 0;
  raftpb::HardState last_hs;
  for (int batch = 0; batch < 60; ++batch) {
    std::vector<raftpb::Entry> ents;
    for (int i = 0; i < 1 + batch % 5; ++i) {
      ents.push_back(make_entry(++index, 1 + batch / 10, 100 + (batch * 37) % 300));
    }
    last_hs = make_state(1 + batch / 10, 1, index);
    ASSERT_TRUE(w->save(last_hs, ents, batch % 3 != 0).is_ok());
    all.insert(all.end(), ents.begin(), ents.end());
  }
  ASSERT_TRUE(w->close().is_ok());

  auto names = segments(fs, dir);
  ASSERT_GE(names.size(), 5u);
  EXPECT_EQ(names[0], "0000000000000000-0000000000000000.wal");
  uint64_t prev_seq = 0;
  uint64_t prev_index = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    uint64_t seq;
    uint64_t first;
    ASSERT_TRUE(Wal::parse_segment_name(names[i], &seq, &first));
    EXPECT_EQ(seq, i);
    if (i > 0) {
      EXPECT_EQ(seq, prev_seq + 1);
      EXPECT_GT(first, prev_index);
    }
    prev_seq = seq;
    prev_index = first;
    std::string bytes = env::read_file(fs, env::join_path(dir, names[i])).value();
    if (i + 1 < names.size()) {
      // A finished segment ends exactly at its last record.
      auto scan = scan_segment(bytes, 0, false);
      ASSERT_TRUE(scan.is_ok()) << scan.status().to_string();
      EXPECT_EQ(scan->end_offset, bytes.size());
    } else {
      EXPECT_EQ(bytes.size(), 4096u);  // the tail stays preallocated
    }
  }

  std::unique_ptr<Wal> w2;
  auto contents = reopen(fs, dir, {}, o, &w2);
  ASSERT_TRUE(contents.is_ok()) << contents.status().to_string();
  EXPECT_EQ(contents->metadata, "member-meta");
  EXPECT_EQ(contents->hard_state.SerializeAsString(), last_hs.SerializeAsString());
  expect_entries(contents->entries, all);

  // Appending resumes after the last record.
  std::vector<raftpb::Entry> more{make_entry(index + 1, 9, 50)};
  ASSERT_TRUE(w2->save(make_state(9, 2, index), more, true).is_ok());
  ASSERT_TRUE(w2->close().is_ok());
  all.push_back(more[0]);
  auto again = reopen(fs, dir, {}, o);
  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  expect_entries(again->entries, all);
  EXPECT_EQ(again->hard_state.term(), 9u);
}

TEST(WalTest, RoundTripAcrossSegmentCutsSim) {
  env::SimFileSystem fs;
  round_trip(fs, kDir);
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "wal_test_XXXXXX";
    EXPECT_NE(::mkdtemp(tmpl.data()), nullptr);
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(WalTest, RoundTripAcrossSegmentCutsPosix) {
  TempDir tmp;
  env::PosixFileSystem fs;
  round_trip(fs, tmp.path() + "/member/wal");
}

TEST(WalTest, LaterEntriesReplaceConflictingOnes) {
  env::SimFileSystem fs;
  auto w = Wal::create(fs, kDir, "m").value();
  std::vector<raftpb::Entry> first;
  for (uint64_t i = 1; i <= 10; ++i) first.push_back(make_entry(i, 1, 10));
  ASSERT_TRUE(w->save(make_state(1, 1, 4), first, true).is_ok());
  std::vector<raftpb::Entry> second{make_entry(5, 2, 11), make_entry(6, 2, 11)};
  ASSERT_TRUE(w->save(make_state(2, 2, 4), second, true).is_ok());
  ASSERT_TRUE(w->close().is_ok());
  auto c = reopen(fs, kDir);
  ASSERT_TRUE(c.is_ok());
  std::vector<raftpb::Entry> want(first.begin(), first.begin() + 4);
  want.insert(want.end(), second.begin(), second.end());
  expect_entries(c->entries, want);
}

TEST(WalTest, CreateRefusesAnExistingWalAndOpenNeedsOne) {
  env::SimFileSystem fs;
  EXPECT_EQ(Wal::open(fs, kDir, {}).status().code(), Code::kNotFound);
  ASSERT_TRUE(Wal::create(fs, kDir, "m").is_ok());
  EXPECT_TRUE(Wal::exists(fs, kDir));
  EXPECT_EQ(Wal::create(fs, kDir, "m").status().code(), Code::kAlreadyExists);
}

TEST(WalTest, OversizedEntryIsRefusedBeforeAnythingIsWritten) {
  env::SimFileSystem fs;
  WalOptions o;
  o.max_record_bytes = 1000;
  auto w = Wal::create(fs, kDir, "m", o).value();
  std::vector<raftpb::Entry> ents{make_entry(1, 1, 100), make_entry(2, 1, 2000)};
  EXPECT_EQ(w->save(make_state(1, 1, 1), ents, true).code(), Code::kInvalidArgument);
  ents.pop_back();
  ASSERT_TRUE(w->save(make_state(1, 1, 1), ents, true).is_ok());
  ASSERT_TRUE(w->close().is_ok());
  auto c = reopen(fs, kDir, {}, o);
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  expect_entries(c->entries, ents);
}

TEST(WalTest, SaveBeforeReadAllIsRefused) {
  env::SimFileSystem fs;
  ASSERT_TRUE(Wal::create(fs, kDir, "m").value()->close().is_ok());
  auto w = Wal::open(fs, kDir, {}).value();
  EXPECT_EQ(w->save(make_state(1, 0, 0), {}, true).code(), Code::kFailedPrecondition);
}

TEST(WalTest, LeftoverTemporarySegmentsAreRemoved) {
  env::SimFileSystem fs;
  ASSERT_TRUE(Wal::create(fs, kDir, "m").value()->close().is_ok());
  std::string tmp = env::join_path(kDir, Wal::segment_name(1, 5) + ".tmp");
  ASSERT_TRUE(fs.open(tmp, env::OpenMode::kCreateNew).is_ok());
  ASSERT_TRUE(reopen(fs, kDir).is_ok());
  EXPECT_FALSE(env::exists(fs, tmp));
}

// --- torn tails ---------------------------------------------------------------

struct Built {
  std::unique_ptr<env::SimFileSystem> fs;
  std::string tail;                         // path of the last segment
  std::vector<uint64_t> ends;               // offset after each single-entry record in the tail
  std::vector<raftpb::Entry> before;        // entries in earlier segments / before `ends`
  std::vector<raftpb::Entry> tail_entries;  // one per `ends`
};

// A WAL of a few segments whose last segment ends with single-entry records,
// every one synced.
Built build(size_t entry_bytes, int tail_records) {
  Built b;
  b.fs = std::make_unique<env::SimFileSystem>();
  const WalOptions o = small(8192);
  auto w = Wal::create(*b.fs, kDir, "m", o).value();
  uint64_t index = 0;
  // Fill until the WAL is on its third segment.
  while (segments(*b.fs, kDir).size() < 3) {
    std::vector<raftpb::Entry> e{make_entry(++index, 1, entry_bytes)};
    EXPECT_TRUE(w->save(make_state(1, 1, index), e, true).is_ok());
    b.before.push_back(e[0]);
  }
  for (int i = 0; i < tail_records; ++i) {
    std::vector<raftpb::Entry> e{make_entry(++index, 1, entry_bytes)};
    EXPECT_TRUE(w->save({}, e, true).is_ok());
    b.ends.push_back(w->tail_offset());
    b.tail_entries.push_back(e[0]);
  }
  b.tail = w->tail_path();
  EXPECT_TRUE(w->close().is_ok());
  return b;
}

// Reopens and checks that exactly the records ending at or before `intact`
// came back, then that the repaired WAL appends and reads back.
void check_repaired(env::SimFileSystem& fs, const Built& b, uint64_t intact, bool expect_broken) {
  std::unique_ptr<Wal> w;
  auto c = reopen(fs, kDir, {}, small(8192), &w);
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  std::vector<raftpb::Entry> want = b.before;
  for (size_t i = 0; i < b.ends.size(); ++i) {
    if (b.ends[i] <= intact) want.push_back(b.tail_entries[i]);
  }
  expect_entries(c->entries, want);
  EXPECT_EQ(env::exists(fs, b.tail + ".broken"), expect_broken);
  raftpb::Entry next = make_entry(want.back().index() + 1, 2, 33);
  ASSERT_TRUE(w->save(make_state(2, 1, 1), {&next, 1}, true).is_ok());
  ASSERT_TRUE(w->close().is_ok());
  auto again = reopen(fs, kDir, {}, small(8192));
  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  want.push_back(next);
  expect_entries(again->entries, want);
}

TEST(WalTornTailTest, TruncatedAtEveryByteOfTheLastRecords) {
  Built b = build(300, 4);
  const uint64_t from = b.ends[0];  // the last three records, byte by byte
  for (uint64_t k = from; k <= b.ends.back(); ++k) {
    SCOPED_TRACE("truncated at " + std::to_string(k));
    auto fs = b.fs->clone();
    auto f = fs->open(b.tail, env::OpenMode::kReadWrite).value();
    ASSERT_TRUE(f->truncate(k).is_ok());
    ASSERT_TRUE(f->sync().is_ok());
    bool boundary = std::find(b.ends.begin(), b.ends.end(), k) != b.ends.end();
    check_repaired(*fs, b, k, !boundary);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(WalTornTailTest, ZeroedTrailingSectors) {
  Built b = build(700, 5);
  const uint64_t size = env::read_file(*b.fs, b.tail)->size();
  for (uint64_t s = b.ends[0] / kSectorBytes * kSectorBytes; s < b.ends.back(); s += kSectorBytes) {
    SCOPED_TRACE("zeroed from " + std::to_string(s));
    auto fs = b.fs->clone();
    overwrite(*fs, b.tail, s, std::string(size - s, '\0'));
    bool boundary = std::find(b.ends.begin(), b.ends.end(), s) != b.ends.end();
    check_repaired(*fs, b, s, !boundary);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(WalTornTailTest, ZeroedMiddleSectorOfTheLastWriteIsTorn) {
  // The crash kept a later sector of the last write but not an earlier one.
  Built b = build(1500, 3);
  const uint64_t start = b.ends[1];  // the last record spans several sectors
  const uint64_t sector = (start / kSectorBytes + 1) * kSectorBytes;
  ASSERT_LT(sector + kSectorBytes, b.ends[2]);
  overwrite(*b.fs, b.tail, sector, std::string(kSectorBytes, '\0'));
  check_repaired(*b.fs, b, start, true);
}

TEST(WalTornTailTest, BrokenCopyKeepsTheOriginalBytes) {
  Built b = build(300, 3);
  std::string before = env::read_file(*b.fs, b.tail).value();
  auto f = b.fs->open(b.tail, env::OpenMode::kReadWrite).value();
  ASSERT_TRUE(f->truncate(b.ends[2] - 5).is_ok());
  ASSERT_TRUE(reopen(*b.fs, kDir, {}, small(8192)).is_ok());
  std::string broken = env::read_file(*b.fs, b.tail + ".broken").value();
  EXPECT_EQ(broken, before.substr(0, b.ends[2] - 5));
  // The repaired segment is preallocated again and zero after the cut.
  std::string repaired = env::read_file(*b.fs, b.tail).value();
  EXPECT_EQ(repaired.size(), 8192u);
  EXPECT_EQ(repaired.substr(b.ends[1]), std::string(8192 - b.ends[1], '\0'));
}

// --- corruption ---------------------------------------------------------------

TEST(WalCorruptionTest, FlippedBitInAnEarlierRecordOfTheLastSegment) {
  Built b = build(300, 4);
  const uint64_t record = b.ends[1];  // the third of four tail records
  flip_bit(*b.fs, b.tail, record + 100);
  auto c = reopen(*b.fs, kDir, {}, small(8192));
  ASSERT_EQ(c.status().code(), Code::kDataLoss);
  const std::string& msg = c.status().message();
  EXPECT_NE(msg.find(env::base_name(b.tail)), std::string::npos) << msg;
  EXPECT_NE(msg.find("offset " + std::to_string(record) + ":"), std::string::npos) << msg;
  EXPECT_NE(msg.find("crc mismatch"), std::string::npos) << msg;
  EXPECT_FALSE(env::exists(*b.fs, b.tail + ".broken"));
}

TEST(WalCorruptionTest, FlippedBitInTheLastRecordFollowedByZerosIsTorn) {
  Built b = build(300, 4);
  flip_bit(*b.fs, b.tail, b.ends[2] + 100);
  check_repaired(*b.fs, b, b.ends[2], true);
}

TEST(WalCorruptionTest, FlippedBitInAnEarlierSegment) {
  Built b = build(300, 2);
  auto names = segments(*b.fs, kDir);
  const std::string first = env::join_path(kDir, names[0]);
  std::string bytes = env::read_file(*b.fs, first).value();
  auto scan = scan_segment(bytes, 0, false).value();
  // The last record of a finished segment: nothing but zeros cannot follow.
  const uint64_t record = scan.records.back().offset;
  flip_bit(*b.fs, first, bytes.size() - 20);
  auto c = reopen(*b.fs, kDir, {}, small(8192));
  ASSERT_EQ(c.status().code(), Code::kDataLoss);
  EXPECT_NE(c.status().message().find(names[0]), std::string::npos) << c.status().message();
  EXPECT_NE(c.status().message().find("offset " + std::to_string(record) + ":"), std::string::npos)
      << c.status().message();
}

TEST(WalCorruptionTest, OversizedLengthFieldIsAnErrorNotAnAllocation) {
  Built b = build(300, 2);
  std::string field(8, '\0');
  put_u64_le(reinterpret_cast<uint8_t*>(field.data()), uint64_t{1} << 50);
  overwrite(*b.fs, b.tail, b.ends[0], field);
  auto c = reopen(*b.fs, kDir, {}, small(8192));
  ASSERT_EQ(c.status().code(), Code::kDataLoss);
  EXPECT_NE(c.status().message().find("offset " + std::to_string(b.ends[0]) + ":"),
            std::string::npos);
  EXPECT_NE(c.status().message().find("exceeds the maximum"), std::string::npos);
}

TEST(WalCorruptionTest, LengthBeyondTheEndOfAFinishedSegment) {
  Built b = build(300, 2);
  auto names = segments(*b.fs, kDir);
  const std::string first = env::join_path(kDir, names[0]);
  std::string bytes = env::read_file(*b.fs, first).value();
  const uint64_t record = scan_segment(bytes, 0, false)->records.back().offset;
  uint64_t field = get_u64_le(reinterpret_cast<const uint8_t*>(bytes.data() + record));
  std::string grown(8, '\0');
  put_u64_le(reinterpret_cast<uint8_t*>(grown.data()), field + 4096);
  overwrite(*b.fs, first, record, grown);
  auto c = reopen(*b.fs, kDir, {}, small(8192));
  ASSERT_EQ(c.status().code(), Code::kDataLoss);
  EXPECT_NE(c.status().message().find("bytes left in the file"), std::string::npos)
      << c.status().message();
}

TEST(WalCorruptionTest, ZeroLengthFieldNextToDataInItsSector) {
  Built b = build(300, 4);
  overwrite(*b.fs, b.tail, b.ends[1], std::string(8, '\0'));
  auto c = reopen(*b.fs, kDir, {}, small(8192));
  ASSERT_EQ(c.status().code(), Code::kDataLoss);
  EXPECT_NE(c.status().message().find("zero length field"), std::string::npos);
}

TEST(WalCorruptionTest, SegmentFromAnotherWalBreaksTheCrcChain) {
  auto make = [](env::FileSystem& fs, char fill) {
    auto w = Wal::create(fs, kDir, "same-meta", small(4096)).value();
    for (uint64_t i = 1; i <= 60; ++i) {
      raftpb::Entry e = make_entry(i, 1, 200);
      e.set_data(std::string(200, fill));
      EXPECT_TRUE(w->save(make_state(1, 1, i), {&e, 1}, true).is_ok());
    }
    EXPECT_TRUE(w->close().is_ok());
  };
  env::SimFileSystem a;
  env::SimFileSystem b;
  make(a, 'a');
  make(b, 'b');
  auto names = segments(a, kDir);
  ASSERT_EQ(names, segments(b, kDir));
  ASSERT_GE(names.size(), 3u);
  const std::string victim = env::join_path(kDir, names[1]);
  std::string other = env::read_file(b, victim).value();
  auto f = a.open(victim, env::OpenMode::kCreateTruncate).value();
  ASSERT_TRUE(f->write_at(0, other).is_ok());
  ASSERT_TRUE(f->sync().is_ok());
  auto c = reopen(a, kDir, {}, small(4096));
  ASSERT_EQ(c.status().code(), Code::kDataLoss);
  EXPECT_NE(c.status().message().find(names[1]), std::string::npos);
  EXPECT_NE(c.status().message().find("does not continue the previous one"), std::string::npos)
      << c.status().message();
}

TEST(WalCorruptionTest, FsyncFailurePanics) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        env::SimFileSystem fs;
        auto w = Wal::create(fs, kDir, "m").value();
        fs.set_fail_sync(true);
        raftpb::Entry e = make_entry(1, 1, 10);
        (void)w->save(make_state(1, 1, 1), {&e, 1}, true);
      },
      "fdatasync failed");
}

// --- snapshots, release and purge ----------------------------------------------

TEST(WalSnapshotTest, OpenAtASnapshotMarker) {
  env::SimFileSystem fs;
  auto w = Wal::create(fs, kDir, "m", small(4096)).value();
  std::vector<raftpb::Entry> all;
  for (uint64_t i = 1; i <= 40; ++i) {
    all.push_back(make_entry(i, 2, 150));
    ASSERT_TRUE(w->save(make_state(2, 1, i), {&all.back(), 1}, i % 4 == 0).is_ok());
    if (i == 20) {
      ASSERT_TRUE(w->save_snapshot({Index(20), Term(2)}).is_ok());
    }
  }
  ASSERT_TRUE(w->close().is_ok());

  auto c = reopen(fs, kDir, {Index(20), Term(2)}, small(4096));
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  expect_entries(c->entries, std::vector<raftpb::Entry>(all.begin() + 20, all.end()));
  EXPECT_EQ(c->hard_state.commit(), 40u);

  EXPECT_EQ(reopen(fs, kDir, {Index(20), Term(3)}, small(4096)).status().code(),
            Code::kFailedPrecondition);
  EXPECT_EQ(reopen(fs, kDir, {Index(21), Term(2)}, small(4096)).status().code(), Code::kNotFound);
  auto from_start = reopen(fs, kDir, {}, small(4096));
  ASSERT_TRUE(from_start.is_ok());
  expect_entries(from_start->entries, all);
}

TEST(WalSnapshotTest, ReleaseAndPurge) {
  env::SimFileSystem fs;
  WalOptions o = small(4096);
  o.max_wals = 2;
  auto w = Wal::create(fs, kDir, "m", o).value();
  std::vector<raftpb::Entry> all;
  for (uint64_t i = 1; i <= 200; ++i) {
    all.push_back(make_entry(i, 1, 150));
    ASSERT_TRUE(w->save(make_state(1, 1, i), {&all.back(), 1}, true).is_ok());
    if (i == 120) {
      ASSERT_TRUE(w->save_snapshot({Index(120), Term(1)}).is_ok());
    }
  }
  auto before = segments(fs, kDir);
  ASSERT_GE(before.size(), 8u);

  // Nothing is released yet: nothing goes, however many files there are.
  EXPECT_TRUE(w->purge()->empty());
  EXPECT_EQ(segments(fs, kDir), before);

  w->release_to(Index(120));
  auto removed = w->purge();
  ASSERT_TRUE(removed.is_ok());
  EXPECT_FALSE(removed->empty());
  auto after = segments(fs, kDir);
  EXPECT_EQ(removed->size() + after.size(), before.size());
  EXPECT_EQ(removed->front(), before.front());  // oldest first
  // Only released segments went: the one to open at the snapshot is kept.
  uint64_t seq;
  uint64_t first;
  ASSERT_TRUE(Wal::parse_segment_name(after.front(), &seq, &first));
  EXPECT_LE(first, 120u);
  ASSERT_TRUE(w->close().is_ok());

  auto c = reopen(fs, kDir, {Index(120), Term(1)}, o);
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  expect_entries(c->entries, std::vector<raftpb::Entry>(all.begin() + 120, all.end()));
  EXPECT_EQ(reopen(fs, kDir, {}, o).status().code(), Code::kNotFound);
}

TEST(WalSnapshotTest, PurgeKeepsMaxWalsAndZeroMeansUnlimited) {
  for (size_t max : {size_t{0}, size_t{1}, size_t{3}}) {
    env::SimFileSystem fs;
    WalOptions o = small(4096);
    o.max_wals = max;
    auto w = Wal::create(fs, kDir, "m", o).value();
    for (uint64_t i = 1; i <= 100; ++i) {
      // 148 bytes of data: records of 157 bytes, which puts no segment
      // boundary right at index 100.
      raftpb::Entry e = make_entry(i, 1, 148);
      ASSERT_TRUE(w->save(make_state(1, 1, i), {&e, 1}, true).is_ok());
    }
    ASSERT_TRUE(w->save_snapshot({Index(100), Term(1)}).is_ok());
    size_t total = segments(fs, kDir).size();
    w->release_to(Index(100));
    ASSERT_TRUE(w->purge().is_ok());
    size_t left = segments(fs, kDir).size();
    // The snapshot is at the last index: only the tail is still needed.
    EXPECT_EQ(left, max == 0 ? total : max);
  }
}

// --- compatibility with etcd's own files ----------------------------------------

std::string golden_wal() {
  auto bytes = env::read_file(
      *std::make_unique<env::PosixFileSystem>(),
      std::string(WAL_TESTDATA_DIR) + "/etcd-3.4.23-0000000000000000-0000000000000000.wal");
  EXPECT_TRUE(bytes.is_ok()) << bytes.status().to_string();
  return bytes.is_ok() ? *bytes : std::string();
}

TEST(WalCompatTest, ReadsAWalWrittenByEtcd) {
  env::SimFileSystem fs;
  ASSERT_TRUE(env::mkdir_all(fs, kDir).is_ok());
  const std::string name = Wal::segment_name(0, 0);
  auto f = fs.open(env::join_path(kDir, name), env::OpenMode::kCreateNew).value();
  ASSERT_TRUE(f->write_at(0, golden_wal()).is_ok());
  ASSERT_TRUE(f->sync().is_ok());
  ASSERT_TRUE(fs.sync_dir(kDir).is_ok());

  std::unique_ptr<Wal> w;
  auto c = reopen(fs, kDir, {Index(0x66), Term(2)}, {}, &w);
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->metadata.size(), 22u);  // etcdserver's Metadata{NodeID, ClusterID}
  EXPECT_EQ(c->hard_state.term(), 2u);
  EXPECT_EQ(c->hard_state.commit(), 124u);
  ASSERT_EQ(c->entries.size(), 22u);
  EXPECT_EQ(c->entries.front().index(), 0x67u);
  EXPECT_EQ(c->entries.back().index(), 124u);
  EXPECT_EQ(w->tail_offset(), 12104u);
  // And it keeps going in the same file.
  raftpb::Entry next = make_entry(125, 2, 10);
  ASSERT_TRUE(w->save(make_state(2, c->hard_state.vote(), 125), {&next, 1}, true).is_ok());
  ASSERT_TRUE(w->close().is_ok());
  auto again = reopen(fs, kDir, {Index(0x33), Term(2)});
  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  EXPECT_EQ(again->entries.size(), 125u - 0x33);
}

// Every record of etcd's file, framed again by our encoder from its type,
// data and the running CRC, comes out byte for byte the same.
TEST(WalCompatTest, FramingIsByteIdenticalToEtcds) {
  const std::string bytes = golden_wal();
  auto scan = scan_segment(bytes, 0, true);
  ASSERT_TRUE(scan.is_ok()) << scan.status().to_string();
  ASSERT_GT(scan->records.size(), 200u);
  std::string out;
  uint32_t crc = 0;
  for (const auto& rec : scan->records) {
    if (rec.type == RecordType::kCrc) {
      append_crc_record(&out, crc);
    } else {
      append_record(&out, rec.type, rec.data, &crc);
    }
  }
  EXPECT_EQ(out.size(), scan->end_offset);
  EXPECT_TRUE(out == bytes.substr(0, scan->end_offset));
  EXPECT_EQ(crc, scan->crc);
}

// The payloads too: every entry, hard state and snapshot marker of etcd's
// file, decoded and encoded again as the WAL writes them, are etcd's bytes.
TEST(WalCompatTest, PayloadsAreByteIdenticalToEtcds) {
  const std::string bytes = golden_wal();
  auto scan = scan_segment(bytes, 0, true);
  ASSERT_TRUE(scan.is_ok()) << scan.status().to_string();
  int entries = 0, states = 0, snaps = 0;
  for (const auto& rec : scan->records) {
    const std::string data(rec.data);
    if (rec.type == RecordType::kEntry) {
      raftpb::Entry e;
      ASSERT_TRUE(decode_entry(data, &e));
      EXPECT_EQ(raft::gogo::encode(e), data) << "entry " << e.index();
      ++entries;
    } else if (rec.type == RecordType::kState) {
      raftpb::HardState hs;
      ASSERT_TRUE(decode_hard_state(data, &hs));
      EXPECT_EQ(raft::gogo::encode(hs), data);
      ++states;
    } else if (rec.type == RecordType::kSnapshot) {
      WalSnapshot s;
      ASSERT_TRUE(decode_snapshot_marker(data, &s));
      EXPECT_EQ(encode_snapshot_marker(s), data);
      ++snaps;
    }
  }
  EXPECT_GT(entries, 100);
  EXPECT_GT(states, 50);
  EXPECT_EQ(snaps, 3);  // {0, 0}, (0x33, 2), (0x66, 2)
}

// And the WAL writes that form: zero fields included.
TEST(WalCompatTest, SavedEntriesAndStatesAreEtcdsGogoBytes) {
  env::SimFileSystem fs;
  auto w = Wal::create(fs, kDir, "m", small(4096)).value();
  raftpb::Entry e;  // a new leader's empty entry: type 0, no data
  e.set_term(1);
  e.set_index(1);
  raftpb::HardState hs;
  hs.set_term(1);
  hs.set_commit(1);  // vote 0
  ASSERT_TRUE(w->save(hs, {&e, 1}, true).is_ok());
  ASSERT_TRUE(w->close().is_ok());
  const std::string bytes =
      env::read_file(fs, env::join_path(kDir, Wal::segment_name(0, 0))).value();
  auto scan = scan_segment(bytes, 0, true);
  ASSERT_TRUE(scan.is_ok()) << scan.status().to_string();
  ASSERT_EQ(scan->records.size(), 5u);
  EXPECT_EQ(std::string(scan->records[3].data), std::string("\x08\x00\x10\x01\x18\x01", 6));
  EXPECT_EQ(std::string(scan->records[4].data), std::string("\x08\x01\x10\x00\x18\x01", 6));
}

// --- permissions (etcd CVE-2020-15113) -------------------------------------------

TEST(WalPermissionTest, ModesAreFixedOnOpen) {
  TempDir tmp;
  env::PosixFileSystem fs;
  const std::string dir = tmp.path() + "/member/wal";
  auto w = Wal::create(fs, dir, "m", small(4096)).value();
  EXPECT_EQ(fs.stat(dir)->mode, 0700u);
  for (const auto& n : segments(fs, dir)) EXPECT_EQ(fs.stat(env::join_path(dir, n))->mode, 0600u);
  ASSERT_TRUE(w->close().is_ok());

  ASSERT_TRUE(fs.chmod(dir, 0755).is_ok());
  const std::string seg = env::join_path(dir, segments(fs, dir)[0]);
  ASSERT_TRUE(fs.chmod(seg, 0644).is_ok());
  ASSERT_TRUE(reopen(fs, dir, {}, small(4096)).is_ok());
  EXPECT_EQ(fs.stat(dir)->mode, 0700u);
  EXPECT_EQ(fs.stat(seg)->mode, 0600u);
}

}  // namespace
}  // namespace etcd::wal
