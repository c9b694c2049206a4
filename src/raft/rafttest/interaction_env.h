// An interaction environment for Raft trace tests: a group of RawNodes, each
// with its own storage, joined by a network of in-flight messages that the
// script delivers, drops or partitions explicitly. Every command prints what
// happened, so a trace file reads as the story of a scenario.
//
// Commands (node ids are 1, 2, ... in the order the nodes were added):
//
//   add-nodes N [voters=(1 2 3)] [learners=(4)] [index=I] [content=S] [options]
//       Adds N nodes. With voters/learners they are bootstrapped from a
//       snapshot at `index` (term 1, default index 1) holding that
//       configuration; without, they start empty (to be added by a
//       configuration change and caught up by a snapshot). Options, default
//       first: election-tick=3 heartbeat-tick=1 prevote=false
//       checkquorum=false max-inflight=256 max-msg-size=0 (no limit; 1: one
//       entry per message) max-uncommitted-size=0 (no limit)
//       max-committed-size-per-ready=0 (no limit) read-only=safe|lease-based
//       disable-forwarding=false.
//   campaign ID                      the node starts an election (MsgHup)
//   propose ID DATA                  proposes a normal entry
//   propose-conf-change ID [v1=true] [transition=auto|implicit|explicit]
//       proposes a configuration change; the block's input holds the changes
//       in the compact syntax ("v2 l3 r4 u5"; an empty input proposes the
//       empty change that leaves a joint configuration)
//   tick ID N                        N ticks
//   tick-heartbeat ID...             heartbeat-tick ticks
//   tick-election ID...              ticks until the node's election timer
//       fires: a leader ticks up to election-tick (check quorum, transfer
//       timeout), any other node up to its randomized election timeout
//   process-ready ID...              handles one Ready (see below)
//   deliver-msgs [drop=(IDS)] [type=MsgX] [from=(IDS)] [ID...]
//       delivers the in-flight messages addressed to each ID (all when none
//       is given), oldest first; `drop` discards those to the listed nodes;
//       `type` and `from` restrict both to one message type / some senders
//   drop-msgs [from=(IDS)] [to=(IDS)] [type=MsgX]  discards matching messages
//   partition (1 2) (3 4 5)          from now on, messages between different
//       groups are dropped when delivered; nodes not listed form one more
//       group together (`partition (1)` isolates node 1)
//   heal                             removes the partition; messages still
//       in flight between separated groups are dropped (lost, not delayed)
//   stabilize [ID...]                handles Readies and delivers messages
//       among the nodes (default: all) until nothing is left to do
//   status ID                        the node's state, e.g.
//       "StateLeader Term:2 Vote:1 Lead:1 Commit:5 Applied:5 LastIndex:5"
//       (plus " LeadTransferee:N" during a transfer), its configuration
//       ("config: voters=(1 2 3)") and, on a leader, every member's progress
//       in etcd's format ("2: StateReplicate match=5 next=6 inflight=1")
//   raft-log ID                      the entries in the node's storage
//   raft-state                       one line per node: state, term, leader
//   read-index ID CTX                requests a linearizable read
//   transfer-leader ID TRANSFEREE    asks node ID to transfer leadership
//   compact ID INDEX                 snapshots the node's applied state at
//       INDEX and discards its log up to INDEX (then prints raft-log)
//   restart ID                       rebuilds the node from its storage only
//       (hard state, snapshot, persisted entries), dropping all volatile
//       state; its state machine is rebuilt from the storage's snapshot
//   report-unreachable ID PEER       the transport could not reach PEER
//   report-snapshot ID PEER [failure]  a snapshot to PEER finished (or failed)
//   log-level none|info|debug        none (also warn, error): only errors are
//       printed; info: no DEBUG lines; debug (the default): everything
//
// Output format (etcd raft's Describe* functions where it has one):
//
//   Ready MustSync=true:             a Ready, with only its non-empty parts:
//   Lead:1 State:StateLeader           soft state
//   HardState Term:1 Vote:1 Commit:4   (Vote omitted when 0)
//   ReadStates:                        one "Index:I RequestCtx:"ctx"" line each
//   Entries:                           "term/index type data" per entry, data
//   1/3 EntryNormal "foo"              quoted; conf changes in compact syntax
//   Snapshot Index:4 Term:1 ConfState:Voters:[1 2] VotersOutgoing:[] ...
//   CommittedEntries:
//   Messages:
//   1->2 MsgApp Term:1 Log:1/3 Commit:4 Entries:[1/4 EntryNormal "foo"]
//
// A message prints as "from->to Type Term:T Log:logterm/index" followed, where
// they apply, by " Rejected (Hint: H)", " Commit:C", " Entries:[...]",
// " Snapshot: ..." and " Context:"ctx"". "dropped: " prefixes a message the
// network discarded.
//
// The library has no logger, so the environment prints what it observes by
// comparing a node's state before and after each input it hands the node:
//
//   INFO 2 became follower at term 3          role or term changed
//   INFO 1 switched to configuration voters=(1 2 3)&&(1) autoleave
//   INFO 1 starts to transfer leadership to 3 / aborted leadership transfer to 3
//   DEBUG 1 progress of 2 became StateSnapshot match=0 next=1 paused pendingSnap=4
//       (a leader's view of a follower changed replication state)
//   INFO 1 starts: term=0 vote=0 commit=2 applied=2 lastindex=2 lastterm=1 voters=(1 2 3)
//       (a node was created or restarted)
//
// Errors a node returns (a dropped proposal, ...) print as "error: <message>".
// `stabilize` prints "> N handling Ready" and "> N receiving messages" headers
// with the details indented by two spaces. A command with no output prints
// "ok" ("ok (quiet)" when log-level none hid some).
//
// The state machine of every node appends the data of applied normal entries;
// a node asked for a snapshot (to catch up a follower) serves its latest
// applied state, as etcd's interaction environment does.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "raft/rafttest/datadriven.h"
#include "raft/rawnode.h"

namespace etcd::raft::rafttest {

class InteractionEnv {
 public:
  InteractionEnv();
  ~InteractionEnv();

  // Runs one command and returns its output; an error means the script is
  // wrong (unknown command, bad arguments).
  Result<std::string> handle(const TestData& d);

 private:
  class NodeStorage;
  struct Node;
  struct Observation;
  enum class Level { kNone, kInfo, kDebug };

  // Command handlers; each appends to out_.
  Status handle_add_nodes(const TestData& d);
  Status handle_campaign(const TestData& d);
  Status handle_propose(const TestData& d);
  Status handle_propose_conf_change(const TestData& d);
  Status handle_tick(const TestData& d);
  Status handle_tick_heartbeat(const TestData& d);
  Status handle_tick_election(const TestData& d);
  Status handle_process_ready(const TestData& d);
  Status handle_deliver_msgs(const TestData& d);
  Status handle_drop_msgs(const TestData& d);
  Status handle_partition(const TestData& d);
  void heal();
  Status handle_stabilize(const TestData& d);
  Status handle_status(const TestData& d);
  Status handle_raft_log(const TestData& d);
  void handle_raft_state();
  Status handle_read_index(const TestData& d);
  Status handle_transfer_leader(const TestData& d);
  Status handle_compact(const TestData& d);
  Status handle_restart(const TestData& d);
  Status handle_report_unreachable(const TestData& d);
  Status handle_report_snapshot(const TestData& d);
  Status handle_log_level(const TestData& d);

  Result<Node*> node(uint64_t id);
  Status create_raw_node(Node& n);
  void process_ready(Node& n);
  struct MsgFilter {
    std::optional<raftpb::MessageType> type;
    std::set<NodeId> from;  // empty: any sender
  };
  // Delivers (or drops) the in-flight messages to `to` that pass the filter,
  // oldest first; returns how many were handled.
  size_t deliver(NodeId to, bool drop, const MsgFilter& filter);
  bool connected(NodeId from, NodeId to) const;
  void tick(Node& n, int times);

  // Observes a node around an input and prints what changed.
  Observation observe(const Node& n) const;
  void report_changes(const Node& n, const Observation& before);
  // Prints a node error as "error: ...".
  void report_error(const Status& s);

  void print(Level level, const std::string& line);
  void print_block(const std::string& text);

  std::vector<std::unique_ptr<Node>> nodes_;  // nodes_[i] has id i + 1
  std::deque<raftpb::Message> msgs_;          // in flight, oldest first
  // Partition groups by node id; empty when the network is whole.
  std::map<NodeId, int> group_;
  Level level_ = Level::kDebug;
  std::string out_;
  bool suppressed_ = false;  // output was hidden by log-level none
  std::string indent_;       // prefix of every printed line (stabilize)
};

}  // namespace etcd::raft::rafttest
