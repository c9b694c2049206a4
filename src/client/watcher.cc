#include "client/watcher.h"

#include <algorithm>
#include <thread>

namespace etcd::client {

Watcher::Watcher(Client& client, etcdserverpb::WatchCreateRequest request)
    : client_(client), request_(std::move(request)) {}

void Watcher::cancel() {
  MutexLock l(&mu_);
  cancelled_ = true;
  if (ctx_) ctx_->TryCancel();
}

bool Watcher::write(const etcdserverpb::WatchRequest& req) {
  MutexLock l(&write_mu_);
  return stream_ && stream_->Write(req);
}

bool Watcher::request_progress() {
  etcdserverpb::WatchRequest req;
  req.mutable_progress_request();
  return write(req);
}

grpc::Status Watcher::run(const OnResponse& on_response) {
  bool resumed = false;
  while (true) {
    {
      MutexLock l(&mu_);
      if (cancelled_) return grpc::Status::OK;
    }
    const auto dial_deadline = std::chrono::system_clock::now() + client_.options().dial_timeout;
    auto conn = client_.connection(dial_deadline);
    if (!conn) return deadline_exceeded();
    if (grpc::Status s = client_.ensure_authenticated(*conn, dial_deadline); !s.ok()) return s;
    grpc::ClientContext ctx;
    client_.prepare(ctx, Deadline::max());
    {
      MutexLock l(&mu_);
      if (cancelled_) return grpc::Status::OK;
      ctx_ = &ctx;
    }
    auto stream = conn->watch->Watch(&ctx);
    {
      MutexLock l(&write_mu_);
      stream_ = stream.get();
    }
    etcdserverpb::WatchRequest req;
    *req.mutable_create_request() = request_;
    bool done = false;
    if (write(req)) {
      etcdserverpb::WatchResponse resp;
      while (!done && stream->Read(&resp)) {
        // Where to resume: after the last event, or (no event yet) after the
        // revision the watch was created at or last reported progress at.
        for (const auto& ev : resp.events()) {
          request_.set_start_revision(ev.kv().mod_revision() + 1);
        }
        const int64_t rev = resp.header().revision();
        if (resp.events().empty() && !resp.canceled() && rev > 0 &&
            (!resp.created() || request_.start_revision() == 0)) {
          request_.set_start_revision(std::max(request_.start_revision(), rev + 1));
        }
        // The caller saw the first created response; a refusal on resuming
        // (created and canceled) ends the watch like any cancel.
        if (resp.created() && resumed && !resp.canceled()) continue;
        if (!on_response(resp) || resp.canceled()) done = true;
      }
    }
    {
      MutexLock l(&mu_);
      ctx_ = nullptr;
    }
    {
      MutexLock l(&write_mu_);
      stream_ = nullptr;
    }
    if (done) {
      ctx.TryCancel();
      stream->Finish();
      return grpc::Status::OK;
    }
    stream->WritesDone();
    grpc::Status s = stream->Finish();
    {
      MutexLock l(&mu_);
      if (cancelled_) return grpc::Status::OK;
    }
    if (s.error_code() != grpc::StatusCode::UNAVAILABLE && s.error_code() != grpc::StatusCode::OK &&
        s.error_code() != grpc::StatusCode::CANCELLED) {
      return s;  // the server's answer, e.g. permission denied
    }
    // The endpoint failed: resume on the next one.
    client_.mark_failed(*conn);
    resumed = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace etcd::client
