#include "server/unreachable_transport.h"

#include "base/ids.h"

namespace etcd::server {

void UnreachableTransport::send(std::vector<raftpb::Message> msgs) {
  const auto now = clock_.now();
  for (const auto& m : msgs) {
    auto [it, first] = warned_.try_emplace(m.to(), now);
    if (!first && now - it->second < kWarnInterval) continue;
    it->second = now;
    // etcd's line for a peer it cannot send to.
    logger_.warn("peer became inactive (message send to peer failed)",
                 {{"peer-id", to_hex(MemberId(m.to()))},
                  {"error",
                   "this build has no peer transport: multi-member clusters are not implemented "
                   "yet (see docs/status.md), so this member cannot reach its peers or a quorum"}});
  }
}

}  // namespace etcd::server
