#include "server/systemd_notify.h"

#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <cstring>

namespace etcd::server {

namespace {

// Go's text for a system call's errno: strerror without the capital.
std::string errno_text(int err) {
  std::string text = std::strerror(err);
  if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') text[0] = static_cast<char>(text[0] + 32);
  return text;
}

}  // namespace

Result<bool> sd_notify_state(const std::string& state) {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  if (socket == nullptr || *socket == '\0') return false;
  // libsystemd reads $NOTIFY_SOCKET itself (paths and the '@' abstract
  // form); 0 keeps the variable for later notifications (STOPPING=1).
  int r = sd_notify(0, state.c_str());
  if (r < 0) {
    return Status(Code::kUnavailable,
                  "dial unixgram " + std::string(socket) + ": connect: " + errno_text(-r));
  }
  return r > 0;
}

void SystemdNotifier::ready() {
  logger_.info("notifying init daemon");
  auto sent = sd_notify_state("READY=1");
  if (!sent.is_ok()) {
    logger_.error("failed to notify systemd for readiness", {{"error", sent.status().message()}});
    return;
  }
  logger_.info("successfully notified init daemon");
}

void SystemdNotifier::stopping() {
  auto sent = sd_notify_state("STOPPING=1");
  if (!sent.is_ok()) {
    logger_.warn("failed to notify systemd of stopping", {{"error", sent.status().message()}});
  }
}

}  // namespace etcd::server
