// What Go's net/http gives the v2 API's handlers of a request, rebuilt on
// our http::Request: the decoded path, the form (Request.ParseForm: an
// application/x-www-form-urlencoded body of POST/PUT/PATCH first, then the
// query) with Go's error texts, strconv's ParseBool and ParseUint, and
// ServeMux's redirect of paths that are not clean.
//
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rpc/http/http.h"

namespace etcd::rpc::v2http {

// Go's url.Values: every value of a name, in the order given.
struct Form {
  std::map<std::string, std::vector<std::string>> values;

  bool has(const std::string& name) const { return values.count(name) > 0; }
  // Go's FormValue: the first value, or "".
  std::string value(const std::string& name) const;
};

// Go's url.ParseQuery: the first error's text (`invalid URL escape "%zz"`,
// `invalid semicolon separator in query`) in *error; parsing goes on past
// it as Go's does.
Form parse_query(std::string_view query, std::string* error);

// Go's Request.ParseForm for `req`; nullopt and *error on failure.
std::optional<Form> parse_form(const http::Request& req, std::string* error);

// Go's url.PathUnescape ('+' stays); nullopt on a bad escape.
std::optional<std::string> unescape_path(std::string_view raw);

// strconv.ParseBool and ParseUint(s, 10, 64).
std::optional<bool> parse_go_bool(std::string_view s);
std::optional<uint64_t> parse_go_uint64(std::string_view s);

// The answer Go's ServeMux gives a path that is not clean ("//", "/./",
// "/../"): 301 to the cleaned path (a trailing slash kept), or nullopt when
// `path` (decoded) is clean.
std::optional<http::Response> redirect_unclean(const std::string& path, const std::string& query,
                                               const std::string& method);

// The answer Go's server gives a request line it cannot parse (a bad
// escape in the path).
http::Response bad_request();

}  // namespace etcd::rpc::v2http
