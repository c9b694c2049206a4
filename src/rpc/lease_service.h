// The gRPC etcdserverpb.Lease service: thin adapters onto the EtcdServer's
// lease methods, with etcd's v3rpc behaviour (TimeToLive of an unknown lease
// answers TTL -1; a keep-alive for an unknown lease answers TTL 0).
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "server/etcd_server.h"

namespace etcd::rpc {

std::unique_ptr<grpc::Service> make_lease_service(server::EtcdServer& server);

}  // namespace etcd::rpc
