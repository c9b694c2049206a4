#include "rpc/http/http_session.h"

#include <time.h>

namespace etcd::rpc::http {

std::string http_date(std::chrono::system_clock::time_point t) {
  time_t secs = std::chrono::system_clock::to_time_t(t);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buf, n);
}

void SessionResponder::respond(Response r) {
  if (done_.exchange(true) || streaming_.load()) return;
  auto s = session_;
  uint64_t id = request_;
  s->post([s, id, r = std::move(r)]() mutable { s->do_respond(id, std::move(r)); });
}

void SessionResponder::start_stream(int status, std::string content_type, Headers headers) {
  if (done_.load() || streaming_.exchange(true)) return;
  auto s = session_;
  uint64_t id = request_;
  s->post([s, id, status, ct = std::move(content_type), h = std::move(headers)]() mutable {
    s->do_start_stream(id, status, std::move(ct), std::move(h));
  });
}

bool SessionResponder::write(std::string chunk) {
  if (done_.load() || !streaming_.load() || cancelled_.load()) return false;
  size_t n = chunk.size();
  if (queued_.fetch_add(n) + n > max_queued_) {
    // Too slow a reader: cut it off rather than buffer without end.
    queued_.fetch_sub(n);
    auto s = session_;
    uint64_t id = request_;
    s->post([s, id] { s->do_abort(id); });
    return false;
  }
  auto s = session_;
  uint64_t id = request_;
  s->post([s, id, c = std::move(chunk)]() mutable { s->do_write(id, std::move(c)); });
  return true;
}

void SessionResponder::finish() {
  if (!streaming_.load() || done_.exchange(true)) return;
  auto s = session_;
  uint64_t id = request_;
  s->post([s, id] { s->do_finish(id); });
}

void SessionResponder::on_cancel(std::function<void()> f) {
  {
    MutexLock lock(&mu_);
    if (!fired_) {
      on_cancel_ = std::move(f);
      return;
    }
  }
  f();
}

void SessionResponder::fire_cancel() {
  std::function<void()> f;
  {
    MutexLock lock(&mu_);
    if (fired_) return;
    fired_ = true;
    cancelled_ = true;
    f = std::move(on_cancel_);
  }
  if (f) f();
}

}  // namespace etcd::rpc::http
