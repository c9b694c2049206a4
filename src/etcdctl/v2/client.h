// The v2 HTTP client of etcdctl's v2 mode, as etcd 3.4's Go client/ package
// behaves: a cluster of endpoints tried in a random order (a failed one is
// recorded and the next tried), a per-request header timeout, one deadline
// for the whole command, redirects followed, basic auth, the cURL lines of
// --debug, and the v2 keys, members and auth APIs over /v2/keys,
// /v2/members and /v2/auth. Errors carry the text Go's client gives them.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace etcd::rpc::tls {
class TlsContext;
}

namespace etcd::ctl::v2 {

using Clock = std::chrono::steady_clock;
// A command's context: its deadline, if any (watch has none).
using Deadline = std::optional<Clock::time_point>;

// An etcd v2 error body: {"errorCode":100,"message":...,"cause":...,"index":5}.
struct EtcdError {
  int code = 0;
  std::string message;
  std::string cause;
  uint64_t index = 0;
  // "100: Key not found (/foo) [5]"
  std::string text() const;
};

// An error as the Go client returns it.
struct Error {
  Error() = default;
  explicit Error(std::string t) : text(std::move(t)) {}
  std::string text;                  // err.Error()
  std::vector<std::string> cluster;  // a ClusterError's errors (then text is its Error())
  bool is_cluster = false;
  bool connection = false;        // etcdctl's isConnectionError
  bool no_endpoints = false;      // client.ErrNoEndpoints
  std::optional<EtcdError> etcd;  // a v2 error answer
  // ClusterError.Detail(): "error #0: ...\n" for each.
  std::string detail() const;
};

// Go's url.URL, the parts the client uses.
struct Url {
  std::string scheme;
  std::string host;  // host[:port]
  std::string path;
  std::string query;  // encoded
  std::string str() const;
};
// url.Parse for endpoints; the Go error text ("parse \"x\": ...") if it fails.
std::optional<Url> parse_url(const std::string& s, std::string* err);
// url.PathEscape-like escaping of a URL path (Go's EscapedPath).
std::string escape_path(const std::string& p);
// url.QueryEscape.
std::string query_escape(const std::string& s);
// url.Values.Encode: sorted by key.
std::string encode_values(std::vector<std::pair<std::string, std::string>> kv);
// pathutil.CanonicalURLPath.
std::string canonical_path(const std::string& p);

struct Request {
  std::string method = "GET";
  std::string path;                                        // unescaped
  std::vector<std::pair<std::string, std::string>> query;  // encoded sorted
  std::optional<std::string> body;                         // nullopt: no body
  std::string content_type;
  bool wait = false;  // a watch: no header timeout
};

struct Response {
  int status = 0;
  std::string body;
  std::string etcd_index;  // X-Etcd-Index
  std::string location;    // Location (redirects)
};

struct ClientConfig {
  std::vector<std::string> endpoints;  // parsed and normalised URLs
  std::chrono::nanoseconds header_timeout{0};
  std::chrono::nanoseconds dial_timeout{std::chrono::seconds(30)};
  std::optional<std::string> username, password;
  std::shared_ptr<rpc::tls::TlsContext> tls;
  bool curl_debug = false;
};

class Client {
 public:
  explicit Client(ClientConfig cfg);
  const std::vector<std::string>& endpoints() const { return endpoints_; }
  void set_curl_debug(bool on) { cfg_.curl_debug = on; }
  // httpClusterClient.Do: the endpoints from the pinned one on; a oneshot
  // request is not retried on another endpoint.
  std::optional<Error> call(const Request& req, const Deadline& deadline, bool one_shot,
                            Response& out);
  // Sync: the members' client URLs become the endpoints.
  std::optional<Error> sync(const Deadline& deadline);

 private:
  // One request to `ep`, or to `location` (a redirect's URL) when set.
  std::optional<Error> call_one(const std::string& ep, const Request& req, const Deadline& deadline,
                                Response& out, bool& ctx_error, const std::string& location = "");
  // redirectFollowingHTTPClient: 3xx answers followed, up to 10.
  std::optional<Error> call_following(const std::string& ep, const Request& req,
                                      const Deadline& deadline, Response& out, bool& ctx_error);

  ClientConfig cfg_;
  std::vector<std::string> endpoints_;
  size_t pinned_ = 0;
  std::mt19937_64 rng_;
};

// --- the keys API ---

struct Node {
  std::string key;
  bool dir = false;
  std::string value;
  std::optional<std::vector<Node>> nodes;  // nullopt: JSON null
  uint64_t created_index = 0;
  uint64_t modified_index = 0;
  std::optional<std::string> expiration;  // RFC 3339, as the server wrote it
  int64_t ttl = 0;
};

struct KeysResponse {
  std::string action;
  std::optional<Node> node;
  std::optional<Node> prev_node;
  uint64_t index = 0;  // X-Etcd-Index
};

Node node_from_json(const nlohmann::json& j);
// json.Marshal of the Go client's Response / Node.
std::string node_json(const Node& n);
std::string response_json(const KeysResponse& r);
// The answer to a keys request: a response, or the error it means.
std::optional<Error> keys_result(const Response& http, KeysResponse& out);

// Every keys request as a Request.
Request get_request(const std::string& key, bool recursive, bool sorted, bool quorum);
Request wait_request(const std::string& key, uint64_t wait_index, bool recursive);
struct SetOptions {
  std::string prev_value;
  uint64_t prev_index = 0;
  std::string prev_exist;  // "", "true", "false"
  int64_t ttl_s = 0;
  bool dir = false;
};
Request set_request(const std::string& key, const std::string& value, const SetOptions& o);
Request delete_request(const std::string& key, const std::string& prev_value, uint64_t prev_index,
                       bool dir, bool recursive);
Request create_in_order_request(const std::string& dir, const std::string& value, int64_t ttl_s);

// --- members ---

struct Member {
  std::string id, name;
  std::vector<std::string> peer_urls, client_urls;
};
Member member_from_json(const nlohmann::json& j);

}  // namespace etcd::ctl::v2
