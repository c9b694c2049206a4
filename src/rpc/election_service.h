// The gRPC v3electionpb.Election service: etcd's leader election on the
// caller's lease, run with clientv3/concurrency's election recipe
// (client::concurrency) through the server's own client (SelfClient), as
// etcd's v3election does.
//  - Campaign(name, lease, value): puts "<name>/<lease in hex>" = value
//    under the lease (a lease of 0 gets a new 60 s lease nobody renews) and
//    waits until every older candidate is gone; answers the LeaderKey
//    {name, key, create revision, lease}. A cancelled campaign resigns.
//  - Proclaim(leader, value) / Resign(leader): act on the leader's key if
//    it still has the LeaderKey's create revision ("election: not leader"
//    from Proclaim otherwise; Resign then does nothing).
//  - Leader(name): the oldest candidate's kv ("election: no leader").
//  - Observe(name): streams the leader's kv, then each change of it and
//    each next leader, until the caller cancels or the server stops.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "rpc/self_client.h"
#include "server/etcd_server.h"

namespace etcd::rpc {

// A learner refuses every call, as etcd's.
std::unique_ptr<grpc::Service> make_election_service(server::EtcdServer& server,
                                                     std::shared_ptr<SelfClient> self);

}  // namespace etcd::rpc
