// Raft entry data as etcd 3.4/3.5 members write it: telling raw v2
// Requests from InternalRaftRequests, the v2 Request's bytes, the v2
// membership paths and JSON, and the publisher's choice of form.
#include "server/raft_entry.h"

#include <gtest/gtest.h>

#include "server/membership.h"
#include "server/publisher.h"
#include "serverpb/raft_internal.pb.h"

namespace etcd::server {
namespace {

// A tiny protobuf encoder that knows nothing of the generated code, to
// write bytes as etcd's Go encoder does.
std::string varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}
std::string field_varint(int field, uint64_t v) { return varint(uint64_t(field) << 3) + varint(v); }
std::string field_bytes(int field, const std::string& s) {
  return varint((uint64_t(field) << 3) | 2) + varint(s.size()) + s;
}

// etcd's encoding of a v2 Request: every field but PrevExist (8) and
// Refresh (17), in field order, zero values included.
std::string go_v2_request(uint64_t id, const std::string& method, const std::string& path,
                          const std::string& val, int64_t time = 0) {
  std::string out = field_varint(1, id) + field_bytes(2, method) + field_bytes(3, path) +
                    field_bytes(4, val) + field_varint(5, 0) + field_bytes(6, "") +
                    field_varint(7, 0) + field_varint(9, 0) + field_varint(10, 0) +
                    field_varint(11, 0) + field_varint(12, 0) + field_varint(13, 0) +
                    field_varint(14, 0);
  out += field_varint(15, static_cast<uint64_t>(time)) + field_varint(16, 0);
  return out;
}

serverpb::InternalRaftRequest with_header(serverpb::InternalRaftRequest r, uint64_t id = 7) {
  r.mutable_header()->set_id(id);
  return r;
}

TEST(RaftEntryTest, AV2RequestIsEncodedAsEtcdsGoEncoderDoes) {
  const std::string json = R"({"name":"infra1","clientURLs":["http://127.0.0.1:2379"]})";
  EXPECT_EQ(
      v2_request(0x1234, "PUT", "/0/members/8e9e05c52164694d/attributes", json).SerializeAsString(),
      go_v2_request(0x1234, "PUT", "/0/members/8e9e05c52164694d/attributes", json));
  EXPECT_EQ(v2_sync_request(9, 1700000000123456789).SerializeAsString(),
            go_v2_request(9, "SYNC", "", "", 1700000000123456789));
  EXPECT_EQ(v2_request(3, "PUT", "/0/version", "3.4.0").SerializeAsString(),
            go_v2_request(3, "PUT", "/0/version", "3.4.0"));
}

TEST(RaftEntryTest, RawV2RequestsAreToldFromInternalRaftRequests) {
  EXPECT_EQ(classify_entry(""), EntryKind::kEmpty);
  // etcd 3.4's leader: SYNC, a member publishing, the cluster version.
  EXPECT_EQ(classify_entry(go_v2_request(1, "SYNC", "", "", 1700000000000000000)), EntryKind::kV2);
  EXPECT_EQ(classify_entry(go_v2_request(2, "PUT", "/0/members/1/attributes", R"({"name":"a"})")),
            EntryKind::kV2);
  EXPECT_EQ(classify_entry(go_v2_request(3, "PUT", "/0/version", "3.4.0")), EntryKind::kV2);
  EXPECT_EQ(classify_entry(go_v2_request(4, "DELETE", "/0/members/1", "")), EntryKind::kV2);
  EXPECT_EQ(classify_entry(go_v2_request(5, "QGET", "/1/foo", "")), EntryKind::kV2);
  EXPECT_EQ(classify_entry(go_v2_request(6, "", "", "")), EntryKind::kV2);  // wire types alone
  // A v2 request written with only its set fields: known by its method.
  EXPECT_EQ(classify_entry(field_varint(1, 9) + field_bytes(2, "POST") + field_bytes(3, "/1/k")),
            EntryKind::kV2);
  EXPECT_EQ(classify_entry(field_bytes(2, "SYNC")), EntryKind::kV2);
  // The generated message, serialized, as our members propose them.
  EXPECT_EQ(classify_entry(
                publish_request_v2(MemberId(0xabc), "n", {"http://h:2379"}).SerializeAsString()),
            EntryKind::kV2);

  // InternalRaftRequests of every kind.
  std::vector<serverpb::InternalRaftRequest> internal;
  serverpb::InternalRaftRequest r;
  r.mutable_put()->set_key("PUT");
  r.mutable_put()->set_value("SYNC");
  internal.push_back(with_header(r));
  r.Clear();
  r.mutable_put();  // empty
  internal.push_back(with_header(r));
  r.Clear();
  r.mutable_range()->set_key("k");
  internal.push_back(with_header(r));
  r.Clear();
  r.mutable_delete_range()->set_key("k");
  internal.push_back(with_header(r));
  r.Clear();
  auto* op = r.mutable_txn()->add_success()->mutable_request_put();
  op->set_key("k");
  internal.push_back(with_header(r));
  r.Clear();
  r.mutable_compaction()->set_revision(5);
  internal.push_back(with_header(r));
  r.Clear();
  r.mutable_lease_grant()->set_ttl(10);
  r.mutable_lease_grant()->set_id(1);
  internal.push_back(with_header(r));
  r.Clear();
  r.mutable_lease_revoke()->set_id(1);
  internal.push_back(with_header(r));
  r.Clear();
  r.mutable_lease_checkpoint()->add_checkpoints()->set_id(1);
  internal.push_back(with_header(r));
  r.Clear();
  r.mutable_alarm()->set_memberid(1);
  internal.push_back(with_header(r));
  r.Clear();
  r.mutable_auth_enable();
  internal.push_back(with_header(r));
  r.Clear();
  r.mutable_auth_user_add()->set_name("u");
  internal.push_back(with_header(r));
  r.Clear();
  r.mutable_cluster_version_set()->set_ver("3.5.0");
  internal.push_back(with_header(r));
  internal.push_back(with_header(publish_request_v3(MemberId(1), "a", {"http://h:2379"})));
  r.Clear();
  r.mutable_downgrade_info_set()->set_ver("3.4.0");
  internal.push_back(with_header(r));
  r.Clear();
  *r.mutable_v2() = v2_sync_request(5, 1);  // a wrapped v2 request
  internal.push_back(with_header(r));
  internal.push_back(r);  // ... even without a header
  r.Clear();
  r.set_id(8);  // etcd 3.0's top-level id, no header
  r.mutable_put()->set_key("k");
  internal.push_back(r);
  r.Clear();
  internal.push_back(with_header(r));  // a header alone
  for (const auto& req : internal) {
    EXPECT_EQ(classify_entry(req.SerializeAsString()), EntryKind::kInternal) << req.DebugString();
  }
  // A header makes it an InternalRaftRequest whatever else is there.
  EXPECT_EQ(classify_entry(field_bytes(2, "SYNC") + field_bytes(100, field_varint(1, 3))),
            EntryKind::kInternal);
}

TEST(RaftEntryTest, BytesThatAreNoMessageAreMalformed) {
  EXPECT_EQ(classify_entry("\xff"), EntryKind::kMalformed);
  EXPECT_EQ(classify_entry(std::string("\x22\x05"
                                       "ab",
                                       4)),
            EntryKind::kMalformed);  // short
  EXPECT_EQ(classify_entry(std::string("\x12\x09"
                                       "SY",
                                       4)),
            EntryKind::kMalformed);
  EXPECT_EQ(classify_entry(std::string("\x08\x01\x00", 3)), EntryKind::kMalformed);  // tag 0
  EXPECT_EQ(classify_entry(std::string("\x02\x00", 2)), EntryKind::kMalformed);      // field 0
  EXPECT_EQ(classify_entry(std::string("\x0f", 1)), EntryKind::kMalformed);          // wire type 7
}

TEST(RaftEntryTest, MemberAttributesPathsAndJson) {
  EXPECT_EQ(member_attributes_path(MemberId(0x8e9e05c52164694d)),
            "/0/members/8e9e05c52164694d/attributes");
  EXPECT_EQ(member_attributes_path(MemberId(0x1f)), "/0/members/1f/attributes");
  EXPECT_EQ(member_of_attributes_path("/0/members/8e9e05c52164694d/attributes"),
            MemberId(0x8e9e05c52164694d));
  EXPECT_EQ(member_of_attributes_path("/0/members/1F/attributes"), MemberId(0x1f));
  for (const char* bad :
       {"/0/members//attributes", "/0/members/xyz/attributes", "/0/members/1/raftAttributes",
        "/0/members/1", "/0/members/11111111111111111/attributes", "/1/members/1/attributes",
        "/0/version"}) {
    EXPECT_EQ(member_of_attributes_path(bad), std::nullopt) << bad;
  }

  EXPECT_EQ(attributes_json("infra1", {"http://127.0.0.1:2379", "http://10.0.0.1:2379"}),
            R"({"name":"infra1","clientURLs":["http://127.0.0.1:2379","http://10.0.0.1:2379"]})");
  EXPECT_EQ(attributes_json("", {}), "{}");
  EXPECT_EQ(attributes_json("a\"<b>&", {}), R"({"name":"a\"\u003cb\u003e\u0026"})");

  auto a = parse_attributes_json(R"({"name":"infra1","clientURLs":["http://h:1","http://h:2"]})");
  ASSERT_TRUE(a.is_ok());
  EXPECT_EQ(a->name(), "infra1");
  ASSERT_EQ(a->client_urls_size(), 2);
  EXPECT_EQ(a->client_urls(1), "http://h:2");
  auto upper = parse_attributes_json(R"({"Name":"x","ClientURLs":null,"other":1})");
  ASSERT_TRUE(upper.is_ok());
  EXPECT_EQ(upper->name(), "x");
  EXPECT_EQ(upper->client_urls_size(), 0);
  EXPECT_FALSE(parse_attributes_json("not json").is_ok());
  EXPECT_FALSE(parse_attributes_json("[]").is_ok());
  EXPECT_FALSE(parse_attributes_json(R"({"name":1})").is_ok());
  EXPECT_FALSE(parse_attributes_json(R"({"clientURLs":[1]})").is_ok());
}

TEST(RaftEntryTest, Versions) {
  EXPECT_TRUE(is_cluster_version("3.4.0"));
  EXPECT_TRUE(is_cluster_version("10.20.30"));
  for (const char* bad : {"", "3.4", "3.4.", ".4.0", "3..0", "3.4.0.1", "v3.4.0", "3.4.0-rc"}) {
    EXPECT_FALSE(is_cluster_version(bad)) << bad;
  }
  EXPECT_TRUE(version_below("3.4.0", 3, 5));
  EXPECT_TRUE(version_below("2.3.0", 3, 5));
  EXPECT_FALSE(version_below("3.5.0", 3, 5));
  EXPECT_FALSE(version_below("3.6.1", 3, 5));
  EXPECT_FALSE(version_below("4.0.0", 3, 5));
  EXPECT_FALSE(version_below("", 3, 5));
  EXPECT_FALSE(version_below("x", 3, 5));
}

TEST(RaftEntryTest, ThePublisherUsesTheV2FormsUntilTheClusterIs35) {
  EXPECT_TRUE(use_v2_membership_requests(""));  // not decided: a member may be 3.4
  EXPECT_TRUE(use_v2_membership_requests("3.4.0"));
  EXPECT_FALSE(use_v2_membership_requests("3.5.0"));
  EXPECT_FALSE(use_v2_membership_requests("3.6.0"));

  auto v2 = publish_request_v2(MemberId(0x8e9e05c52164694d), "infra1", {"http://127.0.0.1:2379"});
  EXPECT_EQ(v2.SerializeAsString(),
            go_v2_request(0, "PUT", "/0/members/8e9e05c52164694d/attributes",
                          R"({"name":"infra1","clientURLs":["http://127.0.0.1:2379"]})"));
  auto v3 = publish_request_v3(MemberId(0x8e9e05c52164694d), "infra1", {"http://127.0.0.1:2379"});
  ASSERT_TRUE(v3.has_cluster_member_attr_set());
  EXPECT_EQ(v3.cluster_member_attr_set().member_id(), 0x8e9e05c52164694dULL);
  EXPECT_EQ(v3.cluster_member_attr_set().member_attributes().name(), "infra1");
  // etcd 3.5's field numbers: ClusterMemberAttrSet is 1301, its member
  // attributes 2, their client URLs 2.
  const std::string attrs = field_bytes(1, "infra1") + field_bytes(2, "http://127.0.0.1:2379");
  EXPECT_EQ(v3.SerializeAsString(),
            field_bytes(1301, field_varint(1, 0x8e9e05c52164694d) + field_bytes(2, attrs)));

  auto old = cluster_version_request("3.4.0");
  ASSERT_TRUE(old.v2.has_value());
  EXPECT_FALSE(old.v3.has_value());
  EXPECT_EQ(old.v2->SerializeAsString(), go_v2_request(0, "PUT", "/0/version", "3.4.0"));
  auto now = cluster_version_request("3.5.0");
  EXPECT_FALSE(now.v2.has_value());
  ASSERT_TRUE(now.v3.has_value());
  EXPECT_EQ(now.v3->SerializeAsString(), field_bytes(1300, field_bytes(1, "3.5.0")));
}

TEST(RaftEntryTest, InternalRaftRequestFieldNumbersAreEtcds) {
  serverpb::InternalRaftRequest r;
  r.set_id(5);
  r.mutable_header()->set_id(6);
  r.mutable_header()->set_username("u");
  r.mutable_header()->set_auth_revision(2);
  EXPECT_EQ(r.SerializeAsString(),
            field_varint(1, 5) +
                field_bytes(100, field_varint(1, 6) + field_bytes(2, "u") + field_varint(3, 2)));
  const auto* d = serverpb::InternalRaftRequest::descriptor();
  const std::vector<std::pair<const char*, int>> numbers = {
      {"v2", 2},
      {"range", 3},
      {"put", 4},
      {"delete_range", 5},
      {"txn", 6},
      {"compaction", 7},
      {"lease_grant", 8},
      {"lease_revoke", 9},
      {"alarm", 10},
      {"lease_checkpoint", 11},
      {"auth_enable", 1000},
      {"auth_disable", 1011},
      {"authenticate", 1012},
      {"auth_status", 1013},
      {"auth_user_add", 1100},
      {"auth_user_delete", 1101},
      {"auth_user_get", 1102},
      {"auth_user_change_password", 1103},
      {"auth_user_grant_role", 1104},
      {"auth_user_revoke_role", 1105},
      {"auth_user_list", 1106},
      {"auth_role_list", 1107},
      {"auth_role_add", 1200},
      {"auth_role_delete", 1201},
      {"auth_role_get", 1202},
      {"auth_role_grant_permission", 1203},
      {"auth_role_revoke_permission", 1204},
      {"cluster_version_set", 1300},
      {"cluster_member_attr_set", 1301},
      {"downgrade_info_set", 1302},
      {"header", 100},
      {"id", 1},
  };
  EXPECT_EQ(d->field_count(), static_cast<int>(numbers.size()));
  for (const auto& [name, number] : numbers) {
    const auto* f = d->FindFieldByName(name);
    ASSERT_NE(f, nullptr) << name;
    EXPECT_EQ(f->number(), number) << name;
  }
  membershippb::DowngradeInfoSetRequest dg;
  dg.set_enabled(true);
  dg.set_ver("3.4.0");
  EXPECT_EQ(dg.SerializeAsString(), field_varint(1, 1) + field_bytes(2, "3.4.0"));
  etcdserverpb::Request v2;
  v2.set_prev_exist(true);
  v2.set_refresh(true);
  EXPECT_EQ(v2.SerializeAsString(), field_varint(8, 1) + field_varint(17, 1));
}

}  // namespace
}  // namespace etcd::server

namespace etcd::server {
namespace {

// Member JSON as etcd's json.Marshal writes it: Go's field order, omitempty,
// a nil list as null, <>& escaped; parsing takes any order.
TEST(MemberJsonTest, GoFieldOrderAndOmitEmpty) {
  Member m;
  m.id = MemberId(10);
  m.peer_urls = {"http://a:2380"};
  EXPECT_EQ(m.to_json(), R"({"id":10,"peerURLs":["http://a:2380"]})");
  m.name = "n&<>";
  m.client_urls = {"http://a:2379"};
  m.is_learner = true;
  EXPECT_EQ(
      m.to_json(),
      R"({"id":10,"peerURLs":["http://a:2380"],"isLearner":true,"name":"n\u0026\u003c\u003e",)"
      R"("clientURLs":["http://a:2379"]})");
  auto back = Member::from_json(m.to_json());
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(back->name, "n&<>");
  EXPECT_TRUE(back->is_learner);
  Member promote;
  promote.id = MemberId(7);
  promote.is_promote = true;
  EXPECT_EQ(promote.to_json(), R"({"id":7,"peerURLs":null,"isPromote":true})");
  // The sorted-key form earlier builds wrote still reads.
  auto old = Member::from_json(R"({"clientURLs":["c"],"id":3,"name":"x","peerURLs":["p"]})");
  ASSERT_TRUE(old.is_ok());
  EXPECT_EQ(old->name, "x");
  EXPECT_EQ(old->peer_urls, std::vector<std::string>{"p"});
}

}  // namespace
}  // namespace etcd::server
