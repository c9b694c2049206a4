// etcdutl's log lines in zap's console encoding, as etcd 3.5's etcdutl
// writes them (its logger is zap with Encoding "console" and RFC 3339
// times): tab-separated time, level, caller and message, then the fields
// as spaced JSON:
//   2026-12-07T07:54:27Z\tinfo\tetcdutl/snapshot.cc:248\trestoring snapshot\t{"path": "snap.db"}
// The server's Logger formats zap JSON lines; this sink re-encodes them.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "base/log.h"

namespace etcd::utl {

// One zap JSON line (what log::format_line makes) in console encoding,
// without the newline; a line that is not JSON comes back unchanged.
std::string to_console_line(std::string_view json_line);

// An info-level Logger writing console lines to `out`.
std::unique_ptr<log::Logger> make_console_logger(std::ostream& out);

}  // namespace etcd::utl
