// The in-memory key index (etcd's treeIndex): key -> KeyIndex, ordered by
// key bytes, so ranges are a walk of the B-tree. Written by the apply thread
// only; read concurrently by range requests.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/container/btree_map.h>

#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/mutex.h"
#include "mvcc/key_index.h"

namespace etcd::mvcc {

// A range end: empty means the single key; "\0" means every key >= key.
struct KeyRange {
  std::string_view key;
  std::string_view end;
};

class TreeIndex {
 public:
  void put(std::string_view key, Revision rev);
  void restore(std::string_view key, Revision created, Revision modified, int64_t version);
  // false when the key is not live.
  bool tombstone(std::string_view key, Revision rev);
  std::optional<KeyAt> get(std::string_view key, int64_t at_rev) const;
  // The keys live at at_rev in the range, in key order.
  std::vector<std::string> range_keys(KeyRange r, int64_t at_rev) const;
  // Live revisions at at_rev in the range: at most `limit` of them (0: all),
  // and the total count regardless of the limit.
  struct RevisionsResult {
    std::vector<Revision> revs;
    std::vector<std::string> keys;  // keys[i] is the key of revs[i]
    int64_t total = 0;
  };
  RevisionsResult revisions(KeyRange r, int64_t at_rev, size_t limit) const;
  int64_t count_revisions(KeyRange r, int64_t at_rev) const;
  // Revisions in [key, end) with main >= rev, for watch catch-up, grouped
  // as (key, revisions).
  std::vector<std::pair<std::string, std::vector<Revision>>> range_since(KeyRange r,
                                                                         int64_t rev) const;
  // Compacts every key at `rev`; returns the revisions that must stay in the
  // backend. Keys left without history are removed.
  std::set<Revision> compact(int64_t rev);
  // What compact(rev) would keep (hash computations).
  std::set<Revision> keep(int64_t rev) const;
  size_t size() const;
  // Forgets every key (a snapshot from the leader replaces the store).
  void clear();

 private:
  // Calls f for each KeyIndex whose key lies in r; stops when f returns false.
  void visit(KeyRange r, const std::function<bool(const KeyIndex&)>& f) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  mutable SharedMutex mu_;
  absl::btree_map<std::string, KeyIndex, std::less<>> tree_ ABSL_GUARDED_BY(mu_);
};

}  // namespace etcd::mvcc
