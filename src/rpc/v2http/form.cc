#include "rpc/v2http/form.h"

#include "v2store/store.h"

#include <algorithm>
#include <cctype>

namespace etcd::rpc::v2http {

namespace {

// Go's http.maxFormSize for a urlencoded body.
constexpr size_t kMaxFormBytes = 10 << 20;

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Go's strconv.Quote for the ASCII an escape error shows.
std::string go_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

// Go's url.unescape: `plus_is_space` for query components.
std::optional<std::string> unescape(std::string_view s, bool plus_is_space, std::string* error) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size() || hex_digit(s[i + 1]) < 0 || hex_digit(s[i + 2]) < 0) {
        if (error != nullptr) {
          *error = "invalid URL escape " + go_quote(s.substr(i, std::min<size_t>(3, s.size() - i)));
        }
        return std::nullopt;
      }
      out.push_back(static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2])));
      i += 2;
    } else if (s[i] == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

}  // namespace

std::string Form::value(const std::string& name) const {
  auto it = values.find(name);
  if (it == values.end() || it->second.empty()) return "";
  return it->second.front();
}

Form parse_query(std::string_view query, std::string* error) {
  Form f;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.find(';') != std::string_view::npos) {
      if (error->empty()) *error = "invalid semicolon separator in query";
      continue;
    }
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string_view raw_name = part.substr(0, eq);
    std::string_view raw_value = eq == std::string_view::npos ? "" : part.substr(eq + 1);
    std::string e;
    auto name = unescape(raw_name, true, &e);
    if (!name) {
      if (error->empty()) *error = e;
      continue;
    }
    auto value = unescape(raw_value, true, &e);
    if (!value) {
      if (error->empty()) *error = e;
      continue;
    }
    f.values[*name].push_back(std::move(*value));
  }
  return f;
}

std::optional<Form> parse_form(const http::Request& req, std::string* error) {
  std::string err;
  Form body;
  if (req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
    std::string ct = req.header("content-type");
    if (ct.empty()) ct = "application/octet-stream";
    std::string media = lower(trim(std::string_view(ct).substr(0, ct.find(';'))));
    if (media.empty()) {
      err = "mime: no media type";
    } else if (media == "application/x-www-form-urlencoded") {
      if (req.body.size() > kMaxFormBytes) {
        err = "http: POST too large";
      } else {
        body = parse_query(req.body, &err);
      }
    }
  }
  std::string qerr;
  Form form = parse_query(req.query, &qerr);
  if (err.empty()) err = qerr;
  // Body values come first, the query's after them.
  for (auto& [name, vals] : form.values) {
    auto& into = body.values[name];
    into.insert(into.end(), vals.begin(), vals.end());
  }
  if (!err.empty()) {
    *error = err;
    return std::nullopt;
  }
  return body;
}

std::optional<std::string> unescape_path(std::string_view raw) {
  return unescape(raw, false, nullptr);
}

std::optional<bool> parse_go_bool(std::string_view s) {
  if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") return true;
  if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False") {
    return false;
  }
  return std::nullopt;
}

std::optional<uint64_t> parse_go_uint64(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

std::optional<http::Response> redirect_unclean(const std::string& path, const std::string& query,
                                               const std::string& method) {
  if (path.empty() || method == "CONNECT") return std::nullopt;
  std::string c = v2store::clean_path(path);
  if (path.back() == '/' && c != "/") c += "/";
  if (c == path) return std::nullopt;
  std::string location = c + (query.empty() ? "" : "?" + query);
  http::Response r;
  r.status = 301;
  r.headers.emplace_back("Location", location);
  if (method == "GET" || method == "HEAD") {
    r.content_type = "text/html; charset=utf-8";
    std::string href;
    for (char c : location) {
      switch (c) {
        case '&':
          href += "&amp;";
          break;
        case '<':
          href += "&lt;";
          break;
        case '>':
          href += "&gt;";
          break;
        case '"':
          href += "&#34;";
          break;
        case '\'':
          href += "&#39;";
          break;
        default:
          href.push_back(c);
      }
    }
    r.body = "<a href=\"" + href + "\">Moved Permanently</a>.\n\n";
  } else {
    r.content_type = "";
  }
  return r;
}

http::Response bad_request() {
  http::Response r;
  r.status = 400;
  r.content_type = "text/plain; charset=utf-8";
  r.headers.emplace_back("Connection", "close");
  r.body = "400 Bad Request";
  return r;
}

}  // namespace etcd::rpc::v2http
