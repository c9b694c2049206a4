// The figures of the v2 API's /v2/stats/self and /v2/stats/leader (etcd's
// v2stats.ServerStats and LeaderStats), fed by the member's Raft traffic:
//
//   sent(msgs)         a MsgApp to a peer: sendAppendRequestCnt, the send
//                      rate; this member leads. The first MsgApp to a
//                      follower not yet acknowledged starts its latency
//                      clock.
//   received(m)        a MsgApp from the leader: recvAppendRequestCnt, the
//                      receive rate, the leader (this member follows). A
//                      MsgAppResp that does not reject: one success of that
//                      follower, its latency the time since that MsgApp.
//   unreachable(id)    a failure of that follower.
//   leader_changed(l)  becoming leader (etcd's BecomeLeader).
//
// etcd counts a follower's success when its transport has written a
// MsgApp (the write's duration as the latency); here a success is an
// acknowledged append and its latency the round trip, the nearer figure
// for an operator. Rates are etcd's: over the last 200 messages, zero
// when the newest is older than a second.
//
// Thread-safe (one mutex): the raft thread, the peer transport's threads
// and HTTP handlers call it.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "base/ids.h"
#include "base/mutex.h"
#include "env/clock.h"
#include "raftpb/raft.pb.h"

namespace etcd::server {

class V2Stats {
 public:
  V2Stats(std::string name, MemberId self, env::Clock& clock);

  void sent(const std::vector<raftpb::Message>& msgs);
  void received(const raftpb::Message& m);
  void unreachable(MemberId follower);
  void leader_changed(bool leading);

  // etcd's ServerStats JSON ({"name":..,"id":..,"state":..,"startTime":..,
  // "leaderInfo":{..},"recvAppendRequestCnt":..,...}), no newline.
  std::string self_json();
  // etcd's LeaderStats JSON for these followers (every member but this
  // one), no newline.
  std::string leader_json(const std::vector<MemberId>& followers);

 private:
  struct Sample {
    std::chrono::steady_clock::time_point at;
    size_t bytes = 0;
  };
  // etcd's statsQueue: the last kRateSamples messages.
  struct RateQueue {
    std::deque<Sample> samples;
    size_t bytes = 0;
    void insert(Sample s);
    // Messages and bytes per second; 0, 0 when idle for a second.
    std::pair<double, double> rate(std::chrono::steady_clock::time_point now);
  };
  struct Follower {
    double current_ms = 0, average_ms = 0, average_square = 0, stddev_ms = 0;
    double minimum_ms = 9223372036854775808.0;  // etcd starts it at 1<<63
    double maximum_ms = 0;
    uint64_t fail = 0, success = 0;
    bool in_flight = false;
    std::chrono::steady_clock::time_point sent_at;
  };
  void become_leader_locked(std::chrono::steady_clock::time_point now, int64_t wall_ns)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int64_t wall_ns();

  const std::string name_;
  const MemberId self_;
  env::Clock& clock_;
  const int64_t start_wall_ns_;

  Mutex mu_;
  bool leader_ ABSL_GUARDED_BY(mu_) = false;
  std::string leader_id_ ABSL_GUARDED_BY(mu_);  // "" until one is known
  int64_t leader_since_wall_ns_ ABSL_GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point leader_since_ ABSL_GUARDED_BY(mu_);
  uint64_t recv_appends_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t send_appends_ ABSL_GUARDED_BY(mu_) = 0;
  RateQueue recv_rate_ ABSL_GUARDED_BY(mu_);
  RateQueue send_rate_ ABSL_GUARDED_BY(mu_);
  std::map<MemberId, Follower> followers_ ABSL_GUARDED_BY(mu_);
};

// Go's time.Time JSON (RFC 3339 with nanoseconds, trailing zeros cut) of
// Unix nanoseconds, in UTC.
std::string rfc3339_nano(int64_t unix_ns);
// Go's encoding/json text of a float64.
std::string go_float(double v);

}  // namespace etcd::server
