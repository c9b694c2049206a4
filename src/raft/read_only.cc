#include "raft/read_only.h"

namespace etcd::raft {

void ReadOnly::add_request(uint64_t index, const raftpb::Message& m) {
  const std::string& ctx = m.entries(0).data();
  if (pending_.count(ctx) > 0) return;
  pending_[ctx] = ReadIndexStatus{m, index, {}};
  queue_.push_back(ctx);
}

const std::map<NodeId, bool>* ReadOnly::recv_ack(NodeId id, const std::string& context) {
  auto it = pending_.find(context);
  if (it == pending_.end()) return nullptr;
  it->second.acks[id] = true;
  return &it->second.acks;
}

std::vector<ReadIndexStatus> ReadOnly::advance(const raftpb::Message& m) {
  const std::string& ctx = m.context();
  size_t n = 0;
  bool found = false;
  for (const auto& c : queue_) {
    ++n;
    if (c == ctx) {
      found = true;
      break;
    }
  }
  std::vector<ReadIndexStatus> out;
  if (!found) return out;
  for (size_t i = 0; i < n; ++i) {
    auto it = pending_.find(queue_.front());
    out.push_back(std::move(it->second));
    pending_.erase(it);
    queue_.pop_front();
  }
  return out;
}

std::string ReadOnly::last_pending_request_ctx() const {
  return queue_.empty() ? std::string() : queue_.back();
}

}  // namespace etcd::raft
