#include "rpc/http/http.h"

namespace etcd::rpc::http {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Calls f(name, value) for each "name=value" pair of the query, decoded.
template <typename F>
void for_each_param(std::string_view query, F&& f) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string name = url_decode(part.substr(0, eq));
    std::string value = eq == std::string_view::npos ? "" : url_decode(part.substr(eq + 1));
    f(name, std::move(value));
  }
}

}  // namespace

std::string url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
               hex_value(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return "";
}

std::optional<std::string> Request::query_param(std::string_view name) const {
  std::optional<std::string> found;
  for_each_param(query, [&](const std::string& k, std::string v) {
    if (!found && k == name) found = std::move(v);
  });
  return found;
}

std::vector<std::string> Request::query_params(std::string_view name) const {
  std::vector<std::string> out;
  for_each_param(query, [&](const std::string& k, std::string v) {
    if (k == name) out.push_back(std::move(v));
  });
  return out;
}

void Router::add_exact(std::string path, Handler* h) { exact_.emplace_back(std::move(path), h); }

void Router::add_prefix(std::string prefix, Handler* h) {
  prefix_.emplace_back(std::move(prefix), h);
}

void Router::handle(Request req, std::shared_ptr<Responder> responder) {
  for (const auto& [path, h] : exact_) {
    if (req.path == path) return h->handle(std::move(req), std::move(responder));
  }
  Handler* best = nullptr;
  size_t best_len = 0;
  for (const auto& [prefix, h] : prefix_) {
    if (req.path.rfind(prefix, 0) == 0 && prefix.size() >= best_len) {
      best = h;
      best_len = prefix.size();
    }
  }
  if (best != nullptr) return best->handle(std::move(req), std::move(responder));
  responder->respond(text_error(404, "404 page not found"));
}

Response text_error(int status, std::string text) {
  Response r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.body = std::move(text) + "\n";
  return r;
}

}  // namespace etcd::rpc::http
