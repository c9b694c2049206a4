// A fixed set of threads running posted tasks from a bounded queue: where
// I/O threads send work that blocks (an HTTP health check waits for a
// ReadIndex round). try_post refuses when the queue is full, so a flood
// of requests is turned away instead of queued without end.
//
// Threads: try_post() and stop() from any thread but the pool's own.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "base/mutex.h"

namespace etcd {

class TaskPool {
 public:
  TaskPool(size_t threads, size_t max_queued);
  ~TaskPool() { stop(); }
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  // False (and `task` dropped) when max_queued tasks wait or the pool is
  // stopping.
  bool try_post(std::function<void()> task);
  // Runs the tasks already queued, then joins the threads. Idempotent.
  void stop();

 private:
  void run();

  const size_t max_queued_;
  Mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace etcd
