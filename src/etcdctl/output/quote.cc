#include "etcdctl/output/quote.h"

#include "etcdctl/output/unicode_tables.h"

namespace etcd::ctl {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void append_hex(std::string& out, char32_t v, int digits) {
  for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) out += kHex[(v >> shift) & 0xF];
}

}  // namespace

std::string hex_escape(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 4);
  for (char ch : bytes) {
    out += "\\x";
    append_hex(out, static_cast<unsigned char>(ch), 2);
  }
  return out;
}

std::string go_quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    const DecodedRune d = decode_rune(s.substr(i));
    const char32_t r = d.rune;
    if (d.invalid) {
      out += "\\x";
      append_hex(out, static_cast<unsigned char>(s[i]), 2);
    } else if (r == '"' || r == '\\') {
      out += '\\';
      out += static_cast<char>(r);
    } else if (go_is_print(r)) {
      out.append(s.substr(i, d.width));
    } else {
      switch (r) {
        case '\a':
          out += "\\a";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
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
        case '\v':
          out += "\\v";
          break;
        default:
          if (r < ' ' || r == 0x7F) {
            out += "\\x";
            append_hex(out, r, 2);
          } else if (r < 0x10000) {
            out += "\\u";
            append_hex(out, r, 4);
          } else {
            out += "\\U";
            append_hex(out, r, 8);
          }
      }
    }
    i += d.width;
  }
  out += '"';
  return out;
}

}  // namespace etcd::ctl
