#include "v2store/store.h"

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/assert.h"
#include "base/mutex.h"
#include "v2store/event_history.h"
#include "v2store/event_json.h"
#include "v2store/go_json.h"
#include "v2store/node.h"
#include "v2store/watcher_hub.h"

namespace etcd::v2store {

std::string clean_path(std::string_view p) {
  std::vector<std::string_view> parts;
  size_t begin = 0;
  while (begin <= p.size()) {
    size_t slash = p.find('/', begin);
    if (slash == std::string_view::npos) slash = p.size();
    std::string_view part = p.substr(begin, slash - begin);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    begin = slash + 1;
  }
  std::string out;
  for (std::string_view part : parts) {
    out.push_back('/');
    out.append(part);
  }
  if (out.empty()) out = "/";
  return out;
}

namespace internal {

namespace {

// etcd treats an expiry before 2000-01-01T00:00:00Z given to a create or a
// set as no expiry (a zero time that went through JavaScript).
constexpr int64_t kMinExpireNs = 946684800LL * 1'000'000'000;

constexpr int kDefaultVersion = 2;

// Deeper "nodes" of an event are refused by recovery (events of the
// history never list nodes; reading them recurses).
constexpr int kMaxRecoveryDepth = 10000;

std::string join_path(std::string_view dir, std::string_view name) {
  std::string p(dir);
  p.push_back('/');
  p.append(name);
  return clean_path(p);
}

// etcd's compareFailCause.
std::string compare_fail_cause(const Node& n, std::string_view prev_value, uint64_t prev_index) {
  const bool index_match = prev_index == 0 || n.modified_index == prev_index;
  const bool value_match = prev_value.empty() || n.value == prev_value;
  std::string v = "[" + std::string(prev_value) + " != " + n.value + "]";
  std::string i =
      "[" + std::to_string(prev_index) + " != " + std::to_string(n.modified_index) + "]";
  if (index_match && !value_match) return v;
  if (value_match && !index_match) return i;
  return v + " " + i;
}

bool compare_ok(const Node& n, std::string_view prev_value, uint64_t prev_index) {
  return (prev_index == 0 || n.modified_index == prev_index) &&
         (prev_value.empty() || n.value == prev_value);
}

// etcd's Stats: the counters of /v2/stats/store, in its JSON field order.
struct Stats {
  uint64_t gets_success = 0;
  uint64_t gets_fail = 0;
  uint64_t sets_success = 0;
  uint64_t sets_fail = 0;
  uint64_t delete_success = 0;
  uint64_t delete_fail = 0;
  uint64_t update_success = 0;
  uint64_t update_fail = 0;
  uint64_t create_success = 0;
  uint64_t create_fail = 0;
  uint64_t compare_and_swap_success = 0;
  uint64_t compare_and_swap_fail = 0;
  uint64_t compare_and_delete_success = 0;
  uint64_t compare_and_delete_fail = 0;
  uint64_t expire_count = 0;
  // etcd stores the watcher count here only when the stats are asked for
  // (JsonStats), so a saved store carries the count of that moment.
  uint64_t watchers = 0;

  // Calls f(json_name, counter) for each counter in etcd's field order.
  template <typename S, typename F>
  static void for_each(S& s, F&& f) {
    f("getsSuccess", s.gets_success);
    f("getsFail", s.gets_fail);
    f("setsSuccess", s.sets_success);
    f("setsFail", s.sets_fail);
    f("deleteSuccess", s.delete_success);
    f("deleteFail", s.delete_fail);
    f("updateSuccess", s.update_success);
    f("updateFail", s.update_fail);
    f("createSuccess", s.create_success);
    f("createFail", s.create_fail);
    f("compareAndSwapSuccess", s.compare_and_swap_success);
    f("compareAndSwapFail", s.compare_and_swap_fail);
    f("compareAndDeleteSuccess", s.compare_and_delete_success);
    f("compareAndDeleteFail", s.compare_and_delete_fail);
    f("expireCount", s.expire_count);
    f("watchers", s.watchers);
  }

  std::string to_json() const {
    std::string out = "{";
    for_each(*this, [&](std::string_view name, uint64_t v) {
      if (out.size() > 1) out.push_back(',');
      out += "\"";
      out += name;
      out += "\":" + std::to_string(v);
    });
    out += "}";
    return out;
  }
};

// Go's encoding/json of a node: {"Path":..,"CreatedIndex":..,
// "ModifiedIndex":..,"ExpireTime":..,"Value":..,"Children":null|{..}}.
// Iterative: a tree may be deeper than the thread's stack allows frames.
void append_saved_node(std::string* out, const Node& top) {
  auto open = [out](const Node& n) {
    *out += "{\"Path\":";
    append_go_json_string(*out, n.path);
    *out += ",\"CreatedIndex\":" + std::to_string(n.created_index) +
            ",\"ModifiedIndex\":" + std::to_string(n.modified_index) + ",\"ExpireTime\":\"";
    if (n.permanent()) {
      *out += kGoZeroTime;
    } else {
      *out += go_time_rfc3339nano(n.expire_ns);
    }
    *out += "\",\"Value\":";
    append_go_json_string(*out, n.value);
    *out += ",\"Children\":";
    if (!n.dir) {
      *out += "null}";
      return false;
    }
    out->push_back('{');
    return true;
  };
  struct Frame {
    const Node* node;
    std::map<std::string, std::unique_ptr<Node>>::const_iterator next;
  };
  std::vector<Frame> stack;
  if (open(top)) stack.push_back({&top, top.children.begin()});
  while (!stack.empty()) {
    Frame& f = stack.back();
    if (f.next == f.node->children.end()) {
      *out += "}}";  // the Children object and the node
      stack.pop_back();
      continue;
    }
    if (f.next != f.node->children.begin()) out->push_back(',');
    const auto& [name, child] = *f.next;
    ++f.next;
    append_go_json_string(*out, name);
    out->push_back(':');
    if (open(*child)) stack.push_back({child.get(), child->children.begin()});
  }
}

// ---- Recovery: reading Go's JSON of the store ----

using Json = nlohmann::json;

struct ParseError {
  std::string what;
};

// A struct field as Go's decoder finds it: the exact name, else one equal
// under ASCII case folding. nullptr when absent or null (Go leaves the
// field as it is for a null).
const Json* field(const Json& obj, std::string_view name) {
  auto it = obj.find(std::string(name));
  if (it == obj.end()) {
    for (auto i = obj.begin(); i != obj.end(); ++i) {
      const std::string& k = i.key();
      if (k.size() != name.size()) continue;
      bool eq = true;
      for (size_t c = 0; c < k.size() && eq; ++c) {
        eq = std::tolower(static_cast<unsigned char>(k[c])) ==
             std::tolower(static_cast<unsigned char>(name[c]));
      }
      if (eq) {
        it = i;
        break;
      }
    }
  }
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

bool read_u64(const Json& obj, std::string_view name, uint64_t* out, ParseError* err) {
  const Json* v = field(obj, name);
  if (v == nullptr) return true;
  if (!v->is_number_unsigned()) {
    err->what = std::string(name) + ": not an unsigned integer";
    return false;
  }
  *out = v->get<uint64_t>();
  return true;
}

bool read_i64(const Json& obj, std::string_view name, int64_t* out, ParseError* err) {
  const Json* v = field(obj, name);
  if (v == nullptr) return true;
  if (!v->is_number_integer()) {
    err->what = std::string(name) + ": not an integer";
    return false;
  }
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    err->what = std::string(name) + ": out of range";
    return false;
  }
  *out = v->get<int64_t>();
  return true;
}

bool read_string(const Json& obj, std::string_view name, std::string* out, ParseError* err) {
  const Json* v = field(obj, name);
  if (v == nullptr) return true;
  if (!v->is_string()) {
    err->what = std::string(name) + ": not a string";
    return false;
  }
  *out = v->get<std::string>();
  return true;
}

bool read_bool(const Json& obj, std::string_view name, bool* out, ParseError* err) {
  const Json* v = field(obj, name);
  if (v == nullptr) return true;
  if (!v->is_boolean()) {
    err->what = std::string(name) + ": not a boolean";
    return false;
  }
  *out = v->get<bool>();
  return true;
}

bool read_time(const Json& obj, std::string_view name, std::optional<ParsedTime>* out,
               ParseError* err) {
  const Json* v = field(obj, name);
  if (v == nullptr) return true;
  std::optional<ParsedTime> t;
  if (v->is_string()) t = parse_go_time(v->get<std::string>());
  if (!t) {
    err->what = std::string(name) + ": not an RFC 3339 time in range";
    return false;
  }
  *out = t;
  return true;
}

// One node's own fields (not its children); nullptr on an error.
std::unique_ptr<Node> parse_node_fields(const Json& j, ParseError* err) {
  if (!j.is_object()) {
    err->what = "node: not an object";
    return nullptr;
  }
  auto n = std::make_unique<Node>();
  std::optional<ParsedTime> expire;
  if (!read_string(j, "Path", &n->path, err) ||
      !read_u64(j, "CreatedIndex", &n->created_index, err) ||
      !read_u64(j, "ModifiedIndex", &n->modified_index, err) ||
      !read_time(j, "ExpireTime", &expire, err) || !read_string(j, "Value", &n->value, err)) {
    return nullptr;
  }
  if (expire && !expire->zero) {
    if (expire->unix_ns == kPermanent) {
      err->what = "ExpireTime: out of range";
      return nullptr;
    }
    n->expire_ns = expire->unix_ns;
  }
  if (const Json* children = field(j, "Children")) {
    if (!children->is_object()) {
      err->what = "Children: not an object";
      return nullptr;
    }
    n->dir = true;
  }
  return n;
}

// The tree under a saved node, with parents set. Iterative: saved trees
// may be deep.
std::unique_ptr<Node> parse_tree(const Json& j, ParseError* err) {
  std::unique_ptr<Node> root = parse_node_fields(j, err);
  if (root == nullptr) return nullptr;
  // Directories whose children are still to be read.
  std::vector<std::pair<Node*, const Json*>> todo;
  if (root->dir) todo.emplace_back(root.get(), &j);
  while (!todo.empty()) {
    auto [dir, dir_json] = todo.back();
    todo.pop_back();
    const Json& children = *field(*dir_json, "Children");
    for (auto it = children.begin(); it != children.end(); ++it) {
      std::unique_ptr<Node> child = parse_node_fields(it.value(), err);
      if (child == nullptr) return nullptr;
      // Lookups go by the key and removals by the path's last component:
      // they must agree.
      if (it.key().empty() || child->name() != it.key()) {
        err->what = "Children: key \"" + it.key() + "\" is not the last component of \"" +
                    child->path + "\"";
        return nullptr;
      }
      child->parent = dir;
      if (child->dir) todo.emplace_back(child.get(), &it.value());
      dir->children.emplace(it.key(), std::move(child));
    }
  }
  return root;
}

bool parse_node_extern(const Json& j, int depth, NodeExtern* n, ParseError* err) {
  if (!j.is_object()) {
    err->what = "event node: not an object";
    return false;
  }
  if (depth > kMaxRecoveryDepth) {
    err->what = "event node: too deep";
    return false;
  }
  std::optional<ParsedTime> expiration;
  if (!read_string(j, "key", &n->key, err) || !read_bool(j, "dir", &n->dir, err) ||
      !read_time(j, "expiration", &expiration, err) || !read_i64(j, "ttl", &n->ttl, err) ||
      !read_u64(j, "modifiedIndex", &n->modified_index, err) ||
      !read_u64(j, "createdIndex", &n->created_index, err)) {
    return false;
  }
  if (const Json* v = field(j, "value")) {
    if (!v->is_string()) {
      err->what = "value: not a string";
      return false;
    }
    n->value = v->get<std::string>();
  }
  if (expiration) {
    if (expiration->zero) {
      err->what = "expiration: the zero time";
      return false;
    }
    n->expiration_ns = expiration->unix_ns;
  }
  if (const Json* nodes = field(j, "nodes")) {
    if (!nodes->is_array()) {
      err->what = "nodes: not an array";
      return false;
    }
    n->nodes.emplace();
    for (const Json& child : *nodes) {
      NodeExtern c;
      if (!child.is_null() && !parse_node_extern(child, depth + 1, &c, err)) return false;
      n->nodes->push_back(std::move(c));
    }
  }
  return true;
}

bool parse_event(const Json& j, Event* e, ParseError* err) {
  if (!j.is_object()) {
    err->what = "event: not an object";
    return false;
  }
  if (!read_string(j, "action", &e->action, err) || !read_bool(j, "refresh", &e->refresh, err)) {
    return false;
  }
  if (const Json* node = field(j, "node")) {
    e->node.emplace();
    if (!parse_node_extern(*node, 0, &*e->node, err)) return false;
  }
  if (const Json* prev = field(j, "prevNode")) {
    e->prev_node.emplace();
    if (!parse_node_extern(*prev, 0, &*e->prev_node, err)) return false;
  }
  return true;
}

bool parse_history(const Json& hub, EventHistory* h, ParseError* err) {
  if (!hub.is_object()) {
    err->what = "WatcherHub: not an object";
    return false;
  }
  const Json* hist = field(hub, "EventHistory");
  if (hist == nullptr) return true;
  if (!hist->is_object()) {
    err->what = "EventHistory: not an object";
    return false;
  }
  if (!read_u64(*hist, "StartIndex", &h->start_index, err) ||
      !read_u64(*hist, "LastIndex", &h->last_index, err)) {
    return false;
  }
  const Json* queue = field(*hist, "Queue");
  if (queue == nullptr) return true;
  if (!queue->is_object()) {
    err->what = "Queue: not an object";
    return false;
  }
  int64_t size = 0, front = 0, back = 0, capacity = 0;
  if (!read_i64(*queue, "Size", &size, err) || !read_i64(*queue, "Front", &front, err) ||
      !read_i64(*queue, "Back", &back, err) || !read_i64(*queue, "Capacity", &capacity, err)) {
    return false;
  }
  std::vector<std::optional<Event>> events;
  if (const Json* evs = field(*queue, "Events")) {
    if (!evs->is_array()) {
      err->what = "Events: not an array";
      return false;
    }
    for (const Json& ej : *evs) {
      if (ej.is_null()) {
        events.emplace_back();
        continue;
      }
      Event e;
      if (!parse_event(ej, &e, err)) return false;
      if (!e.node) {
        err->what = "Events: an event without a node";
        return false;
      }
      events.emplace_back(std::move(e));
    }
  }
  if (capacity <= 0 || static_cast<uint64_t>(capacity) != events.size() || size < 0 ||
      size > capacity || front < 0 || front >= capacity || back < 0 || back >= capacity) {
    err->what = "Queue: Events, Size, Front, Back and Capacity do not describe a ring";
    return false;
  }
  h->events = std::move(events);
  h->capacity = static_cast<size_t>(capacity);
  h->size = static_cast<size_t>(size);
  h->front = static_cast<size_t>(front);
  h->back = static_cast<size_t>(back);
  return true;
}

}  // namespace

// The store's state under its one mutex. Store holds it by shared_ptr and
// each watch by weak_ptr, so a Watch may outlive the Store.
class Core : public std::enable_shared_from_this<Core> {
 public:
  Core(const std::vector<std::string>& namespaces, std::function<int64_t()> now_ns)
      : now_ns_(std::move(now_ns)), hub_(&sink_thread, kHistoryCapacity) {
    if (!now_ns_) {
      now_ns_ = [] {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
      };
    }
    MutexLock l(&mu);
    root_ = new_dir("/", 0, nullptr, kPermanent);
    for (const std::string& ns : namespaces) {
      auto d = new_dir(ns, 0, root_.get(), kPermanent);
      std::string name(d->name());
      root_->children.emplace(name, std::move(d));
      readonly_.push_back(ns);
    }
    readonly_.push_back("/");
  }

  Mutex mu;
  // The thread running a sink (under mu), else none; read without mu.
  std::atomic<std::thread::id> sink_thread;

  uint64_t index() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return current_index_; }

  StoreResult<Event> get(std::string_view path, bool recursive, bool sorted)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto got = internal_get(path);
    if (auto* err = std::get_if<Error>(&got)) {
      ++stats_.gets_fail;
      return *err;
    }
    Node* n = std::get<Node*>(got);
    Event e = new_event("get", std::string(path), n->modified_index, n->created_index);
    e.etcd_index = current_index_;
    load_internal(n, recursive, sorted, &*e.node);
    ++stats_.gets_success;
    return e;
  }

  StoreResult<Event> set(std::string_view path, bool dir, std::string_view value,
                         const TTLOptions& ttl) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto got = internal_get(path);
    Node* n = nullptr;
    if (auto* err = std::get_if<Error>(&got)) {
      if (err->code != kKeyNotFound || ttl.refresh) {
        ++stats_.sets_fail;
        return *err;
      }
    } else {
      n = std::get<Node*>(got);
    }
    std::string val(value);
    if (ttl.refresh) val = n->value;
    // The previous node as etcd shows it (keyed by the path as given); taken
    // now because the create below replaces it. A directory cannot be
    // replaced, so it is never needed for one.
    std::optional<NodeExtern> prev;
    if (n != nullptr && !n->dir) {
      prev.emplace();
      prev->key = std::string(path);
      prev->modified_index = n->modified_index;
      prev->created_index = n->created_index;
      load_internal(n, false, false, &*prev);
    }
    auto created = internal_create(path, dir, val, false, true, ttl.expire_ns, "set");
    if (auto* err = std::get_if<Error>(&created)) {
      ++stats_.sets_fail;
      return *err;
    }
    Event e = std::move(std::get<Event>(created));
    e.etcd_index = current_index_;
    if (prev) e.prev_node = std::move(prev);
    finish_write(&e, ttl.refresh);
    ++stats_.sets_success;
    return e;
  }

  StoreResult<Event> create(std::string_view path, bool dir, std::string_view value, bool unique,
                            const TTLOptions& ttl) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto created = internal_create(path, dir, value, unique, false, ttl.expire_ns, "create");
    if (auto* err = std::get_if<Error>(&created)) {
      ++stats_.create_fail;
      return *err;
    }
    Event e = std::move(std::get<Event>(created));
    e.etcd_index = current_index_;
    hub_.notify(e);
    ++stats_.create_success;
    return e;
  }

  StoreResult<Event> update(std::string_view path, std::string_view value, const TTLOptions& ttl)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const std::string p = clean_path(path);
    // etcd counts the read-only and not-a-file refusals as successes.
    if (read_only(p)) {
      ++stats_.update_success;
      return Error{kRootROnly, "/", current_index_};
    }
    const uint64_t curr = current_index_, next = curr + 1;
    auto got = internal_get(p);
    if (auto* err = std::get_if<Error>(&got)) {
      ++stats_.update_fail;
      return *err;
    }
    Node* n = std::get<Node*>(got);
    if (n->dir && !value.empty()) {
      ++stats_.update_success;
      return Error{kNotFile, p, curr};
    }
    std::string val(value);
    if (ttl.refresh) val = n->value;
    Event e = new_event("update", p, next, n->created_index);
    e.etcd_index = next;
    e.prev_node = repr(n, false, false);
    if (n->dir) {
      e.node->dir = true;  // a directory keeps its modified index
    } else {
      n->value = val;
      n->modified_index = next;
      e.node->value = val;
    }
    update_ttl(n, ttl.expire_ns);
    set_expiration(n, &*e.node);
    finish_write(&e, ttl.refresh);
    current_index_ = next;
    ++stats_.update_success;
    return e;
  }

  StoreResult<Event> compare_and_swap(std::string_view path, std::string_view prev_value,
                                      uint64_t prev_index, std::string_view value,
                                      const TTLOptions& ttl) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const std::string p = clean_path(path);
    if (read_only(p)) {
      ++stats_.compare_and_swap_success;  // as etcd counts it
      return Error{kRootROnly, "/", current_index_};
    }
    auto got = internal_get(p);
    if (auto* err = std::get_if<Error>(&got)) {
      ++stats_.compare_and_swap_fail;
      return *err;
    }
    Node* n = std::get<Node*>(got);
    if (n->dir) {
      ++stats_.compare_and_swap_fail;
      return Error{kNotFile, p, current_index_};
    }
    if (!compare_ok(*n, prev_value, prev_index)) {
      ++stats_.compare_and_swap_fail;
      return Error{kTestFailed, compare_fail_cause(*n, prev_value, prev_index), current_index_};
    }
    std::string val(value);
    if (ttl.refresh) val = n->value;
    ++current_index_;
    Event e = new_event("compareAndSwap", p, current_index_, n->created_index);
    e.etcd_index = current_index_;
    e.prev_node = repr(n, false, false);
    n->value = val;
    n->modified_index = current_index_;
    update_ttl(n, ttl.expire_ns);
    e.node->value = val;
    set_expiration(n, &*e.node);
    finish_write(&e, ttl.refresh);
    ++stats_.compare_and_swap_success;
    return e;
  }

  StoreResult<Event> remove(std::string_view path, bool dir, bool recursive)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const std::string p = clean_path(path);
    if (read_only(p)) {
      ++stats_.delete_success;  // as etcd counts it
      return Error{kRootROnly, "/", current_index_};
    }
    if (recursive) dir = true;
    auto got = internal_get(p);
    if (auto* err = std::get_if<Error>(&got)) {
      ++stats_.delete_fail;
      return *err;
    }
    Node* n = std::get<Node*>(got);
    const uint64_t next = current_index_ + 1;
    Event e = new_event("delete", p, next, n->created_index);
    e.etcd_index = next;
    e.prev_node = repr(n, false, false);
    if (n->dir) e.node->dir = true;
    if (auto err = remove_node(n, dir, recursive, &e)) {
      ++stats_.delete_fail;
      return *err;
    }
    ++current_index_;
    hub_.notify(e);
    ++stats_.delete_success;
    return e;
  }

  StoreResult<Event> compare_and_delete(std::string_view path, std::string_view prev_value,
                                        uint64_t prev_index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const std::string p = clean_path(path);
    auto got = internal_get(p);
    if (auto* err = std::get_if<Error>(&got)) {
      ++stats_.compare_and_delete_fail;
      return *err;
    }
    Node* n = std::get<Node*>(got);
    // etcd counts these two refusals as successes.
    if (n->dir) {
      ++stats_.compare_and_delete_success;
      return Error{kNotFile, p, current_index_};
    }
    if (!compare_ok(*n, prev_value, prev_index)) {
      ++stats_.compare_and_delete_success;
      return Error{kTestFailed, compare_fail_cause(*n, prev_value, prev_index), current_index_};
    }
    ++current_index_;
    Event e = new_event("compareAndDelete", p, current_index_, n->created_index);
    e.etcd_index = current_index_;
    e.prev_node = repr(n, false, false);
    remove_node(n, false, false, &e);
    hub_.notify(e);
    ++stats_.compare_and_delete_success;
    return e;
  }

  StoreResult<std::shared_ptr<Watch>> watch(std::string_view key, bool recursive, bool stream,
                                            uint64_t since_index, WatchSink sink)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (since_index == 0) since_index = current_index_ + 1;
    return hub_.watch(shared_from_this(), clean_path(key), recursive, stream, since_index,
                      current_index_, std::move(sink));
  }

  void delete_expired_keys(int64_t cutoff_ns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    // Each round takes one node out of the heap.
    for (;;) {
      Node* n = ttl_heap_.top();
      if (n == nullptr || n->expire_ns > cutoff_ns) break;
      ++current_index_;
      Event e = new_event("expire", n->path, current_index_, n->created_index);
      e.etcd_index = current_index_;
      e.prev_node = repr(n, false, false);
      if (n->dir) e.node->dir = true;
      ttl_heap_.pop();
      remove_node(n, true, true, &e);
      ++stats_.expire_count;
      hub_.notify(e);
    }
  }

  bool has_ttl_keys() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return ttl_heap_.size() != 0; }

  std::string save() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::string out = "{\"Root\":";
    append_saved_node(&out, *root_);
    out += ",\"WatcherHub\":{\"EventHistory\":";
    hub_.history().append_json(&out);
    out += "},\"CurrentIndex\":" + std::to_string(current_index_) +
           ",\"Stats\":" + stats_.to_json() +
           ",\"CurrentVersion\":" + std::to_string(current_version_) + "}";
    return out;
  }

  StoreResult<std::monostate> recovery(std::string_view doc) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const uint64_t index_now = current_index_;
    auto fail = [index_now](const std::string& what) {
      return Error{kRaftInternal, "v2store: recovery: " + what, index_now};
    };
    Json j = Json::parse(doc, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return fail("not a JSON document");
    if (!j.is_object()) return fail("not a JSON object");
    ParseError err;
    const Json* root_j = field(j, "Root");
    if (root_j == nullptr) return fail("no Root");
    std::unique_ptr<Node> root = parse_tree(*root_j, &err);
    if (root == nullptr) return fail(err.what);
    if (!root->dir) return fail("Root: not a directory");
    EventHistory history(kHistoryCapacity);
    if (const Json* hub = field(j, "WatcherHub")) {
      if (!parse_history(*hub, &history, &err)) return fail(err.what);
    }
    uint64_t index = 0;
    if (!read_u64(j, "CurrentIndex", &index, &err)) return fail(err.what);
    Stats stats;
    if (const Json* s = field(j, "Stats")) {
      if (!s->is_object()) return fail("Stats: not an object");
      bool ok = true;
      Stats::for_each(stats, [&](std::string_view name, uint64_t& v) {
        if (ok) ok = read_u64(*s, name, &v, &err);
      });
      if (!ok) return fail(err.what);
    }
    int64_t version = kDefaultVersion;
    if (!read_i64(j, "CurrentVersion", &version, &err)) return fail(err.what);

    // All read: the new state replaces the old one. Watchers stay, as in
    // etcd (its recovery decodes into the live store).
    ttl_heap_.clear();
    root_ = std::move(root);
    hub_.set_history(std::move(history));
    current_index_ = index;
    stats_ = stats;
    current_version_ = version;
    recover_ttls(root_.get());
    return std::monostate{};
  }

  std::string json_stats() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    stats_.watchers = hub_.count();
    return stats_.to_json();
  }

  size_t watcher_count() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return hub_.count(); }

  void remove_watcher(WatcherImpl* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { hub_.remove(w); }

  // cancel() from inside a sink: this thread holds mu already (it runs
  // the sink), which the analysis cannot see.
  void remove_watcher_in_sink(WatcherImpl* w) ABSL_NO_THREAD_SAFETY_ANALYSIS { hub_.remove(w); }

 private:
  static std::unique_ptr<Node> new_dir(std::string path, uint64_t index, Node* parent,
                                       int64_t expire_ns) {
    auto n = std::make_unique<Node>();
    n->path = std::move(path);
    n->created_index = n->modified_index = index;
    n->parent = parent;
    n->expire_ns = expire_ns;
    n->dir = true;
    return n;
  }

  static Event new_event(std::string action, std::string key, uint64_t modified_index,
                         uint64_t created_index) {
    Event e;
    e.action = std::move(action);
    e.node.emplace();
    e.node->key = std::move(key);
    e.node->modified_index = modified_index;
    e.node->created_index = created_index;
    return e;
  }

  bool read_only(const std::string& p) const {
    for (const std::string& r : readonly_) {
      if (r == p) return true;
    }
    return false;
  }

  void set_expiration(const Node* n, NodeExtern* out) {
    if (n->permanent()) {
      out->expiration_ns.reset();
      out->ttl = 0;
      return;
    }
    out->expiration_ns = n->expire_ns;
    out->ttl = n->ttl_seconds(now_ns_());
  }

  // etcd's node.Repr: directories list their children only when recursive.
  NodeExtern repr(const Node* n, bool recursive, bool sorted) {
    NodeExtern out;
    out.key = n->path;
    out.modified_index = n->modified_index;
    out.created_index = n->created_index;
    set_expiration(n, &out);
    if (!n->dir) {
      out.value = n->value;
      return out;
    }
    out.dir = true;
    if (recursive) {
      out.nodes.emplace();
      for (const auto& [name, child] : n->children) {
        if (!child->hidden()) out.nodes->push_back(repr(child.get(), true, sorted));
      }
    }
    return out;
  }

  // etcd's NodeExtern.loadInternalNode (a Get): a directory lists one
  // level of children (all when recursive), hidden ones left out. Children
  // come in key order, sorted or not (etcd's order is the map's, random).
  void load_internal(const Node* n, bool recursive, bool sorted, NodeExtern* out) {
    if (n->dir) {
      out->dir = true;
      out->nodes.emplace();
      for (const auto& [name, child] : n->children) {
        if (!child->hidden()) out->nodes->push_back(repr(child.get(), recursive, sorted));
      }
    } else {
      out->value = n->value;
    }
    set_expiration(n, out);
  }

  // Walks the clean path from the root.
  std::variant<Node*, Error> internal_get(std::string_view path) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const std::string p = clean_path(path);
    Node* curr = root_.get();
    size_t begin = 1;
    while (begin < p.size()) {
      size_t slash = p.find('/', begin);
      if (slash == std::string::npos) slash = p.size();
      std::string_view name = std::string_view(p).substr(begin, slash - begin);
      if (!curr->dir) return Error{kNotDir, curr->path, current_index_};
      auto it = curr->children.find(std::string(name));
      if (it == curr->children.end()) {
        return Error{kKeyNotFound, join_path(curr->path, name), current_index_};
      }
      curr = it->second.get();
      begin = slash + 1;
    }
    return curr;
  }

  // etcd's internalCreate: makes the missing directories on the way,
  // replaces an existing file when `replace`.
  std::variant<Event, Error> internal_create(std::string_view path, bool dir,
                                             std::string_view value, bool unique, bool replace,
                                             std::optional<int64_t> expire, const char* action)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const uint64_t curr = current_index_, next = curr + 1;
    std::string p(path);
    if (unique) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "/%020llu", static_cast<unsigned long long>(next));
      p += buf;
    }
    p = clean_path(p);
    if (read_only(p)) return Error{kRootROnly, "/", curr};
    int64_t expire_ns = expire && *expire >= kMinExpireNs ? *expire : kPermanent;

    const size_t slash = p.rfind('/');
    const std::string node_name = p.substr(slash + 1);
    // Down the directories, making the missing ones.
    Node* d = root_.get();
    size_t begin = 1;
    while (begin <= slash) {
      size_t s = p.find('/', begin);
      std::string name = p.substr(begin, s - begin);
      auto it = d->children.find(name);
      if (it != d->children.end()) {
        if (!it->second->dir) {
          ++stats_.sets_fail;  // etcd counts this as a failed set, whatever the action
          return Error{kNotDir, it->second->path, curr};
        }
        d = it->second.get();
      } else {
        auto nd = new_dir(join_path(d->path, name), next, d, kPermanent);
        Node* raw = nd.get();
        d->children.emplace(name, std::move(nd));
        d = raw;
      }
      begin = s + 1;
    }

    Event e = new_event(action, p, next, next);
    auto it = d->children.find(node_name);
    if (it != d->children.end()) {
      if (!replace) return Error{kNodeExist, p, curr};
      Node* old = it->second.get();
      if (old->dir) return Error{kNotFile, p, curr};
      e.prev_node = repr(old, false, false);
      remove_node(old, false, false, nullptr);
    }
    auto n = std::make_unique<Node>();
    n->path = p;
    n->created_index = n->modified_index = next;
    n->parent = d;
    n->expire_ns = expire_ns;
    if (!dir) {
      e.node->value = std::string(value);
      n->value = std::string(value);
    } else {
      e.node->dir = true;
      n->dir = true;
    }
    Node* raw = n.get();
    d->children.emplace(node_name, std::move(n));
    if (!raw->permanent()) {
      ttl_heap_.push(raw);
      set_expiration(raw, &*e.node);
    }
    current_index_ = next;
    return e;
  }

  // etcd's node.Remove: a file goes; a directory only with `dir`, and
  // when not empty only with `recursive` (its children first, depth
  // first in key order). Each node removed tells the watchers at its path
  // about `e` (when not null). Frees n (the root stays, emptied).
  std::optional<Error> remove_node(Node* n, bool dir, bool recursive, const Event* e)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (n->dir) {
      if (!dir) return Error{kNotFile, n->path, current_index_};
      if (!n->children.empty() && !recursive) return Error{kDirNotEmpty, n->path, current_index_};
    }
    // Post-order without recursion: a node goes once its children went.
    std::vector<Node*> stack{n};
    while (!stack.empty()) {
      Node* top = stack.back();
      if (top->dir && !top->children.empty()) {
        stack.push_back(top->children.begin()->second.get());
        continue;
      }
      stack.pop_back();
      detach(top, e);
    }
    return std::nullopt;
  }

  // Takes a node without children out of the tree and the heap, tells the
  // watchers at its path, frees it. Not the root.
  void detach(Node* n, const Event* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (n->parent == nullptr) return;
    ttl_heap_.remove(n);
    auto it = n->parent->children.find(std::string(n->name()));
    ASSERT(it != n->parent->children.end() && it->second.get() == n);
    std::unique_ptr<Node> holder = std::move(it->second);
    n->parent->children.erase(it);
    if (e != nullptr) hub_.notify_watchers(*e, n->path, true);
  }

  // etcd's UpdateTTL: moves the node into, within or out of the heap.
  void update_ttl(Node* n, std::optional<int64_t> expire) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (!n->permanent()) {
      if (!expire) {
        n->expire_ns = kPermanent;
        ttl_heap_.remove(n);
      } else {
        n->expire_ns = *expire;
        ttl_heap_.update(n);
      }
      return;
    }
    if (!expire) return;
    n->expire_ns = *expire;
    ttl_heap_.push(n);
  }

  // Writes other than create and delete: a refresh goes to the history
  // only, anything else to the watchers too.
  void finish_write(Event* e, bool refresh) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (!refresh) {
      hub_.notify(*e);
    } else {
      e->refresh = true;
      hub_.add(*e);
    }
  }

  // etcd's recoverAndclean: parents are set by parse_tree; the heap gets
  // every node with a TTL, children (in key order) before their directory.
  void recover_ttls(Node* root) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    struct Frame {
      Node* node;
      std::map<std::string, std::unique_ptr<Node>>::iterator next;
    };
    std::vector<Frame> stack{{root, root->children.begin()}};
    while (!stack.empty()) {
      Frame& f = stack.back();
      if (f.next != f.node->children.end()) {
        Node* child = (f.next++)->second.get();
        stack.push_back({child, child->children.begin()});
        continue;
      }
      if (!f.node->permanent()) ttl_heap_.push(f.node);
      stack.pop_back();
    }
  }

  std::function<int64_t()> now_ns_;    // constant after construction
  std::vector<std::string> readonly_;  // the namespaces and "/"; constant
  std::unique_ptr<Node> root_ ABSL_GUARDED_BY(mu);
  uint64_t current_index_ ABSL_GUARDED_BY(mu) = 0;
  Stats stats_ ABSL_GUARDED_BY(mu);
  int64_t current_version_ ABSL_GUARDED_BY(mu) = kDefaultVersion;
  TtlHeap ttl_heap_ ABSL_GUARDED_BY(mu);
  WatcherHub hub_ ABSL_GUARDED_BY(mu);
};

void WatcherImpl::cancel() {
  std::shared_ptr<Core> c = core.lock();
  if (c == nullptr) return;  // the store is gone, and its watchers with it
  if (c->sink_thread.load() == std::this_thread::get_id()) {
    c->remove_watcher_in_sink(this);
    return;
  }
  MutexLock l(&c->mu);
  c->remove_watcher(this);
}

}  // namespace internal

struct Store::Impl {
  std::shared_ptr<internal::Core> core;
};

Store::Store(std::vector<std::string> namespaces, std::function<int64_t()> now_ns)
    : impl_(std::make_unique<Impl>()) {
  impl_->core = std::make_shared<internal::Core>(namespaces, std::move(now_ns));
}

Store::~Store() = default;

#define ETCD_V2STORE_LOCKED(call)   \
  internal::Core& c = *impl_->core; \
  MutexLock lock(&c.mu);            \
  return c.call

uint64_t Store::index() const { ETCD_V2STORE_LOCKED(index()); }

StoreResult<Event> Store::get(std::string_view path, bool recursive, bool sorted) {
  ETCD_V2STORE_LOCKED(get(path, recursive, sorted));
}

StoreResult<Event> Store::set(std::string_view path, bool dir, std::string_view value,
                              const TTLOptions& ttl) {
  ETCD_V2STORE_LOCKED(set(path, dir, value, ttl));
}

StoreResult<Event> Store::update(std::string_view path, std::string_view value,
                                 const TTLOptions& ttl) {
  ETCD_V2STORE_LOCKED(update(path, value, ttl));
}

StoreResult<Event> Store::create(std::string_view path, bool dir, std::string_view value,
                                 bool unique, const TTLOptions& ttl) {
  ETCD_V2STORE_LOCKED(create(path, dir, value, unique, ttl));
}

StoreResult<Event> Store::compare_and_swap(std::string_view path, std::string_view prev_value,
                                           uint64_t prev_index, std::string_view value,
                                           const TTLOptions& ttl) {
  ETCD_V2STORE_LOCKED(compare_and_swap(path, prev_value, prev_index, value, ttl));
}

StoreResult<Event> Store::remove(std::string_view path, bool dir, bool recursive) {
  ETCD_V2STORE_LOCKED(remove(path, dir, recursive));
}

StoreResult<Event> Store::compare_and_delete(std::string_view path, std::string_view prev_value,
                                             uint64_t prev_index) {
  ETCD_V2STORE_LOCKED(compare_and_delete(path, prev_value, prev_index));
}

StoreResult<std::shared_ptr<Watch>> Store::watch(std::string_view key, bool recursive, bool stream,
                                                 uint64_t since_index, WatchSink sink) {
  ETCD_V2STORE_LOCKED(watch(key, recursive, stream, since_index, std::move(sink)));
}

void Store::delete_expired_keys(int64_t cutoff_ns) {
  ETCD_V2STORE_LOCKED(delete_expired_keys(cutoff_ns));
}

bool Store::has_ttl_keys() const { ETCD_V2STORE_LOCKED(has_ttl_keys()); }

std::string Store::save() const { ETCD_V2STORE_LOCKED(save()); }

StoreResult<std::monostate> Store::recovery(std::string_view json) {
  ETCD_V2STORE_LOCKED(recovery(json));
}

std::string Store::json_stats() const { ETCD_V2STORE_LOCKED(json_stats()); }

size_t Store::watcher_count() const { ETCD_V2STORE_LOCKED(watcher_count()); }

#undef ETCD_V2STORE_LOCKED

}  // namespace etcd::v2store
