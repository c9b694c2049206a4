// The history of one key (etcd's keyIndex): a list of generations, each the
// revisions from a creation up to and including the deletion (tombstone)
// that ends it. The last generation is the live one (empty when the key is
// currently deleted).
//
//   put(1.0) put(2.0) tombstone(3.0) put(4.0) tombstone(5.0)
//   generations: {1.0, 2.0, 3.0(t)}, {4.0, 5.0(t)}, {}
//
// Versions count puts within a generation, from 1; a deletion resets them.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/ids.h"

namespace etcd::mvcc {

struct Generation {
  int64_t ver = 0;   // puts in this generation (the tombstone counts too)
  Revision created;  // the revision that created the key
  std::vector<Revision> revs;
  bool empty() const { return revs.empty(); }
};

struct KeyAt {
  Revision modified;
  Revision created;
  int64_t version = 0;
};

class KeyIndex {
 public:
  explicit KeyIndex(std::string key) : key_(std::move(key)) {}

  const std::string& key() const { return key_; }
  const Revision& modified() const { return modified_; }
  const std::vector<Generation>& generations() const { return generations_; }

  // Records a put at `rev`, which must be newer than every revision so far.
  void put(Revision rev);
  // Rebuilds the index of a live key from its latest state (start-up).
  void restore(Revision created, Revision modified, int64_t version);
  // Records a deletion; false when the key is not live.
  bool tombstone(Revision rev);
  // The key's state as of main revision `at_rev`; nothing when it did not
  // exist then.
  std::optional<KeyAt> get(int64_t at_rev) const;
  // The revisions with main >= rev, one per main revision (the last sub),
  // oldest first: what a watcher starting at `rev` must replay.
  std::vector<Revision> since(int64_t rev) const;
  // Drops history older than `at_rev`, keeping the latest revision at or
  // before it (unless that is a tombstone); the revisions still needed are
  // added to `available`.
  void compact(int64_t at_rev, std::set<Revision>* available);
  // The revisions compact(at_rev) would keep, without changing anything.
  void keep(int64_t at_rev, std::set<Revision>* available) const;
  // No history left at all.
  bool empty() const { return generations_.size() == 1 && generations_[0].empty(); }

  std::string to_string() const;

 private:
  // The generation live at `rev`, or nullptr.
  const Generation* find_generation(int64_t rev) const;
  // Shared by compact and keep: the generation and revision position where
  // history at `at_rev` starts; records the kept revision in `available`.
  std::pair<size_t, int> do_compact(int64_t at_rev, std::set<Revision>* available) const;

  std::string key_;
  Revision modified_;  // the last revision, put or tombstone
  std::vector<Generation> generations_;
};

}  // namespace etcd::mvcc
