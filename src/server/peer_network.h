// The seam between a member and its peers. The server sees the peer
// network only through PeerNetwork (a Transport that also tracks the
// members to reach); the network sees the server only through PeerHost.
// Production's implementation is etcd's rafthttp over HTTP/1.1
// (src/rpc/peer/transport.h); a member built without one (unit tests)
// uses LonePeerNetwork, which reaches nobody.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/ids.h"
#include "base/status.h"
#include "server/ready_loop.h"

namespace etcd::server {

// A plain HTTP answer from one of the member's own endpoints on the peer
// port (/members, /version, /leases, ...).
struct PeerHttpReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // The answer's X-Etcd-Cluster-ID (calls made with PeerHttpCall).
  std::string cluster_id;
};

// A db image being sent to a peer with a snapshot: read in pieces.
class SnapshotSource {
 public:
  virtual ~SnapshotSource() = default;
  // The next piece (empty at the end), or an error.
  virtual Result<std::string> next() = 0;
};

// What the peer network calls on the member. Every method is thread-safe
// and quick (none waits for Raft), except http(), which the network runs
// off its I/O thread.
class PeerHost {
 public:
  virtual ~PeerHost() = default;
  // A message from a peer, for Raft.
  virtual void process(raftpb::Message m) = 0;
  virtual bool is_removed(MemberId id) = 0;
  virtual void report_unreachable(MemberId id) = 0;
  virtual void report_snapshot(MemberId id, bool failed) = 0;
  // A peer answered that this member was removed from the cluster.
  virtual void removed_from_cluster() = 0;
  // The backend image to send after a MsgSnap.
  virtual Result<std::unique_ptr<SnapshotSource>> open_snapshot() = 0;
  // Where a received snapshot's db image is written (etcd's
  // snap/<index as %016x>.snap.db).
  virtual std::string snapshot_db_path(uint64_t index) = 0;
  // The member's other endpoints on the peer port.
  virtual PeerHttpReply http(const std::string& method, const std::string& target,
                             const std::string& body) = 0;
};

class PeerNetwork : public Transport {
 public:
  virtual void start() = 0;
  // Stops sending and serving; idempotent.
  virtual void stop() = 0;
  // The members to reach, as membership changes (any thread).
  virtual void add_peer(MemberId id, const std::vector<std::string>& urls) = 0;
  virtual void remove_peer(MemberId id) = 0;
  virtual void update_peer(MemberId id, const std::vector<std::string>& urls) = 0;
  // Since when some stream to the peer has been up; nullopt while none is
  // (etcd's ActiveSince).
  virtual std::optional<std::chrono::steady_clock::time_point> active_since(MemberId id) = 0;
};

// What a PeerNetwork is built from: this member, its cluster and its host.
// A member with no peer to reach (unit tests, and members built without a
// network): drops every message.
class LonePeerNetwork final : public PeerNetwork {
 public:
  void send(std::vector<raftpb::Message>) override {}
  void start() override {}
  void stop() override {}
  void add_peer(MemberId, const std::vector<std::string>&) override {}
  void remove_peer(MemberId) override {}
  void update_peer(MemberId, const std::vector<std::string>&) override {}
  std::optional<std::chrono::steady_clock::time_point> active_since(MemberId) override {
    return std::nullopt;
  }
};

struct PeerNetworkContext {
  MemberId local;
  uint64_t cluster_id = 0;
  PeerHost* host = nullptr;
};
using PeerNetworkFactory =
    std::function<Result<std::unique_ptr<PeerNetwork>>(const PeerNetworkContext&)>;

// One HTTP request to a member's peer URL (`url` is "http://host:port"),
// for what is not Raft traffic: a joining member's /members, a peer's
// /version, lease requests forwarded to the leader. Blocks the caller up
// to `timeout`; kUnavailable when the peer cannot be reached.
using PeerHttpCall = std::function<Result<PeerHttpReply>(
    const std::string& url, const std::string& method, const std::string& target,
    const std::string& body, std::chrono::milliseconds timeout)>;

// What a member needs to talk to its peers; empty members make a member
// that reaches nobody (unit tests).
struct PeerWiring {
  PeerNetworkFactory network;
  PeerHttpCall http;
};

}  // namespace etcd::server
