// The .snap file format, as pure functions over bytes (the fuzzer calls
// them directly). Byte-compatible with etcd's snappb.snapshot:
//
//   field 1 (varint): crc  = CRC-32C of the data
//   field 2 (bytes):  data = a serialized raftpb::Snapshot
//
// docs/storage.md has the details.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "raftpb/raft.pb.h"

namespace etcd::snap {

std::string encode_snap_file(const raftpb::Snapshot& snapshot);

// kDataLoss for an empty file or empty data ("snap: empty snapshot"), a
// malformed envelope, a CRC mismatch ("snap: crc mismatch") or data that is
// not a raft snapshot. Lengths are checked against the bytes present before
// they are used: nothing is allocated from a length field.
Result<raftpb::Snapshot> decode_snap_file(std::string_view bytes);

}  // namespace etcd::snap
