// Quorum arithmetic: committed index and vote outcome for a majority
// configuration and for a joint configuration (Raft thesis 4.3: during a
// joint configuration, agreement needs separate majorities of both halves).
// Pure functions of their inputs; no state beyond the member sets.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "raft/types.h"

namespace etcd::raft::quorum {

enum class VoteResult {
  kPending,  // neither won nor lost yet: more votes may decide it
  kLost,
  kWon,
};
const char* to_string(VoteResult r);

// Looks up the highest log index a voter is known to have persisted.
class AckedIndexer {
 public:
  virtual ~AckedIndexer() = default;
  virtual std::optional<uint64_t> acked_index(NodeId id) const = 0;
};

// A map-backed AckedIndexer (tests and simple callers).
class MapAckIndexer final : public AckedIndexer {
 public:
  explicit MapAckIndexer(std::map<NodeId, uint64_t> m) : m_(std::move(m)) {}
  std::optional<uint64_t> acked_index(NodeId id) const override;

 private:
  std::map<NodeId, uint64_t> m_;
};

class MajorityConfig {
 public:
  MajorityConfig() = default;
  explicit MajorityConfig(std::set<NodeId> ids) : ids_(std::move(ids)) {}

  const std::set<NodeId>& ids() const { return ids_; }
  std::set<NodeId>& mutable_ids() { return ids_; }
  bool empty() const { return ids_.empty(); }
  size_t size() const { return ids_.size(); }
  bool contains(NodeId id) const { return ids_.count(id) > 0; }

  // The largest index acknowledged by a majority. A voter with no known
  // index counts as 0. An empty configuration returns kNoLimit, so that a
  // joint configuration with an empty half behaves as its other half.
  uint64_t committed_index(const AckedIndexer& l) const;

  // Won when a majority voted yes, lost when a majority can no longer be
  // reached, pending otherwise. An empty configuration wins (by convention,
  // as above). `votes` maps voter -> granted; voters missing have not voted.
  VoteResult vote_result(const std::map<NodeId, bool>& votes) const;

  // "(1 2 3)", ids ascending, as etcd prints a majority config.
  std::string to_string() const;
  // The committed-index computation, one line per voter, for trace tests:
  // etcd's MajorityConfig.Describe format (index, a bar chart of how many
  // voters have at least that index, and the id), e.g.
  //        idx
  //   x>     5    (id=1)
  //   >      4    (id=2)
  std::string describe(const AckedIndexer& l) const;

  std::vector<NodeId> sorted() const { return {ids_.begin(), ids_.end()}; }

  bool operator==(const MajorityConfig&) const = default;

 private:
  std::set<NodeId> ids_;
};

// Two majority configurations; the second is non-empty only while joint.
class JointConfig {
 public:
  JointConfig() = default;
  JointConfig(MajorityConfig incoming, MajorityConfig outgoing)
      : incoming_(std::move(incoming)), outgoing_(std::move(outgoing)) {}

  MajorityConfig& incoming() { return incoming_; }
  const MajorityConfig& incoming() const { return incoming_; }
  MajorityConfig& outgoing() { return outgoing_; }
  const MajorityConfig& outgoing() const { return outgoing_; }
  bool joint() const { return !outgoing_.empty(); }

  // The union of both halves.
  std::set<NodeId> ids() const;
  bool contains(NodeId id) const { return incoming_.contains(id) || outgoing_.contains(id); }
  // The smaller of the two halves' committed indexes.
  uint64_t committed_index(const AckedIndexer& l) const;
  // Won only if both halves won; lost if either lost; pending otherwise.
  VoteResult vote_result(const std::map<NodeId, bool>& votes) const;
  // "(1 2 3)" or "(1 2 3)&&(1 2)" while joint, as etcd prints it.
  std::string to_string() const;
  std::string describe(const AckedIndexer& l) const;  // over ids()

  bool operator==(const JointConfig&) const = default;

 private:
  MajorityConfig incoming_;
  MajorityConfig outgoing_;
};

}  // namespace etcd::raft::quorum
