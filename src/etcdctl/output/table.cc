#include "etcdctl/output/table.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>

#include "etcdctl/output/unicode_tables.h"

namespace etcd::ctl {
namespace {

// Length of an ANSI SGR / erase-line sequence at the start of `s`
// (ESC '[' digits{1,3} (';' digits{1,3})* then 'm', 'K' or '|'), else 0.
size_t ansi_sequence_length(std::string_view s) {
  if (s.size() < 3 || s[0] != '\033' || s[1] != '[') return 0;
  size_t i = 2;
  auto digits = [&]() {
    size_t n = 0;
    while (i < s.size() && n < 3 && s[i] >= '0' && s[i] <= '9') {
      ++i;
      ++n;
    }
    return n;
  };
  if (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    digits();
    while (i + 1 < s.size() && s[i] == ';' && s[i + 1] >= '0' && s[i + 1] <= '9') {
      ++i;
      digits();
    }
  }
  if (i < s.size() && (s[i] == 'm' || s[i] == 'K' || s[i] == '|')) return i + 1;
  return 0;
}

// Extended_Pictographic, approximately: the emoji blocks and the older
// symbols that have emoji forms.
bool is_pictographic(char32_t r) {
  if (r >= 0x1F1E6 && r <= 0x1F1FF) return false;  // regional indicators
  return r == 0xA9 || r == 0xAE || r == 0x203C || r == 0x2049 || r == 0x2122 || r == 0x2139 ||
         (r >= 0x2194 && r <= 0x21AA) || (r >= 0x231A && r <= 0x23FF) || r == 0x24C2 ||
         (r >= 0x25AA && r <= 0x25FE) || (r >= 0x2600 && r <= 0x27BF) ||
         (r >= 0x2934 && r <= 0x2935) || (r >= 0x2B05 && r <= 0x2B55) || r == 0x3030 ||
         r == 0x303D || r == 0x3297 || r == 0x3299 || (r >= 0x1F000 && r <= 0x1FAFF) ||
         (r >= 0x1FC00 && r <= 0x1FFFD);
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.emplace_back(s.substr(start));
      return out;
    }
    out.emplace_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += sep;
    out += parts[i];
  }
  return out;
}

std::string trim_space(std::string_view s) {
  auto space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return std::string(s);
}

// tablewriter's "decimal" test for default alignment:
// -?(\d{1,3}(,\d{3})*|\d+)(\.\d+)?
bool looks_numeric(std::string_view s) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (!s.empty() && s[0] == '-') s.remove_prefix(1);
  const size_t dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  if (dot != std::string_view::npos) {
    std::string_view frac = s.substr(dot + 1);
    if (frac.empty() || !std::all_of(frac.begin(), frac.end(), digit)) return false;
  }
  if (whole.empty()) return false;
  if (std::all_of(whole.begin(), whole.end(), digit)) return true;
  // Thousands groups: 1-3 digits, then ",ddd" groups.
  const auto groups = split(whole, ',');
  if (groups[0].empty() || groups[0].size() > 3) return false;
  for (size_t i = 0; i < groups.size(); ++i) {
    if (i > 0 && groups[i].size() != 3) return false;
    if (!std::all_of(groups[i].begin(), groups[i].end(), digit)) return false;
  }
  return true;
}

std::string pad_to(std::string_view s, size_t width, TableAlign align) {
  const size_t w = display_width(s);
  if (w >= width) return std::string(s);
  const size_t gap = width - w;
  switch (align) {
    case TableAlign::kCenter: {
      const size_t left = gap / 2;
      return std::string(left, ' ') + std::string(s) + std::string(gap - left, ' ');
    }
    case TableAlign::kRight:
      return std::string(gap, ' ') + std::string(s);
    case TableAlign::kLeft:
    case TableAlign::kDefault:
      break;
  }
  return std::string(s) + std::string(gap, ' ');
}

struct Layout {
  std::map<size_t, size_t> widths;  // column -> cells; its size is the column count
};

// Splits a cell into its printed lines (wrapping when asked) and widens
// its column to fit them.
std::vector<std::string> cell_lines(std::string_view cell, size_t column,
                                    const TableOptions& options, Layout& layout) {
  std::vector<std::string> lines = split(cell, '\n');
  size_t width = 0;
  for (const auto& line : lines) width = std::max(width, display_width(line));
  if (options.auto_wrap) {
    width = std::min(width, options.wrap_width);
    // Reflow: the cell's lines become one paragraph before wrapping.
    lines = wrap_words(join(lines, " "), width);
    for (const auto& line : lines) width = std::max(width, display_width(line));
  }
  auto& w = layout.widths[column];
  w = std::max(w, width);
  return lines;
}

using Cells = std::vector<std::vector<std::string>>;  // cell -> lines

size_t height(const Cells& cells) {
  size_t h = 0;
  for (const auto& c : cells) h = std::max(h, c.size());
  return h;
}

void append_rule(const Layout& layout, std::string& out) {
  out += '+';
  for (size_t i = 0; i < layout.widths.size(); ++i) {
    auto it = layout.widths.find(i);
    out += std::string((it == layout.widths.end() ? 0 : it->second) + 2, '-');
    out += '+';
  }
  out += '\n';
}

size_t width_of(const Layout& layout, size_t column) {
  auto it = layout.widths.find(column);
  return it == layout.widths.end() ? 0 : it->second;
}

}  // namespace

size_t display_width(std::string_view s) {
  // Grapheme clusters count as their first character (go-runewidth over
  // uniseg): marks and other extenders add nothing, a pictograph after a
  // ZWJ that follows a pictograph joins it, regional indicators pair up.
  size_t width = 0;
  bool cluster_pictographic = false;
  bool after_zwj = false;
  size_t regional_run = 0;
  size_t i = 0;
  while (i < s.size()) {
    if (const size_t n = ansi_sequence_length(s.substr(i)); n > 0) {
      i += n;
      continue;
    }
    const DecodedRune d = decode_rune(s.substr(i));
    i += d.width;
    if (d.invalid) {
      width += 1;
      cluster_pictographic = after_zwj = false;
      regional_run = 0;
      continue;
    }
    const char32_t r = d.rune;
    const bool regional = r >= 0x1F1E6 && r <= 0x1F1FF;
    regional_run = regional ? regional_run + 1 : 0;
    const bool joined = (after_zwj && cluster_pictographic && is_pictographic(r)) ||
                        (regional && regional_run % 2 == 0);
    after_zwj = r == 0x200D;
    if (joined) continue;
    const int w = rune_width(r);
    if (w == 0) continue;  // extends the current cluster
    width += static_cast<size_t>(w);
    cluster_pictographic = is_pictographic(r);
  }
  return width;
}

std::string table_title(std::string_view name) {
  std::vector<char32_t> runes;
  std::vector<std::string> bytes;
  for (size_t i = 0; i < name.size();) {
    const DecodedRune d = decode_rune(name.substr(i));
    runes.push_back(d.rune);
    bytes.emplace_back(name.substr(i, d.width));
    i += d.width;
  }
  auto num_or_space = [](char32_t r) { return (r >= '0' && r <= '9') || r == ' '; };
  for (size_t i = 0; i < runes.size(); ++i) {
    if (runes[i] == '_') {
      runes[i] = ' ';
      bytes[i] = " ";
    } else if (runes[i] == '.') {
      // A dot between digits or spaces (a number such as 0.0) stays.
      if ((i != 0 && !num_or_space(runes[i - 1])) ||
          (i + 1 != runes.size() && !num_or_space(runes[i + 1]))) {
        runes[i] = ' ';
        bytes[i] = " ";
      }
    }
  }
  std::string out = trim_space(join(bytes, ""));
  if (out.empty() && !name.empty()) out = " ";
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::vector<std::string> wrap_words(std::string_view s, size_t limit) {
  std::string flat(s);
  std::replace(flat.begin(), flat.end(), '\n', ' ');
  const std::vector<std::string> words = split(flat, ' ');
  const size_t n = words.size();
  // prefix[k]: cells of words [0, k) plus one space between each.
  std::vector<int64_t> width(n);
  std::vector<int64_t> prefix(n + 1, 0);
  int64_t lim = static_cast<int64_t>(limit);
  for (size_t k = 0; k < n; ++k) {
    width[k] = static_cast<int64_t>(display_width(words[k]));
    lim = std::max(lim, width[k]);
    prefix[k + 1] = prefix[k] + width[k];
  }
  // Cells of the line holding words i..j, inclusive.
  auto line = [&](size_t i, size_t j) {
    return prefix[j + 1] - prefix[i] + static_cast<int64_t>(j - i);
  };
  constexpr int64_t kTooLongPenalty = 100000;
  std::vector<int64_t> cost(n, std::numeric_limits<int32_t>::max());
  std::vector<size_t> next_break(n, n);
  for (size_t i = n; i-- > 0;) {
    if (line(i, n - 1) <= lim) {
      cost[i] = 0;
      next_break[i] = n;
      continue;
    }
    for (size_t j = i + 1; j < n; ++j) {
      const int64_t slack = lim - line(i, j - 1);
      int64_t c = slack * slack + cost[j];
      if (line(i, j - 1) > lim) c += kTooLongPenalty;
      if (c < cost[i]) {
        cost[i] = c;
        next_break[i] = j;
      }
    }
  }
  std::vector<std::string> lines;
  for (size_t i = 0; i < n; i = next_break[i]) {
    std::vector<std::string> part(words.begin() + static_cast<ptrdiff_t>(i),
                                  words.begin() + static_cast<ptrdiff_t>(next_break[i]));
    lines.push_back(join(part, " "));
  }
  return lines;
}

std::string render_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows,
                         const TableOptions& options) {
  Layout layout;
  Cells head;
  for (size_t c = 0; c < header.size(); ++c) {
    head.push_back(cell_lines(header[c], c, options, layout));
  }
  std::vector<Cells> body;
  for (const auto& row : rows) {
    Cells cells;
    for (size_t c = 0; c < row.size(); ++c) cells.push_back(cell_lines(row[c], c, options, layout));
    body.push_back(std::move(cells));
  }

  std::string out;
  append_rule(layout, out);
  if (!head.empty()) {
    const size_t h = height(head);
    for (size_t x = 0; x < h; ++x) {
      out += '|';
      for (size_t c = 0; c < layout.widths.size(); ++c) {
        std::string text;
        if (c < head.size() && x < head[c].size()) text = head[c][x];
        if (options.auto_format_headers) text = table_title(text);
        out += ' ';
        out += pad_to(text, width_of(layout, c), TableAlign::kCenter);
        out += " |";
      }
      out += '\n';
    }
    append_rule(layout, out);
  }
  for (auto& cells : body) {
    const size_t h = height(cells);
    // Shorter cells are filled with two-space lines, as tablewriter does.
    for (auto& c : cells) c.resize(h, "  ");
    for (size_t x = 0; x < h; ++x) {
      for (size_t c = 0; c < cells.size(); ++c) {
        const std::string& text = cells[c][x];
        TableAlign align = options.align;
        if (align == TableAlign::kDefault) {
          align = looks_numeric(trim_space(text)) ? TableAlign::kRight : TableAlign::kLeft;
        }
        out += "| ";
        out += pad_to(text, width_of(layout, c), align);
        out += ' ';
      }
      out += "|\n";
    }
  }
  append_rule(layout, out);
  return out;
}

}  // namespace etcd::ctl
