// The gRPC v3lockpb.Lock service: etcd's distributed lock on the caller's
// lease, run with clientv3/concurrency's mutex recipe (client::concurrency)
// through the server's own client (SelfClient), as etcd's v3lock does.
//  - Lock(name, lease): puts "<name>/<lease in hex>" under the lease (a
//    lease of 0 gets a new 60 s lease that nobody renews, as etcd's) and
//    waits until every older key under "<name>/" is gone; answers the key.
//    The wait ends when the caller cancels (the key is then deleted) or the
//    server stops.
//  - Unlock(key): deletes the key.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "rpc/self_client.h"
#include "server/etcd_server.h"

namespace etcd::rpc {

// A learner refuses every call (etcd's interceptor lets only serializable
// reads and Status through).
std::unique_ptr<grpc::Service> make_lock_service(server::EtcdServer& server,
                                                 std::shared_ptr<SelfClient> self);

}  // namespace etcd::rpc
