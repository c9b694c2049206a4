// A background thread with a stop request, wake-ups and interruptible
// sleeps: the one way a part of this project runs a loop of its own.
//
//   Worker w;
//   w.start([this](Worker& self) {
//     while (self.sleep_for(kInterval)) run_once();
//   });
//   ...
//   w.stop();  // wakes the sleep, waits for the body to return
//
// Threads: start(), stop() and kick() from any thread but the worker's own
// (stop() joins it); sleep_for() and stopping() from the body.
#pragma once

#include <absl/base/thread_annotations.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <thread>

#include "base/mutex.h"

namespace etcd {

class Worker {
 public:
  Worker() = default;
  ~Worker() { stop(); }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Runs `body` on a new thread; the body returns once stopping(). A worker
  // that was stopped may be started again.
  void start(std::function<void(Worker&)> body);
  // Asks the body to stop, wakes its sleep and joins it. Idempotent.
  void stop();
  bool running() const { return thread_.joinable(); }

  // Waits until `d` has passed, kick() or stop(), and says which (kStop
  // wins). A kick since the last wait makes it return at once; a wait
  // consumes the kicks before it.
  enum class Wake { kTimeout, kKick, kStop };
  Wake wait_for(std::chrono::nanoseconds d);
  // wait_for(d), false once stopping.
  bool sleep_for(std::chrono::nanoseconds d) { return wait_for(d) != Wake::kStop; }
  bool stopping() const;
  // Wakes the body's current (or next) sleep.
  void kick();

 private:
  mutable Mutex mu_;
  std::condition_variable cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool kicked_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // start()/stop() callers
};

}  // namespace etcd
