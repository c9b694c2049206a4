// What etcd tells its init daemon through systemd's notification protocol
// (sd_notify(3)): a unit of Type=notify counts as started once READY=1
// arrives on $NOTIFY_SOCKET, and STOPPING=1 says a stop is under way.
// Without $NOTIFY_SOCKET nothing is sent (etcd run by hand or by another
// supervisor), and that is not an error.
#pragma once

#include <string>

#include "base/log.h"
#include "base/status.h"

namespace etcd::server {

// Sends one notification ("READY=1", "STOPPING=1", ...) to $NOTIFY_SOCKET:
// a path, or "@name" for the abstract namespace. Returns true if it was
// sent, false if $NOTIFY_SOCKET is unset or empty; an error names the
// socket as Go's dialer does ("dial unixgram <addr>: connect: <errno>").
Result<bool> sd_notify_state(const std::string& state);

// Used by main: the log lines are etcd 3.5's (etcdmain's notifySystemd).
class SystemdNotifier {
 public:
  explicit SystemdNotifier(log::Logger& logger) : logger_(logger) {}

  // Once the member has joined the cluster (published itself) and serves
  // clients. etcd 3.5 logs both info lines also when there is no socket.
  void ready();
  // When shutdown begins (a stop signal, or this member's removal). etcd
  // itself does not send it; systemd then shows the unit as deactivating
  // while the member hands over leadership and closes. Only a failure is
  // logged.
  void stopping();

 private:
  log::Logger& logger_;
};

}  // namespace etcd::server
