// How etcd names members and clusters without talking: every member of a
// new cluster derives the same ids from the same --initial-cluster and
// --initial-cluster-token.
//   member id  = first 8 bytes (big-endian) of SHA-1(sorted peer URLs ++ token [++ unix time])
//   cluster id = first 8 bytes (big-endian) of SHA-1(member ids ascending, 8 bytes BE each)
// A member added at run time mixes the current time in, so re-adding the
// same URLs yields a new id.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/ids.h"
#include "base/status.h"

namespace etcd::server {

MemberId compute_member_id(std::vector<std::string> peer_urls, std::string_view token,
                           std::optional<int64_t> unix_time = std::nullopt);
uint64_t compute_cluster_id(std::vector<MemberId> ids);

// "--initial-cluster" parsed: name -> peer URLs (a name may appear several
// times, one URL each), in name order.
Result<std::map<std::string, std::vector<std::string>>> parse_initial_cluster(
    std::string_view text);

}  // namespace etcd::server
