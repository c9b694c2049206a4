// The per-user permission cache (the idea of etcd's rangePermCache, our own
// code): for each user, the key ranges of all its roles' permissions merged
// into disjoint sorted intervals, one set for READ and one for WRITE, so a
// check is a binary search instead of a walk over roles.
//
// Key ranges are half-open [begin, end) in byte order. A permission on a
// single key k is [k, k + "\0"); a range_end of "\0" means "to the end of
// the key space" (etcd's from-key).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "authpb/auth.pb.h"

namespace etcd::auth {

enum class PermType { kRead, kWrite };

// A union of key intervals, kept as disjoint sorted intervals.
class KeyRangeSet {
 public:
  // Adds [begin, end); `end` empty means the single key `begin`, "\0"
  // means no upper bound.
  void add(std::string_view begin, std::string_view end);
  // Whether [begin, end) (same conventions) lies inside the union.
  bool contains(std::string_view begin, std::string_view end) const;
  bool empty() const { return ranges_.empty(); }
  size_t size() const { return ranges_.size(); }

 private:
  struct Interval {
    std::string begin;
    std::string end;  // meaningful only when !open
    bool open = false;
  };
  static Interval normalize(std::string_view begin, std::string_view end);
  // begin -> interval, disjoint and non-adjacent.
  std::map<std::string, Interval, std::less<>> ranges_;
};

class RangePermCache {
 public:
  // Rebuilds every user's sets from the users and roles (after any change).
  void rebuild(const std::map<std::string, authpb::User>& users,
               const std::map<std::string, authpb::Role>& roles);
  void clear() { perms_.clear(); }
  // Whether `user` may access [key, range_end) (range_end empty: the key).
  bool permitted(std::string_view user, std::string_view key, std::string_view range_end,
                 PermType type) const;

 private:
  struct UserPerms {
    KeyRangeSet read;
    KeyRangeSet write;
  };
  std::map<std::string, UserPerms, std::less<>> perms_;
};

}  // namespace etcd::auth
