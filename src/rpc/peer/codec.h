// The byte encodings of etcd's peer protocol (rafthttp), for the peer
// transport of the cluster issue (docs/peer-protocol.md):
//   - the message encoding (message stream, head of a snapshot POST): an
//     8-byte big-endian length, then the marshalled raftpb.Message;
//   - the msgappv2 encoding (msgapp stream): a type byte, then a link
//     heartbeat (nothing), a whole MsgApp (length + message), or a MsgApp
//     whose term and index both sides know (entries + commit only).
// Decoders take bytes as they arrive: a call consumes one whole message
// from the front of the input, or nothing when it is not all there yet.
// Each encoder/decoder object belongs to one stream (one thread).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "raftpb/raft.pb.h"

namespace etcd::rpc::peer {

// etcd's readBytesLimit for a stream message.
inline constexpr uint64_t kMaxStreamMessageBytes = uint64_t{512} << 20;

// The msgappv2 stream's keep-alive: a MsgHeartbeat from 0 to 0, which is
// not a Raft message (never stepped).
raftpb::Message link_heartbeat();
bool is_link_heartbeat(const raftpb::Message& m);

void encode_message(const raftpb::Message& m, std::string* out);
// nullopt: more bytes are needed. kInvalidArgument: longer than `limit`,
// or not a message.
Result<std::optional<raftpb::Message>> decode_message(std::string_view* in,
                                                      uint64_t limit = kMaxStreamMessageBytes);

class MsgAppV2Encoder {
 public:
  void encode(const raftpb::Message& m, std::string* out);

 private:
  uint64_t term_ = 0;
  uint64_t index_ = 0;
};

class MsgAppV2Decoder {
 public:
  // `local` and `remote` fill the to/from of the short MsgApp form.
  MsgAppV2Decoder(uint64_t local, uint64_t remote) : local_(local), remote_(remote) {}
  Result<std::optional<raftpb::Message>> decode(std::string_view* in);

 private:
  const uint64_t local_;
  const uint64_t remote_;
  uint64_t term_ = 0;
  uint64_t index_ = 0;
};

}  // namespace etcd::rpc::peer
