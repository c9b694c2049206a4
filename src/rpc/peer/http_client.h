// A small synchronous HTTP/1.1 client for calls between members that are
// not Raft traffic: the member list a joining member asks for, a peer's
// version, lease requests forwarded to the leader, probes. One connection
// per call, on the caller's thread, bounded by a timeout. https URLs are
// dialled over TLS with the member's peer TLS context (client role: its
// peer certificate presented, the server verified against the trusted CA),
// as the transport's connections are.
#pragma once

#include <utility>  // before Asio (Boost 1.74 uses std::exchange unincluded)

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace etcd::rpc::tls {
class TlsContext;
}

namespace etcd::rpc::peer {

struct HttpUrl {
  std::string scheme;  // "http" or "https"
  std::string host;
  std::string port;
};
// "http://127.0.0.1:2380" -> {http, 127.0.0.1, 2380}; a bracketed IPv6
// host loses its brackets.
Result<HttpUrl> parse_http_url(const std::string& url);

struct HttpRequest {
  std::string method = "GET";
  std::string target = "/";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // When set, the call's timeout bounds the connection (and TLS handshake)
  // only, and the request and answer get this long once connected (a Go
  // client whose transport has a dial timeout and no response timeout).
  std::optional<std::chrono::milliseconds> answer_timeout;
};

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string header(const std::string& name) const;
};

// Why a call failed, for callers that must word it as Go's net/http does
// (etcdctl's v2 mode prints "dial tcp 127.0.0.1:1: connect: connection
// refused").
struct HttpCallFailure {
  enum class Kind { kNone, kResolve, kConnect, kTls, kTimeout, kOther };
  Kind kind = Kind::kNone;
  int sys_errno = 0;       // kConnect / kOther: the errno, when the error is one
  bool connected = false;  // the TCP connection was up when it failed
  std::string message;     // the library's text
};

// kUnavailable when the peer cannot be reached, refuses the TLS handshake
// or does not answer within `timeout`. `tls` (client role) is used for https
// URLs; without it the system's CAs verify the server. `failure`, when
// given, says why a call failed.
Result<HttpResponse> http_call(const std::string& url, const HttpRequest& req,
                               std::chrono::milliseconds timeout,
                               const std::shared_ptr<tls::TlsContext>& tls = nullptr,
                               HttpCallFailure* failure = nullptr);

}  // namespace etcd::rpc::peer
