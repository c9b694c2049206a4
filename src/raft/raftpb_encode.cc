#include "raft/raftpb_encode.h"

#include <cstdint>

#include "base/encoding.h"

namespace etcd::raft::gogo {
namespace {

// Tags: field number << 3 | wire type (0 varint, 2 length-delimited).
constexpr uint8_t varint_tag(int field) { return static_cast<uint8_t>(field << 3); }
constexpr uint8_t bytes_tag(int field) { return static_cast<uint8_t>(field << 3 | 2); }

void put_varint(std::string* out, int field, uint64_t v) {
  out->push_back(static_cast<char>(varint_tag(field)));
  append_varint(out, v);
}

void put_bytes(std::string* out, int field, std::string_view b) {
  out->push_back(static_cast<char>(bytes_tag(field)));
  append_varint(out, b.size());
  out->append(b);
}

// Enum values are int32 in the message; etcd writes them as uint64(v), so
// a negative one (never valid) would take ten bytes, as there.
uint64_t enum_value(int v) { return static_cast<uint64_t>(static_cast<int64_t>(v)); }

size_t varint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

}  // namespace

void append(std::string* out, const raftpb::Entry& e) {
  put_varint(out, 1, enum_value(e.type()));
  put_varint(out, 2, e.term());
  put_varint(out, 3, e.index());
  if (!e.data().empty()) put_bytes(out, 4, e.data());
}

std::string encode(const raftpb::Entry& e) {
  std::string out;
  out.reserve(encoded_size(e));
  append(&out, e);
  return out;
}

size_t encoded_size(const raftpb::Entry& e) {
  size_t n = 3 + varint_size(enum_value(e.type())) + varint_size(e.term()) + varint_size(e.index());
  if (!e.data().empty()) n += 1 + varint_size(e.data().size()) + e.data().size();
  return n;
}

std::string encode(const raftpb::HardState& hs) {
  std::string out;
  put_varint(&out, 1, hs.term());
  put_varint(&out, 2, hs.vote());
  put_varint(&out, 3, hs.commit());
  return out;
}

std::string encode(const raftpb::ConfState& cs) {
  std::string out;
  for (uint64_t v : cs.voters()) put_varint(&out, 1, v);
  for (uint64_t v : cs.learners()) put_varint(&out, 2, v);
  for (uint64_t v : cs.voters_outgoing()) put_varint(&out, 3, v);
  for (uint64_t v : cs.learners_next()) put_varint(&out, 4, v);
  put_varint(&out, 5, cs.auto_leave() ? 1 : 0);
  return out;
}

std::string encode(const raftpb::SnapshotMetadata& m) {
  std::string out;
  put_bytes(&out, 1, encode(m.conf_state()));
  put_varint(&out, 2, m.index());
  put_varint(&out, 3, m.term());
  return out;
}

std::string encode(const raftpb::Snapshot& s) {
  std::string out;
  if (!s.data().empty()) put_bytes(&out, 1, s.data());
  put_bytes(&out, 2, encode(s.metadata()));
  return out;
}

std::string encode(const raftpb::ConfChange& cc) {
  std::string out;
  put_varint(&out, 1, cc.id());
  put_varint(&out, 2, enum_value(cc.type()));
  put_varint(&out, 3, cc.node_id());
  if (!cc.context().empty()) put_bytes(&out, 4, cc.context());
  return out;
}

std::string encode(const raftpb::ConfChangeSingle& c) {
  std::string out;
  put_varint(&out, 1, enum_value(c.type()));
  put_varint(&out, 2, c.node_id());
  return out;
}

std::string encode(const raftpb::ConfChangeV2& cc) {
  std::string out;
  put_varint(&out, 1, enum_value(cc.transition()));
  for (const raftpb::ConfChangeSingle& c : cc.changes()) put_bytes(&out, 2, encode(c));
  if (!cc.context().empty()) put_bytes(&out, 3, cc.context());
  return out;
}

}  // namespace etcd::raft::gogo
