// DNS SRV discovery of client endpoints, as etcdctl's --discovery-srv does:
// `_<service>-ssl._tcp.<domain>` gives https:// endpoints and
// `_<service>._tcp.<domain>` http:// ones; --discovery-srv-name appends
// "-<name>" to the service (docs/client.md).
#pragma once

#include <netinet/in.h>

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace etcd::client {

// "_etcd-client-ssl" style names, as etcd builds them.
std::string srv_service(const std::string& service, const std::string& service_name, bool tls);

// The endpoints (https:// first, then http://, each in the order the DNS
// answer lists them). Fails, with both lookups' errors, only when neither
// name resolves. `nameserver` overrides /etc/resolv.conf (tests).
Result<std::vector<std::string>> discover_srv(const std::string& service, const std::string& domain,
                                              const std::string& service_name,
                                              std::optional<sockaddr_in> nameserver = std::nullopt);

}  // namespace etcd::client
