// etcdutl's command line, as etcd 3.5's cobra commands parse and print it:
// `defrag`, `snapshot status|restore` (and the hidden, deprecated `save`),
// `hashkv`, `version`, `help`; pflag's `--flag value`, `--flag=value`,
// `-w json`; unique command prefixes ("snap"); cobra's errors, usage and
// exit codes.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace etcd::utl {

// Runs one command line (`args` without the program name), writing what
// etcdutl writes to `out` (stdout) and `err` (stderr, also the log lines);
// returns the exit status.
int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// etcd's exit codes (cobrautl).
inline constexpr int kExitSuccess = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitBadFeature = 4;
inline constexpr int kExitBadArgs = 128;

}  // namespace etcd::utl
