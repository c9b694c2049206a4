#include "mvcc/watchable_store.h"

#include <algorithm>
#include <limits>

#include "base/assert.h"
#include "metrics/metrics.h"
#include "storage/backend/schema.h"

namespace etcd::mvcc {

// One watcher. Owned by its stream (watchers_); every field is guarded by
// the store's mu_.
struct WatchStream::Watcher {
  enum class State { kSynced, kUnsynced, kVictim, kDone };

  WatchStream* stream = nullptr;
  int64_t id = 0;
  std::string key;
  bool is_range = false;  // false: the key alone
  IntervalEnd end;        // is_range: [key, end)
  // The next revision this watcher needs: synced watchers with a future
  // start revision skip events below it; unsynced ones are caught up from it.
  int64_t min_rev = 0;
  WatchOptions opts;
  State state = State::kDone;
  // Victim: the batch it could not send, and that response's revision.
  std::vector<mvccpb::Event> pending;
  int64_t pending_rev = 0;
  // progress_notify: events were sent since the last progress tick (etcd
  // then skips the tick's notification).
  bool sent_events = false;

  bool matches(std::string_view k) const {
    if (!is_range) return k == key;
    return k >= std::string_view(key) && before_end(k, end);
  }
};

namespace {

using Watcher = WatchStream::Watcher;

// etcd's eventBatch: at most kMaxRevsPerResponse revisions; more_rev is the
// first revision left out.
struct EventBatch {
  std::vector<mvccpb::Event> events;
  int revs = 0;
  int64_t more_rev = 0;

  void add(const mvccpb::Event& ev) {
    if (more_rev != 0) return;
    int64_t rev = ev.kv().mod_revision();
    if (events.empty() || rev > events.back().kv().mod_revision()) {
      if (revs == WatchableStore::kMaxRevsPerResponse) {
        more_rev = rev;
        return;
      }
      ++revs;
    }
    events.push_back(ev);
  }
};

bool is_create_event(const mvccpb::Event& ev) {
  return ev.type() == mvccpb::Event::PUT && ev.kv().create_revision() == ev.kv().mod_revision();
}

// The event with the key's previous value (none for a creation), read
// through the writer's batch, so it is taken when the event is queued: a
// later compaction cannot take it away (etcd reads it when sending).
mvccpb::Event with_prev(const TreeIndex& index, backend::BatchTx& tx, const mvccpb::Event& ev) {
  mvccpb::Event out = ev;
  if (is_create_event(ev)) return out;
  auto at = index.get(ev.kv().key(), ev.kv().mod_revision() - 1);
  if (!at) return out;
  auto v = tx.get(backend::Bucket::kKey, backend::revision_key(at->modified));
  if (v) ASSERT(out.mutable_prev_kv()->ParseFromString(*v), "malformed KeyValue in the backend");
  return out;
}

}  // namespace

// ---- WatchStream ----------------------------------------------------------

WatchStream::WatchStream(WatchableStore& store, size_t capacity, std::function<void()> notify)
    : store_(store), capacity_(capacity), notify_(std::move(notify)) {}

WatchStream::~WatchStream() { close(); }

MainRev WatchStream::rev() const {
  MutexLock lock(&store_.mu_);
  return MainRev(store_.delivered_rev_);
}

Result<int64_t> WatchStream::watch(int64_t id, std::string key, std::string end, MainRev start,
                                   const WatchOptions& opts) {
  const int64_t start_rev = start.value();
  // etcd's RPC layer: an empty key is "\0", the smallest key; an end of
  // "\0" means every key >= key.
  if (key.empty()) key.assign(1, '\0');
  const bool infinite = end.size() == 1 && end[0] == '\0';
  MutexLock lock(&store_.mu_);
  const int64_t cur = store_.delivered_rev_;
  auto refuse = [&](const char* reason) -> Result<int64_t> {
    WatchResponse r;
    r.kind = WatchResponse::Kind::kCreated;
    r.watch_id = kInvalidWatchId;
    r.revision = cur;
    r.canceled = true;
    r.cancel_reason = reason;
    push_control(std::move(r));
    return invalid_argument(reason);
  };
  if (!end.empty() && !infinite && key >= end) return refuse(kErrEmptyWatcherRange);
  if (closed_) return refuse(kErrEmptyWatcherRange);  // as etcd
  if (id == kAutoWatchId) {
    while (watchers_.contains(next_id_)) ++next_id_;
    id = next_id_++;
  } else if (watchers_.contains(id)) {
    return refuse(kErrWatcherDuplicateId);
  }
  auto w = std::make_unique<Watcher>();
  w->stream = this;
  w->id = id;
  w->key = std::move(key);
  w->is_range = !end.empty();
  w->end.infinite = infinite;
  if (w->is_range && !infinite) w->end.key = std::move(end);
  w->opts = opts;
  // The created response goes first: every event of this watcher is queued
  // after it (both happen under mu_).
  WatchResponse r;
  r.kind = WatchResponse::Kind::kCreated;
  r.watch_id = id;
  r.revision = cur;
  push_control(std::move(r));
  if (start_rev <= 0 || start_rev > cur) {
    w->min_rev = std::max(cur + 1, start_rev);
    w->state = Watcher::State::kSynced;
    store_.synced_.add(w.get());
  } else {
    w->min_rev = start_rev;
    w->state = Watcher::State::kUnsynced;
    store_.unsynced_.add(w.get());
    store_.kick();
  }
  if (opts.progress_notify && store_.progress_interval_.count() > 0 &&
      next_progress_ == std::chrono::steady_clock::time_point{}) {
    next_progress_ = store_.clock_.now() + store_.jittered_interval();
  }
  watchers_[id] = std::move(w);
  metrics::Metrics::global().watcher_total->Increment();
  return id;
}

void WatchStream::refuse(std::string reason) {
  MutexLock lock(&store_.mu_);
  WatchResponse r;
  r.kind = WatchResponse::Kind::kCreated;
  r.watch_id = kInvalidWatchId;
  r.revision = store_.delivered_rev_;
  r.canceled = true;
  r.cancel_reason = std::move(reason);
  push_control(std::move(r));
}

Status WatchStream::cancel(int64_t id) {
  MutexLock lock(&store_.mu_);
  auto it = watchers_.find(id);
  if (closed_ || it == watchers_.end()) return not_found(kErrWatcherNotExist);
  store_.remove_watcher(it->second.get());
  watchers_.erase(it);
  WatchResponse r;
  r.kind = WatchResponse::Kind::kCanceled;
  r.watch_id = id;
  r.revision = store_.delivered_rev_;
  push_control(std::move(r));
  return Status::ok();
}

void WatchStream::request_progress() {
  MutexLock lock(&store_.mu_);
  if (closed_) return;
  deferred_progress_ = true;
  store_.flush_deferred_progress();
}

void WatchStream::close() {
  MutexLock lock(&store_.mu_);
  if (closed_) return;
  closed_ = true;
  for (auto& [id, w] : watchers_) store_.remove_watcher(w.get());
  watchers_.clear();
  store_.streams_.erase(this);
}

bool WatchStream::push_event(WatchResponse&& r) {
  size_t bytes = 0;
  for (const auto& ev : r.events) {
    bytes += ev.kv().key().size() + ev.kv().value().size() + ev.prev_kv().key().size() +
             ev.prev_kv().value().size() + 64;
  }
  bool wake = false;
  {
    MutexLock lock(&chan_mu_);
    if (events_queued_ >= capacity_ ||
        (events_queued_ > 0 && bytes_queued_ + bytes > WatchableStore::kMaxStreamBytes)) {
      refused_ = true;
      return false;
    }
    ++events_queued_;
    bytes_queued_ += bytes;
    queue_.push_back(Queued{std::move(r), /*control=*/false, bytes});
    wake = std::exchange(consumer_waiting_, false);
  }
  if (wake && notify_) notify_();
  return true;
}

void WatchStream::push_control(WatchResponse r) {
  bool wake = false;
  {
    MutexLock lock(&chan_mu_);
    ASSERT(control_queued_ < WatchableStore::kMaxControl, "watch control buffer overflow");
    ++control_queued_;
    queue_.push_back(Queued{std::move(r), /*control=*/true, 0});
    wake = std::exchange(consumer_waiting_, false);
  }
  if (wake && notify_) notify_();
}

bool WatchStream::next(WatchResponse* out) {
  bool was_full = false;
  {
    MutexLock lock(&chan_mu_);
    if (queue_.empty()) {
      consumer_waiting_ = true;
      return false;
    }
    Queued& q = queue_.front();
    *out = std::move(q.response);
    if (q.control) {
      --control_queued_;
    } else {
      was_full = std::exchange(refused_, false);
      --events_queued_;
      bytes_queued_ -= q.bytes;
    }
    queue_.pop_front();
  }
  // A full buffer may have made victims: retry them now there is room.
  if (was_full) store_.kick();
  return true;
}

bool WatchStream::has_control_room() {
  MutexLock lock(&chan_mu_);
  // One slot stays free for a deferred progress notification.
  return control_queued_ + 2 <= WatchableStore::kMaxControl;
}

size_t WatchStream::buffered() {
  MutexLock lock(&chan_mu_);
  return queue_.size();
}

// ---- WatchableStore::Group ------------------------------------------------

void WatchableStore::Group::add(Watcher* w) {
  bool inserted = all_.insert(w).second;
  ASSERT(inserted, "watcher added to a group twice");
  if (!w->is_range) {
    keys_[w->key].insert(w);
    return;
  }
  auto* set = ranges_.find(w->key, w->end);
  if (set == nullptr) set = ranges_.insert(w->key, w->end);
  set->insert(w);
}

bool WatchableStore::Group::remove(Watcher* w) {
  if (all_.erase(w) == 0) return false;
  if (!w->is_range) {
    auto it = keys_.find(w->key);
    ASSERT(it != keys_.end(), "key watcher missing from its group");
    it->second.erase(w);
    if (it->second.empty()) keys_.erase(it);
    return true;
  }
  auto* set = ranges_.find(w->key, w->end);
  ASSERT(set != nullptr, "range watcher missing from the interval tree");
  set->erase(w);
  if (set->empty()) ranges_.erase(w->key, w->end);
  return true;
}

void WatchableStore::Group::for_key(std::string_view key, const std::function<void(Watcher*)>& f) {
  if (all_.empty()) return;
  if (auto it = keys_.find(std::string(key)); it != keys_.end()) {
    for (Watcher* w : it->second) f(w);
  }
  if (ranges_.empty()) return;
  ranges_.stab(key, [&f](absl::flat_hash_set<Watcher*>& set) {
    for (Watcher* w : set) f(w);
  });
}

// ---- WatchableStore -------------------------------------------------------

WatchableStore::WatchableStore(KVStore& kv, env::Clock& clock,
                               std::chrono::milliseconds progress_interval)
    : kv_(kv), clock_(clock), progress_interval_(progress_interval) {
  {
    MutexLock lock(&mu_);
    delivered_rev_ = kv.rev().value();
  }
  kv_.add_observer([this](const KVStore::WriteTxn& txn) { on_write(txn); });
}

WatchableStore::~WatchableStore() {
  stop();
  MutexLock lock(&mu_);
  ASSERT(streams_.empty(), "watch streams outlive their store");
}

std::unique_ptr<WatchStream> WatchableStore::new_stream(std::function<void()> notify,
                                                        size_t capacity) {
  ASSERT(capacity > 0, "a watch stream needs room for one response");
  std::unique_ptr<WatchStream> s(new WatchStream(*this, capacity, std::move(notify)));
  MutexLock lock(&mu_);
  streams_.insert(s.get());
  return s;
}

void WatchableStore::remove_watcher(Watcher* w) {
  metrics::Metrics::global().watcher_total->Decrement();
  switch (w->state) {
    case Watcher::State::kSynced:
      synced_.remove(w);
      break;
    case Watcher::State::kUnsynced:
      unsynced_.remove(w);
      break;
    case Watcher::State::kVictim:
      victims_.erase(w);
      w->pending.clear();
      break;
    case Watcher::State::kDone:
      break;
  }
  w->state = Watcher::State::kDone;
}

bool WatchableStore::send(Watcher* w, std::vector<mvccpb::Event>& events, int64_t rev) {
  const bool progress = events.empty();
  if (w->opts.no_put || w->opts.no_delete) {
    std::erase_if(events, [w](const mvccpb::Event& ev) {
      return ev.type() == mvccpb::Event::PUT ? w->opts.no_put : w->opts.no_delete;
    });
    if (!progress && events.empty()) return true;  // nothing left to say
  }
  WatchResponse r;
  r.kind = WatchResponse::Kind::kEvents;
  r.watch_id = w->id;
  r.revision = rev;
  r.events = std::move(events);
  r.fragment = w->opts.fragment;
  if (!w->stream->push_event(std::move(r))) {
    events = std::move(r.events);  // kept for the victim
    return false;
  }
  if (!progress) w->sent_events = true;
  return true;
}

void WatchableStore::make_victim(Watcher* w, std::vector<mvccpb::Event> events, int64_t rev) {
  w->state = Watcher::State::kVictim;
  w->pending = std::move(events);
  w->pending_rev = rev;
  victims_.insert(w);
  kick();
}

void WatchableStore::on_write(const KVStore::WriteTxn& txn) {
  const int64_t rev = txn.write_rev().value();
  MutexLock lock(&mu_);
  ASSERT(rev > delivered_rev_, "watch events out of revision order");
  delivered_rev_ = rev;
  if (synced_.size() == 0) return;
  const auto& kvs = txn.changes();
  const auto& deleted = txn.change_is_delete();
  // Reads only; the observer is handed the transaction as const.
  backend::BatchTx& tx = const_cast<KVStore::WriteTxn&>(txn).batch_tx();
  absl::flat_hash_map<Watcher*, std::vector<mvccpb::Event>> batches;
  for (size_t i = 0; i < kvs.size(); ++i) {
    mvccpb::Event ev;
    ev.set_type(deleted[i] ? mvccpb::Event::DELETE : mvccpb::Event::PUT);
    *ev.mutable_kv() = kvs[i];
    std::optional<mvccpb::Event> prev;  // computed once, for prev_kv watchers
    // Runs inside this scope, under mu_.
    synced_.for_key(kvs[i].key(), [&](Watcher* w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
      ++visited_;
      if (rev < w->min_rev) return;  // a start revision still in the future
      if (!w->opts.prev_kv) {
        batches[w].push_back(ev);
        return;
      }
      if (!prev) prev = with_prev(kv_.index(), tx, ev);
      batches[w].push_back(*prev);
    });
  }
  for (auto& [w, events] : batches) {
    if (send(w, events, rev)) continue;
    // The stream is full: set the watcher aside with this revision's
    // events; it resumes from the next revision once they are sent.
    synced_.remove(w);
    w->min_rev = rev + 1;
    make_victim(w, std::move(events), rev);
  }
}

size_t WatchableStore::retry_victims() {
  MutexLock lock(&mu_);
  size_t moved = 0;
  std::vector<Watcher*> victims(victims_.begin(), victims_.end());
  for (Watcher* w : victims) {
    if (!send(w, w->pending, w->pending_rev)) continue;
    ++moved;
    victims_.erase(w);
    w->pending.clear();
    if (w->min_rev <= delivered_rev_) {
      w->state = Watcher::State::kUnsynced;
      unsynced_.add(w);
    } else {
      w->state = Watcher::State::kSynced;
      synced_.add(w);
    }
  }
  flush_deferred_progress();
  return moved;
}

size_t WatchableStore::sync_watchers() {
  {
    MutexLock lock(&mu_);
    if (unsynced_.size() == 0) {
      flush_deferred_progress();
      return 0;
    }
  }
  // The writer lock first (the apply thread's order: it holds it while
  // the observer takes mu_): no write transaction is open, so the backend
  // holds exactly the revisions up to delivered_rev_.
  backend::BatchTx tx = kv_.backend().batch_tx();
  MutexLock lock(&mu_);
  const int64_t cur = delivered_rev_;
  const int64_t compacted = kv_.compact_rev().value();
  Group chosen;
  int64_t min_rev = std::numeric_limits<int64_t>::max();
  std::vector<Watcher*> candidates;
  for (Watcher* w : unsynced_.all()) {
    if (candidates.size() == kMaxWatchersPerSync) break;
    candidates.push_back(w);
  }
  for (Watcher* w : candidates) {
    ASSERT(w->min_rev <= cur, "unsynced watcher ahead of the store");
    if (w->min_rev < compacted) {
      WatchResponse r;
      r.kind = WatchResponse::Kind::kCompacted;
      r.watch_id = w->id;
      r.revision = cur;
      r.compact_revision = compacted;
      if (w->stream->push_event(std::move(r))) {
        unsynced_.remove(w);
        w->state = Watcher::State::kDone;
      }
      continue;  // full: retried next round
    }
    min_rev = std::min(min_rev, w->min_rev);
    chosen.add(w);
  }
  if (chosen.size() == 0) {
    flush_deferred_progress();
    return unsynced_.size();
  }

  // Read the revisions [min_rev, cur], at most kMaxSyncEvents entries, cut
  // at a revision boundary so that no revision is split.
  const auto from = backend::revision_key(Revision{min_rev, 0});
  auto entries = tx.range(backend::Bucket::kKey, from, backend::revision_key(Revision{cur + 1, 0}),
                          kMaxSyncEvents + 1);
  int64_t upper = cur;
  if (entries.size() > kMaxSyncEvents) {
    auto cut = backend::parse_revision_key(entries.back().key);
    ASSERT(cut.has_value(), "malformed revision key");
    upper = cut->rev.main - 1;
    while (!entries.empty()) {
      auto p = backend::parse_revision_key(entries.back().key);
      if (p->rev.main <= upper) break;
      entries.pop_back();
    }
    if (entries.empty()) {
      // One revision larger than the limit: read it whole (atomic).
      upper = cut->rev.main;
      entries =
          tx.range(backend::Bucket::kKey, from, backend::revision_key(Revision{upper + 1, 0}));
    }
  }
  absl::flat_hash_map<Watcher*, EventBatch> batches;
  for (const auto& e : entries) {
    auto p = backend::parse_revision_key(e.key);
    ASSERT(p.has_value(), "malformed revision key");
    mvccpb::Event ev;
    ASSERT(ev.mutable_kv()->ParseFromString(e.value), "malformed KeyValue in the backend");
    if (p->tombstone) {
      ev.set_type(mvccpb::Event::DELETE);
      ev.mutable_kv()->set_mod_revision(p->rev.main);
    } else {
      ev.set_type(mvccpb::Event::PUT);
    }
    std::optional<mvccpb::Event> prev;
    chosen.for_key(ev.kv().key(), [&](Watcher* w) {
      if (p->rev.main < w->min_rev) return;
      if (!w->opts.prev_kv) {
        batches[w].add(ev);
        return;
      }
      if (!prev) prev = with_prev(kv_.index(), tx, ev);
      batches[w].add(*prev);
    });
  }
  std::vector<Watcher*> watchers(chosen.all().begin(), chosen.all().end());
  for (Watcher* w : watchers) {
    auto it = batches.find(w);
    const int64_t next =
        it != batches.end() && it->second.more_rev != 0 ? it->second.more_rev : upper + 1;
    w->min_rev = next;
    if (it == batches.end() || send(w, it->second.events, next - 1)) {
      if (next > cur) {
        unsynced_.remove(w);
        w->state = Watcher::State::kSynced;
        synced_.add(w);
      }
      continue;
    }
    unsynced_.remove(w);
    make_victim(w, std::move(it->second.events), next - 1);
  }
  flush_deferred_progress();
  return unsynced_.size();
}

bool WatchableStore::all_synced(const WatchStream* s) const {
  for (const auto& [id, w] : s->watchers_) {
    if (w->state != Watcher::State::kSynced && w->state != Watcher::State::kDone) return false;
  }
  return true;
}

void WatchableStore::flush_deferred_progress() {
  for (WatchStream* s : streams_) {
    if (!s->deferred_progress_ || !all_synced(s)) continue;
    s->deferred_progress_ = false;
    // etcd 3.5: nothing is sent for a stream without watchers.
    bool any = std::any_of(s->watchers_.begin(), s->watchers_.end(), [](const auto& kv) {
      return kv.second->state != Watcher::State::kDone;
    });
    if (!any) continue;
    {
      MutexLock chan(&s->chan_mu_);
      if (s->control_queued_ >= kMaxControl) {
        s->deferred_progress_ = true;  // no room yet: next round
        continue;
      }
    }
    WatchResponse r;
    r.kind = WatchResponse::Kind::kEvents;
    r.watch_id = kInvalidWatchId;
    r.revision = delivered_rev_;
    s->push_control(std::move(r));
  }
}

std::chrono::milliseconds WatchableStore::jittered_interval() {
  // etcd adds up to a tenth of the interval, so that watchers created
  // together do not all report at once.
  auto tenth = static_cast<uint64_t>(progress_interval_.count() / 10);
  return progress_interval_ +
         std::chrono::milliseconds(tenth > 0 ? static_cast<int64_t>(rng_.uniform(tenth)) : 0);
}

void WatchableStore::tick_progress() {
  if (progress_interval_.count() <= 0) return;
  const auto now = clock_.now();
  MutexLock lock(&mu_);
  for (WatchStream* s : streams_) {
    if (s->next_progress_ == std::chrono::steady_clock::time_point{} || now < s->next_progress_) {
      continue;
    }
    s->next_progress_ = now + jittered_interval();
    for (auto& [id, w] : s->watchers_) {
      if (!w->opts.progress_notify) continue;
      // Only a synced watcher can vouch that everything up to the current
      // revision was delivered; a full buffer drops the notification.
      if (!w->sent_events && w->state == Watcher::State::kSynced) {
        std::vector<mvccpb::Event> none;
        send(w.get(), none, delivered_rev_);
      }
      w->sent_events = false;
    }
  }
}

WatchableStore::Counts WatchableStore::counts() {
  MutexLock lock(&mu_);
  Counts c;
  c.synced = synced_.size();
  c.unsynced = unsynced_.size();
  c.victims = victims_.size();
  c.streams = streams_.size();
  c.visited = visited_;
  return c;
}

void WatchableStore::kick() { worker_.kick(); }

void WatchableStore::start() {
  if (!worker_.running()) worker_.start([this](Worker& self) { run(self); });
}

void WatchableStore::stop() { worker_.stop(); }

void WatchableStore::run(Worker& self) {
  constexpr auto kSyncInterval = std::chrono::milliseconds(100);   // etcd's
  constexpr auto kVictimInterval = std::chrono::milliseconds(10);  // etcd's
  auto next_sync = clock_.now();
  while (true) {
    bool has_victims;
    {
      MutexLock lock(&mu_);
      has_victims = !victims_.empty();
    }
    const Worker::Wake wake = self.wait_for(has_victims ? kVictimInterval : kSyncInterval);
    if (wake == Worker::Wake::kStop) return;
    const bool kicked = wake == Worker::Wake::kKick;
    // Retry while it makes progress (bounded: each pass empties buffers).
    for (int i = 0; i < 4 && retry_victims() > 0; ++i) {
    }
    auto now = clock_.now();
    // A kick (a new watcher from history, room in a buffer) syncs at once.
    if (kicked || now >= next_sync) {
      size_t before;
      {
        MutexLock lock(&mu_);
        before = unsynced_.size();
      }
      size_t left = sync_watchers();
      // Work left and progress made: go again at once (etcd does too).
      next_sync = left > 0 && left < before ? now : now + kSyncInterval;
    }
    tick_progress();
  }
}

void WatchableStore::on_restore() {
  MutexLock lock(&mu_);
  std::vector<Watcher*> all(synced_.all().begin(), synced_.all().end());
  for (Watcher* w : all) {
    synced_.remove(w);
    unsynced_.add(w);
  }
}

}  // namespace etcd::mvcc
