#include "etcdctl/cluster_util.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>

#include "etcdctl/output/go_json.h"
#include "etcdctl/output/quote.h"

namespace etcd::ctl {

ParsedUint parse_hex_uint64(const std::string& s) {
  ParsedUint r;
  auto fail = [&](const char* why) {
    r.value = 0;
    r.error = "strconv.ParseUint: parsing " + go_quote(s) + ": " + why;
    return r;
  };
  if (s.empty()) return fail("invalid syntax");
  // Go checks digit by digit: the first bad digit or the first overflow
  // decides which error it is.
  uint64_t n = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return fail("invalid syntax");
    }
    if (n > (UINT64_MAX >> 4)) return fail("value out of range");
    n = (n << 4) | static_cast<uint64_t>(d);
  }
  r.value = n;
  return r;
}

std::string go_string_slice(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += " ";
    out += v[i];
  }
  return out + "]";
}

std::string hex_u64(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::vector<std::string> endpoints_from_cluster(const Invocation& inv) {
  if (!inv.get_bool("cluster")) return inv.get_slice("endpoints");
  // Without the user: MemberList needs no authentication, and etcdctl asks
  // for no password here.
  auto c = must_client(connection_options_from(inv), kExitError);
  etcdserverpb::MemberListRequest req;
  req.set_linearizable(true);
  etcdserverpb::MemberListResponse resp;
  grpc::Status s = c->call(&client::Connection::cluster, &etcdserverpb::Cluster::Stub::MemberList,
                           req, &resp, command_deadline(inv), client::Idempotent::kYes);
  if (!s.ok()) {
    exit_with_error(kExitError, "failed to fetch endpoints from etcd cluster member list: " +
                                    go_error_string(s));
  }
  std::vector<std::string> eps;
  for (const auto& m : resp.members()) {
    for (const auto& u : m.clienturls()) eps.push_back(u);
  }
  return eps;
}

std::string format_name(OutputFormat f) {
  switch (f) {
    case OutputFormat::kSimple:
      return "simple";
    case OutputFormat::kJson:
      return "json";
    case OutputFormat::kTable:
      return "table";
    case OutputFormat::kFields:
      return "fields";
    case OutputFormat::kProtobuf:
      return "protobuf";
  }
  return "simple";
}

void unsupported_format(const Display& d) {
  exit_with_error(kExitBadFeature, format_name(d.format) + " not supported as output format");
}

namespace {

std::string trim_space(const std::string& s) {
  size_t b = 0, e = s.size();
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  };
  while (b < e && space(s[b])) ++b;
  while (e > b && space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// What Go's url.Parse and the scheme, host and path checks of
// types.NewURLs say about one URL ("" when it is acceptable).
std::string check_url(const std::string& in) {
  const std::string parse_err = "parse " + go_quote(in) + ": ";
  for (unsigned char c : in) {
    if (c < 0x20 || c == 0x7f) return parse_err + "net/url: invalid control character in URL";
  }
  // The scheme: letters, then letters, digits, '+', '-', '.', up to ':'.
  std::string scheme;
  std::string rest = in;
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (alpha) continue;
    if ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.') {
      if (i == 0) break;
      continue;
    }
    if (c == ':') {
      if (i == 0) return parse_err + "missing protocol scheme";
      scheme = in.substr(0, i);
      rest = in.substr(i + 1);
    }
    break;
  }
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme.empty()) {
    // A relative reference: Go refuses a colon in its first segment.
    std::string r = in.substr(0, in.find('#'));
    r = r.substr(0, r.find('?'));
    if (r.empty() || r[0] != '/') {
      if (r.substr(0, r.find('/')).find(':') != std::string::npos) {
        return parse_err + "first path segment in URL cannot contain colon";
      }
    }
  }
  if (scheme == "unix" || scheme == "unixs") return "";
  if (scheme != "http" && scheme != "https") {
    return "URL scheme must be http, https, unix, or unixs: " + in;
  }
  // Fragment and query do not belong to the path.
  rest = rest.substr(0, rest.find('#'));
  rest = rest.substr(0, rest.find('?'));
  std::string host, path;
  if (rest.rfind("//", 0) == 0) {
    const std::string after = rest.substr(2);
    const size_t slash = after.find('/');
    std::string authority = after.substr(0, slash);
    path = slash == std::string::npos ? "" : after.substr(slash);
    const size_t at = authority.rfind('@');
    host = at == std::string::npos ? authority : authority.substr(at + 1);
    if (!host.empty() && host[0] == '[') {
      const size_t close = host.find(']');
      if (close == std::string::npos) return parse_err + "missing ']' in host";
      const std::string port = host.substr(close + 1);
      if (!port.empty() && port[0] != ':') {
        return parse_err + "invalid port " + go_quote(port) + " after host";
      }
      for (size_t i = 1; i < port.size(); ++i) {
        if (port[i] < '0' || port[i] > '9') {
          return parse_err + "invalid port " + go_quote(port) + " after host";
        }
      }
    } else {
      const size_t colon = host.rfind(':');
      if (colon != std::string::npos) {
        const std::string port = host.substr(colon);
        for (size_t i = 1; i < port.size(); ++i) {
          if (port[i] < '0' || port[i] > '9') {
            return parse_err + "invalid port " + go_quote(port) + " after host";
          }
        }
      }
      for (char c : host) {
        if (c == ' ' || c == '<' || c == '>' || c == '"' || c == '{' || c == '}' || c == '|' ||
            c == '\\' || c == '^' || c == '`') {
          return parse_err + "invalid character " + go_quote(std::string(1, c)) + " in host name";
        }
      }
    }
  } else if (rest.rfind("/", 0) == 0) {
    path = rest;
  }
  // net.SplitHostPort: a port separated by the last colon, brackets around
  // an IPv6 host.
  bool has_port;
  if (!host.empty() && host[0] == '[') {
    const size_t close = host.find(']');
    has_port = close + 1 < host.size() && host[close + 1] == ':';
  } else {
    const size_t colon = host.rfind(':');
    has_port = colon != std::string::npos && host.find(':') == colon;
  }
  if (!has_port) return "URL address does not have the form \"host:port\": " + in;
  if (!path.empty()) return "URL must not contain a path: " + in;
  return "";
}

}  // namespace

std::string check_peer_urls(const std::vector<std::string>& urls) {
  if (urls.empty()) return "no valid URLs given";
  for (const auto& u : urls) {
    std::string err = check_url(trim_space(u));
    if (!err.empty()) return err;
  }
  return "";
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t p = s.find(',', start);
    if (p == std::string::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, p - start));
    start = p + 1;
  }
}

namespace {

// zap's JSON string: quotes, backslashes and control bytes escaped, no HTML
// escaping (unlike encoding/json).
std::string zap_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

}  // namespace

void zap_log(const std::string& level, const std::string& logger, const std::string& caller,
             const std::string& msg,
             const std::vector<std::pair<std::string, std::string>>& fields) {
  // "2006-01-02T15:04:05.000000Z0700" in local time.
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() %
      1000000;
  std::tm tm{};
  localtime_r(&t, &tm);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  char zone[48];
  if (tm.tm_gmtoff == 0) {
    std::snprintf(zone, sizeof zone, "Z");
  } else {
    const long off = tm.tm_gmtoff;
    const long a = off < 0 ? -off : off;
    std::snprintf(zone, sizeof zone, "%c%02ld%02ld", off < 0 ? '-' : '+', a / 3600,
                  (a % 3600) / 60);
  }
  char ts[128];
  std::snprintf(ts, sizeof ts, "%s.%06lld%s", date, static_cast<long long>(us), zone);
  std::string line = "{\"level\":" + zap_string(level) + ",\"ts\":" + zap_string(ts);
  if (!logger.empty()) line += ",\"logger\":" + zap_string(logger);
  line += ",\"caller\":" + zap_string(caller) + ",\"msg\":" + zap_string(msg);
  for (const auto& [k, v] : fields) line += "," + zap_string(k) + ":" + zap_string(v);
  line += "}\n";
  std::cerr << line << std::flush;
}

}  // namespace etcd::ctl
