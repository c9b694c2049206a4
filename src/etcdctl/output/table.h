// ASCII tables as etcdctl's `-w table` prints them (olekukonko/tablewriter
// v0.0.5 with its defaults, the alignment etcdctl sets being the only knob):
//
//   +----------+----------+
//   |   HASH   | REVISION |      headers upper-cased and centred
//   +----------+----------+
//   | f53fbeab |        7 |      cells aligned, one space of padding
//   +----------+----------+
//
// Cells wrap at spaces to 30 columns (a word longer than that widens its
// column instead); a wrapped row takes several lines, shorter cells padded.
// Widths count terminal cells as go-runewidth does outside CJK locales:
// a grapheme cluster takes the width of its first character (CJK and emoji
// two, most others one; marks, ZWJ sequences, flags' second half none).
// The clustering is an approximation of Unicode's rules, checked against
// the reference on mixed CJK, emoji, mark and jamo names; an
// East-Asian locale (ambiguous characters two cells wide) is not modelled.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace etcd::ctl {

enum class TableAlign {
  kDefault,  // numbers ("1,234", "-5.5") right, everything else left
  kCenter,
  kRight,  // what every etcdctl table uses
  kLeft,
};

struct TableOptions {
  TableAlign align = TableAlign::kDefault;  // of body cells; headers are centred
  bool auto_wrap = true;
  size_t wrap_width = 30;
  bool auto_format_headers = true;  // "raft_term" and "raft term" -> "RAFT TERM"
};

// The whole table, every line ending in '\n'. A row may have fewer or more
// cells than the header; each prints the cells it has.
std::string render_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows,
                         const TableOptions& options = {});

// Terminal cells `s` takes; ANSI colour sequences count zero.
size_t display_width(std::string_view s);

// tablewriter's header formatting: '_' and (unless between digits) '.' to
// spaces, trimmed, upper-cased; at least " " when `name` was not empty.
std::string table_title(std::string_view name);

// Wraps `s` into lines of at most `limit` cells with minimal raggedness (the
// sum of squared slack), breaking only at single spaces; a word wider than
// `limit` raises the limit to its width.
std::vector<std::string> wrap_words(std::string_view s, size_t limit);

}  // namespace etcd::ctl
