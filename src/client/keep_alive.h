// Keeps one lease alive over the LeaseKeepAlive stream, renewing at a third of
// its TTL, and resumes on the next endpoint when the stream breaks, for as
// long as the lease can still be alive (docs/client.md).
#pragma once

#include <condition_variable>
#include <functional>

#include "client/client.h"

namespace etcd::client {

class KeepAlive {
 public:
  // Each renewal's answer; returns false to stop. A TTL <= 0 means the lease
  // expired or was revoked, and ends the keep-alive after it is delivered.
  using OnResponse = std::function<bool(const etcdserverpb::LeaseKeepAliveResponse&)>;

  KeepAlive(Client& client, int64_t lease_id);

  // Blocks until `on_response` returns false, the lease is gone, cancel(), or
  // the lease's TTL passed without a renewal (DEADLINE_EXCEEDED).
  grpc::Status run(const OnResponse& on_response);
  void cancel();

 private:
  Client& client_;
  const int64_t lease_id_;
  Mutex mu_;
  std::condition_variable cv_;
  grpc::ClientContext* ctx_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace etcd::client
