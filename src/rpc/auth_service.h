// The gRPC etcdserverpb.Auth service: thin adapters onto the server's
// AuthFront. Each call first finds its caller (rpc::caller: the "token"
// metadata or the client certificate's CN); an invalid token fails the
// call with etcd's "etcdserver: invalid auth token" before anything is
// proposed. Learners serve none of it (etcd).
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "server/etcd_server.h"

namespace etcd::rpc {

std::unique_ptr<grpc::Service> make_auth_service(server::EtcdServer& server);

}  // namespace etcd::rpc
