#include "server/cluster_ids.h"

#include <gtest/gtest.h>

namespace etcd::server {
namespace {

// The ids every default etcd prints: `etcd` with no flags is member
// 8e9e05c52164694d of cluster cdf818194e3a8c32.
TEST(ClusterIds, EtcdDefaults) {
  MemberId m = compute_member_id({"http://localhost:2380"}, "etcd-cluster");
  EXPECT_EQ(to_hex(m), "8e9e05c52164694d");
  EXPECT_EQ(compute_cluster_id({m}), 0xcdf818194e3a8c32ULL);
}

TEST(ClusterIds, OrderOfUrlsAndMembersDoesNotMatter) {
  EXPECT_EQ(compute_member_id({"http://b:2380", "http://a:2380"}, "t"),
            compute_member_id({"http://a:2380", "http://b:2380"}, "t"));
  MemberId a(1), b(2);
  EXPECT_EQ(compute_cluster_id({a, b}), compute_cluster_id({b, a}));
  // Token and time change the id.
  EXPECT_NE(compute_member_id({"http://a:2380"}, "t1"), compute_member_id({"http://a:2380"}, "t2"));
  EXPECT_NE(compute_member_id({"http://a:2380"}, "t", 1),
            compute_member_id({"http://a:2380"}, "t"));
}

TEST(ClusterIds, ParseInitialCluster) {
  auto r = parse_initial_cluster(
      "infra0=http://10.0.1.10:2380,infra1=http://10.0.1.11:2380,"
      "infra0=http://127.0.0.1:2380");
  ASSERT_TRUE(r.is_ok());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ(r->at("infra0"),
            (std::vector<std::string>{"http://10.0.1.10:2380", "http://127.0.0.1:2380"}));
  EXPECT_FALSE(parse_initial_cluster("nonsense").is_ok());
  EXPECT_FALSE(parse_initial_cluster("a=").is_ok());
  EXPECT_FALSE(parse_initial_cluster("=http://x:1").is_ok());
}

}  // namespace
}  // namespace etcd::server
