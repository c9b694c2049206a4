#include "raft/rafttest/datadriven.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace etcd::raft::rafttest {
namespace {

constexpr const char* kSeparator = "----";
// Outputs up to this many lines are shown in full in a mismatch report.
constexpr size_t kMaxShownLines = 30;

// A parsed block plus where its expected output sits in the file's lines, so
// a rewrite can replace exactly that region.
struct Block {
  TestData data;
  size_t sep_line = 0;  // index of the first "----" line
  size_t end_line = 0;  // index of the first line after the expected output
};

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::string cur;
  for (char c : text) {
    if (c == '\n') {
      lines.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) lines.push_back(std::move(cur));
  return lines;
}

bool is_blank(const std::string& line) {
  return line.find_first_not_of(" \t\r") == std::string::npos;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// Splits a list's contents on spaces and commas.
std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (is_space(c) || c == ',') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

Status parse_error(const std::string& pos, const std::string& what) {
  return invalid_argument(pos + ": " + what);
}

// Parses "cmd arg key=val key=(a b) (c d)".
Status parse_directive(const std::string& pos, const std::string& line, TestData* d) {
  size_t i = 0;
  const size_t n = line.size();
  auto skip_spaces = [&] {
    while (i < n && is_space(line[i])) ++i;
  };
  // Reads up to the closing parenthesis (the opening one is at i).
  auto read_list = [&](std::vector<std::string>* vals) -> Status {
    size_t close = line.find(')', i);
    if (close == std::string::npos) return parse_error(pos, "unterminated '(' in: " + line);
    *vals = split_list(line.substr(i + 1, close - i - 1));
    i = close + 1;
    return Status::ok();
  };
  skip_spaces();
  while (i < n && !is_space(line[i])) d->cmd.push_back(line[i++]);
  if (d->cmd.empty()) return parse_error(pos, "empty command");
  while (true) {
    skip_spaces();
    if (i >= n) break;
    CmdArg arg;
    if (line[i] == '(') {
      arg.has_list = true;
      RETURN_IF_ERROR(read_list(&arg.vals));
    } else {
      while (i < n && !is_space(line[i]) && line[i] != '=' && line[i] != '(') {
        arg.key.push_back(line[i++]);
      }
      if (i < n && line[i] == '(') return parse_error(pos, "unexpected '(' in: " + line);
      if (i < n && line[i] == '=') {
        ++i;
        if (i < n && line[i] == '(') {
          arg.has_list = true;
          RETURN_IF_ERROR(read_list(&arg.vals));
        } else {
          std::string val;
          while (i < n && !is_space(line[i])) val.push_back(line[i++]);
          if (val.empty()) return parse_error(pos, "missing value after '=' in: " + line);
          arg.vals.push_back(std::move(val));
        }
      }
    }
    if (i < n && !is_space(line[i])) {
      return parse_error(pos, "expected a space after an argument in: " + line);
    }
    d->args.push_back(std::move(arg));
  }
  return Status::ok();
}

Result<std::vector<Block>> parse_blocks(const std::string& name,
                                        const std::vector<std::string>& lines) {
  std::vector<Block> blocks;
  size_t i = 0;
  while (i < lines.size()) {
    const std::string& line = lines[i];
    if (is_blank(line) || line[0] == '#') {
      ++i;
      continue;
    }
    Block b;
    b.data.pos = name + ":" + std::to_string(i + 1);
    // The command line, with backslash continuations.
    std::string directive;
    while (true) {
      std::string l = lines[i];
      while (!l.empty() && is_space(l.back())) l.pop_back();
      bool cont = !l.empty() && l.back() == '\\';
      if (cont) l.pop_back();
      directive += l;
      ++i;
      if (!cont) break;
      if (i >= lines.size()) return parse_error(b.data.pos, "continuation at end of file");
      directive += ' ';
    }
    RETURN_IF_ERROR(parse_directive(b.data.pos, directive, &b.data));
    // Input lines up to the separator.
    std::vector<std::string> input;
    while (i < lines.size() && lines[i] != kSeparator) input.push_back(lines[i++]);
    if (i >= lines.size()) {
      return parse_error(b.data.pos, "expected '" + std::string(kSeparator) + "' after command");
    }
    for (size_t k = 0; k < input.size(); ++k) {
      if (k > 0) b.data.input += '\n';
      b.data.input += input[k];
    }
    b.sep_line = i++;
    if (i < lines.size() && lines[i] == kSeparator) {
      // Double-separator form: ends at "----" followed by "----".
      ++i;
      bool closed = false;
      while (i < lines.size()) {
        if (lines[i] == kSeparator && i + 1 < lines.size() && lines[i + 1] == kSeparator) {
          i += 2;
          closed = true;
          break;
        }
        b.data.expected += lines[i++] + "\n";
      }
      if (!closed) return parse_error(b.data.pos, "unterminated '----' '----' output block");
    } else {
      while (i < lines.size() && !is_blank(lines[i])) b.data.expected += lines[i++] + "\n";
    }
    b.end_line = i;
    blocks.push_back(std::move(b));
  }
  return blocks;
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found("cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The lines that represent `output` after the first separator line.
std::vector<std::string> format_output(const std::string& output) {
  std::vector<std::string> out_lines = split_lines(output);
  bool has_blank = false;
  for (const auto& l : out_lines) has_blank = has_blank || is_blank(l);
  std::vector<std::string> result;
  if (has_blank) result.push_back(kSeparator);
  result.insert(result.end(), out_lines.begin(), out_lines.end());
  if (has_blank) {
    result.push_back(kSeparator);
    result.push_back(kSeparator);
  }
  return result;
}

}  // namespace

std::string CmdArg::to_string() const {
  std::string out = key;
  if (has_list) {
    if (!key.empty()) out += '=';
    out += '(';
    for (size_t i = 0; i < vals.size(); ++i) {
      if (i > 0) out += ' ';
      out += vals[i];
    }
    out += ')';
  } else if (!vals.empty()) {
    out += '=' + vals[0];
  }
  return out;
}

std::string TestData::directive() const {
  std::string out = cmd;
  for (const auto& a : args) out += ' ' + a.to_string();
  return out;
}

const CmdArg* TestData::find_arg(const std::string& key) const {
  for (const auto& a : args) {
    if (a.key == key) return &a;
  }
  return nullptr;
}

Result<std::vector<TestData>> parse_string(const std::string& name, const std::string& text) {
  auto blocks = parse_blocks(name, split_lines(text));
  if (!blocks.is_ok()) return blocks.status();
  std::vector<TestData> out;
  for (auto& b : *blocks) out.push_back(std::move(b.data));
  return out;
}

Result<std::vector<TestData>> parse_file(const std::string& path) {
  auto text = read_file(path);
  if (!text.is_ok()) return text.status();
  return parse_string(path, *text);
}

std::string line_diff(const std::string& expected, const std::string& actual) {
  std::vector<std::string> a = split_lines(expected);
  std::vector<std::string> b = split_lines(actual);
  // Longest common subsequence table, filled from the ends.
  std::vector<std::vector<size_t>> lcs(a.size() + 1, std::vector<size_t>(b.size() + 1, 0));
  for (size_t i = a.size(); i-- > 0;) {
    for (size_t j = b.size(); j-- > 0;) {
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  std::string out;
  size_t i = 0;
  size_t j = 0;
  while (i < a.size() || j < b.size()) {
    if (i < a.size() && j < b.size() && a[i] == b[j]) {
      out += "  " + a[i++] + "\n";
      ++j;
    } else if (i < a.size() && (j == b.size() || lcs[i + 1][j] >= lcs[i][j + 1])) {
      out += "- " + a[i++] + "\n";
    } else {
      out += "+ " + b[j++] + "\n";
    }
  }
  return out;
}

std::vector<std::string> run_file(const std::string& path, const Handler& handler,
                                  const RunOptions& options) {
  std::vector<std::string> failures;
  auto text = read_file(path);
  if (!text.is_ok()) return {text.status().message()};
  std::vector<std::string> lines = split_lines(*text);
  auto blocks = parse_blocks(path, lines);
  if (!blocks.is_ok()) return {blocks.status().message()};

  std::vector<std::string> actuals;
  for (const Block& b : *blocks) {
    Result<std::string> out = handler(b.data);
    if (!out.is_ok()) {
      failures.push_back(b.data.pos + ": " + b.data.directive() + ": " + out.status().message());
      // A script error: keep the block's expected output on rewrite.
      actuals.push_back(b.data.expected);
      continue;
    }
    std::string actual = std::move(out).value();
    if (!actual.empty() && actual.back() != '\n') actual += '\n';
    if (!options.rewrite && actual != b.data.expected) {
      std::string msg = b.data.pos + ": output mismatch for '" + b.data.directive() + "'\n";
      // Short outputs are shown whole; long ones (a stabilize) only as a diff.
      if (split_lines(b.data.expected).size() <= kMaxShownLines &&
          split_lines(actual).size() <= kMaxShownLines) {
        msg += "--- expected\n" + b.data.expected + "--- actual\n" + actual;
      }
      msg += "--- diff (- expected, + actual)\n" + line_diff(b.data.expected, actual);
      failures.push_back(std::move(msg));
    }
    actuals.push_back(std::move(actual));
  }
  if (!options.rewrite) return failures;

  std::vector<std::string> out_lines;
  size_t next = 0;
  for (size_t k = 0; k < blocks->size(); ++k) {
    const Block& b = (*blocks)[k];
    out_lines.insert(out_lines.end(), lines.begin() + static_cast<ptrdiff_t>(next),
                     lines.begin() + static_cast<ptrdiff_t>(b.sep_line) + 1);
    std::vector<std::string> formatted = format_output(actuals[k]);
    out_lines.insert(out_lines.end(), formatted.begin(), formatted.end());
    next = b.end_line;
  }
  out_lines.insert(out_lines.end(), lines.begin() + static_cast<ptrdiff_t>(next), lines.end());
  std::string new_text;
  for (const auto& l : out_lines) new_text += l + "\n";
  if (new_text != *text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << new_text;
    if (!out) failures.push_back("cannot rewrite " + path);
  }
  return failures;
}

}  // namespace etcd::raft::rafttest
