// etcd keeps the membership in its v2 store as well as in the backend, under
// /0: "/0/members/<id>/raftAttributes" ({"peerURLs":[..]}),
// "/0/members/<id>/attributes" ({"name":..,"clientURLs":[..]}),
// "/0/removed_members/<id>" and "/0/version". These writes move the v2
// store's index (the X-Etcd-Index the v2 API shows) and are part of the
// .snap files, so this member makes them exactly where etcd does.
//
// A restart replays the log after the v2 store's snapshot, entries the
// backend already holds included, so each method is also called for
// those; a write that does not apply (a replayed add of a member the
// snapshot has) is skipped quietly.
//
// Owner thread: the apply thread.
#pragma once

#include <string>
#include <vector>

#include "base/ids.h"
#include "membershippb/membership.pb.h"
#include "v2store/store.h"

namespace etcd::server {

class MembershipMirror {
 public:
  explicit MembershipMirror(v2store::Store& store) : store_(store) {}

  void added(MemberId id, const std::vector<std::string>& peer_urls, bool is_learner);
  // A learner promoted or a member's peer URLs updated.
  void raft_attributes_updated(MemberId id, const std::vector<std::string>& peer_urls,
                               bool is_learner);
  void removed(MemberId id);
  void attributes(MemberId id, const membershippb::Attributes& a);
  void cluster_version(const std::string& v);

 private:
  v2store::Store& store_;
};

}  // namespace etcd::server
