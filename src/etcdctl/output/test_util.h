// Helpers shared by the output tests.
#pragma once

#include <string>

namespace etcd::ctl {

// UTF-8 of every code point in [lo, hi), surrogates skipped.
inline std::string code_points(char32_t lo, char32_t hi, std::string out = "") {
  for (char32_t r = lo; r < hi; ++r) {
    if (r >= 0xD800 && r <= 0xDFFF) continue;
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
  return out;
}

}  // namespace etcd::ctl
