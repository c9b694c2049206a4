// The client port's TLS set-up from the configuration, with etcd's checks
// and log lines: the cipher-suite names, --auto-tls (a self-signed
// certificate under <data-dir>/fixtures/client), the warnings for http://
// URLs next to certificate flags, and the refusal of an https:// URL
// without a certificate.
#pragma once

#include <memory>

#include "base/log.h"
#include "base/status.h"
#include "rpc/tls/tls.h"
#include "server/config/config.h"

namespace etcd::rpc {

// nullptr when no listen client URL is https:// or unixs://. Errors are
// etcd's start-up errors; kFailedPrecondition marks the one etcd reports
// as "listener failed" (a cipher-suite list HTTP/2 cannot use).
Result<std::shared_ptr<tls::TlsContext>> make_client_tls(const config::ServerConfig& cfg,
                                                         log::Logger& logger);

}  // namespace etcd::rpc
