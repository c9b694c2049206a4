// The cluster's membership as the apply thread knows it (etcd's
// RaftCluster): members with their peer and client URLs, learners, removed
// ids, persisted in the backend's members / members_removed buckets and
// changed only by applied configuration-change entries.
#pragma once

#include <absl/base/thread_annotations.h>

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/ids.h"
#include "base/mutex.h"
#include "base/status.h"
#include "storage/backend/backend.h"

namespace etcd::server {

struct Member {
  MemberId id;
  std::string name;  // empty until the member publishes its attributes
  std::vector<std::string> peer_urls;
  std::vector<std::string> client_urls;
  bool is_learner = false;
  // Only in a conf change's context: etcd's ConfigChangeContext marks a
  // learner's promotion (an AddNode of an existing member) so.
  bool is_promote = false;

  // The JSON etcd carries in a ConfChange's context and stores, in etcd's
  // field order: {"id":..,"peerURLs":[..],"isLearner":true,"name":"..",
  // "clientURLs":[..]} (the last three only when set; "isPromote":true last
  // in a promotion's context). from_json takes any order.
  std::string to_json() const;
  static Result<Member> from_json(std::string_view json);
};

class Membership {
 public:
  Membership(MemberId local_id, uint64_t cluster_id)
      : local_id_(local_id), cluster_id_(cluster_id) {}

  MemberId local_id() const { return local_id_; }
  uint64_t cluster_id() const { return cluster_id_; }

  // Loads the members from the backend (restart).
  void load(backend::Backend& b);

  // Applied changes; each writes the backend in `tx`.
  void add(const Member& m, backend::BatchTx& tx);
  void remove(MemberId id, backend::BatchTx& tx);
  void update_peer_urls(MemberId id, const std::vector<std::string>& urls, backend::BatchTx& tx);
  void update_attributes(MemberId id, const std::string& name,
                         const std::vector<std::string>& client_urls, backend::BatchTx& tx);
  void promote(MemberId id, backend::BatchTx& tx);
  // The cluster version ("3.5.0"), stored in the cluster bucket; returns
  // the previous one ("" when none was set).
  std::string set_version(const std::string& version, backend::BatchTx& tx);
  // "" until the leader sets it.
  std::string version() const;

  std::vector<Member> members() const;  // ordered by id
  std::optional<Member> member(MemberId id) const;
  bool is_removed(MemberId id) const;

 private:
  void store(const Member& m, backend::BatchTx& tx);

  const MemberId local_id_;
  const uint64_t cluster_id_;
  mutable Mutex mu_;
  std::map<MemberId, Member> members_ ABSL_GUARDED_BY(mu_);
  std::set<MemberId> removed_ ABSL_GUARDED_BY(mu_);
  std::string version_ ABSL_GUARDED_BY(mu_);
};

}  // namespace etcd::server
