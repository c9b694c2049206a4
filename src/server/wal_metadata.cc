#include "server/wal_metadata.h"

#include <nlohmann/json.hpp>

#include "etcdserverpb/etcdserver.pb.h"

namespace etcd::server {

std::string wal_metadata(MemberId id, uint64_t cluster_id) {
  etcdserverpb::Metadata m;
  m.set_node_id(id.value());  // set even when 0: etcd writes both fields always
  m.set_cluster_id(cluster_id);
  return m.SerializeAsString();
}

namespace {

Status unreadable() { return data_loss("WAL metadata is not readable"); }

// {"cluster_id":..,"member_id":..}, as earlier builds dumped it.
Result<WalMetadata> parse_legacy_json(std::string_view data) {
  auto j = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.size() != 2) return unreadable();
  auto member = j.find("member_id");
  auto cluster = j.find("cluster_id");
  if (member == j.end() || cluster == j.end() || !member->is_number_unsigned() ||
      !cluster->is_number_unsigned()) {
    return unreadable();
  }
  WalMetadata m;
  m.member_id = MemberId(member->get<uint64_t>());
  m.cluster_id = cluster->get<uint64_t>();
  m.legacy_json = true;
  if (m.member_id.value() == 0) return unreadable();
  return m;
}

}  // namespace

Result<WalMetadata> parse_wal_metadata(std::string_view data) {
  // A protobuf of these two fields starts with a tag byte 0x08 or 0x10;
  // '{' (0x7b) would be a group of field 15, which etcd never writes.
  if (!data.empty() && data.front() == '{') return parse_legacy_json(data);
  etcdserverpb::Metadata pb;
  if (!pb.ParseFromArray(data.data(), static_cast<int>(data.size())) || !pb.has_node_id() ||
      !pb.has_cluster_id() || pb.node_id() == 0) {
    return unreadable();
  }
  WalMetadata m;
  m.member_id = MemberId(pb.node_id());
  m.cluster_id = pb.cluster_id();
  return m;
}

}  // namespace etcd::server
