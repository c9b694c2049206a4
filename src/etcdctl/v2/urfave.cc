#include "etcdctl/v2/urfave.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <iostream>
#include <set>

#include "base/duration.h"
#include "etcdctl/output/quote.h"

namespace etcd::ctl::v2 {
namespace {

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(' ');
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(' ');
  return s.substr(b, e - b + 1);
}

// The forms of a flag: "output, o" -> {"output", "o"}.
std::vector<std::string> forms(const std::string& name) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t comma = name.find(',', start);
    out.push_back(trim(name.substr(start, comma == std::string::npos ? comma : comma - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// strconv.ParseBool.
std::optional<bool> parse_bool(const std::string& s) {
  static const std::set<std::string> kTrue = {"1", "t", "T", "TRUE", "true", "True"};
  static const std::set<std::string> kFalse = {"0", "f", "F", "FALSE", "false", "False"};
  if (kTrue.count(s)) return true;
  if (kFalse.count(s)) return false;
  return std::nullopt;
}

// strconv.ParseInt(s, 0, 64): "" on success, else "parse error" or
// "value out of range" (the flag package's words).
std::string parse_int(const std::string& in, long long& out) {
  std::string s = in;
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s = s.substr(1);
  }
  int base = 10;
  bool prefixed = false;
  if (s.size() >= 2 && s[0] == '0') {
    const char p = static_cast<char>(std::tolower(static_cast<unsigned char>(s[1])));
    if (p == 'x') base = 16, prefixed = true;
    if (p == 'o') base = 8, prefixed = true;
    if (p == 'b') base = 2, prefixed = true;
    if (prefixed) {
      s = s.substr(2);
    } else {
      base = 8;
      s = s.substr(1);
      prefixed = true;  // "0" prefix: octal; underscores allowed
    }
  }
  std::string digits;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_' && prefixed) continue;  // Go checks placement; close enough
    digits += s[i];
  }
  if (digits.empty()) {
    if (base == 8 && !in.empty() && in.back() == '0' && s.empty()) {
      out = 0;
      return "";
    }
    return "parse error";
  }
  unsigned long long v = 0;
  for (char c : digits) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'z') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'Z') {
      d = c - 'A' + 10;
    } else {
      return "parse error";
    }
    if (d >= base) return "parse error";
    if (v > (ULLONG_MAX - static_cast<unsigned>(d)) / static_cast<unsigned>(base)) {
      return "value out of range";
    }
    v = v * static_cast<unsigned>(base) + static_cast<unsigned>(d);
  }
  if (!neg && v > static_cast<unsigned long long>(LLONG_MAX)) return "value out of range";
  if (neg && v > static_cast<unsigned long long>(LLONG_MAX) + 1) return "value out of range";
  out = neg ? static_cast<long long>(0ULL - v) : static_cast<long long>(v);
  return "";
}

size_t rune_count(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

const FlagDef kHelpFlag{FlagType::kBool, "help, h", "show help", ""};
const FlagDef kVersionFlag{FlagType::kBool, "version, v", "print the version", ""};

}  // namespace

// ---------------------------------------------------------------------------
// Flag values (Go's flag.FlagSet, with urfave's normalisation).

FlagValues::FlagValues(const std::vector<FlagDef>* defs) : defs_(defs) {
  if (!defs_) return;
  for (const auto& d : *defs_) {
    for (const auto& n : forms(d.name)) {
      switch (d.type) {
        case FlagType::kBool:
          values_[n] = "false";
          break;
        case FlagType::kDuration: {
          auto ns = parse_go_duration(d.value.empty() ? "0s" : d.value);
          values_[n] = std::to_string(ns.is_ok() ? *ns : 0);
          break;
        }
        case FlagType::kInt:
          values_[n] = d.value.empty() ? "0" : d.value;
          break;
        default:
          values_[n] = d.value;
      }
    }
  }
}

const FlagDef* FlagValues::def_of(const std::string& name) const {
  if (!defs_) return nullptr;
  for (const auto& d : *defs_) {
    for (const auto& n : forms(d.name)) {
      if (n == name) return &d;
    }
  }
  return nullptr;
}

std::string FlagValues::set(const std::string& name, const std::string& text) {
  const FlagDef* d = def_of(name);
  switch (d->type) {
    case FlagType::kBool: {
      auto b = parse_bool(text);
      if (!b) return "parse error";
      values_[name] = *b ? "true" : "false";
      return "";
    }
    case FlagType::kInt: {
      long long v = 0;
      if (std::string err = parse_int(text, v); !err.empty()) return err;
      if (v > INT_MAX || v < INT_MIN) {
        // Go's int is 64 bits here: the whole range is accepted.
      }
      values_[name] = std::to_string(v);
      return "";
    }
    case FlagType::kDuration: {
      auto ns = parse_go_duration(text);
      if (!ns.is_ok()) return "parse error";
      values_[name] = std::to_string(*ns);
      return "";
    }
    case FlagType::kStringSlice:
      slices_[name].push_back(text);
      return "";
    case FlagType::kString:
      values_[name] = text;
      return "";
  }
  return "";
}

std::string FlagValues::parse(const std::vector<std::string>& args,
                              std::vector<std::string>& rest) {
  size_t i = 0;
  rest.clear();
  while (i < args.size()) {
    const std::string& s = args[i];
    if (s.size() < 2 || s[0] != '-') break;
    size_t minuses = 1;
    if (s[1] == '-') {
      minuses = 2;
      if (s.size() == 2) {  // "--": the end of the flags
        ++i;
        break;
      }
    }
    std::string name = s.substr(minuses);
    if (name.empty() || name[0] == '-' || name[0] == '=') return "bad flag syntax: " + s;
    ++i;
    bool has_value = false;
    std::string value;
    if (const size_t eq = name.find('=', 1); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    const FlagDef* d = def_of(name);
    if (!d) {
      if (name == "help" || name == "h") return "flag: help requested";
      return "flag provided but not defined: -" + name;
    }
    if (d->type == FlagType::kBool) {
      if (!has_value) value = "true";
      if (!set(name, value).empty()) {
        return "invalid boolean value " + go_quote(value) + " for -" + name + ": parse error";
      }
    } else {
      if (!has_value && i < args.size()) {
        value = args[i++];
        has_value = true;
      }
      if (!has_value) return "flag needs an argument: -" + name;
      if (std::string err = set(name, value); !err.empty()) {
        return "invalid value " + go_quote(value) + " for flag -" + name + ": " + err;
      }
    }
    visited_.push_back(name);
  }
  rest.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  return "";
}

std::string FlagValues::normalize() {
  if (!defs_) return "";
  const std::set<std::string> visited(visited_.begin(), visited_.end());
  for (const auto& d : *defs_) {
    const auto names = forms(d.name);
    if (names.size() == 1) continue;
    std::string given;
    for (const auto& n : names) {
      if (!visited.count(n)) continue;
      if (!given.empty()) return "Cannot use two forms of the same flag: " + n + " " + given;
      given = n;
    }
    if (given.empty()) continue;
    for (const auto& n : names) {
      if (n == given) continue;
      if (d.type == FlagType::kStringSlice) continue;  // urfave does not copy slices
      values_[n] = values_[given];
    }
  }
  return "";
}

bool FlagValues::get_bool(const std::string& name) const {
  auto it = values_.find(name);
  return it != values_.end() && it->second == "true";
}

std::string FlagValues::get_string(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? "" : it->second;
}

long long FlagValues::get_int(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? 0 : std::atoll(it->second.c_str());
}

long long FlagValues::get_duration_ns(const std::string& name) const { return get_int(name); }

std::vector<std::string> FlagValues::get_slice(const std::string& name) const {
  auto it = slices_.find(name);
  return it == slices_.end() ? std::vector<std::string>{} : it->second;
}

// ---------------------------------------------------------------------------
// Help.

std::string flag_help_line(const FlagDef& f) {
  std::string usage = f.usage;
  std::string placeholder;
  // A `quoted` word of the usage is the placeholder (quotes dropped).
  if (const size_t a = usage.find('`'); a != std::string::npos) {
    if (const size_t b = usage.find('`', a + 1); b != std::string::npos) {
      placeholder = usage.substr(a + 1, b - a - 1);
      usage = usage.substr(0, a) + placeholder + usage.substr(b + 1);
    }
  }
  std::string def;
  if (f.type == FlagType::kStringSlice) {
    if (placeholder.empty()) placeholder = "value";
  } else if (f.type != FlagType::kBool) {
    if (placeholder.empty()) placeholder = "value";
    if (f.type == FlagType::kString) {
      if (!f.value.empty()) def = " (default: " + go_quote(f.value) + ")";
    } else if (f.type == FlagType::kInt) {
      def = " (default: " + (f.value.empty() ? std::string("0") : f.value) + ")";
    } else {
      def = " (default: " + (f.value.empty() ? std::string("0s") : f.value) + ")";
    }
  }
  std::string names;
  const auto parts = forms(f.name);
  for (size_t i = 0; i < parts.size(); ++i) {
    names += (parts[i].size() == 1 ? "-" : "--") + parts[i];
    if (!placeholder.empty()) names += " " + placeholder;
    if (i + 1 < parts.size()) names += ", ";
  }
  return names + "\t" + trim(usage + def);
}

std::string tabwrite(const std::string& text) {
  // Lines of cells: each tab-terminated cell, then the rest of the line.
  std::vector<std::vector<std::string>> lines;
  std::vector<std::string> cur;
  std::string cell;
  for (char c : text) {
    if (c == '\t') {
      cur.push_back(cell);
      cell.clear();
    } else if (c == '\n') {
      cur.push_back(cell);
      cell.clear();
      lines.push_back(cur);
      cur.clear();
    } else {
      cell += c;
    }
  }
  const bool trailing = !cell.empty() || !cur.empty();
  if (trailing) {
    cur.push_back(cell);
    lines.push_back(cur);
  }
  std::string out;
  std::vector<size_t> widths;
  auto write_lines = [&](size_t from, size_t to) {
    for (size_t l = from; l < to; ++l) {
      const auto& line = lines[l];
      for (size_t j = 0; j < line.size(); ++j) {
        out += line[j];
        if (j < widths.size()) {
          const size_t w = rune_count(line[j]);
          if (widths[j] > w) out.append(widths[j] - w, ' ');
        }
      }
      if (l + 1 < lines.size() || !trailing) out += '\n';
    }
  };
  std::function<void(size_t, size_t)> format = [&](size_t line0, size_t line1) {
    const size_t column = widths.size();
    for (size_t l = line0; l < line1; ++l) {
      if (column + 1 >= lines[l].size()) continue;
      write_lines(line0, l);
      line0 = l;
      size_t width = 1;  // minwidth
      for (; l < line1; ++l) {
        if (column + 1 >= lines[l].size()) break;
        width = std::max(width, rune_count(lines[l][column]) + 2);  // padding 2
      }
      widths.push_back(width);
      format(line0, l);
      widths.pop_back();
      line0 = l;
      if (l >= line1) break;
      --l;  // the loop's ++ looks at the line that ended the block again
    }
    write_lines(line0, line1);
  };
  format(0, lines.size());
  return out;
}

namespace {

std::string names_of(const CommandDef& c) {
  std::string s = c.name;
  for (const auto& a : c.aliases) s += ", " + a;
  return s;
}

}  // namespace

std::string app_help(const AppDef& app, const std::vector<FlagDef>& visible_flags,
                     const std::vector<CommandDef>& commands) {
  std::string t = "NAME:\n   " + app.name;
  if (!app.usage.empty()) t += " - " + app.usage;
  t += "\n\nUSAGE:\n   " + app.help_name + " ";
  if (!visible_flags.empty()) t += "[global options]";
  if (!commands.empty()) t += " command [command options]";
  t += " [arguments...]";
  if (!app.version.empty()) t += "\n\nVERSION:\n   " + app.version;
  if (!commands.empty()) {
    t += "\n\nCOMMANDS:";
    for (const auto& c : commands) t += "\n   " + names_of(c) + "\t" + c.usage;
  }
  if (!visible_flags.empty()) {
    t += "\n\nGLOBAL OPTIONS:\n   ";
    for (size_t i = 0; i < visible_flags.size(); ++i) {
      if (i) t += "\n   ";
      t += flag_help_line(visible_flags[i]);
    }
  }
  t += "\n";
  return tabwrite(t);
}

std::string command_help(const CommandDef& c) {
  std::string t = "NAME:\n   " + c.help_name + " - " + c.usage + "\n\nUSAGE:\n   " + c.help_name;
  if (!c.flags.empty()) t += " [command options]";
  t += " " + (c.args_usage.empty() ? std::string("[arguments...]") : c.args_usage);
  if (!c.description.empty()) t += "\n\nDESCRIPTION:\n   " + c.description;
  if (!c.flags.empty()) {
    t += "\n\nOPTIONS:\n   ";
    for (const auto& f : c.flags) t += flag_help_line(f) + "\n   ";
  }
  t += "\n";
  return tabwrite(t);
}

std::string subcommand_help(const std::string& help_name, const std::string& usage,
                            const std::vector<CommandDef>& commands,
                            const std::vector<FlagDef>& visible_flags) {
  std::string t =
      "NAME:\n   " + help_name + " - " + usage + "\n\nUSAGE:\n   " + help_name + " command";
  if (!visible_flags.empty()) t += " [command options]";
  t += " [arguments...]\n\nCOMMANDS:";
  for (const auto& c : commands) t += "\n   " + names_of(c) + "\t" + c.usage;
  if (!visible_flags.empty()) {
    t += "\n\nOPTIONS:\n   ";
    for (const auto& f : visible_flags) t += flag_help_line(f) + "\n   ";
  }
  t += "\n";
  return tabwrite(t);
}

std::vector<std::string> reorder_args(const std::vector<FlagDef>& flags,
                                      const std::vector<std::string>& args) {
  auto is_flag = [&](std::string a) {
    if (a == "-" || a == "--" || a.empty() || a[0] != '-') return false;
    if (a.rfind("--", 0) == 0) a = a.substr(2);
    if (!a.empty() && a[0] == '-') a = a.substr(1);
    a = a.substr(0, a.find('='));
    for (const auto& f : flags) {
      for (const auto& n : forms(f.name)) {
        if (n == a) return true;
      }
    }
    return false;
  };
  std::vector<std::string> remaining, reordered;
  bool may_be_value = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (may_be_value && !is_flag(a)) {
      may_be_value = false;
      reordered.push_back(a);
    } else if (a == "--") {
      remaining.insert(remaining.begin(), "--");
      remaining.insert(remaining.end(), args.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                       args.end());
      break;
    } else if (is_flag(a)) {
      reordered.push_back(a);
      may_be_value = a.find('=') == std::string::npos;
    } else {
      remaining.push_back(a);
    }
  }
  reordered.insert(reordered.end(), remaining.begin(), remaining.end());
  return reordered;
}

// ---------------------------------------------------------------------------
// Running.

namespace {

CommandDef help_command(const std::string& help_name) {
  CommandDef h;
  h.name = "help";
  h.aliases = {"h"};
  h.usage = "Shows a list of commands or help for one command";
  h.args_usage = "[command]";
  h.help_name = help_name;
  return h;
}

const CommandDef* find_command(const std::vector<CommandDef>& cmds, const std::string& name) {
  for (const auto& c : cmds) {
    if (c.name == name) return &c;
    for (const auto& a : c.aliases) {
      if (a == name) return &c;
    }
  }
  return nullptr;
}

// What one level of the tree needs to show help: the app (root or group).
struct Level {
  AppDef app;                          // name, help name, usage, version
  std::vector<FlagDef> flags;          // with help (and version at the root)
  std::vector<CommandDef> commands;    // with help
  std::vector<CommandDef> categories;  // the commands help lists
  bool root = true;
};

// ShowCommandHelp: the command's help, or "No help topic" (exit 3).
int show_command_help(const Level& lv, const std::string& name) {
  const CommandDef* c = find_command(lv.commands, name);
  if (!c) {
    std::cout.flush();
    std::cerr << "No help topic for '" << name << "'\n";
    return 3;
  }
  std::cout << command_help(*c);
  return 0;
}

int run_leaf(const Level& lv, const CommandDef& cmd, const FlagValues& global,
             const std::vector<std::string>& tail) {
  if (cmd.raw_action) return cmd.raw_action(tail);
  std::vector<FlagDef> flags = cmd.flags;
  flags.push_back(kHelpFlag);
  FlagValues local(&flags);
  std::vector<std::string> rest;
  std::string err = local.parse(reorder_args(flags, tail), rest);
  if (err.empty()) err = local.normalize();
  if (!err.empty()) {
    std::cout << "Incorrect Usage: " << err << "\n\n" << command_help(cmd) << std::flush;
    std::cerr << err << "\n";
    return 1;
  }
  if (local.get_bool("h") || local.get_bool("help")) {
    std::cout << command_help(cmd);
    return 0;
  }
  if (cmd.name == "help") {
    if (!rest.empty()) return show_command_help(lv, rest[0]);
    if (lv.root) {
      std::cout << app_help(lv.app, lv.flags, lv.categories);
    } else {
      std::cout << app_help(lv.app, lv.flags, lv.categories);
    }
    return 0;
  }
  Context ctx;
  ctx.global = &global;
  ctx.local = &local;
  ctx.args = rest;
  return cmd.action(ctx);
}

int run_group(const Level& parent, const CommandDef& group, const FlagValues& global,
              const std::vector<std::string>& tail) {
  (void)parent;
  Level lv;
  lv.root = false;
  lv.app.name = parent.app.name + " " + group.name;
  lv.app.help_name = lv.app.name;
  lv.app.usage = group.usage;
  lv.app.version = parent.app.version;
  lv.flags = group.flags;
  lv.flags.push_back(kHelpFlag);
  lv.categories = group.subcommands;
  lv.commands = group.subcommands;
  lv.commands.push_back(help_command(""));
  for (auto& c : lv.commands) {
    if (c.help_name.empty()) c.help_name = lv.app.help_name + " " + c.name;
  }
  for (auto& c : lv.categories) {
    if (c.help_name.empty()) c.help_name = lv.app.help_name + " " + c.name;
  }
  FlagValues local(&lv.flags);
  std::vector<std::string> rest;
  const std::string err = local.parse(tail, rest);
  const std::string nerr = local.normalize();
  auto sub_help = [&] {
    return subcommand_help(lv.app.help_name, lv.app.usage, lv.categories, lv.flags);
  };
  if (!nerr.empty()) {
    std::cout << nerr << "\n\n" << sub_help() << std::flush;
    std::cerr << nerr << "\n";
    return 1;
  }
  if (!err.empty()) {
    std::cout << "Incorrect Usage. " << err << "\n\n" << sub_help() << std::flush;
    std::cerr << err << "\n";
    return 1;
  }
  if (local.get_bool("h") || local.get_bool("help")) {
    std::cout << sub_help();
    return 0;
  }
  if (!rest.empty()) {
    if (const CommandDef* c = find_command(lv.commands, rest[0])) {
      return run_leaf(lv, *c, global, {rest.begin() + 1, rest.end()});
    }
    return show_command_help(lv, rest[0]);
  }
  std::cout << sub_help();
  return 0;
}

}  // namespace

int run_app(AppDef app, const std::vector<std::string>& args) {
  Level lv;
  for (auto& c : app.commands) {
    if (c.help_name.empty()) c.help_name = app.help_name + " " + c.name;
  }
  lv.commands = app.commands;
  lv.commands.push_back(help_command(""));
  lv.categories = lv.commands;
  lv.flags = app.flags;
  lv.flags.push_back(kHelpFlag);
  if (!app.version.empty()) lv.flags.push_back(kVersionFlag);
  lv.app = app;
  FlagValues global(&lv.flags);
  std::vector<std::string> rest;
  const std::string err = global.parse(args, rest);
  const std::string nerr = global.normalize();
  auto help = [&] { return app_help(lv.app, lv.flags, lv.categories); };
  if (!nerr.empty()) {
    std::cout << nerr << "\n" << help() << std::flush;
    std::cerr << nerr << "\n";
    return 1;
  }
  if (!err.empty()) {
    std::cout << "Incorrect Usage. " << err << "\n\n" << help() << std::flush;
    std::cerr << err << "\n";
    return 1;
  }
  if (global.get_bool("h") || global.get_bool("help")) {
    std::cout << help();
    return 0;
  }
  if (global.get_bool("v") || global.get_bool("version")) {
    std::cout << app.name << " version: " << app.version << "\nAPI version: 2\n";
    return 0;
  }
  if (!rest.empty()) {
    if (const CommandDef* c = find_command(lv.commands, rest[0])) {
      const std::vector<std::string> tail(rest.begin() + 1, rest.end());
      if (!c->subcommands.empty()) return run_group(lv, *c, global, tail);
      return run_leaf(lv, *c, global, tail);
    }
    return show_command_help(lv, rest[0]);
  }
  std::cout << help();
  return 0;
}

}  // namespace etcd::ctl::v2
