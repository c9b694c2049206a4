// Publishes this member's name and client URLs through Raft once it serves
// (etcd's publish), retrying until it succeeds or the server stops, then
// has the leader record the cluster version. wait_ready() blocks until the
// publication went through: etcd serves clients only then.
//
// Owner thread: its own Worker (start() to stop()); wait_ready() from any.
#pragma once

#include <absl/base/thread_annotations.h>

#include <condition_variable>

#include "base/mutex.h"
#include "base/worker.h"
#include "server/server_core.h"

namespace etcd::server {

class Publisher {
 public:
  explicit Publisher(ServerCore& core) : core_(core) {}
  ~Publisher() { stop(); }

  void start();
  void stop() { worker_.stop(); }
  bool wait_ready(std::chrono::milliseconds timeout);

 private:
  void run(Worker& self);

  ServerCore& core_;
  Worker worker_;
  Mutex mu_;
  std::condition_variable cv_;
  bool ready_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace etcd::server
