// What the member, endpoint and maintenance commands share: the endpoints
// of --cluster (endpointsFromCluster), member ID parsing, the "<format> not supported as
// output format" answer, and Go's formatting of the values they print.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "client/client.h"
#include "etcdctl/global.h"

namespace etcd::ctl {

// Go's strconv.ParseUint(s, 16, 64): `error` is empty on success, else
// NumError's text (`strconv.ParseUint: parsing "zz": invalid syntax`).
struct ParsedUint {
  uint64_t value = 0;
  std::string error;
};
ParsedUint parse_hex_uint64(const std::string& s);

// Go's %v of a []string: "[a b c]".
std::string go_string_slice(const std::vector<std::string>& v);
// Go's %x of a uint64 (lowercase, no padding).
std::string hex_u64(uint64_t v);
// --endpoints, or with --cluster the client URLs of every member (MemberList
// through the given endpoints).
std::vector<std::string> endpoints_from_cluster(const Invocation& inv);

// "simple", "json", ... as -w spells it.
std::string format_name(OutputFormat f);
// etcdctl's printerUnsupported: "Error: <format> not supported as output
// format", exit 4.
[[noreturn]] void unsupported_format(const Display& d);

// The checks of etcd's types.NewURLs that the client makes before MemberAdd
// and MemberUpdate; "" when every URL is acceptable.
std::string check_peer_urls(const std::vector<std::string>& urls);

// Splits on ',' as Go's strings.Split does ("" gives one empty string).
std::vector<std::string> split_commas(const std::string& s);

// zap's JSON lines on stderr as etcd 3.5's default logger writes them
// (logutil.DefaultZapLoggerConfig): level, ts, logger, caller, msg, then
// string fields.
void zap_log(const std::string& level, const std::string& logger, const std::string& caller,
             const std::string& msg,
             const std::vector<std::pair<std::string, std::string>>& fields = {});

}  // namespace etcd::ctl
