#include "sim/world.h"

#include <unistd.h>
#include <algorithm>
#include <csignal>
#include <cstring>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "base/rng.h"
#include "env/sim_file_system.h"
#include "raft/confchange/confchange.h"
#include "raft/rawnode.h"
#include "server/raft_storage.h"
#include "server/ready_loop.h"
#include "sim/checker.h"

namespace etcd::sim {

using raft::NodeId;

const char* fault_name(FaultKind k) {
  switch (k) {
    case FaultKind::kCrash:
      return "crash";
    case FaultKind::kCrashInReady:
      return "crash-before-fsync";
    case FaultKind::kRestart:
      return "restart";
    case FaultKind::kPartition:
      return "partition";
    case FaultKind::kAsymmetric:
      return "asymmetric-partition";
    case FaultKind::kIsolate:
      return "isolate";
    case FaultKind::kHeal:
      return "heal";
    case FaultKind::kWeather:
      return "network-weather";
    case FaultKind::kDrop:
      return "drop";
    case FaultKind::kDuplicate:
      return "duplicate";
    case FaultKind::kDelay:
      return "delay";
    case FaultKind::kCount:
      break;
  }
  return "?";
}

void SimStats::add(const SimStats& o) {
  runs += o.runs;
  steps += o.steps;
  sim_time += o.sim_time;
  messages += o.messages;
  proposals += o.proposals;
  commits += o.commits;
  applied_payloads += o.applied_payloads;
  reads_issued += o.reads_issued;
  reads_served += o.reads_served;
  conf_changes_proposed += o.conf_changes_proposed;
  conf_changes_applied += o.conf_changes_applied;
  leader_changes += o.leader_changes;
  transfers += o.transfers;
  snapshots_taken += o.snapshots_taken;
  snapshots_installed += o.snapshots_installed;
  liveness_ticks += o.liveness_ticks;
  max_liveness_ticks = std::max(max_liveness_ticks, o.max_liveness_ticks);
  known_limitation_stalls += o.known_limitation_stalls;
  for (size_t i = 0; i < faults.size(); ++i) faults[i] += o.faults[i];
}

std::string SimStats::to_string() const {
  auto line = [](const char* k, uint64_t v) {
    return "  " + std::string(k) + ": " + std::to_string(v) + "\n";
  };
  std::string s;
  s += line("seeds run", runs);
  s += line("steps (events)", steps);
  s += line("simulated ticks", sim_time / 10);
  s += line("messages sent", messages);
  s += line("proposals", proposals);
  s += line("committed entries", commits);
  s += line("payloads applied", applied_payloads);
  s += line("reads issued", reads_issued);
  s += line("reads served", reads_served);
  s += line("conf changes proposed", conf_changes_proposed);
  s += line("conf changes applied", conf_changes_applied);
  s += line("leader changes", leader_changes);
  s += line("leader transfers requested", transfers);
  s += line("snapshots taken", snapshots_taken);
  s += line("snapshots installed from leader", snapshots_installed);
  if (runs > 0) s += line("mean ticks heal->commit", liveness_ticks / runs);
  s += line("max ticks heal->commit", max_liveness_ticks);
  s += line("stalls in the known gap (etcd-io/etcd#12359)", known_limitation_stalls);
  s += "  faults injected:\n";
  for (size_t i = 0; i < faults.size(); ++i) {
    s += "    " + std::string(fault_name(static_cast<FaultKind>(i))) + ": " +
         std::to_string(faults[i]) + "\n";
  }
  return s;
}

namespace {

// Simulated time: one unit is about a millisecond; a Raft tick is ten.
constexpr uint64_t kTickInterval = 10;
constexpr int kElectionTick = 10;
constexpr int kHeartbeatTick = 1;

// ---- Abort reporting -------------------------------------------------------

// What the SIGABRT handler prints. Plain arrays and integers only: the
// handler must not allocate.
thread_local char tl_context[256];
thread_local uint64_t tl_step = 0;

void write_str(const char* s) {
  ssize_t r = ::write(2, s, std::strlen(s));
  (void)r;
}

void on_abort(int) {
  if (tl_context[0] != '\0') {
    char num[32];
    int n = 0;
    uint64_t v = tl_step;
    char rev[32];
    do {
      rev[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    for (int i = 0; i < n; ++i) num[i] = rev[n - 1 - i];
    num[n] = '\0';
    write_str("\nraft simulation aborted (a Raft ASSERT or PANIC) at step ");
    write_str(num);
    write_str("; replay with: ");
    write_str(tl_context);
    write_str("\n");
  }
  std::signal(SIGABRT, SIG_DFL);
  std::raise(SIGABRT);
}

// ---- Helpers ---------------------------------------------------------------

std::string str(uint64_t v) { return std::to_string(v); }

// The checker's identity of an entry: its type and payload.
std::string digest(const raftpb::Entry& e) {
  switch (e.type()) {
    case raftpb::EntryConfChange:
      return "C:" + e.data();
    case raftpb::EntryConfChangeV2:
      return "V:" + e.data();
    default:
      return "N:" + e.data();
  }
}

// The state machine is the list of applied payloads; a snapshot carries it
// as newline-separated text (payloads never contain newlines).
std::string encode_state(const std::vector<std::string>& payloads) {
  std::string out;
  for (const auto& p : payloads) {
    out += p;
    out += '\n';
  }
  return out;
}

std::vector<std::string> decode_state(const std::string& data) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < data.size()) {
    size_t nl = data.find('\n', start);
    if (nl == std::string::npos) nl = data.size();
    out.push_back(data.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

bool contains(const google::protobuf::RepeatedField<uint64_t>& ids, NodeId id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

bool is_member(const raftpb::ConfState& cs, NodeId id) {
  return contains(cs.voters(), id) || contains(cs.learners(), id) ||
         contains(cs.voters_outgoing(), id) || contains(cs.learners_next(), id);
}

std::string describe(const raftpb::ConfState& cs) {
  auto ids = [](const google::protobuf::RepeatedField<uint64_t>& v) {
    std::string s = "(";
    for (int i = 0; i < v.size(); ++i) s += (i ? " " : "") + str(v[i]);
    return s + ")";
  };
  std::string s = "voters=" + ids(cs.voters());
  if (cs.voters_outgoing_size() > 0) s += "&&" + ids(cs.voters_outgoing());
  if (cs.learners_size() > 0) s += " learners=" + ids(cs.learners());
  if (cs.learners_next_size() > 0) s += " learners_next=" + ids(cs.learners_next());
  return s;
}

std::string describe(const raftpb::Message& m) {
  std::string s = raftpb::MessageType_Name(m.type()) + " " + str(m.from()) + "->" + str(m.to()) +
                  " t" + str(m.term());
  if (m.type() == raftpb::MsgApp || m.type() == raftpb::MsgAppResp || m.type() == raftpb::MsgVote ||
      m.type() == raftpb::MsgPreVote) {
    s += " idx=" + str(m.index()) + " lt=" + str(m.log_term());
  }
  if (m.entries_size() > 0) s += " ents=" + str(m.entries_size());
  if (m.commit() != 0) s += " commit=" + str(m.commit());
  if (m.reject()) s += " reject hint=" + str(m.reject_hint());
  if (m.type() == raftpb::MsgSnap) s += " snap=" + str(m.snapshot().metadata().index());
  return s;
}

// ---- The world -------------------------------------------------------------

struct PendingRead {
  uint64_t index;
  std::string ctx;
};

class World;

// Where a member's Ready loop sends: into the simulated network, unless the
// process already died in this Ready (its crash point has passed).
struct NodeTransport final : server::Transport {
  World* world = nullptr;
  NodeId id = 0;
  void send(std::vector<raftpb::Message> msgs) override;
};

// The member's disk: its WAL in /wal, its snapshot files in /snap.
constexpr const char* kWalDir = "/wal";
constexpr const char* kSnapDir = "/snap";

// One member process and its disk. The disk outlives crashes; everything
// else is volatile and rebuilt on restart.
struct Node {
  NodeId id = 0;
  bool up = false;
  // Applied its own removal. The process keeps running (it may still be
  // needed to vote by a member that has not applied the removal yet) unless
  // SimOptions::stop_removed; its id is never reused.
  bool retired = false;
  // Stopped for good (stop_removed): never restarted.
  bool removed = false;
  // In some applied configuration at some point (so absence means removal).
  bool ever_member = false;
  // Bumped on every crash: events of an older incarnation are stale.
  uint64_t incarnation = 0;
  // The disk (a simulated filesystem holding the real WAL and snapshot
  // files) and, while up, the production Ready loop over it. raw and
  // storage point into the loop.
  std::unique_ptr<env::SimFileSystem> fs;
  std::unique_ptr<NodeTransport> transport;
  std::unique_ptr<server::ReadyLoop> loop;
  raft::RawNode* raw = nullptr;
  raft::MemoryStorage* storage = nullptr;
  // The state machine: payloads of the applied normal entries, in order.
  uint64_t applied = 0;
  std::vector<std::string> payloads;
  raftpb::ConfState conf_state;
  // The index of the configuration in conf_state (a conf change entry or
  // the snapshot it came with).
  uint64_t conf_index = 0;
  bool ready_scheduled = false;
  // Armed by a kCrashInReady fault: the process dies at its next fsync
  // (the disk's crash point), in the middle of a Ready.
  bool crash_in_ready = false;
  // The highest commit index the checker already saw on this incarnation.
  uint64_t observed_commit = 0;
  uint64_t tick_interval = kTickInterval;
  std::vector<PendingRead> reads;
};

enum class EventKind { kDeliver, kTick, kReady, kStop, kClient, kFault, kLiveness };

struct Event {
  EventKind kind = EventKind::kTick;
  NodeId node = 0;
  uint64_t incarnation = 0;
  // kDeliver: the message, the sender's incarnation, and whether the
  // network already decided to lose it (only MsgSnap travels as lost: the
  // sender's transport must report the failure).
  std::unique_ptr<raftpb::Message> msg;
  uint64_t from_incarnation = 0;
  bool lost = false;
};

Event make_event(EventKind kind, NodeId node = 0, uint64_t incarnation = 0) {
  Event ev;
  ev.kind = kind;
  ev.node = node;
  ev.incarnation = incarnation;
  return ev;
}

class World {
 public:
  explicit World(const SimOptions& opts)
      : opts_(opts),
        rng_(opts.seed),
        k_(opts.nodes),
        min_voters_(opts.nodes <= 3 ? 2 : opts.nodes / 2 + 1) {}

  SimResult run();
  // NodeTransport's way into the network.
  void send_from(NodeId id, std::vector<raftpb::Message> msgs);

 private:
  // Setup.
  void bootstrap();
  Node& create_node(NodeId id);
  void start_node(Node& n);

  // Events.
  void schedule(uint64_t delay, Event ev);
  void dispatch(Event& ev);
  void on_tick(Node& n);
  void on_deliver(Event& ev);
  void on_ready(Node& n);
  void on_client();
  void on_fault();
  void on_liveness();

  // Member actions.
  void maybe_schedule_ready(Node& n);
  void handle_ready(Node& n);
  // The Ready loop's hooks.
  void observe_ready(Node& n, const raft::Ready& rd);
  void apply_batch(Node& n, const server::ApplyBatch& b);
  void apply_entry(Node& n, const raftpb::Entry& e);
  // The process died at its disk's crash point (mid-Ready).
  bool dead(const Node& n) const { return n.fs->crash_point_passed(); }
  void send(const Node& from, raftpb::Message m);
  void crash(Node& n, const char* why);
  void stop_removed(Node& n);
  void report_snapshot(NodeId sender, uint64_t incarnation, NodeId target, bool ok);

  // Client operations.
  void propose(Node& n);
  void read(Node& n);
  void change_config(Node& leader);
  void transfer(Node& leader);
  void compact(Node& n);

  // Faults.
  void crash_some(bool in_ready);
  void restart_some();
  void new_weather(bool calm);
  void heal();
  void start_liveness_phase();

  // Checks.
  void observe_all();
  std::string known_stall();
  void full_log_check();
  Node* leader_node();
  std::string cluster_state();
  std::vector<Node*> up_nodes();
  Node* pick(const std::vector<Node*>& v) {
    return v.empty() ? nullptr : v[rng_.uniform(v.size())];
  }
  uint64_t down_members() const;

  void trace(const std::string& s) {
    std::fprintf(opts_.trace_out, "[t=%llu #%llu] %s\n", static_cast<unsigned long long>(now_),
                 static_cast<unsigned long long>(step_), s.c_str());
    // Unbuffered: a Raft ASSERT aborts the process, and the end of the
    // trace is what explains it.
    std::fflush(opts_.trace_out);
  }
  void count(FaultKind k) { ++stats_.faults[static_cast<size_t>(k)]; }

  SimOptions opts_;
  Rng rng_;
  int k_;
  size_t min_voters_;
  Checker checker_;
  SimStats stats_;

  uint64_t now_ = 0;
  uint64_t step_ = 0;
  uint64_t seq_ = 0;
  std::map<std::pair<uint64_t, uint64_t>, Event> queue_;
  std::map<NodeId, Node> nodes_;
  NodeId next_id_ = 1;
  raftpb::ConfState initial_conf_;
  // The configuration of the highest applied conf change (any member).
  uint64_t latest_conf_index_ = 0;
  raftpb::ConfState latest_conf_;

  // Per-seed Raft knobs.
  uint64_t max_size_per_msg_ = 0;
  size_t max_inflight_ = 256;

  // Network: directed links that are down, and the current "weather".
  std::set<std::pair<NodeId, NodeId>> blocked_;
  uint64_t drop_pct_ = 0;
  uint64_t dup_pct_ = 0;
  uint64_t delay_pct_ = 0;

  uint64_t next_payload_ = 0;
  uint64_t next_read_ = 0;

  bool liveness_phase_ = false;
  bool live_done_ = false;
  uint64_t heal_time_ = 0;
  uint64_t live_deadline_ = 0;
};

void World::schedule(uint64_t delay, Event ev) {
  queue_.emplace(std::make_pair(now_ + delay, seq_++), std::move(ev));
}

std::vector<Node*> World::up_nodes() {
  std::vector<Node*> v;
  for (auto& [id, n] : nodes_) {
    if (n.up) v.push_back(&n);
  }
  return v;
}

uint64_t World::down_members() const {
  uint64_t c = 0;
  for (const auto& [id, n] : nodes_) c += !n.up && !n.removed;
  return c;
}

// ---- Setup -----------------------------------------------------------------

void World::bootstrap() {
  // Per-seed knobs: small messages and windows exercise flow control.
  static constexpr uint64_t kMsgSizes[] = {0, 64, 256, 1024 * 1024};
  static constexpr size_t kInflights[] = {1, 4, 256};
  max_size_per_msg_ = kMsgSizes[rng_.uniform(4)];
  max_inflight_ = kInflights[rng_.uniform(3)];

  // The initial configuration: between min_voters_ and k_ voters, then
  // maybe some learners; the remaining slots are filled by later adds.
  size_t voters = min_voters_ + rng_.uniform(k_ - min_voters_ + 1);
  size_t learners = rng_.uniform(k_ - voters + 1);
  for (size_t i = 0; i < voters; ++i) initial_conf_.add_voters(next_id_++);
  for (size_t i = 0; i < learners; ++i) initial_conf_.add_learners(next_id_++);
  latest_conf_ = initial_conf_;
  for (NodeId id = 1; id < next_id_; ++id) {
    Node& n = create_node(id);
    n.ever_member = true;
    start_node(n);
  }
  new_weather(false);
  if (opts_.verbose) {
    trace("bootstrap " + describe(initial_conf_) + " max_size_per_msg=" + str(max_size_per_msg_) +
          " max_inflight=" + str(max_inflight_));
  }
  schedule(1 + rng_.uniform(20), make_event(EventKind::kClient));
  schedule(50 + rng_.uniform(200), make_event(EventKind::kFault));
}

// The WAL options of a simulated member: small segments, so cuts, releases
// and purges happen within a run.
server::RaftStorageOptions storage_options() {
  server::RaftStorageOptions o;
  o.wal.segment_size_bytes = 32 * 1024;
  o.wal.flush_threshold_bytes = 16 * 1024;
  return o;
}

Node& World::create_node(NodeId id) {
  // Every member, including ones added later, boots from the cluster's
  // bootstrap snapshot at index 1 (as raft_test does); a later member is not
  // in its configuration and waits until the leader reaches it. It is
  // written to the member's disk with the production code: a new WAL, the
  // snapshot file and its WAL marker, the hard state, all synced.
  raftpb::Snapshot snap;
  snap.mutable_metadata()->set_index(1);
  snap.mutable_metadata()->set_term(1);
  *snap.mutable_metadata()->mutable_conf_state() = initial_conf_;
  raftpb::HardState hs;
  hs.set_term(1);
  hs.set_commit(1);
  Node& n = nodes_[id];
  n.id = id;
  n.fs = std::make_unique<env::SimFileSystem>();
  n.transport = std::make_unique<NodeTransport>();
  n.transport->world = this;
  n.transport->id = id;
  auto rs = server::RaftStorage::create(*n.fs, kWalDir, kSnapDir, "", storage_options());
  Status st = rs.status();
  if (st.is_ok()) st = rs->snapshotter->save(snap);
  if (st.is_ok()) st = rs->wal->save_snapshot(wal::WalSnapshot{Index(1), Term(1)});
  if (st.is_ok()) st = rs->wal->save(hs, {}, /*must_sync=*/true);
  if (st.is_ok()) st = n.fs->sync_dir("/");
  if (!st.is_ok()) checker_.fail("model", "bootstrap of " + str(id) + ": " + st.to_string());
  // From here on the disk may lie (test hook): the bootstrap state is real.
  n.fs->set_lying_sync(opts_.lying_fsync);
  return n;
}

void World::start_node(Node& n) {
  // The production recovery: newest snapshot the WAL knows, then the WAL.
  auto rs = server::RaftStorage::open(*n.fs, kWalDir, kSnapDir, storage_options());
  if (!rs.is_ok()) {
    checker_.fail("model", "restart of " + str(n.id) + ": " + rs.status().to_string());
    return;
  }
  if (opts_.forget_votes && n.incarnation > 0) {  // test hook
    raftpb::HardState hs = rs->hard_state;
    hs.set_vote(raft::kNone);
    rs->log->set_hard_state(hs);
  }
  const raftpb::Snapshot snap = rs->snapshot;
  raft::Config c;
  c.id = n.id;
  c.election_tick = kElectionTick;
  c.heartbeat_tick = kHeartbeatTick;
  c.storage = rs->log.get();
  // The state machine is rebuilt from the snapshot; Raft then hands back
  // every committed entry after it.
  c.applied = 0;
  c.max_size_per_msg = max_size_per_msg_;
  c.max_inflight_msgs = max_inflight_;
  c.check_quorum = true;
  c.pre_vote = true;
  c.seed = rng_.next();
  auto raw = raft::RawNode::create(c);
  if (!raw.is_ok()) {
    checker_.fail("model", "RawNode::create for " + str(n.id) + ": " + raw.status().to_string());
    return;
  }
  NodeId id = n.id;
  server::ReadyLoop::Hooks hooks;
  hooks.on_ready = [this, id](const raft::Ready& rd) { observe_ready(nodes_.at(id), rd); };
  hooks.on_read_state = [this, id](const raft::ReadState& rs) {
    Node& m = nodes_.at(id);
    if (dead(m)) return;
    checker_.observe_read_state(id, rs.request_ctx, rs.index);
    m.reads.push_back(PendingRead{rs.index, rs.request_ctx});
  };
  hooks.apply = [this, id](server::ApplyBatch b) { apply_batch(nodes_.at(id), b); };
  n.loop = std::make_unique<server::ReadyLoop>(std::move(rs).value(), std::move(raw).value(),
                                               *n.transport, std::move(hooks));
  n.raw = &n.loop->node();
  n.storage = n.loop->storage().log.get();
  n.up = true;
  n.applied = snap.metadata().index();
  n.payloads = decode_state(snap.data());
  n.conf_state = snap.metadata().conf_state();
  n.conf_index = snap.metadata().index();
  n.observed_commit = 0;
  n.ready_scheduled = false;
  n.crash_in_ready = false;
  n.reads.clear();
  // Clocks drift a little: ticks every 9 to 11 units.
  n.tick_interval = kTickInterval - 1 + rng_.uniform(3);
  schedule(1 + rng_.uniform(n.tick_interval), make_event(EventKind::kTick, n.id, n.incarnation));
  maybe_schedule_ready(n);
}

// ---- Main loop ---------------------------------------------------------------

SimResult World::run() {
  std::string replay = "raft_sim --start " + str(opts_.seed) + " --seeds 1 --nodes " +
                       str(opts_.nodes) + " --steps " + str(opts_.steps);
  if (opts_.liveness_election_timeouts != SimOptions().liveness_election_timeouts) {
    replay += " (liveness bound " + str(opts_.liveness_election_timeouts) + ")";
  }
  if (opts_.stop_removed) replay += " --stop-removed";
  if (opts_.lying_fsync) replay += " --lying-fsync";
  if (opts_.forget_votes) replay += " --forget-votes";
  if (opts_.local_reads) replay += " --local-reads";
  if (opts_.never_heal) replay += " --never-heal";
  replay += " --verbose";
  std::snprintf(tl_context, sizeof(tl_context), "%s", replay.c_str());
  bootstrap();
  observe_all();
  while (!checker_.failed() && !live_done_ && !queue_.empty()) {
    auto node = queue_.extract(queue_.begin());
    now_ = node.key().first;
    ++step_;
    tl_step = step_;
    if (!liveness_phase_ && step_ > opts_.steps) start_liveness_phase();
    dispatch(node.mapped());
    observe_all();
    if ((step_ & 255) == 0) full_log_check();
  }
  if (!checker_.failed()) full_log_check();
  tl_context[0] = '\0';

  SimResult r;
  stats_.runs = 1;
  stats_.steps = step_;
  stats_.sim_time = now_;
  stats_.commits = checker_.max_committed();
  stats_.leader_changes = checker_.leaders_seen();
  stats_.applied_payloads = checker_.applied_payloads();
  r.stats = stats_;
  r.step = step_;
  r.time = now_;
  r.replay = replay;
  if (checker_.failed()) {
    r.ok = false;
    r.known_limitation = checker_.violation()->invariant == "liveness-known-limitation";
    r.stats.known_limitation_stalls = r.known_limitation;
    const Violation& v = *checker_.violation();
    r.failure = "seed=" + str(opts_.seed) + " nodes=" + str(opts_.nodes) + " step=" + str(step_) +
                " time=" + str(now_) + ": " + v.invariant + ": " + v.detail +
                "\n  cluster: " + cluster_state() + "\n  replay: " + r.replay;
  }
  return r;
}

void World::dispatch(Event& ev) {
  switch (ev.kind) {
    case EventKind::kDeliver:
      on_deliver(ev);
      return;
    case EventKind::kTick:
    case EventKind::kReady:
    case EventKind::kStop: {
      auto it = nodes_.find(ev.node);
      if (it == nodes_.end()) return;
      Node& n = it->second;
      if (!n.up || n.incarnation != ev.incarnation) return;  // stale
      if (ev.kind == EventKind::kTick) {
        on_tick(n);
      } else if (ev.kind == EventKind::kReady) {
        on_ready(n);
      } else {
        stop_removed(n);
      }
      return;
    }
    case EventKind::kClient:
      on_client();
      schedule(1 + rng_.uniform(20), make_event(EventKind::kClient));
      return;
    case EventKind::kFault:
      if (liveness_phase_) return;  // no faults after the heal
      on_fault();
      schedule(20 + rng_.uniform(200), make_event(EventKind::kFault));
      return;
    case EventKind::kLiveness:
      on_liveness();
      return;
  }
}

void World::on_tick(Node& n) {
  n.raw->tick();
  const raft::Raft& r = n.raw->raft();
  if (r.state() == raft::StateType::kLeader && r.lead_transferee() == raft::kNone &&
      !r.tracker().config.voters.ids().count(n.id)) {
    // A leader that is no longer a voter keeps leading until someone takes
    // over (thesis 4.2.2); Raft leaves stepping down to the application.
    // Hand leadership to the most caught-up voter.
    NodeId best = raft::kNone;
    uint64_t best_match = 0;
    for (const auto& [id, pr] : r.tracker().progress) {
      if (id == n.id || !r.tracker().config.voters.ids().count(id)) continue;
      if (best == raft::kNone || pr.match > best_match) {
        best = id;
        best_match = pr.match;
      }
    }
    if (best != raft::kNone) {
      if (opts_.verbose)
        trace("n" + str(n.id) + " is not a voter: hands leadership to " + str(best));
      n.raw->transfer_leader(best);
    }
  }
  schedule(n.tick_interval, make_event(EventKind::kTick, n.id, n.incarnation));
  maybe_schedule_ready(n);
}

void World::maybe_schedule_ready(Node& n) {
  if (!n.up || n.ready_scheduled || !n.raw->has_ready()) return;
  n.ready_scheduled = true;
  // The Ready loop runs after a short, sometimes long, pause (a slow disk
  // or a busy apply): steps in between accumulate into one Ready.
  uint64_t delay = rng_.chance(1, 10) ? 3 + rng_.uniform(15) : rng_.uniform(3);
  schedule(delay, make_event(EventKind::kReady, n.id, n.incarnation));
}

void World::on_ready(Node& n) {
  n.ready_scheduled = false;
  if (n.raw->has_ready()) handle_ready(n);
  if (n.up) maybe_schedule_ready(n);
}

// ---- The Ready loop: production's (server::ReadyLoop) ----------------------

void World::handle_ready(Node& n) {
  n.loop->handle_ready();
  if (dead(n)) {
    // Killed at the disk's crash point, between a write and its fsync: the
    // messages that needed the write never left, nothing was applied, and
    // the write itself may or may not survive.
    crash(n, "crash before fsync of a Ready");
    return;
  }
  if (!n.up || checker_.failed()) return;
  // Linearizable reads complete once the state machine caught up.
  std::vector<PendingRead> waiting;
  for (auto& pr : n.reads) {
    if (pr.index <= n.applied) {
      ++stats_.reads_served;
    } else {
      waiting.push_back(std::move(pr));
    }
  }
  n.reads = std::move(waiting);
}

void World::observe_ready(Node& n, const raft::Ready& rd) {
  const raft::RaftLog& log = n.raw->raft().raft_log();
  if (opts_.verbose) {
    trace("n" + str(n.id) + " ready: " +
          (rd.soft_state ? raft::to_string(rd.soft_state->raft_state) : std::string("-")) +
          " hs=" + str(rd.hard_state.term()) + "/" + str(rd.hard_state.vote()) + "/" +
          str(rd.hard_state.commit()) + " ents=" + str(rd.entries.size()) +
          (rd.entries.empty() ? ""
                              : "[" + str(rd.entries.front().index()) + ".." +
                                    str(rd.entries.back().index()) + "]") +
          " committed=" + str(rd.committed_entries.size()) +
          " snap=" + str(rd.snapshot.metadata().index()) + " msgs=" + str(rd.messages.size()) +
          (rd.must_sync ? " sync" : ""));
  }
  // (2) Log matching: every entry enters a log through a Ready. Its
  // predecessor is read from the log as it is now (the Ready's entries are
  // already in it, in the unstable part).
  for (size_t i = 0; i < rd.entries.size(); ++i) {
    const raftpb::Entry& e = rd.entries[i];
    std::optional<uint64_t> prev;
    if (i > 0) {
      prev = rd.entries[i - 1].term();
    } else if (e.index() == 1) {
      prev = 0;
    } else if (e.index() - 1 >= log.first_index() - 1) {
      auto t = log.term(e.index() - 1);
      if (t.is_ok()) prev = *t;
    }
    checker_.observe_entry(n.id, e.index(), e.term(), prev, digest(e));
  }
}

void World::apply_batch(Node& n, const server::ApplyBatch& b) {
  if (dead(n) || checker_.failed()) return;
  if (!raft::is_empty_snap(b.snapshot)) {
    // The state machine is replaced by the snapshot's.
    n.payloads = decode_state(b.snapshot.data());
    n.applied = b.snapshot.metadata().index();
    n.conf_state = b.snapshot.metadata().conf_state();
    n.conf_index = n.applied;
    ++stats_.snapshots_installed;
    checker_.observe_snapshot_state(n.id, n.applied, n.payloads);
    if (opts_.verbose) trace("n" + str(n.id) + " installed snapshot " + str(n.applied));
  }
  for (const raftpb::Entry& e : b.entries) {
    if (e.index() <= n.applied) continue;  // covered by the snapshot just installed
    if (e.index() != n.applied + 1) {
      checker_.fail("state-machine-safety", "member " + str(n.id) + " applies index " +
                                                str(e.index()) + " after " + str(n.applied));
      return;
    }
    apply_entry(n, e);
    if (!n.up || checker_.failed()) return;
  }
}

void World::apply_entry(Node& n, const raftpb::Entry& e) {
  checker_.observe_applied(n.id, e.index(), e.term(), digest(e));
  n.applied = e.index();
  if (e.type() == raftpb::EntryNormal) {
    if (e.data().empty()) return;
    n.payloads.push_back(e.data());
    if (liveness_phase_ && e.data().rfind("live", 0) == 0 &&
        n.raw->raft().state() == raft::StateType::kLeader) {
      live_done_ = true;
      uint64_t ticks = (now_ - heal_time_) / kTickInterval;
      stats_.liveness_ticks = ticks;
      stats_.max_liveness_ticks = ticks;
      if (opts_.verbose) trace("liveness: leader " + str(n.id) + " applied " + e.data());
    }
    return;
  }
  raftpb::ConfChangeV2 cc;
  if (e.type() == raftpb::EntryConfChange) {
    raftpb::ConfChange v1;
    if (!v1.ParseFromString(e.data())) {
      checker_.fail("model", "unparsable ConfChange at " + str(e.index()));
      return;
    }
    cc = raft::as_v2(v1);
  } else if (!cc.ParseFromString(e.data())) {
    checker_.fail("model", "unparsable ConfChangeV2 at " + str(e.index()));
    return;
  }
  bool was_member = is_member(n.conf_state, n.id);
  n.conf_state = n.raw->apply_conf_change(cc);
  n.conf_index = e.index();
  if (opts_.verbose) {
    trace("n" + str(n.id) + " applied conf change at " + str(e.index()) + ": " +
          describe(n.conf_state));
  }
  if (e.index() > latest_conf_index_) {
    latest_conf_index_ = e.index();
    latest_conf_ = n.conf_state;
    ++stats_.conf_changes_applied;
    for (auto& [id, other] : nodes_) {
      if (is_member(n.conf_state, id)) other.ever_member = true;
    }
  }
  if (was_member && !is_member(n.conf_state, n.id)) {
    n.retired = true;
    if (opts_.verbose) trace("n" + str(n.id) + " applied its own removal");
    if (opts_.stop_removed) {
      // etcd: stopWithDelay, so the removed leader can still tell the
      // others that its removal committed.
      schedule(kElectionTick * kTickInterval, make_event(EventKind::kStop, n.id, n.incarnation));
    }
  }
}

void World::stop_removed(Node& n) {
  if (n.removed) return;
  if (opts_.verbose) trace("n" + str(n.id) + " removed from the cluster: stops for good");
  if (n.up) crash(n, "removed");
  n.removed = true;
}

void World::crash(Node& n, const char* why) {
  if (opts_.verbose) {
    trace("n" + str(n.id) + " crashes (" + why + "), " + str(n.fs->unsynced_write_bytes()) +
          " unsynced bytes at risk");
  }
  // The disk first: the dying process's open files go stale, so nothing
  // its destructors might write reaches the disk.
  n.fs->crash(rng_);
  n.up = false;
  n.raw = nullptr;
  n.storage = nullptr;
  n.loop.reset();
  n.payloads.clear();
  n.reads.clear();
  n.applied = 0;
  n.ready_scheduled = false;
  n.crash_in_ready = false;
  ++n.incarnation;
}

// ---- Network -----------------------------------------------------------------

void NodeTransport::send(std::vector<raftpb::Message> msgs) {
  world->send_from(id, std::move(msgs));
}

void World::send_from(NodeId id, std::vector<raftpb::Message> msgs) {
  Node& n = nodes_.at(id);
  if (dead(n)) return;  // the process died before these left
  for (auto& m : msgs) send(n, std::move(m));
}

void World::send(const Node& from, raftpb::Message m) {
  ++stats_.messages;
  bool is_snap = m.type() == raftpb::MsgSnap;
  if (is_snap && from.applied > m.snapshot().metadata().index()) {
    // etcd's server does not ship Raft's stored snapshot but a fresh one of
    // its state machine at its applied index, with the configuration it
    // applied (createMergedSnapshotMessage). Without this a member added
    // after the last snapshot could never catch up from a compacted leader:
    // it refuses a snapshot whose configuration does not include it.
    raftpb::Snapshot& snap = *m.mutable_snapshot();
    auto term = from.raw->raft().raft_log().term(from.applied);
    if (term.is_ok()) {
      snap.mutable_metadata()->set_index(from.applied);
      snap.mutable_metadata()->set_term(*term);
      *snap.mutable_metadata()->mutable_conf_state() = from.conf_state;
      snap.set_data(encode_state(from.payloads));
    }
  }
  auto latency = [&]() -> uint64_t {
    uint64_t d = 1 + rng_.uniform(4);
    if (delay_pct_ > 0 && rng_.chance(delay_pct_, 100)) {
      count(FaultKind::kDelay);
      d += rng_.uniform(10 * kTickInterval);
    }
    return d;
  };
  Event ev;
  ev.kind = EventKind::kDeliver;
  ev.from_incarnation = from.incarnation;
  if (drop_pct_ > 0 && rng_.chance(drop_pct_, 100)) {
    count(FaultKind::kDrop);
    if (opts_.verbose) trace("drop " + describe(m));
    if (!is_snap) return;
    ev.lost = true;  // the transport still reports the failed snapshot
  }
  if (!ev.lost && dup_pct_ > 0 && rng_.chance(dup_pct_, 100)) {
    count(FaultKind::kDuplicate);
    Event dup;
    dup.kind = EventKind::kDeliver;
    dup.from_incarnation = from.incarnation;
    dup.msg = std::make_unique<raftpb::Message>(m);
    schedule(latency(), std::move(dup));
  }
  ev.msg = std::make_unique<raftpb::Message>(std::move(m));
  schedule(latency(), std::move(ev));
}

void World::report_snapshot(NodeId sender, uint64_t incarnation, NodeId target, bool ok) {
  auto it = nodes_.find(sender);
  if (it == nodes_.end()) return;
  Node& n = it->second;
  if (!n.up || n.incarnation != incarnation) return;
  // The sender's transport finished (or failed) streaming the snapshot:
  // tell its Raft, as etcd's rafthttp does.
  n.raw->report_snapshot(target,
                         ok ? raft::SnapshotStatus::kFinish : raft::SnapshotStatus::kFailure);
  maybe_schedule_ready(n);
}

void World::on_deliver(Event& ev) {
  raftpb::Message& m = *ev.msg;
  NodeId from = m.from();
  NodeId to = m.to();
  bool is_snap = m.type() == raftpb::MsgSnap;
  auto it = nodes_.find(to);
  bool cut = blocked_.count({from, to}) > 0;
  if (ev.lost || cut || it == nodes_.end() || !it->second.up) {
    if (opts_.verbose) trace("lost " + describe(m));
    if (cut && rng_.chance(1, 4)) {
      // The sender's transport notices the broken stream now and then.
      auto s = nodes_.find(from);
      if (s != nodes_.end() && s->second.up && s->second.incarnation == ev.from_incarnation) {
        s->second.raw->report_unreachable(to);
        maybe_schedule_ready(s->second);
      }
    }
    if (is_snap) report_snapshot(from, ev.from_incarnation, to, false);
    return;
  }
  Node& n = it->second;
  if (opts_.verbose) trace("deliver " + describe(m));
  // Errors (a response from a peer no longer in the configuration, a
  // dropped forwarded proposal) are expected and ignored, as etcd does.
  (void)n.raw->step(std::move(m));
  maybe_schedule_ready(n);
  if (is_snap) report_snapshot(from, ev.from_incarnation, to, true);
}

// ---- Client operations -------------------------------------------------------

Node* World::leader_node() {
  Node* best = nullptr;
  for (auto& [id, n] : nodes_) {
    if (!n.up || n.raw->raft().state() != raft::StateType::kLeader) continue;
    if (best == nullptr || n.raw->raft().term() > best->raw->raft().term()) best = &n;
  }
  return best;
}

void World::on_client() {
  std::vector<Node*> ups = up_nodes();
  if (ups.empty()) return;
  uint64_t roll = rng_.uniform(100);
  if (roll < 40) {
    propose(*pick(ups));
  } else if (roll < 60) {
    read(*pick(ups));
  } else if (roll < 70) {
    Node* l = leader_node();
    if (l != nullptr && !liveness_phase_) change_config(*l);
  } else if (roll < 74) {
    Node* l = leader_node();
    if (l != nullptr && !liveness_phase_) transfer(*l);
  } else if (roll < 84) {
    compact(*pick(ups));
  } else if (roll < 86 && !liveness_phase_) {
    Node& n = *pick(ups);
    if (opts_.verbose) trace("n" + str(n.id) + " campaigns");
    (void)n.raw->campaign();
    maybe_schedule_ready(n);
  }
}

void World::propose(Node& n) {
  std::string payload = "p" + str(next_payload_++);
  ++stats_.proposals;
  Status s = n.raw->propose(payload);
  if (opts_.verbose) trace("n" + str(n.id) + " propose " + payload + ": " + s.to_string());
  maybe_schedule_ready(n);
}

void World::read(Node& n) {
  std::string ctx = "r" + str(next_read_++);
  checker_.read_issued(ctx, now_);
  ++stats_.reads_issued;
  if (opts_.verbose) {
    trace("n" + str(n.id) + " read_index " + ctx + " (committed floor " +
          str(checker_.max_committed()) + ")");
  }
  if (opts_.local_reads) {
    // Test hook: a read served from whatever this member knows committed.
    uint64_t index = n.raw->raft().raft_log().committed();
    checker_.observe_read_state(n.id, ctx, index);
    return;
  }
  n.raw->read_index(ctx);
  maybe_schedule_ready(n);
}

void World::change_config(Node& l) {
  const raft::tracker::ProgressTracker& tr = l.raw->raft().tracker();
  if (tr.config.voters.joint()) return;
  const std::set<NodeId>& voter_set = tr.config.voters.incoming().ids();
  std::vector<NodeId> voters(voter_set.begin(), voter_set.end());
  std::vector<NodeId> learners(tr.config.learners.begin(), tr.config.learners.end());
  std::vector<NodeId> others;  // voters other than the leader
  for (NodeId id : voters) {
    if (id != l.id) others.push_back(id);
  }
  // A process for a new member: an idle one from an earlier attempt, or a
  // new id while the world has room (etcd never reuses a member id).
  NodeId fresh = 0;
  size_t live_processes = 0;
  for (auto& [id, n] : nodes_) {
    // Removed members that never learned it linger on (harmless, and
    // stopping them could block a member still in the joint configuration
    // that needs their vote); they do not take a slot.
    live_processes += !n.removed && !n.retired && (!n.ever_member || is_member(latest_conf_, id));
    if (fresh == 0 && n.up && !n.ever_member && voter_set.count(id) == 0 &&
        tr.config.learners.count(id) == 0) {
      fresh = id;
    }
  }
  if (fresh == 0 && live_processes < static_cast<size_t>(k_)) fresh = next_id_;

  std::vector<raftpb::ConfChangeSingle> changes;
  auto add = [&](raftpb::ConfChangeType t, NodeId id) {
    raftpb::ConfChangeSingle c;
    c.set_type(t);
    c.set_node_id(id);
    changes.push_back(c);
  };
  auto any = [&](const std::vector<NodeId>& v) { return v[rng_.uniform(v.size())]; };
  switch (rng_.uniform(7)) {
    case 0:
      if (fresh) add(raftpb::ConfChangeAddNode, fresh);
      break;
    case 1:
      if (fresh) add(raftpb::ConfChangeAddLearnerNode, fresh);
      break;
    case 2:  // promote
      if (!learners.empty()) add(raftpb::ConfChangeAddNode, any(learners));
      break;
    case 3:  // demote (never the leader: a learner leader is left to the server)
      if (!others.empty()) add(raftpb::ConfChangeAddLearnerNode, any(others));
      break;
    case 4:
      if (!learners.empty()) add(raftpb::ConfChangeRemoveNode, any(learners));
      break;
    case 5:  // any voter, the leader included (it steps down by stopping)
      add(raftpb::ConfChangeRemoveNode, any(voters));
      break;
    default:  // a joint change of two members
      if (fresh && rng_.chance(1, 2)) {
        add(raftpb::ConfChangeAddNode, fresh);
        add(raftpb::ConfChangeRemoveNode, any(voters));
      } else if (!learners.empty() && !others.empty()) {
        add(raftpb::ConfChangeAddNode, any(learners));
        add(raftpb::ConfChangeAddLearnerNode, any(others));
      } else if (fresh) {
        add(raftpb::ConfChangeAddLearnerNode, fresh);
        add(raftpb::ConfChangeAddLearnerNode, any(others.empty() ? voters : others));
      }
      break;
  }
  if (changes.empty()) return;
  bool joint = changes.size() > 1 || rng_.chance(1, 10);
  // Validate as etcd's server does before proposing (membership checks),
  // against the leader's configuration, which is the latest one: it accepts
  // a change only when none is pending.
  raft::confchange::Changer changer(tr, l.raw->raft().raft_log().last_index());
  auto out = joint ? changer.enter_joint(true, changes) : changer.simple(changes);
  if (!out.is_ok() || out->config.voters.incoming().size() < min_voters_) return;
  bool uses_fresh = false;
  for (const auto& c : changes) uses_fresh |= c.node_id() == fresh;
  if (uses_fresh && fresh == next_id_) {
    // `member add` is followed by starting the new member's process.
    Node& n = create_node(next_id_++);
    start_node(n);
  }
  ++stats_.conf_changes_proposed;
  Status s;
  if (!joint && rng_.chance(1, 2)) {
    raftpb::ConfChange v1;
    v1.set_type(changes[0].type());
    v1.set_node_id(changes[0].node_id());
    s = l.raw->propose_conf_change(v1);
  } else {
    raftpb::ConfChangeV2 v2;
    // Two changes with kAuto enter a joint configuration and leave it
    // automatically; one change needs kJointImplicit to go joint.
    v2.set_transition(changes.size() > 1 && rng_.chance(1, 2)
                          ? raftpb::ConfChangeTransitionAuto
                          : (joint ? raftpb::ConfChangeTransitionJointImplicit
                                   : raftpb::ConfChangeTransitionAuto));
    for (const auto& c : changes) *v2.add_changes() = c;
    s = l.raw->propose_conf_change(v2);
  }
  if (opts_.verbose) {
    std::vector<raftpb::ConfChangeSingle> shown = changes;
    trace("n" + str(l.id) + " proposes conf change " + (joint ? "joint " : "") +
          raft::confchange::describe_changes(shown) + " on " + tr.config.to_string() + ": " +
          s.to_string());
  }
  maybe_schedule_ready(l);
}

void World::transfer(Node& l) {
  std::vector<NodeId> others;
  for (NodeId id : l.raw->raft().tracker().config.voters.incoming().ids()) {
    if (id != l.id) others.push_back(id);
  }
  if (others.empty()) return;
  NodeId to = others[rng_.uniform(others.size())];
  ++stats_.transfers;
  if (opts_.verbose) trace("n" + str(l.id) + " transfers leadership to " + str(to));
  l.raw->transfer_leader(to);
  maybe_schedule_ready(l);
}

void World::compact(Node& n) {
  uint64_t snap = n.storage->snapshot()->metadata().index();
  uint64_t offset = n.storage->first_index()->value() - 1;  // <= snap
  if (n.applied <= snap) return;
  // Snapshot the state machine at its applied index, then discard a random
  // part of the log before it (etcd keeps some entries for slow followers):
  // production's ReadyLoop::snapshot, which saves the snapshot file and its
  // WAL marker (synced) before it releases the WAL and compacts the log.
  uint64_t s = n.applied;
  uint64_t c = offset + 1 + rng_.uniform(s - offset);
  Status st = n.loop->snapshot(s, n.conf_state, encode_state(n.payloads), s - c);
  if (dead(n)) {
    crash(n, "crash before fsync of a snapshot");
    return;
  }
  if (!st.is_ok()) {
    checker_.fail("model", "snapshot on " + str(n.id) + ": " + st.to_string());
    return;
  }
  ++stats_.snapshots_taken;
  if (opts_.verbose) {
    trace("n" + str(n.id) + " snapshot at " + str(s) + ", log compacted to " + str(c));
  }
}

// ---- Faults ------------------------------------------------------------------

void World::on_fault() {
  uint64_t roll = rng_.uniform(100);
  if (roll < 18) {
    crash_some(false);
  } else if (roll < 28) {
    crash_some(true);
  } else if (roll < 50) {
    restart_some();
  } else if (roll < 60) {
    // Two sides, each member on a random one.
    blocked_.clear();
    std::map<NodeId, bool> side;
    for (auto& [id, n] : nodes_) side[id] = rng_.chance(1, 2);
    for (auto& [a, sa] : side) {
      for (auto& [b, sb] : side) {
        if (sa != sb) blocked_.insert({a, b});
      }
    }
    count(FaultKind::kPartition);
    if (opts_.verbose) trace("partition: " + str(blocked_.size()) + " links cut");
  } else if (roll < 68) {
    blocked_.clear();
    for (auto& [a, na] : nodes_) {
      for (auto& [b, nb] : nodes_) {
        if (a != b && rng_.chance(1, 4)) blocked_.insert({a, b});
      }
    }
    count(FaultKind::kAsymmetric);
    if (opts_.verbose)
      trace("asymmetric partition: " + str(blocked_.size()) + " one-way links cut");
  } else if (roll < 76) {
    std::vector<Node*> ups = up_nodes();
    if (ups.empty()) return;
    NodeId x = pick(ups)->id;
    for (auto& [id, n] : nodes_) {
      if (id == x) continue;
      blocked_.insert({x, id});
      blocked_.insert({id, x});
    }
    count(FaultKind::kIsolate);
    if (opts_.verbose) trace("isolate n" + str(x));
  } else if (roll < 90) {
    heal();
  } else {
    new_weather(false);
    count(FaultKind::kWeather);
  }
}

void World::heal() {
  blocked_.clear();
  count(FaultKind::kHeal);
  if (opts_.verbose) trace("network healed");
}

void World::new_weather(bool calm) {
  // Zeros are listed twice: calm spells let the cluster make progress
  // between storms.
  static constexpr uint64_t kDrop[] = {0, 0, 1, 5, 15, 30};
  static constexpr uint64_t kDup[] = {0, 0, 1, 5};
  static constexpr uint64_t kDelay[] = {0, 0, 2, 10, 25};
  if (calm) {
    drop_pct_ = dup_pct_ = delay_pct_ = 0;
  } else {
    drop_pct_ = kDrop[rng_.uniform(std::size(kDrop))];
    dup_pct_ = kDup[rng_.uniform(std::size(kDup))];
    delay_pct_ = kDelay[rng_.uniform(std::size(kDelay))];
  }
  if (opts_.verbose) {
    trace("weather: drop " + str(drop_pct_) + "% dup " + str(dup_pct_) + "% delay " +
          str(delay_pct_) + "%");
  }
}

void World::crash_some(bool in_ready) {
  std::vector<Node*> ups;
  for (Node* n : up_nodes()) {
    if (!n->crash_in_ready) ups.push_back(n);
  }
  if (ups.empty()) return;
  // Mostly keep a majority of the world up, so the fault phase still makes
  // progress; sometimes take the majority down too.
  if (down_members() + 1 > static_cast<uint64_t>(k_ / 2) && !rng_.chance(1, 10)) return;
  Node& n = *pick(ups);
  if (in_ready) {
    // The process dies at one of its next few fsyncs: in the middle of a
    // Ready or of a snapshot (between the snapshot file, its WAL marker and
    // the hard state after it), after writing and before the write is
    // durable.
    n.crash_in_ready = true;
    n.fs->crash_at_sync(1 + rng_.uniform(4));
    count(FaultKind::kCrashInReady);
    if (opts_.verbose) trace("n" + str(n.id) + " will crash before fsyncing its next Ready");
  } else {
    count(FaultKind::kCrash);
    crash(n, "killed");
  }
}

void World::restart_some() {
  std::vector<Node*> down;
  for (auto& [id, n] : nodes_) {
    if (!n.up && !n.removed) down.push_back(&n);
  }
  if (down.empty()) return;
  Node& n = *pick(down);
  count(FaultKind::kRestart);
  start_node(n);
  if (opts_.verbose && n.up) {
    const raftpb::HardState& hs = n.loop->storage().hard_state;
    trace("n" + str(n.id) + " restarts: hs=" + str(hs.term()) + "/" + str(hs.vote()) + "/" +
          str(hs.commit()) + " snap=" + str(n.loop->storage().snapshot.metadata().index()) +
          " last=" + str(n.storage->last_index()->value()));
  }
}

// ---- Liveness ------------------------------------------------------------------

void World::start_liveness_phase() {
  liveness_phase_ = true;
  if (opts_.verbose) trace("== heal: no more faults; liveness check starts");
  blocked_.clear();
  new_weather(true);
  if (opts_.never_heal) {
    // Test hook: every link stays cut, so nothing can ever commit.
    for (auto& [a, na] : nodes_) {
      for (auto& [b, nb] : nodes_) {
        if (a != b) blocked_.insert({a, b});
      }
    }
  }
  for (auto& [id, n] : nodes_) {
    n.crash_in_ready = false;
    n.fs->crash_at_sync(0);
    if (!n.up && !n.removed) start_node(n);
  }
  heal_time_ = now_;
  live_deadline_ = now_ + static_cast<uint64_t>(opts_.liveness_election_timeouts) * kElectionTick *
                              kTickInterval;
  schedule(kTickInterval, make_event(EventKind::kLiveness));
}

void World::on_liveness() {
  if (now_ > live_deadline_) {
    std::string what = "no proposal committed and applied by a leader within " +
                       str(opts_.liveness_election_timeouts) +
                       " election timeouts after the heal (all members up, no faults)";
    std::string known = known_stall();
    if (!known.empty()) {
      checker_.fail("liveness-known-limitation", what + "; " + known);
    } else {
      checker_.fail("liveness", what);
    }
    return;
  }
  if (Node* l = leader_node()) {
    std::string payload = "live" + str(next_payload_++);
    Status s = l->raw->propose(payload);
    if (opts_.verbose) trace("n" + str(l->id) + " propose " + payload + ": " + s.to_string());
    maybe_schedule_ready(*l);
  }
  schedule(kTickInterval, make_event(EventKind::kLiveness));
}

std::string World::known_stall() {
  // Raft applies a membership change when it applies its entry, not when it
  // appends it. A member that has not learned that a change committed still
  // counts votes with the older configuration, and the members that applied
  // it may no longer be allowed to campaign. Two shapes of that gap
  // (etcd-io/etcd#12359) are recognised here, and nothing else:
  //  1. an up member that is not a voter in its own, newer configuration
  //     (demoted or removed) holds a log more up-to-date than every member
  //     that may campaign: they cannot win its vote, it cannot campaign;
  //  2. (stop_removed) a member that may campaign counts the vote of a
  //     removed member that has stopped for good.
  auto is_voter = [](const Node& n) {
    return n.raw->raft().tracker().config.voters.ids().count(n.id) > 0;
  };
  auto log_pos = [](const Node& n) {
    const raft::RaftLog& log = n.raw->raft().raft_log();
    return std::make_pair(log.last_term(), log.last_index());
  };
  std::vector<Node*> voters;
  for (auto& [id, n] : nodes_) {
    if (n.up && is_voter(n)) voters.push_back(&n);
  }
  for (auto& [id, x] : nodes_) {
    if (!x.up || is_voter(x)) continue;
    bool newer_and_longer = !voters.empty();
    for (Node* v : voters) {
      newer_and_longer &= x.conf_index > v->conf_index && log_pos(x) > log_pos(*v);
    }
    if (newer_and_longer) {
      return "member " + str(id) + " is not a voter in its configuration of index " +
             str(x.conf_index) +
             " and holds the most up-to-date log, which every voter "
             "still on an older configuration needs to vote for (etcd-io/etcd#12359)";
    }
  }
  // The general shape of 1: members disagree on the configuration (some
  // applied a change the others did not learn committed) and no member that
  // may campaign can win a majority of every half of its configuration, each
  // voter granting only a candidate whose log is at least as up-to-date as
  // its own (votes cast earlier expire with the term).
  bool configs_differ = false;
  for (auto& [id, n] : nodes_) {
    for (Node* v : voters) configs_differ |= n.up && n.conf_index != v->conf_index;
  }
  auto can_win = [&](const Node& c) {
    const auto& joint = c.raw->raft().tracker().config.voters;
    for (const auto* half : {&joint.incoming(), &joint.outgoing()}) {
      if (half->ids().empty()) continue;
      size_t granted = 0;
      for (NodeId id : half->ids()) {
        auto it = nodes_.find(id);
        if (it == nodes_.end() || !it->second.up) continue;
        granted += id == c.id || log_pos(c) >= log_pos(it->second);
      }
      if (granted <= half->ids().size() / 2) return false;
    }
    return true;
  };
  bool anyone_can_win = false;
  for (Node* v : voters) anyone_can_win |= can_win(*v);
  if (configs_differ && !voters.empty() && !anyone_can_win) {
    return "the members disagree on the configuration and no member that may campaign can win "
           "the votes of every half of its own, each voter refusing a shorter log "
           "(etcd-io/etcd#12359)";
  }
  for (Node* v : voters) {
    for (NodeId id : v->raw->raft().tracker().config.voters.ids()) {
      auto it = nodes_.find(id);
      if (it != nodes_.end() && it->second.removed) {
        return "member " + str(v->id) + " still counts the vote of member " + str(id) +
               ", removed and stopped (etcd-io/etcd#12359)";
      }
    }
  }
  return "";
}

// ---- Observation -----------------------------------------------------------------

void World::observe_all() {
  for (auto& [id, n] : nodes_) {
    if (!n.up) continue;
    const raft::Raft& r = n.raw->raft();
    const raft::RaftLog& log = r.raft_log();
    if (r.state() == raft::StateType::kLeader && checker_.observe_leader(id, r.term())) {
      if (opts_.verbose) {
        trace("n" + str(id) + " is leader of term " + str(r.term()) + " (last index " +
              str(log.last_index()) + ", " + r.tracker().config.to_string() + ")");
      }
      LogView v;
      v.snapshot_index = log.first_index() - 1;
      auto st = log.term(v.snapshot_index);
      v.snapshot_term = st.is_ok() ? *st : 0;
      v.last_index = log.last_index();
      v.term_at = [&log](uint64_t i) -> uint64_t {
        auto t = log.term(i);
        return t.is_ok() ? *t : 0;
      };
      checker_.check_new_leader(id, r.term(), v);
    }
    uint64_t c = log.committed();
    if (c > n.observed_commit) {
      uint64_t lo = std::max(n.observed_commit + 1, log.first_index() - 1);
      for (uint64_t i = lo; i <= c; ++i) {
        auto t = log.term(i);
        if (t.is_ok()) checker_.observe_committed(id, i, *t, r.term());
      }
      n.observed_commit = c;
    }
  }
}

void World::full_log_check() {
  // Every log, entry by entry, against everything ever seen (log
  // matching); catches divergence that slipped past the per-Ready checks.
  for (auto& [id, n] : nodes_) {
    if (!n.up) continue;
    const raft::RaftLog& log = n.raw->raft().raft_log();
    uint64_t fi = log.first_index();
    std::optional<uint64_t> prev;
    if (auto t = log.term(fi - 1); t.is_ok()) prev = *t;
    for (const raftpb::Entry& e : log.all_entries()) {
      checker_.observe_entry(id, e.index(), e.term(), prev, digest(e));
      prev = e.term();
    }
  }
}

std::string World::cluster_state() {
  std::string s;
  for (auto& [id, n] : nodes_) {
    s += "\n    n" + str(id) + ": ";
    if (n.removed) {
      s += "removed";
      continue;
    }
    if (!n.up) {
      s += "down";
      continue;
    }
    const raft::Raft& r = n.raw->raft();
    s += std::string(raft::to_string(r.state())) + " term " + str(r.term()) + " lead " +
         str(r.lead()) + " commit " + str(r.raft_log().committed()) + " applied " + str(n.applied) +
         " last " + str(r.raft_log().last_index()) + " " + r.tracker().config.to_string();
  }
  s += "\n    links cut: " + str(blocked_.size());
  return s;
}

}  // namespace

SimResult run_simulation(const SimOptions& opts) {
  World w(opts);
  return w.run();
}

void install_abort_reporter() { std::signal(SIGABRT, on_abort); }

}  // namespace etcd::sim
