// The peer transport: etcd's rafthttp over HTTP/1.1 (docs/peer-protocol.md),
// wire-compatible with etcd 3.4/3.5, so members of ours and etcd's form one
// cluster.
//
// For each peer it keeps:
//   - two stream readers: this member GETs /raft/stream/msgappv2/<self> and
//     /raft/stream/message/<self> on the peer and steps what the peer writes
//     there into Raft;
//   - two stream writers: the peer's own GETs on our port, on which this
//     member writes the messages addressed to it (MsgApp on msgappv2, every
//     other message on message), with a link heartbeat when idle;
//   - a pipeline (POST /raft, one message per request) for when no stream
//     to the peer is up;
//   - snapshot senders (POST /raft/snapshot: the MsgSnap, then the backend
//     image, streamed), one thread each;
//   - a prober (GET /raft/probing every 5 s): round-trip time, and a warning
//     naming the peer while it cannot be reached.
// The same port serves the member's other peer endpoints (/members,
// /version, /leases, ...) through PeerHost::http(), on a small pool so that
// a slow answer never holds the I/O thread.
//
// Bounded: each writer queues at most kStreamQueue messages and the
// pipeline kPipelineQueue; beyond that a message is dropped and the peer is
// reported unreachable to Raft, which sends again later (etcd does the
// same). Raft's thread never waits on the network: send() only posts.
//
// TLS: with https listen URLs, every accepted connection makes the
// server's handshake with `server_tls` (a client certificate required with
// --peer-client-cert-auth, then the allowed CN / hostname and SAN checks);
// a refused peer is logged ("rejected connection", naming its address and
// certificate) and dropped. Connections to https peer URLs make the
// client's handshake with `client_tls`, presenting the member's peer
// certificate. Each new connection takes its SSL context from the
// TlsContext, so renewed certificate files apply to new connections.
//
// Threads: one I/O thread owns every socket, peer and queue (all the state
// below it); send(), add_peer(), ... post to it. The http() pool and the
// snapshot senders touch no transport state.
#pragma once

#include <utility>  // before Asio (Boost 1.74 uses std::exchange unincluded)

#include <atomic>
#include <boost/asio.hpp>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/log.h"
#include "base/mutex.h"
#include "rpc/peer/peer_stream.h"
#include "rpc/tls/tls.h"
#include "server/peer_network.h"

namespace etcd::rpc::peer {

class PeerTransport final : public server::PeerNetwork {
 public:
  static constexpr size_t kStreamQueue = 4096;
  static constexpr size_t kPipelineQueue = 64;

  struct Options {
    server::PeerNetworkContext context;
    std::vector<std::string> listen_urls;     // bound by create()
    std::vector<std::string> advertise_urls;  // sent as X-PeerURLs
    log::Logger* logger = nullptr;
    // A test-only failpoint: when the file exists, every message to and
    // from peers is dropped (a partition at the transport).
    std::string partition_file;
    // Required when a listen URL is https (server role); used to dial https
    // peer URLs (client role; without it, the system's CAs verify them).
    std::shared_ptr<tls::TlsContext> server_tls;
    std::shared_ptr<tls::TlsContext> client_tls;
    // --peer-skip-client-san-verify: a client certificate need not name
    // the connection's remote address.
    bool skip_client_san_verify = false;
  };

  // Binds the listeners; nothing runs until start().
  static Result<std::unique_ptr<PeerTransport>> create(Options options);
  ~PeerTransport() override;

  void start() override;
  void stop() override;
  void send(std::vector<raftpb::Message> msgs) override;
  void add_peer(MemberId id, const std::vector<std::string>& urls) override;
  void remove_peer(MemberId id) override;
  void update_peer(MemberId id, const std::vector<std::string>& urls) override;
  std::optional<std::chrono::steady_clock::time_point> active_since(MemberId id) override;

  // The listening addresses ("127.0.0.1:2380"), for logs.
  const std::vector<std::string>& addresses() const { return addresses_; }

 private:
  struct Peer;
  struct OutStream;
  explicit PeerTransport(Options options);

  // All below run on the I/O thread.
  void dispatch(raftpb::Message m);
  void accept(size_t i);
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket sock, bool tls);
  // The server's TLS handshake and certificate checks; false (logged) when
  // the peer is refused.
  boost::asio::awaitable<bool> accept_tls(PeerStream& stream);
  // A new (unconnected) stream for `url` on `ex`: TLS for https.
  PeerStream new_stream(const HttpUrl& url, const boost::asio::any_io_executor& ex);
  bool verify_servers() const;
  boost::asio::awaitable<void> read_stream(std::shared_ptr<Peer> p, bool msgapp);
  boost::asio::awaitable<void> run_pipeline(std::shared_ptr<Peer> p);
  boost::asio::awaitable<void> probe(std::shared_ptr<Peer> p);
  void set_active(Peer& p, bool active, const std::string& why);
  void send_snapshot(raftpb::Message m, std::vector<std::string> urls);
  bool partitioned() const;
  std::vector<std::pair<std::string, std::string>> request_headers(uint64_t to) const;

  const Options options_;
  const uint64_t local_;
  const std::string local_hex_;
  const std::string cluster_hex_;
  server::PeerHost& host_;
  log::Logger& logger_;
  std::vector<std::string> addresses_;

  // Declared first: destroyed last, after every socket below.
  boost::asio::io_context io_;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> acceptors_;
  std::vector<bool> acceptor_tls_;                   // per acceptor: https
  std::map<uint64_t, std::shared_ptr<Peer>> peers_;  // I/O thread
  bool stopped_ = false;                             // I/O thread
  std::thread thread_;
  std::unique_ptr<boost::asio::thread_pool> app_pool_;

  // Read by any thread: whether a peer has a working stream.
  Mutex active_mu_;
  std::map<uint64_t, std::chrono::steady_clock::time_point> active_ ABSL_GUARDED_BY(active_mu_);

  // Snapshot senders in flight; joined by stop().
  Mutex snap_mu_;
  std::vector<std::thread> snap_threads_ ABSL_GUARDED_BY(snap_mu_);
  std::atomic<bool> stopping_{false};
};

}  // namespace etcd::rpc::peer
