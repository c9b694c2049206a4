// etcdctl's global flags and what every command shares: the ETCDCTL_*
// variables, the client made from the flags, the output format, and the
// error lines (docs/etcdctl.md).
#pragma once

#include <iostream>
#include <memory>
#include <string>

#include "client/client.h"
#include "etcdctl/cli.h"

namespace etcd::ctl {

enum class OutputFormat { kSimple, kJson, kTable, kFields, kProtobuf };

struct Display {
  OutputFormat format = OutputFormat::kSimple;
  bool hex = false;
};

// The root command with its global (persistent) flags and every command.
std::unique_ptr<Command> make_root();
// main(): ETCDCTL_API, then the root command.
int run_etcdctl(int argc, char** argv);

// Applies the ETCDCTL_* variables to the inherited (global) flags, with
// etcd's rule: a variable and its flag both given is fatal. Runs before every
// command.
void apply_env(Invocation& inv);

// The -w/--hex choice; "unsupported output format" (exit 4) otherwise.
Display display_from(const Invocation& inv);
// The client of the global flags (endpoints, timeouts, TLS, user).
std::unique_ptr<client::Client> client_from(const Invocation& inv);
client::Options client_options_from(const Invocation& inv);
// --endpoints, or the endpoints --discovery-srv finds in DNS (https ones
// only unless --insecure-discovery).
std::vector<std::string> endpoints_from(const Invocation& inv);
// now + --command-timeout.
client::Deadline command_deadline(const Invocation& inv);

// "Error: <message>" and exit 1 (etcdctl's ExitWithError(ExitError, err)),
// with the message as etcdctl prints gRPC errors: the server's description.
[[noreturn]] void exit_with_status(const grpc::Status& s, int code = kExitError);
// Exits on a failed call.
inline void check(const grpc::Status& s) {
  if (!s.ok()) exit_with_status(s);
}

// The command groups, each in its own file.
void add_kv_commands(Command& root);           // get put del txn compaction
void add_watch_command(Command& root);         // watch
void add_lease_commands(Command& root);        // lease ...
void add_member_commands(Command& root);       // member ...
void add_endpoint_commands(Command& root);     // endpoint ...
void add_maintenance_commands(Command& root);  // alarm defrag move-leader snapshot
void add_mirror_command(Command& root);        // make-mirror
void add_concurrency_commands(Command& root);  // lock elect
void add_auth_commands(Command& root);         // auth user role
void add_check_commands(Command& root);        // check perf / datascale
void add_misc_commands(Command& root);         // version completion

}  // namespace etcd::ctl
