// The Maintenance service's front: status, alarms (through Raft), defrag,
// hashes, the backend snapshot stream and leadership transfer.
// Thread-safe: gRPC threads and the corruption checker call it.
#pragma once

#include <functional>

#include "server/alarm_store.h"
#include "server/server_core.h"
#include "storage/backend/backend.h"

namespace etcd::server {

class MaintenanceFront {
 public:
  MaintenanceFront(ServerCore& core, backend::Backend& backend, AlarmStore& alarms)
      : core_(core), backend_(backend), alarms_(alarms) {}

  Result<etcdserverpb::StatusResponse> status();
  // Any caller (etcd checks no permission for alarms, status and
  // MoveLeader); the caller goes into the entry.
  Result<etcdserverpb::AlarmResponse> alarm(const Caller& who, const etcdserverpb::AlarmRequest& r);
  // Root only: defragment, the hashes and the snapshot (etcd's
  // authMaintenanceServer).
  Result<etcdserverpb::DefragmentResponse> defragment(const Caller& who);
  Result<etcdserverpb::HashResponse> hash(const Caller& who);
  Result<etcdserverpb::HashKVResponse> hash_kv(const Caller& who,
                                               const etcdserverpb::HashKVRequest& r);
  // Streams the backend snapshot: chunks of the db image with
  // remaining_bytes (the header in the first only), then the image's
  // SHA-256 as the last message, as etcd's Maintenance.Snapshot.
  Status snapshot(const Caller& who,
                  const std::function<Status(const etcdserverpb::SnapshotResponse&)>& send);
  Result<etcdserverpb::MoveLeaderResponse> move_leader(const etcdserverpb::MoveLeaderRequest& r);

 private:
  ServerCore& core_;
  backend::Backend& backend_;
  AlarmStore& alarms_;
};

}  // namespace etcd::server
