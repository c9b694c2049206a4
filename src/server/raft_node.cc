#include "server/raft_node.h"

#include <future>

namespace etcd::server {

RaftNode::RaftNode(std::unique_ptr<raft::RawNode> node, raft::MemoryStorage& storage, wal::Wal& wal,
                   snap::Snapshotter& snapshotter, Transport& transport, log::Logger& logger,
                   Options options)
    : node_(std::move(node)),
      storage_(storage),
      wal_(wal),
      snapshotter_(snapshotter),
      transport_(transport),
      logger_(logger),
      options_(options) {}

RaftNode::~RaftNode() { stop(); }

void RaftNode::start(ApplyFn apply, ReadStateFn on_read_state) {
  apply_ = std::move(apply);
  on_read_state_ = std::move(on_read_state);
  for (int i = 0; i < options_.initial_tick_advance; ++i) node_->tick();
  term_ = node_->raft().term();
  exited_ = false;
  thread_ = std::thread([this] {
    loop();
    exited_ = true;
  });
}

void RaftNode::stop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RaftNode::post(Task t) {
  {
    MutexLock lock(&mu_);
    if (stopping_ || exited_) return;
    tasks_.push_back(std::move(t));
  }
  cv_.notify_one();
}

void RaftNode::run(const std::function<void(raft::RawNode&)>& fn) {
  auto done = std::make_shared<std::promise<void>>();
  auto fut = done->get_future();
  post([&fn, done](raft::RawNode& n) {
    fn(n);
    done->set_value();
  });
  // A stopped node never runs the task: do not wait forever. The loop runs
  // every task it took before it exits, so `fn` is not used after this.
  while (fut.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
    if (exited_) return;
  }
}

Status RaftNode::propose(std::string data) {
  Status result = Status(Code::kUnavailable, "etcdserver: server stopped");
  run([&](raft::RawNode& n) { result = n.propose(std::move(data)); });
  return result;
}

Status RaftNode::propose_conf_change(raftpb::ConfChange cc) {
  Status result = Status(Code::kUnavailable, "etcdserver: server stopped");
  run([&](raft::RawNode& n) { result = n.propose_conf_change(cc); });
  return result;
}

void RaftNode::read_index(std::string ctx) {
  post([ctx = std::move(ctx)](raft::RawNode& n) { n.read_index(ctx); });
}

void RaftNode::step(raftpb::Message m) {
  post([m = std::move(m)](raft::RawNode& n) mutable { (void)n.step(std::move(m)); });
}

void RaftNode::apply_conf_change(raftpb::ConfChange cc) {
  post([cc = std::move(cc)](raft::RawNode& n) { n.apply_conf_change(cc); });
}

void RaftNode::transfer_leader(raft::NodeId to) {
  post([to](raft::RawNode& n) { n.transfer_leader(to); });
}

void RaftNode::snapshot(uint64_t index, raftpb::ConfState cs, uint64_t catch_up) {
  post([this, index, cs = std::move(cs), catch_up](raft::RawNode&) {
    auto snap = storage_.create_snapshot(Index(index), &cs, "");
    if (!snap.is_ok()) return;  // an older or equal snapshot exists already
    Status s = snapshotter_.save(*snap);
    if (!s.is_ok()) PANIC("failed to save snapshot: " + s.to_string());
    s = wal_.save_snapshot(wal::WalSnapshot{Index(index), Term(snap->metadata().term())});
    if (!s.is_ok()) PANIC("failed to save the WAL snapshot marker: " + s.to_string());
    wal_.release_to(Index(index));
    if (auto purged = wal_.purge(); purged.is_ok()) {
      for (const auto& name : *purged) logger_.info("purged", {{"path", name}});
    }
    logger_.info("saved snapshot", {{"snapshot-index", index}});
    if (index > catch_up) {
      (void)storage_.compact(Index(index - catch_up));
      logger_.info("compacted Raft logs", {{"compact-index", index - catch_up}});
    }
  });
}

raft::NodeStatus RaftNode::status() {
  raft::NodeStatus st;
  run([&](raft::RawNode& n) { st = n.status(); });
  return st;
}

void RaftNode::loop() {
  auto next_tick = std::chrono::steady_clock::now() + options_.tick_interval;
  while (true) {
    std::deque<Task> tasks;
    {
      MutexLock lock(&mu_);
      lock.wait_until(cv_, next_tick, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return stopping_ || !tasks_.empty();
      });
      if (stopping_) return;
      tasks.swap(tasks_);
    }
    for (auto& t : tasks) t(*node_);
    if (std::chrono::steady_clock::now() >= next_tick) {
      node_->tick();
      next_tick += options_.tick_interval;
      // After a long stall, do not replay every missed tick at once.
      auto now = std::chrono::steady_clock::now();
      if (next_tick < now) next_tick = now + options_.tick_interval;
    }
    while (node_->has_ready()) handle_ready();
  }
}

void RaftNode::handle_ready() {
  raft::Ready rd = node_->ready();
  if (rd.soft_state) {
    const uint64_t was = lead_.load(std::memory_order_relaxed);
    const uint64_t now = rd.soft_state->lead;
    lead_.store(now, std::memory_order_release);
    leader_.store(rd.soft_state->raft_state == raft::StateType::kLeader, std::memory_order_release);
    if (now != was) {
      // etcd raft's node-level lines, worded as etcd's.
      const std::string self = to_hex(MemberId(node_->raft().id()));
      const std::string term = std::to_string(node_->raft().term());
      if (now == raft::kNone) {
        logger_.info("raft.node: " + self + " lost leader " + to_hex(MemberId(was)) + " at term " +
                     term);
      } else if (was == raft::kNone) {
        logger_.info("raft.node: " + self + " elected leader " + to_hex(MemberId(now)) +
                     " at term " + term);
      } else {
        logger_.info("raft.node: " + self + " changed leader from " + to_hex(MemberId(was)) +
                     " to " + to_hex(MemberId(now)) + " at term " + term);
      }
    }
  }
  for (const auto& rs : rd.read_states) on_read_state_(rs);
  bool leader = leader_.load(std::memory_order_relaxed);
  if (leader && !rd.messages.empty()) transport_.send(std::move(rd.messages));
  if (!raft::is_empty_snap(rd.snapshot)) {
    Status s = snapshotter_.save(rd.snapshot);
    if (!s.is_ok()) PANIC("failed to save snapshot: " + s.to_string());
    s = wal_.save_snapshot(wal::WalSnapshot{Index(rd.snapshot.metadata().index()),
                                            Term(rd.snapshot.metadata().term())});
    if (!s.is_ok()) PANIC("failed to save the WAL snapshot marker: " + s.to_string());
  }
  if (!raft::is_empty_hard_state(rd.hard_state) || !rd.entries.empty()) {
    Status s = wal_.save(rd.hard_state, rd.entries, rd.must_sync);
    if (!s.is_ok()) PANIC("failed to write to the WAL: " + s.to_string());
  }
  if (!raft::is_empty_snap(rd.snapshot)) (void)storage_.apply_snapshot(rd.snapshot);
  if (!rd.entries.empty()) {
    Status s = storage_.append(rd.entries);
    ASSERT(s.is_ok(), "raft log append failed: " + s.to_string());
  }
  if (!raft::is_empty_hard_state(rd.hard_state)) {
    storage_.set_hard_state(rd.hard_state);
    term_.store(rd.hard_state.term(), std::memory_order_release);
    commit_.store(rd.hard_state.commit(), std::memory_order_release);
  }
  if (!leader && !rd.messages.empty()) transport_.send(std::move(rd.messages));
  if (!rd.committed_entries.empty() || !raft::is_empty_snap(rd.snapshot)) {
    apply_(ApplyBatch{rd.committed_entries, rd.snapshot});
  }
  node_->advance(rd);
}

}  // namespace etcd::server
