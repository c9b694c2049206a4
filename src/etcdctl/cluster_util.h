// What the member, endpoint and maintenance commands share: etcdctl's
// connected client (mustClientFromCmd), the endpoints of --cluster
// (endpointsFromCluster), member ID parsing, the "<format> not supported as
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
// A client error as etcdctl prints it (the server's message, or Go's
// context errors).
std::string status_text(const grpc::Status& s);
// grpc-go's status error text: "rpc error: code = Unavailable desc = ...".
std::string grpc_error_text(const grpc::Status& s);

// etcd 3.5's clientv3.New does not wait for a connection (etcdctl sets no
// WithBlock): only with --user does it talk to the cluster, to get a token
// within --dial-timeout. A dead endpoint shows in the first call instead.
grpc::Status authenticate_within_dial_timeout(client::Client& c);

// The client of the global flags (authenticated with --user); "Error:
// <why>" and exit `fail_code` when that fails (etcdctl's mustClient exits
// with ExitBadConnection).
std::unique_ptr<client::Client> must_client(const Invocation& inv,
                                            const std::vector<std::string>& endpoints,
                                            int fail_code = kExitBadConnection);
std::unique_ptr<client::Client> must_client(const Invocation& inv);

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
