// The peer transport of this build: it reaches no peer. Multi-member
// clusters (etcd's rafthttp on the peer port) are not built yet, so a
// member whose --initial-cluster names others cannot send them anything and
// can never reach a quorum. Rather than drop their messages in silence, it
// says so in the log, at warn level, every kWarnInterval per peer, for as
// long as messages to that peer are dropped.
//
// Thread: the raft thread (RaftNode's loop) calls send(); nothing else
// touches it.
#pragma once

#include <chrono>
#include <map>

#include "base/log.h"
#include "env/clock.h"
#include "server/raft_node.h"

namespace etcd::server {

class UnreachableTransport final : public Transport {
 public:
  static constexpr std::chrono::seconds kWarnInterval{5};

  UnreachableTransport(log::Logger& logger, env::Clock& clock) : logger_(logger), clock_(clock) {}

  void send(std::vector<raftpb::Message> msgs) override;

 private:
  log::Logger& logger_;
  env::Clock& clock_;
  // When each peer was last named in the log.
  std::map<uint64_t, std::chrono::steady_clock::time_point> warned_;
};

}  // namespace etcd::server
