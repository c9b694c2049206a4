#include "server/maintenance_front.h"

#include "base/duration.h"
#include "base/version.h"
#include "server/errors.h"
#include "storage/backend/snapshot.h"

namespace etcd::server {

Result<etcdserverpb::StatusResponse> MaintenanceFront::status() {
  etcdserverpb::StatusResponse resp;
  core_.fill_header(resp.mutable_header(), 0);
  resp.set_version(kEtcdVersion);
  resp.set_dbsize(backend_.size());
  resp.set_dbsizeinuse(backend_.size_in_use());
  resp.set_leader(core_.raft.lead().value());
  resp.set_raftindex(core_.raft.commit_index());
  resp.set_raftterm(core_.raft.term());
  resp.set_raftappliedindex(core_.apply.applied());
  auto self = core_.membership.member(core_.id());
  resp.set_islearner(self && self->is_learner);
  for (const auto& a : alarms_.get(etcdserverpb::NONE)) resp.add_errors(alarm_text(a));
  // etcd 3.4+: a member without a leader says so.
  if (core_.raft.lead() == MemberId(0)) resp.add_errors(errors::no_leader().message());
  return resp;
}

Result<etcdserverpb::AlarmResponse> MaintenanceFront::alarm(const Caller& who,
                                                            const etcdserverpb::AlarmRequest& r) {
  serverpb::InternalRaftRequest req;
  *req.mutable_alarm() = r;
  auto resp = core_.propose<etcdserverpb::AlarmResponse>(who, std::move(req));
  if (resp.is_ok()) core_.fill_header(resp->mutable_header(), 0);
  return resp;
}

Result<etcdserverpb::DefragmentResponse> MaintenanceFront::defragment(const Caller& who) {
  RETURN_IF_ERROR(unconverted_auth_error(core_.check_admin(who)));
  log::Logger& logger = core_.logger;
  logger.info("starting defragment");
  const auto start = core_.clock.now();
  const int64_t size_before = backend_.size();
  const int64_t in_use_before = backend_.size_in_use();
  logger.info("defragmenting", {{"path", backend_.path()},
                                {"current-db-size-bytes", size_before},
                                {"current-db-size", human_bytes(size_before)},
                                {"current-db-size-in-use-bytes", in_use_before},
                                {"current-db-size-in-use", human_bytes(in_use_before)}});
  auto d = backend_.defrag();
  if (!d.is_ok()) {
    logger.warn("failed to defragment", {{"error", d.status().message()}});
    return d.status();
  }
  const int64_t size_after = backend_.size();
  const int64_t in_use_after = backend_.size_in_use();
  logger.info("finished defragmenting directory",
              {{"path", backend_.path()},
               {"current-db-size-bytes-diff", size_after - size_before},
               {"current-db-size-bytes", size_after},
               {"current-db-size", human_bytes(size_after)},
               {"current-db-size-in-use-bytes-diff", in_use_after - in_use_before},
               {"current-db-size-in-use-bytes", in_use_after},
               {"current-db-size-in-use", human_bytes(in_use_after)},
               {"took", format_go_duration(core_.clock.now() - start)}});
  logger.info("finished defragment");
  return etcdserverpb::DefragmentResponse();  // etcd's has no header
}

Result<etcdserverpb::HashResponse> MaintenanceFront::hash(const Caller& who) {
  RETURN_IF_ERROR(unconverted_auth_error(core_.check_admin(who)));
  etcdserverpb::HashResponse resp;
  resp.set_hash(backend_.hash());
  core_.fill_header(resp.mutable_header(), core_.kv.rev().value());
  return resp;
}

Result<etcdserverpb::HashKVResponse> MaintenanceFront::hash_kv(
    const Caller& who, const etcdserverpb::HashKVRequest& r) {
  RETURN_IF_ERROR(unconverted_auth_error(core_.check_admin(who)));
  auto h = core_.kv.hash_by_rev(MainRev(r.revision()));
  if (!h.is_ok()) {
    if (mvcc::is_compacted(h.status())) return errors::compacted();
    if (mvcc::is_future_rev(h.status())) return errors::future_rev();
    return h.status();
  }
  etcdserverpb::HashKVResponse resp;
  resp.set_hash(h->hash);
  resp.set_compact_revision(h->compact_rev.value());
  resp.set_hash_revision(h->hash_rev.value());
  core_.fill_header(resp.mutable_header(), h->current_rev.value());
  return resp;
}

Status MaintenanceFront::snapshot(
    const Caller& who, const std::function<Status(const etcdserverpb::SnapshotResponse&)>& send) {
  RETURN_IF_ERROR(unconverted_auth_error(core_.check_admin(who)));
  auto reader = backend_.snapshot();
  if (!reader.is_ok()) return reader.status();
  auto& rd = **reader;
  const auto start = core_.clock.now();
  const auto total = static_cast<int64_t>(rd.size());
  log::Logger& logger = core_.logger;
  logger.info("sending database snapshot to client",
              {{"total-bytes", total}, {"size", human_bytes(total)}});
  std::string buf(backend::kSnapshotChunkSize, '\0');
  bool first = true;
  while (rd.remaining() > 0) {
    auto n = rd.read(buf.data(), buf.size());
    if (!n.is_ok()) return n.status();
    if (*n == 0) return data_loss("snapshot: unexpected end of the db image");
    etcdserverpb::SnapshotResponse resp;
    if (first) core_.fill_header(resp.mutable_header(), 0);
    first = false;
    resp.set_remaining_bytes(rd.remaining());
    resp.set_blob(buf.data(), *n);
    RETURN_IF_ERROR(send(resp));
  }
  const backend::Sha256& sha = rd.sha256();
  logger.info("sending database sha256 checksum to client",
              {{"total-bytes", total}, {"checksum-size", sha.size()}});
  etcdserverpb::SnapshotResponse last;
  if (first) core_.fill_header(last.mutable_header(), 0);
  last.set_remaining_bytes(0);
  last.set_blob(reinterpret_cast<const char*>(sha.data()), sha.size());
  RETURN_IF_ERROR(send(last));
  logger.info("successfully sent database snapshot to client",
              {{"total-bytes", total},
               {"size", human_bytes(total)},
               {"took", format_go_duration(core_.clock.now() - start)}});
  return Status::ok();
}

Result<etcdserverpb::MoveLeaderResponse> MaintenanceFront::move_leader(
    const etcdserverpb::MoveLeaderRequest& r) {
  const MemberId lead = core_.raft.lead();
  if (lead != core_.id()) return errors::not_leader();
  auto target = core_.membership.member(MemberId(r.targetid()));
  if (!target || target->is_learner) return errors::bad_leader_transferee();
  log::Logger& logger = core_.logger;
  logger.info("leadership transfer starting", {{"local-member-id", to_hex(core_.id())},
                                               {"current-leader-member-id", to_hex(lead)},
                                               {"transferee-member-id", to_hex(target->id)}});
  core_.raft.transfer_leader(target->id);
  const auto deadline = core_.clock.now() + core_.request_timeout();
  while (core_.raft.lead() != target->id) {
    if (core_.clock.now() >= deadline) {
      return Status(Code::kUnavailable,
                    "etcdserver: request timed out, leader transfer took too long");
    }
    core_.clock.sleep_for(std::chrono::milliseconds(core_.cfg.heartbeat_interval_ms));
  }
  logger.info("leadership transfer finished", {{"local-member-id", to_hex(core_.id())},
                                               {"old-leader-member-id", to_hex(lead)},
                                               {"new-leader-member-id", to_hex(target->id)}});
  etcdserverpb::MoveLeaderResponse resp;
  core_.fill_header(resp.mutable_header(), 0);
  return resp;
}

}  // namespace etcd::server
