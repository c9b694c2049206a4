// The WAL's metadata record: which member writes the WAL, of which
// cluster; a restart reads it back to know who it is. docs/storage.md,
// "WAL metadata".
//
// etcd 3.4/3.5 write an etcdserverpb.Metadata protobuf {NodeID = 1,
// ClusterID = 2}, both fields always present; so do we, byte for byte,
// so that etcd's tools (`etcdctl backup`, etcd-dump-logs) and etcd itself
// read our WALs. Earlier builds of this project wrote a JSON object
// {"cluster_id":..,"member_id":..}; such data dirs are still read (their
// new segments keep the old form: every segment of one WAL must carry the
// same metadata).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/ids.h"
#include "base/status.h"

namespace etcd::server {

struct WalMetadata {
  MemberId member_id;  // never 0 (raft's "no node")
  uint64_t cluster_id = 0;
  bool legacy_json = false;  // the JSON form of earlier builds of this project
};

// The metadata record etcd writes for member `id` of cluster `cluster_id`.
std::string wal_metadata(MemberId id, uint64_t cluster_id);

// The protobuf form, or the old JSON form; anything else (garbage, an
// empty record, a member id of 0, a field missing) is kDataLoss.
Result<WalMetadata> parse_wal_metadata(std::string_view data);

}  // namespace etcd::server
