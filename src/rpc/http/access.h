// etcd's access controller in front of the client port's HTTP side
// (embed/serve.go): every answer carries the CORS headers when the origin
// is allowed (--cors, "*" by default), an OPTIONS request is answered 200
// with them and nothing else, and a plain (non-TLS) request whose Host is
// not in --host-whitelist ("*" by default) is refused with 421 and etcd's
// DNS-rebinding text.
//
// Threads: handle() on the listeners' I/O threads, as the handler it wraps.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "rpc/http/http.h"

namespace etcd::rpc::http {

struct AccessPolicy {
  // Allowed origins; empty or "*" allows all (etcd's defaults are "*").
  std::vector<std::string> cors = {"*"};
  // Hostnames plain requests may name; empty or "*" allows all.
  std::vector<std::string> host_whitelist = {"*"};
};

class AccessHandler final : public Handler {
 public:
  // `inner` is not owned and outlives this. `on_reject` is told the host of
  // each refused request (etcd logs it).
  AccessHandler(Handler& inner, AccessPolicy policy,
                std::function<void(const std::string& host)> on_reject = nullptr)
      : inner_(inner), policy_(std::move(policy)), on_reject_(std::move(on_reject)) {}

  void handle(Request req, std::shared_ptr<Responder> responder) override;

  // The origin to answer with ("*", the request's Origin, or "" for none).
  std::string allowed_origin(const Request& req) const;

 private:
  Handler& inner_;
  const AccessPolicy policy_;
  const std::function<void(const std::string&)> on_reject_;
};

// Go's httputil.GetHostname: the Host header without its port.
std::string request_hostname(const Request& req);

}  // namespace etcd::rpc::http
