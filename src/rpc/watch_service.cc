#include "rpc/watch_service.h"

#include <absl/base/thread_annotations.h>
#include <absl/container/flat_hash_set.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <thread>
#include <vector>

#include "auth/errors.h"
#include "base/assert.h"
#include "base/mutex.h"
#include "etcdserverpb/rpc.grpc.pb.h"
#include "mvcc/watchable_store.h"
#include "rpc/grpc_server.h"

namespace etcd::rpc {
namespace {

// etcd's grpcOverheadBytes: fragments may be this much over the request
// limit.
constexpr uint64_t kGrpcOverheadBytes = 512 * 1024;
// Threads that convert and start writes for streams with responses queued.
constexpr int kSenderThreads = 2;

class WatchReactor;

// The open streams, so that shutdown can end them.
class Registry {
 public:
  void add(WatchReactor* r) {
    MutexLock lock(&mu_);
    live_.insert(r);
  }
  void remove(WatchReactor* r) {
    MutexLock lock(&mu_);
    live_.erase(r);
  }
  void cancel_all();

 private:
  Mutex mu_;
  absl::flat_hash_set<WatchReactor*> live_ ABSL_GUARDED_BY(mu_);
};

// Streams with responses to send, served by a few threads. Each stream is
// queued at most once (WatchReactor::scheduled_), so the queue is bounded
// by the number of open streams.
class SenderPool {
 public:
  SenderPool() {
    for (int i = 0; i < kSenderThreads; ++i) threads_.emplace_back([this] { run(); });
  }
  ~SenderPool();
  void schedule(WatchReactor* r);

 private:
  void run();

  Mutex mu_;
  std::condition_variable cv_;
  std::deque<WatchReactor*> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

// One Watch call. Reference-counted: gRPC holds one reference until OnDone,
// and the sender pool one while the stream is queued; the last one deletes.
//
// Threads: gRPC callback threads run OnReadDone/OnWriteDone/OnCancel/OnDone;
// sender threads run pump(); the store's threads only call the stream's
// notify (schedule). One write is outstanding at a time (pumping_/writing_).
class WatchReactor final
    : public grpc::ServerBidiReactor<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse> {
 public:
  WatchReactor(server::EtcdServer& server, const grpc::CallbackServerContext& ctx, SenderPool& pool,
               Registry& registry, uint64_t max_bytes)
      : server_(server), ctx_(ctx), pool_(pool), registry_(registry), max_bytes_(max_bytes) {
    stream_ = server_.watchable_store().new_stream([this] { schedule(); });
    registry_.add(this);
    StartRead(&req_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the client closed its side: events still flow (etcd)
    handle(req_);
    {
      MutexLock lock(&mu_);
      if (finishing_) return;
      // A request may queue a control response: read the next one only
      // when there is room for it.
      if (!stream_->has_control_room()) {
        read_paused_ = true;
        return;
      }
    }
    StartRead(&req_);
  }

  void OnWriteDone(bool ok) override {
    bool resume_read = false;
    {
      MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) {
        lock.unlock();
        finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "watch stream send failed"));
        return;
      }
      if (read_paused_ && stream_->has_control_room()) {
        read_paused_ = false;
        resume_read = !finishing_;
      }
    }
    if (resume_read) StartRead(&req_);
    pump();
  }

  void OnCancel() override {
    // etcd answers a watch whose client went away with this status.
    finish(grpc::Status(grpc::StatusCode::CANCELLED, "etcdserver: watch canceled"));
  }

  void OnDone() override {
    stream_->close();  // no notify after this returns
    registry_.remove(this);
    unref();
  }

  // Finishes the call once; Finish is called without mu_ (gRPC may run
  // reactions inline).
  void finish(const grpc::Status& st) ABSL_LOCKS_EXCLUDED(mu_) {
    {
      MutexLock lock(&mu_);
      if (finishing_) return;
      finishing_ = true;
    }
    Finish(st);
  }

  // Sender threads: converts queued responses and starts the next write.
  void pump() {
    {
      MutexLock lock(&mu_);
      scheduled_ = false;
      if (pumping_) {
        repump_ = true;
        return;
      }
      pumping_ = true;
    }
    bool more = false;
    while (true) {
      {
        MutexLock lock(&mu_);
        if (finishing_ || writing_) {
          pumping_ = false;
          return;
        }
        if (!fragments_.empty()) {
          out_ = std::move(fragments_.front());
          fragments_.pop_front();
          writing_ = true;
          pumping_ = false;
          // More to send right after this one: let gRPC coalesce the
          // messages instead of flushing each (the last one is unhinted, so
          // nothing waits for a write that will not come). Never the
          // stream's first write: it carries the initial metadata, and
          // gRPC holds hinted initial metadata, and the write's completion
          // with it, until something else flushes the connection (a stream
          // alone on its connection then stalled until the client's next
          // ping, ~10 s for etcdctl, forever for others).
          more = sent_first_ && (!fragments_.empty() || stream_->buffered() > 0);
          sent_first_ = true;
          break;
        }
      }
      mvcc::WatchResponse r;
      if (stream_->next(&r)) {
        auto msgs = convert(std::move(r));
        MutexLock lock(&mu_);
        for (auto& m : msgs) fragments_.push_back(std::move(m));
        continue;
      }
      MutexLock lock(&mu_);
      if (repump_) {
        repump_ = false;
        continue;
      }
      pumping_ = false;
      return;
    }
    StartWrite(&out_, more ? grpc::WriteOptions().set_buffer_hint() : grpc::WriteOptions());
  }

  void ref() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void unref() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

 private:
  ~WatchReactor() override = default;

  // Called by the store (any producer thread) when a response arrives.
  void schedule() {
    {
      MutexLock lock(&mu_);
      if (scheduled_ || finishing_) return;
      scheduled_ = true;
    }
    ref();
    pool_.schedule(this);
  }

  void handle(const etcdserverpb::WatchRequest& req) {
    switch (req.request_union_case()) {
      case etcdserverpb::WatchRequest::kCreateRequest: {
        const auto& c = req.create_request();
        mvcc::WatchOptions o;
        for (int f : c.filters()) {
          if (f == etcdserverpb::WatchCreateRequest::NOPUT) o.no_put = true;
          if (f == etcdserverpb::WatchCreateRequest::NODELETE) o.no_delete = true;
        }
        o.prev_kv = c.prev_kv();
        o.progress_notify = c.progress_notify();
        o.fragment = c.fragment();
        // The caller needs read on the watched range, checked at creation
        // only (etcd): a watch outlives a later revoke of the permission.
        if (Status st = permitted(c); !st.is_ok()) {
          stream_->refuse(refusal_reason(st));
          break;
        }
        // The created (or refused) response is queued by the stream.
        (void)stream_->watch(c.watch_id(), c.key(), c.range_end(), MainRev(c.start_revision()), o);
        break;
      }
      case etcdserverpb::WatchRequest::kCancelRequest:
        (void)stream_->cancel(req.cancel_request().watch_id());  // unknown ids: no answer (etcd)
        break;
      case etcdserverpb::WatchRequest::kProgressRequest:
        stream_->request_progress();
        break;
      default:
        break;  // etcd ignores what it does not know
    }
  }

  // The caller's read permission on the range of a create request; the
  // credentials are looked at for each request, as etcd does.
  Status permitted(const etcdserverpb::WatchCreateRequest& c) {
    auto who = caller_of(ctx_, server_);
    if (!who.is_ok()) return who.status();
    return server_.auth_checks().watch(who->info, c.key(), c.range_end());
  }

  // etcd's cancel reason for a refused watch: the Go text of its gRPC
  // error ("rpc error: code = ... desc = ..."), for a bad token, a stale
  // auth revision or no user; permission denied for anything else.
  static std::string refusal_reason(const Status& st) {
    static const std::pair<Status, const char*> kReasons[] = {
        {auth::errors::invalid_auth_token(), "Unauthenticated"},
        {auth::errors::auth_old_revision(), "InvalidArgument"},
        {auth::errors::user_empty(), "InvalidArgument"},
    };
    for (const auto& [known, code] : kReasons) {
      if (st == known) return "rpc error: code = " + std::string(code) + " desc = " + st.message();
    }
    return "rpc error: code = PermissionDenied desc = " +
           auth::errors::permission_denied().message();
  }

  // One store response as gRPC messages (several when fragmented).
  std::vector<etcdserverpb::WatchResponse> convert(mvcc::WatchResponse r) {
    using Kind = mvcc::WatchResponse::Kind;
    etcdserverpb::WatchResponse w;
    server_.fill_header(w.mutable_header(), r.revision);
    w.set_watch_id(r.watch_id);
    switch (r.kind) {
      case Kind::kCreated:
        w.set_created(true);
        w.set_canceled(r.canceled);
        w.set_cancel_reason(r.cancel_reason);
        break;
      case Kind::kCanceled:
        w.set_canceled(true);
        break;
      case Kind::kCompacted:
        w.set_compact_revision(r.compact_revision);
        w.set_canceled(true);
        break;
      case Kind::kEvents:
        break;
    }
    std::vector<etcdserverpb::WatchResponse> out;
    const bool split = r.fragment && r.events.size() > 1;
    for (auto& ev : r.events) *w.add_events() = std::move(ev);
    if (!split || w.ByteSizeLong() < max_bytes_) {
      out.push_back(std::move(w));
      return out;
    }
    // etcd's sendFragments: fill each fragment until adding an event would
    // reach the limit (one event at least); all but the last say fragment.
    etcdserverpb::WatchResponse base = w;
    base.clear_events();
    base.set_fragment(true);
    const int n = w.events_size();
    int i = 0;
    while (i < n) {
      etcdserverpb::WatchResponse cur = base;
      size_t size = cur.ByteSizeLong();
      while (i < n) {
        size_t ev = w.events(i).ByteSizeLong();
        size_t add = ev + 1 + google::protobuf::io::CodedOutputStream::VarintSize64(ev);
        if (cur.events_size() > 0 && size + add >= max_bytes_) break;
        *cur.add_events() = std::move(*w.mutable_events(i));
        size += add;
        ++i;
      }
      if (i == n) cur.set_fragment(false);
      out.push_back(std::move(cur));
    }
    return out;
  }

  server::EtcdServer& server_;
  const grpc::CallbackServerContext& ctx_;  // valid until OnDone
  SenderPool& pool_;
  Registry& registry_;
  const uint64_t max_bytes_;
  std::unique_ptr<mvcc::WatchStream> stream_;
  std::atomic<int> refs_{1};        // gRPC's, until OnDone
  etcdserverpb::WatchRequest req_;  // the read in flight (one at a time)

  Mutex mu_;
  bool scheduled_ ABSL_GUARDED_BY(mu_) = false;   // in the sender pool's queue
  bool pumping_ ABSL_GUARDED_BY(mu_) = false;     // a thread is in pump()
  bool repump_ ABSL_GUARDED_BY(mu_) = false;      // pump() was asked again meanwhile
  bool writing_ ABSL_GUARDED_BY(mu_) = false;     // a write is in flight (out_)
  bool sent_first_ ABSL_GUARDED_BY(mu_) = false;  // the first write (headers) was started
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  // The fragments of the response being sent (at most one response's).
  std::deque<etcdserverpb::WatchResponse> fragments_ ABSL_GUARDED_BY(mu_);
  etcdserverpb::WatchResponse out_;  // owned by the write in flight
};

SenderPool::~SenderPool() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  std::deque<WatchReactor*> left;
  {
    MutexLock lock(&mu_);
    left.swap(queue_);
  }
  for (WatchReactor* r : left) r->unref();
}

void SenderPool::schedule(WatchReactor* r) {
  {
    MutexLock lock(&mu_);
    queue_.push_back(r);
  }
  cv_.notify_one();
}

void SenderPool::run() {
  while (true) {
    WatchReactor* r = nullptr;
    {
      MutexLock lock(&mu_);
      lock.wait(cv_,
                [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      r = queue_.front();
      queue_.pop_front();
    }
    r->pump();
    r->unref();
  }
}

void Registry::cancel_all() {
  std::vector<WatchReactor*> streams;
  {
    // A reference taken under mu_ keeps a stream alive even if its OnDone
    // runs meanwhile (OnDone removes it under mu_ first).
    MutexLock lock(&mu_);
    for (WatchReactor* r : live_) {
      r->ref();
      streams.push_back(r);
    }
  }
  for (WatchReactor* r : streams) {
    r->finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "etcdserver: server stopped"));
    r->unref();
  }
}

class WatchService final : public WatchServiceBase {
 public:
  WatchService(server::EtcdServer& s, uint64_t max_request_bytes)
      : s_(s), max_bytes_(max_request_bytes + kGrpcOverheadBytes) {}

  grpc::ServerBidiReactor<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>* Watch(
      grpc::CallbackServerContext* ctx) override {
    if (s_.is_learner()) {
      // A learner serves no stream (etcd's stream interceptor).
      class Refused final : public grpc::ServerBidiReactor<etcdserverpb::WatchRequest,
                                                           etcdserverpb::WatchResponse> {
       public:
        Refused() {
          Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                              "etcdserver: rpc not supported for learner"));
        }
        void OnDone() override { delete this; }
      };
      return new Refused();
    }
    return new WatchReactor(s_, *ctx, pool_, registry_, max_bytes_);
  }

  void cancel_all() override { registry_.cancel_all(); }

 private:
  server::EtcdServer& s_;
  const uint64_t max_bytes_;
  Registry registry_;
  SenderPool pool_;
};

}  // namespace

std::unique_ptr<WatchServiceBase> make_watch_service(server::EtcdServer& server,
                                                     uint64_t max_request_bytes) {
  return std::make_unique<WatchService>(server, max_request_bytes);
}

}  // namespace etcd::rpc
