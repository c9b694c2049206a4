#include "server/ready_loop.h"

namespace etcd::server {
namespace {

// A leader's message that needs nothing of its own write to be durable.
bool leader_may_send_early(const raft::Raft& r, const raftpb::Message& m) {
  return m.term() == r.term() && (m.type() == raftpb::MsgApp || m.type() == raftpb::MsgHeartbeat ||
                                  m.type() == raftpb::MsgSnap);
}

}  // namespace

ReadyLoop::ReadyLoop(RaftStorage storage, std::unique_ptr<raft::RawNode> node, Transport& transport,
                     Hooks hooks, log::Logger* logger)
    : storage_(std::move(storage)),
      node_(std::move(node)),
      transport_(transport),
      hooks_(std::move(hooks)),
      logger_(logger) {}

void ReadyLoop::save_snapshot(const raftpb::Snapshot& snap) {
  // The file first, then its WAL marker; old files are purged only once
  // the marker is durable, so recovery always finds one the WAL knows.
  Status s = storage_.snapshotter->save(snap, /*purge_after=*/false);
  if (!s.is_ok()) PANIC("failed to save snapshot: " + s.to_string());
  s = storage_.wal->save_snapshot(
      wal::WalSnapshot{Index(snap.metadata().index()), Term(snap.metadata().term())});
  if (!s.is_ok()) PANIC("failed to save the WAL snapshot marker: " + s.to_string());
  (void)storage_.snapshotter->purge();
}

void ReadyLoop::handle_ready() {
  raft::Ready rd = node_->ready();
  if (hooks_.on_ready) hooks_.on_ready(rd);

  std::vector<raftpb::Message> after_write;
  if (node_->raft().state() == raft::StateType::kLeader) {
    std::vector<raftpb::Message> early;
    for (auto& m : rd.messages) {
      (leader_may_send_early(node_->raft(), m) ? early : after_write).push_back(std::move(m));
    }
    if (!early.empty()) transport_.send(std::move(early));
  } else {
    after_write = std::move(rd.messages);
  }

  const bool has_snap = !raft::is_empty_snap(rd.snapshot);
  if (has_snap) save_snapshot(rd.snapshot);
  if (!raft::is_empty_hard_state(rd.hard_state) || !rd.entries.empty()) {
    // With a snapshot the hard state (its commit index reaches the
    // snapshot's) is synced too, as etcd 3.5 does.
    Status s = storage_.wal->save(rd.hard_state, rd.entries, rd.must_sync || has_snap);
    if (!s.is_ok()) PANIC("failed to write to the WAL: " + s.to_string());
  }

  raft::MemoryStorage& log = *storage_.log;
  if (has_snap) {
    Status s = log.apply_snapshot(rd.snapshot);
    ASSERT(s.is_ok(), "raft log apply_snapshot failed: " + s.to_string());
  }
  if (!rd.entries.empty()) {
    Status s = log.append(rd.entries);
    ASSERT(s.is_ok(), "raft log append failed: " + s.to_string());
  }
  if (!raft::is_empty_hard_state(rd.hard_state)) {
    log.set_hard_state(rd.hard_state);
    if (hooks_.on_persisted) hooks_.on_persisted(rd.hard_state);
  }

  if (!after_write.empty()) transport_.send(std::move(after_write));

  if (hooks_.on_read_state) {
    for (const auto& rs : rd.read_states) hooks_.on_read_state(rs);
  }
  if (!rd.committed_entries.empty() || has_snap) {
    // Copied: advance() reads the committed entries to move `applied`.
    hooks_.apply(ApplyBatch{rd.committed_entries, rd.snapshot});
  }
  node_->advance(rd);
}

Status ReadyLoop::snapshot(uint64_t index, const raftpb::ConfState& cs, std::string data,
                           uint64_t catch_up) {
  raft::MemoryStorage& log = *storage_.log;
  auto snap = log.create_snapshot(Index(index), &cs, data);
  if (!snap.is_ok()) return snap.status();  // an older or equal snapshot exists already
  save_snapshot(*snap);
  storage_.wal->release_to(Index(index));
  if (auto purged = storage_.wal->purge(); purged.is_ok() && logger_ != nullptr) {
    for (const auto& name : *purged) logger_->info("purged", {{"path", name}});
  }
  if (logger_ != nullptr) logger_->info("saved snapshot", {{"snapshot-index", index}});
  if (index > catch_up) {
    (void)log.compact(Index(index - catch_up));
    if (logger_ != nullptr) {
      logger_->info("compacted Raft logs", {{"compact-index", index - catch_up}});
    }
  }
  return Status::ok();
}

}  // namespace etcd::server
