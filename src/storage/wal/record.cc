#include "storage/wal/record.h"

#include <algorithm>
#include <cstring>

#include "base/crc32c.h"
#include "base/encoding.h"

namespace etcd::wal {
namespace {

constexpr uint8_t kTagType = 0x08;  // field 1, varint
constexpr uint8_t kTagCrc = 0x10;   // field 2, varint
constexpr uint8_t kTagData = 0x1a;  // field 3, length-delimited
constexpr uint64_t kLengthMask = (uint64_t{1} << 56) - 1;

bool all_zero(std::string_view b, uint64_t begin, uint64_t end) {
  const char* p = b.data() + begin;
  const char* e = b.data() + end;
  while (p < e && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    if (*p++ != 0) return false;
  }
  while (e - p >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    if (w != 0) return false;
    p += 8;
  }
  while (p < e) {
    if (*p++ != 0) return false;
  }
  return true;
}

// True when some sector-aligned piece of [begin, end) is all zero: that
// sector of the write never reached the disk.
bool has_zero_sector_piece(std::string_view b, uint64_t begin, uint64_t end) {
  uint64_t pos = begin;
  while (pos < end) {
    uint64_t piece_end = std::min(end, (pos / kSectorBytes + 1) * kSectorBytes);
    if (all_zero(b, pos, piece_end)) return true;
    pos = piece_end;
  }
  return false;
}

bool known_type(int64_t t) {
  return t >= static_cast<int64_t>(RecordType::kMetadata) &&
         t <= static_cast<int64_t>(RecordType::kSnapshot);
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

void append_frame(std::string* out, std::string_view body_prefix, std::string_view data,
                  bool with_data) {
  uint64_t record_bytes = body_prefix.size();
  if (with_data) {
    std::string len;
    append_varint(&len, data.size());
    record_bytes += 1 + len.size() + data.size();
  }
  uint64_t field = encode_length_field(record_bytes);
  uint8_t header[8];
  put_u64_le(header, field);
  out->append(reinterpret_cast<const char*>(header), 8);
  out->append(body_prefix);
  if (with_data) {
    out->push_back(static_cast<char>(kTagData));
    append_varint(out, data.size());
    out->append(data);
  }
  out->append(decode_length_field(field)->pad_bytes, '\0');
}

}  // namespace

uint64_t encode_length_field(uint64_t record_bytes) {
  ASSERT(record_bytes <= kLengthMask, "record too large to frame");
  uint64_t pad = (8 - record_bytes % 8) % 8;
  uint64_t field = record_bytes;
  if (pad != 0) field |= (0x80 | pad) << 56;
  return field;
}

std::optional<FrameSize> decode_length_field(uint64_t field) {
  FrameSize fs;
  fs.record_bytes = field & kLengthMask;
  uint64_t top = field >> 56;
  if (top != 0) {
    // Only 0x80 | pad (pad 1..7) is ever written.
    if ((top & 0x80) == 0 || (top & 0x78) != 0 || (top & 0x07) == 0) return std::nullopt;
    fs.pad_bytes = top & 0x07;
  }
  if ((fs.record_bytes + fs.pad_bytes) % 8 != 0) return std::nullopt;
  return fs;
}

void append_record(std::string* out, RecordType type, std::string_view data, uint32_t* crc) {
  ASSERT(type != RecordType::kCrc, "use append_crc_record");
  *crc = crc32c::extend(*crc, data.data(), data.size());
  std::string prefix;
  prefix.push_back(static_cast<char>(kTagType));
  append_varint(&prefix, static_cast<uint64_t>(type));
  prefix.push_back(static_cast<char>(kTagCrc));
  append_varint(&prefix, *crc);
  append_frame(out, prefix, data, /*with_data=*/true);
}

void append_crc_record(std::string* out, uint32_t crc) {
  std::string prefix;
  prefix.push_back(static_cast<char>(kTagType));
  append_varint(&prefix, static_cast<uint64_t>(RecordType::kCrc));
  prefix.push_back(static_cast<char>(kTagCrc));
  append_varint(&prefix, crc);
  append_frame(out, prefix, {}, /*with_data=*/false);
}

std::optional<RecordView> parse_record_body(std::string_view body) {
  RecordView rec;
  bool seen_type = false;
  bool seen_crc = false;
  bool seen_data = false;
  size_t pos = 0;
  while (pos < body.size()) {
    uint64_t tag;
    if (!read_varint(body, &pos, &tag)) return std::nullopt;
    uint64_t v;
    if (tag == kTagType && !seen_type) {
      if (!read_varint(body, &pos, &v)) return std::nullopt;
      rec.type = static_cast<int64_t>(v);
      seen_type = true;
    } else if (tag == kTagCrc && !seen_crc) {
      if (!read_varint(body, &pos, &v) || v > UINT32_MAX) return std::nullopt;
      rec.crc = static_cast<uint32_t>(v);
      seen_crc = true;
    } else if (tag == kTagData && !seen_data) {
      // The length is checked against the bytes present before it is used.
      if (!read_varint(body, &pos, &v) || v > body.size() - pos) return std::nullopt;
      rec.data = body.substr(pos, v);
      pos += v;
      seen_data = true;
    } else {
      return std::nullopt;
    }
  }
  if (!seen_type || !seen_crc) return std::nullopt;
  return rec;
}

Result<SegmentScan> scan_segment(std::string_view b, uint32_t prev_crc, bool last_segment,
                                 uint64_t max_record_bytes) {
  SegmentScan out;
  out.crc = prev_crc;
  const uint64_t size = b.size();
  uint64_t pos = 0;

  auto corrupt = [](uint64_t offset, const std::string& why) -> Status {
    return data_loss("corrupt record at offset " + std::to_string(offset) + ": " + why);
  };
  // A torn write cannot hit a segment's first record: it is synced before
  // the segment gets its name.
  auto torn = [&](const std::string& why) -> Result<SegmentScan> {
    if (out.records.empty()) return corrupt(pos, why + " in the segment's first record");
    out.torn = true;
    out.torn_reason = "torn write at offset " + std::to_string(pos) + ": " + why;
    out.end_offset = pos;
    return std::move(out);
  };

  while (pos < size) {
    const uint64_t remaining = size - pos;
    if (remaining < kFrameHeaderBytes) {
      if (all_zero(b, pos, size)) break;
      if (last_segment) return torn("length field cut short by the end of the file");
      return corrupt(pos, "length field cut short by the end of the file");
    }
    const uint64_t field = get_u64_le(reinterpret_cast<const uint8_t*>(b.data() + pos));
    if (field == 0) {
      // The end of the records, if only preallocated zeros follow.
      if (all_zero(b, pos + kFrameHeaderBytes, size)) break;
      if (!last_segment) return corrupt(pos, "zero length field followed by data");
      // A sector is written whole: a zero length field next to data in its
      // own sector was written that way, which no crash explains.
      uint64_t sector_end = std::min(size, (pos / kSectorBytes + 1) * kSectorBytes);
      if (!all_zero(b, pos, sector_end)) {
        return corrupt(pos, "zero length field in a sector holding data");
      }
      return torn("unwritten sector followed by data");
    }
    auto frame = decode_length_field(field);
    if (!frame) return corrupt(pos, "malformed length field " + hex(field));
    // Validated before anything is read or allocated (CVE-2020-15106/15112).
    if (frame->record_bytes > max_record_bytes) {
      return corrupt(pos, "record length " + std::to_string(frame->record_bytes) +
                              " exceeds the maximum " + std::to_string(max_record_bytes));
    }
    const uint64_t frame_bytes = kFrameHeaderBytes + frame->record_bytes + frame->pad_bytes;
    if (frame_bytes > remaining) {
      // In the last segment this is a file-extending write the crash cut
      // short; elsewhere the segment was complete when it was closed.
      if (last_segment) return torn("record cut short by the end of the file");
      return corrupt(pos, "record length " + std::to_string(frame->record_bytes) + " exceeds the " +
                              std::to_string(remaining - kFrameHeaderBytes) +
                              " bytes left in the file");
    }
    const uint64_t body_begin = pos + kFrameHeaderBytes;
    const uint64_t body_end = body_begin + frame->record_bytes;
    std::string why;
    uint32_t next_crc = out.crc;
    auto rec = parse_record_body(b.substr(body_begin, frame->record_bytes));
    if (!rec) {
      why = "malformed record";
    } else if (!all_zero(b, body_end, pos + frame_bytes)) {
      why = "non-zero padding";
    } else if (rec->type == static_cast<int64_t>(RecordType::kCrc)) {
      if (!rec->data.empty()) {
        why = "crc record with data";
      } else if (out.crc != 0 && rec->crc != out.crc) {
        return corrupt(pos, "crc record carries " + hex(rec->crc) + " but the running crc is " +
                                hex(out.crc) + ": the segment does not continue the previous one");
      } else {
        next_crc = rec->crc;
      }
    } else {
      next_crc = crc32c::extend(out.crc, rec->data.data(), rec->data.size());
      if (next_crc != rec->crc) {
        why = "crc mismatch (stored " + hex(rec->crc) + ", computed " + hex(next_crc) + ")";
      } else if (!known_type(rec->type)) {
        return corrupt(pos, "unknown record type " + std::to_string(rec->type));
      }
    }
    if (!why.empty()) {
      if (last_segment) {
        // A sector of the record never reached the disk...
        if (has_zero_sector_piece(b, body_begin, pos + frame_bytes)) {
          return torn(why + " in a partly written record");
        }
        // ...or the record is the last thing written: nothing follows it.
        if (all_zero(b, pos + frame_bytes, size)) return torn(why + " in the last record");
      }
      return corrupt(pos, why);
    }
    const auto type = static_cast<RecordType>(rec->type);
    if (out.records.empty() && type != RecordType::kCrc) {
      return corrupt(pos, "segment does not start with a crc record");
    }
    out.records.push_back({type, rec->data, pos});
    out.crc = next_crc;
    pos += frame_bytes;
  }
  if (out.records.empty()) return corrupt(0, "segment holds no records");
  out.end_offset = pos;
  return out;
}

}  // namespace etcd::wal
