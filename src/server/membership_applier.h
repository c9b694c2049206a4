// Applies what changes the membership: configuration-change entries (add,
// add as learner, promote, remove, update peer URLs), member attributes
// (published names and client URLs) and the cluster version. Each records
// the entry's consistent index in the same backend batch.
//
// Owner thread: the apply thread.
#pragma once

#include "base/log.h"
#include "membershippb/membership.pb.h"
#include "raftpb/raft.pb.h"
#include "server/membership.h"
#include "server/membership_mirror.h"
#include "storage/backend/backend.h"

namespace etcd::server {

class MembershipApplier {
 public:
  MembershipApplier(Membership& membership, backend::Backend& backend, log::Logger& logger)
      : membership_(membership), backend_(backend), logger_(logger) {}

  struct ConfChangeOutcome {
    // The configuration as Raft will have it (a snapshot's ConfState).
    raftpb::ConfState conf_state;
    // Why the change was refused (etcd's ValidateConfigurationChange at
    // apply time: a removed or existing id, a peer URL in use, an unknown
    // member); Raft then applies nothing.
    Status status;
  };
  // The v2 store's copy of the membership (etcd's /0), kept by every
  // change below, replays included; null: none (tests).
  void set_mirror(MembershipMirror* m) { mirror_ = m; }

  // Applies `cc` unless `already` (the backend has it: a restart replays
  // the entry only to hand it to Raft again, and to the v2 store's mirror).
  ConfChangeOutcome apply_conf_change(const raftpb::ConfChange& cc, backend::ConsistentIndex ci,
                                      bool already);
  // A member's published name and client URLs (etcd 3.5's
  // ClusterMemberAttrSet, or the v2 PUT /0/members/<id>/attributes).
  void apply_attributes(MemberId id, const membershippb::Attributes& a,
                        backend::ConsistentIndex ci);
  // The cluster version ("3.4.0"; ClusterVersionSet or PUT /0/version).
  void apply_cluster_version(const std::string& version, backend::ConsistentIndex ci);
  // The mirror's part alone, for an entry the backend already holds.
  void replay_attributes(MemberId id, const membershippb::Attributes& a) {
    if (mirror_ != nullptr) mirror_->attributes(id, a);
  }
  void replay_cluster_version(const std::string& version) {
    if (mirror_ != nullptr) mirror_->cluster_version(version);
  }

 private:
  Status validate(const raftpb::ConfChange& cc) const;
  void apply_valid(const raftpb::ConfChange& cc, backend::BatchTx& tx);
  void mirror_conf_change(const raftpb::ConfChange& cc);

  Membership& membership_;
  backend::Backend& backend_;
  log::Logger& logger_;
  MembershipMirror* mirror_ = nullptr;
};

}  // namespace etcd::server
