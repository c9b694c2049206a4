#include "rpc/peer/codec.h"

#include <gtest/gtest.h>

#include "base/encoding.h"

namespace etcd::rpc::peer {
namespace {

raftpb::Message app(uint64_t term, uint64_t index, uint64_t first, int entries, uint64_t commit) {
  raftpb::Message m;
  m.set_type(raftpb::MsgApp);
  m.set_from(2);
  m.set_to(1);
  m.set_term(term);
  m.set_log_term(term);
  m.set_index(index);
  m.set_commit(commit);
  for (int i = 0; i < entries; ++i) {
    auto* e = m.add_entries();
    e->set_term(term);
    e->set_index(first + i);
    e->set_data("data" + std::to_string(i));
  }
  return m;
}

std::string entry_bytes(const raftpb::Entry& e) { return e.SerializeAsString(); }

TEST(PeerCodecTest, MessageEncodingIsALengthThenTheMessage) {
  raftpb::Message m = app(3, 7, 8, 2, 6);
  std::string out;
  encode_message(m, &out);
  const std::string body = m.SerializeAsString();
  ASSERT_EQ(out.size(), 8 + body.size());
  EXPECT_EQ(get_u64_be(std::string_view(out).substr(0, 8)), body.size());
  EXPECT_EQ(out.substr(8), body);

  // Byte by byte: nothing is consumed until the whole message is there.
  std::string stream = out + out;
  std::string_view in(stream.data(), 1);
  for (size_t have = 1; have < out.size(); ++have) {
    in = std::string_view(stream.data(), have);
    auto r = decode_message(&in);
    ASSERT_TRUE(r.is_ok());
    ASSERT_FALSE(r->has_value()) << have;
    EXPECT_EQ(in.size(), have);
  }
  in = stream;
  for (int i = 0; i < 2; ++i) {
    auto r = decode_message(&in);
    ASSERT_TRUE(r.is_ok() && r->has_value());
    EXPECT_EQ((*r)->SerializeAsString(), body);
  }
  EXPECT_TRUE(in.empty());
}

TEST(PeerCodecTest, MessageOverTheLimitOrGarbageIsRefused) {
  std::string out;
  append_u64_be(&out, 100);
  std::string_view in = out;
  auto r = decode_message(&in, 99);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().message(), "rafthttp: error limit exceeded");
  std::string garbage;
  append_u64_be(&garbage, 3);
  garbage += "\xff\xff\xff";
  in = garbage;
  EXPECT_FALSE(decode_message(&in).is_ok());
}

TEST(PeerCodecTest, MsgAppV2HeartbeatFullAndShortForms) {
  MsgAppV2Encoder enc;
  std::string out;
  enc.encode(link_heartbeat(), &out);
  EXPECT_EQ(out, std::string(1, '\0'));  // one byte: type 0

  // The first MsgApp goes whole (type 2); it sets the known term/index.
  raftpb::Message first = app(5, 10, 11, 2, 10);
  out.clear();
  enc.encode(first, &out);
  ASSERT_EQ(out[0], '\x02');
  std::string whole;
  encode_message(first, &whole);
  EXPECT_EQ(out.substr(1), whole);

  // The next one continues at index 12 in term 5: the short form (type 1).
  raftpb::Message next = app(5, 12, 13, 2, 12);
  std::string short_form;
  enc.encode(next, &short_form);
  std::string want(1, '\x01');
  append_u64_be(&want, 2);
  for (const auto& e : next.entries()) {
    append_u64_be(&want, entry_bytes(e).size());
    want += entry_bytes(e);
  }
  append_u64_be(&want, 12);
  EXPECT_EQ(short_form, want);

  // A new term breaks the sequence: whole again.
  std::string again;
  enc.encode(app(6, 14, 15, 1, 14), &again);
  EXPECT_EQ(again[0], '\x02');

  // The decoder rebuilds every message, from/to of the short form from
  // the stream's two ends.
  MsgAppV2Decoder dec(/*local=*/1, /*remote=*/2);
  std::string stream = std::string(1, '\0') + out + short_form + again;
  std::string_view in = stream;
  auto hb = dec.decode(&in);
  ASSERT_TRUE(hb.is_ok() && hb->has_value());
  EXPECT_TRUE(is_link_heartbeat(**hb));
  auto m1 = dec.decode(&in);
  ASSERT_TRUE(m1.is_ok() && m1->has_value());
  EXPECT_EQ((*m1)->SerializeAsString(), first.SerializeAsString());
  // The short form, fed in two halves: nothing consumed from the first.
  std::string_view half = in.substr(0, short_form.size() / 2);
  auto none = dec.decode(&half);
  ASSERT_TRUE(none.is_ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(half.size(), short_form.size() / 2);
  auto m2 = dec.decode(&in);
  ASSERT_TRUE(m2.is_ok() && m2->has_value());
  EXPECT_EQ((*m2)->SerializeAsString(), next.SerializeAsString());
  auto m3 = dec.decode(&in);
  ASSERT_TRUE(m3.is_ok() && m3->has_value());
  EXPECT_EQ((*m3)->term(), 6u);
  EXPECT_TRUE(in.empty());
}

TEST(PeerCodecTest, MsgAppV2UnknownTypeIsRefused) {
  MsgAppV2Decoder dec(1, 2);
  std::string bad = "\x07";
  std::string_view in = bad;
  auto r = dec.decode(&in);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().message(), "failed to parse type 7 in msgappv2 stream");
}

}  // namespace
}  // namespace etcd::rpc::peer
