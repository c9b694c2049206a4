// Watchers over the KV store (etcd's watchableStore, watcherGroup and
// watchStream): streams of change events for a key, a range or every key,
// from a start revision, with the API guarantees: ordered, unique,
// reliable, atomic (a revision's events in one response), resumable and
// bookmarkable.
//
// Groups. A watcher is in exactly one of:
//  - synced: it has seen every revision up to the store's; the KV store's
//    observer (apply thread) hands it each new revision's events directly.
//    Indexed (a hash map for one-key watchers, an interval tree for ranges)
//    so that an event visits only the watchers it concerns.
//  - unsynced: its next revision is in the past (a start revision in
//    history, or it fell behind); the sync round reads the backend from its
//    next revision and moves it to synced once caught up.
//  - victim: its stream's buffer was full; it keeps the one batch it could
//    not send and is retried later; never blocks the apply thread and never
//    holds more than that batch.
//  - done: cancelled, or its start revision was compacted (it got the
//    compacted response).
//
// The handover is exact: the observer and the sync round both run under
// mu_, and a sync round first takes the backend's writer lock, so the
// backend then holds every revision the observer has delivered
// (delivered_rev_) and nothing newer: a watcher caught up to delivered_rev_
// joins synced with nothing missed and nothing sent twice.
//
// Threads: on_write() runs on the apply thread (the KV store's observer);
// watch/cancel/progress come from RPC threads; sync rounds, victim retries
// and periodic progress from the store's background thread (or a test).
// The consumer of a stream pops responses on its own thread.
//
// Bounds: a stream buffers at most `capacity` event responses and
// kMaxStreamBytes of their events (whichever comes first; one response is
// always admitted into an empty buffer) plus kMaxControl control responses.
// etcd buffers 128 responses, but its send loop drains them into gRPC's
// transport buffers at once; ours sends one message per completed write, so
// a fan-out of hundreds of watchers on one stream would overflow 128 with
// a single revision and push them all through the victim and catch-up
// paths. The byte bound keeps memory what 128 large events would cost; a sync round reads at most
// kMaxSyncEvents revisions of kMaxWatchersPerSync watchers; a response from
// history covers at most kMaxRevsPerResponse revisions.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "base/rng.h"
#include "base/status.h"
#include "base/worker.h"
#include "env/clock.h"
#include "mvcc/interval_tree.h"
#include "mvcc/kvstore.h"
#include "mvccpb/kv.pb.h"

namespace etcd::mvcc {

// etcd's watch errors (the created response's cancel_reason).
constexpr const char* kErrEmptyWatcherRange = "mvcc: watcher range is empty";
constexpr const char* kErrWatcherDuplicateId =
    "mvcc: duplicate watch ID provided on the WatchStream";
constexpr const char* kErrWatcherNotExist = "mvcc: watcher does not exist";

// clientv3.AutoWatchID / InvalidWatchID.
constexpr int64_t kAutoWatchId = 0;
constexpr int64_t kInvalidWatchId = -1;

struct WatchOptions {
  bool no_put = false;     // filter out PUT events
  bool no_delete = false;  // filter out DELETE events
  bool prev_kv = false;    // events carry the key's previous value
  bool progress_notify = false;
  bool fragment = false;  // the consumer may split large responses
};

// What a stream hands its consumer.
struct WatchResponse {
  enum class Kind {
    kEvents,     // events (or, when empty, a progress notification)
    kCreated,    // a watch was created (or refused: canceled + reason)
    kCanceled,   // a watch was cancelled on request
    kCompacted,  // the watch's next revision was compacted; it is cancelled
  };
  Kind kind = Kind::kEvents;
  int64_t watch_id = 0;
  int64_t revision = 0;  // the header revision
  int64_t compact_revision = 0;
  std::vector<mvccpb::Event> events;
  bool canceled = false;      // kCreated: refused
  std::string cancel_reason;  // kCreated: why
  bool fragment = false;      // the watch allows fragments
};

class WatchableStore;

// One client stream's watchers and its bounded response buffer.
class WatchStream {
 public:
  ~WatchStream();
  WatchStream(const WatchStream&) = delete;
  WatchStream& operator=(const WatchStream&) = delete;

  // Creates a watch over [key, end) ("" end: the key alone; "\0": every key
  // >= key) from start_rev (0: the next revision). id kAutoWatchId picks the
  // smallest free id. Queues the created response (or the refusal, with
  // etcd's reason) and returns the id. Callers queue a control response
  // only when has_control_room() said so (ASSERTed: the bound).
  Result<int64_t> watch(int64_t id, std::string key, std::string end, MainRev start_rev,
                        const WatchOptions& opts);
  // Queues the refusal of a create request that never became a watch
  // (created and canceled, watch id -1, `reason`): a watch the caller may
  // not read. The same bound as watch() applies.
  void refuse(std::string reason);
  // Cancels a watch and queues the canceled response; not_found
  // (kErrWatcherNotExist) when it does not exist.
  Status cancel(int64_t id);
  // etcd 3.5's RequestProgressAll: when every watcher of the stream is
  // synced, queue a progress notification (watch id -1) at the current
  // revision; otherwise send it as soon as they are.
  void request_progress();
  // Cancels every watch; later calls do nothing.
  void close();

  // Consumer side: pops the next response. When the
  // buffer is empty returns false and arms the notify callback, which is
  // called (on a producer's thread, with no stream lock held) once a
  // response arrives.
  bool next(WatchResponse* out);
  // Whether a control response (created, canceled, progress) fits: the
  // request reader reads the next request only then.
  bool has_control_room();
  size_t buffered();

  // The store's revision (headers of control responses).
  MainRev rev() const;

  // One watch (opaque outside the store).
  struct Watcher;

 private:
  friend class WatchableStore;
  WatchStream(WatchableStore& store, size_t capacity, std::function<void()> notify);

  // Queue operations; the caller holds store_.mu_. push_event returns false
  // when the buffer is full, and then leaves `r` as it was.
  bool push_event(WatchResponse&& r);
  void push_control(WatchResponse r);

  WatchableStore& store_;
  const size_t capacity_;
  const std::function<void()> notify_;

  // Guarded by store_.mu_.
  absl::flat_hash_map<int64_t, std::unique_ptr<Watcher>> watchers_;
  int64_t next_id_ = 0;
  bool closed_ = false;
  bool deferred_progress_ = false;
  std::chrono::steady_clock::time_point next_progress_{};

  // The buffer; chan_mu_ is taken after store_.mu_ when both are held.
  Mutex chan_mu_;
  struct Queued {
    WatchResponse response;
    bool control;  // counted in control_queued_, else in events_queued_
    size_t bytes;  // counted in bytes_queued_
  };
  std::deque<Queued> queue_ ABSL_GUARDED_BY(chan_mu_);
  size_t events_queued_ ABSL_GUARDED_BY(chan_mu_) = 0;
  size_t control_queued_ ABSL_GUARDED_BY(chan_mu_) = 0;
  size_t bytes_queued_ ABSL_GUARDED_BY(chan_mu_) = 0;
  // A push was refused since the consumer last took a response: taking one
  // now makes room, so the store retries its victims.
  bool refused_ ABSL_GUARDED_BY(chan_mu_) = false;
  // The consumer found the buffer empty (it starts idle): the next push
  // notifies it.
  bool consumer_waiting_ ABSL_GUARDED_BY(chan_mu_) = true;
};

class WatchableStore {
 public:
  static constexpr size_t kChanBufLen = 1024;                 // responses per stream
  static constexpr size_t kMaxStreamBytes = size_t{8} << 20;  // of buffered events
  static constexpr size_t kMaxControl = 16;                   // etcd's ctrlStreamBufLen
  static constexpr size_t kMaxWatchersPerSync = 512;
  static constexpr int kMaxRevsPerResponse = 1000;  // etcd's watchBatchMaxRevs
  static constexpr size_t kMaxSyncEvents = 4096;    // backend entries per sync round

  // `progress_interval`: the periodic progress notification interval
  // (0: never). Registers on_write() as an observer of `kv`.
  WatchableStore(KVStore& kv, env::Clock& clock, std::chrono::milliseconds progress_interval);
  ~WatchableStore();
  WatchableStore(const WatchableStore&) = delete;
  WatchableStore& operator=(const WatchableStore&) = delete;

  // A new stream: `notify` is called when a response arrives for a waiting
  // consumer (see WatchStream::next).
  std::unique_ptr<WatchStream> new_stream(std::function<void()> notify,
                                          size_t capacity = kChanBufLen);

  // The background thread: sync rounds every 100 ms (at once while a round
  // leaves work behind), victim retries every 10 ms, progress ticks.
  void start();
  void stop();
  // The store was replaced (a snapshot from the leader): every synced
  // watcher catches up again from the backend (etcd's watchableStore
  // Restore).
  void on_restore();

  // One step of each background duty (tests call them by hand).
  // Catches up to kMaxWatchersPerSync unsynced watchers; returns how many
  // remain unsynced.
  size_t sync_watchers();
  // Retries the victims' pending batches; returns how many were sent.
  size_t retry_victims();
  // Sends the periodic progress notifications that are due at clock.now().
  void tick_progress();

  // The observer of the KV store's write transactions.
  void on_write(const KVStore::WriteTxn& txn);

  KVStore& kv() { return kv_; }

  // Counts for tests and metrics.
  struct Counts {
    size_t synced = 0, unsynced = 0, victims = 0, streams = 0;
    // Watchers visited by on_write since construction (the index test).
    uint64_t visited = 0;
  };
  Counts counts();

 private:
  friend class WatchStream;
  using Watcher = WatchStream::Watcher;

  // Watchers indexed by the keys they watch (etcd's watcherGroup).
  class Group {
   public:
    void add(Watcher* w);
    bool remove(Watcher* w);
    bool contains(const Watcher* w) const { return all_.contains(w); }
    size_t size() const { return all_.size(); }
    const absl::flat_hash_set<Watcher*>& all() const { return all_; }
    // Calls f for every watcher whose range holds `key`.
    void for_key(std::string_view key, const std::function<void(Watcher*)>& f);

   private:
    absl::flat_hash_set<Watcher*> all_;
    absl::flat_hash_map<std::string, absl::flat_hash_set<Watcher*>> keys_;
    IntervalTree<absl::flat_hash_set<Watcher*>> ranges_;
  };

  void remove_watcher(Watcher* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends events (after the watcher's filters) or a progress notification
  // (empty events), moving them out of `events`; false when the stream's
  // buffer is full, and then `events` keeps them (filtered).
  bool send(Watcher* w, std::vector<mvccpb::Event>& events, int64_t rev)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void make_victim(Watcher* w, std::vector<mvccpb::Event> events, int64_t rev)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool all_synced(const WatchStream* s) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void flush_deferred_progress() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::chrono::milliseconds jittered_interval() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void run(Worker& self);
  void kick();

  KVStore& kv_;
  env::Clock& clock_;
  const std::chrono::milliseconds progress_interval_;

  mutable Mutex mu_;
  // The last revision handed to the synced watchers: every watcher's view
  // of "the current revision" (the KV store's rev() moves just after).
  int64_t delivered_rev_ ABSL_GUARDED_BY(mu_) = 0;
  Group synced_ ABSL_GUARDED_BY(mu_);
  Group unsynced_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<Watcher*> victims_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<WatchStream*> streams_ ABSL_GUARDED_BY(mu_);
  Rng rng_ ABSL_GUARDED_BY(mu_){0x77A7C4};  // progress jitter
  uint64_t visited_ ABSL_GUARDED_BY(mu_) = 0;

  Worker worker_;  // the background thread (start()/stop())
};

}  // namespace etcd::mvcc
