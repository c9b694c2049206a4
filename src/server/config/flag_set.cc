#include "server/config/flag_set.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

#include "base/assert.h"

namespace etcd::config {

std::optional<bool> parse_go_bool(std::string_view s) {
  // strconv.ParseBool's accepted spellings.
  if (s == "1" || s == "t" || s == "T" || s == "true" || s == "TRUE" || s == "True") return true;
  if (s == "0" || s == "f" || s == "F" || s == "false" || s == "FALSE" || s == "False") {
    return false;
  }
  return std::nullopt;
}

namespace {
template <typename T>
std::optional<T> parse_number(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int base = 10;
  bool negative = false;
  if constexpr (std::is_signed_v<T>) {
    if (s.front() == '-' || s.front() == '+') {
      negative = s.front() == '-';
      s.remove_prefix(1);
    }
  } else {
    if (s.front() == '+') s.remove_prefix(1);
  }
  // Go's flag package parses integers with base 0: 0x.., 0o.., 0b.., 0...
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
    base = 8;
    s.remove_prefix(2);
  } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
    base = 2;
    s.remove_prefix(2);
  } else if (s.size() > 1 && s[0] == '0') {
    base = 8;
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  using U = std::make_unsigned_t<T>;
  U magnitude = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), magnitude, base);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  if constexpr (std::is_signed_v<T>) {
    constexpr U kMax = static_cast<U>(std::numeric_limits<T>::max());
    if (negative) {
      if (magnitude > kMax + 1) return std::nullopt;
      return static_cast<T>(U{0} - magnitude);
    }
    if (magnitude > kMax) return std::nullopt;
    return static_cast<T>(magnitude);
  } else {
    return magnitude;
  }
}
}  // namespace

std::optional<uint64_t> parse_uint(std::string_view s) { return parse_number<uint64_t>(s); }
std::optional<int64_t> parse_int(std::string_view s) { return parse_number<int64_t>(s); }

std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  size_t start = 0;
  while (true) {
    size_t comma = s.find(',', start);
    out.emplace_back(s.substr(start, comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

void FlagSet::add(FlagSpec spec) {
  ASSERT(find(spec.name) == nullptr, "flag defined twice");
  State st;
  st.value = spec.default_value;
  state_.emplace(spec.name, std::move(st));
  specs_.push_back(std::move(spec));
}

const FlagSpec* FlagSet::find(std::string_view name) const {
  for (const FlagSpec& s : specs_) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

bool FlagSet::has(std::string_view name) const { return find(name) != nullptr; }

std::optional<std::string> FlagSet::store(const FlagSpec& spec, std::string_view value) {
  switch (spec.type) {
    case FlagType::kBool:
      if (!parse_go_bool(value)) return "parse error";
      break;
    case FlagType::kUint:
      if (!parse_uint(value)) return "parse error";
      break;
    case FlagType::kInt:
      if (!parse_int(value)) return "parse error";
      break;
    case FlagType::kString:
    case FlagType::kStrings:
      break;
  }
  if (spec.check) {
    if (auto err = spec.check(value)) return err;
  }
  State& st = state_.find(spec.name)->second;
  if (spec.type == FlagType::kBool) {
    st.value = *parse_go_bool(value) ? "true" : "false";
  } else {
    st.value = std::string(value);
  }
  st.set = true;
  return std::nullopt;
}

Result<FlagSet::Outcome> FlagSet::parse(const std::vector<std::string>& args) {
  positional_.clear();
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.size() < 2 || arg[0] != '-') {
      positional_.assign(args.begin() + static_cast<ptrdiff_t>(i), args.end());
      break;
    }
    size_t dashes = 1;
    if (arg[1] == '-') {
      dashes = 2;
      if (arg.size() == 2) {  // "--" ends the flags
        positional_.assign(args.begin() + static_cast<ptrdiff_t>(i) + 1, args.end());
        break;
      }
    }
    std::string_view body = std::string_view(arg).substr(dashes);
    if (body.empty() || body[0] == '-' || body[0] == '=') {
      return invalid_argument("bad flag syntax: " + arg);
    }
    std::string_view name = body;
    std::optional<std::string_view> value;
    if (auto eq = body.find('='); eq != std::string_view::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
    }
    const FlagSpec* spec = find(name);
    if (spec == nullptr) {
      if (name == "help" || name == "h") return Outcome::kHelp;
      return invalid_argument("flag provided but not defined: -" + std::string(name));
    }
    if (spec->type == FlagType::kBool) {
      std::string_view v = value.value_or("true");
      if (auto err = store(*spec, v)) {
        return invalid_argument("invalid boolean value \"" + std::string(v) + "\" for -" +
                                std::string(name) + ": " + *err);
      }
    } else {
      if (!value) {
        if (i + 1 >= args.size()) {
          return invalid_argument("flag needs an argument: -" + std::string(name));
        }
        value = args[++i];
      }
      if (auto err = store(*spec, *value)) {
        return invalid_argument("invalid value \"" + std::string(*value) + "\" for flag -" +
                                std::string(name) + ": " + *err);
      }
    }
    state_.find(spec->name)->second.from_command_line = true;
  }
  return Outcome::kParsed;
}

Status FlagSet::set(std::string_view name, std::string_view value) {
  const FlagSpec* spec = find(name);
  if (spec == nullptr) return invalid_argument("no such flag -" + std::string(name));
  if (auto err = store(*spec, value)) return invalid_argument(*err);
  return Status::ok();
}

std::string FlagSet::env_name(std::string_view prefix, std::string_view flag) {
  std::string out(prefix);
  out += '_';
  for (char c : flag) {
    out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

Result<FlagSet::EnvReport> FlagSet::set_from_env(std::string_view prefix,
                                                 const std::vector<std::string>& environ) {
  std::map<std::string, std::string, std::less<>> env;
  for (const std::string& kv : environ) {
    auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  EnvReport report;
  std::map<std::string, bool, std::less<>> known;  // env name -> flag given on command line
  for (const FlagSpec& spec : specs_) {
    std::string key = env_name(prefix, spec.name);
    const State& st = state_.find(spec.name)->second;
    known[key] = st.from_command_line;
    auto it = env.find(key);
    if (it == env.end() || it->second.empty()) continue;
    if (st.from_command_line) {
      return failed_precondition("conflicting environment variable \"" + key +
                                 "\" is shadowed by corresponding command-line flag (either unset "
                                 "environment variable or disable flag)");
    }
    if (auto err = store(spec, it->second)) {
      return invalid_argument("invalid value \"" + it->second + "\" for " + key + ": " + *err);
    }
    report.used.emplace_back(key, it->second);
  }
  std::string want = std::string(prefix) + "_";
  for (const auto& [key, value] : env) {
    if (key.rfind(want, 0) != 0 || known.count(key) > 0) continue;
    report.unrecognized.push_back(key + "=" + value);
  }
  return report;
}

bool FlagSet::set_on_command_line(std::string_view name) const {
  auto it = state_.find(name);
  return it != state_.end() && it->second.from_command_line;
}

bool FlagSet::is_set(std::string_view name) const {
  auto it = state_.find(name);
  return it != state_.end() && it->second.set;
}

const std::string& FlagSet::get(std::string_view name) const {
  auto it = state_.find(name);
  ASSERT(it != state_.end(), "get of an undefined flag");
  return it->second.value;
}

bool FlagSet::get_bool(std::string_view name) const { return get(name) == "true"; }

uint64_t FlagSet::get_uint(std::string_view name) const {
  auto v = parse_uint(get(name));
  ASSERT(v.has_value(), "uint flag holds a non-number");
  return *v;
}

int64_t FlagSet::get_int(std::string_view name) const {
  auto v = parse_int(get(name));
  ASSERT(v.has_value(), "int flag holds a non-number");
  return *v;
}

std::vector<std::string> FlagSet::get_strings(std::string_view name) const {
  return split_list(get(name));
}

}  // namespace etcd::config
