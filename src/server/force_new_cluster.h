// --force-new-cluster (etcd's restartAsStandaloneNode): a restarted member
// becomes a one-member cluster that keeps all its data. Before Raft
// starts, the WAL entries after the commit index are discarded, and
// configuration-change entries are appended (at the hard state's term)
// that remove every other member the log knows and add this one when the
// log does not know it. They are committed at once and saved to the WAL;
// the apply loop then applies them like any conf change (membership and
// the backend's members bucket), Raft's configuration becomes this member
// alone, and it elects itself.
//
// Runs on the bootstrap's thread, before anything reads the raft storage.
#pragma once

#include <cstdint>
#include <vector>

#include "base/ids.h"
#include "base/log.h"
#include "base/status.h"
#include "raftpb/raft.pb.h"
#include "server/raft_storage.h"

namespace etcd::server {

// The voters of `snapshot`'s ConfState (nullptr: none) changed by the
// conf-change entries of `entries` (adds and learner adds add, removes
// remove), sorted. As etcd's getIDs, the snapshot's learners are not
// counted.
std::vector<uint64_t> member_ids_in_log(const raftpb::Snapshot* snapshot,
                                        const std::vector<raftpb::Entry>& entries);

// The conf-change entries, from index `after` + 1 at `term`, that leave
// `self` the only member of `ids`: first an add of `self` when it is not
// in `ids` (its context a member with etcd's default peer URL
// http://localhost:2380; a voter set is never empty on the way), then a
// removal of each other id in order.
std::vector<raftpb::Entry> standalone_conf_changes(const std::vector<uint64_t>& ids, MemberId self,
                                                   uint64_t term, uint64_t after);

// Rewrites the freshly opened `rs` (RaftStorage::open) as above: drops the
// uncommitted entries from the in-memory log, appends and saves (synced)
// the conf changes with a hard state committing them, and logs etcd's
// lines. A WAL write error is returned.
Status force_new_cluster(RaftStorage& rs, MemberId self, uint64_t cluster_id, log::Logger& logger);

}  // namespace etcd::server
