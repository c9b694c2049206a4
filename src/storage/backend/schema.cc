#include "storage/backend/schema.h"

#include <algorithm>

#include "base/assert.h"
#include "base/encoding.h"

namespace etcd::backend {

std::string_view bucket_name(Bucket b) {
  switch (b) {
    case Bucket::kKey:
      return "key";
    case Bucket::kMeta:
      return "meta";
    case Bucket::kLease:
      return "lease";
    case Bucket::kAuth:
      return "auth";
    case Bucket::kAuthUsers:
      return "authUsers";
    case Bucket::kAuthRoles:
      return "authRoles";
    case Bucket::kMembers:
      return "members";
    case Bucket::kMembersRemoved:
      return "members_removed";
    case Bucket::kCluster:
      return "cluster";
    case Bucket::kAlarm:
      return "alarm";
  }
  ASSERT(false, "unknown bucket");
  return "";
}

std::optional<Bucket> bucket_from_name(std::string_view name) {
  for (Bucket b : kAllBuckets) {
    if (bucket_name(b) == name) return b;
  }
  return std::nullopt;
}

const std::array<Bucket, kBucketCount>& buckets_in_name_order() {
  static const std::array<Bucket, kBucketCount> kSorted = [] {
    std::array<Bucket, kBucketCount> a = kAllBuckets;
    std::sort(a.begin(), a.end(),
              [](Bucket x, Bucket y) { return bucket_name(x) < bucket_name(y); });
    return a;
  }();
  return kSorted;
}

std::string revision_key(Revision rev, bool tombstone) {
  std::string k;
  k.reserve(kRevisionKeySize + 1);
  append_u64_be(&k, static_cast<uint64_t>(rev.main));
  k.push_back('_');
  append_u64_be(&k, static_cast<uint64_t>(rev.sub));
  if (tombstone) k.push_back(kTombstoneMark);
  return k;
}

std::optional<ParsedRevisionKey> parse_revision_key(std::string_view key) {
  if (key.size() != kRevisionKeySize && key.size() != kRevisionKeySize + 1) return std::nullopt;
  if (key[8] != '_') return std::nullopt;
  bool tombstone = key.size() == kRevisionKeySize + 1;
  if (tombstone && key.back() != kTombstoneMark) return std::nullopt;
  ParsedRevisionKey p;
  p.rev.main = static_cast<int64_t>(get_u64_be(key.substr(0, 8)));
  p.rev.sub = static_cast<int64_t>(get_u64_be(key.substr(9, 8)));
  p.tombstone = tombstone;
  return p;
}

std::string lease_key(LeaseId id) { return u64_value(static_cast<uint64_t>(id.value())); }

std::optional<LeaseId> parse_lease_key(std::string_view key) {
  auto v = parse_u64_value(key);
  if (!v) return std::nullopt;
  return LeaseId(static_cast<int64_t>(*v));
}

std::string member_key(MemberId id) { return to_hex(id); }

std::string u64_value(uint64_t v) {
  std::string s;
  append_u64_be(&s, v);
  return s;
}

std::optional<uint64_t> parse_u64_value(std::string_view value) {
  if (value.size() != 8) return std::nullopt;
  return get_u64_be(value);
}

}  // namespace etcd::backend
