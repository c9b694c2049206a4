#include "base/duration.h"

#include <limits>

namespace etcd {
namespace {

// Go's strconv.Quote for the ASCII text of a duration: "\"x\"".
std::string go_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

Result<int64_t> parse_go_duration(std::string_view text) {
  const std::string quoted = go_quote(text);
  auto invalid = [&] { return Status(Code::kInvalidArgument, "time: invalid duration " + quoted); };
  std::string_view s = text;
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return int64_t{0};
  if (s.empty()) return invalid();
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  // Nanoseconds per unit (Go's unitMap); 0: unknown.
  auto unit_ns = [](std::string_view u) -> uint64_t {
    if (u == "ns") return 1;
    if (u == "us" || u == "\xC2\xB5s" || u == "\xCE\xBCs") return 1000;  // micro sign, mu
    if (u == "ms") return 1000000;
    if (u == "s") return 1000000000;
    if (u == "m") return 60000000000;
    if (u == "h") return 3600000000000;
    return 0;
  };
  constexpr uint64_t kMax = uint64_t{1} << 63;
  uint64_t total = 0;
  while (!s.empty()) {
    if (!(s[0] == '.' || is_digit(s[0]))) return invalid();
    uint64_t v = 0;
    size_t i = 0;
    for (; i < s.size() && is_digit(s[i]); ++i) {
      if (v > (kMax - 1) / 10) return invalid();
      v = v * 10 + static_cast<uint64_t>(s[i] - '0');
      if (v > kMax) return invalid();
    }
    bool pre = i > 0;
    s.remove_prefix(i);
    uint64_t frac = 0;
    double scale = 1;
    bool post = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      size_t j = 0;
      bool overflow = false;
      for (; j < s.size() && is_digit(s[j]); ++j) {
        if (overflow || frac > (kMax - 1) / 10) {
          overflow = true;  // further digits are dropped, as Go's
          continue;
        }
        frac = frac * 10 + static_cast<uint64_t>(s[j] - '0');
        scale *= 10;
      }
      post = j > 0;
      s.remove_prefix(j);
    }
    if (!pre && !post) return invalid();
    size_t u = 0;
    while (u < s.size() && s[u] != '.' && !is_digit(s[u])) ++u;
    if (u == 0) return Status(Code::kInvalidArgument, "time: missing unit in duration " + quoted);
    std::string_view unit_name = s.substr(0, u);
    s.remove_prefix(u);
    uint64_t unit = unit_ns(unit_name);
    if (unit == 0) {
      return Status(Code::kInvalidArgument,
                    "time: unknown unit " + go_quote(unit_name) + " in duration " + quoted);
    }
    if (v > kMax / unit) return invalid();
    v *= unit;
    if (frac > 0) {
      v += static_cast<uint64_t>(static_cast<double>(frac) * (static_cast<double>(unit) / scale));
      if (v > kMax) return invalid();
    }
    total += v;
    if (total > kMax) return invalid();
  }
  if (neg) {
    return total == kMax ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(total);
  }
  if (total > kMax - 1) return invalid();
  return static_cast<int64_t>(total);
}

std::string format_go_duration(int64_t ns) {
  if (ns == 0) return "0s";
  bool neg = ns < 0;
  uint64_t u = neg ? 0 - static_cast<uint64_t>(ns) : static_cast<uint64_t>(ns);
  // Digits of v / 10^prec with trailing zeros of the fraction removed.
  auto frac = [](uint64_t v, int prec) {
    std::string digits = std::to_string(v);
    if (static_cast<int>(digits.size()) <= prec) {
      digits.insert(0, static_cast<size_t>(prec) + 1 - digits.size(), '0');
    }
    std::string int_part = digits.substr(0, digits.size() - static_cast<size_t>(prec));
    std::string frac_part = digits.substr(digits.size() - static_cast<size_t>(prec));
    while (!frac_part.empty() && frac_part.back() == '0') frac_part.pop_back();
    return frac_part.empty() ? int_part : int_part + "." + frac_part;
  };
  std::string out;
  if (u < 1000000000) {
    if (u < 1000) {
      out = std::to_string(u) + "ns";
    } else if (u < 1000000) {
      out = frac(u, 3) + "\xC2\xB5s";
    } else {
      out = frac(u, 6) + "ms";
    }
  } else {
    out = frac(u % 60000000000, 9) + "s";
    uint64_t minutes = u / 60000000000;
    if (minutes > 0) {
      out = std::to_string(minutes % 60) + "m" + out;
      uint64_t hours = minutes / 60;
      if (hours > 0) out = std::to_string(hours) + "h" + out;
    }
  }
  return neg ? "-" + out : out;
}

}  // namespace etcd
