#include "rpc/peer/codec.h"

#include "base/encoding.h"

namespace etcd::rpc::peer {
namespace {

constexpr uint8_t kTypeLinkHeartbeat = 0;
constexpr uint8_t kTypeAppEntries = 1;
constexpr uint8_t kTypeApp = 2;

// Reads from a copy of the input; commit() consumes what was read.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool u8(uint8_t* v) {
    if (in_.size() - pos_ < 1) return false;
    *v = static_cast<uint8_t>(in_[pos_++]);
    return true;
  }
  bool u64(uint64_t* v) {
    if (in_.size() - pos_ < 8) return false;
    *v = get_u64_be(in_.substr(pos_, 8));
    pos_ += 8;
    return true;
  }
  bool bytes(uint64_t n, std::string_view* out) {
    if (in_.size() - pos_ < n) return false;
    *out = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  void commit(std::string_view* in) const { in->remove_prefix(pos_); }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace

raftpb::Message link_heartbeat() {
  raftpb::Message m;
  m.set_type(raftpb::MsgHeartbeat);
  return m;
}

bool is_link_heartbeat(const raftpb::Message& m) {
  return m.type() == raftpb::MsgHeartbeat && m.from() == 0 && m.to() == 0;
}

void encode_message(const raftpb::Message& m, std::string* out) {
  const std::string body = m.SerializeAsString();
  append_u64_be(out, body.size());
  out->append(body);
}

Result<std::optional<raftpb::Message>> decode_message(std::string_view* in, uint64_t limit) {
  Reader r(*in);
  uint64_t n = 0;
  if (!r.u64(&n)) return std::optional<raftpb::Message>();
  if (n > limit) return invalid_argument("rafthttp: error limit exceeded");
  std::string_view body;
  if (!r.bytes(n, &body)) return std::optional<raftpb::Message>();
  raftpb::Message m;
  if (!m.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return invalid_argument("rafthttp: a raft message does not decode");
  }
  r.commit(in);
  return std::optional<raftpb::Message>(std::move(m));
}

void MsgAppV2Encoder::encode(const raftpb::Message& m, std::string* out) {
  if (is_link_heartbeat(m)) {
    out->push_back(static_cast<char>(kTypeLinkHeartbeat));
    return;
  }
  if (index_ == m.index() && term_ == m.log_term() && m.log_term() == m.term()) {
    out->push_back(static_cast<char>(kTypeAppEntries));
    append_u64_be(out, static_cast<uint64_t>(m.entries_size()));
    for (const auto& e : m.entries()) {
      const std::string body = e.SerializeAsString();
      append_u64_be(out, body.size());
      out->append(body);
      ++index_;
    }
    append_u64_be(out, m.commit());
    return;
  }
  out->push_back(static_cast<char>(kTypeApp));
  encode_message(m, out);
  term_ = m.term();
  index_ = m.entries_size() > 0 ? m.entries(m.entries_size() - 1).index() : m.index();
}

Result<std::optional<raftpb::Message>> MsgAppV2Decoder::decode(std::string_view* in) {
  Reader r(*in);
  const std::optional<raftpb::Message> more;
  uint8_t type = 0;
  if (!r.u8(&type)) return more;
  switch (type) {
    case kTypeLinkHeartbeat:
      r.commit(in);
      return std::optional<raftpb::Message>(link_heartbeat());
    case kTypeAppEntries: {
      raftpb::Message m;
      m.set_type(raftpb::MsgApp);
      m.set_from(remote_);
      m.set_to(local_);
      m.set_term(term_);
      m.set_log_term(term_);
      m.set_index(index_);
      uint64_t count = 0;
      if (!r.u64(&count)) return more;
      for (uint64_t i = 0; i < count; ++i) {
        uint64_t n = 0;
        std::string_view body;
        if (!r.u64(&n)) return more;
        if (n > kMaxStreamMessageBytes) return invalid_argument("rafthttp: error limit exceeded");
        if (!r.bytes(n, &body)) return more;
        if (!m.add_entries()->ParseFromArray(body.data(), static_cast<int>(body.size()))) {
          return invalid_argument("rafthttp: an entry in the msgappv2 stream does not decode");
        }
      }
      uint64_t commit = 0;
      if (!r.u64(&commit)) return more;
      m.set_commit(commit);
      r.commit(in);
      index_ += count;
      return std::optional<raftpb::Message>(std::move(m));
    }
    case kTypeApp: {
      std::string_view rest = in->substr(1);
      auto decoded = decode_message(&rest);
      if (!decoded.is_ok() || !decoded->has_value()) return decoded;
      const raftpb::Message& m = **decoded;
      term_ = m.term();
      index_ = m.entries_size() > 0 ? m.entries(m.entries_size() - 1).index() : m.index();
      in->remove_prefix(in->size() - rest.size());
      return decoded;
    }
    default:
      return invalid_argument("failed to parse type " + std::to_string(type) +
                              " in msgappv2 stream");
  }
}

}  // namespace etcd::rpc::peer
