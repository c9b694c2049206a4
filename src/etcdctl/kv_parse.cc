#include "etcdctl/kv_parse.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <regex>

#include "etcdctl/output/quote.h"
#include "etcdctl/output/unicode_tables.h"

namespace etcd::ctl {
namespace {

void append_utf8(std::string& out, char32_t r) {
  if (r < 0x80) {
    out += static_cast<char>(r);
  } else if (r < 0x800) {
    out += static_cast<char>(0xC0 | (r >> 6));
    out += static_cast<char>(0x80 | (r & 0x3F));
  } else if (r < 0x10000) {
    out += static_cast<char>(0xE0 | (r >> 12));
    out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (r & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (r >> 18));
    out += static_cast<char>(0x80 | ((r >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (r & 0x3F));
  }
}

// fmt's isSpace for the ASCII range (the scanner's view of white space).
bool scan_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// strconv.Unquote of a double-quoted Go string literal (quotes included).
std::optional<std::string> go_unquote(std::string_view q) {
  if (q.size() < 2 || q.front() != '"' || q.back() != '"') return std::nullopt;
  std::string_view in = q.substr(1, q.size() - 2);
  std::string out;
  size_t i = 0;
  while (i < in.size()) {
    const char c = in[i];
    if (c == '"' || c == '\n') return std::nullopt;
    if (c != '\\') {
      const DecodedRune d = decode_rune(in.substr(i));
      append_utf8(out, d.invalid ? char32_t{0xFFFD} : d.rune);
      i += d.width;
      continue;
    }
    if (i + 1 >= in.size()) return std::nullopt;
    const char e = in[i + 1];
    i += 2;
    switch (e) {
      case 'a':
        out += '\a';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'v':
        out += '\v';
        break;
      case '\\':
        out += '\\';
        break;
      case '"':
        out += '"';
        break;
      case 'x':
      case 'u':
      case 'U': {
        const size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        if (i + n > in.size()) return std::nullopt;
        uint32_t v = 0;
        for (size_t k = 0; k < n; ++k) {
          const int h = hex_value(in[i + k]);
          if (h < 0) return std::nullopt;
          v = v * 16 + static_cast<uint32_t>(h);
        }
        i += n;
        if (e == 'x') {
          out += static_cast<char>(v);
        } else {
          if (v > 0x10FFFF || (v >= 0xD800 && v < 0xE000)) return std::nullopt;
          append_utf8(out, v);
        }
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          if (i + 2 > in.size()) return std::nullopt;
          uint32_t v = static_cast<uint32_t>(e - '0');
          for (size_t k = 0; k < 2; ++k) {
            const char d = in[i + k];
            if (d < '0' || d > '7') return std::nullopt;
            v = v * 8 + static_cast<uint32_t>(d - '0');
          }
          if (v > 255) return std::nullopt;
          i += 2;
          out += static_cast<char>(v);
          break;
        }
        return std::nullopt;
    }
  }
  return out;
}

// strconv.ParseInt(s, base, 64) succeeding.
std::optional<int64_t> parse_go_int(const std::string& s, int base) {
  if (s.empty()) return std::nullopt;
  size_t i = (s[0] == '+' || s[0] == '-') ? 1 : 0;
  if (i == s.size()) return std::nullopt;
  for (size_t k = i; k < s.size(); ++k) {
    const int h = hex_value(s[k]);
    if (h < 0 || h >= base) return std::nullopt;
  }
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, base);
  if (errno == ERANGE) return std::nullopt;
  return static_cast<int64_t>(v);
}

bool unicode_space(char32_t r) {
  switch (r) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return r >= 0x2000 && r <= 0x200A;
  }
}

}  // namespace

void go_panic(const std::string& message) {
  std::cout.flush();
  std::cerr << "panic: " << message << "\n\ngoroutine 1 [running]:\n" << std::flush;
  std::_Exit(2);
}

std::string go_trim_space(std::string_view s) {
  size_t b = 0;
  while (b < s.size()) {
    const DecodedRune d = decode_rune(s.substr(b));
    if (d.invalid || !unicode_space(d.rune)) break;
    b += d.width;
  }
  size_t e = s.size();
  while (e > b) {
    // Step back over one rune.
    size_t start = e - 1;
    while (start > b && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80 && e - start < 4) {
      --start;
    }
    const DecodedRune d = decode_rune(s.substr(start, e - start));
    if (d.invalid || d.width != e - start || !unicode_space(d.rune)) break;
    e = start;
  }
  return std::string(s.substr(b, e - b));
}

ScanResult scan_quoted(std::string_view in) {
  ScanResult r;
  size_t i = 0;
  while (i < in.size() && scan_space(in[i]) && in[i] != '\n') ++i;
  if (i == in.size()) {
    r.error = "EOF";
    return r;
  }
  const char quote = in[i++];
  if (quote == '`') {
    std::string out;
    while (true) {
      if (i >= in.size()) {
        r.error = "unexpected EOF";
        return r;
      }
      const DecodedRune d = decode_rune(in.substr(i));
      i += d.width;
      if (!d.invalid && d.rune == '`') break;
      append_utf8(out, d.invalid ? char32_t{0xFFFD} : d.rune);
    }
    r.value = out;
    r.consumed = i;
    return r;
  }
  if (quote != '"') {
    r.error = "expected quoted string";
    return r;
  }
  // Collect up to the closing quote (the rune after a backslash is taken
  // as is), then unquote: what fmt's quotedString does.
  std::string lit = "\"";
  auto next_rune = [&](std::string& dst) {
    if (i >= in.size()) return false;
    const DecodedRune d = decode_rune(in.substr(i));
    i += d.width;
    append_utf8(dst, d.invalid ? char32_t{0xFFFD} : d.rune);
    return true;
  };
  while (true) {
    const size_t before = lit.size();
    if (!next_rune(lit)) {
      r.error = "unexpected EOF";
      return r;
    }
    const char c = lit[before];
    if (lit.size() - before == 1 && c == '\\') {
      if (!next_rune(lit)) {
        r.error = "unexpected EOF";
        return r;
      }
    } else if (lit.size() - before == 1 && c == '"') {
      break;
    }
  }
  auto v = go_unquote(lit);
  if (!v) {
    r.error = "invalid syntax";
    return r;
  }
  r.value = *v;
  r.consumed = i;
  return r;
}

ArgifyResult argify(const std::string& line) {
  static const std::regex kWord(
      R"re("(?:[^"\\]|\\.)*"|'[^']*'|[^'"\t\n\f\r ][^\t\n\f\r ]*[^'"\t\n\f\r ]?)re");
  ArgifyResult out;
  for (auto it = std::sregex_iterator(line.begin(), line.end(), kWord);
       it != std::sregex_iterator(); ++it) {
    out.args.push_back(it->str());
  }
  const size_t count = out.args.size();
  for (auto& a : out.args) {
    if (a.empty()) continue;
    if (a[0] == '\'') {
      // etcdctl slices with the number of words, not the word's length.
      const size_t hi = count - 1;
      if (hi > a.size()) {
        throw GoPanic{"runtime error: slice bounds out of range [:" + std::to_string(hi) +
                      "] with length " + std::to_string(a.size())};
      }
      if (hi < 1)
        throw GoPanic{"runtime error: slice bounds out of range [1:" + std::to_string(hi) + "]"};
      a = a.substr(1, hi - 1);
    } else if (a[0] == '"') {
      ScanResult s = scan_quoted(a);
      if (!s.error.empty()) {
        out.error = s.error;
        return out;
      }
      a = s.value;
    }
  }
  return out;
}

CompareResult parse_compare(const std::string& line) {
  CompareResult res;
  const size_t lparen = line.find('(');
  if (lparen == std::string::npos) {
    res.error = "malformed comparison: " + line;
    return res;
  }
  const std::string target = line.substr(0, lparen);
  const std::string_view rest = std::string_view(line).substr(lparen + 1);

  // fmt.Sscanf(rest, "%q) %s %q", &key, &op, &val)
  std::string key, op, val;
  int n = 0;
  size_t pos = 0;
  auto scan = [&]() {
    ScanResult s = scan_quoted(rest.substr(pos));
    if (!s.error.empty()) return false;
    pos += s.consumed;
    (n == 0 ? key : val) = s.value;
    ++n;
    return true;
  };
  // A space in the format: one or more spaces, or the end of the input.
  auto space = [&]() {
    if (pos < rest.size() && !scan_space(rest[pos])) return false;
    while (pos < rest.size() && scan_space(rest[pos]) && rest[pos] != '\n') ++pos;
    return true;
  };
  [&] {
    if (!scan()) return;
    if (pos >= rest.size() || rest[pos] != ')') return;
    ++pos;
    if (!space()) return;
    // %s: a word up to the next space.
    while (pos < rest.size() && scan_space(rest[pos]) && rest[pos] != '\n') ++pos;
    if (pos >= rest.size()) return;
    const size_t start = pos;
    while (pos < rest.size() && !scan_space(rest[pos])) ++pos;
    op = std::string(rest.substr(start, pos - start));
    ++n;
    if (!space()) return;
    scan();
  }();
  if (n != 3) {
    res.error = "malformed comparison: " + line + "; got " + target + "(" + go_quote(key) + ") " +
                op + " " + go_quote(val);
    return res;
  }

  etcdserverpb::Compare& c = res.compare;
  c.set_key(key);
  auto result = [&] {
    if (op == "=") return etcdserverpb::Compare::EQUAL;
    if (op == "!=") return etcdserverpb::Compare::NOT_EQUAL;
    if (op == ">") return etcdserverpb::Compare::GREATER;
    if (op == "<") return etcdserverpb::Compare::LESS;
    throw GoPanic{"Unknown result op"};
  };
  auto number = [&](int base) {
    auto v = parse_go_int(val, base);
    if (!v) res.error = "invalid txn compare request: " + line;
    return v;
  };
  if (target == "ver" || target == "version") {
    if (auto v = number(10)) {
      c.set_target(etcdserverpb::Compare::VERSION);
      c.set_result(result());
      c.set_version(*v);
    }
  } else if (target == "c" || target == "create") {
    if (auto v = number(10)) {
      c.set_target(etcdserverpb::Compare::CREATE);
      c.set_result(result());
      c.set_create_revision(*v);
    }
  } else if (target == "m" || target == "mod") {
    if (auto v = number(10)) {
      c.set_target(etcdserverpb::Compare::MOD);
      c.set_result(result());
      c.set_mod_revision(*v);
    }
  } else if (target == "val" || target == "value") {
    c.set_target(etcdserverpb::Compare::VALUE);
    c.set_result(result());
    c.set_value(val);
  } else if (target == "lease") {
    // etcd 3.5's etcdctl hands the quoted value to clientv3.Compare as a
    // string, which panics ("bad value", after the operator check): a lease
    // compare never reaches the server. (etcd 3.6 parses it as a hex ID.)
    result();
    throw GoPanic{"bad value"};
  } else {
    res.error = "malformed comparison: " + line + " (unknown target " + target + ")";
  }
  return res;
}

bool StdinReader::fill() {
  if (eof_) return false;
  constexpr size_t kBufferSize = 4096;
  std::string chunk(kBufferSize - buf_.size(), '\0');
  while (true) {
    const ssize_t n = ::read(fd_, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buf_.append(chunk.data(), static_cast<size_t>(n));
    return true;
  }
}

bool StdinReader::read_line(std::string& line) {
  constexpr size_t kBufferSize = 4096;
  line.clear();
  while (true) {
    const size_t nl = buf_.find('\n');
    if (nl != std::string::npos) {
      line += buf_.substr(0, nl + 1);
      buf_.erase(0, nl + 1);
      return true;
    }
    if (eof_) {
      line += buf_;
      buf_.clear();
      return false;
    }
    if (buf_.size() >= kBufferSize) {
      line += buf_;
      buf_.clear();
    }
    fill();
  }
}

std::string StdinReader::read_rest_unbuffered() {
  std::string out;
  char chunk[65536];
  while (true) {
    const ssize_t n = ::read(fd_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(chunk, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace etcd::ctl
