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

// capnslog's line prefix in local time: "2026-12-07 07:31:00.396938".
std::string capnslog_time();

// Applies the ETCDCTL_* variables to the inherited (global) flags, with
// etcd's rule: a variable and its flag both given is fatal. Runs before every
// command.
void apply_env(Invocation& inv);

// The -w/--hex choice; "unsupported output format" (exit 4) otherwise.
Display display_from(const Invocation& inv);
// The one way every command makes its client, as etcdctl's
// mustClientFromCmd: client_config_from, then must_client of it.
std::unique_ptr<client::Client> must_client(const Invocation& inv);
// etcdctl's clientConfigFromCmd: with --debug every global flag as its
// ETCDCTL_ variable on stderr; the endpoints, timeouts and TLS files (a file
// flag given as "" exits 3); --user (asking for its password); then the -w
// check (exit 4). Commands that make several clients of one configuration
// (etcdctl's clientConfig.mustClient) call this once.
client::Options client_config_from(const Invocation& inv);
// The endpoints, timeouts and TLS of the flags without the user, the
// --debug lines or the -w check (etcdctl's endpointsFromCluster).
client::Options connection_options_from(const Invocation& inv);
// etcdctl's clientConfig.mustClient: a certificate without its key (or the
// reverse) exits 3; a failed clientv3.New prints "Error: <why>" and exits
// `fail_code`.
std::unique_ptr<client::Client> must_client(client::Options o, int fail_code = kExitBadConnection);
// clientv3.New: the client of `o` into `out`, logging each failed call
// attempt on stderr as etcd's Go client does ("retrying of unary invoker
// failed"). It does not wait for a connection; with a user it gets the
// token within the dial timeout, and returns that failure.
grpc::Status new_client(client::Options o, std::unique_ptr<client::Client>& out);
// --endpoints, or the endpoints --discovery-srv finds in DNS (https ones
// only unless --insecure-discovery).
std::vector<std::string> endpoints_from(const Invocation& inv);
// now + --command-timeout.
client::Deadline command_deadline(const Invocation& inv);

// "Error: <message>" and exit 1 (etcdctl's ExitWithError(ExitError, err)),
// with the message as etcdctl prints gRPC errors: the server's description.
// Other gRPC errors print as Go's client shows them ("rpc error: code = ...").
[[noreturn]] void exit_with_status(const grpc::Status& s, int code = kExitError);
std::string go_error_string(const grpc::Status& s);
// grpc-go's status error text as is, "rpc error: code = Unavailable desc =
// ..." (what etcd's client logs; etcdctl's Error lines use go_error_string).
std::string grpc_error_text(const grpc::Status& s);

// Asks for a password as etcdctl does (speakeasy): prompt on stdout, one
// line from stdin with echo off, then a newline on stdout.
std::string ask_password(const std::string& prompt);
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
// The hidden `__complete` / `__completeNoDesc` the completion scripts call
// (cobra's protocol); args[0] is which.
int run_shell_complete(Command& root, const std::vector<std::string>& args);

}  // namespace etcd::ctl
