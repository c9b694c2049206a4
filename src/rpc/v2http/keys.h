// /v2/keys and /v2/keys/...: etcd's v2 keys API (etcd 3.4's keysHandler
// with --enable-v2, v2 auth off).
//
//   request ──parse_key_request──▶ etcdserverpb::Request ("/1" + key)
//     GET/HEAD        the local store, on the I/O thread (no waiting)
//     GET wait=true   store().watch(): the sink writes to the Responder
//                     (one event, or chunks while stream=true); the
//                     client leaving cancels the watch
//     PUT/POST/DELETE, GET quorum=true
//                     V2Api::do_request() on the TaskPool (it blocks
//                     until applied); a full pool answers error 300
//
// Answers: the event's JSON and a newline, 201 when the event created the
// node, with X-Etcd-Index, X-Raft-Index, X-Raft-Term; v2 errors as
// v2store::Error JSON; a failure of the member as error 300 with its text.
//
// Threads: handle() on the listener's I/O thread; the rest on the pool or
// on the store's writing thread (watch sinks).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <variant>

#include "base/task_pool.h"
#include "etcdserverpb/etcdserver.pb.h"
#include "rpc/http/http.h"
#include "server/v2_api.h"
#include "v2store/error.h"

namespace etcd::rpc::v2http {

struct KeyRequest {
  etcdserverpb::Request req;  // id unset (do_request sets it)
  bool no_value_on_success = false;
};

// etcd's parseKeyRequest: the form's fields checked in etcd's order, each
// failure with its v2 error code and cause. `now_ns` (Unix ns) + ttl is the
// expiration.
std::variant<KeyRequest, v2store::Error> parse_key_request(const http::Request& r, int64_t now_ns);

// The v2 error as etcd writes it (X-Etcd-Index, JSON and a newline).
http::Response key_error_response(const v2store::Error& e);

class KeysHandler : public http::Handler {
 public:
  // `cluster_id` is read per request (it is known once the member
  // started); `now_ns` is the wall clock in Unix ns.
  KeysHandler(server::V2Api& api, TaskPool& pool, std::function<uint64_t()> cluster_id,
              std::function<int64_t()> now_ns);

  void handle(http::Request req, std::shared_ptr<http::Responder> r) override;

 private:
  void watch(const KeyRequest& kr, http::Headers base, std::shared_ptr<http::Responder> r);
  void answer(const server::V2Outcome& o, bool head, bool no_value_on_success, http::Headers base,
              const std::shared_ptr<http::Responder>& r);

  server::V2Api& api_;
  TaskPool& pool_;
  std::function<uint64_t()> cluster_id_;
  std::function<int64_t()> now_ns_;
};

}  // namespace etcd::rpc::v2http
