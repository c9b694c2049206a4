#include "auth/range_perm_cache.h"

#include <iterator>

namespace etcd::auth {

KeyRangeSet::Interval KeyRangeSet::normalize(std::string_view begin, std::string_view end) {
  Interval iv;
  iv.begin = std::string(begin);
  if (end.empty()) {
    // The single key: [k, k + "\0").
    iv.end = iv.begin;
    iv.end.push_back('\0');
  } else if (end == std::string_view("\0", 1)) {
    iv.open = true;
  } else {
    iv.end = std::string(end);
  }
  return iv;
}

namespace {

// a.end < b.begin in the "open end is infinity" order.
bool ends_before(const std::string& end, bool open, const std::string& begin) {
  return !open && end < begin;
}

}  // namespace

void KeyRangeSet::add(std::string_view begin, std::string_view end) {
  Interval iv = normalize(begin, end);
  // An empty interval (end <= begin) grants nothing.
  if (!iv.open && iv.end <= iv.begin) return;
  // Merge with every interval that overlaps or touches it: start with the
  // last one beginning at or before iv.begin.
  auto it = ranges_.upper_bound(iv.begin);
  if (it != ranges_.begin()) {
    auto prev = std::prev(it);
    if (!ends_before(prev->second.end, prev->second.open, iv.begin)) it = prev;
  }
  while (it != ranges_.end() && !ends_before(iv.end, iv.open, it->second.begin)) {
    const Interval& cur = it->second;
    if (cur.begin < iv.begin) iv.begin = cur.begin;
    if (cur.open) {
      iv.open = true;
    } else if (!iv.open && cur.end > iv.end) {
      iv.end = cur.end;
    }
    it = ranges_.erase(it);
  }
  std::string key = iv.begin;
  ranges_.emplace(std::move(key), std::move(iv));
}

bool KeyRangeSet::contains(std::string_view begin, std::string_view end) const {
  const Interval q = normalize(begin, end);
  // The interval that could hold q starts at or before q.begin.
  auto it = ranges_.upper_bound(q.begin);
  if (it == ranges_.begin()) return false;
  const Interval& iv = std::prev(it)->second;
  if (iv.open) return true;
  if (q.open) return false;
  // An empty query range ([a, b) with b <= a) is inside when a is.
  if (q.end <= q.begin) return q.begin < iv.end;
  return q.end <= iv.end;
}

void RangePermCache::rebuild(const std::map<std::string, authpb::User>& users,
                             const std::map<std::string, authpb::Role>& roles) {
  perms_.clear();
  for (const auto& [name, user] : users) {
    UserPerms p;
    for (const std::string& role_name : user.roles()) {
      auto r = roles.find(role_name);
      if (r == roles.end()) continue;
      for (const authpb::Permission& perm : r->second.keypermission()) {
        const bool read = perm.permtype() == authpb::Permission::READ ||
                          perm.permtype() == authpb::Permission::READWRITE;
        const bool write = perm.permtype() == authpb::Permission::WRITE ||
                           perm.permtype() == authpb::Permission::READWRITE;
        if (read) p.read.add(perm.key(), perm.range_end());
        if (write) p.write.add(perm.key(), perm.range_end());
      }
    }
    perms_.emplace(name, std::move(p));
  }
}

bool RangePermCache::permitted(std::string_view user, std::string_view key,
                               std::string_view range_end, PermType type) const {
  auto it = perms_.find(user);
  if (it == perms_.end()) return false;
  const KeyRangeSet& set = type == PermType::kRead ? it->second.read : it->second.write;
  return set.contains(key, range_end);
}

}  // namespace etcd::auth
