// A small synchronous HTTP/1.1 client for calls between members that are
// not Raft traffic: the member list a joining member asks for, a peer's
// version, lease requests forwarded to the leader, probes. One connection
// per call, on the caller's thread, bounded by a timeout.
#pragma once

#include <utility>  // before Asio (Boost 1.74 uses std::exchange unincluded)

#include <chrono>
#include <string>
#include <vector>

#include "base/status.h"

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
};

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string header(const std::string& name) const;
};

// kUnavailable when the peer cannot be reached or does not answer within
// `timeout`.
Result<HttpResponse> http_call(const std::string& url, const HttpRequest& req,
                               std::chrono::milliseconds timeout);

}  // namespace etcd::rpc::peer
