// Publishes this member's name and client URLs through Raft once it serves
// (etcd's publish), retrying until it succeeds or the server stops, then
// has the leader record the cluster version. wait_ready() blocks until the
// publication went through: etcd serves clients only then.
//
// Both go in the form every member of the cluster applies: etcd 3.4
// members know only the v2 forms (a raw v2 PUT of
// /0/members/<id>/attributes or /0/version; 3.5 still proposes them) and
// stop on an InternalRaftRequest they do not know, so the 3.5 forms
// (ClusterMemberAttrSet, ClusterVersionSet) are used only once the cluster
// version says every member is 3.5 or later.
//
// Owner thread: its own Worker (start() to stop()); wait_ready() from any.
#pragma once

#include <absl/base/thread_annotations.h>

#include <condition_variable>
#include <optional>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "base/worker.h"
#include "server/server_core.h"

namespace etcd::server {

// Whether membership requests take the v2 form under cluster version `v`
// (empty when not decided yet: a member may be 3.4).
bool use_v2_membership_requests(const std::string& cluster_version);

// The publication of a member's attributes, in either form.
etcdserverpb::Request publish_request_v2(MemberId id, const std::string& name,
                                         const std::vector<std::string>& client_urls);
serverpb::InternalRaftRequest publish_request_v3(MemberId id, const std::string& name,
                                                 const std::vector<std::string>& client_urls);

// The request that sets the cluster version to `version` ("3.4.0"): the v2
// PUT /0/version below 3.5, else a ClusterVersionSet. Exactly one of the
// two is set.
struct ClusterVersionRequest {
  std::optional<etcdserverpb::Request> v2;
  std::optional<serverpb::InternalRaftRequest> v3;
};
ClusterVersionRequest cluster_version_request(const std::string& version);

// Proposes `version` as the cluster version and waits for it to apply
// (etcd's updateClusterVersion; the leader calls it with the version it
// decided, the lowest of its members').
Status propose_cluster_version(ServerCore& core, const std::string& version);

class Publisher {
 public:
  explicit Publisher(ServerCore& core) : core_(core) {}
  ~Publisher() { stop(); }

  // The lowest server version among all members ("3.4.23"), "" while one
  // does not answer: the leader sets the cluster version to its
  // major.minor (etcd's monitorVersions/decideClusterVersion). Unset: this
  // member's own version.
  void set_version_source(std::function<std::string()> lowest) { lowest_ = std::move(lowest); }

  void start();
  void stop() { worker_.stop(); }
  bool wait_ready(std::chrono::milliseconds timeout);

 private:
  void run(Worker& self);
  // On the leader: raises the cluster version to the lowest member's.
  void decide_cluster_version();

  ServerCore& core_;
  std::function<std::string()> lowest_;
  Worker worker_;
  Mutex mu_;
  std::condition_variable cv_;
  bool ready_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace etcd::server
