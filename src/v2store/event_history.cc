#include "v2store/event_history.h"

#include "v2store/event_json.h"

namespace etcd::v2store::internal {

namespace {

uint64_t event_index(const Event& e) { return e.node ? e.node->modified_index : 0; }

}  // namespace

void EventHistory::add(const Event& e) {
  events[back] = e;
  back = (back + 1) % capacity;
  if (size == capacity) {
    front = (front + 1) % capacity;
  } else {
    ++size;
  }
  last_index = event_index(e);
  start_index = events[front] ? event_index(*events[front]) : 0;
}

std::variant<const Event*, Error> EventHistory::scan(std::string_view key, bool recursive,
                                                     uint64_t index) const {
  if (index < start_index) {
    return Error{kEventIndexCleared,
                 "the requested history has been cleared [" + std::to_string(start_index) + "/" +
                     std::to_string(index) + "]",
                 0};
  }
  if (index > last_index) return static_cast<const Event*>(nullptr);  // the future
  // With a prefix: "/foo/" for "/foo", "/" for the root.
  std::string dir_prefix = clean_path(key);
  if (dir_prefix.back() != '/') dir_prefix.push_back('/');
  size_t i = (front + static_cast<size_t>((index - start_index) % capacity)) % capacity;
  // Bounded by the ring: a recovered history may be inconsistent, so an
  // empty slot ends the scan too.
  for (size_t steps = 0; steps < capacity; ++steps) {
    if (!events[i]) break;
    const Event& e = *events[i];
    if (!e.refresh && e.node) {
      bool ok = e.node->key == key;
      if (recursive && e.node->key.starts_with(dir_prefix)) ok = true;
      if ((e.action == "delete" || e.action == "expire") && e.prev_node && e.prev_node->dir &&
          key.starts_with(e.prev_node->key)) {
        ok = true;
      }
      if (ok) return &e;
    }
    i = (i + 1) % capacity;
    if (i == back) break;
  }
  return static_cast<const Event*>(nullptr);
}

void EventHistory::append_json(std::string* out) const {
  *out += "{\"Queue\":{\"Events\":[";
  for (size_t i = 0; i < events.size(); ++i) {
    if (i > 0) out->push_back(',');
    if (events[i]) {
      append_event_json(out, *events[i]);
    } else {
      *out += "null";
    }
  }
  *out += "],\"Size\":" + std::to_string(size) + ",\"Front\":" + std::to_string(front) +
          ",\"Back\":" + std::to_string(back) + ",\"Capacity\":" + std::to_string(capacity) +
          "},\"StartIndex\":" + std::to_string(start_index) +
          ",\"LastIndex\":" + std::to_string(last_index) + "}";
}

}  // namespace etcd::v2store::internal
