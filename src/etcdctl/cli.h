// The command line of etcdctl as etcd's (cobra and pflag) has it: a tree of
// commands with prefix matching, persistent (global) and local flags in
// pflag's syntax, the usage text of etcdctl's help template, and cobra's
// error forms (docs/etcdctl.md).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace etcd::ctl {

// Exit codes, as etcdctl's.
enum ExitCode : int {
  kExitSuccess = 0,
  kExitError = 1,
  kExitBadConnection = 2,
  kExitInvalidInput = 3,
  kExitBadFeature = 4,
  kExitInterrupted = 5,
  kExitIO = 6,
  kExitBadArgs = 128,
};

// Thrown by commands to end the process: "Error: <message>" on stderr, then
// exit with `code` (etcdctl's ExitWithError). Caught in run().
struct ExitError {
  int code;
  std::string message;
};
[[noreturn]] void exit_with_error(int code, const std::string& message);

enum class FlagKind { kBool, kString, kInt, kUint, kDuration, kStringSlice, kStringArray };

struct Flag {
  std::string name;
  std::string shorthand;  // "" or one character
  FlagKind kind = FlagKind::kString;
  std::string usage;
  std::string default_value;      // as pflag prints it: "false", "0", "5s", "[a,b]"
  std::string value;              // current value, in the same textual form
  std::vector<std::string> list;  // string slices
  bool changed = false;
  bool hidden = false;
};

class FlagSet {
 public:
  Flag& add(FlagKind kind, const std::string& name, const std::string& shorthand,
            const std::string& default_value, const std::string& usage);
  Flag* find(const std::string& name);
  Flag* find_short(char c);
  const Flag* find(const std::string& name) const;
  const std::map<std::string, Flag>& all() const { return flags_; }
  bool empty() const { return flags_.empty(); }
  // Sets from text, as pflag's Set does; "" on success, else the error.
  static std::string set(Flag& f, const std::string& text);

 private:
  std::map<std::string, Flag> flags_;  // sorted, as pflag lists them
};

class Command;

// What a command's run function sees.
struct Invocation {
  Command* cmd = nullptr;
  std::vector<std::string> args;        // positional
  std::vector<std::string> after_dash;  // arguments after "--" (also in args)
  size_t dash_at = SIZE_MAX;            // index in args where "--" was, or SIZE_MAX
  std::vector<std::string> raw_args;    // the command line as given (os.Args[1:])

  // Flag values (local or inherited).
  const Flag& flag(const std::string& name) const;
  bool get_bool(const std::string& name) const;
  std::string get_string(const std::string& name) const;
  int64_t get_int(const std::string& name) const;
  uint64_t get_uint(const std::string& name) const;
  int64_t get_duration_ns(const std::string& name) const;
  std::vector<std::string> get_slice(const std::string& name) const;
  bool changed(const std::string& name) const;
};

class Command {
 public:
  using Run = std::function<void(Invocation&)>;

  Command(std::string use, std::string short_desc, std::string long_desc = "", Run run = nullptr);

  Command& add(std::unique_ptr<Command> child);
  Command& add(std::string use, std::string short_desc, std::string long_desc, Run run);

  std::string name() const;  // first word of use
  const std::string& use() const { return use_; }
  const std::string& short_desc() const { return short_; }
  Command* parent() const { return parent_; }
  const std::vector<std::unique_ptr<Command>>& children() const { return children_; }
  bool runnable() const { return static_cast<bool>(run_); }

  FlagSet& flags() { return local_; }
  FlagSet& persistent_flags() { return persistent_; }
  // Where the flags are looked up: local, then persistent here and up.
  Flag* lookup(const std::string& name);
  Flag* lookup_short(char c);

  // "etcdctl put [options] <key> ..." + " [flags]" when the command has flags.
  std::string use_line() const;
  std::string path() const;   // "etcdctl member add"
  std::string usage() const;  // etcdctl's help text

  // Parses argv (without argv[0]) and runs; returns the exit code.
  int execute(const std::vector<std::string>& argv);

  // Hooks for the root: runs before a command's run (after parsing).
  std::function<void(Invocation&)> before_run;
  // Arguments after "--" are left positional (watch, lock, elect).
  bool allow_dash_args = true;
  // cobra's DisableFlagsInUseLine: no " [flags]" after the use line.
  bool disable_flags_in_use_line = false;
  // The order cobra keeps its children in before it first sorts them (the
  // order of AddCommand), which is the order of "Did you mean this?"
  // suggestions; children not named here come after, by name.
  std::vector<std::string> suggestion_order;

  // Parses flags and arguments (no command words) into `inv`, as pflag
  // does; "" or pflag's error. A help flag shows as the argument "\x01help".
  // For lines parsed like a command line (txn requests, watch -i).
  std::string parse(std::vector<std::string> argv, Invocation& inv);

 private:
  Command* find_child(const std::string& word);
  // cobra's stripFlags: the words of argv that are not flags or (as cobra
  // guesses them) flag values, up to "--".
  std::vector<std::string> strip_flags(const std::vector<std::string>& argv);
  // cobra's findSuggestions for an unknown command word ("" when none).
  std::string suggestions_for(const std::string& word) const;

  std::string use_, short_, long_;
  Run run_;
  Command* parent_ = nullptr;
  std::vector<std::unique_ptr<Command>> children_;
  FlagSet local_;
  FlagSet persistent_;
};

// Go's text/tabwriter as etcdctl configures it (minwidth 0, tabwidth 8,
// padding 1, padchar '\t'): aligns tab-separated cells of consecutive lines.
std::string tabwrite(const std::string& text);

// Go's time.Duration String() ("5s", "1m0s", "1.5s", "300ms").
std::string go_duration(int64_t ns);
// Parses Go's duration syntax ("5s", "1m30s", "100ms"); nullopt if bad.
std::optional<int64_t> parse_go_duration(const std::string& s);

}  // namespace etcd::ctl
