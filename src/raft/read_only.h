// Linearizable read-only requests (Raft thesis 6.4). In safe mode the
// leader records its commit index for each request and answers once a
// quorum acknowledged a heartbeat carrying the request's context; in
// lease-based mode (needs check-quorum) it answers at once, trusting that
// no other leader can exist within its lease.
#pragma once

#include <deque>
#include <map>
#include <string>
#include <vector>

#include "raft/types.h"
#include "raftpb/raft.pb.h"

namespace etcd::raft {

enum class ReadOnlyOption { kSafe, kLeaseBased };

// A read request that may be served at `index` once the state machine has
// applied it. `request_ctx` is the caller's context.
struct ReadState {
  uint64_t index = 0;
  std::string request_ctx;
  bool operator==(const ReadState&) const = default;
};

struct ReadIndexStatus {
  raftpb::Message req;
  uint64_t index = 0;
  std::map<NodeId, bool> acks;
};

class ReadOnly {
 public:
  explicit ReadOnly(ReadOnlyOption option) : option_(option) {}

  ReadOnlyOption option() const { return option_; }
  // Records a request (its context is the first entry's data) with the
  // leader's commit index at arrival.
  void add_request(uint64_t index, const raftpb::Message& m);
  // Records a heartbeat acknowledgement for the request with `context`;
  // returns its acks, or nullptr for an unknown context.
  const std::map<NodeId, bool>* recv_ack(NodeId id, const std::string& context);
  // Dequeues every request up to and including the one with m's context.
  std::vector<ReadIndexStatus> advance(const raftpb::Message& m);
  // Context of the newest pending request ("" when none).
  std::string last_pending_request_ctx() const;
  size_t pending() const { return queue_.size(); }

 private:
  ReadOnlyOption option_;
  std::map<std::string, ReadIndexStatus> pending_;
  std::deque<std::string> queue_;  // contexts in arrival order
};

}  // namespace etcd::raft
