// Strong identifier types. A raw uint64_t never crosses a module boundary
// as a term, an index, a member or a lease: mixing them is a compile error.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>

namespace etcd {

template <typename Tag, typename Rep>
class StrongId {
 public:
  using rep_type = Rep;
  constexpr StrongId() = default;
  constexpr explicit StrongId(Rep v) : v_(v) {}
  constexpr Rep value() const { return v_; }
  constexpr auto operator<=>(const StrongId&) const = default;

 private:
  Rep v_ = 0;
};

struct TermTag {};
struct IndexTag {};
struct MemberIdTag {};
struct LeaseIdTag {};
struct MainRevTag {};

using Term = StrongId<TermTag, uint64_t>;    // raft term
using Index = StrongId<IndexTag, uint64_t>;  // raft log index
using MemberId = StrongId<MemberIdTag, uint64_t>;
using LeaseId = StrongId<LeaseIdTag, int64_t>;  // etcd's lease ids are int64 on the wire
// A main revision: the store revision a write transaction commits at (the
// `main` of a Revision). etcd's API carries it as int64; <= 0 often means
// "the current one" there, and the KV store's API says where it does.
using MainRev = StrongId<MainRevTag, int64_t>;

// etcd prints member and lease ids as lower-case hex without padding
// ("8e9e05c52164694d").
std::string to_hex(MemberId id);
std::string to_hex(LeaseId id);

// An MVCC revision: `main` is the store revision a transaction commits at,
// `sub` numbers the changes inside that transaction. Ordered by (main, sub).
struct Revision {
  int64_t main = 0;
  int64_t sub = 0;
  constexpr auto operator<=>(const Revision&) const = default;
};

}  // namespace etcd

template <typename Tag, typename Rep>
struct std::hash<etcd::StrongId<Tag, Rep>> {
  size_t operator()(const etcd::StrongId<Tag, Rep>& id) const noexcept {
    return std::hash<Rep>()(id.value());
  }
};
