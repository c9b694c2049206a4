// The multi-version key-value store (etcd's mvcc.store): every change gets
// a revision {main, sub}; the backend's `key` bucket maps revision keys to
// mvccpb.KeyValue (a trailing 't' marks a deletion); the TreeIndex maps keys
// to their revisions. One transaction = one main revision.
//
// Threads: writes (WriteTxn, compact) come from the apply thread only;
// range() may be called from any thread and reads a consistent state: it
// fixes the revision first, then opens a backend view that contains every
// write up to it.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/mutex.h"
#include "base/status.h"
#include "mvcc/index.h"
#include "mvccpb/kv.pb.h"
#include "storage/backend/backend.h"

namespace etcd::mvcc {

// etcd's mvcc errors; the RPC layer prefixes "etcdserver: ".
Status err_compacted();   // "mvcc: required revision has been compacted"
Status err_future_rev();  // "mvcc: required revision is a future revision"
bool is_compacted(const Status& s);
bool is_future_rev(const Status& s);

struct RangeOptions {
  int64_t limit = 0;  // 0: no limit
  MainRev rev;        // <= 0: the current revision
  bool count_only = false;
};

struct RangeResult {
  std::vector<mvccpb::KeyValue> kvs;
  MainRev rev;        // the store's revision when the range was served
  int64_t count = 0;  // keys in range at the revision, regardless of limit
};

// etcd's HashKV result: the hash of the key space at hash_rev.
struct KvHash {
  uint32_t hash = 0;
  MainRev current_rev;  // the store's revision when hashed
  MainRev compact_rev;  // the compaction the hash accounts for
  MainRev hash_rev;     // the revision hashed
};

class KVStore {
 public:
  explicit KVStore(backend::Backend& backend);

  // Live keys that name a lease: key -> lease id.
  using LeasedKeys = std::unordered_map<std::string, int64_t>;

  // Rebuilds the index from the backend (start-up) and finishes a
  // compaction that was scheduled but not finished before a crash. The same
  // scan fills `leased_keys`, if given, for the lessor to attach (etcd's
  // restore does both in one pass too).
  Status restore(LeasedKeys* leased_keys = nullptr);
  // The backend was replaced (a snapshot from the leader): forgets the
  // index and rebuilds it as restore() does. Apply thread.
  Status reload(LeasedKeys* leased_keys = nullptr);

  MainRev rev() const { return MainRev(current_rev_.load(std::memory_order_acquire)); }
  // -1 before the first compaction.
  MainRev compact_rev() const { return MainRev(compact_main_rev_.load(std::memory_order_acquire)); }

  Result<RangeResult> range(KeyRange r, const RangeOptions& ro) const;

  // All writes of one transaction; they get main revision rev() + 1, and the
  // revision advances when the transaction ends if anything changed.
  class WriteTxn {
   public:
    ~WriteTxn();
    WriteTxn(const WriteTxn&) = delete;
    WriteTxn& operator=(const WriteTxn&) = delete;

    // Reads see this transaction's own writes.
    Result<RangeResult> range(KeyRange r, const RangeOptions& ro);
    void put(std::string_view key, std::string_view value, int64_t lease);
    // Deletes the live keys in the range; returns how many.
    int64_t delete_range(KeyRange r);
    // Records the raft entry this transaction applies (same backend batch).
    void set_consistent_index(backend::ConsistentIndex ci) { tx_.set_consistent_index(ci); }
    // Direct access for the other stores sharing the transaction (lease,
    // auth, membership): they write their buckets in the same batch.
    backend::BatchTx& batch_tx() { return tx_; }

    // The events so far: puts carry the new KeyValue, deletes the key and
    // the deletion revision as mod_revision.
    const std::vector<mvccpb::KeyValue>& changes() const { return changes_; }
    // change_is_delete()[i]: changes()[i] is a deletion (a put may carry an
    // empty value too, so the watch stream needs this to type its events).
    const std::vector<bool>& change_is_delete() const { return is_delete_; }
    // The main revision of this transaction's writes.
    MainRev write_rev() const { return MainRev(begin_rev_ + 1); }
    // Ends the transaction (also done by the destructor).
    void end();

   private:
    friend class KVStore;
    explicit WriteTxn(KVStore& store);
    Result<RangeResult> range_at(KeyRange r, const RangeOptions& ro, int64_t cur_rev);

    KVStore& store_;
    backend::BatchTx tx_;
    int64_t begin_rev_;
    std::vector<mvccpb::KeyValue> changes_;
    std::vector<bool> is_delete_;
    bool ended_ = false;
    int ranges_ = 0, puts_ = 0, deletes_ = 0;  // calls, for the metrics
  };
  std::unique_ptr<WriteTxn> write();

  // Observers of every write transaction that changed something (watchers,
  // the lessor's key -> lease map). Called on the writing thread when the
  // transaction ends, in the order added, while it still holds the backend
  // batch and before rev() moves to txn.write_rev(): an observer sees each
  // revision exactly once, in revision order. Add them before the first
  // write (not thread-safe).
  using Observer = std::function<void(const WriteTxn&)>;
  void add_observer(Observer fn) { observers_.push_back(std::move(fn)); }

  // Compacts history before `rev`: errors err_compacted (rev <= current
  // compaction) and err_future_rev (rev > current revision). Removes the
  // superseded revisions from the backend before returning.
  Status compact(MainRev rev);

  // etcd's kvstore hashByRev: CRC-32C (Castagnoli) over the key bucket's
  // name, then every revision key and value with main revision <= rev
  // (0: the current revision), skipping revisions below the compaction
  // that compaction at rev would not keep. Equal on every member for the
  // same revision and compaction. err_compacted when 0 < rev <= the
  // compacted revision, err_future_rev when rev > the current revision.
  // Any thread.
  Result<KvHash> hash_by_rev(MainRev rev) const;

  TreeIndex& index() { return index_; }
  // Keys live at the current revision (etcd_debugging_mvcc_keys_total).
  int64_t live_keys() const { return live_keys_.load(std::memory_order_relaxed); }
  backend::Backend& backend() { return backend_; }

 private:
  friend class WriteTxn;
  // Reads the KeyValues of `revs` from a view.
  static std::vector<mvccpb::KeyValue> fetch(const backend::ReadTx* rtx, backend::BatchTx* wtx,
                                             const std::vector<Revision>& revs);

  backend::Backend& backend_;
  TreeIndex index_;
  std::vector<Observer> observers_;
  // Written by the apply thread; read anywhere.
  std::atomic<int64_t> current_rev_{1};
  std::atomic<int64_t> compact_main_rev_{-1};
  std::atomic<int64_t> live_keys_{0};
  // Held exclusively while a compaction moves the compacted revision and
  // compacts the index; shared by hash_by_rev, which needs both (and its
  // backend view) at one compaction.
  mutable SharedMutex compact_mu_;
};

}  // namespace etcd::mvcc
