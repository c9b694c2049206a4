#include <algorithm>

#include "etcdctl/output/unicode_tables.h"

namespace etcd::ctl {
namespace {

bool in_ranges(const unicode_tables::CodePointRange* ranges, size_t n, char32_t r) {
  const auto* end = ranges + n;
  // First range whose upper end is not below r.
  const auto* it = std::lower_bound(
      ranges, end, r,
      [](const unicode_tables::CodePointRange& range, char32_t v) { return range.hi < v; });
  return it != end && it->lo <= r;
}

// Continuation byte in [lo, hi]?
bool cont(unsigned char c, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
  return c >= lo && c <= hi;
}

}  // namespace

DecodedRune decode_rune(std::string_view s) {
  if (s.empty()) return {};
  const auto b0 = static_cast<unsigned char>(s[0]);
  if (b0 < 0x80) return {b0, 1, false};
  const DecodedRune bad{0xFFFD, 1, true};
  auto at = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (s.size() < 2 || !cont(at(1))) return bad;
    return {static_cast<char32_t>((b0 & 0x1F) << 6 | (at(1) & 0x3F)), 2, false};
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    // E0 excludes overlong forms, ED excludes surrogates.
    const unsigned char lo = b0 == 0xE0 ? 0xA0 : 0x80;
    const unsigned char hi = b0 == 0xED ? 0x9F : 0xBF;
    if (s.size() < 3 || !cont(at(1), lo, hi) || !cont(at(2))) return bad;
    return {static_cast<char32_t>((b0 & 0x0F) << 12 | (at(1) & 0x3F) << 6 | (at(2) & 0x3F)), 3,
            false};
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    // F0 excludes overlong forms, F4 code points above U+10FFFF.
    const unsigned char lo = b0 == 0xF0 ? 0x90 : 0x80;
    const unsigned char hi = b0 == 0xF4 ? 0x8F : 0xBF;
    if (s.size() < 4 || !cont(at(1), lo, hi) || !cont(at(2)) || !cont(at(3))) return bad;
    return {static_cast<char32_t>((b0 & 0x07) << 18 | (at(1) & 0x3F) << 12 | (at(2) & 0x3F) << 6 |
                                  (at(3) & 0x3F)),
            4, false};
  }
  return bad;  // stray continuation byte, C0, C1, F5..FF
}

bool go_is_print(char32_t r) {
  return in_ranges(unicode_tables::kPrint, unicode_tables::kPrintSize, r);
}

int rune_width(char32_t r) {
  if (r < 0x20 || (r >= 0x7F && r <= 0x9F) || r == 0xAD) return 0;
  if (r < 0x300) return 1;
  // Format characters go-runewidth counts as zero cells.
  if (r == 0x070F || (r >= 0x180B && r <= 0x180E) || (r >= 0x200B && r <= 0x200F) ||
      (r >= 0x2028 && r <= 0x202E) || (r >= 0x206A && r <= 0x206F) ||
      (r >= 0xD800 && r <= 0xDFFF) || r == 0xFEFF || (r >= 0xFFF9 && r <= 0xFFFB) || r == 0xFFFE ||
      r == 0xFFFF) {
    return 0;
  }
  if (in_ranges(unicode_tables::kExtend, unicode_tables::kExtendSize, r)) return 0;
  if (in_ranges(unicode_tables::kWide, unicode_tables::kWideSize, r)) return 2;
  return 1;
}

}  // namespace etcd::ctl
