// The WAL's on-disk record format: framing, the record envelope and the
// scan of one segment image with its torn-write rules. Pure functions over
// byte buffers (no I/O), so the fuzzers and the tests drive them directly.
// docs/storage.md describes the format byte by byte; it is etcd's, so a
// data dir written by etcd 3.4/3.5 reads here and the other way round.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace etcd::wal {

enum class RecordType : int64_t {
  kMetadata = 1,  // opaque bytes from the creator (etcd: member and cluster id)
  kEntry = 2,     // a raftpb::Entry
  kState = 3,     // a raftpb::HardState
  kCrc = 4,       // the running CRC carried into a new segment
  kSnapshot = 5,  // a walpb::Snapshot marker
};

// Every frame starts with an 8-byte little-endian length field.
inline constexpr uint64_t kFrameHeaderBytes = 8;
// Torn writes are judged per sector: a sector reaches the disk whole or not
// at all, so a record with an all-zero sector was never completely written.
inline constexpr uint64_t kSectorBytes = 512;
// Un-synced flushes end on page boundaries (a multiple of the sector), so two
// un-synced writes never share a sector and the sector rule stays sound.
inline constexpr uint64_t kPageBytes = 8 * kSectorBytes;
// etcd's limit too: raft messages are at most a few MB, so a longer record
// is a corrupt length field, refused before anything is read or allocated
// (etcd CVE-2020-15106/15112).
inline constexpr uint64_t kDefaultMaxRecordBytes = 10 * 1024 * 1024;

// The length field: the record's byte count in the low 56 bits; when the
// record is padded to 8 bytes, the top byte is 0x80 | pad_bytes.
uint64_t encode_length_field(uint64_t record_bytes);
struct FrameSize {
  uint64_t record_bytes = 0;
  uint64_t pad_bytes = 0;
};
// nullopt when the field is not one encode_length_field() can produce.
std::optional<FrameSize> decode_length_field(uint64_t field);

// Appends one framed record (length field, envelope, zero padding) and
// advances the running CRC over `data`. For kCrc use append_crc_record.
void append_record(std::string* out, RecordType type, std::string_view data, uint32_t* crc);
// Appends a CRC record carrying `crc`, the running CRC so far.
void append_crc_record(std::string* out, uint32_t crc);

// The envelope: protobuf fields 1 (type, varint), 2 (crc, varint) and
// 3 (data, bytes). Strict: unknown or repeated fields, truncated varints and
// lengths beyond the body are malformed (nullopt).
struct RecordView {
  int64_t type = 0;
  uint32_t crc = 0;
  std::string_view data;
};
std::optional<RecordView> parse_record_body(std::string_view body);

struct ScannedRecord {
  RecordType type;
  std::string_view data;  // into the scanned buffer
  uint64_t offset;        // of the frame in its segment
};

struct SegmentScan {
  std::vector<ScannedRecord> records;
  // The first byte after the last valid record: where appending resumes.
  uint64_t end_offset = 0;
  // True when the tail after end_offset is a torn write (last segment only).
  bool torn = false;
  std::string torn_reason;
  // The running CRC after the last valid record.
  uint32_t crc = 0;
};

// Scans one segment image, verifying the CRC chain from `prev_crc` (0 for
// the first segment read, which accepts whatever its CRC record carries).
// Rules (docs/storage.md, "Torn writes"):
//   - every segment starts with a CRC record and holds at least one record;
//   - records end at the end of the file or at a zero length field followed
//     only by zeros (the preallocated space);
//   - in the last segment these are a torn write, and the scan stops there
//     with torn = true: a record that fails and has an all-zero sector
//     piece, or is followed only by zeros; a record or length field cut
//     short by the end of the file; a zero length field whose sector is
//     otherwise zero but with data further on;
//   - anything else that fails is corruption: kDataLoss naming the byte
//     offset and the reason. This includes a bad CRC followed by non-zero
//     data, any failure in a segment that is not the last, an unknown type
//     in a record whose CRC is valid, a CRC record that does not continue the
//     chain, a malformed length field, and a length above max_record_bytes.
Result<SegmentScan> scan_segment(std::string_view bytes, uint32_t prev_crc, bool last_segment,
                                 uint64_t max_record_bytes = kDefaultMaxRecordBytes);

}  // namespace etcd::wal
