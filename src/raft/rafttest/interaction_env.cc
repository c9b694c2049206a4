#include "raft/rafttest/interaction_env.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>

#include "raft/confchange/confchange.h"

namespace etcd::raft::rafttest {
namespace {

// Rounds of `stabilize` before it gives up (a livelock would be a bug).
constexpr int kMaxStabilizeRounds = 10000;

std::string quote(const std::string& data) {
  std::string out = "\"";
  for (unsigned char c : data) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          out += static_cast<char>(c);
        } else {
          char buf[5];
          std::snprintf(buf, sizeof(buf), "\\x%02x", c);
          out += buf;
        }
    }
  }
  return out + "\"";
}

template <typename Ids>
std::string id_list(const Ids& ids) {
  std::string out = "[";
  bool first = true;
  for (uint64_t id : ids) {
    if (!first) out += ' ';
    first = false;
    out += std::to_string(id);
  }
  return out + "]";
}

std::string describe_conf_state(const raftpb::ConfState& cs) {
  return "Voters:" + id_list(cs.voters()) + " VotersOutgoing:" + id_list(cs.voters_outgoing()) +
         " Learners:" + id_list(cs.learners()) + " LearnersNext:" + id_list(cs.learners_next()) +
         " AutoLeave:" + (cs.auto_leave() ? "true" : "false");
}

std::string describe_snapshot(const raftpb::Snapshot& s) {
  return "Index:" + std::to_string(s.metadata().index()) +
         " Term:" + std::to_string(s.metadata().term()) +
         " ConfState:" + describe_conf_state(s.metadata().conf_state());
}

std::string describe_hard_state(const raftpb::HardState& hs) {
  std::string out = "Term:" + std::to_string(hs.term());
  if (hs.vote() != 0) out += " Vote:" + std::to_string(hs.vote());
  return out + " Commit:" + std::to_string(hs.commit());
}

std::string describe_entry(const raftpb::Entry& e) {
  std::string formatted;
  switch (e.type()) {
    case raftpb::EntryConfChange: {
      raftpb::ConfChange cc;
      if (cc.ParseFromString(e.data())) {
        raftpb::ConfChangeV2 v2 = as_v2(cc);
        formatted = confchange::describe_changes({v2.changes().begin(), v2.changes().end()});
      } else {
        formatted = "<malformed ConfChange>";
      }
      break;
    }
    case raftpb::EntryConfChangeV2: {
      raftpb::ConfChangeV2 cc;
      formatted = cc.ParseFromString(e.data())
                      ? confchange::describe_changes({cc.changes().begin(), cc.changes().end()})
                      : "<malformed ConfChangeV2>";
      break;
    }
    default:
      formatted = quote(e.data());
  }
  std::string out = std::to_string(e.term()) + "/" + std::to_string(e.index()) + " " +
                    raftpb::EntryType_Name(e.type());
  if (!formatted.empty()) out += " " + formatted;
  return out;
}

std::string describe_entries(const std::vector<raftpb::Entry>& ents) {
  std::string out;
  for (const auto& e : ents) out += describe_entry(e) + "\n";
  return out;
}

std::string describe_message(const raftpb::Message& m) {
  std::string out = std::to_string(m.from()) + "->" + std::to_string(m.to()) + " " +
                    raftpb::MessageType_Name(m.type()) + " Term:" + std::to_string(m.term()) +
                    " Log:" + std::to_string(m.log_term()) + "/" + std::to_string(m.index());
  if (m.reject()) out += " Rejected (Hint: " + std::to_string(m.reject_hint()) + ")";
  if (m.commit() != 0) out += " Commit:" + std::to_string(m.commit());
  if (m.entries_size() > 0) {
    out += " Entries:[";
    for (int i = 0; i < m.entries_size(); ++i) {
      if (i > 0) out += ", ";
      out += describe_entry(m.entries(i));
    }
    out += "]";
  }
  if (m.has_snapshot() && !is_empty_snap(m.snapshot())) {
    out += " Snapshot: " + describe_snapshot(m.snapshot());
  }
  if (!m.context().empty()) out += " Context:" + quote(m.context());
  return out;
}

std::string describe_ready(const Ready& rd) {
  std::string out;
  if (rd.soft_state) {
    out += "Lead:" + std::to_string(rd.soft_state->lead) +
           " State:" + to_string(rd.soft_state->raft_state) + "\n";
  }
  if (!is_empty_hard_state(rd.hard_state)) {
    out += "HardState " + describe_hard_state(rd.hard_state) + "\n";
  }
  if (!rd.read_states.empty()) {
    out += "ReadStates:\n";
    for (const auto& rs : rd.read_states) {
      out += "Index:" + std::to_string(rs.index) + " RequestCtx:" + quote(rs.request_ctx) + "\n";
    }
  }
  if (!rd.entries.empty()) out += "Entries:\n" + describe_entries(rd.entries);
  if (!is_empty_snap(rd.snapshot)) out += "Snapshot " + describe_snapshot(rd.snapshot) + "\n";
  if (!rd.committed_entries.empty()) {
    out += "CommittedEntries:\n" + describe_entries(rd.committed_entries);
  }
  if (!rd.messages.empty()) {
    out += "Messages:\n";
    for (const auto& m : rd.messages) out += describe_message(m) + "\n";
  }
  if (out.empty()) return "<empty Ready>\n";
  return std::string("Ready MustSync=") + (rd.must_sync ? "true" : "false") + ":\n" + out;
}

const char* role_name(StateType s) {
  switch (s) {
    case StateType::kFollower:
      return "follower";
    case StateType::kCandidate:
      return "candidate";
    case StateType::kPreCandidate:
      return "pre-candidate";
    case StateType::kLeader:
      return "leader";
  }
  return "?";
}

Result<uint64_t> parse_uint(const std::string& s, const std::string& what) {
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) {
    return invalid_argument("invalid " + what + ": '" + s + "'");
  }
  return v;
}

Result<bool> parse_bool(const std::string& s, const std::string& what) {
  if (s == "true") return true;
  if (s == "false") return false;
  return invalid_argument("invalid " + what + ": '" + s + "' (want true or false)");
}

// The positional (key-only, non-list) arguments, in order.
std::vector<std::string> positional(const TestData& d) {
  std::vector<std::string> out;
  for (const auto& a : d.args) {
    if (!a.has_list && a.vals.empty() && !a.key.empty()) out.push_back(a.key);
  }
  return out;
}

Result<std::vector<uint64_t>> positional_ids(const TestData& d) {
  std::vector<uint64_t> ids;
  for (const auto& p : positional(d)) {
    auto id = parse_uint(p, "node id");
    if (!id.is_ok()) return id.status();
    ids.push_back(*id);
  }
  return ids;
}

Result<std::vector<uint64_t>> list_ids(const CmdArg& a) {
  std::vector<uint64_t> ids;
  for (const auto& v : a.vals) {
    auto id = parse_uint(v, a.key.empty() ? "id" : a.key);
    if (!id.is_ok()) return id.status();
    ids.push_back(*id);
  }
  return ids;
}

Status check_known_args(const TestData& d, const std::set<std::string>& known) {
  for (const auto& a : d.args) {
    bool is_positional = !a.has_list && a.vals.empty();
    if (!is_positional && known.count(a.key) == 0) {
      return invalid_argument("unknown argument '" + a.to_string() + "'");
    }
  }
  return Status::ok();
}

Result<std::optional<raftpb::MessageType>> type_filter(const TestData& d) {
  const CmdArg* a = d.find_arg("type");
  if (a == nullptr) return std::optional<raftpb::MessageType>();
  raftpb::MessageType t;
  if (a->vals.size() != 1 || !raftpb::MessageType_Parse(a->vals[0], &t)) {
    return invalid_argument("invalid message type in '" + a->to_string() + "'");
  }
  return std::optional<raftpb::MessageType>(t);
}

}  // namespace

// The node's storage: a MemoryStorage whose snapshot() serves the latest
// applied state (so a lagging follower is caught up with the configuration
// as of now, not as of the last compaction).
class InteractionEnv::NodeStorage final : public Storage {
 public:
  explicit NodeStorage(const std::vector<raftpb::Snapshot>* history) : history_(history) {}

  Result<InitialState> initial_state() const override { return mem.initial_state(); }
  Result<std::vector<raftpb::Entry>> entries(Index lo, Index hi, uint64_t max_size) const override {
    return mem.entries(lo, hi, max_size);
  }
  Result<Term> term(Index i) const override { return mem.term(i); }
  Result<Index> last_index() const override { return mem.last_index(); }
  Result<Index> first_index() const override { return mem.first_index(); }
  Result<raftpb::Snapshot> snapshot() const override {
    if (!history_->empty() && !is_empty_snap(history_->back())) return history_->back();
    return mem.snapshot();
  }

  MemoryStorage mem;

 private:
  const std::vector<raftpb::Snapshot>* history_;
};

struct InteractionEnv::Node {
  NodeId id = kNone;
  Config config;
  // The applied states, oldest first: back() is the state machine now
  // (data: the concatenated data of applied normal entries).
  std::vector<raftpb::Snapshot> history;
  std::unique_ptr<NodeStorage> storage = std::make_unique<NodeStorage>(&history);
  std::unique_ptr<RawNode> raw;
};

struct InteractionEnv::Observation {
  StateType state = StateType::kFollower;
  uint64_t term = 0;
  std::string config;
  NodeId transferee = kNone;
  std::map<NodeId, tracker::ProgressState> progress;  // leaders only
};

InteractionEnv::InteractionEnv() = default;
InteractionEnv::~InteractionEnv() = default;

Result<std::string> InteractionEnv::handle(const TestData& d) {
  out_.clear();
  suppressed_ = false;
  indent_.clear();
  Status s;
  const std::string& c = d.cmd;
  if (c == "add-nodes") {
    s = handle_add_nodes(d);
  } else if (c == "campaign") {
    s = handle_campaign(d);
  } else if (c == "propose") {
    s = handle_propose(d);
  } else if (c == "propose-conf-change") {
    s = handle_propose_conf_change(d);
  } else if (c == "tick") {
    s = handle_tick(d);
  } else if (c == "tick-heartbeat") {
    s = handle_tick_heartbeat(d);
  } else if (c == "tick-election") {
    s = handle_tick_election(d);
  } else if (c == "process-ready") {
    s = handle_process_ready(d);
  } else if (c == "deliver-msgs") {
    s = handle_deliver_msgs(d);
  } else if (c == "drop-msgs") {
    s = handle_drop_msgs(d);
  } else if (c == "partition") {
    s = handle_partition(d);
  } else if (c == "heal") {
    heal();
  } else if (c == "stabilize") {
    s = handle_stabilize(d);
  } else if (c == "status") {
    s = handle_status(d);
  } else if (c == "raft-log") {
    s = handle_raft_log(d);
  } else if (c == "raft-state") {
    handle_raft_state();
  } else if (c == "read-index") {
    s = handle_read_index(d);
  } else if (c == "transfer-leader") {
    s = handle_transfer_leader(d);
  } else if (c == "compact") {
    s = handle_compact(d);
  } else if (c == "restart") {
    s = handle_restart(d);
  } else if (c == "report-unreachable") {
    s = handle_report_unreachable(d);
  } else if (c == "report-snapshot") {
    s = handle_report_snapshot(d);
  } else if (c == "log-level") {
    s = handle_log_level(d);
  } else {
    s = invalid_argument("unknown command '" + c + "'");
  }
  if (!s.is_ok()) return s;
  if (out_.empty()) return std::string(suppressed_ ? "ok (quiet)\n" : "ok\n");
  return out_;
}

// ---- output ----

void InteractionEnv::print(Level level, const std::string& line) {
  if (level > level_) {
    suppressed_ = true;
    return;
  }
  out_ += indent_ + line + "\n";
}

void InteractionEnv::print_block(const std::string& text) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    print(Level::kInfo, text.substr(start, end - start));
    start = end + 1;
  }
}

void InteractionEnv::report_error(const Status& s) {
  if (s.is_ok()) return;
  out_ += indent_ + "error: " + s.message() + "\n";
}

InteractionEnv::Observation InteractionEnv::observe(const Node& n) const {
  Observation o;
  const Raft& r = n.raw->raft();
  o.state = r.state();
  o.term = r.term();
  o.config = r.tracker().config.to_string();
  o.transferee = r.lead_transferee();
  if (r.state() == StateType::kLeader) {
    for (const auto& [id, pr] : r.tracker().progress) o.progress[id] = pr.state;
  }
  return o;
}

void InteractionEnv::report_changes(const Node& n, const Observation& before) {
  Observation after = observe(n);
  const std::string id = std::to_string(n.id);
  if (after.state != before.state || after.term != before.term) {
    print(Level::kInfo, "INFO " + id + " became " + role_name(after.state) + " at term " +
                            std::to_string(after.term));
  }
  if (after.config != before.config) {
    print(Level::kInfo, "INFO " + id + " switched to configuration " + after.config);
  }
  if (after.transferee != before.transferee) {
    bool still_leading = after.state == StateType::kLeader && after.term == before.term;
    if (before.transferee != kNone && still_leading) {
      print(Level::kInfo,
            "INFO " + id + " aborted leadership transfer to " + std::to_string(before.transferee));
    }
    if (after.transferee != kNone) {
      print(Level::kInfo,
            "INFO " + id + " starts to transfer leadership to " + std::to_string(after.transferee));
    }
  }
  if (before.state == StateType::kLeader && after.state == StateType::kLeader &&
      before.term == after.term) {
    for (const auto& [peer, state] : after.progress) {
      if (peer == n.id) continue;
      auto it = before.progress.find(peer);
      if (it != before.progress.end() && it->second == state) continue;
      print(Level::kDebug, "DEBUG " + id + " progress of " + std::to_string(peer) + " became " +
                               n.raw->raft().tracker().progress.at(peer).to_string());
    }
  }
}

// ---- nodes ----

Result<InteractionEnv::Node*> InteractionEnv::node(uint64_t id) {
  if (id == 0 || id > nodes_.size()) return invalid_argument("no node " + std::to_string(id));
  return nodes_[id - 1].get();
}

Status InteractionEnv::create_raw_node(Node& n) {
  n.config.id = n.id;
  n.config.storage = n.storage.get();
  n.config.applied = n.history.back().metadata().index();
  auto raw = RawNode::create(n.config);
  if (!raw.is_ok()) return raw.status();
  n.raw = std::move(raw).value();
  const Raft& r = n.raw->raft();
  print(Level::kInfo, "INFO " + std::to_string(n.id) + " starts: term=" + std::to_string(r.term()) +
                          " vote=" + std::to_string(r.vote()) +
                          " commit=" + std::to_string(r.raft_log().committed()) +
                          " applied=" + std::to_string(r.raft_log().applied()) +
                          " lastindex=" + std::to_string(r.raft_log().last_index()) +
                          " lastterm=" + std::to_string(r.raft_log().last_term()) + " " +
                          r.tracker().config.to_string());
  return Status::ok();
}

Status InteractionEnv::handle_add_nodes(const TestData& d) {
  RETURN_IF_ERROR(check_known_args(
      d, {"voters", "learners", "index", "content", "election-tick", "heartbeat-tick", "prevote",
          "checkquorum", "max-inflight", "max-msg-size", "max-uncommitted-size",
          "max-committed-size-per-ready", "read-only", "disable-forwarding"}));
  auto pos = positional(d);
  if (pos.size() != 1) return invalid_argument("add-nodes needs the number of nodes");
  auto count = parse_uint(pos[0], "node count");
  if (!count.is_ok()) return count.status();

  Config cfg;
  cfg.election_tick = 3;
  cfg.heartbeat_tick = 1;
  cfg.pre_vote = false;
  cfg.check_quorum = false;
  cfg.max_inflight_msgs = 256;
  cfg.max_size_per_msg = kNoLimit;
  cfg.max_committed_size_per_ready = kNoLimit;
  cfg.seed = 1;
  raftpb::Snapshot snap;
  bool bootstrap = false;
  uint64_t index = 1;
  for (const auto& a : d.args) {
    if (a.vals.empty()) continue;
    const std::string& v = a.vals[0];
    auto num = [&](uint64_t* out) -> Status {
      auto r = parse_uint(v, a.key);
      if (!r.is_ok()) return r.status();
      *out = *r;
      return Status::ok();
    };
    auto flag = [&](bool* out) -> Status {
      auto r = parse_bool(v, a.key);
      if (!r.is_ok()) return r.status();
      *out = *r;
      return Status::ok();
    };
    uint64_t tmp = 0;
    if (a.key == "voters" || a.key == "learners") {
      auto ids = list_ids(a);
      if (!ids.is_ok()) return ids.status();
      for (uint64_t id : *ids) {
        auto* cs = snap.mutable_metadata()->mutable_conf_state();
        if (a.key == "voters") {
          cs->add_voters(id);
        } else {
          cs->add_learners(id);
        }
      }
      bootstrap = true;
    } else if (a.key == "index") {
      RETURN_IF_ERROR(num(&index));
      if (index == 0) return invalid_argument("index must be at least 1");
    } else if (a.key == "content") {
      snap.set_data(v);
    } else if (a.key == "election-tick") {
      RETURN_IF_ERROR(num(&tmp));
      cfg.election_tick = static_cast<int>(tmp);
    } else if (a.key == "heartbeat-tick") {
      RETURN_IF_ERROR(num(&tmp));
      cfg.heartbeat_tick = static_cast<int>(tmp);
    } else if (a.key == "prevote") {
      RETURN_IF_ERROR(flag(&cfg.pre_vote));
    } else if (a.key == "checkquorum") {
      RETURN_IF_ERROR(flag(&cfg.check_quorum));
    } else if (a.key == "max-inflight") {
      RETURN_IF_ERROR(num(&tmp));
      cfg.max_inflight_msgs = tmp;
    } else if (a.key == "max-msg-size") {
      RETURN_IF_ERROR(num(&tmp));
      cfg.max_size_per_msg = tmp == 0 ? kNoLimit : tmp;
    } else if (a.key == "max-uncommitted-size") {
      RETURN_IF_ERROR(num(&cfg.max_uncommitted_entries_size));
    } else if (a.key == "max-committed-size-per-ready") {
      RETURN_IF_ERROR(num(&tmp));
      cfg.max_committed_size_per_ready = tmp == 0 ? kNoLimit : tmp;
    } else if (a.key == "read-only") {
      if (v == "safe") {
        cfg.read_only_option = ReadOnlyOption::kSafe;
      } else if (v == "lease-based") {
        cfg.read_only_option = ReadOnlyOption::kLeaseBased;
      } else {
        return invalid_argument("read-only must be safe or lease-based");
      }
    } else if (a.key == "disable-forwarding") {
      RETURN_IF_ERROR(flag(&cfg.disable_proposal_forwarding));
    }
  }
  if (bootstrap) {
    snap.mutable_metadata()->set_index(index);
    snap.mutable_metadata()->set_term(1);
  } else if (d.find_arg("index") != nullptr || d.find_arg("content") != nullptr) {
    return invalid_argument("index and content need voters or learners");
  }
  for (uint64_t i = 0; i < *count; ++i) {
    auto n = std::make_unique<Node>();
    n->id = nodes_.size() + 1;
    n->config = cfg;
    if (bootstrap) {
      Status s = n->storage->mem.apply_snapshot(snap);
      if (!s.is_ok()) return s;
    }
    n->history.push_back(snap);
    RETURN_IF_ERROR(create_raw_node(*n));
    nodes_.push_back(std::move(n));
  }
  return Status::ok();
}

Status InteractionEnv::handle_restart(const TestData& d) {
  auto ids = positional_ids(d);
  if (!ids.is_ok()) return ids.status();
  if (ids->size() != 1) return invalid_argument("restart needs one node id");
  auto n = node((*ids)[0]);
  if (!n.is_ok()) return n.status();
  Node& nd = **n;
  nd.raw.reset();
  // Only what was persisted survives: the state machine restarts from the
  // storage's snapshot and re-applies the committed entries after it.
  auto snap = nd.storage->mem.snapshot();
  if (!snap.is_ok()) return snap.status();
  nd.history.assign(1, *snap);
  return create_raw_node(nd);
}

// ---- inputs ----

Status InteractionEnv::handle_campaign(const TestData& d) {
  auto ids = positional_ids(d);
  if (!ids.is_ok()) return ids.status();
  for (uint64_t id : *ids) {
    auto n = node(id);
    if (!n.is_ok()) return n.status();
    Observation before = observe(**n);
    report_error((*n)->raw->campaign());
    report_changes(**n, before);
  }
  return Status::ok();
}

Status InteractionEnv::handle_propose(const TestData& d) {
  auto pos = positional(d);
  if (pos.size() != 2) return invalid_argument("propose needs a node id and data");
  auto id = parse_uint(pos[0], "node id");
  if (!id.is_ok()) return id.status();
  auto n = node(*id);
  if (!n.is_ok()) return n.status();
  Observation before = observe(**n);
  report_error((*n)->raw->propose(pos[1]));
  report_changes(**n, before);
  return Status::ok();
}

Status InteractionEnv::handle_propose_conf_change(const TestData& d) {
  RETURN_IF_ERROR(check_known_args(d, {"v1", "transition"}));
  auto ids = positional_ids(d);
  if (!ids.is_ok()) return ids.status();
  if (ids->size() != 1) return invalid_argument("propose-conf-change needs one node id");
  auto n = node((*ids)[0]);
  if (!n.is_ok()) return n.status();
  bool v1 = false;
  raftpb::ConfChangeTransition transition = raftpb::ConfChangeTransitionAuto;
  if (const CmdArg* a = d.find_arg("v1")) {
    auto b = parse_bool(a->vals.at(0), "v1");
    if (!b.is_ok()) return b.status();
    v1 = *b;
  }
  if (const CmdArg* a = d.find_arg("transition")) {
    const std::string& t = a->vals.at(0);
    if (t == "auto") {
      transition = raftpb::ConfChangeTransitionAuto;
    } else if (t == "implicit") {
      transition = raftpb::ConfChangeTransitionJointImplicit;
    } else if (t == "explicit") {
      transition = raftpb::ConfChangeTransitionJointExplicit;
    } else {
      return invalid_argument("unknown transition " + t);
    }
  }
  auto changes = confchange::parse_changes(d.input);
  if (!changes.is_ok()) return changes.status();
  Observation before = observe(**n);
  if (v1) {
    if (changes->size() != 1 || transition != raftpb::ConfChangeTransitionAuto) {
      return invalid_argument("a v1 conf change has exactly one change and no transition");
    }
    raftpb::ConfChange cc;
    cc.set_type((*changes)[0].type());
    cc.set_node_id((*changes)[0].node_id());
    report_error((*n)->raw->propose_conf_change(cc));
  } else {
    raftpb::ConfChangeV2 cc;
    cc.set_transition(transition);
    for (const auto& c : *changes) *cc.add_changes() = c;
    report_error((*n)->raw->propose_conf_change(cc));
  }
  report_changes(**n, before);
  return Status::ok();
}

void InteractionEnv::tick(Node& n, int times) {
  for (int i = 0; i < times; ++i) {
    Observation before = observe(n);
    n.raw->tick();
    report_changes(n, before);
  }
}

Status InteractionEnv::handle_tick(const TestData& d) {
  auto pos = positional(d);
  if (pos.size() != 2) return invalid_argument("tick needs a node id and a count");
  auto id = parse_uint(pos[0], "node id");
  if (!id.is_ok()) return id.status();
  auto count = parse_uint(pos[1], "tick count");
  if (!count.is_ok()) return count.status();
  auto n = node(*id);
  if (!n.is_ok()) return n.status();
  tick(**n, static_cast<int>(*count));
  return Status::ok();
}

Status InteractionEnv::handle_tick_heartbeat(const TestData& d) {
  auto ids = positional_ids(d);
  if (!ids.is_ok()) return ids.status();
  for (uint64_t id : *ids) {
    auto n = node(id);
    if (!n.is_ok()) return n.status();
    tick(**n, (*n)->config.heartbeat_tick);
  }
  return Status::ok();
}

Status InteractionEnv::handle_tick_election(const TestData& d) {
  auto ids = positional_ids(d);
  if (!ids.is_ok()) return ids.status();
  for (uint64_t id : *ids) {
    auto n = node(id);
    if (!n.is_ok()) return n.status();
    const Raft& r = (*n)->raw->raft();
    int timeout = r.state() == StateType::kLeader ? (*n)->config.election_tick
                                                  : r.randomized_election_timeout();
    tick(**n, std::max(1, timeout - r.election_elapsed()));
  }
  return Status::ok();
}

Status InteractionEnv::handle_read_index(const TestData& d) {
  auto pos = positional(d);
  if (pos.size() != 2) return invalid_argument("read-index needs a node id and a context");
  auto id = parse_uint(pos[0], "node id");
  if (!id.is_ok()) return id.status();
  auto n = node(*id);
  if (!n.is_ok()) return n.status();
  Observation before = observe(**n);
  (*n)->raw->read_index(pos[1]);
  report_changes(**n, before);
  return Status::ok();
}

Status InteractionEnv::handle_transfer_leader(const TestData& d) {
  auto ids = positional_ids(d);
  if (!ids.is_ok()) return ids.status();
  if (ids->size() != 2) return invalid_argument("transfer-leader needs a node id and a target");
  auto n = node((*ids)[0]);
  if (!n.is_ok()) return n.status();
  Observation before = observe(**n);
  (*n)->raw->transfer_leader((*ids)[1]);
  report_changes(**n, before);
  return Status::ok();
}

Status InteractionEnv::handle_report_unreachable(const TestData& d) {
  auto ids = positional_ids(d);
  if (!ids.is_ok()) return ids.status();
  if (ids->size() != 2) return invalid_argument("report-unreachable needs a node id and a peer");
  auto n = node((*ids)[0]);
  if (!n.is_ok()) return n.status();
  Observation before = observe(**n);
  (*n)->raw->report_unreachable((*ids)[1]);
  report_changes(**n, before);
  return Status::ok();
}

Status InteractionEnv::handle_report_snapshot(const TestData& d) {
  auto pos = positional(d);
  if (pos.size() != 2 && !(pos.size() == 3 && pos[2] == "failure")) {
    return invalid_argument("report-snapshot needs a node id, a peer and optionally 'failure'");
  }
  auto id = parse_uint(pos[0], "node id");
  if (!id.is_ok()) return id.status();
  auto peer = parse_uint(pos[1], "peer id");
  if (!peer.is_ok()) return peer.status();
  auto n = node(*id);
  if (!n.is_ok()) return n.status();
  Observation before = observe(**n);
  (*n)->raw->report_snapshot(*peer,
                             pos.size() == 3 ? SnapshotStatus::kFailure : SnapshotStatus::kFinish);
  report_changes(**n, before);
  return Status::ok();
}

// ---- Ready handling and the network ----

void InteractionEnv::process_ready(Node& n) {
  Ready rd = n.raw->ready();
  print_block(describe_ready(rd));
  MemoryStorage& mem = n.storage->mem;
  // Persist: the snapshot first (entries may follow it), then the entries,
  // then the hard state (its commit index must be covered by the log).
  if (!is_empty_snap(rd.snapshot)) {
    report_error(mem.apply_snapshot(rd.snapshot));
    n.history.push_back(rd.snapshot);
  }
  report_error(mem.append(rd.entries));
  if (!is_empty_hard_state(rd.hard_state)) mem.set_hard_state(rd.hard_state);

  // Apply: the state machine appends data; conf changes go to the node.
  Observation before = observe(n);
  for (const auto& e : rd.committed_entries) {
    raftpb::Snapshot next = n.history.back();
    next.mutable_metadata()->set_index(e.index());
    next.mutable_metadata()->set_term(e.term());
    if (e.type() == raftpb::EntryConfChange) {
      raftpb::ConfChange cc;
      if (!cc.ParseFromString(e.data())) {
        report_error(internal_error("malformed ConfChange at " + std::to_string(e.index())));
        continue;
      }
      *next.mutable_metadata()->mutable_conf_state() = n.raw->apply_conf_change(cc);
    } else if (e.type() == raftpb::EntryConfChangeV2) {
      raftpb::ConfChangeV2 cc;
      if (!cc.ParseFromString(e.data())) {
        report_error(internal_error("malformed ConfChangeV2 at " + std::to_string(e.index())));
        continue;
      }
      *next.mutable_metadata()->mutable_conf_state() = n.raw->apply_conf_change(cc);
    } else {
      next.set_data(next.data() + e.data());
    }
    n.history.push_back(std::move(next));
  }
  for (const auto& m : rd.messages) msgs_.push_back(m);
  n.raw->advance(rd);
  report_changes(n, before);
}

Status InteractionEnv::handle_process_ready(const TestData& d) {
  auto ids = positional_ids(d);
  if (!ids.is_ok()) return ids.status();
  for (uint64_t id : *ids) {
    auto n = node(id);
    if (!n.is_ok()) return n.status();
    if (ids->size() > 1) print(Level::kInfo, "> " + std::to_string(id) + " handling Ready");
    std::string saved = indent_;
    if (ids->size() > 1) indent_ += "  ";
    process_ready(**n);
    indent_ = saved;
  }
  return Status::ok();
}

bool InteractionEnv::connected(NodeId from, NodeId to) const {
  if (group_.empty()) return true;
  auto group_of = [this](NodeId id) {
    auto it = group_.find(id);
    return it == group_.end() ? -1 : it->second;  // -1: the unlisted nodes
  };
  return group_of(from) == group_of(to);
}

size_t InteractionEnv::deliver(NodeId to, bool drop, const MsgFilter& filter) {
  std::vector<raftpb::Message> mine;
  std::deque<raftpb::Message> rest;
  for (auto& m : msgs_) {
    bool from_ok = filter.from.empty() || filter.from.count(m.from()) > 0;
    if (m.to() == to && from_ok && (!filter.type || m.type() == *filter.type)) {
      mine.push_back(std::move(m));
    } else {
      rest.push_back(std::move(m));
    }
  }
  msgs_ = std::move(rest);
  for (const auto& m : mine) {
    bool exists = to >= 1 && to <= nodes_.size();
    if (drop || !exists || !connected(m.from(), to)) {
      print(Level::kInfo, "dropped: " + describe_message(m));
      continue;
    }
    print(Level::kInfo, describe_message(m));
    Node& n = *nodes_[to - 1];
    Observation before = observe(n);
    report_error(n.raw->step(m));
    report_changes(n, before);
  }
  return mine.size();
}

Status InteractionEnv::handle_deliver_msgs(const TestData& d) {
  RETURN_IF_ERROR(check_known_args(d, {"drop", "type", "from"}));
  auto ids = positional_ids(d);
  if (!ids.is_ok()) return ids.status();
  auto type = type_filter(d);
  if (!type.is_ok()) return type.status();
  MsgFilter filter;
  filter.type = *type;
  if (const CmdArg* a = d.find_arg("from")) {
    auto l = list_ids(*a);
    if (!l.is_ok()) return l.status();
    filter.from.insert(l->begin(), l->end());
  }
  std::vector<uint64_t> drop;
  if (const CmdArg* a = d.find_arg("drop")) {
    auto l = list_ids(*a);
    if (!l.is_ok()) return l.status();
    drop = *l;
  }
  for (uint64_t id : drop) {
    if (std::find(ids->begin(), ids->end(), id) != ids->end()) {
      return invalid_argument("cannot both deliver and drop messages to " + std::to_string(id));
    }
  }
  std::vector<uint64_t> targets = *ids;
  if (targets.empty() && drop.empty()) {
    for (const auto& n : nodes_) targets.push_back(n->id);
  }
  size_t handled = 0;
  for (uint64_t id : targets) handled += deliver(id, false, filter);
  for (uint64_t id : drop) handled += deliver(id, true, filter);
  if (handled == 0) print(Level::kInfo, "no messages");
  return Status::ok();
}

Status InteractionEnv::handle_drop_msgs(const TestData& d) {
  RETURN_IF_ERROR(check_known_args(d, {"from", "to", "type"}));
  if (!positional(d).empty()) return invalid_argument("drop-msgs takes only from=, to=, type=");
  auto type = type_filter(d);
  if (!type.is_ok()) return type.status();
  std::optional<std::vector<uint64_t>> from;
  std::optional<std::vector<uint64_t>> to;
  if (const CmdArg* a = d.find_arg("from")) {
    auto l = list_ids(*a);
    if (!l.is_ok()) return l.status();
    from = *l;
  }
  if (const CmdArg* a = d.find_arg("to")) {
    auto l = list_ids(*a);
    if (!l.is_ok()) return l.status();
    to = *l;
  }
  auto in = [](const std::optional<std::vector<uint64_t>>& set, uint64_t id) {
    return !set || std::find(set->begin(), set->end(), id) != set->end();
  };
  std::deque<raftpb::Message> rest;
  size_t dropped = 0;
  for (auto& m : msgs_) {
    if (in(from, m.from()) && in(to, m.to()) && (!*type || m.type() == **type)) {
      print(Level::kInfo, "dropped: " + describe_message(m));
      ++dropped;
    } else {
      rest.push_back(std::move(m));
    }
  }
  msgs_ = std::move(rest);
  if (dropped == 0) print(Level::kInfo, "no messages");
  return Status::ok();
}

Status InteractionEnv::handle_partition(const TestData& d) {
  std::map<NodeId, int> groups;
  int g = 0;
  for (const auto& a : d.args) {
    if (!a.key.empty() || !a.has_list) {
      return invalid_argument("partition takes groups like (1 2) (3)");
    }
    auto ids = list_ids(a);
    if (!ids.is_ok()) return ids.status();
    for (uint64_t id : *ids) {
      if (!groups.emplace(id, g).second) {
        return invalid_argument("node " + std::to_string(id) + " is in two groups");
      }
    }
    ++g;
  }
  if (groups.empty()) return invalid_argument("partition needs at least one group");
  group_ = std::move(groups);
  return Status::ok();
}

void InteractionEnv::heal() {
  // Messages sent across the partition while it stood are lost, not delayed.
  std::deque<raftpb::Message> rest;
  for (auto& m : msgs_) {
    if (connected(m.from(), m.to())) {
      rest.push_back(std::move(m));
    } else {
      print(Level::kInfo, "dropped: " + describe_message(m));
    }
  }
  msgs_ = std::move(rest);
  group_.clear();
}

Status InteractionEnv::handle_stabilize(const TestData& d) {
  auto ids = positional_ids(d);
  if (!ids.is_ok()) return ids.status();
  std::vector<Node*> set;
  for (uint64_t id : *ids) {
    auto n = node(id);
    if (!n.is_ok()) return n.status();
    set.push_back(*n);
  }
  if (set.empty()) {
    for (auto& n : nodes_) set.push_back(n.get());
  }
  for (int round = 0; round < kMaxStabilizeRounds; ++round) {
    bool done = true;
    for (Node* n : set) {
      if (!n->raw->has_ready()) continue;
      done = false;
      print(Level::kInfo, "> " + std::to_string(n->id) + " handling Ready");
      indent_ = "  ";
      process_ready(*n);
      indent_.clear();
    }
    for (Node* n : set) {
      bool any = std::any_of(msgs_.begin(), msgs_.end(),
                             [n](const raftpb::Message& m) { return m.to() == n->id; });
      if (!any) continue;
      done = false;
      print(Level::kInfo, "> " + std::to_string(n->id) + " receiving messages");
      indent_ = "  ";
      deliver(n->id, false, MsgFilter());
      indent_.clear();
    }
    if (done) return Status::ok();
  }
  report_error(internal_error("stabilize did not converge"));
  return Status::ok();
}

// ---- inspection ----

Status InteractionEnv::handle_status(const TestData& d) {
  auto ids = positional_ids(d);
  if (!ids.is_ok()) return ids.status();
  if (ids->size() != 1) return invalid_argument("status needs one node id");
  auto n = node((*ids)[0]);
  if (!n.is_ok()) return n.status();
  const Raft& r = (*n)->raw->raft();
  std::string line = std::string(to_string(r.state())) + " Term:" + std::to_string(r.term()) +
                     " Vote:" + std::to_string(r.vote()) + " Lead:" + std::to_string(r.lead()) +
                     " Commit:" + std::to_string(r.raft_log().committed()) +
                     " Applied:" + std::to_string(r.raft_log().applied()) +
                     " LastIndex:" + std::to_string(r.raft_log().last_index());
  if (r.lead_transferee() != kNone)
    line += " LeadTransferee:" + std::to_string(r.lead_transferee());
  print(Level::kInfo, line);
  print(Level::kInfo, "config: " + r.tracker().config.to_string());
  if (r.state() == StateType::kLeader) print_block(tracker::to_string(r.tracker().progress));
  return Status::ok();
}

Status InteractionEnv::handle_raft_log(const TestData& d) {
  auto ids = positional_ids(d);
  if (!ids.is_ok()) return ids.status();
  if (ids->size() != 1) return invalid_argument("raft-log needs one node id");
  auto n = node((*ids)[0]);
  if (!n.is_ok()) return n.status();
  const MemoryStorage& mem = (*n)->storage->mem;
  uint64_t fi = mem.first_index()->value();
  uint64_t li = mem.last_index()->value();
  if (li < fi) {
    print(Level::kInfo,
          "log is empty: first index=" + std::to_string(fi) + ", last index=" + std::to_string(li));
    return Status::ok();
  }
  auto ents = mem.entries(Index(fi), Index(li + 1), kNoLimit);
  if (!ents.is_ok()) return ents.status();
  print_block(describe_entries(*ents));
  return Status::ok();
}

void InteractionEnv::handle_raft_state() {
  for (const auto& n : nodes_) {
    const Raft& r = n->raw->raft();
    const auto& cfg = r.tracker().config;
    const char* membership = cfg.voters.ids().count(n->id) > 0 ? "Voter"
                             : cfg.learners.count(n->id) > 0   ? "Learner"
                                                               : "Non-Voter";
    print(Level::kInfo, std::to_string(n->id) + ": " + to_string(r.state()) + " (" + membership +
                            ") Term:" + std::to_string(r.term()) +
                            " Lead:" + std::to_string(r.lead()));
  }
}

Status InteractionEnv::handle_compact(const TestData& d) {
  auto ids = positional_ids(d);
  if (!ids.is_ok()) return ids.status();
  if (ids->size() != 2) return invalid_argument("compact needs a node id and an index");
  auto n = node((*ids)[0]);
  if (!n.is_ok()) return n.status();
  uint64_t index = (*ids)[1];
  const raftpb::Snapshot* state = nullptr;
  for (const auto& s : (*n)->history) {
    if (s.metadata().index() == index) state = &s;
  }
  if (state == nullptr) {
    return invalid_argument("node " + std::to_string((*ids)[0]) + " has not applied index " +
                            std::to_string(index));
  }
  MemoryStorage& mem = (*n)->storage->mem;
  auto snap = mem.create_snapshot(Index(index), &state->metadata().conf_state(), state->data());
  if (!snap.is_ok()) {
    report_error(snap.status());
    return Status::ok();
  }
  report_error(mem.compact(Index(index)));
  TestData log_cmd;
  log_cmd.args.push_back(CmdArg{std::to_string((*ids)[0]), {}, false});
  return handle_raft_log(log_cmd);
}

Status InteractionEnv::handle_log_level(const TestData& d) {
  auto pos = positional(d);
  if (pos.size() != 1) return invalid_argument("log-level needs a level");
  std::string l = pos[0];
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return std::tolower(c); });
  if (l == "debug") {
    level_ = Level::kDebug;
  } else if (l == "info") {
    level_ = Level::kInfo;
  } else if (l == "none" || l == "warn" || l == "error") {
    level_ = Level::kNone;
  } else {
    return invalid_argument("log levels are none, error, warn, info and debug");
  }
  return Status::ok();
}

}  // namespace etcd::raft::rafttest
