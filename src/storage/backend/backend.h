// The storage backend: etcd's bolt database, here one LMDB environment in the
// single file member/snap/db with one named sub-database per bucket
// (schema.h). docs/storage-backend.md describes the design and its numbers.
//
// Threads and visibility, in short:
//   - One writer at a time (the apply thread) through a BatchTx scope. Its
//     writes go to an in-memory write buffer, never straight into LMDB.
//   - Closing the scope publishes its writes atomically: every ReadTx begun
//     afterwards, on any thread, sees them (read-your-writes without a commit,
//     like etcd's txReadBuffer).
//   - Published writes accumulate in a "generation"; a generation is written
//     to LMDB in ONE write transaction, together with the consistent index,
//     when it reaches batch_limit ops or batch_interval age, or on demand
//     (force_commit, snapshot, defrag, close). Commits skip fsync (MDB_NOSYNC
//     by default): the WAL carries durability; force_commit() syncs.
//   - A ReadTx is an LMDB MVCC read transaction plus the generations not yet
//     in it; it never blocks the writer and sees one consistent state.
//
// Lock order (never acquired in the opposite order):
//   writer_mu_ -> commit_mu_ -> state_mu_ -> gate_mu_
#pragma once

#include <lmdb.h>

#include <absl/base/thread_annotations.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/ids.h"
#include "base/mutex.h"
#include "base/status.h"
#include "env/clock.h"
#include "storage/backend/schema.h"

namespace etcd::backend {

class Generation;
class ScopeBuffer;
class SnapshotReader;
class Backend;

// How LMDB commits reach the disk. The WAL makes writes durable, so the
// default skips fsync on the batch commits; see docs/storage-backend.md for
// what each mode survives.
enum class SyncMode {
  kNoSync,      // MDB_NOSYNC: no fsync on commit; force_commit() syncs
  kNoMetaSync,  // MDB_NOMETASYNC: fdatasync of data pages per commit, not of the meta page
  kSync,        // fully synchronous commits (etcd's bolt default)
};

struct Options {
  // Initial LMDB map size: the address space reserved for the file, not disk
  // space (the file grows as pages are written). Doubled on MDB_MAP_FULL.
  uint64_t map_size_bytes = uint64_t{10} << 30;
  // Commit the write buffer when its oldest write is this old (etcd: 100 ms)
  std::chrono::milliseconds batch_interval{100};
  // ... or when it holds this many puts and deletes (etcd: 10000).
  uint32_t batch_limit = 10000;
  // Concurrent ReadTx (and internal readers: snapshot copy, defrag copy,
  // the writer's own reads). read_tx() blocks while all are taken.
  uint32_t max_readers = 126;
  SyncMode sync_mode = SyncMode::kNoSync;
  // true: a committer thread owned by the backend writes batches to LMDB, so
  // the apply thread never waits for LMDB I/O. false: commits run on the
  // thread that triggers them (BatchTx close, maybe_commit) - deterministic,
  // for tests and the simulation.
  bool background_commit = true;
};

struct KeyValue {
  std::string key;
  std::string value;
  bool operator==(const KeyValue&) const = default;
};

// The last raft entry whose effects are in the backend (etcd's consistent
// index) and its term.
struct ConsistentIndex {
  Index index;
  Term term;
  bool operator==(const ConsistentIndex&) const = default;
};

struct Stats {
  uint64_t commits = 0;         // LMDB write transactions committed
  uint64_t buffered_ops = 0;    // published puts/deletes not yet committed
  uint64_t map_size_bytes = 0;  // current LMDB map size
  uint64_t map_grows = 0;       // times MDB_MAP_FULL made the map grow
  uint32_t active_readers = 0;  // reader slots in use
};

struct DefragResult {
  int64_t size_before = 0;
  int64_t size_after = 0;
  int64_t size_in_use_before = 0;
  int64_t size_in_use_after = 0;
};

// Called for each key in order; return false to stop. The views are valid
// during the call only.
using KeyValueFn = std::function<bool(std::string_view key, std::string_view value)>;

namespace internal {
// An LMDB read transaction plus the buffered writes it does not contain.
class View;
}  // namespace internal

// A consistent read-only view: committed data at one LMDB transaction plus
// the writes published before it began. Movable across threads (MDB_NOTLS).
// A thread holds at most one ReadTx at a time (a second one can wait forever
// behind a map resize or defrag that waits for the first), and every ReadTx
// ends before its Backend is closed.
class ReadTx {
 public:
  ReadTx(ReadTx&&) noexcept;
  ReadTx& operator=(ReadTx&&) noexcept;
  ~ReadTx();

  std::optional<std::string> get(Bucket bucket, std::string_view key) const;
  // Keys in [start, end) in byte order, at most `limit` of them (0: no
  // limit). An empty `end` means no upper bound. (bolt's UnsafeRange reads
  // an empty end as "only start"; use get() for that.)
  std::vector<KeyValue> range(Bucket bucket, std::string_view start, std::string_view end,
                              size_t limit = 0) const;
  // Walks [start, end) in key order (the hook HashKV uses).
  void for_each(Bucket bucket, std::string_view start, std::string_view end,
                const KeyValueFn& fn) const;

 private:
  friend class Backend;
  explicit ReadTx(std::unique_ptr<internal::View> view);
  std::unique_ptr<internal::View> view_;
};

// The writer's scope (etcd's batchTx between Lock and Unlock). Holding one
// excludes other writers; destroying it publishes every write made in it at
// once, and may trigger a commit. Reads see this scope's own writes.
// Not movable: obtain it as `BatchTx tx = backend.batch_tx();`.
class BatchTx {
 public:
  ~BatchTx();
  BatchTx(const BatchTx&) = delete;
  BatchTx& operator=(const BatchTx&) = delete;

  // invalid_argument if the key is empty or longer than max_key_size()
  // (LMDB's limit, 511 bytes).
  Status put(Bucket bucket, std::string_view key, std::string_view value);
  // Deleting an absent key is a no-op.
  void del(Bucket bucket, std::string_view key);
  // Records the consistent index in the meta bucket; it reaches LMDB in the
  // same write transaction as the writes published with it.
  void set_consistent_index(ConsistentIndex ci);

  std::optional<std::string> get(Bucket bucket, std::string_view key);
  std::vector<KeyValue> range(Bucket bucket, std::string_view start, std::string_view end,
                              size_t limit = 0);
  void for_each(Bucket bucket, std::string_view start, std::string_view end, const KeyValueFn& fn);

  // Puts and deletes made in this scope so far.
  uint64_t ops() const;

 private:
  friend class Backend;
  explicit BatchTx(Backend* backend);  // takes backend->writer_mu_
  internal::View& view();

  Backend* const backend_;
  std::unique_ptr<ScopeBuffer> scope_;
  std::unique_ptr<internal::View> view_;  // opened on the first read, closed with the scope
};

class Backend {
 public:
  // Opens (creating if needed, with its parent directories 0700 and the file
  // 0600) the LMDB file at `path`, e.g. "<data-dir>/member/snap/db". LMDB keeps
  // its lock table in "<path>-lock" beside it; an exclusive flock on that
  // file keeps a second process out (kUnavailable), as bolt's flock does.
  static Result<std::unique_ptr<Backend>> open(std::string path, Options options,
                                               env::Clock& clock);
  ~Backend();  // close()s if still open
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  // The writer's scope; blocks while another scope is open or a defrag runs.
  BatchTx batch_tx();
  // A consistent read view that includes every BatchTx closed before this
  // call. Blocks only while all max_readers slots are taken or during the
  // short swap at the end of a defrag or a map resize.
  ReadTx read_tx();

  // The consistent index of the latest closed scope that set one (loaded
  // from the meta bucket at open).
  ConsistentIndex consistent_index() const;
  // The consistent index in committed LMDB state, what a crash would keep.
  ConsistentIndex committed_consistent_index();

  // Commits the batch if its interval has elapsed on the injected clock; the
  // owner may call it from its tick (the committer thread also checks).
  // Returns true if a commit was started or done.
  bool maybe_commit();
  // Commits every write published before the call and fsyncs the file
  // (snapshot, shutdown). Must not be called while this thread holds a
  // BatchTx or a ReadTx.
  void force_commit();

  // Compacting copy into "<path>.defrag.tmp", then an atomic rename over
  // the file and a reopen. Readers go on during the copy and wait only for
  // the swap. So do writers (beyond etcd, which blocks them): their batches
  // stay in memory, visible to readers, while the copy runs (at most
  // kMaxFrozenDuringDefrag batches; then they wait), and are committed to
  // the new file after the swap. Meanwhile a batch closes at batch_limit
  // ops or kMaxBatchBytesDuringDefrag, not at batch_interval, so the
  // buffer holds at most about 64 x 8 MB.
  Result<DefragResult> defrag();
  static constexpr size_t kMaxFrozenDuringDefrag = 64;
  static constexpr uint64_t kMaxBatchBytesDuringDefrag = uint64_t{8} << 20;

  // Replaces the whole database with the file at `image` (a db image a
  // leader sent with a snapshot: bbolt, converted into an LMDB file beside
  // it first, or LMDB): buffered writes are committed first, then
  // the file is renamed over this one and reopened, as a defrag's swap
  // does; the consistent index is the image's. The caller must hold no
  // BatchTx or ReadTx, and no other thread may write meanwhile (the apply
  // thread, the only writer, calls it).
  Status replace_with(const std::string& image);

  // etcd's Maintenance.Snapshot and the db image of a raft snapshot: a
  // bbolt image (etcd's format, so etcd's tools and members read it) of
  // one consistent ReadTx, written into an anonymous temporary file beside
  // the db while the backend keeps serving; see snapshot.h and
  // bbolt_convert.h (implemented in bbolt_export.cc).
  Result<std::unique_ptr<SnapshotReader>> snapshot();
  // A compacted LMDB copy of the committed backend (after committing the
  // buffered writes): a db file this backend opens as it is (etcdctl
  // backup's member/snap/db).
  Result<std::unique_ptr<SnapshotReader>> copy_lmdb();

  // etcd's Maintenance.Hash: CRC-32C over every bucket name, key and value,
  // buckets in name order, keys in order, skipping `ignores`.
  uint32_t hash(const std::vector<HashIgnore>& ignores = {kDefaultHashIgnores.begin(),
                                                          kDefaultHashIgnores.end()});

  // Size of the file on disk (etcd's dbSize).
  int64_t size() const;
  // Bytes of the pages the committed state uses: (last page + 1 - free
  // pages) * page size, free pages counted from LMDB's free-page database
  // (etcd's dbSizeInUse).
  int64_t size_in_use();
  // The same, or nullopt instead of waiting while a commit or a defrag
  // holds the database (for metrics scrapes, which must not block).
  std::optional<int64_t> try_size_in_use();

  Stats stats();
  const std::string& path() const { return path_; }
  // LMDB's maximum key size for this environment (511 bytes by default).
  size_t max_key_size() const { return max_key_size_; }

  // Stops the committer, commits and syncs everything, waits for readers to
  // finish and closes the environment. Idempotent.
  void close();
  // Tests only: drops every uncommitted write and closes, as a process crash
  // would (LMDB's committed state survives a process crash without fsync).
  void close_without_commit_for_testing();

 private:
  friend class BatchTx;
  friend class internal::View;

  Backend(std::string path, Options options, env::Clock& clock);

  Status open_env() ABSL_EXCLUSIVE_LOCKS_REQUIRED(commit_mu_);
  void close_env();
  void finish_close() ABSL_EXCLUSIVE_LOCKS_REQUIRED(commit_mu_);
  void load_consistent_index();

  // Publishes a closed scope's writes (BatchTx destructor, writer_mu_
  // held). True when the caller must commit the frozen batch itself (no
  // committer thread).
  bool publish(ScopeBuffer& scope);
  // Moves the active generation to the frozen queue; false if it was empty.
  bool freeze_locked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mu_);
  bool interval_elapsed_locked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mu_);
  // Commits every frozen generation; `sync` then fsyncs the file.
  void commit_frozen(bool sync) ABSL_LOCKS_EXCLUDED(commit_mu_);
  void commit_frozen_locked(bool sync) ABSL_EXCLUSIVE_LOCKS_REQUIRED(commit_mu_);
  void commit_generation(Generation& gen) ABSL_EXCLUSIVE_LOCKS_REQUIRED(commit_mu_);
  // Freezes and commits everything published so far.
  void commit_all(bool sync) ABSL_LOCKS_EXCLUDED(commit_mu_, state_mu_);
  void grow_map() ABSL_EXCLUSIVE_LOCKS_REQUIRED(commit_mu_);
  void committer_loop();

  std::unique_ptr<internal::View> begin_view(bool for_writer, const ScopeBuffer* scope);
  void acquire_reader_slot() ABSL_LOCKS_EXCLUDED(gate_mu_);
  void release_reader_slot() ABSL_LOCKS_EXCLUDED(gate_mu_);
  // Closes the gate to new readers and waits until none is active: the
  // precondition of mdb_env_set_mapsize and mdb_env_close.
  void drain_readers() ABSL_LOCKS_EXCLUDED(gate_mu_);
  void reopen_readers() ABSL_LOCKS_EXCLUDED(gate_mu_);

  int64_t size_in_use_locked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(commit_mu_);
  // The copy and the swap of defrag(), with commit_mu_ held throughout.
  Result<DefragResult> defrag_locked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(commit_mu_);
  // Frozen batches a writer may leave for the committer before it waits.
  size_t max_frozen_locked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mu_) {
    return defragging_ ? kMaxFrozenDuringDefrag : 1;
  }

  const std::string path_;
  const Options options_;
  env::Clock& clock_;

  // Held by the open BatchTx (the apply thread) and by defrag/close.
  Mutex writer_mu_;

  // Serialises LMDB write transactions and environment changes (resize,
  // defrag swap, close). env_ and dbis_ change only under commit_mu_ while
  // every reader slot is drained, so a holder of a reader slot or of
  // commit_mu_ may read them.
  Mutex commit_mu_ ABSL_ACQUIRED_AFTER(writer_mu_);
  MDB_env* env_ = nullptr;
  std::array<MDB_dbi, kBucketCount> dbis_{};
  // LMDB's compile-time key limit: set by the first open_env(), before any
  // other thread runs, and read without a lock (a defrag's reopen finds the
  // same value and leaves it alone).
  size_t max_key_size_ = 0;
  std::atomic<uint64_t> map_size_{0};  // written under commit_mu_
  int lock_fd_ = -1;                   // flock on "<path>-lock", held from open() to close()

  // The write buffer and the bookkeeping of commits. Generation contents are
  // guarded by state_mu_ too (they are written only while publishing).
  mutable Mutex state_mu_ ABSL_ACQUIRED_AFTER(commit_mu_);
  // Signalled when frozen_ changes, a generation gets its first write, or
  // the committer must stop.
  std::condition_variable state_cv_;
  std::shared_ptr<Generation> active_ ABSL_GUARDED_BY(state_mu_);
  // Frozen generations, oldest first, waiting for (or in) their commit.
  std::deque<std::shared_ptr<Generation>> frozen_ ABSL_GUARDED_BY(state_mu_);
  uint64_t published_seq_ ABSL_GUARDED_BY(state_mu_) = 0;
  ConsistentIndex consistent_index_ ABSL_GUARDED_BY(state_mu_);
  uint64_t commits_ ABSL_GUARDED_BY(state_mu_) = 0;
  uint64_t map_grows_ ABSL_GUARDED_BY(state_mu_) = 0;
  bool stop_committer_ ABSL_GUARDED_BY(state_mu_) = false;
  // A defrag holds commit_mu_ for its copy: batches pile up in frozen_.
  bool defragging_ ABSL_GUARDED_BY(state_mu_) = false;
  bool closed_ ABSL_GUARDED_BY(state_mu_) = true;

  // Reader slots: every LMDB read transaction (ours or inside mdb_env_copy)
  // holds one, so draining them makes the environment safe to resize/close.
  Mutex gate_mu_ ABSL_ACQUIRED_AFTER(state_mu_);
  std::condition_variable gate_cv_;  // a slot was released or the gate reopened
  uint32_t active_readers_ ABSL_GUARDED_BY(gate_mu_) = 0;
  bool gate_closed_ ABSL_GUARDED_BY(gate_mu_) = false;
  bool env_closed_ ABSL_GUARDED_BY(gate_mu_) = false;  // close() finished

  std::thread committer_;
};

}  // namespace etcd::backend
