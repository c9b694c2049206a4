// etcdctl's v2 mode (ETCDCTL_API=2): etcdctl 3.4's v2 commands over the v2
// HTTP API (docs/etcdctl.md, "v2 mode").
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "etcdctl/v2/urfave.h"

namespace etcd::ctl::v2 {

// main() with ETCDCTL_API=2: argv[1:] as given.
int run_ctlv2(const std::vector<std::string>& args);

// The command table, in etcdctl 3.4's order (the order `help` lists).
std::vector<CommandDef> command_table();

// The v2 `backup` command (an offline copy of a data dir) lives in its own
// files. Its provider registers the function that runs it, before
// run_ctlv2: it gets the arguments after "backup" as given (it parses its
// own flags and prints its own help) and returns the exit status. The
// table keeps backup's entry (name, usage, flags) for the app's help.
// Without a runner, `backup` fails with an error.
using BackupRunner = std::function<int(const std::vector<std::string>& args)>;
void register_backup_runner(BackupRunner run);

// printResponseKey of etcdctl's v2 commands: the response in `format`
// ("simple", "extended", "json"); an unknown format is complained about on
// stderr. Exposed for tests.
struct KeysResponse;
std::string format_response(const KeysResponse& r, const std::string& format, std::string* err);

}  // namespace etcd::ctl::v2
