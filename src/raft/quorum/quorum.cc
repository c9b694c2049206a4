#include "raft/quorum/quorum.h"

#include <algorithm>
#include <string>
#include <vector>

namespace etcd::raft::quorum {

const char* to_string(VoteResult r) {
  switch (r) {
    case VoteResult::kPending:
      return "VotePending";
    case VoteResult::kLost:
      return "VoteLost";
    case VoteResult::kWon:
      return "VoteWon";
  }
  return "VoteResult(?)";
}

std::optional<uint64_t> MapAckIndexer::acked_index(NodeId id) const {
  auto it = m_.find(id);
  if (it == m_.end()) return std::nullopt;
  return it->second;
}

namespace {

// "(1 2 3)" for any ascending range of ids.
std::string format_ids(const std::set<NodeId>& ids) {
  std::string out = "(";
  bool first = true;
  for (NodeId id : ids) {
    if (!first) out += ' ';
    first = false;
    out += std::to_string(id);
  }
  out += ')';
  return out;
}

// The smallest number of voters that forms a majority of `n` voters.
size_t majority_of(size_t n) { return n / 2 + 1; }

}  // namespace

uint64_t MajorityConfig::committed_index(const AckedIndexer& l) const {
  if (ids_.empty()) return kNoLimit;

  // Voters that have not reported an index count as 0: they may still do so.
  std::vector<uint64_t> acked;
  acked.reserve(ids_.size());
  for (NodeId id : ids_) acked.push_back(l.acked_index(id).value_or(0));
  std::sort(acked.begin(), acked.end());

  // Counted from the top of the ascending list, the majority-th entry is the
  // highest index that at least a majority of voters has acknowledged.
  return acked[acked.size() - majority_of(acked.size())];
}

VoteResult MajorityConfig::vote_result(const std::map<NodeId, bool>& votes) const {
  if (ids_.empty()) return VoteResult::kWon;

  size_t granted = 0;
  size_t missing = 0;
  for (NodeId id : ids_) {
    auto it = votes.find(id);
    if (it == votes.end()) {
      ++missing;
    } else if (it->second) {
      ++granted;
    }
  }
  const size_t needed = majority_of(ids_.size());
  if (granted >= needed) return VoteResult::kWon;
  if (granted + missing >= needed) return VoteResult::kPending;
  return VoteResult::kLost;
}

std::string MajorityConfig::to_string() const { return format_ids(ids_); }

std::string MajorityConfig::describe(const AckedIndexer& l) const {
  if (ids_.empty()) return "<empty majority quorum>";

  struct Row {
    NodeId id;
    uint64_t index;
    bool known;
    size_t bar = 0;
  };
  std::vector<Row> rows;
  rows.reserve(ids_.size());
  for (NodeId id : ids_) {
    std::optional<uint64_t> idx = l.acked_index(id);
    rows.push_back(Row{id, idx.value_or(0), idx.has_value()});
  }

  // The bar of a row is its position in the (index, id) order, but only when
  // its index is strictly above the previous row's; a row that ties with its
  // predecessor keeps a zero-length bar (etcd prints it that way).
  std::vector<Row*> by_index;
  by_index.reserve(rows.size());
  for (Row& r : rows) by_index.push_back(&r);
  std::sort(by_index.begin(), by_index.end(), [](const Row* a, const Row* b) {
    return a->index != b->index ? a->index < b->index : a->id < b->id;
  });
  for (size_t i = 1; i < by_index.size(); ++i) {
    if (by_index[i - 1]->index < by_index[i]->index) by_index[i]->bar = i;
  }

  const size_t n = rows.size();
  std::string out(n, ' ');
  out += "    idx\n";
  for (const Row& r : rows) {  // ids ascending
    if (r.known) {
      out += std::string(r.bar, 'x');
      out += '>';
      out += std::string(n - r.bar, ' ');
    } else {
      out += '?';
      out += std::string(n, ' ');
    }
    std::string idx = std::to_string(r.index);
    out += ' ';
    if (idx.size() < 5) out += std::string(5 - idx.size(), ' ');
    out += idx;
    out += "    (id=" + std::to_string(r.id) + ")\n";
  }
  return out;
}

std::set<NodeId> JointConfig::ids() const {
  std::set<NodeId> all = incoming_.ids();
  all.insert(outgoing_.ids().begin(), outgoing_.ids().end());
  return all;
}

uint64_t JointConfig::committed_index(const AckedIndexer& l) const {
  return std::min(incoming_.committed_index(l), outgoing_.committed_index(l));
}

VoteResult JointConfig::vote_result(const std::map<NodeId, bool>& votes) const {
  const VoteResult in = incoming_.vote_result(votes);
  const VoteResult out = outgoing_.vote_result(votes);
  if (in == VoteResult::kLost || out == VoteResult::kLost) return VoteResult::kLost;
  if (in == VoteResult::kWon && out == VoteResult::kWon) return VoteResult::kWon;
  return VoteResult::kPending;
}

std::string JointConfig::to_string() const {
  if (outgoing_.empty()) return incoming_.to_string();
  return incoming_.to_string() + "&&" + outgoing_.to_string();
}

std::string JointConfig::describe(const AckedIndexer& l) const {
  return MajorityConfig(ids()).describe(l);
}

}  // namespace etcd::raft::quorum
