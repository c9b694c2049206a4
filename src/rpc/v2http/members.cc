#include "rpc/v2http/members.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "rpc/gateway/go_json.h"
#include "rpc/v2http/form.h"

namespace etcd::rpc::v2http {

namespace {

constexpr std::string_view kMembersPrefix = "/v2/members";

std::string hex(uint64_t v) {
  char buf[17];
  snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string json_list(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out += ",";
    out += gateway::go_json_string(v[i]);
  }
  return out + "]";
}

// etcd's trimPrefix: the prefix, then one slash.
std::string rest_of(const std::string& path) {
  std::string s = path.rfind(kMembersPrefix, 0) == 0 ? path.substr(kMembersPrefix.size()) : path;
  if (!s.empty() && s.front() == '/') s.erase(0, 1);
  return s;
}

http::Response json_response(int status, std::string body, http::Headers h = {}) {
  http::Response r;
  r.status = status;
  r.headers = std::move(h);
  r.body = std::move(body);
  return r;
}

http::Response not_allowed(const char* allow) {
  auto resp = http::text_error(405, "Method Not Allowed");
  if (allow != nullptr) resp.headers.emplace_back("Allow", allow);
  return resp;
}

// The Go decoder's text for a JSON body it cannot read.
std::string json_error_text(const std::string& body, size_t byte) {
  if (byte > body.size() || body.find_first_not_of(" \t\r\n") == std::string::npos) {
    return "unexpected end of JSON input";
  }
  char c = body[byte == 0 ? 0 : byte - 1];
  return std::string("invalid character '") + c + "' looking for beginning of value";
}

const char* go_type(const nlohmann::json& j) {
  if (j.is_number()) return "number";
  if (j.is_string()) return "string";
  if (j.is_boolean()) return "bool";
  if (j.is_object()) return "object";
  if (j.is_array()) return "array";
  return "null";
}

// etcd's unmarshalRequest of a MemberCreateRequest/MemberUpdateRequest:
// the peer URLs, or the answer to give.
std::variant<std::vector<std::string>, http::Response> read_peer_urls(const http::Request& req) {
  std::string ctype = req.header("content-type");
  size_t semi = ctype.find(';');
  if (semi != std::string::npos) {
    ctype = ctype.substr(0, semi);
    size_t b = ctype.find_first_not_of(" \t");
    size_t e = ctype.find_last_not_of(" \t");
    ctype = b == std::string::npos ? "" : ctype.substr(b, e - b + 1);
    std::transform(ctype.begin(), ctype.end(), ctype.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  }
  if (ctype != "application/json") {
    return message_error(415, "Bad Content-Type " + ctype + ", accept application/json");
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(req.body);
  } catch (const nlohmann::json::parse_error& e) {
    return message_error(400, json_error_text(req.body, e.byte));
  }
  std::vector<std::string> urls;
  if (j.is_object() && j.contains("peerURLs")) {
    const auto& p = j["peerURLs"];
    if (!p.is_null() && !p.is_array()) {
      return message_error(400, std::string("json: cannot unmarshal ") + go_type(p) +
                                    " into Go struct field .peerURLs of type []string");
    }
    if (p.is_array()) {
      for (const auto& u : p) {
        if (!u.is_string()) {
          return message_error(400, std::string("json: cannot unmarshal ") + go_type(u) +
                                        " into Go struct field .peerURLs of type string");
        }
        urls.push_back(u.get<std::string>());
      }
    }
  } else if (!j.is_object() && !j.is_null()) {
    return message_error(400, std::string("json: cannot unmarshal ") + go_type(j) +
                                  " into Go value of type struct { PeerURLs []string " +
                                  "\"json:\\\"peerURLs\\\"\" }");
  }
  auto checked = check_peer_urls(urls);
  if (!checked.is_ok()) return message_error(400, checked.status().message());
  return std::move(checked).value();
}

// etcd's getID: the member id of the path, or the answer to give.
std::variant<uint64_t, http::Response> path_id(const std::string& path) {
  const std::string s = rest_of(path);
  if (s.empty()) return not_allowed(nullptr);
  uint64_t id = 0;
  bool ok = true;
  for (char c : s) {
    int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
            : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
            : (c >= 'A' && c <= 'F')                    ? c - 'A' + 10
                                                        : -1;
    if (d < 0 || id > (UINT64_MAX >> 4)) {
      ok = false;
      break;
    }
    id = id * 16 + static_cast<uint64_t>(d);
  }
  if (!ok) return message_error(404, "No such member: " + s);
  return id;
}

}  // namespace

http::Response message_error(int status, std::string_view message) {
  return json_response(status, "{\"message\":" + gateway::go_json_string(message) + "}");
}

std::string member_json(const V2Member& m) {
  return "{\"id\":\"" + hex(m.id) + "\",\"name\":" + gateway::go_json_string(m.name) +
         ",\"peerURLs\":" + json_list(m.peer_urls) + ",\"clientURLs\":" + json_list(m.client_urls) +
         "}";
}

Result<std::vector<std::string>> check_peer_urls(const std::vector<std::string>& urls) {
  if (urls.empty()) return Status(Code::kInvalidArgument, "no valid URLs given");
  std::vector<std::string> out;
  for (const auto& raw : urls) {
    size_t b = raw.find_first_not_of(" \t\r\n");
    size_t e = raw.find_last_not_of(" \t\r\n");
    const std::string u = b == std::string::npos ? "" : raw.substr(b, e - b + 1);
    const size_t sep = u.find("://");
    const size_t colon = u.find(':');
    const size_t slash = u.find('/');
    if (sep == std::string::npos && colon != std::string::npos &&
        (slash == std::string::npos || colon < slash) && colon > 0) {
      // url.Parse takes "host:port" for a scheme "host" unless the part
      // before the colon is not a valid scheme.
      bool scheme_like = std::isalpha(static_cast<unsigned char>(u[0])) != 0;
      for (size_t i = 0; i < colon; ++i) {
        char c = u[i];
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
          scheme_like = false;
        }
      }
      if (!scheme_like) {
        return Status(Code::kInvalidArgument,
                      "parse \"" + u + "\": first path segment in URL cannot contain colon");
      }
    }
    const std::string scheme = sep == std::string::npos
                                   ? (colon == std::string::npos ? "" : u.substr(0, colon))
                                   : u.substr(0, sep);
    if (scheme != "http" && scheme != "https" && scheme != "unix" && scheme != "unixs") {
      return Status(Code::kInvalidArgument, "URL scheme must be http, https, unix, or unixs: " + u);
    }
    const std::string rest = sep == std::string::npos ? "" : u.substr(sep + 3);
    const size_t path_at = rest.find_first_of("/?#");
    const std::string host = rest.substr(0, path_at);
    const size_t port = host.rfind(':');
    const bool bracket_ok = host.empty() || host.front() != '[' ||
                            (port != std::string::npos && port > 0 && host[port - 1] == ']');
    if (port == std::string::npos || !bracket_ok) {
      return Status(Code::kInvalidArgument,
                    "URL address does not have the form \"host:port\": " + u);
    }
    if (path_at != std::string::npos && rest[path_at] == '/') {
      return Status(Code::kInvalidArgument, "URL must not contain a path: " + u);
    }
    out.push_back(u);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void MembersHandler::handle(http::Request req, std::shared_ptr<http::Responder> r) {
  auto decoded = unescape_path(req.path);
  if (!decoded) return r->respond(bad_request());
  if (auto redirect = redirect_unclean(*decoded, req.query, req.method)) {
    return r->respond(std::move(*redirect));
  }
  req.path = *decoded;
  const std::string& m = req.method;
  if (m != "GET" && m != "POST" && m != "DELETE" && m != "PUT") {
    return r->respond(not_allowed("GET,POST,DELETE,PUT"));
  }
  const http::Headers base{{"X-Etcd-Cluster-Id", hex(cluster_.cluster_id())}};
  auto with_base = [base](http::Response resp) {
    http::Headers h = base;
    h.insert(h.end(), resp.headers.begin(), resp.headers.end());
    resp.headers = std::move(h);
    return resp;
  };
  if (m == "GET") {
    const std::string sub = rest_of(req.path);
    if (sub.empty()) {
      std::string body = "{\"members\":[";
      bool first = true;
      for (const auto& mem : cluster_.members()) {
        if (!first) body += ",";
        first = false;
        body += member_json(mem);
      }
      body += "]}\n";
      return r->respond(json_response(200, std::move(body), base));
    }
    if (sub == "leader") {
      const uint64_t lead = cluster_.leader();
      for (const auto& mem : cluster_.members()) {
        if (lead != 0 && mem.id == lead) {
          return r->respond(json_response(200, member_json(mem) + "\n", base));
        }
      }
      return r->respond(with_base(message_error(503, "During election")));
    }
    return r->respond(with_base(message_error(404, "Not found")));
  }
  // Membership changes wait for Raft: on the pool.
  auto run = [this, &r, &with_base](std::function<http::Response()> fn) {
    auto rr = r;
    if (!pool_.try_post([rr, fn = std::move(fn)] { rr->respond(fn()); })) {
      r->respond(with_base(message_error(500, "Internal Server Error")));
    }
  };
  if (m == "POST") {
    auto urls = read_peer_urls(req);
    if (auto* resp = std::get_if<http::Response>(&urls)) return r->respond(with_base(*resp));
    return run([this, urls = std::get<std::vector<std::string>>(std::move(urls)), with_base] {
      ChangeResult c = cluster_.add_member(urls);
      switch (c.outcome) {
        case ChangeOutcome::kOk:
          return with_base(json_response(201, member_json(c.member) + "\n"));
        case ChangeOutcome::kIdExists:
          return with_base(message_error(409, "membership: ID exists"));
        case ChangeOutcome::kPeerUrlExists:
          return with_base(message_error(409, "membership: peerURL exists"));
        default:
          return with_base(message_error(500, "Internal Server Error"));
      }
    });
  }
  auto id_or = path_id(req.path);
  if (auto* resp = std::get_if<http::Response>(&id_or)) return r->respond(with_base(*resp));
  const uint64_t id = std::get<uint64_t>(id_or);
  auto no_content = [with_base] {
    http::Response resp;
    resp.status = 204;
    resp.content_type = "";
    return with_base(std::move(resp));
  };
  if (m == "DELETE") {
    return run([this, id, with_base, no_content] {
      ChangeResult c = cluster_.remove_member(id);
      switch (c.outcome) {
        case ChangeOutcome::kOk:
          return no_content();
        case ChangeOutcome::kRemoved:
          return with_base(message_error(410, "Member permanently removed: " + hex(id)));
        case ChangeOutcome::kNotFound:
          return with_base(message_error(404, "No such member: " + hex(id)));
        default:
          return with_base(message_error(500, "Internal Server Error"));
      }
    });
  }
  // PUT
  auto urls = read_peer_urls(req);
  if (auto* resp = std::get_if<http::Response>(&urls)) return r->respond(with_base(*resp));
  run([this, id, urls = std::get<std::vector<std::string>>(std::move(urls)), with_base,
       no_content] {
    ChangeResult c = cluster_.update_member(id, urls);
    switch (c.outcome) {
      case ChangeOutcome::kOk:
        return no_content();
      case ChangeOutcome::kPeerUrlExists:
        return with_base(message_error(409, "membership: peerURL exists"));
      case ChangeOutcome::kNotFound:
        return with_base(message_error(404, "No such member: " + hex(id)));
      default:
        return with_base(message_error(500, "Internal Server Error"));
    }
  });
}

void MachinesHandler::handle(http::Request req, std::shared_ptr<http::Responder> r) {
  if (req.method != "GET" && req.method != "HEAD") return r->respond(not_allowed("GET,HEAD"));
  std::vector<std::string> urls;
  for (const auto& m : cluster_.members()) {
    urls.insert(urls.end(), m.client_urls.begin(), m.client_urls.end());
  }
  std::sort(urls.begin(), urls.end());
  http::Response resp;
  resp.content_type = "text/plain; charset=utf-8";
  for (size_t i = 0; i < urls.size(); ++i) resp.body += (i > 0 ? ", " : "") + urls[i];
  if (req.method == "HEAD") resp.body.clear();
  r->respond(std::move(resp));
}

void StatsHandler::handle(http::Request req, std::shared_ptr<http::Responder> r) {
  if (req.method != "GET") return r->respond(not_allowed("GET"));
  std::string body;
  switch (kind_) {
    case Kind::kSelf:
      body = cluster_.self_stats();
      break;
    case Kind::kStore:
      body = store_.json_stats();
      break;
    case Kind::kLeader: {
      auto s = cluster_.leader_stats();
      if (!s) return r->respond(message_error(403, "not current leader"));
      body = std::move(*s);
      break;
    }
  }
  r->respond(json_response(200, std::move(body)));
}

}  // namespace etcd::rpc::v2http
