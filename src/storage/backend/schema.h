// The backend's schema: etcd's bolt buckets as LMDB named sub-databases, and
// the key formats stored in them. Every module names its bucket and its keys
// through this file, so the on-disk layout is described in one place
// (docs/storage-backend.md mirrors it).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/ids.h"

namespace etcd::backend {

// One LMDB named sub-database per etcd bucket. The enumerator is an index
// into the backend's tables; bucket_name() is what is stored on disk.
enum class Bucket : uint8_t {
  kKey,             // MVCC revisions: revision_key() -> mvccpb.KeyValue
  kMeta,            // consistent index, term, compaction marks, conf state
  kLease,           // lease_key() -> leasepb.Lease
  kAuth,            // kAuthEnabled, kAuthRevision
  kAuthUsers,       // user name -> authpb.User
  kAuthRoles,       // role name -> authpb.Role
  kMembers,         // member_key() -> JSON of the member
  kMembersRemoved,  // member_key() -> "removed"
  kCluster,         // kClusterVersion, kClusterDowngrade
  kAlarm,           // marshalled etcdserverpb.AlarmMember -> empty value
};

inline constexpr size_t kBucketCount = 10;

inline constexpr std::array<Bucket, kBucketCount> kAllBuckets = {
    Bucket::kKey,       Bucket::kMeta,      Bucket::kLease,   Bucket::kAuth,
    Bucket::kAuthUsers, Bucket::kAuthRoles, Bucket::kMembers, Bucket::kMembersRemoved,
    Bucket::kCluster,   Bucket::kAlarm,
};

inline constexpr size_t bucket_index(Bucket b) { return static_cast<size_t>(b); }

// The on-disk name, identical to etcd's bucket name ("key", "authUsers", ...).
std::string_view bucket_name(Bucket b);
std::optional<Bucket> bucket_from_name(std::string_view name);

// The buckets sorted by the bytes of their names: the order in which bolt
// walks its root bucket, and so the order hash() feeds them to the CRC.
const std::array<Bucket, kBucketCount>& buckets_in_name_order();

// Keys of the meta bucket.
inline constexpr std::string_view kMetaConsistentIndex = "consistent_index";  // u64 BE
inline constexpr std::string_view kMetaTerm = "term";                         // u64 BE, 3.5+
inline constexpr std::string_view kMetaScheduledCompactRev = "scheduledCompactRev";
inline constexpr std::string_view kMetaFinishedCompactRev = "finishedCompactRev";
inline constexpr std::string_view kMetaConfState = "confState";  // JSON raftpb.ConfState, 3.5+

// Keys of the auth bucket.
inline constexpr std::string_view kAuthEnabled = "authEnabled";    // one byte: 1 or 0
inline constexpr std::string_view kAuthRevision = "authRevision";  // u64 BE

// Keys of the cluster bucket.
inline constexpr std::string_view kClusterVersion = "clusterVersion";  // "3.5.0"
inline constexpr std::string_view kClusterDowngrade = "downgrade";     // JSON, 3.5+

// The value stored under a removed member's key.
inline constexpr std::string_view kMemberRemovedValue = "removed";

// Revision keys of the key bucket: main (8 bytes BE) '_' sub (8 bytes BE),
// plus a trailing 't' when the revision is a deletion (tombstone). Big-endian
// makes byte order equal revision order, so a cursor walks revisions in order.
inline constexpr size_t kRevisionKeySize = 17;
inline constexpr char kTombstoneMark = 't';

std::string revision_key(Revision rev, bool tombstone = false);
struct ParsedRevisionKey {
  Revision rev;
  bool tombstone = false;
};
std::optional<ParsedRevisionKey> parse_revision_key(std::string_view key);

// Lease keys: the id as 8 bytes big-endian (two's complement of the int64).
std::string lease_key(LeaseId id);
std::optional<LeaseId> parse_lease_key(std::string_view key);

// Member keys: the id in lower-case hex without padding, as etcd prints it.
std::string member_key(MemberId id);

// An unsigned integer value as 8 bytes big-endian (consistent index, term,
// compaction revisions, auth revision).
std::string u64_value(uint64_t v);
std::optional<uint64_t> parse_u64_value(std::string_view value);

// A key left out of hash(): etcd leaves out the raft bookkeeping that may
// differ between members holding the same key space.
struct HashIgnore {
  Bucket bucket;
  std::string_view key;
};
inline constexpr std::array<HashIgnore, 2> kDefaultHashIgnores = {{
    {Bucket::kMeta, kMetaConsistentIndex},
    {Bucket::kMeta, kMetaTerm},
}};

}  // namespace etcd::backend
