// What /health, /livez and /readyz report (etcd 3.5's /health, etcd
// 3.6's /livez and /readyz), apart from HTTP: src/rpc/health_http turns
// these results into answers.
//
// Threads: any thread; the checks that read block for up to the request
// timeout (a linearizable read waits for a ReadIndex round), so callers
// run them off I/O threads.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "server/etcd_server.h"

namespace etcd::server {

// etcd's /health body: {"health":"true","reason":""}.
struct Health {
  bool healthy = true;
  std::string reason;  // "ALARM NOSPACE", "RAFT NO LEADER", "RANGE ERROR:..."
};

// One named check of /livez or /readyz: ok, or the error it failed with.
struct CheckResult {
  std::string name;
  bool ok = true;
  std::string error;
};

class HealthChecker {
 public:
  explicit HealthChecker(EtcdServer& server) : server_(server) {}

  // etcd 3.5's /health: an alarm not in `excluded` ("NOSPACE", "CORRUPT")
  // makes it false; then no leader (unless serializable); then a one-key
  // range (serializable or linearizable) that fails.
  Health health(const std::set<std::string>& excluded, bool serializable);

  // The checks of /livez and /readyz, in the order they are reported.
  static const std::vector<std::string>& livez_checks();
  static const std::vector<std::string>& readyz_checks();
  // Runs one check by name (a name from the lists above).
  CheckResult run(const std::string& name);

 private:
  Status read(bool serializable);
  EtcdServer& server_;
};

}  // namespace etcd::server
