#include "etcdctl/cli.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "base/version.h"

namespace etcd::ctl {
namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    if (p == std::string::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, p - start));
    start = p + 1;
  }
}

size_t rune_count(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

// Go's %q of a string (ASCII printable kept, the rest escaped).
std::string go_quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

}  // namespace

void exit_with_error(int code, const std::string& message) { throw ExitError{code, message}; }

// ---- durations ----

std::string go_duration(int64_t ns) {
  if (ns == 0) return "0s";
  std::string sign = ns < 0 ? "-" : "";
  uint64_t u = ns < 0 ? static_cast<uint64_t>(-ns) : static_cast<uint64_t>(ns);
  auto frac = [](uint64_t v, uint64_t unit) {
    std::string s = std::to_string(v / unit);
    uint64_t rem = v % unit;
    if (rem) {
      std::string digits = std::to_string(rem);
      digits = std::string(std::to_string(unit).size() - 1 - digits.size(), '0') + digits;
      while (!digits.empty() && digits.back() == '0') digits.pop_back();
      s += "." + digits;
    }
    return s;
  };
  if (u < 1000) return sign + std::to_string(u) + "ns";
  if (u < 1000000) return sign + frac(u, 1000) + "µs";
  if (u < 1000000000) return sign + frac(u, 1000000) + "ms";
  std::string out = sign;
  const uint64_t h = u / 3600000000000ULL;
  u %= 3600000000000ULL;
  const uint64_t m = u / 60000000000ULL;
  u %= 60000000000ULL;
  if (h) out += std::to_string(h) + "h";
  if (h || m) out += std::to_string(m) + "m";
  return out + frac(u, 1000000000) + "s";
}

std::optional<int64_t> parse_go_duration(const std::string& text) {
  std::string s = text;
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s = s.substr(1);
  }
  if (s == "0") return 0;
  if (s.empty()) return std::nullopt;
  double total = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.')) ++j;
    if (j == i) return std::nullopt;
    double v;
    try {
      v = std::stod(s.substr(i, j - i));
    } catch (...) {
      return std::nullopt;
    }
    size_t k = j;
    while (k < s.size() && !std::isdigit(static_cast<unsigned char>(s[k])) && s[k] != '.') ++k;
    const std::string unit = s.substr(j, k - j);
    double mult;
    if (unit == "ns")
      mult = 1;
    else if (unit == "us" || unit == "µs" || unit == "μs")
      mult = 1e3;
    else if (unit == "ms")
      mult = 1e6;
    else if (unit == "s")
      mult = 1e9;
    else if (unit == "m")
      mult = 60e9;
    else if (unit == "h")
      mult = 3600e9;
    else
      return std::nullopt;
    total += v * mult;
    i = k;
  }
  const auto ns = static_cast<int64_t>(std::llround(total));
  return neg ? -ns : ns;
}

// ---- tabwriter ----

std::string tabwrite(const std::string& text) {
  std::vector<std::string> lines = split(text, '\n');
  const bool trailing_newline = !text.empty() && text.back() == '\n';
  if (trailing_newline) lines.pop_back();
  std::vector<std::vector<std::string>> cells;
  for (const auto& l : lines) cells.push_back(split(l, '\t'));
  std::vector<std::vector<size_t>> widths(cells.size());
  for (size_t i = 0; i < cells.size(); ++i) widths[i].assign(cells[i].size(), 0);
  // A column block: consecutive lines with a tab-terminated cell in `col`.
  std::function<void(size_t, size_t, size_t)> format = [&](size_t line0, size_t line1, size_t col) {
    size_t i = line0;
    while (i < line1) {
      if (col + 1 >= cells[i].size()) {
        ++i;
        continue;
      }
      size_t j = i;
      size_t width = 0;
      while (j < line1 && col + 1 < cells[j].size()) {
        width = std::max(width, rune_count(cells[j][col]) + 1);
        ++j;
      }
      width = (width + 7) / 8 * 8;
      for (size_t k = i; k < j; ++k) widths[k][col] = width;
      format(i, j, col + 1);
      i = j;
    }
  };
  format(0, cells.size(), 0);
  std::string out;
  for (size_t i = 0; i < cells.size(); ++i) {
    for (size_t c = 0; c < cells[i].size(); ++c) {
      out += cells[i][c];
      if (c + 1 < cells[i].size()) {
        const size_t n = widths[i][c] - rune_count(cells[i][c]);
        out += std::string((n + 7) / 8, '\t');
      }
    }
    if (i + 1 < cells.size() || trailing_newline) out += '\n';
  }
  return out;
}

// ---- flags ----

Flag& FlagSet::add(FlagKind kind, const std::string& name, const std::string& shorthand,
                   const std::string& default_value, const std::string& usage) {
  Flag f;
  f.kind = kind;
  f.name = name;
  f.shorthand = shorthand;
  f.usage = usage;
  f.default_value = default_value;
  f.value = default_value;
  if (kind == FlagKind::kStringSlice || kind == FlagKind::kStringArray) {
    std::string inner = default_value.substr(1, default_value.size() - 2);
    if (!inner.empty()) f.list = split(inner, ',');
  }
  return flags_[name] = f;
}

Flag* FlagSet::find(const std::string& name) {
  auto it = flags_.find(name);
  return it == flags_.end() ? nullptr : &it->second;
}

const Flag* FlagSet::find(const std::string& name) const {
  auto it = flags_.find(name);
  return it == flags_.end() ? nullptr : &it->second;
}

Flag* FlagSet::find_short(char c) {
  for (auto& [_, f] : flags_) {
    if (f.shorthand.size() == 1 && f.shorthand[0] == c) return &f;
  }
  return nullptr;
}

std::string FlagSet::set(Flag& f, const std::string& text) {
  auto invalid = [&](const std::string& why) { return why; };
  switch (f.kind) {
    case FlagKind::kBool:
      if (text == "1" || text == "t" || text == "T" || text == "true" || text == "TRUE" ||
          text == "True") {
        f.value = "true";
      } else if (text == "0" || text == "f" || text == "F" || text == "false" || text == "FALSE" ||
                 text == "False") {
        f.value = "false";
      } else {
        return invalid("strconv.ParseBool: parsing " + go_quote(text) + ": invalid syntax");
      }
      break;
    case FlagKind::kInt:
    case FlagKind::kUint: {
      const std::string fn = f.kind == FlagKind::kInt ? "strconv.ParseInt" : "strconv.ParseUint";
      if (text.empty()) return invalid(fn + ": parsing " + go_quote(text) + ": invalid syntax");
      size_t i = 0;
      if (f.kind == FlagKind::kInt && (text[0] == '-' || text[0] == '+')) i = 1;
      if (i == text.size()) return invalid(fn + ": parsing " + go_quote(text) + ": invalid syntax");
      for (size_t k = i; k < text.size(); ++k) {
        if (!std::isdigit(static_cast<unsigned char>(text[k]))) {
          return invalid(fn + ": parsing " + go_quote(text) + ": invalid syntax");
        }
      }
      try {
        if (f.kind == FlagKind::kInt) {
          f.value = std::to_string(std::stoll(text));
        } else {
          f.value = std::to_string(std::stoull(text));
        }
      } catch (...) {
        return invalid(fn + ": parsing " + go_quote(text) + ": value out of range");
      }
      break;
    }
    case FlagKind::kDuration: {
      auto d = parse_go_duration(text);
      if (!d) return invalid("time: invalid duration " + go_quote(text));
      f.value = go_duration(*d);
      break;
    }
    case FlagKind::kStringSlice: {
      auto parts = split(text, ',');
      if (!f.changed) f.list.clear();
      f.list.insert(f.list.end(), parts.begin(), parts.end());
      break;
    }
    case FlagKind::kStringArray:
      if (!f.changed) f.list.clear();
      f.list.push_back(text);
      break;
    case FlagKind::kString:
      f.value = text;
      break;
  }
  f.changed = true;
  return "";
}

// ---- invocation ----

const Flag& Invocation::flag(const std::string& name) const {
  Flag* f = cmd->lookup(name);
  if (!f) exit_with_error(kExitError, "flag accessed but not defined: " + name);
  return *f;
}
bool Invocation::get_bool(const std::string& name) const { return flag(name).value == "true"; }
std::string Invocation::get_string(const std::string& name) const { return flag(name).value; }
int64_t Invocation::get_int(const std::string& name) const { return std::stoll(flag(name).value); }
uint64_t Invocation::get_uint(const std::string& name) const {
  return std::stoull(flag(name).value);
}
int64_t Invocation::get_duration_ns(const std::string& name) const {
  return parse_go_duration(flag(name).value).value_or(0);
}
std::vector<std::string> Invocation::get_slice(const std::string& name) const {
  return flag(name).list;
}
bool Invocation::changed(const std::string& name) const { return flag(name).changed; }

// ---- commands ----

Command::Command(std::string use, std::string short_desc, std::string long_desc, Run run)
    : use_(std::move(use)),
      short_(std::move(short_desc)),
      long_(std::move(long_desc)),
      run_(std::move(run)) {}

Command& Command::add(std::unique_ptr<Command> child) {
  child->parent_ = this;
  Command* raw = child.get();
  children_.push_back(std::move(child));
  std::stable_sort(children_.begin(), children_.end(),
                   [](const auto& a, const auto& b) { return a->name() < b->name(); });
  return *raw;
}

Command& Command::add(std::string use, std::string short_desc, std::string long_desc, Run run) {
  return add(std::make_unique<Command>(std::move(use), std::move(short_desc), std::move(long_desc),
                                       std::move(run)));
}

std::string Command::name() const { return use_.substr(0, use_.find(' ')); }

Flag* Command::lookup(const std::string& name) {
  for (Command* c = this; c; c = c->parent_) {
    if (c == this) {
      if (Flag* f = c->local_.find(name)) return f;
    }
    if (Flag* f = c->persistent_.find(name)) return f;
  }
  return nullptr;
}

Flag* Command::lookup_short(char ch) {
  for (Command* c = this; c; c = c->parent_) {
    if (c == this) {
      if (Flag* f = c->local_.find_short(ch)) return f;
    }
    if (Flag* f = c->persistent_.find_short(ch)) return f;
  }
  return nullptr;
}

std::string Command::path() const { return parent_ ? parent_->path() + " " + name() : name(); }

std::string Command::use_line() const {
  std::string line = parent_ ? parent_->path() + " " + use_ : use_;
  if (!disable_flags_in_use_line && line.find("[flags]") == std::string::npos) line += " [flags]";
  return line;
}

namespace {

std::string flag_usages(const std::vector<const Flag*>& flags) {
  std::string out;
  for (const Flag* f : flags) {
    if (f->hidden) continue;
    std::string line =
        f->shorthand.empty() ? "      --" + f->name : "  -" + f->shorthand + ", --" + f->name;
    const bool noopt = f->kind == FlagKind::kBool;
    if (noopt) line += "[";
    line += "=";
    line += f->kind == FlagKind::kString ? go_quote(f->default_value) : f->default_value;
    if (noopt) line += "]";
    out += line + "\t" + f->usage + "\n";
  }
  return out;
}

std::string trim(const std::string& s, const std::string& chars) {
  size_t b = s.find_first_not_of(chars);
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(chars);
  return s.substr(b, e - b + 1);
}

void collect_subcommands(const Command& c, std::vector<const Command*>& out) {
  for (const auto& child : c.children()) {
    out.push_back(child.get());
    collect_subcommands(*child, out);
  }
}

std::string relative_name(const Command* c, const Command* start) {
  std::string s = c->name();
  while (c->parent() && c->parent()->name() != start->name()) {
    c = c->parent();
    s = c->name() + " " + s;
  }
  return s;
}

}  // namespace

std::string Command::usage() const {
  std::string out = "NAME:\n";
  const Command* root = this;
  while (root->parent_) root = root->parent_;
  out += "\t" + (parent_ ? relative_name(this, root) : name()) + " - " + short_ + "\n";
  out += "\nUSAGE:\n\t" + use_line() + "\n";
  if (!parent_) out += "\nVERSION:\n\t" + std::string(kEtcdVersion) + "\n";
  if (!children_.empty()) {
    out += "\nAPI VERSION:\n\t" + std::string(kApiVersion) + "\n";
    out += "\n\nCOMMANDS:\n";
    std::vector<const Command*> subs;
    collect_subcommands(*this, subs);
    for (const Command* c : subs) {
      if (c->runnable()) out += "\t" + relative_name(c, this) + "\t" + c->short_ + "\n";
    }
  }
  if (!long_.empty()) {
    out += "\nDESCRIPTION:\n";
    for (const auto& line : split(trim(long_, "\n\t "), '\n')) out += "\t" + line + "\n";
  }
  // Local flags: this command's own and persistent ones, and help.
  std::map<std::string, const Flag*> local;
  for (const auto& [n, f] : local_.all()) local[n] = &f;
  for (const auto& [n, f] : persistent_.all()) local[n] = &f;
  Flag help;
  help.name = "help";
  help.shorthand = "h";
  help.kind = FlagKind::kBool;
  help.default_value = "false";
  help.usage = "help for " + name();
  local["help"] = &help;
  std::vector<const Flag*> lf;
  for (const auto& [_, f] : local) lf.push_back(f);
  out += "\nOPTIONS:\n" + flag_usages(lf);
  std::map<std::string, const Flag*> inherited;
  for (const Command* c = parent_; c; c = c->parent_) {
    for (const auto& [n, f] : c->persistent_.all()) {
      if (!local.count(n)) inherited.emplace(n, &f);
    }
  }
  if (!inherited.empty()) {
    std::vector<const Flag*> gf;
    for (const auto& [_, f] : inherited) gf.push_back(f);
    out += "\nGLOBAL OPTIONS:\n" + flag_usages(gf);
  }
  out += "\n";
  return tabwrite(out);
}

Command* Command::find_child(const std::string& word) {
  Command* prefix_match = nullptr;
  int prefix_count = 0;
  for (auto& c : children_) {
    if (c->name() == word) return c.get();
    if (c->name().rfind(word, 0) == 0) {
      prefix_match = c.get();
      ++prefix_count;
    }
  }
  return prefix_count == 1 ? prefix_match : nullptr;
}

std::vector<std::string> Command::strip_flags(const std::vector<std::string>& argv) {
  std::vector<std::string> words;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--") break;
    const bool has_eq = a.find('=') != std::string::npos;
    bool takes_value = false;
    if (a.rfind("--", 0) == 0 && !has_eq) {
      // An unknown flag is guessed to take a value, as cobra does.
      const Flag* f = lookup(a.substr(2));
      takes_value = !f || f->kind != FlagKind::kBool;
    } else if (a.size() == 2 && a[0] == '-' && !has_eq) {
      const Flag* f = lookup_short(a[1]);
      takes_value = !f || f->kind != FlagKind::kBool;
    }
    if (takes_value) {
      if (argv.size() - i <= 2) break;  // cobra stops at a lone last value
      ++i;
      continue;
    }
    if (!a.empty() && a[0] != '-') words.push_back(a);
  }
  return words;
}

namespace {

// The Levenshtein distance of a and b, ignoring ASCII case (cobra's ld).
size_t edit_distance(std::string a, std::string b) {
  for (auto* s : {&a, &b}) {
    for (char& c : *s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::string Command::suggestions_for(const std::string& word) const {
  std::vector<const Command*> ordered;
  for (const auto& name : suggestion_order) {
    for (const auto& c : children_) {
      if (c->name() == name) ordered.push_back(c.get());
    }
  }
  for (const auto& c : children_) {
    if (std::find(ordered.begin(), ordered.end(), c.get()) == ordered.end()) {
      ordered.push_back(c.get());
    }
  }
  std::string out;
  for (const Command* c : ordered) {
    // The help command is not an available command to cobra.
    if (c->name() == "help" || (!c->runnable() && c->children_.empty())) continue;
    if (edit_distance(word, c->name()) <= 2 || lower(c->name()).rfind(lower(word), 0) == 0) {
      out += "\t" + c->name() + "\n";
    }
  }
  return out.empty() ? "" : "\n\nDid you mean this?\n" + out;
}

std::string Command::parse(std::vector<std::string> argv, Invocation& inv) {
  auto needs_arg = [](const std::string& what) { return "flag needs an argument: " + what; };
  auto bad_value = [](const Flag& f, const std::string& v, const std::string& why) {
    std::string name = f.shorthand.empty() ? "--" + f.name : "-" + f.shorthand + ", --" + f.name;
    return "invalid argument " + go_quote(v) + " for " + go_quote(name) + " flag: " + why;
  };
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--") {
      inv.dash_at = inv.args.size();
      for (size_t k = i + 1; k < argv.size(); ++k) {
        inv.args.push_back(argv[k]);
        inv.after_dash.push_back(argv[k]);
      }
      break;
    }
    if (a.size() > 2 && a[0] == '-' && a[1] == '-') {
      std::string name = a.substr(2), value;
      const size_t eq = name.find('=');
      const bool has_value = eq != std::string::npos;
      if (has_value) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      if (name == "help") {
        inv.args.push_back("\x01help");
        continue;
      }
      Flag* f = lookup(name);
      if (!f) return "unknown flag: --" + name;
      if (!has_value) {
        if (f->kind == FlagKind::kBool) {
          value = "true";
        } else if (i + 1 < argv.size()) {
          value = argv[++i];
        } else {
          return needs_arg("--" + name);
        }
      }
      if (std::string err = FlagSet::set(*f, value); !err.empty()) return bad_value(*f, value, err);
      continue;
    }
    if (a.size() > 1 && a[0] == '-') {
      for (size_t j = 1; j < a.size(); ++j) {
        const char c = a[j];
        if (c == 'h') {
          inv.args.push_back("\x01help");
          continue;
        }
        Flag* f = lookup_short(c);
        if (!f) return std::string("unknown shorthand flag: '") + c + "' in " + a;
        std::string value;
        if (f->kind == FlagKind::kBool) {
          if (j + 1 < a.size() && a[j + 1] == '=') {
            value = a.substr(j + 2);
            j = a.size();
          } else {
            value = "true";
          }
        } else if (j + 1 < a.size()) {
          value = a.substr(a[j + 1] == '=' ? j + 2 : j + 1);
          j = a.size();
        } else if (i + 1 < argv.size()) {
          value = argv[++i];
        } else {
          return needs_arg(std::string("'") + c + "' in -" + c);
        }
        if (std::string err = FlagSet::set(*f, value); !err.empty())
          return bad_value(*f, value, err);
      }
      continue;
    }
    inv.args.push_back(a);
  }
  return "";
}

int Command::execute(const std::vector<std::string>& argv_in) {
  // Find the command: the first words that are not flags (or their values).
  Command* cmd = this;
  std::vector<std::string> argv = argv_in;
  bool help_command = false;
  if (!argv.empty() && argv[0] == "help") {
    help_command = true;
    argv.erase(argv.begin());
  }
  while (!cmd->children_.empty()) {
    const std::vector<std::string> words = cmd->strip_flags(argv);
    if (words.empty()) break;
    Command* child = cmd->find_child(words[0]);
    if (!child) break;
    cmd = child;
    argv.erase(std::find(argv.begin(), argv.end(), words[0]));
  }
  // cobra's legacyArgs: a word left over at the root is an unknown command,
  // before any flag is parsed.
  if (!help_command && !cmd->parent_ && !cmd->children_.empty()) {
    const std::vector<std::string> words = cmd->strip_flags(argv);
    if (!words.empty()) {
      const std::string msg = "unknown command " + go_quote(words[0]) + " for " +
                              go_quote(cmd->path()) + cmd->suggestions_for(words[0]);
      std::cerr << "Error: " << msg << "\nRun '" << cmd->path() << " --help' for usage.\n";
      std::cerr << "Error: " << msg << "\n";
      return kExitError;
    }
  }

  Invocation inv;
  inv.cmd = cmd;
  inv.raw_args = argv_in;
  std::string err = cmd->parse(argv, inv);
  if (!err.empty()) {
    std::cerr << "Error: " << err << "\n\n";
    std::cout << cmd->usage();
    std::cout.flush();
    std::cerr << "Error: " << err << "\n";
    return kExitError;
  }
  bool help = help_command;
  std::vector<std::string> positional;
  for (auto& a : inv.args) {
    if (a == "\x01help") {
      help = true;
    } else {
      positional.push_back(a);
    }
  }
  inv.args = positional;
  if (help || !cmd->runnable()) {
    std::cout << cmd->usage();
    return kExitSuccess;
  }
  try {
    if (before_run) before_run(inv);
    cmd->run_(inv);
  } catch (const ExitError& e) {
    std::cout.flush();
    std::cerr << "Error: " << e.message << "\n";
    return e.code;
  }
  std::cout.flush();
  return kExitSuccess;
}

}  // namespace etcd::ctl
