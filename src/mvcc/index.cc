#include "mvcc/index.h"

namespace etcd::mvcc {

void TreeIndex::put(std::string_view key, Revision rev) {
  WriterLock lock(&mu_);
  auto it = tree_.find(key);
  if (it == tree_.end()) it = tree_.emplace(std::string(key), KeyIndex(std::string(key))).first;
  it->second.put(rev);
}

void TreeIndex::restore(std::string_view key, Revision created, Revision modified,
                        int64_t version) {
  WriterLock lock(&mu_);
  auto it = tree_.find(key);
  if (it == tree_.end()) {
    it = tree_.emplace(std::string(key), KeyIndex(std::string(key))).first;
    it->second.restore(created, modified, version);
    return;
  }
  it->second.put(modified);
}

bool TreeIndex::tombstone(std::string_view key, Revision rev) {
  WriterLock lock(&mu_);
  auto it = tree_.find(key);
  if (it == tree_.end()) return false;
  return it->second.tombstone(rev);
}

std::optional<KeyAt> TreeIndex::get(std::string_view key, int64_t at_rev) const {
  ReaderLock lock(&mu_);
  auto it = tree_.find(key);
  if (it == tree_.end()) return std::nullopt;
  return it->second.get(at_rev);
}

void TreeIndex::visit(KeyRange r, const std::function<bool(const KeyIndex&)>& f) const {
  if (r.end.empty()) {
    auto it = tree_.find(r.key);
    if (it != tree_.end()) f(it->second);
    return;
  }
  bool to_end = r.end == std::string_view("\0", 1);
  for (auto it = tree_.lower_bound(r.key); it != tree_.end(); ++it) {
    if (!to_end && std::string_view(it->first) >= r.end) break;
    if (!f(it->second)) break;
  }
}

std::vector<std::string> TreeIndex::range_keys(KeyRange r, int64_t at_rev) const {
  ReaderLock lock(&mu_);
  std::vector<std::string> keys;
  visit(r, [&](const KeyIndex& ki) {
    if (ki.get(at_rev)) keys.push_back(ki.key());
    return true;
  });
  return keys;
}

TreeIndex::RevisionsResult TreeIndex::revisions(KeyRange r, int64_t at_rev, size_t limit) const {
  ReaderLock lock(&mu_);
  RevisionsResult out;
  visit(r, [&](const KeyIndex& ki) {
    if (auto at = ki.get(at_rev)) {
      if (limit == 0 || out.revs.size() < limit) {
        out.revs.push_back(at->modified);
        out.keys.push_back(ki.key());
      }
      ++out.total;
    }
    return true;
  });
  return out;
}

int64_t TreeIndex::count_revisions(KeyRange r, int64_t at_rev) const {
  ReaderLock lock(&mu_);
  int64_t n = 0;
  visit(r, [&](const KeyIndex& ki) {
    n += ki.get(at_rev).has_value();
    return true;
  });
  return n;
}

std::vector<std::pair<std::string, std::vector<Revision>>> TreeIndex::range_since(
    KeyRange r, int64_t rev) const {
  ReaderLock lock(&mu_);
  std::vector<std::pair<std::string, std::vector<Revision>>> out;
  visit(r, [&](const KeyIndex& ki) {
    auto revs = ki.since(rev);
    if (!revs.empty()) out.emplace_back(ki.key(), std::move(revs));
    return true;
  });
  return out;
}

std::set<Revision> TreeIndex::compact(int64_t rev) {
  std::set<Revision> available;
  WriterLock lock(&mu_);
  for (auto it = tree_.begin(); it != tree_.end();) {
    it->second.compact(rev, &available);
    if (it->second.empty()) {
      it = tree_.erase(it);
    } else {
      ++it;
    }
  }
  return available;
}

std::set<Revision> TreeIndex::keep(int64_t rev) const {
  std::set<Revision> available;
  ReaderLock lock(&mu_);
  for (const auto& [key, ki] : tree_) ki.keep(rev, &available);
  return available;
}

size_t TreeIndex::size() const {
  ReaderLock lock(&mu_);
  return tree_.size();
}

void TreeIndex::clear() {
  WriterLock lock(&mu_);
  tree_.clear();
}

}  // namespace etcd::mvcc
