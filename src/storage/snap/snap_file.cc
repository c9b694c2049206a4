#include "storage/snap/snap_file.h"

#include <cstdint>

#include "base/crc32c.h"
#include "base/encoding.h"
#include "raft/raftpb_encode.h"

namespace etcd::snap {
namespace {

constexpr uint8_t kTagCrc = 0x08;   // field 1, varint
constexpr uint8_t kTagData = 0x12;  // field 2, length-delimited

}  // namespace

std::string encode_snap_file(const raftpb::Snapshot& snapshot) {
  std::string data = raft::gogo::encode(snapshot);  // etcd's bytes
  std::string out;
  out.reserve(data.size() + 16);
  out.push_back(static_cast<char>(kTagCrc));
  append_varint(&out, crc32c::value(data));
  out.push_back(static_cast<char>(kTagData));
  append_varint(&out, data.size());
  out.append(data);
  return out;
}

Result<raftpb::Snapshot> decode_snap_file(std::string_view bytes) {
  if (bytes.empty()) return data_loss("snap: empty snapshot");
  uint64_t crc = 0;
  std::string_view data;
  bool seen_crc = false;
  bool seen_data = false;
  size_t pos = 0;
  while (pos < bytes.size()) {
    uint64_t tag;
    uint64_t v;
    if (!read_varint(bytes, &pos, &tag)) return data_loss("snap: malformed file");
    if (tag == kTagCrc && !seen_crc) {
      if (!read_varint(bytes, &pos, &v) || v > UINT32_MAX) return data_loss("snap: malformed crc");
      crc = v;
      seen_crc = true;
    } else if (tag == kTagData && !seen_data) {
      if (!read_varint(bytes, &pos, &v) || v > bytes.size() - pos) {
        return data_loss("snap: data length beyond the end of the file");
      }
      data = bytes.substr(pos, v);
      pos += v;
      seen_data = true;
    } else {
      return data_loss("snap: unexpected field in file");
    }
  }
  // etcd treats a zero CRC or no data as an empty snapshot too.
  if (data.empty() || crc == 0) return data_loss("snap: empty snapshot");
  if (crc32c::value(data) != crc) return data_loss("snap: crc mismatch");
  raftpb::Snapshot snapshot;
  if (data.size() > static_cast<size_t>(INT32_MAX) ||
      !snapshot.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
    return data_loss("snap: data is not a raft snapshot");
  }
  return snapshot;
}

}  // namespace etcd::snap
