// What the v2 HTTP API (rpc/v2http) needs of a member: etcd's
// EtcdServer.Do for the keys API, the v2 store for local reads and waits,
// and the raft term and index of the X-Raft-* headers. EtcdServer's
// V2Front implements it; tests use a fake.
//
// Threads: do_request() blocks its caller until the request is applied or
// times out (call it off the HTTP I/O threads); the rest is any thread.
#pragma once

#include <cstdint>
#include <variant>

#include "base/status.h"
#include "etcdserverpb/etcdserver.pb.h"
#include "v2store/store.h"

namespace etcd::server {

// The v2 API's namespaces in the store (etcd's StoreClusterPrefix and
// StoreKeysPrefix): membership facts under /0, the keys API's keys under /1.
inline constexpr std::string_view kV2ClusterPrefix = "/0";
inline constexpr std::string_view kV2KeysPrefix = "/1";

struct V2Outcome {
  // The store's event (keys as stored, with the "/1" prefix) or its error.
  std::variant<v2store::Event, v2store::Error> result;
  // After the request: the member's raft term and committed index.
  uint64_t raft_term = 0;
  uint64_t raft_index = 0;
};

class V2Api {
 public:
  virtual ~V2Api() = default;

  // etcd's EtcdServer.Do. `r.path()` is the store path ("/1/foo"); r.id()
  // is set here. POST, PUT, DELETE and GET with quorum (proposed as QGET)
  // go through Raft and wait for their apply; GET and HEAD read the local
  // store. A GET with wait is not handled here: the caller watches
  // store() itself. A Status is a failure of the member, with etcd's
  // message ("etcdserver: request timed out", "etcdserver: server
  // stopped", ...), which the API answers as error 300.
  virtual Result<V2Outcome> do_request(etcdserverpb::Request r) = 0;

  virtual v2store::Store& store() = 0;
  virtual uint64_t raft_term() const = 0;
  virtual uint64_t raft_index() const = 0;  // committed
};

}  // namespace etcd::server
