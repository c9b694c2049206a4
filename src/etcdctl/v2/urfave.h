// The command line of etcdctl's v2 mode (ETCDCTL_API=2), as etcdctl 3.4
// builds it with urfave/cli 1.22 over Go's flag package: an App with global
// flags, commands with their own flags (and command groups that run as
// sub-apps), Go's flag syntax (-flag, --flag, -flag=value, a bool takes no
// separate value, parsing stops at the first non-flag), urfave's argument
// reordering (a command's flags may follow its arguments), its help
// templates laid out by a tab writer, and its error forms ("Incorrect
// Usage", "No help topic for ...", exit 3). docs/etcdctl.md, "v2 mode".
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace etcd::ctl::v2 {

enum class FlagType { kBool, kString, kInt, kDuration, kStringSlice };

// One flag as urfave declares it: `name` lists its forms, "output, o".
struct FlagDef {
  FlagType type = FlagType::kBool;
  std::string name;
  std::string usage;
  std::string value;  // the default, as text ("", "0", "2s", "simple")
};

// The parsed values of one flag set (one level: the app, a group, a command).
class FlagValues {
 public:
  explicit FlagValues(const std::vector<FlagDef>* defs = nullptr);
  // Go's flag.FlagSet.Parse: "" or Go's error text. `rest` gets the
  // arguments left after the flags.
  std::string parse(const std::vector<std::string>& args, std::vector<std::string>& rest);
  // urfave's normalizeFlags: each form of a flag gets the value of the form
  // given; two forms given is an error ("Cannot use two forms ...").
  std::string normalize();

  bool has(const std::string& name) const { return values_.count(name) > 0; }
  bool get_bool(const std::string& name) const;
  std::string get_string(const std::string& name) const;
  long long get_int(const std::string& name) const;
  long long get_duration_ns(const std::string& name) const;
  std::vector<std::string> get_slice(const std::string& name) const;

 private:
  const FlagDef* def_of(const std::string& name) const;
  std::string set(const std::string& name, const std::string& text);

  const std::vector<FlagDef>* defs_;
  std::map<std::string, std::string> values_;               // every form, by its name
  std::map<std::string, std::vector<std::string>> slices_;  // string slices
  std::vector<std::string> visited_;                        // forms given, in order
};

struct Context;
using Action = std::function<int(Context&)>;

struct CommandDef {
  std::string name;
  std::vector<std::string> aliases;
  std::string usage;
  std::string args_usage;
  std::string description;
  std::vector<FlagDef> flags;
  std::vector<CommandDef> subcommands;
  Action action;  // commands without subcommands
  // When set, the command parses its own arguments: it gets those after
  // its name as given (urfave's SkipFlagParsing), and action is not used.
  std::function<int(const std::vector<std::string>&)> raw_action;
  std::string help_name;  // set when the app is assembled ("etcdctl get")
};

struct AppDef {
  std::string name = "etcdctl";
  std::string help_name = "etcdctl";
  std::string usage;
  std::string version;
  std::vector<FlagDef> flags;  // without help and version, added by run()
  std::vector<CommandDef> commands;
};

// What an action sees.
struct Context {
  const FlagValues* global = nullptr;  // the app's flags
  const FlagValues* local = nullptr;   // the command's flags
  std::vector<std::string> args;       // positional arguments
  // Global flags as urfave's GlobalString/GlobalBool... read them.
  bool global_bool(const std::string& n) const { return global->get_bool(n); }
  std::string global_string(const std::string& n) const { return global->get_string(n); }
  long long global_duration_ns(const std::string& n) const { return global->get_duration_ns(n); }
  bool flag_bool(const std::string& n) const { return local->get_bool(n); }
  std::string flag_string(const std::string& n) const { return local->get_string(n); }
  long long flag_int(const std::string& n) const { return local->get_int(n); }
  std::vector<std::string> flag_slice(const std::string& n) const { return local->get_slice(n); }
};

// Runs the app on argv[1:]; writes to stdout/stderr and returns the exit
// code (an action may also exit the process itself).
int run_app(AppDef app, const std::vector<std::string>& args);

// --- pure pieces, exposed for tests ---

// urfave's one-line description of a flag in help: "--ttl value\tkey ...".
std::string flag_help_line(const FlagDef& f);
// Go's text/tabwriter (minwidth 1, tabwidth 8, padding 2, spaces) over
// `text`.
std::string tabwrite(const std::string& text);
// The three help templates.
std::string app_help(const AppDef& app, const std::vector<FlagDef>& visible_flags,
                     const std::vector<CommandDef>& commands);
std::string command_help(const CommandDef& c);
std::string subcommand_help(const std::string& help_name, const std::string& usage,
                            const std::vector<CommandDef>& commands,
                            const std::vector<FlagDef>& visible_flags);
// urfave's reorderArgs: a command's flags (and the value after each) first.
std::vector<std::string> reorder_args(const std::vector<FlagDef>& flags,
                                      const std::vector<std::string>& args);

}  // namespace etcd::ctl::v2
