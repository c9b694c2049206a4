// Go's quoting of byte strings, as etcdctl's printers use it:
// `--hex` in the simple printer and `%q` in the fields printer.
#pragma once

#include <string>
#include <string_view>

namespace etcd::ctl {

// `--hex`: every byte as `\x` and two lowercase hex digits, "" for "".
// "hi" -> "\x68\x69".
std::string hex_escape(std::string_view bytes);

// Go's strconv.Quote (what fmt's %q prints for a string), quotes included:
// `"` and `\` backslashed; printable runes (Go 1.19 / Unicode 13.0.0) raw;
// \a \b \f \n \r \t \v; other bytes below 0x20 and DEL as \xHH; each byte of
// invalid UTF-8 as \xHH; other unprintable runes as \uHHHH or \UHHHHHHHH
// (lowercase hex).
std::string go_quote(std::string_view s);

}  // namespace etcd::ctl
