// Code point classes and UTF-8 decoding with Go's rules, shared by the
// printers that must match etcdctl's output byte for byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace etcd::ctl {

// One rune decoded from UTF-8 the way Go's utf8.DecodeRuneInString does:
// an invalid or truncated sequence (overlong forms, surrogates, code points
// above U+10FFFF included) yields `invalid` with width 1, so the caller
// consumes exactly one byte.
struct DecodedRune {
  char32_t rune = 0;
  size_t width = 0;  // bytes consumed, 1..4; 0 only for empty input
  bool invalid = false;
};
DecodedRune decode_rune(std::string_view s);

// Go 1.19's strconv.IsPrint: letters, marks, numbers, punctuation, symbols
// assigned in Unicode 13.0.0, and U+0020.
bool go_is_print(char32_t r);

// Terminal cells of one code point as go-runewidth counts them outside CJK
// locales: 0 for controls and characters that extend the previous one
// (combining marks, ZWJ, variation selectors), 2 for East Asian Wide and
// Fullwidth, 1 otherwise.
int rune_width(char32_t r);

namespace unicode_tables {

struct CodePointRange {
  char32_t lo;
  char32_t hi;
};
extern const CodePointRange kPrint[];
extern const size_t kPrintSize;
extern const CodePointRange kWide[];
extern const size_t kWideSize;
extern const CodePointRange kExtend[];
extern const size_t kExtendSize;

}  // namespace unicode_tables
}  // namespace etcd::ctl
