#include "raft/raftpb_encode.h"

#include <gtest/gtest.h>

#include <string>

namespace etcd::raft::gogo {
namespace {

// Hex of a byte string, "08 00 10 01".
std::string hex(const std::string& b) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : b) {
    if (!out.empty()) out += ' ';
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

template <typename M>
M parse(const std::string& b) {
  M m;
  EXPECT_TRUE(m.ParseFromString(b));
  return m;
}

// The expectations follow etcd's gogoproto marshalling: scalars always, in
// field order, unpacked repeated, nested messages always, bytes when set.

TEST(GogoEncodeTest, EntryWritesZeroScalarsAndDataOnlyWhenSet) {
  raftpb::Entry e;
  EXPECT_EQ(hex(encode(e)), "08 00 10 00 18 00");  // a new leader's empty entry
  e.set_type(raftpb::EntryConfChange);
  e.set_term(1);
  e.set_index(300);
  e.set_data("hi");
  EXPECT_EQ(hex(encode(e)), "08 01 10 01 18 ac 02 22 02 68 69");
  EXPECT_EQ(encoded_size(e), encode(e).size());
  std::string out = "x";
  append(&out, e);
  EXPECT_EQ(out, "x" + encode(e));
  EXPECT_EQ(parse<raftpb::Entry>(encode(e)).SerializeAsString(), e.SerializeAsString());
  raftpb::Entry big;
  big.set_term(UINT64_MAX);
  big.set_data(std::string(200, 'a'));
  EXPECT_EQ(encoded_size(big), encode(big).size());
  EXPECT_EQ(encode(big).size(), 2u + 11 + 2 + 3 + 200);
}

TEST(GogoEncodeTest, HardStateWritesAllThreeFields) {
  raftpb::HardState hs;
  EXPECT_EQ(hex(encode(hs)), "08 00 10 00 18 00");
  hs.set_term(2);
  hs.set_commit(124);
  EXPECT_EQ(hex(encode(hs)), "08 02 10 00 18 7c");
}

TEST(GogoEncodeTest, ConfStateIsUnpackedWithAutoLeaveAlwaysWritten) {
  raftpb::ConfState cs;
  EXPECT_EQ(hex(encode(cs)), "28 00");
  cs.add_voters(1);
  cs.add_voters(2);
  cs.add_learners(3);
  cs.add_voters_outgoing(4);
  cs.add_learners_next(5);
  cs.set_auto_leave(true);
  EXPECT_EQ(hex(encode(cs)), "08 01 08 02 10 03 18 04 20 05 28 01");
  EXPECT_EQ(parse<raftpb::ConfState>(encode(cs)).SerializeAsString(), cs.SerializeAsString());
}

TEST(GogoEncodeTest, SnapshotAlwaysHasMetadataAndConfState) {
  raftpb::Snapshot s;
  EXPECT_EQ(hex(encode(s)), "12 08 0a 02 28 00 10 00 18 00");
  s.mutable_metadata()->mutable_conf_state()->add_voters(1);
  s.mutable_metadata()->set_index(5);
  s.mutable_metadata()->set_term(2);
  EXPECT_EQ(hex(encode(s.metadata())), "0a 04 08 01 28 00 10 05 18 02");
  s.set_data("d");
  EXPECT_EQ(hex(encode(s)), "0a 01 64 12 0a 0a 04 08 01 28 00 10 05 18 02");
  EXPECT_EQ(parse<raftpb::Snapshot>(encode(s)).SerializeAsString(), s.SerializeAsString());
}

TEST(GogoEncodeTest, ConfChangeWritesIdTypeNodeAndContextWhenSet) {
  raftpb::ConfChange cc;
  cc.set_type(raftpb::ConfChangeRemoveNode);
  cc.set_node_id(5);
  EXPECT_EQ(hex(encode(cc)), "08 00 10 01 18 05");  // etcd's member remove: no context
  cc.set_type(raftpb::ConfChangeAddNode);
  cc.set_context("c");
  EXPECT_EQ(hex(encode(cc)), "08 00 10 00 18 05 22 01 63");
  EXPECT_EQ(parse<raftpb::ConfChange>(encode(cc)).SerializeAsString(), cc.SerializeAsString());
}

TEST(GogoEncodeTest, ConfChangeV2) {
  raftpb::ConfChangeV2 cc;
  EXPECT_EQ(hex(encode(cc)), "08 00");  // what raft writes to leave a joint config
  cc.set_transition(raftpb::ConfChangeTransitionJointImplicit);
  auto* c = cc.add_changes();
  c->set_type(raftpb::ConfChangeAddLearnerNode);
  c->set_node_id(2);
  cc.add_changes()->set_node_id(1);
  cc.set_context("x");
  EXPECT_EQ(hex(encode(cc)), "08 01 12 04 08 03 10 02 12 04 08 00 10 01 1a 01 78");
  EXPECT_EQ(parse<raftpb::ConfChangeV2>(encode(cc)).SerializeAsString(), cc.SerializeAsString());
}

}  // namespace
}  // namespace etcd::raft::gogo
