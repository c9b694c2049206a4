#include "etcdctl/v2/client.h"

#include <arpa/inet.h>
#include <netdb.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "etcdctl/output/go_json.h"
#include "etcdctl/output/quote.h"
#include "rpc/peer/http_client.h"

namespace etcd::ctl::v2 {

std::string EtcdError::text() const {
  return std::to_string(code) + ": " + message + " (" + cause + ") [" + std::to_string(index) + "]";
}

std::string Error::detail() const {
  std::string s;
  for (size_t i = 0; i < cluster.size(); ++i) {
    s += "error #" + std::to_string(i) + ": " + cluster[i] + "\n";
  }
  return s;
}

namespace {

Error cluster_error(const std::vector<Error>& errs) {
  Error e;
  e.is_cluster = true;
  e.text = "client: etcd cluster is unavailable or misconfigured";
  e.connection = true;
  for (size_t i = 0; i < errs.size(); ++i) {
    e.text += "; error #" + std::to_string(i) + ": " + errs[i].text + "\n";
    e.cluster.push_back(errs[i].text);
    if (!errs[i].connection) e.connection = false;
  }
  return e;
}

Error plain(const std::string& text, bool connection = false) {
  Error e;
  e.text = text;
  e.connection = connection;
  return e;
}

bool unreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

std::string pct(unsigned char c) {
  static const char* kHex = "0123456789ABCDEF";
  std::string s = "%";
  s += kHex[c >> 4];
  s += kHex[c & 15];
  return s;
}

// The first nameserver of /etc/resolv.conf, as Go's resolver names it.
std::string nameserver() {
  std::ifstream in("/etc/resolv.conf");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string word, addr;
    if (ls >> word >> addr && word == "nameserver") {
      if (addr.find(':') != std::string::npos) return "[" + addr + "]:53";
      return addr + ":53";
    }
  }
  return "127.0.0.1:53";
}

// Go's net.Dial address of host:port: the first address the host resolves to.
std::string dial_address(const std::string& host, const std::string& port) {
  in6_addr a6;
  in_addr a4;
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1) return host + ":" + port;
  if (inet_pton(AF_INET6, host.c_str(), &a6) == 1) return "[" + host + "]:" + port;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string out = host + ":" + port;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) == 0 && res) {
    char ip[INET6_ADDRSTRLEN] = "";
    if (res->ai_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(res->ai_addr)->sin6_addr, ip, sizeof ip);
      out = "[" + std::string(ip) + "]:" + port;
    } else {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr, ip, sizeof ip);
      out = std::string(ip) + ":" + port;
    }
    freeaddrinfo(res);
  }
  return out;
}

std::string lower_first(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

std::string status_text(int code) {
  switch (code) {
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    case 506:
      return "Variant Also Negotiates";
    case 507:
      return "Insufficient Storage";
    case 508:
      return "Loop Detected";
    case 510:
      return "Not Extended";
    case 511:
      return "Network Authentication Required";
    default:
      return "";
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// URLs.

std::string Url::str() const {
  std::string s;
  if (!scheme.empty()) s += scheme + ":";
  if (!scheme.empty() || !host.empty()) s += "//" + host;
  s += escape_path(path);
  if (!query.empty()) s += "?" + query;
  return s;
}

std::optional<Url> parse_url(const std::string& in, std::string* err) {
  Url u;
  std::string rest = in;
  // getScheme: letters, then letters, digits, + - .; up to ':'.
  for (size_t i = 0; i < in.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(in[i]);
    if (std::isalpha(c)) continue;
    if (std::isdigit(c) || c == '+' || c == '-' || c == '.') {
      if (i == 0) break;
      continue;
    }
    if (c == ':') {
      if (i == 0) {
        if (err) *err = "parse " + go_quote(in) + ": missing protocol scheme";
        return std::nullopt;
      }
      u.scheme = in.substr(0, i);
      std::transform(u.scheme.begin(), u.scheme.end(), u.scheme.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      rest = in.substr(i + 1);
    }
    break;
  }
  if (const size_t q = rest.find('?'); q != std::string::npos) {
    u.query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (rest.rfind("//", 0) == 0) {
    rest = rest.substr(2);
    const size_t slash = rest.find('/');
    u.host = rest.substr(0, slash);
    rest = slash == std::string::npos ? "" : rest.substr(slash);
  } else if (u.scheme.empty()) {
    const size_t slash = rest.find('/');
    if (rest.substr(0, slash).find(':') != std::string::npos) {
      if (err) *err = "parse " + go_quote(in) + ": first path segment in URL cannot contain colon";
      return std::nullopt;
    }
  }
  u.path = rest;
  return u;
}

std::string escape_path(const std::string& p) {
  std::string out;
  for (unsigned char c : p) {
    if (unreserved(c) || c == '$' || c == '&' || c == '+' || c == ',' || c == '/' || c == ':' ||
        c == ';' || c == '=' || c == '@') {
      out += static_cast<char>(c);
    } else {
      out += pct(c);
    }
  }
  return out;
}

std::string query_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (unreserved(c)) {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += pct(c);
    }
  }
  return out;
}

std::string encode_values(std::vector<std::pair<std::string, std::string>> kv) {
  std::stable_sort(kv.begin(), kv.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out;
  for (const auto& [k, v] : kv) {
    if (!out.empty()) out += "&";
    out += query_escape(k) + "=" + query_escape(v);
  }
  return out;
}

std::string canonical_path(const std::string& in) {
  if (in.empty()) return "/";
  std::string p = in[0] == '/' ? in : "/" + in;
  // path.Clean on a rooted path.
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= p.size()) {
    const size_t j = p.find('/', i);
    const std::string seg = p.substr(i, j == std::string::npos ? std::string::npos : j - i);
    if (seg == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!seg.empty() && seg != ".") {
      parts.push_back(seg);
    }
    if (j == std::string::npos) break;
    i = j + 1;
  }
  std::string np;
  for (const auto& s : parts) np += "/" + s;
  if (np.empty()) np = "/";
  if (p.back() == '/' && np != "/") np += "/";
  return np;
}

// ---------------------------------------------------------------------------
// The cluster client.

Client::Client(ClientConfig cfg)
    : cfg_(std::move(cfg)), rng_(static_cast<uint64_t>(Clock::now().time_since_epoch().count())) {
  endpoints_ = cfg_.endpoints;
  std::shuffle(endpoints_.begin(), endpoints_.end(), rng_);
}

std::optional<Error> Client::call_one(const std::string& ep, const Request& req,
                                      const Deadline& deadline, Response& out, bool& ctx_error,
                                      const std::string& location) {
  ctx_error = false;
  std::string err;
  auto base = parse_url(location.empty() ? ep : location, &err);
  if (!base) return plain(err);
  Url u = *base;
  if (location.empty()) {
    u.path = req.path;
    u.query = encode_values(req.query);
  }
  const std::string url = u.str();
  if (cfg_.curl_debug) {
    std::string line = "curl -X " + req.method + " " + url;
    if (req.body) line += " -d " + go_quote(*req.body);
    std::cerr << "cURL Command: " << line << "\n";
  }
  if (u.scheme != "http" && u.scheme != "https") {
    return plain("unsupported protocol scheme " + go_quote(u.scheme));
  }
  using std::chrono::milliseconds;
  const auto now = Clock::now();
  milliseconds budget = milliseconds(100LL * 365 * 24 * 3600 * 1000);  // no deadline
  bool ctx_bound = false;
  if (deadline) {
    budget = std::chrono::duration_cast<milliseconds>(*deadline - now);
    ctx_bound = true;
    if (budget <= milliseconds(0)) {
      ctx_error = true;
      return plain("context deadline exceeded", true);
    }
  }
  if (!req.wait && cfg_.header_timeout.count() > 0) {
    const auto h = std::chrono::duration_cast<milliseconds>(cfg_.header_timeout);
    if (h < budget) {
      budget = h;
      ctx_bound = false;
    }
  }
  rpc::peer::HttpRequest hr;
  hr.method = req.method;
  const size_t after_host = url.find('/', u.scheme.size() + 3);
  hr.target = after_host == std::string::npos ? "/" : url.substr(after_host);
  if (req.body) hr.body = *req.body;
  if (!req.content_type.empty()) hr.headers.emplace_back("Content-Type", req.content_type);
  if (cfg_.username) {
    hr.headers.emplace_back(
        "Authorization", "Basic " + base64_std(*cfg_.username + ":" + cfg_.password.value_or("")));
  }
  rpc::peer::HttpCallFailure why;
  auto r = rpc::peer::http_call(url, hr, budget, cfg_.tls, &why);
  if (!r.is_ok()) {
    using Kind = rpc::peer::HttpCallFailure::Kind;
    auto hp = rpc::peer::parse_http_url(url);
    const std::string host = hp.is_ok() ? hp->host : "";
    const std::string port = hp.is_ok() ? hp->port : "";
    switch (why.kind) {
      case Kind::kTimeout:
        if (ctx_bound) {
          ctx_error = true;
          return plain("context deadline exceeded", true);
        }
        return plain("client: endpoint " + ep + " exceeded header timeout");
      case Kind::kResolve:
        return plain("dial tcp: lookup " + host + " on " + nameserver() + ": no such host", true);
      case Kind::kConnect:
        return plain("dial tcp " + dial_address(host, port) +
                         ": connect: " + lower_first(std::strerror(why.sys_errno)),
                     true);
      case Kind::kTls:
        if (why.message.find("certificate verify failed") != std::string::npos) {
          return plain("x509: certificate signed by unknown authority");
        }
        return plain("remote error: tls: bad certificate");
      default:
        return plain(why.connected ? "EOF" : why.message);
    }
  }
  out.status = r->status;
  out.body = r->body;
  out.etcd_index = r->header("X-Etcd-Index");
  out.location = r->header("Location");
  return std::nullopt;
}

std::optional<Error> Client::call_following(const std::string& ep, const Request& req,
                                            const Deadline& deadline, Response& out,
                                            bool& ctx_error) {
  std::string location;
  for (int i = 0; i < 100; ++i) {
    if (i > 10) return plain("client: too many redirects");
    if (auto err = call_one(ep, req, deadline, out, ctx_error, location)) return err;
    if (out.status / 100 != 3) return std::nullopt;
    if (out.location.empty()) return plain("location header not set");
    std::string perr;
    if (!parse_url(out.location, &perr)) {
      return plain("location header not valid URL: " + out.location);
    }
    location = out.location;
  }
  return plain("client: too many redirect checks");
}

std::optional<Error> Client::call(const Request& req, const Deadline& deadline, bool one_shot,
                                  Response& out) {
  const size_t n = endpoints_.size();
  if (n == 0) {
    Error e = plain("client: no endpoints available");
    e.no_endpoints = true;
    return e;
  }
  std::vector<Error> errs;
  for (size_t i = pinned_; i < pinned_ + n; ++i) {
    const size_t k = i % n;
    bool ctx_error = false;
    std::optional<Error> err = call_following(endpoints_[k], req, deadline, out, ctx_error);
    if (err) {
      errs.push_back(*err);
      if (ctx_error) return err;
    } else if (out.status / 100 == 5) {
      if (out.status == 500 || out.status == 503) {
        errs.push_back(plain("client: etcd member " + endpoints_[k] + " has no leader"));
      } else {
        errs.push_back(plain("client: etcd member " + endpoints_[k] + " returns server error [" +
                             status_text(out.status) + "]"));
      }
      err = errs.front();
    }
    if (err) {
      if (!one_shot) continue;
      pinned_ = (k + 1) % n;
      return err;
    }
    pinned_ = k;
    return std::nullopt;
  }
  return cluster_error(errs);
}

std::optional<Error> Client::sync(const Deadline& deadline) {
  Request req;
  req.path = "/v2/members";
  Response resp;
  if (auto err = call(req, deadline, false, resp)) return err;
  if (resp.status != 200) return plain("unexpected status code " + std::to_string(resp.status));
  std::vector<std::string> eps;
  try {
    auto j = nlohmann::json::parse(resp.body);
    if (j.contains("members") && j["members"].is_array()) {
      for (const auto& m : j["members"]) {
        for (const auto& u : member_from_json(m).client_urls) eps.push_back(u);
      }
    }
  } catch (const std::exception& e) {
    return plain(e.what());
  }
  if (eps.empty()) {
    Error e = plain("client: no endpoints available");
    e.no_endpoints = true;
    return e;
  }
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  if (sorted(eps) == sorted(endpoints_)) return std::nullopt;
  std::shuffle(eps.begin(), eps.end(), rng_);
  endpoints_ = eps;
  pinned_ = 0;
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Keys.

Node node_from_json(const nlohmann::json& j) {
  Node n;
  if (!j.is_object()) return n;
  if (j.contains("key") && j["key"].is_string()) n.key = j["key"].get<std::string>();
  if (j.contains("dir") && j["dir"].is_boolean()) n.dir = j["dir"].get<bool>();
  if (j.contains("value") && j["value"].is_string()) n.value = j["value"].get<std::string>();
  if (j.contains("nodes") && j["nodes"].is_array()) {
    n.nodes.emplace();
    for (const auto& c : j["nodes"]) n.nodes->push_back(node_from_json(c));
  }
  if (j.contains("createdIndex") && j["createdIndex"].is_number()) {
    n.created_index = j["createdIndex"].get<uint64_t>();
  }
  if (j.contains("modifiedIndex") && j["modifiedIndex"].is_number()) {
    n.modified_index = j["modifiedIndex"].get<uint64_t>();
  }
  if (j.contains("expiration") && j["expiration"].is_string()) {
    n.expiration = j["expiration"].get<std::string>();
  }
  if (j.contains("ttl") && j["ttl"].is_number()) n.ttl = j["ttl"].get<int64_t>();
  return n;
}

std::string node_json(const Node& n) {
  std::string s = "{\"key\":" + go_json_string(n.key);
  if (n.dir) s += ",\"dir\":true";
  s += ",\"value\":" + go_json_string(n.value) + ",\"nodes\":";
  if (!n.nodes) {
    s += "null";
  } else {
    s += "[";
    for (size_t i = 0; i < n.nodes->size(); ++i) {
      if (i) s += ",";
      s += node_json((*n.nodes)[i]);
    }
    s += "]";
  }
  s += ",\"createdIndex\":" + std::to_string(n.created_index) +
       ",\"modifiedIndex\":" + std::to_string(n.modified_index);
  if (n.expiration) s += ",\"expiration\":" + go_json_string(*n.expiration);
  if (n.ttl != 0) s += ",\"ttl\":" + std::to_string(n.ttl);
  return s + "}";
}

std::string response_json(const KeysResponse& r) {
  return "{\"action\":" + go_json_string(r.action) +
         ",\"node\":" + (r.node ? node_json(*r.node) : "null") +
         ",\"prevNode\":" + (r.prev_node ? node_json(*r.prev_node) : "null") + "}";
}

std::optional<Error> keys_result(const Response& http, KeysResponse& out) {
  const std::string kInvalid =
      "client: response is invalid json. The endpoint is probably not valid etcd cluster endpoint";
  if (http.status == 200 || http.status == 201) {
    if (http.body.empty()) return plain("client: response body is empty");
    try {
      auto j = nlohmann::json::parse(http.body);
      if (!j.is_object()) return plain(kInvalid);
      if (j.contains("action") && j["action"].is_string()) {
        out.action = j["action"].get<std::string>();
      }
      if (j.contains("node") && j["node"].is_object()) out.node = node_from_json(j["node"]);
      if (j.contains("prevNode") && j["prevNode"].is_object()) {
        out.prev_node = node_from_json(j["prevNode"]);
      }
    } catch (const std::exception&) {
      return plain(kInvalid);
    }
    if (!http.etcd_index.empty()) {
      try {
        out.index = std::stoull(http.etcd_index);
      } catch (const std::exception&) {
        return plain("strconv.ParseUint: parsing " + go_quote(http.etcd_index) +
                     ": invalid syntax");
      }
    }
    return std::nullopt;
  }
  try {
    auto j = nlohmann::json::parse(http.body);
    if (!j.is_object()) return plain(kInvalid);
    EtcdError e;
    if (j.contains("errorCode") && j["errorCode"].is_number()) e.code = j["errorCode"].get<int>();
    if (j.contains("message") && j["message"].is_string()) e.message = j["message"];
    if (j.contains("cause") && j["cause"].is_string()) e.cause = j["cause"];
    if (j.contains("index") && j["index"].is_number()) e.index = j["index"].get<uint64_t>();
    Error err = plain(e.text());
    err.etcd = e;
    return err;
  } catch (const std::exception&) {
    return plain(kInvalid);
  }
}

namespace {

std::string keys_path(const std::string& key) {
  std::string k = key;
  if (!k.empty() && k[0] != '/') k = "/" + k;
  return canonical_path("/v2/keys" + k);
}

std::string b(bool v) { return v ? "true" : "false"; }

}  // namespace

Request get_request(const std::string& key, bool recursive, bool sorted, bool quorum) {
  Request r;
  r.path = keys_path(key);
  r.query = {{"recursive", b(recursive)}, {"sorted", b(sorted)}, {"quorum", b(quorum)}};
  return r;
}

Request wait_request(const std::string& key, uint64_t wait_index, bool recursive) {
  Request r;
  r.path = keys_path(key);
  r.query = {
      {"wait", "true"}, {"waitIndex", std::to_string(wait_index)}, {"recursive", b(recursive)}};
  r.wait = true;
  return r;
}

Request set_request(const std::string& key, const std::string& value, const SetOptions& o) {
  Request r;
  r.method = "PUT";
  r.path = keys_path(key);
  std::vector<std::pair<std::string, std::string>> form;
  if (o.dir) {
    r.query.emplace_back("dir", "true");
  } else {
    if (!o.prev_value.empty()) r.query.emplace_back("prevValue", o.prev_value);
    form.emplace_back("value", value);
  }
  if (o.prev_index != 0) r.query.emplace_back("prevIndex", std::to_string(o.prev_index));
  if (!o.prev_exist.empty()) r.query.emplace_back("prevExist", o.prev_exist);
  if (o.ttl_s > 0) form.emplace_back("ttl", std::to_string(o.ttl_s));
  r.body = encode_values(form);
  r.content_type = "application/x-www-form-urlencoded";
  return r;
}

Request delete_request(const std::string& key, const std::string& prev_value, uint64_t prev_index,
                       bool dir, bool recursive) {
  Request r;
  r.method = "DELETE";
  r.path = keys_path(key);
  if (!prev_value.empty()) r.query.emplace_back("prevValue", prev_value);
  if (prev_index != 0) r.query.emplace_back("prevIndex", std::to_string(prev_index));
  if (dir) r.query.emplace_back("dir", "true");
  if (recursive) r.query.emplace_back("recursive", "true");
  r.content_type = "application/x-www-form-urlencoded";
  return r;
}

Request create_in_order_request(const std::string& dir, const std::string& value, int64_t ttl_s) {
  Request r;
  r.method = "POST";
  r.path = keys_path(dir);
  std::vector<std::pair<std::string, std::string>> form = {{"value", value}};
  if (ttl_s > 0) form.emplace_back("ttl", std::to_string(ttl_s));
  r.body = encode_values(form);
  r.content_type = "application/x-www-form-urlencoded";
  return r;
}

Member member_from_json(const nlohmann::json& j) {
  Member m;
  if (!j.is_object()) return m;
  if (j.contains("id") && j["id"].is_string()) m.id = j["id"];
  if (j.contains("name") && j["name"].is_string()) m.name = j["name"];
  if (j.contains("peerURLs") && j["peerURLs"].is_array()) {
    for (const auto& u : j["peerURLs"]) {
      if (u.is_string()) m.peer_urls.push_back(u);
    }
  }
  if (j.contains("clientURLs") && j["clientURLs"].is_array()) {
    for (const auto& u : j["clientURLs"]) {
      if (u.is_string()) m.client_urls.push_back(u);
    }
  }
  return m;
}

}  // namespace etcd::ctl::v2
