#include "rpc/http/access.h"

#include <algorithm>

namespace etcd::rpc::http {

namespace {

bool allows(const std::vector<std::string>& list, const std::string& v) {
  if (list.empty()) return true;
  return std::find(list.begin(), list.end(), "*") != list.end() ||
         std::find(list.begin(), list.end(), v) != list.end();
}

Headers cors_headers(const std::string& origin) {
  return {{"Access-Control-Allow-Methods", "POST, GET, OPTIONS, PUT, DELETE"},
          {"Access-Control-Allow-Origin", origin},
          {"Access-Control-Allow-Headers", "accept, content-type, authorization"}};
}

std::string rebinding_text(const std::string& host) {
  return "\netcd received your request, but the Host header was unrecognized.\n\n"
         "To fix this, choose one of the following options:\n"
         "- Enable TLS, then any HTTPS request will be allowed.\n"
         "- Add the hostname you want to use to the whitelist in settings.\n"
         "  - e.g. etcd --host-whitelist \"" +
         host +
         "\"\n\n"
         "This requirement has been added to help prevent \"DNS Rebinding\" attacks "
         "(CVE-2018-5702).\n";
}

// Adds headers to whatever the wrapped handler answers.
class HeaderResponder final : public Responder {
 public:
  HeaderResponder(std::shared_ptr<Responder> inner, Headers extra)
      : inner_(std::move(inner)), extra_(std::move(extra)) {}
  void respond(Response r) override {
    r.headers.insert(r.headers.begin(), extra_.begin(), extra_.end());
    inner_->respond(std::move(r));
  }
  void start_stream(int status, std::string content_type, Headers headers) override {
    headers.insert(headers.begin(), extra_.begin(), extra_.end());
    inner_->start_stream(status, std::move(content_type), std::move(headers));
  }
  bool write(std::string chunk) override { return inner_->write(std::move(chunk)); }
  void finish() override { inner_->finish(); }
  void on_cancel(std::function<void()> f) override { inner_->on_cancel(std::move(f)); }
  bool cancelled() const override { return inner_->cancelled(); }

 private:
  const std::shared_ptr<Responder> inner_;
  const Headers extra_;
};

}  // namespace

std::string request_hostname(const Request& req) {
  std::string host = req.header("host");
  // "[::1]:2379" -> "::1"; "h:2379" -> "h"; a host without a port (or an
  // unsplittable one) is kept whole, as Go's SplitHostPort failing.
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    if (close != std::string::npos && close + 1 < host.size() && host[close + 1] == ':') {
      return host.substr(1, close - 1);
    }
    return host;
  }
  auto colon = host.find(':');
  if (colon != std::string::npos && host.find(':', colon + 1) == std::string::npos) {
    return host.substr(0, colon);
  }
  return host;
}

std::string AccessHandler::allowed_origin(const Request& req) const {
  if (allows(policy_.cors, "*")) return "*";
  std::string origin = req.header("origin");
  if (allows(policy_.cors, origin)) return origin;
  return "";
}

void AccessHandler::handle(Request req, std::shared_ptr<Responder> responder) {
  if (!req.tls) {
    const std::string host = request_hostname(req);
    if (!allows(policy_.host_whitelist, host)) {
      if (on_reject_) on_reject_(host);
      Response r;
      r.status = 421;
      r.content_type = "text/plain; charset=utf-8";
      r.headers.emplace_back("X-Content-Type-Options", "nosniff");
      r.body = rebinding_text(host) + "\n";
      responder->respond(std::move(r));
      return;
    }
  }
  const std::string origin = allowed_origin(req);
  if (req.method == "OPTIONS") {
    Response r;
    r.content_type.clear();
    if (!origin.empty()) r.headers = cors_headers(origin);
    responder->respond(std::move(r));
    return;
  }
  if (origin.empty()) {
    inner_.handle(std::move(req), std::move(responder));
    return;
  }
  inner_.handle(std::move(req),
                std::make_shared<HeaderResponder>(std::move(responder), cors_headers(origin)));
}

}  // namespace etcd::rpc::http
