// Replays WAL segment images into what a restarting member needs: the
// metadata, the last hard state and the log after a snapshot. Pure (no I/O):
// Wal::read_all feeds it the files, the fuzzer feeds it arbitrary bytes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/ids.h"
#include "base/status.h"
#include "raftpb/raft.pb.h"
#include "storage/wal/record.h"

namespace etcd::wal {

// A snapshot marker: the raft snapshot at (index, term) was saved.
struct WalSnapshot {
  Index index;
  Term term;
  bool operator==(const WalSnapshot&) const = default;
};

struct WalContents {
  std::string metadata;
  raftpb::HardState hard_state;
  // The entries after the snapshot the WAL was opened at, in index order
  // (later records replace conflicting earlier ones, as in a Raft log).
  std::vector<raftpb::Entry> entries;
};

// Record payloads, strictly: bytes that do not parse, or that carry fields
// the message does not have, are rejected.
std::string encode_snapshot_marker(const WalSnapshot& snap);
bool decode_snapshot_marker(std::string_view data, WalSnapshot* out);
bool decode_entry(std::string_view data, raftpb::Entry* out);
bool decode_hard_state(std::string_view data, raftpb::HardState* out);

class Replayer {
 public:
  explicit Replayer(WalSnapshot start, uint64_t max_record_bytes = kDefaultMaxRecordBytes)
      : start_(start), max_record_bytes_(max_record_bytes) {}

  // Scans one segment (in sequence order) and applies its records. Errors
  // (kDataLoss for corruption) are prefixed with `name`. The scan tells where
  // the segment's valid records end and whether its tail is torn.
  Result<SegmentScan> feed(std::string_view name, std::string_view bytes, bool last_segment);

  // After the last segment: kNotFound unless the start marker was seen.
  Status finish() const;

  WalContents& contents() { return contents_; }
  // The index of the last entry record read (0 when none).
  Index last_index() const { return last_index_; }
  // The running CRC after the last record read.
  uint32_t crc() const { return crc_; }

 private:
  const WalSnapshot start_;
  const uint64_t max_record_bytes_;
  WalContents contents_;
  bool have_metadata_ = false;
  bool snapshot_found_ = false;
  // The term of the entry at the start index as the records so far leave
  // it (0: none, or truncated away).
  uint64_t start_entry_term_ = 0;
  Index last_index_;
  uint32_t crc_ = 0;
};

}  // namespace etcd::wal
