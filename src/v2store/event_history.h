// The last `capacity` events of the store (etcd's EventHistory over its
// eventQueue ring), for watches that start at an index in the past.
// Internal to the store.
//
// Thread-safety: none; the store's mutex guards it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "v2store/error.h"
#include "v2store/store.h"

namespace etcd::v2store::internal {

// The fields are etcd's (saved and recovered as they are): a ring of
// `capacity` slots, `size` of them used from `front`, the next written at
// `back`; start_index and last_index are the indexes of the oldest and
// newest events (an event's index is its node's modified_index).
struct EventHistory {
  explicit EventHistory(size_t capacity = kHistoryCapacity)
      : events(capacity), capacity(capacity) {}

  void add(const Event& e);

  // The first event at or after `index` on `key` (or below it when
  // recursive, or the deletion or expiry of a directory above it); refresh
  // events are skipped. nullptr when there is none yet; kEventIndexCleared
  // (index 0: the caller sets it) when `index` is older than the history.
  std::variant<const Event*, Error> scan(std::string_view key, bool recursive,
                                         uint64_t index) const;

  // Go's JSON of the EventHistory struct: {"Queue":{"Events":[..],"Size":..,
  // "Front":..,"Back":..,"Capacity":..},"StartIndex":..,"LastIndex":..}.
  void append_json(std::string* out) const;

  std::vector<std::optional<Event>> events;  // `capacity` slots
  size_t size = 0;
  size_t front = 0;
  size_t back = 0;
  size_t capacity;
  uint64_t start_index = 0;
  uint64_t last_index = 0;
};

}  // namespace etcd::v2store::internal
