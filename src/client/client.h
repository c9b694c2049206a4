// The C++ client of etcd's v3 API, used by etcdctl, etcdutl, the benchmark and
// the tests (docs/client.md).
//
// One Client talks to a list of endpoints over gRPC. It keeps one channel per
// endpoint, and calls go round the endpoints as etcd's Go client balances
// them, preferring connected ones.
//  - Failover: a call that cannot reach its endpoint moves on to the next one.
//    Reads (Idempotent::kYes) are retried there (100 times at most, as the
//    Go client, then the last error is the answer). A write
//    is sent once: it only moves on while it was certainly never sent (the
//    channel was not connected), because a write whose answer was lost may
//    have been applied (Jepsen found duplicated writes in etcd's Go client).
//  - Auth: with a user, the client gets a token (Authenticate) and sends it as
//    the `token` metadata; when the server says the token is invalid, it gets
//    a new one and sends the call again (the server refused it unapplied).
//  - Streams (watch, lease keep-alive) resume on another endpoint: see
//    watcher.h and keep_alive.h.
//
// Thread-safety: calls may come from several threads; the endpoint state is
// under a mutex, calls run outside it.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "etcdserverpb/rpc.grpc.pb.h"
#include "v3electionpb/v3election.grpc.pb.h"
#include "v3lockpb/v3lock.grpc.pb.h"

namespace etcd::client {

using Deadline = std::chrono::system_clock::time_point;

struct TlsOptions {
  std::string ca_file;    // trusted CA bundle; empty: the system's roots
  std::string cert_file;  // client certificate (with key_file)
  std::string key_file;
  bool insecure_skip_verify = false;
};

struct Options {
  // "host:port", "http://host:port" or "https://host:port"; https or tls
  // chooses TLS for every endpoint.
  std::vector<std::string> endpoints;
  std::chrono::milliseconds dial_timeout{2000};
  std::chrono::milliseconds keepalive_time{2000};
  std::chrono::milliseconds keepalive_timeout{6000};
  std::optional<TlsOptions> tls;
  // true: calls go round the endpoints from a random first one, as etcd's
  // Go client; false: they stay on the first endpoint that answers until it
  // fails (etcd 3.3's pinned endpoint; tests that need to know where a call
  // goes).
  bool round_robin = true;
  // Both set: authenticate. As in etcd's client, a user without a password
  // (or the reverse) means no authentication at all.
  std::string user;
  std::string password;
  // Called after each failed attempt of a unary call, Authenticate included,
  // with the attempt's number (from 0) and its status: etcd's Go client logs
  // each one ("retrying of unary invoker failed"). A call that found no
  // endpoint to connect to reports kNoConnection. `endpoint` is the address
  // of a call made on one endpoint's own connection (call_on), else "".
  std::function<void(unsigned attempt, const grpc::Status&, const std::string& endpoint)>
      on_attempt_failed;
};

// What etcd's Go client reports when no endpoint could be connected.
inline constexpr const char* kNoConnection =
    "latest balancer error: all SubConns are in TransientFailure";

enum class Idempotent { kNo, kYes };

// The gRPC stubs of one endpoint.
struct Connection {
  std::string endpoint;  // as given, without the scheme
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<etcdserverpb::KV::Stub> kv;
  std::unique_ptr<etcdserverpb::Watch::Stub> watch;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease;
  std::unique_ptr<etcdserverpb::Cluster::Stub> cluster;
  std::unique_ptr<etcdserverpb::Maintenance::Stub> maintenance;
  std::unique_ptr<etcdserverpb::Auth::Stub> auth;
  std::unique_ptr<v3lockpb::Lock::Stub> lock;
  std::unique_ptr<v3electionpb::Election::Stub> election;
};

// The stubs of every service over `channel`.
std::shared_ptr<Connection> make_connection(const std::string& endpoint,
                                            std::shared_ptr<grpc::Channel> channel);

// Strips "http://" / "https://" and a trailing '/'.
std::string endpoint_address(const std::string& endpoint);

// "context deadline exceeded", as Go's context says it.
grpc::Status deadline_exceeded();

// True for the server's answers after which a new token makes the same call
// valid (the server refused it unapplied): "invalid auth token", "revision
// of auth store is old", and "user name is empty" (a token the server lost),
// as etcd's client refreshes on.
bool is_invalid_token(const grpc::Status& s);

// The server's "authentication is not enabled" (to Authenticate).
bool is_auth_not_enabled(const grpc::Status& s);

class Client {
 public:
  explicit Client(Options options);
  // A client over a channel made elsewhere (the server's own in-process
  // channel, for the Lock and Election services it serves on top of its
  // KV, Watch and Lease services): one endpoint named `name`, never
  // dialed anew; `token`, when not empty, goes with every call, and the
  // client never authenticates on its own. `metadata` also goes with every
  // call.
  using Metadata = std::vector<std::pair<std::string, std::string>>;
  static std::unique_ptr<Client> over_channel(std::shared_ptr<grpc::Channel> channel,
                                              const std::string& name, std::string token,
                                              Metadata metadata = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const Options& options() const { return options_; }

  // Connects to one endpoint (trying each in turn until `deadline`) and, with
  // a user, authenticates. Calls connect on their own; this makes the first
  // connection (and its errors) explicit, as etcdctl's dial is.
  grpc::Status connect(Deadline deadline);

  // One unary call to the next endpoint, with failover as described above.
  // `method` is a member of the service's Stub, e.g. &KV::Stub::Range.
  template <class Stub, class Req, class Resp>
  grpc::Status call(std::unique_ptr<Stub> Connection::*stub,
                    grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                    const Req& req, Resp* resp, Deadline deadline, Idempotent idem) {
    return invoke([&](Connection& c,
                      grpc::ClientContext& ctx) { return ((*(c.*stub)).*method)(&ctx, req, resp); },
                  deadline, idem);
  }

  // The same call on one given endpoint (endpoint health/status/hashkv,
  // defrag of each member): no failover.
  template <class Stub, class Req, class Resp>
  grpc::Status call_on(const std::string& endpoint, std::unique_ptr<Stub> Connection::*stub,
                       grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                       const Req& req, Resp* resp, Deadline deadline) {
    return invoke_on(
        endpoint,
        [&](Connection& c, grpc::ClientContext& ctx) {
          return ((*(c.*stub)).*method)(&ctx, req, resp);
        },
        deadline);
  }

  using Invocation = std::function<grpc::Status(Connection&, grpc::ClientContext&)>;
  // The general forms: `fn` runs with a context that carries the deadline and
  // the token. For streams, `fn` runs the whole stream.
  grpc::Status invoke(const Invocation& fn, Deadline deadline, Idempotent idem);
  grpc::Status invoke_on(const std::string& endpoint, const Invocation& fn, Deadline deadline);

  // Prepares a context for a call made outside invoke() (long-lived streams):
  // the token, and a deadline unless it is max().
  void prepare(grpc::ClientContext& ctx, Deadline deadline);

  // The next endpoint's connection, connecting (with failover) until
  // `deadline`; nullptr when no endpoint answered.
  std::shared_ptr<Connection> connection(Deadline deadline);
  // With a user and no token yet: authenticates on `c` (streams call this
  // before their first message; unary calls do it on their own).
  grpc::Status ensure_authenticated(Connection& c, Deadline deadline);
  // After a stream failed on `c`: move to the next endpoint.
  void mark_failed(const Connection& c);

  // The current token ("" without auth).
  std::string token() const;
  bool authenticated() const;
  bool uses_auth() const { return !options_.user.empty() && !options_.password.empty(); }

  // etcd's "authentication: username:password" is what --user carries.
 private:
  std::shared_ptr<Connection> connection_at(size_t i);
  grpc::Status authenticate(Connection& c, Deadline deadline);

  const Options options_;
  std::vector<std::string> addresses_;  // endpoint_address(options_.endpoints[i])
  std::shared_ptr<grpc::ChannelCredentials> credentials_;

  mutable Mutex mu_;
  std::vector<std::shared_ptr<Connection>> conns_ ABSL_GUARDED_BY(mu_);  // per endpoint, lazily
  size_t current_ ABSL_GUARDED_BY(mu_) = 0;
  std::string token_ ABSL_GUARDED_BY(mu_);
  // Authenticate answered (a token, or auth is off on the server).
  bool authenticated_ ABSL_GUARDED_BY(mu_) = false;
  // Made by over_channel(): conns_[0] is the only connection, never dialed.
  bool given_channel_ = false;
  Metadata metadata_;  // set by over_channel(), before the client is shared
};

}  // namespace etcd::client
