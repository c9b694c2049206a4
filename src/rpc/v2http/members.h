// /v2/machines, /v2/members[/...], /v2/members/leader and /v2/stats/{self,
// leader,store}: etcd 3.4's machinesHandler, membersHandler and
// statsHandler, over V2Cluster (what they need of the member).
//
// Threads: handle() on the listener's I/O thread; membership changes
// (which wait for Raft) on the TaskPool.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/task_pool.h"
#include "rpc/http/http.h"
#include "v2store/store.h"

namespace etcd::rpc::v2http {

struct V2Member {
  uint64_t id = 0;
  std::string name;
  std::vector<std::string> peer_urls;
  std::vector<std::string> client_urls;
};

// How a membership change ended, as the v2 API tells them apart.
enum class ChangeOutcome {
  kOk,
  kNotFound,       // no such member
  kRemoved,        // the member was removed before
  kIdExists,       // add: the new member's id is taken
  kPeerUrlExists,  // add/update: another member has one of the URLs
  kFailed,         // anything else (not enough started members, timeout, ...)
};

struct ChangeResult {
  ChangeOutcome outcome = ChangeOutcome::kOk;
  std::string error;  // the failure's text, for the log
  V2Member member;    // add: the new member
};

// What the members and stats endpoints need of the member. EtcdServer's
// adapter implements it (server_v2_cluster.h); tests use a fake.
// Thread-safe; the changes block until applied or failed.
class V2Cluster {
 public:
  virtual ~V2Cluster() = default;
  virtual uint64_t cluster_id() = 0;
  // Every member (learners too), by id.
  virtual std::vector<V2Member> members() = 0;
  virtual uint64_t leader() = 0;  // 0 while there is none
  virtual ChangeResult add_member(const std::vector<std::string>& peer_urls) = 0;
  virtual ChangeResult remove_member(uint64_t id) = 0;
  virtual ChangeResult update_member(uint64_t id, const std::vector<std::string>& peer_urls) = 0;
  // etcd's ServerStats and LeaderStats JSON; nullopt when not the leader.
  virtual std::string self_stats() = 0;
  virtual std::optional<std::string> leader_stats() = 0;
};

// etcd's httptypes.HTTPError: {"message":..} (no newline), JSON.
http::Response message_error(int status, std::string_view message);

// The JSON of a member as the v2 API writes it (no newline).
std::string member_json(const V2Member& m);

// Go's types.NewURLs check of peer URLs, with its error texts; sorted.
Result<std::vector<std::string>> check_peer_urls(const std::vector<std::string>& urls);

class MembersHandler : public http::Handler {
 public:
  MembersHandler(V2Cluster& cluster, TaskPool& pool) : cluster_(cluster), pool_(pool) {}
  void handle(http::Request req, std::shared_ptr<http::Responder> r) override;

 private:
  V2Cluster& cluster_;
  TaskPool& pool_;
};

class MachinesHandler : public http::Handler {
 public:
  explicit MachinesHandler(V2Cluster& cluster) : cluster_(cluster) {}
  void handle(http::Request req, std::shared_ptr<http::Responder> r) override;

 private:
  V2Cluster& cluster_;
};

class StatsHandler : public http::Handler {
 public:
  enum class Kind { kSelf, kLeader, kStore };
  StatsHandler(Kind kind, V2Cluster& cluster, v2store::Store& store)
      : kind_(kind), cluster_(cluster), store_(store) {}
  void handle(http::Request req, std::shared_ptr<http::Responder> r) override;

 private:
  Kind kind_;
  V2Cluster& cluster_;
  v2store::Store& store_;
};

}  // namespace etcd::rpc::v2http
