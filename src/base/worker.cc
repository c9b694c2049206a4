#include "base/worker.h"

#include <utility>

#include "base/assert.h"

namespace etcd {

void Worker::start(std::function<void(Worker&)> body) {
  ASSERT(!thread_.joinable(), "worker started twice");
  {
    MutexLock lock(&mu_);
    stopping_ = false;
    kicked_ = false;
  }
  thread_ = std::thread([this, body = std::move(body)] { body(*this); });
}

void Worker::stop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Worker::Wake Worker::wait_for(std::chrono::nanoseconds d) {
  MutexLock lock(&mu_);
  lock.wait_for(cv_, d, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stopping_ || kicked_; });
  if (stopping_) return Wake::kStop;
  return std::exchange(kicked_, false) ? Wake::kKick : Wake::kTimeout;
}

bool Worker::stopping() const {
  MutexLock lock(&mu_);
  return stopping_;
}

void Worker::kick() {
  {
    MutexLock lock(&mu_);
    kicked_ = true;
  }
  cv_.notify_all();
}

}  // namespace etcd
