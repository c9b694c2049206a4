#include "v2store/watcher_hub.h"

#include <vector>

namespace etcd::v2store::internal {

namespace {

uint64_t event_index(const Event& e) { return e.node ? e.node->modified_index : 0; }

}  // namespace

bool hidden_from(std::string_view watch_path, std::string_view key_path) {
  // A deletion notifies watchers below the deleted key: never hidden.
  if (watch_path.size() > key_path.size()) return false;
  std::string after = clean_path(key_path.substr(watch_path.size()));
  return after.find("/_") != std::string::npos;
}

bool WatcherHub::call_sink(WatcherImpl* w, const Event& e) {
  struct Mark {
    explicit Mark(std::atomic<std::thread::id>* t) : t(t) { t->store(std::this_thread::get_id()); }
    ~Mark() { t->store(std::thread::id()); }
    std::atomic<std::thread::id>* t;
  } mark(sink_thread_);
  return w->sink(e);
}

StoreResult<std::shared_ptr<Watch>> WatcherHub::watch(const std::shared_ptr<Core>& core,
                                                      std::string key, bool recursive, bool stream,
                                                      uint64_t since_index, uint64_t store_index,
                                                      WatchSink sink) {
  auto scanned = history_.scan(key, recursive, since_index);
  if (auto* err = std::get_if<Error>(&scanned)) {
    err->index = store_index;
    return *err;
  }
  auto w = std::make_shared<WatcherImpl>();
  w->core = core;
  w->key = std::move(key);
  w->recursive = recursive;
  w->stream = stream;
  w->since_index = since_index;
  w->start_index_ = store_index;
  w->sink = std::move(sink);
  if (const Event* found = std::get<const Event*>(scanned)) {
    Event e = *found;
    e.refresh = false;
    e.etcd_index = store_index;
    w->removed = true;  // never registered: the watch ends with this event
    call_sink(w.get(), e);
    return std::shared_ptr<Watch>(w);
  }
  auto& list = watchers_[w->key];
  w->pos = list.insert(list.end(), w);
  ++count_;
  return std::shared_ptr<Watch>(w);
}

void WatcherHub::notify(const Event& e) {
  history_.add(e);
  const std::string& key = e.node->key;
  // "/foo/bar" reaches the watchers of "/", "/foo" and "/foo/bar" (etcd
  // walks the components of the key split at '/').
  std::string curr = "/";
  size_t begin = 0;
  for (;;) {
    size_t slash = key.find('/', begin);
    std::string_view segment = std::string_view(key).substr(
        begin, slash == std::string::npos ? std::string::npos : slash - begin);
    curr = clean_path(curr + "/" + std::string(segment));
    notify_watchers(e, curr, false);
    if (slash == std::string::npos) break;
    begin = slash + 1;
  }
}

void WatcherHub::notify_watchers(const Event& e, const std::string& path, bool deleted) {
  auto it = watchers_.find(path);
  if (it == watchers_.end()) return;
  // A sink may cancel watches (its own or others): walk a copy.
  std::vector<std::shared_ptr<WatcherImpl>> list(it->second.begin(), it->second.end());
  const bool original_path = e.node->key == path;
  const bool visible = original_path || !hidden_from(path, e.node->key);
  for (const auto& w : list) {
    if (w->removed || !visible) continue;
    if (!(w->recursive || original_path || deleted) || event_index(e) < w->since_index) continue;
    bool keep = call_sink(w.get(), e);
    if (!keep || !w->stream) remove(w.get());
  }
}

void WatcherHub::remove(WatcherImpl* w) {
  if (w->removed) return;
  w->removed = true;
  auto it = watchers_.find(w->key);
  if (it == watchers_.end()) return;
  it->second.erase(w->pos);
  --count_;
  if (it->second.empty()) watchers_.erase(it);
}

}  // namespace etcd::v2store::internal
