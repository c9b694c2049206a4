// The WAL's metadata record: etcd's protobuf form byte for byte, the JSON
// form of earlier builds still read, anything else refused as data loss.
#include "server/wal_metadata.h"

#include <gtest/gtest.h>

#include <string>

namespace etcd::server {
namespace {

using namespace std::string_literals;

TEST(WalMetadata, WritesEtcdsProtobufBothFieldsAlways) {
  // etcdserverpb.Metadata{NodeID: 1, ClusterID: 0xc1}: tag 0x08, varint,
  // tag 0x10, varint.
  EXPECT_EQ(wal_metadata(MemberId(1), 0xc1), "\x08\x01\x10\xc1\x01"s);
  // Zero fields are written too (gogoproto, nullable=false).
  EXPECT_EQ(wal_metadata(MemberId(0), 0), "\x08\x00\x10\x00"s);
  // Full 64-bit ids: ten-byte varints.
  EXPECT_EQ(wal_metadata(MemberId(~uint64_t{0}), 0x8e9e05c52164694d).size(), 2 + 10 + 1 + 9u);
}

TEST(WalMetadata, ReadsTheProtobufForm) {
  for (auto [id, cid] : {std::pair<uint64_t, uint64_t>{1, 0xc1},
                         {0x8e9e05c52164694d, 0xcdf818194e3a8c32},
                         {~uint64_t{0}, 0}}) {
    auto m = parse_wal_metadata(wal_metadata(MemberId(id), cid));
    ASSERT_TRUE(m.is_ok()) << m.status().to_string();
    EXPECT_EQ(m->member_id, MemberId(id));
    EXPECT_EQ(m->cluster_id, cid);
    EXPECT_FALSE(m->legacy_json);
  }
  // Fields in the other order, and an unknown field (etcd's decoder skips
  // those too).
  auto m = parse_wal_metadata("\x10\x07\x08\x05\x18\x01"s);
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  EXPECT_EQ(m->member_id, MemberId(5));
  EXPECT_EQ(m->cluster_id, 7u);
}

TEST(WalMetadata, ReadsTheJsonFormOfEarlierBuilds) {
  // What earlier builds wrote (nlohmann's dump: keys sorted).
  auto m =
      parse_wal_metadata(R"({"cluster_id":14841639068965178418,"member_id":10276657743932975437})");
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  EXPECT_EQ(m->member_id, MemberId(10276657743932975437u));
  EXPECT_EQ(m->cluster_id, 14841639068965178418u);
  EXPECT_TRUE(m->legacy_json);
}

TEST(WalMetadata, AnythingElseIsDataLoss) {
  for (const std::string& bad : {
           ""s,                                         // empty record
           "meta"s,                                     // not a protobuf
           "\x08\x01"s,                                 // cluster id missing
           "\x10\x01"s,                                 // member id missing
           "\x08\x00\x10\x01"s,                         // member id 0
           "\x08\xff"s,                                 // truncated varint
           "\x08\x01\x10\xc1\x01\xff"s,                 // trailing garbage
           "{"s,                                        // broken JSON
           R"({"member_id":1})"s,                       // a field missing
           R"({"member_id":0,"cluster_id":1})"s,        // member id 0
           R"({"member_id":-1,"cluster_id":1})"s,       // not a uint64
           R"({"member_id":"1","cluster_id":1})"s,      // a string
           R"({"member_id":1,"cluster_id":1,"x":2})"s,  // not what we wrote
           "[1,2]"s,
       }) {
    auto m = parse_wal_metadata(bad);
    ASSERT_FALSE(m.is_ok()) << "accepted: " << bad;
    EXPECT_EQ(m.status().code(), Code::kDataLoss);
    EXPECT_EQ(m.status().message(), "WAL metadata is not readable");
  }
}

}  // namespace
}  // namespace etcd::server
