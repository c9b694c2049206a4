// etcd's JSON gateway on the client port: POST /v3/kv/range and the rest of
// grpc-gateway's mapping of the v3 API (docs/gateway.md).
//
// Each request becomes a gRPC call on a channel (in the server, the
// in-process channel of the client gRPC server, so auth, error mapping and
// interceptors are exactly those of gRPC clients). Calls are made with
// gRPC's callback API: handle() never blocks the listener's thread, and
// the answer goes back through the Responder from gRPC's threads.
//
//   POST /v3/kv/put {json} ──decode (Go's rules)──▶ /etcdserverpb.KV/Put
//        200 {json}  ◀──encode (jsonpb's rules)── PutResponse | status
//
// Streams (/v3/watch, /v3/lease/keepalive, /v3/maintenance/snapshot,
// /v3/election/observe) answer chunked, one {"result":{...}} per line; the
// call is cancelled when the client goes away or reads too slowly.
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/generic/generic_stub.h>

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "rpc/http/http.h"

namespace google::protobuf {
class MethodDescriptor;
}

namespace etcd::rpc::gateway {

class LiveCalls;

class Gateway : public http::Handler {
 public:
  // refuse_cn, if set, says whether a request whose TLS client certificate
  // has a CommonName must be refused: etcd does so when client certificate
  // auth and auth are both on, since the gateway's calls cannot carry the
  // CN as the caller.
  explicit Gateway(std::shared_ptr<grpc::Channel> channel,
                   std::function<bool()> refuse_cn = nullptr);
  // Cancels the calls still in flight and waits until they are gone.
  ~Gateway() override;

  // Serves paths under /v3/ and /v3beta/ (the same API).
  void handle(http::Request req, std::shared_ptr<http::Responder> responder) override;

  // Cancels the calls in flight (at shutdown: streams never end alone).
  void cancel_all();

  // HTTP status grpc-gateway answers for a gRPC code.
  static int http_status(int grpc_code);

 private:
  void unary(const google::protobuf::MethodDescriptor* m, http::Request req,
             std::shared_ptr<http::Responder> responder);
  void stream(const google::protobuf::MethodDescriptor* m, http::Request req,
              std::shared_ptr<http::Responder> responder);

  std::shared_ptr<grpc::Channel> channel_;
  std::function<bool()> refuse_cn_;
  grpc::GenericStub stub_;
  // "/v3/kv/range" -> etcdserverpb.KV.Range
  std::unordered_map<std::string, const google::protobuf::MethodDescriptor*> routes_;
  std::shared_ptr<LiveCalls> live_;
};

}  // namespace etcd::rpc::gateway
