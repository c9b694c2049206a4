#include "rpc/peer/http_client.h"

#include <strings.h>
#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include "rpc/peer/peer_stream.h"
#include "rpc/tls/tls.h"

namespace etcd::rpc::peer {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

Result<HttpUrl> parse_http_url(const std::string& url) {
  HttpUrl u;
  auto sep = url.find("://");
  if (sep == std::string::npos) return invalid_argument("URL " + url + " has no scheme");
  u.scheme = url.substr(0, sep);
  if (u.scheme != "http" && u.scheme != "https") {
    return invalid_argument("URL scheme must be http or https: " + url);
  }
  std::string rest = url.substr(sep + 3);
  if (auto slash = rest.find('/'); slash != std::string::npos) rest = rest.substr(0, slash);
  if (!rest.empty() && rest[0] == '[') {
    auto close = rest.find(']');
    if (close == std::string::npos) return invalid_argument("bad IPv6 host in " + url);
    u.host = rest.substr(1, close - 1);
    rest = rest.substr(close + 1);
    if (!rest.empty() && rest[0] == ':') u.port = rest.substr(1);
  } else {
    auto colon = rest.rfind(':');
    if (colon == std::string::npos) {
      u.host = rest;
    } else {
      u.host = rest.substr(0, colon);
      u.port = rest.substr(colon + 1);
    }
  }
  if (u.port.empty()) u.port = u.scheme == "https" ? "443" : "80";
  if (u.host.empty()) return invalid_argument("URL " + url + " has no host");
  return u;
}

std::string HttpResponse::header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
  }
  return "";
}

Result<HttpResponse> http_call(const std::string& url, const HttpRequest& req,
                               std::chrono::milliseconds timeout,
                               const std::shared_ptr<tls::TlsContext>& tls,
                               HttpCallFailure* failure) {
  auto u = parse_http_url(url);
  if (!u.is_ok()) return u.status();
  asio::io_context io;
  std::shared_ptr<asio::ssl::context> ctx;
  if (u->scheme == "https") ctx = tls ? tls->context() : default_client_context();
  const bool verify = !tls || !tls->options().insecure_skip_verify;
  PeerStream stream(io.get_executor(), ctx);
  http::request<http::string_body> r{http::string_to_verb(req.method), req.target, 11};
  r.set(http::field::host, u->host + ":" + u->port);
  for (const auto& [k, v] : req.headers) r.set(k, v);
  r.body() = req.body;
  r.prepare_payload();
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  beast::error_code result = asio::error::timed_out;
  bool done = false;
  bool connected = false;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto call = [&]() -> asio::awaitable<void> {
    beast::error_code ec = co_await dial(stream, *u, verify, timeout, timeout);
    if (!ec) {
      connected = true;
      if (req.answer_timeout) deadline = std::chrono::steady_clock::now() + *req.answer_timeout;
      stream.tcp().expires_at(deadline);
      co_await http::async_write(stream, r, asio::redirect_error(asio::use_awaitable, ec));
    }
    if (!ec) {
      beast::flat_buffer buf;
      stream.tcp().expires_at(deadline);
      co_await http::async_read(stream, buf, parser, asio::redirect_error(asio::use_awaitable, ec));
    }
    result = ec;
    done = true;
  };
  asio::co_spawn(io, call(), asio::detached);
  io.run_for(timeout + req.answer_timeout.value_or(std::chrono::milliseconds(0)) +
             std::chrono::milliseconds(100));
  stream.close();
  if (!done) {
    // Let the aborted operations finish the call before its state goes.
    io.restart();
    io.run_for(std::chrono::seconds(1));
  }
  if (!done || result) {
    if (failure) {
      using Kind = HttpCallFailure::Kind;
      failure->connected = connected;
      failure->message = done ? result.message() : "timed out";
      if (!done || result == asio::error::timed_out || result == beast::error::timeout) {
        failure->kind = Kind::kTimeout;
      } else if (result.category() == asio::error::get_netdb_category() ||
                 result.category() == asio::error::get_addrinfo_category()) {
        failure->kind = Kind::kResolve;
      } else if (result.category() == asio::error::get_ssl_category() ||
                 result.category() == asio::ssl::error::get_stream_category()) {
        failure->kind = Kind::kTls;
      } else if (result.category() == asio::error::get_system_category()) {
        failure->kind = connected ? Kind::kOther : Kind::kConnect;
        failure->sys_errno = result.value();
      } else {
        failure->kind = Kind::kOther;
      }
    }
    return Status(Code::kUnavailable, "request to " + url + req.target +
                                          " failed: " + (done ? result.message() : "timed out"));
  }
  HttpResponse resp;
  auto& m = parser.get();
  resp.status = static_cast<int>(m.result_int());
  for (const auto& f : m) {
    resp.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  }
  resp.body = std::move(m.body());
  return resp;
}

}  // namespace etcd::rpc::peer
