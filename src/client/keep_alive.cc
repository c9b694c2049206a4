#include "client/keep_alive.h"

#include <algorithm>

namespace etcd::client {

KeepAlive::KeepAlive(Client& client, int64_t lease_id) : client_(client), lease_id_(lease_id) {}

void KeepAlive::cancel() {
  MutexLock l(&mu_);
  cancelled_ = true;
  if (ctx_) ctx_->TryCancel();
  cv_.notify_all();
}

grpc::Status KeepAlive::run(const OnResponse& on_response) {
  using std::chrono::system_clock;
  // Until a first answer says the TTL, the lease may live as long as the
  // dial timeout allows finding an endpoint.
  auto alive_until = system_clock::now() + client_.options().dial_timeout;
  while (true) {
    auto conn = client_.connection(alive_until);
    if (!conn) return deadline_exceeded();
    if (grpc::Status s = client_.ensure_authenticated(*conn, alive_until); !s.ok()) return s;
    grpc::ClientContext ctx;
    client_.prepare(ctx, Deadline::max());
    {
      MutexLock l(&mu_);
      if (cancelled_) return grpc::Status::OK;
      ctx_ = &ctx;
    }
    auto stream = conn->lease->LeaseKeepAlive(&ctx);
    etcdserverpb::LeaseKeepAliveRequest req;
    req.set_id(lease_id_);
    bool done = false;
    while (!done && stream->Write(req)) {
      etcdserverpb::LeaseKeepAliveResponse resp;
      if (!stream->Read(&resp)) break;
      if (resp.ttl() > 0) alive_until = system_clock::now() + std::chrono::seconds(resp.ttl());
      if (!on_response(resp) || resp.ttl() <= 0) {
        done = true;
        break;
      }
      const auto wait = std::chrono::milliseconds(std::max<int64_t>(resp.ttl() * 1000 / 3, 500));
      MutexLock l(&mu_);
      if (l.wait_for(cv_, wait, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return cancelled_; })) {
        done = true;
      }
    }
    {
      MutexLock l(&mu_);
      ctx_ = nullptr;
      if (cancelled_) done = true;
    }
    ctx.TryCancel();
    grpc::Status s = stream->Finish();
    if (done) return grpc::Status::OK;
    if (s.error_code() != grpc::StatusCode::UNAVAILABLE &&
        s.error_code() != grpc::StatusCode::CANCELLED && !s.ok()) {
      return s;
    }
    if (system_clock::now() >= alive_until) return deadline_exceeded();
    client_.mark_failed(*conn);
  }
}

}  // namespace etcd::client
