// A watch that survives its endpoint: when the stream breaks, it is opened
// again on the next endpoint from the revision after the last one delivered,
// so no event is lost or delivered twice (docs/client.md).
#pragma once

#include <functional>

#include "client/client.h"

namespace etcd::client {

class Watcher {
 public:
  // Returns false to end the watch.
  using OnResponse = std::function<bool(const etcdserverpb::WatchResponse&)>;

  Watcher(Client& client, etcdserverpb::WatchCreateRequest request);

  // Blocks until `on_response` returns false, the server cancels the watch
  // (its cancel response is delivered first), cancel() is called, or no
  // endpoint answers within the dial timeout. Returns the reason: OK for the
  // first three.
  grpc::Status run(const OnResponse& on_response);

  // From another thread: ends run().
  void cancel();

  // From another thread: asks the server for a progress notification on the
  // current stream (etcd answers with a header-only response, delivered to
  // on_response). False when no stream is open.
  bool request_progress();

 private:
  using Stream = grpc::ClientReaderWriter<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>;
  // Writes to the stream come from run() and request_progress(): one at a
  // time (gRPC allows one writer alongside the reader).
  bool write(const etcdserverpb::WatchRequest& req);

  Client& client_;
  etcdserverpb::WatchCreateRequest request_;  // start_revision moves on
  Mutex mu_;
  grpc::ClientContext* ctx_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  Mutex write_mu_ ABSL_ACQUIRED_AFTER(mu_);
  Stream* stream_ ABSL_GUARDED_BY(write_mu_) = nullptr;  // the open stream, owned by run()
};

}  // namespace etcd::client
