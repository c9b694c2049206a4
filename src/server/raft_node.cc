#include "server/raft_node.h"

#include <future>

#include "base/duration.h"
#include "metrics/metrics.h"

namespace etcd::server {

RaftNode::RaftNode(RaftStorage storage, std::unique_ptr<raft::RawNode> node, Transport& transport,
                   env::Clock& clock, log::Logger& logger, Options options)
    : clock_(clock), logger_(logger), options_(options) {
  ReadyLoop::Hooks hooks;
  hooks.on_ready = [this](const raft::Ready& rd) { observe(rd); };
  hooks.on_read_state = [this](const raft::ReadState& rs) { on_read_state_(rs); };
  hooks.on_persisted = [this](const raftpb::HardState& hs) {
    term_.store(hs.term(), std::memory_order_release);
    commit_.store(hs.commit(), std::memory_order_release);
    metrics::Metrics::global().proposals_committed->Set(static_cast<double>(hs.commit()));
  };
  hooks.apply = [this](ApplyBatch b) { apply_(std::move(b)); };
  term_ = node->raft().term();
  commit_ = storage.hard_state.commit();
  ready_loop_ = std::make_unique<ReadyLoop>(std::move(storage), std::move(node), transport,
                                            std::move(hooks), &logger_);
}

RaftNode::~RaftNode() { stop(); }

void RaftNode::start(ApplyFn apply, ReadStateFn on_read_state, LeaderChangeFn on_leader_change) {
  apply_ = std::move(apply);
  on_read_state_ = std::move(on_read_state);
  on_leader_change_ = std::move(on_leader_change);
  for (int i = 0; i < options_.initial_tick_advance; ++i) ready_loop_->node().tick();
  term_ = ready_loop_->node().raft().term();
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
  // The thread is gone: its WAL is ours to close.
  if (ready_loop_ && ready_loop_->storage().wal) (void)ready_loop_->storage().wal->close();
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
  post([&fn, done](ReadyLoop& l) {
    fn(l.node());
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
  post([ctx = std::move(ctx)](ReadyLoop& l) { l.node().read_index(ctx); });
}

void RaftNode::step(raftpb::Message m) {
  post([m = std::move(m)](ReadyLoop& l) mutable { (void)l.node().step(std::move(m)); });
}

void RaftNode::apply_conf_change(raftpb::ConfChange cc) {
  post([cc = std::move(cc)](ReadyLoop& l) { l.node().apply_conf_change(cc); });
}

void RaftNode::report_unreachable(MemberId id) {
  post([id](ReadyLoop& l) { l.node().report_unreachable(id.value()); });
}

void RaftNode::report_snapshot(MemberId id, bool failed) {
  post([id, failed](ReadyLoop& l) {
    l.node().report_snapshot(
        id.value(), failed ? raft::SnapshotStatus::kFailure : raft::SnapshotStatus::kFinish);
  });
}

void RaftNode::transfer_leader(MemberId to) {
  post([to](ReadyLoop& l) { l.node().transfer_leader(to.value()); });
}

void RaftNode::snapshot(uint64_t index, raftpb::ConfState cs, std::string data, uint64_t catch_up) {
  post([index, cs = std::move(cs), data = std::move(data), catch_up](ReadyLoop& l) mutable {
    // Skipped when an older or equal snapshot exists already.
    (void)l.snapshot(index, cs, std::move(data), catch_up);
  });
}

raft::NodeStatus RaftNode::status() {
  raft::NodeStatus st;
  run([&](raft::RawNode& n) { st = n.status(); });
  return st;
}

void RaftNode::loop() {
  auto next_tick = clock_.now() + options_.tick_interval;
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
    for (auto& t : tasks) t(*ready_loop_);
    if (clock_.now() >= next_tick) {
      ready_loop_->node().tick();
      next_tick += options_.tick_interval;
      // After a long stall, do not replay every missed tick at once.
      auto now = clock_.now();
      if (next_tick < now) next_tick = now + options_.tick_interval;
    }
    ready_loop_->drain();
  }
}

void RaftNode::observe(const raft::Ready& rd) {
  if (leader_.load(std::memory_order_relaxed)) check_heartbeats(rd);
  if (!rd.soft_state) return;
  const uint64_t was = lead_.load(std::memory_order_relaxed);
  const uint64_t now = rd.soft_state->lead;
  const bool leading = rd.soft_state->raft_state == raft::StateType::kLeader;
  lead_.store(now, std::memory_order_release);
  leader_.store(leading, std::memory_order_release);
  last_heartbeat_.clear();
  auto& m = metrics::Metrics::global();
  m.has_leader->Set(now != raft::kNone ? 1 : 0);
  m.is_leader->Set(leading ? 1 : 0);
  if (now == was) return;
  if (now != raft::kNone) m.leader_changes->Increment();
  // As etcd, only a new leader fails the ReadIndex round in flight.
  if (now != raft::kNone && on_leader_change_) on_leader_change_();
  // etcd raft's node-level lines, worded as etcd's.
  const raft::RawNode& node = ready_loop_->node();
  const std::string self = to_hex(MemberId(node.raft().id()));
  const std::string term = std::to_string(node.raft().term());
  if (now == raft::kNone) {
    logger_.info("raft.node: " + self + " lost leader " + to_hex(MemberId(was)) + " at term " +
                 term);
  } else if (was == raft::kNone) {
    logger_.info("raft.node: " + self + " elected leader " + to_hex(MemberId(now)) + " at term " +
                 term);
  } else {
    logger_.info("raft.node: " + self + " changed leader from " + to_hex(MemberId(was)) + " to " +
                 to_hex(MemberId(now)) + " at term " + term);
  }
}

void RaftNode::check_heartbeats(const raft::Ready& rd) {
  const auto now = clock_.now();
  const auto max_gap = 2 * options_.tick_interval;
  for (const auto& msg : rd.messages) {
    if (msg.type() != raftpb::MsgHeartbeat) continue;
    auto [it, first] = last_heartbeat_.try_emplace(msg.to(), now);
    if (first) continue;
    const auto gap = now - it->second;
    it->second = now;
    if (gap <= max_gap) continue;
    metrics::Metrics::global().heartbeat_send_failures->Increment();
    logger_.warn(
        "leader failed to send out heartbeat on time; took too long, leader is overloaded likely "
        "from slow disk",
        {{"to", to_hex(MemberId(msg.to()))},
         {"heartbeat-interval", format_go_duration(options_.tick_interval)},
         {"expected-duration", format_go_duration(max_gap)},
         {"exceeded-duration", format_go_duration(gap - max_gap)}});
  }
}

}  // namespace etcd::server
