// etcd's v2 store (etcdserver/api/v2store): a tree of nodes (directories
// and key/value files) with TTLs, created and modified indexes, the event
// history of the last kHistoryCapacity events for waits with a waitIndex,
// watchers, and the statistics of /v2/stats/store.
//
// Paths are absolute and cleaned as Go's path.Clean ("/a//b/" is "/a/b").
// The server keeps the v2 API's keys under "/1" and its membership facts
// under "/0" (etcd's StoreKeysPrefix and StoreClusterPrefix); the store
// itself knows nothing of that: it is created with those namespaces as
// directories.
//
// Every write advances the store's index by one (etcd's CurrentIndex), so
// on a member it follows the raft entries that carry v2 requests, not the
// raft index.
//
// Persistence: save() is etcd's JSON of the whole store (the Data of a raft
// snapshot, and the part of a .snap file etcd keeps), recovery() is its
// inverse and accepts what etcd 3.4/3.5 write.
//
// Thread-safety: every method is safe from any thread (one mutex inside).
// A watcher's sink runs with that mutex held (on the writing thread), so
// it must not block and must not call back into the store (Watch::cancel
// is the one exception: it may be called from inside a sink).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "v2store/error.h"

namespace etcd::v2store {

inline constexpr size_t kHistoryCapacity = 1000;

// A node as the API shows it (etcd's NodeExtern).
struct NodeExtern {
  std::string key;
  std::optional<std::string> value;  // absent for directories
  bool dir = false;
  // Unix nanoseconds of the expiry and the TTL in whole seconds rounded
  // up, for nodes with a TTL only.
  std::optional<int64_t> expiration_ns;
  int64_t ttl = 0;
  // Children of a directory (present only when listed: a Get of a
  // directory lists one level, or all levels when recursive).
  std::optional<std::vector<NodeExtern>> nodes;
  uint64_t modified_index = 0;
  uint64_t created_index = 0;
};

// What a write did, or what a read found (etcd's Event).
struct Event {
  std::string action;  // "get", "set", "create", "update", "delete",
                       // "compareAndSwap", "compareAndDelete", "expire"
  std::optional<NodeExtern> node;
  std::optional<NodeExtern> prev_node;
  uint64_t etcd_index = 0;  // the store index when it happened (not in JSON)
  // A write that only refreshed a TTL (TTLOptions::refresh): kept in the
  // history but given to no watcher; in JSON as "refresh":true. Not
  // carried by trim_prefix (etcd's Event.Clone drops it too), so the API's
  // answers never show it.
  bool refresh = false;

  // Go's encoding of the event: {"action":..,"node":{..},"prevNode":{..}}
  // with etcd's field names and omitempty rules, the expiration in
  // RFC 3339 with nanoseconds (UTC, "Z"), no trailing newline.
  std::string to_json() const;
  // The same event with `prefix` cut from every key (the server's "/1").
  Event trim_prefix(std::string_view prefix) const;
  bool is_created() const;  // etcd's Event.IsCreated (a 201 answer)
};

template <typename T>
using StoreResult = std::variant<T, Error>;

// A TTL given to a write: no expiry (permanent) unless expire_ns is set;
// refresh keeps the value and only moves the expiry (etcd's TTLOptionSet).
// As in etcd, create and set take an expiry before 2000-01-01 as none,
// update and compare_and_swap do not (the node expires at the next
// delete_expired_keys). A refresh is recorded in the history but not given
// to watchers; a set with refresh still makes a new node (created index).
struct TTLOptions {
  std::optional<int64_t> expire_ns;  // Unix nanoseconds
  bool refresh = false;
};

// A watch registered with watch(). Events go to its sink until the watch
// ends: after the first event unless it streams, or when cancelled, or
// when its sink returns false (the consumer is too slow or gone).
// Dropping the last shared_ptr does not end it (the store keeps the
// watcher, as etcd does until Remove): cancel() it. A Watch may outlive
// its Store (cancel() is then a no-op).
class Watch {
 public:
  virtual ~Watch() = default;
  // Idempotent and callable from any thread, also from inside a sink
  // (this one's or another's); the sink is not called after cancel()
  // returns. From another thread it waits for a running sink to return.
  virtual void cancel() = 0;
  // The store index when the watch was made (X-Etcd-Index of a wait).
  virtual uint64_t start_index() const = 0;
};

// Called with each matching event; returns false to end the watch. Runs
// with the store's lock held.
using WatchSink = std::function<bool(const Event&)>;

class Store {
 public:
  // `namespaces` are made as directories at the root ("/0", "/1");
  // `now_ns` is the wall clock in Unix nanoseconds (tests fix it).
  explicit Store(std::vector<std::string> namespaces = {},
                 std::function<int64_t()> now_ns = nullptr);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  uint64_t index() const;

  // Children come in key order whether sorted or not (etcd's unsorted
  // order is its map's, i.e. random). The event's key is `path` as given.
  StoreResult<Event> get(std::string_view path, bool recursive, bool sorted);
  StoreResult<Event> set(std::string_view path, bool dir, std::string_view value,
                         const TTLOptions& ttl);
  StoreResult<Event> update(std::string_view path, std::string_view value, const TTLOptions& ttl);
  // unique: an in-order key under `path` named by the new index (%020d).
  StoreResult<Event> create(std::string_view path, bool dir, std::string_view value, bool unique,
                            const TTLOptions& ttl);
  StoreResult<Event> compare_and_swap(std::string_view path, std::string_view prev_value,
                                      uint64_t prev_index, std::string_view value,
                                      const TTLOptions& ttl);
  StoreResult<Event> remove(std::string_view path, bool dir, bool recursive);
  StoreResult<Event> compare_and_delete(std::string_view path, std::string_view prev_value,
                                        uint64_t prev_index);

  // A watch on `key` (and below it when recursive) from `since_index`
  // (0: the next event). The first matching event in the history at or
  // after since_index is given to the sink before watch() returns, and
  // the watch ends there, a stream too (etcd then registers no watcher;
  // its stream stays open with nothing more to send). kEventIndexCleared
  // when since_index is older than the history (cause "the requested
  // history has been cleared [<oldest>/<since_index>]").
  //
  // Who sees what, as etcd: a watcher on K gets events on K, a recursive
  // one also events below K unless a component below K starts with '_'
  // (hidden), and any watcher gets the deletion or expiry of a node it
  // watches or of a directory above it. etcd tells a stream watcher on
  // exactly the deleted key twice (once as a removed node, once as the
  // event's key); so does this store.
  StoreResult<std::shared_ptr<Watch>> watch(std::string_view key, bool recursive, bool stream,
                                            uint64_t since_index, WatchSink sink);

  // Removes every node that expired at or before `cutoff_ns` (an "expire"
  // event each), as the SYNC request does.
  void delete_expired_keys(int64_t cutoff_ns);
  bool has_ttl_keys() const;

  // etcd's JSON of the store (Root, WatcherHub with the event history,
  // CurrentIndex, Stats, CurrentVersion).
  std::string save() const;
  // Replaces the whole store with a saved one; a malformed document is an
  // error (kRaftInternal, the cause says what is wrong) and changes
  // nothing. Watchers stay registered and see the writes that follow, as
  // in etcd (its recovery decodes into the live store). Times are read
  // with any offset; save() writes them in UTC.
  StoreResult<std::monostate> recovery(std::string_view json);

  // /v2/stats/store: etcd's Stats JSON (getsSuccess, ..., watchers).
  std::string json_stats() const;
  // Watches registered now.
  size_t watcher_count() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Go's path.Clean of an absolute path: "/" + cleaned.
std::string clean_path(std::string_view p);

}  // namespace etcd::v2store
