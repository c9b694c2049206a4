#include "client/concurrency.h"

#include <cstdio>

#include "client/watcher.h"

namespace etcd::client::concurrency {

using etcdserverpb::Compare;
using etcdserverpb::RangeRequest;
using etcdserverpb::RangeResponse;
using etcdserverpb::ResponseHeader;
using etcdserverpb::TxnRequest;
using etcdserverpb::TxnResponse;

void Context::cancel() {
  MutexLock l(&mu_);
  if (cancelled_) return;
  cancelled_ = true;
  // One callback at a time, outside the lock, marked running so that its
  // remove() waits for it.
  while (!callbacks_.empty()) {
    auto it = callbacks_.begin();
    const int id = it->first;
    std::function<void()> fn = std::move(it->second);
    callbacks_.erase(it);
    running_ = id;
    l.unlock();
    fn();
    l.lock();
    running_ = -1;
    cv_.notify_all();
  }
}

bool Context::cancelled() const {
  MutexLock l(&mu_);
  return cancelled_;
}

int Context::on_cancel(std::function<void()> fn) {
  {
    MutexLock l(&mu_);
    if (!cancelled_) {
      callbacks_[next_] = std::move(fn);
      return next_++;
    }
  }
  fn();
  return -1;
}

void Context::remove(int handle) {
  MutexLock l(&mu_);
  callbacks_.erase(handle);
  if (handle < 0) return;
  l.wait(cv_, [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return running_ != handle; });
}

grpc::Status context_canceled() {
  return grpc::Status(grpc::StatusCode::CANCELLED, "context canceled");
}

std::string prefix_range_end(const std::string& prefix) {
  std::string end = prefix;
  for (size_t i = end.size(); i-- > 0;) {
    if (static_cast<unsigned char>(end[i]) < 0xff) {
      end[i] = static_cast<char>(static_cast<unsigned char>(end[i]) + 1);
      end.resize(i + 1);
      return end;
    }
  }
  return std::string(1, '\0');
}

std::string lease_key(const std::string& prefix, int64_t lease_id) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%llx",
                static_cast<unsigned long long>(static_cast<uint64_t>(lease_id)));
  return prefix + buf;
}

grpc::Status call_cancellable(Client& client, Context& ctx, const Client::Invocation& fn,
                              Idempotent idem) {
  if (ctx.cancelled()) return context_canceled();
  grpc::Status s = client.invoke(
      [&](Connection& c, grpc::ClientContext& cctx) {
        const int h = ctx.on_cancel([&cctx] { cctx.TryCancel(); });
        grpc::Status r = fn(c, cctx);
        ctx.remove(h);
        return r;
      },
      Deadline::max(), idem);
  if (!s.ok() && ctx.cancelled()) return context_canceled();
  return s;
}

namespace {

grpc::Status range(Client& client, Context& ctx, const RangeRequest& req, RangeResponse* resp) {
  return call_cancellable(
      client, ctx,
      [&](Connection& c, grpc::ClientContext& cctx) { return c.kv->Range(&cctx, req, resp); },
      Idempotent::kYes);
}

grpc::Status txn(Client& client, Context& ctx, const TxnRequest& req, TxnResponse* resp) {
  return call_cancellable(
      client, ctx,
      [&](Connection& c, grpc::ClientContext& cctx) { return c.kv->Txn(&cctx, req, resp); },
      Idempotent::kNo);
}

grpc::Status compacted() {
  return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                      "etcdserver: mvcc: required revision has been compacted");
}

Compare create_revision_is(const std::string& key, int64_t rev) {
  Compare c;
  c.set_target(Compare::CREATE);
  c.set_result(Compare::EQUAL);
  c.set_key(key);
  c.set_create_revision(rev);
  return c;
}

}  // namespace

namespace recipe {

RangeRequest first_create(const std::string& prefix) {
  RangeRequest r;
  r.set_key(prefix);
  r.set_range_end(prefix_range_end(prefix));
  r.set_sort_target(RangeRequest::CREATE);
  r.set_sort_order(RangeRequest::ASCEND);
  r.set_limit(1);
  return r;
}

RangeRequest last_create(const std::string& prefix, int64_t max_create_rev) {
  RangeRequest r;
  r.set_key(prefix);
  r.set_range_end(prefix_range_end(prefix));
  r.set_sort_target(RangeRequest::CREATE);
  r.set_sort_order(RangeRequest::DESCEND);
  r.set_limit(1);
  if (max_create_rev > 0) r.set_max_create_revision(max_create_rev);
  return r;
}

TxnRequest lock_txn(const std::string& prefix, const std::string& key, int64_t lease) {
  TxnRequest t;
  *t.add_compare() = create_revision_is(key, 0);
  auto* put = t.add_success()->mutable_request_put();
  put->set_key(key);
  put->set_lease(lease);
  *t.add_success()->mutable_request_range() = first_create(prefix);
  t.add_failure()->mutable_request_range()->set_key(key);
  *t.add_failure()->mutable_request_range() = first_create(prefix);
  return t;
}

}  // namespace recipe

grpc::Status wait_delete(Client& client, Context& ctx, const std::string& key, int64_t rev) {
  etcdserverpb::WatchCreateRequest req;
  req.set_key(key);
  req.set_start_revision(rev);
  Watcher watcher(client, req);
  bool deleted = false;
  bool compacted_away = false;
  const int h = ctx.on_cancel([&watcher] { watcher.cancel(); });
  grpc::Status s = watcher.run([&](const etcdserverpb::WatchResponse& resp) {
    for (const auto& ev : resp.events()) {
      if (ev.type() == mvccpb::Event::DELETE) {
        deleted = true;
        return false;
      }
    }
    if (resp.canceled() && resp.compact_revision() != 0) compacted_away = true;
    return true;
  });
  ctx.remove(h);
  if (deleted) return grpc::Status::OK;
  if (compacted_away) return compacted();
  if (!s.ok() && !ctx.cancelled()) return s;
  if (ctx.cancelled()) return context_canceled();
  return grpc::Status(grpc::StatusCode::UNKNOWN, "lost watcher waiting for delete");
}

grpc::Status wait_deletes(Client& client, Context& ctx, const std::string& prefix,
                          int64_t max_create_rev, ResponseHeader* header) {
  const RangeRequest req = recipe::last_create(prefix, max_create_rev);
  while (true) {
    RangeResponse resp;
    grpc::Status s = range(client, ctx, req, &resp);
    if (!s.ok()) return s;
    if (resp.kvs().empty()) {
      if (header) *header = resp.header();
      return grpc::Status::OK;
    }
    s = wait_delete(client, ctx, resp.kvs(0).key(), resp.header().revision());
    if (!s.ok()) return s;
  }
}

// --- Session ---

Session::Session(Client& client, int64_t lease, int ttl)
    : client_(client), lease_(lease), ttl_(ttl), keep_alive_(client, lease) {}

grpc::Status grant_lease(Client& client, Context& ctx, int ttl, int64_t* id) {
  etcdserverpb::LeaseGrantRequest req;
  req.set_ttl(ttl);
  etcdserverpb::LeaseGrantResponse resp;
  grpc::Status s = call_cancellable(
      client, ctx,
      [&](Connection& c, grpc::ClientContext& cctx) {
        return c.lease->LeaseGrant(&cctx, req, &resp);
      },
      Idempotent::kNo);
  if (!s.ok()) return s;
  if (!resp.error().empty()) return grpc::Status(grpc::StatusCode::UNKNOWN, resp.error());
  *id = resp.id();
  return grpc::Status::OK;
}

std::unique_ptr<Session> Session::adopt(Client& client, int64_t lease) {
  std::unique_ptr<Session> session(new Session(client, lease, kDefaultTtl));
  MutexLock l(&session->mu_);
  session->done_ = true;
  return session;
}

grpc::Status Session::create(Client& client, Context& ctx, int ttl, std::unique_ptr<Session>* out) {
  if (ttl <= 0) ttl = kDefaultTtl;
  int64_t id = 0;
  grpc::Status s = grant_lease(client, ctx, ttl, &id);
  if (!s.ok()) return s;
  std::unique_ptr<Session> session(new Session(client, id, ttl));
  Session* self = session.get();
  self->thread_ = std::thread([self] {
    self->keep_alive_.run([](const etcdserverpb::LeaseKeepAliveResponse&) { return true; });
    std::vector<std::function<void()>> callbacks;
    {
      MutexLock l(&self->mu_);
      self->done_ = true;
      callbacks.swap(self->on_done_);
    }
    self->cv_.notify_all();
    for (auto& fn : callbacks) fn();
  });
  *out = std::move(session);
  return grpc::Status::OK;
}

Session::~Session() { orphan(); }

bool Session::done() const {
  MutexLock l(&mu_);
  return done_;
}

bool Session::wait_done(std::chrono::milliseconds timeout) {
  MutexLock l(&mu_);
  return l.wait_for(cv_, timeout, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return done_; });
}

void Session::on_done(std::function<void()> fn) {
  {
    MutexLock l(&mu_);
    if (!done_) {
      on_done_.push_back(std::move(fn));
      return;
    }
  }
  fn();
}

void Session::orphan() {
  keep_alive_.cancel();
  if (thread_.joinable()) thread_.join();
}

grpc::Status Session::close() {
  orphan();
  etcdserverpb::LeaseRevokeRequest req;
  req.set_id(lease_);
  etcdserverpb::LeaseRevokeResponse resp;
  return client_.call(&Connection::lease, &etcdserverpb::Lease::Stub::LeaseRevoke, req, &resp,
                      std::chrono::system_clock::now() + std::chrono::seconds(ttl_),
                      Idempotent::kNo);
}

// --- Mutex ---

Mutex::Mutex(Session& session, const std::string& prefix)
    : session_(session), prefix_(prefix + "/") {}

grpc::Status Mutex::lock(Context& ctx) {
  Client& client = session_.client();
  my_key_ = lease_key(prefix_, session_.lease());
  TxnResponse resp;
  grpc::Status s = txn(client, ctx, recipe::lock_txn(prefix_, my_key_, session_.lease()), &resp);
  if (!s.ok()) return s;
  my_rev_ = resp.header().revision();
  if (!resp.succeeded()) {
    const auto& kvs = resp.responses(0).response_range().kvs();
    if (!kvs.empty()) my_rev_ = kvs[0].create_revision();
  }
  const auto& owner = resp.responses(1).response_range().kvs();
  if (owner.empty() || owner[0].create_revision() == my_rev_) {
    header_ = resp.header();
    return grpc::Status::OK;
  }
  s = wait_deletes(client, ctx, prefix_, my_rev_ - 1, nullptr);
  if (!s.ok()) {
    Context fresh;
    unlock(fresh);
    return s;
  }
  // Still ours? The lease may have expired while we waited.
  RangeRequest own;
  own.set_key(my_key_);
  RangeResponse got;
  s = range(client, ctx, own, &got);
  if (!s.ok()) {
    Context fresh;
    unlock(fresh);
    return s;
  }
  if (got.kvs().empty()) {
    return grpc::Status(grpc::StatusCode::UNKNOWN, "mutex: session is expired");
  }
  header_ = got.header();
  return grpc::Status::OK;
}

grpc::Status Mutex::unlock(Context& ctx) {
  etcdserverpb::DeleteRangeRequest req;
  req.set_key(my_key_);
  etcdserverpb::DeleteRangeResponse resp;
  grpc::Status s = call_cancellable(
      session_.client(), ctx,
      [&](Connection& c, grpc::ClientContext& cctx) {
        return c.kv->DeleteRange(&cctx, req, &resp);
      },
      Idempotent::kNo);
  if (!s.ok()) return s;
  my_key_ = std::string(1, '\0');
  my_rev_ = -1;
  return grpc::Status::OK;
}

// --- Election ---

Election::Election(Session& session, const std::string& prefix)
    : session_(session), prefix_(prefix + "/") {}

Election::Election(Session& session, const std::string& prefix, std::string leader_key,
                   int64_t leader_rev)
    : session_(session),
      prefix_(prefix + "/"),
      leader_key_(std::move(leader_key)),
      leader_rev_(leader_rev),
      leader_(true) {}

grpc::Status Election::leader(Context& ctx, RangeResponse* out) {
  grpc::Status s = range(session_.client(), ctx, recipe::first_create(prefix_), out);
  if (!s.ok()) return s;
  if (out->kvs().empty()) return grpc::Status(grpc::StatusCode::UNKNOWN, "election: no leader");
  return grpc::Status::OK;
}

grpc::Status Election::campaign(Context& ctx, const std::string& value) {
  Client& client = session_.client();
  const std::string k = lease_key(prefix_, session_.lease());
  TxnRequest t;
  *t.add_compare() = create_revision_is(k, 0);
  auto* put = t.add_success()->mutable_request_put();
  put->set_key(k);
  put->set_value(value);
  put->set_lease(session_.lease());
  t.add_failure()->mutable_request_range()->set_key(k);
  TxnResponse resp;
  grpc::Status s = txn(client, ctx, t, &resp);
  if (!s.ok()) return s;
  leader_key_ = k;
  leader_rev_ = resp.header().revision();
  leader_ = true;
  if (!resp.succeeded()) {
    const auto& kvs = resp.responses(0).response_range().kvs();
    if (!kvs.empty()) {
      leader_rev_ = kvs[0].create_revision();
      if (kvs[0].value() != value) {
        s = proclaim(ctx, value);
        if (!s.ok()) {
          resign(ctx);
          return s;
        }
      }
    }
  }
  s = wait_deletes(client, ctx, prefix_, leader_rev_ - 1, nullptr);
  if (!s.ok()) {
    if (ctx.cancelled()) {
      Context fresh;
      resign(fresh);
    } else {
      leader_ = false;
    }
    return s;
  }
  header_ = resp.header();
  return grpc::Status::OK;
}

grpc::Status Election::proclaim(Context& ctx, const std::string& value) {
  if (!leader_) return grpc::Status(grpc::StatusCode::UNKNOWN, "election: not leader");
  TxnRequest t;
  *t.add_compare() = create_revision_is(leader_key_, leader_rev_);
  auto* put = t.add_success()->mutable_request_put();
  put->set_key(leader_key_);
  put->set_value(value);
  put->set_lease(session_.lease());
  TxnResponse resp;
  grpc::Status s = txn(session_.client(), ctx, t, &resp);
  if (!s.ok()) return s;
  if (!resp.succeeded()) {
    leader_key_.clear();
    return grpc::Status(grpc::StatusCode::UNKNOWN, "election: not leader");
  }
  header_ = resp.header();
  return grpc::Status::OK;
}

grpc::Status Election::resign(Context& ctx) {
  if (!leader_) return grpc::Status::OK;
  TxnRequest t;
  *t.add_compare() = create_revision_is(leader_key_, leader_rev_);
  t.add_success()->mutable_request_delete_range()->set_key(leader_key_);
  TxnResponse resp;
  grpc::Status s = txn(session_.client(), ctx, t, &resp);
  if (s.ok()) header_ = resp.header();
  leader_key_.clear();
  leader_ = false;
  return s;
}

grpc::Status Election::observe(Context& ctx, const OnLeader& on_leader) {
  Client& client = session_.client();
  const RangeRequest first = recipe::first_create(prefix_);
  while (true) {
    RangeResponse resp;
    grpc::Status s = range(client, ctx, first, &resp);
    if (!s.ok()) return ctx.cancelled() ? grpc::Status::OK : s;
    mvccpb::KeyValue kv;
    ResponseHeader hdr;
    bool stopped = false;
    if (resp.kvs().empty()) {
      // Wait for the first key put under the prefix.
      etcdserverpb::WatchCreateRequest req;
      req.set_key(prefix_);
      req.set_range_end(prefix_range_end(prefix_));
      req.set_start_revision(resp.header().revision());
      Watcher watcher(client, req);
      bool found = false;
      bool failed = false;
      const int h = ctx.on_cancel([&watcher] { watcher.cancel(); });
      s = watcher.run([&](const etcdserverpb::WatchResponse& wr) {
        if (wr.canceled()) {
          failed = true;
          return false;
        }
        for (const auto& ev : wr.events()) {
          if (ev.type() == mvccpb::Event::PUT) {
            hdr = wr.header();
            kv = ev.kv();
            hdr.set_revision(kv.mod_revision());
            found = true;
            return false;
          }
        }
        return true;
      });
      ctx.remove(h);
      if (ctx.cancelled()) return grpc::Status::OK;
      if (!found || failed) {
        return s.ok() ? grpc::Status(grpc::StatusCode::UNKNOWN, "elect: observer lost") : s;
      }
    } else {
      hdr = resp.header();
      kv = resp.kvs(0);
    }
    {
      RangeResponse out;
      *out.mutable_header() = hdr;
      *out.add_kvs() = kv;
      if (!on_leader(out)) return grpc::Status::OK;
    }
    if (ctx.cancelled()) return grpc::Status::OK;
    // Follow the leader's key until it is deleted.
    etcdserverpb::WatchCreateRequest req;
    req.set_key(kv.key());
    req.set_start_revision(hdr.revision() + 1);
    Watcher watcher(client, req);
    bool deleted = false;
    bool lost = false;
    const int h = ctx.on_cancel([&watcher] { watcher.cancel(); });
    s = watcher.run([&](const etcdserverpb::WatchResponse& wr) {
      if (wr.canceled()) {
        lost = true;
        return false;
      }
      for (const auto& ev : wr.events()) {
        if (ev.type() == mvccpb::Event::DELETE) {
          deleted = true;
          return false;
        }
        *resp.mutable_header() = wr.header();
        resp.clear_kvs();
        *resp.add_kvs() = ev.kv();
        if (!on_leader(resp)) {
          stopped = true;
          return false;
        }
      }
      return true;
    });
    ctx.remove(h);
    if (stopped || ctx.cancelled()) return grpc::Status::OK;
    if (!deleted || lost) {
      return s.ok() ? grpc::Status(grpc::StatusCode::UNKNOWN, "elect: observer lost") : s;
    }
  }
}

}  // namespace etcd::client::concurrency
