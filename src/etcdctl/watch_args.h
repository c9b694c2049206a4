// How etcdctl's watch reads its arguments: the key and range end, the
// command to run after "--", the ETCDCTL_WATCH_KEY / ETCDCTL_WATCH_RANGE_END
// variables, and the same from `watch ...` lines in interactive mode
// (watch_command.cc; docs/etcdctl.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "etcdctl/cli.h"
#include "etcdserverpb/rpc.pb.h"

namespace etcd::ctl {

struct WatchOptions {
  bool prefix = false;
  int64_t rev = 0;
  bool prev_kv = false;
  bool progress_notify = false;
};

struct WatchArgs {
  std::vector<std::string> watch_args;  // key [range_end], the variables' first
  std::vector<std::string> exec_args;   // the command after "--", if any
  WatchOptions options;                 // interactive lines: the line's flags
  std::string error;                    // etcdctl's error (exit 128), or ""
  std::string panic;                    // a Go runtime panic etcdctl would hit, or ""
};

// watch's own flags.
void add_watch_flags(Command& cmd);
WatchOptions watch_options_from(const Invocation& inv);

// The command line: `raw_args` as given (after the program name),
// `command_args` the positional arguments the parser left (those after "--"
// included).
WatchArgs parse_watch_args(const std::vector<std::string>& raw_args,
                           const std::vector<std::string>& command_args, const std::string& env_key,
                           const std::string& env_range);

// One interactive line, split into words ("watch" first).
WatchArgs parse_interactive_watch_args(const std::vector<std::string>& line_args,
                                       const std::string& env_key, const std::string& env_range);

// The create request for key [range_end] with the options; "" or the error.
std::string watch_request(const std::vector<std::string>& args, const WatchOptions& o,
                          etcdserverpb::WatchCreateRequest* req);

// Go's %q of a []string: ["a" "b"].
std::string go_quote_list(const std::vector<std::string>& v);

}  // namespace etcd::ctl
