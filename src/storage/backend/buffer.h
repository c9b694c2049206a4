// Internals of the backend's write buffer (not part of the module's API):
// the writer's scope buffer, the generations of published writes, and the
// View that merges them over an LMDB read transaction.
#pragma once

#include <lmdb.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/backend/backend.h"
#include "storage/backend/schema.h"

namespace etcd::backend {

// A value in a buffer; nullopt is a deletion (tombstone).
using MaybeValue = std::optional<std::string>;

// Writes of the open BatchTx, latest per key. Owned by the writer thread.
class ScopeBuffer {
 public:
  std::array<std::map<std::string, MaybeValue, std::less<>>, kBucketCount> buckets;
  uint64_t ops = 0;
  std::optional<ConsistentIndex> consistent_index;
};

// One published value of a key: visible to views whose seq is >= seq.
struct Version {
  uint64_t seq;
  MaybeValue value;
};

// The writes published since the previous generation was frozen. The active
// generation grows as scopes close; freezing it hands it to a commit, after
// which it never changes again. All fields are guarded by the owning
// Backend's state_mu_; a frozen generation is read without it by its
// committer (nobody writes it after the freeze, which happened under the lock).
class Generation {
 public:
  std::array<std::map<std::string, std::vector<Version>, std::less<>>, kBucketCount> buckets;
  uint64_t ops = 0;
  uint64_t bytes = 0;  // keys and values published into it
  // Clock time of the first publish into this generation (batch interval).
  std::chrono::steady_clock::time_point first_op_at{};
  // Id of the LMDB write transaction that writes this generation, set just
  // before mdb_txn_commit; a read transaction whose id is >= it already
  // contains the generation. 0: not being committed.
  uint64_t commit_txnid = 0;
};

namespace internal {

// An LMDB read transaction (holding a reader slot) plus the generations it
// does not contain, read at `seq`, plus the writer's own scope if any.
class View {
 public:
  View(Backend* backend, MDB_txn* txn, const std::array<MDB_dbi, kBucketCount>& dbis,
       std::vector<std::shared_ptr<const Generation>> gens, uint64_t seq, const ScopeBuffer* scope);
  ~View();
  View(const View&) = delete;
  View& operator=(const View&) = delete;

  std::optional<std::string> get(Bucket bucket, std::string_view key) const;
  // Merges LMDB with the buffers over [start, end) (empty end: unbounded),
  // calling fn in key order for at most `limit` keys (0: all) until it
  // returns false.
  void scan(Bucket bucket, std::string_view start, std::string_view end, size_t limit,
            const KeyValueFn& fn) const;

 private:
  Backend* const backend_;
  MDB_txn* const txn_;
  const std::array<MDB_dbi, kBucketCount> dbis_;
  // Oldest first; the newest visible version of a key wins.
  const std::vector<std::shared_ptr<const Generation>> gens_;
  const uint64_t seq_;
  const ScopeBuffer* const scope_;  // the writer's own scope, on top of all
};

}  // namespace internal
}  // namespace etcd::backend
