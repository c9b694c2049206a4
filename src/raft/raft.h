// The Raft state machine (Ongaro's thesis; etcd raft's design). Pure: it is
// driven by step() and tick(), reads its log from a Storage, and leaves its
// output (messages to send, entries to persist, read states) in fields the
// RawNode collects into a Ready. No threads, no I/O, no clock.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/rng.h"
#include "base/status.h"
#include "raft/raft_log.h"
#include "raft/read_only.h"
#include "raft/tracker/tracker.h"
#include "raft/types.h"

namespace etcd::raft {

enum class StateType { kFollower, kCandidate, kLeader, kPreCandidate };
const char* to_string(StateType s);  // "StateFollower", ...

// Returned by step() when a proposal cannot be accepted (no leader, a
// leadership transfer in progress, forwarding disabled, or the uncommitted
// tail is too large); etcd's server maps it to a retry.
Status err_proposal_dropped();
bool is_proposal_dropped(const Status& s);
Status err_step_local_msg();
Status err_step_peer_not_found();

struct Config {
  NodeId id = kNone;
  // Ticks without hearing from a leader before a follower campaigns; the
  // actual timeout is random in [election_tick, 2 * election_tick).
  int election_tick = 10;
  // Ticks between leader heartbeats.
  int heartbeat_tick = 1;
  const Storage* storage = nullptr;
  // The last index the application applied (on restart).
  uint64_t applied = 0;
  // Bytes of entries per MsgApp (0: one entry per message).
  uint64_t max_size_per_msg = 1024 * 1024;
  // Bytes of committed entries per Ready (0: max_size_per_msg).
  uint64_t max_committed_size_per_ready = 0;
  // Bytes of proposed but uncommitted entries the leader accepts (0: no limit).
  uint64_t max_uncommitted_entries_size = 0;
  // In-flight MsgApp per follower in the replicate state.
  size_t max_inflight_msgs = 256;
  // A leader steps down when it has not heard from a quorum for an
  // election timeout (thesis 6.2); on by default as in etcd 3.5's server.
  bool check_quorum = true;
  // Pre-vote (thesis 9.6); on by default as in etcd 3.5's server.
  bool pre_vote = true;
  ReadOnlyOption read_only_option = ReadOnlyOption::kSafe;
  bool disable_proposal_forwarding = false;
  // Seeds the randomized election timeout.
  uint64_t seed = 0;
  // Receives etcd raft's info-level lines ("8e9e05c52164694d became leader
  // at term 2", ...), worded as etcd's so that operators' log searches
  // work; unset: silent. Called on the thread that drives this Raft.
  std::function<void(const std::string&)> logger;

  Status validate();
};

struct SoftState {
  NodeId lead = kNone;
  StateType raft_state = StateType::kFollower;
  bool operator==(const SoftState&) const = default;
};

bool is_empty_hard_state(const raftpb::HardState& hs);
bool is_empty_snap(const raftpb::Snapshot& s);
bool hard_state_equal(const raftpb::HardState& a, const raftpb::HardState& b);

// A ConfChange (v1) in the v2 form.
raftpb::ConfChangeV2 as_v2(const raftpb::ConfChange& cc);

class Raft {
 public:
  explicit Raft(Config c);

  // Feeds one message (local or from a peer).
  Status step(raftpb::Message m);
  // Advances the logical clock by one tick.
  void tick();

  // Applies a committed configuration change; returns the new ConfState.
  raftpb::ConfState apply_conf_change(const raftpb::ConfChangeV2& cc);
  // Called by the RawNode after the application handled a Ready.
  void advance(uint64_t applied_cursor, const std::vector<raftpb::Entry>& persisted_entries,
               const raftpb::Snapshot& persisted_snapshot,
               const std::vector<raftpb::Entry>& committed_entries);

  SoftState soft_state() const { return {lead_, state_}; }
  raftpb::HardState hard_state() const;

  NodeId id() const { return id_; }
  uint64_t term() const { return term_; }
  NodeId vote() const { return vote_; }
  NodeId lead() const { return lead_; }
  StateType state() const { return state_; }
  bool is_learner() const { return is_learner_; }
  NodeId lead_transferee() const { return lead_transferee_; }
  const RaftLog& raft_log() const { return raft_log_; }
  RaftLog& mutable_raft_log() { return raft_log_; }
  const tracker::ProgressTracker& tracker() const { return prs_; }
  uint64_t pending_conf_index() const { return pending_conf_index_; }
  uint64_t uncommitted_size() const { return uncommitted_size_; }
  int election_elapsed() const { return election_elapsed_; }
  int randomized_election_timeout() const { return randomized_election_timeout_; }

  // Output collected by the RawNode.
  std::vector<raftpb::Message>& msgs() { return msgs_; }
  std::vector<ReadState>& read_states() { return read_states_; }

  // Test hooks: become_* as the thesis' role transitions.
  void become_follower(uint64_t term, NodeId lead);
  void become_candidate();
  void become_pre_candidate();
  void become_leader();

 private:
  enum class CampaignType { kPreElection, kElection, kTransfer };

  // The progress of a member that must be in the configuration.
  tracker::Progress& progress_of(NodeId id);
  void send(raftpb::Message m);
  void send_append(NodeId to) { maybe_send_append(to, true); }
  bool maybe_send_append(NodeId to, bool send_if_empty);
  void send_heartbeat(NodeId to, const std::string& ctx);
  void bcast_append();
  void bcast_heartbeat();
  void bcast_heartbeat_with_ctx(const std::string& ctx);
  bool maybe_commit();
  void reset(uint64_t term);
  bool append_entry(std::vector<raftpb::Entry> es);
  void tick_election();
  void tick_heartbeat();
  void hup(CampaignType t);
  void campaign(CampaignType t);
  tracker::ProgressTracker::Tally poll(NodeId id, raftpb::MessageType t, bool granted);
  Status step_leader(raftpb::Message& m);
  Status step_candidate(raftpb::Message& m);
  Status step_follower(raftpb::Message& m);
  void handle_append_entries(const raftpb::Message& m);
  void handle_heartbeat(const raftpb::Message& m);
  void handle_snapshot(const raftpb::Message& m);
  bool restore(const raftpb::Snapshot& s);
  bool promotable() const;
  raftpb::ConfState switch_to_config(tracker::Config cfg, tracker::ProgressMap prs);
  void load_state(const raftpb::HardState& hs);
  bool past_election_timeout() const { return election_elapsed_ >= randomized_election_timeout_; }
  void reset_randomized_election_timeout();
  void send_timeout_now(NodeId to);
  void abort_leader_transfer() { lead_transferee_ = kNone; }
  bool committed_entry_in_current_term() const;
  // A response for a read request served at read_index; a message with
  // to == kNone when the request was local (a read state was recorded).
  raftpb::Message response_to_read_index_req(const raftpb::Message& req, uint64_t read_index);
  void send_read_index_response(const raftpb::Message& m);
  void release_pending_read_index_messages();
  bool increase_uncommitted_size(const std::vector<raftpb::Entry>& ents);
  void reduce_uncommitted_size(const std::vector<raftpb::Entry>& ents);

  // All fields are owned by the thread driving this Raft (no locking).
  // etcd raft's info-level line (Config::logger).
  void info(const std::string& msg) const {
    if (logger_) logger_(msg);
  }
  std::string hex_id() const;

  NodeId id_;
  std::function<void(const std::string&)> logger_;
  uint64_t term_ = 0;
  NodeId vote_ = kNone;
  std::vector<ReadState> read_states_;
  RaftLog raft_log_;
  uint64_t max_msg_size_;
  uint64_t max_uncommitted_size_;
  tracker::ProgressTracker prs_;
  StateType state_ = StateType::kFollower;
  bool is_learner_ = false;
  std::vector<raftpb::Message> msgs_;
  NodeId lead_ = kNone;
  // The member a leadership transfer targets; proposals are dropped meanwhile.
  NodeId lead_transferee_ = kNone;
  // Only one configuration change may be pending: an index > applied means
  // one is not applied yet.
  uint64_t pending_conf_index_ = 0;
  // Bytes of uncommitted entries in the leader's log (approximate).
  uint64_t uncommitted_size_ = 0;
  ReadOnly read_only_;
  // Ticks since the last election timeout reset (followers/candidates) or
  // since the last check-quorum round (leaders).
  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  bool check_quorum_;
  bool pre_vote_;
  int heartbeat_timeout_;
  int election_timeout_;
  int randomized_election_timeout_ = 0;
  bool disable_proposal_forwarding_;
  Rng rng_;
  // ReadIndex requests received before the leader committed an entry of its
  // term; answered once it has.
  std::vector<raftpb::Message> pending_read_index_messages_;
};

}  // namespace etcd::raft
