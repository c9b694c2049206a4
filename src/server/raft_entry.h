// The data of a normal raft entry, as etcd 3.4/3.5 members write it, so
// that our members and theirs share one log:
//
// - an InternalRaftRequest (every v3 request; ours carry a header with the
//   request id, etcd's too);
// - a raw v2 store Request (etcdserverpb.Request, not wrapped): what etcd's
//   leader proposes for SYNC every 500 ms, a member publishing its
//   attributes (PUT /0/members/<id>/attributes, JSON value), the cluster
//   version (PUT /0/version) and the v2 API's writes;
// - empty (a new leader's entry).
//
// etcd tells the first two apart by trying to decode an InternalRaftRequest
// with Go's strict decoder (a known field with the wrong wire type fails).
// C++ protobuf keeps such a field as unknown and succeeds, so
// classify_entry() scans the top-level fields instead; see there.
//
// Thread-safe: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/ids.h"
#include "base/status.h"
#include "etcdserverpb/etcdserver.pb.h"
#include "membershippb/membership.pb.h"

namespace etcd::server {

enum class EntryKind {
  kEmpty,
  kInternal,   // an InternalRaftRequest (which may wrap a v2 Request)
  kV2,         // a raw v2 Request
  kMalformed,  // not a protobuf message at all
};

// Which form `data` is. A raw v2 Request is recognised when there is no
// header (field 100) and either a known InternalRaftRequest field comes
// with a wire type that field cannot have (etcd's encoder writes dir,
// prev_index, expiration, ... as varints where InternalRaftRequest has
// messages), or field 2 holds a v2 method name ("PUT", "SYNC", ...) rather
// than an encoded Request.
EntryKind classify_entry(std::string_view data);

// A v2 Request as etcd's encoder fills it: every field but prev_exist and
// refresh set, zero when not given, so its bytes are an etcd member's.
etcdserverpb::Request v2_request(uint64_t id, std::string method, std::string path = {},
                                 std::string val = {});
// etcd's SYNC request (v2 TTL expiry), `time_ns` in Unix nanoseconds.
etcdserverpb::Request v2_sync_request(uint64_t id, int64_t time_ns);

// The v2 store keys etcd keeps membership facts under.
inline constexpr std::string_view kStoreClusterVersionKey = "/0/version";
// "/0/members/<id in hex>/attributes".
std::string member_attributes_path(MemberId id);
// The member of a "/0/members/<hex id>/attributes" path; nullopt for any
// other path.
std::optional<MemberId> member_of_attributes_path(std::string_view path);

// A member's attributes as etcd's JSON ({"name":..,"clientURLs":[..]},
// empty ones left out), and back.
std::string attributes_json(const std::string& name, const std::vector<std::string>& client_urls);
Result<membershippb::Attributes> parse_attributes_json(std::string_view json);
// A member's raft attributes as etcd stores them in the v2 store
// ({"peerURLs":[..]}, with "isLearner":true for a learner).
std::string raft_attributes_json(const std::vector<std::string>& peer_urls, bool is_learner);

// The v2 store paths of etcd's membership mirror: "/0/members/<hex id>",
// its "/raftAttributes", and "/0/removed_members/<hex id>".
std::string member_store_path(MemberId id);
std::string member_raft_attributes_path(MemberId id);
std::string removed_member_store_path(MemberId id);

// "3.4.0": three dot-separated numbers (etcd parses cluster versions as
// semver and stops on anything else).
bool is_cluster_version(std::string_view v);

// Whether the cluster version `v` ("3.4.0") is below major.minor; false
// when it is empty or not a version.
bool version_below(std::string_view v, int major, int minor);

}  // namespace etcd::server
