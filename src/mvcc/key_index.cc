#include "mvcc/key_index.h"

#include "base/assert.h"

namespace etcd::mvcc {
namespace {

std::string rev_string(Revision r) { return std::to_string(r.main) + "." + std::to_string(r.sub); }

// Walks g's revisions newest first while `keep_going` holds; returns the
// position where it stopped, or -1 when it walked them all.
template <typename F>
int walk(const Generation& g, F keep_going) {
  for (int i = static_cast<int>(g.revs.size()) - 1; i >= 0; --i) {
    if (!keep_going(g.revs[static_cast<size_t>(i)])) return i;
  }
  return -1;
}

}  // namespace

void KeyIndex::put(Revision rev) {
  ASSERT(rev > modified_, "put with a revision not newer than the last one");
  if (generations_.empty()) generations_.emplace_back();
  Generation& g = generations_.back();
  if (g.revs.empty()) g.created = rev;
  g.revs.push_back(rev);
  ++g.ver;
  modified_ = rev;
}

void KeyIndex::restore(Revision created, Revision modified, int64_t version) {
  ASSERT(generations_.empty(), "restore of a non-empty key index");
  modified_ = modified;
  generations_.push_back(Generation{version, created, {modified}});
}

bool KeyIndex::tombstone(Revision rev) {
  ASSERT(!generations_.empty() && !empty(), "tombstone of an empty key index");
  if (generations_.back().empty()) return false;
  put(rev);
  generations_.emplace_back();
  return true;
}

const Generation* KeyIndex::find_generation(int64_t rev) const {
  if (generations_.empty()) return nullptr;
  size_t last = generations_.size() - 1;
  for (size_t i = generations_.size(); i-- > 0;) {
    const Generation& g = generations_[i];
    if (g.empty()) continue;
    // A finished generation whose tombstone is at or before rev: the key
    // was deleted at rev.
    if (i != last && g.revs.back().main <= rev) return nullptr;
    if (g.revs.front().main <= rev) return &g;
  }
  return nullptr;
}

std::optional<KeyAt> KeyIndex::get(int64_t at_rev) const {
  const Generation* g = find_generation(at_rev);
  if (g == nullptr || g->empty()) return std::nullopt;
  int n = walk(*g, [at_rev](const Revision& r) { return r.main > at_rev; });
  if (n == -1) return std::nullopt;
  int64_t newer = static_cast<int64_t>(g->revs.size()) - n - 1;
  return KeyAt{g->revs[static_cast<size_t>(n)], g->created, g->ver - newer};
}

std::vector<Revision> KeyIndex::since(int64_t rev) const {
  std::vector<Revision> out;
  if (generations_.empty()) return out;
  // Start from the generation live at rev (or the first one after it).
  size_t gi = generations_.size() - 1;
  for (size_t i = generations_.size(); i-- > 0;) {
    const Generation& g = generations_[i];
    if (g.empty()) continue;
    gi = i;
    if (g.created.main <= rev) break;
  }
  int64_t last_main = 0;
  for (size_t i = gi; i < generations_.size(); ++i) {
    for (const Revision& r : generations_[i].revs) {
      if (r.main < rev) continue;
      if (r.main == last_main) {
        out.back() = r;  // keep only the last change of a revision
        continue;
      }
      out.push_back(r);
      last_main = r.main;
    }
  }
  return out;
}

std::pair<size_t, int> KeyIndex::do_compact(int64_t at_rev, std::set<Revision>* available) const {
  size_t gi = 0;
  // The first generation that is still live at at_rev or created after it.
  while (gi + 1 < generations_.size()) {
    const Generation& g = generations_[gi];
    if (g.revs.back().main > at_rev) break;
    ++gi;
  }
  const Generation& g = generations_[gi];
  int ri = walk(g, [&](const Revision& r) {
    if (r.main <= at_rev) {
      available->insert(r);
      return false;
    }
    return true;
  });
  return {gi, ri};
}

void KeyIndex::compact(int64_t at_rev, std::set<Revision>* available) {
  ASSERT(!generations_.empty(), "compact of an empty key index");
  auto [gi, ri] = do_compact(at_rev, available);
  Generation& g = generations_[gi];
  if (!g.empty()) {
    if (ri != -1) g.revs.erase(g.revs.begin(), g.revs.begin() + ri);
    // A finished generation reduced to its tombstone is history nobody can
    // read any more: drop it.
    if (g.revs.size() == 1 && gi != generations_.size() - 1) {
      available->erase(g.revs[0]);
      ++gi;
    }
  }
  generations_.erase(generations_.begin(), generations_.begin() + static_cast<ptrdiff_t>(gi));
}

void KeyIndex::keep(int64_t at_rev, std::set<Revision>* available) const {
  if (empty()) return;
  auto [gi, ri] = do_compact(at_rev, available);
  const Generation& g = generations_[gi];
  if (!g.empty() && ri == static_cast<int>(g.revs.size()) - 1 && gi != generations_.size() - 1) {
    available->erase(g.revs[static_cast<size_t>(ri)]);  // a tombstone is not kept
  }
}

std::string KeyIndex::to_string() const {
  std::string s = "key=\"" + key_ + "\" modified=" + rev_string(modified_) + " generations=[";
  for (size_t i = 0; i < generations_.size(); ++i) {
    const Generation& g = generations_[i];
    if (i > 0) s += " ";
    s += "{ver=" + std::to_string(g.ver) + " created=" + rev_string(g.created) + " revs=(";
    for (size_t j = 0; j < g.revs.size(); ++j) {
      if (j > 0) s += " ";
      s += rev_string(g.revs[j]);
    }
    s += ")}";
  }
  return s + "]";
}

}  // namespace etcd::mvcc
