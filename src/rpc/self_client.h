// The client the Lock and Election services run their recipes with, as
// etcd serves v3lock and v3election through a client of its own: a
// client::Client over the gRPC server's in-process channel, so every inner
// KV/Watch/Lease call takes the same path (auth, validation, quota, learner
// checks) as a call from outside, with the caller's token.
//
// Each call of those services is a SelfCall: its own Client (carrying the
// caller's token) and a cancellation Context. A poller thread cancels the
// Context when gRPC reports the call cancelled (the caller went away or its
// deadline passed), which ends the recipe's waits; stop() cancels every
// call, so that server shutdown never waits on a lock or an election.
//
// Threads: begin() and SelfCall's destructor on gRPC's handler threads;
// attach() once after the server started; stop() from the owner.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "base/mutex.h"
#include "base/status.h"
#include "base/worker.h"
#include "client/client.h"
#include "client/concurrency.h"

namespace etcd::rpc {

class SelfClient;

// One call of the Lock or Election service while it runs.
class SelfCall {
 public:
  ~SelfCall();
  SelfCall(const SelfCall&) = delete;
  SelfCall& operator=(const SelfCall&) = delete;

  client::Client& client() { return *client_; }
  // Cancelled when the gRPC call is, or at SelfClient::stop().
  client::concurrency::Context& context() { return ctx_; }
  // The answer for a recipe's status `s`: self_client_error(s), or
  // UNAVAILABLE "etcdserver: server stopped" when stop() ended the call.
  grpc::Status result(const grpc::Status& s) const;

 private:
  friend class SelfClient;
  SelfCall(SelfClient& owner, grpc::ServerContext& server_ctx,
           std::unique_ptr<client::Client> client)
      : owner_(owner), server_ctx_(server_ctx), client_(std::move(client)) {}

  SelfClient& owner_;
  grpc::ServerContext& server_ctx_;  // outlives this call
  std::unique_ptr<client::Client> client_;
  client::concurrency::Context ctx_;
  std::atomic<bool> stopped_{false};  // ended by SelfClient::stop()
};

class SelfClient : public std::enable_shared_from_this<SelfClient> {
 public:
  // At most this many Lock/Election calls at once (each holds a gRPC
  // handler thread while it waits).
  static constexpr size_t kDefaultMaxCalls = 1024;
  // How often running calls are checked for cancellation.
  static constexpr std::chrono::milliseconds kPollInterval{50};

  explicit SelfClient(size_t max_calls = kDefaultMaxCalls);
  ~SelfClient();
  SelfClient(const SelfClient&) = delete;
  SelfClient& operator=(const SelfClient&) = delete;

  // The in-process channel of the server these services are registered in
  // (available once it started).
  void attach(std::shared_ptr<grpc::Channel> channel);
  // attach() to `server`'s in-process channel; returns shared_from_this().
  std::shared_ptr<SelfClient> attach_to(grpc::Server& server);

  // A call, with a client carrying `server_ctx`'s token. Errors: the server
  // is not serving yet or any more (UNAVAILABLE), or too many calls
  // (RESOURCE_EXHAUSTED "etcdserver: too many requests").
  Result<std::unique_ptr<SelfCall>> begin(grpc::ServerContext& server_ctx);

  // Cancels every running call and refuses new ones; waits (at most
  // `grace`) for the running calls to end, so that their clean-up (a lock
  // key deleted, a resignation) still reaches the server.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(1000));

  size_t running() const;

 private:
  friend class SelfCall;
  void end(SelfCall* call);
  void poll();

  const size_t max_calls_;
  mutable Mutex mu_;
  std::condition_variable ended_;
  std::shared_ptr<grpc::Channel> channel_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::set<SelfCall*> calls_ ABSL_GUARDED_BY(mu_);
  Worker poller_;
};

// A caller known by its client certificate (no token) is carried to the
// inner calls as its CN, in kSelfCallerCnMetadata, with this process's
// secret (random, made at start, sent only over the in-process channel) in
// kSelfCallSecretMetadata: rpc::caller believes the CN only with the
// secret, so no outside client can claim a CN this way.
inline constexpr const char* kSelfCallerCnMetadata = "etcd-self-caller-cn";
inline constexpr const char* kSelfCallSecretMetadata = "etcd-self-call-secret";
const std::string& self_call_secret();
// The CN `ctx` carries for the caller of one of our own calls, if it is one
// of them (the secret matches).
std::optional<std::string> self_caller_cn(const grpc::ServerContextBase& ctx);

// What a recipe's error becomes for the caller: etcd's own server errors
// ("etcdserver: ...") reach etcd's callers as gRPC Unknown with the same
// message (its self-client turns them into plain Go errors); the recipes'
// errors ("election: not leader", ...) are Unknown already; anything else
// keeps its code.
grpc::Status self_client_error(const grpc::Status& s);

}  // namespace etcd::rpc
