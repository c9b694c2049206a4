// A flag set with the rules of Go's `flag` package, which etcd's server
// uses: `--flag value`, `--flag=value`, `-flag value`, `-flag=value`;
// booleans as `--flag` or `--flag=false` (never `--flag false`); parsing
// stops at the first argument that is not a flag or at `--`. Values are
// validated by their type when set, so a bad value fails where it is given.
//
// On top of the command line, values come from `ETCD_*` environment
// variables (set_from_env) or from a YAML config file (the caller maps its
// keys onto set()).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace etcd::config {

enum class FlagType {
  kString,
  kBool,
  kUint,     // unsigned 64-bit
  kInt,      // signed 64-bit
  kStrings,  // comma-separated list
};

struct FlagSpec {
  std::string name;  // without dashes: "data-dir"
  FlagType type = FlagType::kString;
  std::string default_value;  // textual default, also shown by --help
  std::string usage;
  std::string group;  // --help section ("Member", "Clustering", ...)
  // Extra check run after the type check; returns an error text (without the
  // "invalid value ... for flag" prefix) or nothing.
  std::function<std::optional<std::string>(std::string_view)> check;
};

class FlagSet {
 public:
  enum class Outcome { kParsed, kHelp };

  void add(FlagSpec spec);
  bool has(std::string_view name) const;
  const std::vector<FlagSpec>& specs() const { return specs_; }

  // Parses a command line (without argv[0]). Errors are usage errors, with
  // Go's texts: "flag provided but not defined: -x", "flag needs an
  // argument: -x", "invalid value \"v\" for flag -x: ...",
  // "invalid boolean value \"v\" for -x: parse error", "bad flag syntax: ---x".
  // `-h`/`-help`/`--help` (when no such flag is defined) yield kHelp.
  Result<Outcome> parse(const std::vector<std::string>& args);
  // Arguments left after parsing stopped (a positional argument or `--`).
  const std::vector<std::string>& positional() const { return positional_; }

  // Sets a flag's value as if given on the command line, but without
  // marking it set by the command line.
  Status set(std::string_view name, std::string_view value);

  // Applies `<prefix>_<NAME>` variables (dashes become underscores, upper
  // case) to every flag not given on the command line. Empty variables are
  // ignored. A variable for a flag that the command line also gave is the
  // error etcd reports; prefixed variables that match no flag are returned
  // in `unrecognized` ("ETCD_FOO=bar"), those used in `used` (name, value).
  struct EnvReport {
    std::vector<std::pair<std::string, std::string>> used;
    std::vector<std::string> unrecognized;
  };
  Result<EnvReport> set_from_env(std::string_view prefix, const std::vector<std::string>& environ);

  // True when the command line gave the flag.
  bool set_on_command_line(std::string_view name) const;
  // True when the command line, the environment or set() gave it.
  bool is_set(std::string_view name) const;

  const std::string& get(std::string_view name) const;
  bool get_bool(std::string_view name) const;
  uint64_t get_uint(std::string_view name) const;
  int64_t get_int(std::string_view name) const;
  std::vector<std::string> get_strings(std::string_view name) const;

  static std::string env_name(std::string_view prefix, std::string_view flag);

 private:
  struct State {
    std::string value;
    bool from_command_line = false;
    bool set = false;
  };
  const FlagSpec* find(std::string_view name) const;
  // Validates and stores; returns Go's error suffix on failure.
  std::optional<std::string> store(const FlagSpec& spec, std::string_view value);

  std::vector<FlagSpec> specs_;
  std::map<std::string, State, std::less<>> state_;
  std::vector<std::string> positional_;
};

// Type parsers shared with the config-file loader.
std::optional<bool> parse_go_bool(std::string_view s);
std::optional<uint64_t> parse_uint(std::string_view s);
std::optional<int64_t> parse_int(std::string_view s);
std::vector<std::string> split_list(std::string_view s);

}  // namespace etcd::config
