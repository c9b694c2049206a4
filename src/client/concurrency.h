// Client-side concurrency recipes on top of the KV, Watch and Lease APIs, as
// etcd's clientv3/concurrency package builds them (and etcdctl's `lock` and
// `elect` use them; they do not call the server's v3lock/v3election
// services):
//  - Session: a lease kept alive in the background; Done when it is lost.
//  - Mutex: each waiter puts "<prefix>/<lease id in hex>" under its session's
//    lease; the oldest key (lowest create revision) holds the lock; a waiter
//    waits for the deletion of every key created before its own.
//  - Election: the same queue, with the candidate's value in its key; the
//    oldest key is the leader. Observe follows the leader's key.
// Cancellation is a Context (like Go's context.Context): cancel() ends the
// waits (watches) and in-flight calls registered on it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "client/keep_alive.h"

namespace etcd::client::concurrency {

// Go's context: cancelled once, from any thread; what waits on it registers
// a callback that is called (at most once) on cancel.
class Context {
 public:
  void cancel();
  bool cancelled() const;
  // Calls `fn` on cancel (at once if already cancelled); returns a handle
  // for remove(). `fn` must not call back into this Context.
  int on_cancel(std::function<void()> fn);
  // After remove() returns, the callback is not running and never will:
  // what it touches (a ClientContext, a Watcher on the caller's stack) may
  // go. It waits while cancel() is running that callback on another thread.
  void remove(int handle);

 private:
  mutable etcd::Mutex mu_;
  std::condition_variable cv_;  // a callback finished
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  int running_ ABSL_GUARDED_BY(mu_) = -1;  // the callback cancel() runs now
  int next_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<int, std::function<void()>> callbacks_ ABSL_GUARDED_BY(mu_);
};

// "context canceled", as Go's context says it.
grpc::Status context_canceled();

// The end of the range of every key with `prefix` (clientv3's
// GetPrefixRangeEnd): the prefix with its last byte below 0xff incremented
// and the rest cut; "\0" (every key) when there is none.
std::string prefix_range_end(const std::string& prefix);

// The lease id as the recipes name keys: lowercase hex, no padding.
std::string lease_key(const std::string& prefix, int64_t lease_id);

// A unary call that `ctx.cancel()` ends with "context canceled".
grpc::Status call_cancellable(Client& client, Context& ctx, const Client::Invocation& fn,
                              Idempotent idem);

// Waits until the key is deleted, watching from `rev`. Errors: the watch's
// (e.g. compacted), "context canceled", or "lost watcher waiting for delete".
grpc::Status wait_delete(Client& client, Context& ctx, const std::string& key, int64_t rev);
// Waits until no key under `prefix` was created at or before
// `max_create_rev`; returns the header of the last (empty) range.
grpc::Status wait_deletes(Client& client, Context& ctx, const std::string& prefix,
                          int64_t max_create_rev, etcdserverpb::ResponseHeader* header);

// Grants a lease of `ttl` seconds (the id chosen by the server).
grpc::Status grant_lease(Client& client, Context& ctx, int ttl, int64_t* id);

class Session {
 public:
  static constexpr int kDefaultTtl = 60;

  // Grants a lease of `ttl` seconds (kDefaultTtl when <= 0) and keeps it
  // alive until orphan()/close() or until it is lost.
  static grpc::Status create(Client& client, Context& ctx, int ttl, std::unique_ptr<Session>* out);
  // A session on a lease someone else keeps alive (or lets expire): never
  // renewed here, done() from the start. The server's Lock and Election
  // services work on their callers' leases this way (etcd's NewSession
  // WithLease, then Orphan).
  static std::unique_ptr<Session> adopt(Client& client, int64_t lease);
  ~Session();

  Client& client() { return client_; }
  int64_t lease() const { return lease_; }
  int ttl() const { return ttl_; }
  // True once the keep-alive ended (lease expired, revoked or unreachable).
  bool done() const;
  // Waits until done() or `timeout`; returns done().
  bool wait_done(std::chrono::milliseconds timeout);
  // Calls `fn` once when the session is done (at once if it already is).
  void on_done(std::function<void()> fn);
  // Stops keeping the lease alive (it then expires after its TTL).
  void orphan();
  // orphan(), then revokes the lease (waiting at most its TTL).
  grpc::Status close();

 private:
  Session(Client& client, int64_t lease, int ttl);

  Client& client_;
  const int64_t lease_;
  const int ttl_;
  KeepAlive keep_alive_;
  std::thread thread_;
  mutable etcd::Mutex mu_;
  std::condition_variable cv_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::function<void()>> on_done_ ABSL_GUARDED_BY(mu_);
};

class Mutex {
 public:
  Mutex(Session& session, const std::string& prefix);

  // Blocks until this session holds the lock. On failure (cancel included)
  // the waiter's key is deleted. A key that is gone once the wait is over
  // (its lease expired meanwhile) is "mutex: session is expired", as etcd
  // 3.5's mutex says.
  grpc::Status lock(Context& ctx);
  grpc::Status unlock(Context& ctx);

  const std::string& key() const { return my_key_; }
  int64_t revision() const { return my_rev_; }
  // The header of the answer that granted the lock.
  const etcdserverpb::ResponseHeader& header() const { return header_; }

 private:
  Session& session_;
  const std::string prefix_;  // with its trailing '/'
  std::string my_key_;
  int64_t my_rev_ = -1;
  etcdserverpb::ResponseHeader header_;
};

class Election {
 public:
  Election(Session& session, const std::string& prefix);
  // An election whose leader is known (etcd's ResumeElection): `session`'s
  // lease owns `leader_key`, created at `leader_rev`; proclaim() and
  // resign() act on it.
  Election(Session& session, const std::string& prefix, std::string leader_key, int64_t leader_rev);

  // Blocks until elected with `value` (put under the session's lease).
  grpc::Status campaign(Context& ctx, const std::string& value);
  // Changes the leader's value while still leader.
  grpc::Status proclaim(Context& ctx, const std::string& value);
  // Gives up leadership (deletes the key if it is still ours).
  grpc::Status resign(Context& ctx);
  // The current leader's key (the oldest under the prefix) in `out`;
  // "election: no leader" when there is none.
  grpc::Status leader(Context& ctx, etcdserverpb::RangeResponse* out);

  // Each leader's key and value as a RangeResponse, first the current one,
  // then every change of it and each next leader, until `ctx` is cancelled
  // (OK) or a call fails (its status). `on_leader` returning false stops
  // with OK.
  using OnLeader = std::function<bool(const etcdserverpb::RangeResponse&)>;
  grpc::Status observe(Context& ctx, const OnLeader& on_leader);

  const std::string& key() const { return leader_key_; }
  int64_t revision() const { return leader_rev_; }
  const etcdserverpb::ResponseHeader& header() const { return header_; }

 private:
  Session& session_;
  const std::string prefix_;  // with its trailing '/'
  std::string leader_key_;
  int64_t leader_rev_ = 0;
  bool leader_ = false;
  etcdserverpb::ResponseHeader header_;
};

// Requests the recipes send, exposed for tests.
namespace recipe {
// The oldest (WithFirstCreate) or newest (WithLastCreate) key under
// `prefix`, at most `max_create_rev` when > 0.
etcdserverpb::RangeRequest first_create(const std::string& prefix);
etcdserverpb::RangeRequest last_create(const std::string& prefix, int64_t max_create_rev);
// The mutex's one-round-trip acquisition.
etcdserverpb::TxnRequest lock_txn(const std::string& prefix, const std::string& key, int64_t lease);
}  // namespace recipe

}  // namespace etcd::client::concurrency
