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
// `backup` is the first entry; it comes from register_backup_command.
std::vector<CommandDef> command_table();

// The v2 `backup` command (an offline copy of a data dir) lives elsewhere:
// its provider registers a function returning its CommandDef (name
// "backup", usage "backup an etcd directory", args " ", its flags and
// action). Without one, `backup` is still listed and fails with an error.
void register_backup_command(std::function<CommandDef()> make);

// printResponseKey of etcdctl's v2 commands: the response in `format`
// ("simple", "extended", "json"); an unknown format is complained about on
// stderr. Exposed for tests.
struct KeysResponse;
std::string format_response(const KeysResponse& r, const std::string& format, std::string* err);

}  // namespace etcd::ctl::v2
