// The store's watchers and event history (etcd's watcherHub): watchers by
// the key they watch, each list in registration order, and who of them an
// event reaches. Internal to the store.
//
// Thread-safety: none of its own; the store's mutex guards the hub and
// every WatcherImpl's `removed` and `pos`. Sinks run under that mutex;
// while one runs, *sink_thread names its thread, so that a cancel() from
// inside a sink can tell that it already holds the mutex.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "v2store/event_history.h"
#include "v2store/store.h"

namespace etcd::v2store::internal {

class Core;

class WatcherImpl final : public Watch {
 public:
  void cancel() override;
  uint64_t start_index() const override { return start_index_; }

  // Constant after registration.
  std::weak_ptr<Core> core;
  std::string key;
  bool recursive = false;
  bool stream = false;
  uint64_t since_index = 0;
  uint64_t start_index_ = 0;
  WatchSink sink;

  // Guarded by the store's mutex.
  bool removed = false;
  std::list<std::shared_ptr<WatcherImpl>>::iterator pos;
};

class WatcherHub {
 public:
  WatcherHub(std::atomic<std::thread::id>* sink_thread, size_t capacity)
      : sink_thread_(sink_thread), history_(capacity) {}

  EventHistory& history() { return history_; }
  const EventHistory& history() const { return history_; }
  void set_history(EventHistory h) { history_ = std::move(h); }

  // etcd's watcherHub.watch: an event from the history at or after
  // since_index goes to the sink at once and the watch ends there (etcd
  // registers no watcher then, even for a stream); otherwise the watcher
  // is registered under `key`.
  StoreResult<std::shared_ptr<Watch>> watch(const std::shared_ptr<Core>& core, std::string key,
                                            bool recursive, bool stream, uint64_t since_index,
                                            uint64_t store_index, WatchSink sink);

  // Into the history only (a refresh).
  void add(const Event& e) { history_.add(e); }
  // Into the history, then to the watchers of "/", of each directory on
  // the event's key and of the key itself.
  void notify(const Event& e);
  // To the watchers registered exactly at `path`: those watching the
  // event's own key, recursive ones (unless the key is hidden below
  // `path`), and, when `deleted`, every one (`path` is a node the event
  // removed).
  void notify_watchers(const Event& e, const std::string& path, bool deleted);

  // Unregisters w; nothing when it is gone already.
  void remove(WatcherImpl* w);
  size_t count() const { return count_; }

 private:
  // Runs w's sink on e; false when the watch ends with it.
  bool call_sink(WatcherImpl* w, const Event& e);

  std::atomic<std::thread::id>* const sink_thread_;
  EventHistory history_;
  std::map<std::string, std::list<std::shared_ptr<WatcherImpl>>, std::less<>> watchers_;
  size_t count_ = 0;
};

// etcd's isHidden: whether keyPath is hidden from a watcher at watchPath
// (a component after watchPath begins with '_').
bool hidden_from(std::string_view watch_path, std::string_view key_path);

}  // namespace etcd::v2store::internal
