#include "storage/backend/schema.h"

#include <gtest/gtest.h>

namespace etcd::backend {
namespace {

TEST(Schema, BucketNamesAreEtcds) {
  EXPECT_EQ(bucket_name(Bucket::kKey), "key");
  EXPECT_EQ(bucket_name(Bucket::kMeta), "meta");
  EXPECT_EQ(bucket_name(Bucket::kLease), "lease");
  EXPECT_EQ(bucket_name(Bucket::kAuth), "auth");
  EXPECT_EQ(bucket_name(Bucket::kAuthUsers), "authUsers");
  EXPECT_EQ(bucket_name(Bucket::kAuthRoles), "authRoles");
  EXPECT_EQ(bucket_name(Bucket::kMembers), "members");
  EXPECT_EQ(bucket_name(Bucket::kMembersRemoved), "members_removed");
  EXPECT_EQ(bucket_name(Bucket::kCluster), "cluster");
  EXPECT_EQ(bucket_name(Bucket::kAlarm), "alarm");
  for (Bucket b : kAllBuckets) EXPECT_EQ(bucket_from_name(bucket_name(b)), b);
  EXPECT_FALSE(bucket_from_name("nope").has_value());
  // The enumerators index the bucket table in declaration order.
  for (size_t i = 0; i < kBucketCount; ++i) EXPECT_EQ(bucket_index(kAllBuckets[i]), i);
}

TEST(Schema, NameOrderIsByteOrder) {
  const auto& sorted = buckets_in_name_order();
  std::vector<std::string_view> names;
  for (Bucket b : sorted) names.push_back(bucket_name(b));
  EXPECT_EQ(names,
            (std::vector<std::string_view>{"alarm", "auth", "authRoles", "authUsers", "cluster",
                                           "key", "lease", "members", "members_removed", "meta"}));
}

TEST(Schema, RevisionKeys) {
  std::string k = revision_key(Revision{0x0102, 3});
  ASSERT_EQ(k.size(), kRevisionKeySize);
  EXPECT_EQ(k, std::string("\0\0\0\0\0\0\x01\x02_\0\0\0\0\0\0\0\x03", 17));
  std::string t = revision_key(Revision{5, 0}, /*tombstone=*/true);
  ASSERT_EQ(t.size(), kRevisionKeySize + 1);
  EXPECT_EQ(t.back(), 't');
  auto p = parse_revision_key(t);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->rev, (Revision{5, 0}));
  EXPECT_TRUE(p->tombstone);
  EXPECT_FALSE(parse_revision_key("short").has_value());
  // Byte order is revision order.
  EXPECT_LT(revision_key(Revision{1, 9}), revision_key(Revision{2, 0}));
  EXPECT_LT(revision_key(Revision{255, 0}), revision_key(Revision{256, 0}));
}

TEST(Schema, LeaseMemberAndIntegerKeys) {
  EXPECT_EQ(lease_key(LeaseId(1)), std::string("\0\0\0\0\0\0\0\x01", 8));
  EXPECT_EQ(parse_lease_key(lease_key(LeaseId(-2))), LeaseId(-2));
  EXPECT_EQ(member_key(MemberId(0x8e9e05c52164694dULL)), "8e9e05c52164694d");
  EXPECT_EQ(parse_u64_value(u64_value(42)), 42u);
  EXPECT_FALSE(parse_u64_value("1234567").has_value());
}

}  // namespace
}  // namespace etcd::backend
