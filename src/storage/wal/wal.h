// The write-ahead log: Raft's hard state and entries, appended in segment
// files and made durable with one fdatasync per Ready. Same directory layout
// and record format as etcd's WAL (docs/storage.md):
//
//   member/wal/0000000000000000-0000000000000000.wal   seq 0, first index 0
//   member/wal/0000000000000001-0000000000000021.wal   seq 1, from index 0x21
//
// Life cycle: create() a new WAL, or open() one at a snapshot and
// read_all() it (which repairs a torn tail); then save() each Ready,
// save_snapshot() after each raft snapshot, release_to()/purge() old
// segments, close().
//
// Errors: expected failures (missing files, a snapshot marker not found,
// a write that fails) come back as Status values; corruption comes back
// as kDataLoss naming the file and byte offset, and the member must not
// start; a failed fdatasync/directory fsync PANICs, never retried.
//
// Owned by one thread (the server's Ready loop); not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/ids.h"
#include "base/log.h"
#include "base/status.h"
#include "env/file_system.h"
#include "raftpb/raft.pb.h"
#include "storage/wal/decoder.h"
#include "storage/wal/record.h"

namespace etcd::wal {

struct WalOptions {
  // A segment is preallocated to this size and cut once it is exceeded.
  // etcd's value (decimal megabytes); tests use small ones.
  uint64_t segment_size_bytes = 64 * 1000 * 1000;
  // purge() keeps at most this many segment files (0: no limit).
  size_t max_wals = 5;
  // Longer records are corruption (see record.h).
  uint64_t max_record_bytes = kDefaultMaxRecordBytes;
  // Un-synced saves are buffered; past this many bytes the page-aligned
  // part is written out (not synced) to bound the memory held.
  uint64_t flush_threshold_bytes = 256 * 1024;
  // Preallocate new segments by writing zeros instead of fallocate. Blocks
  // reserved by fallocate are "unwritten" extents: the first write into each
  // makes the next fdatasync commit the filesystem journal too, which on a
  // busy ext4 costs milliseconds (bench/fsync_probe, docs/storage.md).
  // Written zeros avoid that, at the price of writing each segment twice and
  // a slower cut. Off by default, as in etcd.
  bool zero_fill_segments = false;
  log::Logger* logger = nullptr;  // warnings (repairs) and segment cuts; may be null
};

class Wal {
 public:
  // Creates a WAL in `dir` (made with mode 0700 when missing) whose first
  // segment holds a CRC record, `metadata` and the empty snapshot marker
  // {0, 0}. The segment is written under a temporary name, synced, renamed
  // and the directory synced, so after a crash the WAL exists whole or not
  // at all. kAlreadyExists when `dir` already holds segments.
  static Result<std::unique_ptr<Wal>> create(env::FileSystem& fs, const std::string& dir,
                                             std::string_view metadata,
                                             const WalOptions& options = {});

  // Opens the WAL in `dir` for reading from `snap`: selects the last segment
  // whose first index is <= snap.index and every later one (their sequence
  // numbers must be consecutive). Fixes the modes of the directory (0700) and
  // its files (0600), as etcd does since CVE-2020-15113, and removes
  // leftover temporary segments. Call read_all() next.
  static Result<std::unique_ptr<Wal>> open(env::FileSystem& fs, const std::string& dir,
                                           WalSnapshot snap, const WalOptions& options = {});

  // True when `dir` holds at least one segment file.
  static bool exists(env::FileSystem& fs, const std::string& dir);

  // "%016x-%016x.wal".
  static std::string segment_name(uint64_t seq, uint64_t first_index);
  static bool parse_segment_name(std::string_view name, uint64_t* seq, uint64_t* first_index);

  ~Wal();  // releases the files without syncing: un-synced saves may be lost
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  // Reads every record from the snapshot on. Entries recorded before the
  // snapshot's marker are dropped when the log did not hold the snapshot's
  // (index, term) entry: Raft replaced that log with the snapshot. A torn
  // write at the end of the
  // last segment is cut off there (the segment first copied to
  // "<segment>.broken"); any other damage is kDataLoss naming the file and
  // offset. kNotFound when the snapshot's marker is not in the WAL. On
  // success the WAL appends after the last valid record.
  Result<WalContents> read_all();

  // Appends `entries` then `hard_state` (skipped when empty). With
  // `must_sync` everything saved so far is durable when this returns, with
  // one fdatasync; without it the records may be lost in a crash. Cuts to a
  // new segment (which syncs) once the current one exceeds the segment size.
  // kInvalidArgument, writing nothing, when an entry exceeds max_record_bytes.
  Status save(const raftpb::HardState& hard_state, std::span<const raftpb::Entry> entries,
              bool must_sync);
  // Records that a raft snapshot at (index, term) was saved; syncs.
  Status save_snapshot(const WalSnapshot& snap);
  // Makes every save so far durable.
  Status sync();

  // Lets purge() delete the segments wholly below `index` (a snapshot's
  // index): every segment before the one the WAL would be opened at for a
  // snapshot at `index` (kept, like etcd, one segment back).
  void release_to(Index index);
  // Deletes the oldest released segments while more than max_wals remain;
  // returns the names deleted.
  Result<std::vector<std::string>> purge();

  // Syncs and releases the files.
  Status close();

  const std::string& dir() const { return dir_; }
  // The segment being appended to, and the byte offset where the next
  // record goes (records still buffered included).
  std::string tail_path() const;
  uint64_t tail_offset() const { return file_offset_ + buf_.size(); }
  Index last_index() const { return last_index_; }
  const raftpb::HardState& hard_state() const { return state_; }

 private:
  enum class Mode { kReading, kAppending, kClosed };
  struct Segment {
    uint64_t seq;
    uint64_t first_index;
    std::string name;
  };

  Wal(env::FileSystem& fs, std::string dir, const WalOptions& options);

  Status check_appending() const;
  // Writes buffered records: all of them, or (page_aligned) only up to the
  // last page boundary so un-synced writes never share a sector.
  Status flush(bool page_aligned);
  Status ensure_allocated(uint64_t end);
  // Makes `f` at least `size` bytes of zeros past its end (zero_fill_segments
  // decides how).
  Status preallocate(env::File& f, uint64_t size) const;
  void sync_tail();
  Status cut();
  // Copies the segment to <name>.broken, truncates it at `end` and
  // re-zeroes it to its preallocated size, durably.
  Status repair_torn_tail(const Segment& seg, std::string_view bytes, uint64_t end,
                          const std::string& reason);
  void encode_state(const raftpb::HardState& hs, std::string* out, uint32_t* crc);

  env::FileSystem& fs_;
  const std::string dir_;
  const WalOptions options_;
  Mode mode_ = Mode::kReading;
  WalSnapshot start_;                // kReading: where read_all() starts
  std::string metadata_;             // written at the head of every segment
  raftpb::HardState state_;          // the last hard state saved, for new segments
  Index last_index_;                 // the last entry (or snapshot marker) index saved
  uint32_t crc_ = 0;                 // running CRC after the last record encoded
  std::vector<Segment> segments_;    // oldest first; back() is the tail
  uint64_t released_below_seq_ = 0;  // purge() may delete segments with smaller seq
  std::unique_ptr<env::File> tail_;
  uint64_t file_offset_ = 0;  // bytes of the tail segment written to the file
  uint64_t allocated_ = 0;    // the tail file's size
  std::string buf_;           // records encoded but not yet written
  std::string scratch_;       // one serialized entry
  bool failed_ = false;       // a write failed: the tail's contents are unknown
};

}  // namespace etcd::wal
