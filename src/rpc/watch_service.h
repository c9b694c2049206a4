// The Watch service (etcdserverpb.Watch, one bidirectional stream per
// client call) over the member's WatchableStore.
//
// It uses gRPC's callback API: a stream costs a reactor object and its
// bounded buffer, not a thread. With the sync API every open stream would
// hold a handler thread blocked in Read() (plus one to send), so thousands
// of watch streams would mean thousands of threads. Responses are converted
// and written by a small pool of sender threads (and by gRPC's own
// callback threads as writes complete), never by the apply thread: the
// store's observer only queues a response and wakes the pool.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <memory>

#include "etcdserverpb/rpc.grpc.pb.h"
#include "server/etcd_server.h"

namespace etcd::rpc {

class WatchServiceBase : public etcdserverpb::Watch::CallbackService {
 public:
  // Ends every open stream with UNAVAILABLE "etcdserver: server stopped"
  // (a shutting-down server would otherwise wait for the gRPC shutdown
  // deadline, as watch streams never end on their own).
  virtual void cancel_all() = 0;
};

// Requests up to max_request_bytes (the server's --max-request-bytes):
// fragmented responses are cut at max_request_bytes plus gRPC's overhead,
// as etcd's.
std::unique_ptr<WatchServiceBase> make_watch_service(server::EtcdServer& server,
                                                     uint64_t max_request_bytes);

}  // namespace etcd::rpc
