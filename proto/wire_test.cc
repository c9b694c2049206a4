// Wire-compatibility tests for the etcd v3 API protos.
//
// Every expected byte string is produced by the tiny hand-written protobuf encoder below, which
// knows nothing about the generated code. A wrong field number, wire type or scalar type in a
// .proto file therefore shows up as a byte mismatch. The gRPC part checks full method paths and
// streaming kinds through the descriptor pool and through the generated client stubs.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/client_interceptor.h>

#include "authpb/auth.pb.h"
#include "etcdserverpb/rpc.grpc.pb.h"
#include "etcdserverpb/rpc.pb.h"
#include "mvccpb/kv.pb.h"
#include "v3electionpb/v3election.grpc.pb.h"
#include "v3electionpb/v3election.pb.h"
#include "v3lockpb/v3lock.grpc.pb.h"
#include "v3lockpb/v3lock.pb.h"

namespace {

namespace pb = etcdserverpb;
using google::protobuf::util::MessageDifferencer;

// ---------------------------------------------------------------------------
// Hand-written reference encoder.
// ---------------------------------------------------------------------------

constexpr int kWireVarint = 0;
constexpr int kWireLen = 2;

// Base-128 varint, least significant group first.
std::string varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}

std::string tag(int field, int wire_type) {
  return varint((static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire_type));
}

// Length-delimited field: bytes, string or embedded message.
std::string len_delim(int field, std::string_view bytes) {
  return tag(field, kWireLen) + varint(bytes.size()) + std::string(bytes);
}

std::string uint_field(int field, uint64_t v) { return tag(field, kWireVarint) + varint(v); }

// int64/int32/enum: two's complement varint (no zig-zag), so negatives take 10 bytes.
std::string int_field(int field, int64_t v) { return uint_field(field, static_cast<uint64_t>(v)); }

std::string bool_field(int field) { return uint_field(field, 1); }

// Packed repeated varint field (proto3 default for repeated scalars and enums).
std::string packed_varints(int field, std::initializer_list<uint64_t> values) {
  std::string payload;
  for (uint64_t v : values) payload += varint(v);
  return len_delim(field, payload);
}

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    if (!out.empty()) out.push_back(' ');
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

// Checks that `msg` serializes to exactly `expected`, and that parsing `expected` yields a
// message equal to `msg`. Returns the parsed message for further field checks.
template <typename Msg>
Msg check_wire(const Msg& msg, const std::string& expected) {
  EXPECT_EQ(to_hex(msg.SerializeAsString()), to_hex(expected))
      << "message " << Msg::descriptor()->full_name();
  Msg parsed;
  EXPECT_TRUE(parsed.ParseFromString(expected)) << Msg::descriptor()->full_name();
  EXPECT_TRUE(MessageDifferencer::Equals(parsed, msg)) << parsed.DebugString();
  return parsed;
}

// Shared sample values. The cluster ID has its top bit set so it needs a 10-byte varint.
constexpr uint64_t kClusterId = 0xcdf818194e3a8c32ULL;
constexpr uint64_t kMemberId = 0x8e9e05c52164694dULL;
constexpr int64_t kLeaseId = 0x694d7a0b3c1e2f07LL;

void fill_header(pb::ResponseHeader* h) {
  h->set_cluster_id(kClusterId);
  h->set_member_id(kMemberId);
  h->set_revision(1234);
  h->set_raft_term(7);
}

std::string header_bytes() {
  return uint_field(1, kClusterId) + uint_field(2, kMemberId) + int_field(3, 1234) +
         uint_field(4, 7);
}

void fill_kv(mvccpb::KeyValue* kv, const std::string& key, const std::string& value) {
  kv->set_key(key);
  kv->set_create_revision(2);
  kv->set_mod_revision(9);
  kv->set_version(3);
  kv->set_value(value);
  kv->set_lease(kLeaseId);
}

std::string kv_bytes(const std::string& key, const std::string& value) {
  // proto3 omits an empty `value`, as it omits every zero-valued non-oneof scalar.
  return len_delim(1, key) + int_field(2, 2) + int_field(3, 9) + int_field(4, 3) +
         (value.empty() ? "" : len_delim(5, value)) + int_field(6, kLeaseId);
}

// ---------------------------------------------------------------------------
// Encoder self-check against literal bytes from the protobuf encoding spec.
// ---------------------------------------------------------------------------

TEST(HandEncoder, MatchesSpecExamples) {
  EXPECT_EQ(varint(0), std::string("\x00", 1));
  EXPECT_EQ(varint(1), "\x01");
  EXPECT_EQ(varint(150), "\x96\x01");
  EXPECT_EQ(varint(300), "\xac\x02");
  EXPECT_EQ(tag(1, kWireVarint), "\x08");
  EXPECT_EQ(tag(2, kWireLen), "\x12");
  EXPECT_EQ(tag(11, kWireLen), "\x5a");
  EXPECT_EQ(tag(64, kWireLen), "\x82\x04");
  EXPECT_EQ(int_field(1, 150), "\x08\x96\x01");
  EXPECT_EQ(len_delim(2, "testing"), "\x12\x07testing");
  EXPECT_EQ(int_field(1, -1), "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01");
  EXPECT_EQ(varint(UINT64_MAX).size(), 10u);
}

// ---------------------------------------------------------------------------
// mvccpb
// ---------------------------------------------------------------------------

TEST(MvccpbWire, KeyValueAllFields) {
  const std::string key("k\0\xff", 3);  // Keys are raw bytes, not UTF-8.
  mvccpb::KeyValue kv;
  fill_kv(&kv, key, "bar");
  mvccpb::KeyValue parsed = check_wire(kv, kv_bytes(key, "bar"));
  EXPECT_EQ(parsed.key(), key);
  EXPECT_EQ(parsed.value(), "bar");
  EXPECT_EQ(parsed.create_revision(), 2);
  EXPECT_EQ(parsed.mod_revision(), 9);
  EXPECT_EQ(parsed.version(), 3);
  EXPECT_EQ(parsed.lease(), kLeaseId);
}

TEST(MvccpbWire, Event) {
  mvccpb::Event ev;
  ev.set_type(mvccpb::Event::DELETE);
  fill_kv(ev.mutable_kv(), "foo", "");
  fill_kv(ev.mutable_prev_kv(), "foo", "old");
  const std::string expected =
      int_field(1, 1) + len_delim(2, kv_bytes("foo", "")) + len_delim(3, kv_bytes("foo", "old"));
  mvccpb::Event parsed = check_wire(ev, expected);
  EXPECT_EQ(parsed.type(), mvccpb::Event::DELETE);
  EXPECT_EQ(parsed.prev_kv().value(), "old");

  // PUT is the zero value and is not emitted in proto3.
  mvccpb::Event put;
  put.set_type(mvccpb::Event::PUT);
  fill_kv(put.mutable_kv(), "a", "b");
  check_wire(put, len_delim(2, kv_bytes("a", "b")));
}

// ---------------------------------------------------------------------------
// KV
// ---------------------------------------------------------------------------

TEST(KvWire, RangeRequestAllFields) {
  pb::RangeRequest r;
  r.set_key("a");
  r.set_range_end("b");
  r.set_limit(10);
  r.set_revision(42);
  r.set_sort_order(pb::RangeRequest::DESCEND);
  r.set_sort_target(pb::RangeRequest::MOD);
  r.set_serializable(true);
  r.set_keys_only(true);
  r.set_count_only(true);
  r.set_min_mod_revision(5);
  r.set_max_mod_revision(6);
  r.set_min_create_revision(7);
  r.set_max_create_revision(8);
  const std::string expected = len_delim(1, "a") + len_delim(2, "b") + int_field(3, 10) +
                               int_field(4, 42) + int_field(5, 2) + int_field(6, 3) +
                               bool_field(7) + bool_field(8) + bool_field(9) + int_field(10, 5) +
                               int_field(11, 6) + int_field(12, 7) + int_field(13, 8);
  pb::RangeRequest parsed = check_wire(r, expected);
  EXPECT_EQ(parsed.sort_order(), pb::RangeRequest::DESCEND);
  EXPECT_EQ(parsed.sort_target(), pb::RangeRequest::MOD);
  EXPECT_EQ(parsed.max_create_revision(), 8);
  EXPECT_TRUE(parsed.count_only());
}

TEST(KvWire, RangeResponse) {
  pb::RangeResponse r;
  fill_header(r.mutable_header());
  fill_kv(r.add_kvs(), "a", "1");
  fill_kv(r.add_kvs(), "b", "2");
  r.set_more(true);
  r.set_count(5);
  const std::string expected = len_delim(1, header_bytes()) + len_delim(2, kv_bytes("a", "1")) +
                               len_delim(2, kv_bytes("b", "2")) + bool_field(3) + int_field(4, 5);
  pb::RangeResponse parsed = check_wire(r, expected);
  ASSERT_EQ(parsed.kvs_size(), 2);
  EXPECT_EQ(parsed.kvs(1).key(), "b");
  EXPECT_EQ(parsed.header().cluster_id(), kClusterId);
}

TEST(KvWire, PutRequestAndResponse) {
  pb::PutRequest r;
  r.set_key("foo");
  r.set_value("bar");
  r.set_lease(kLeaseId);
  r.set_prev_kv(true);
  r.set_ignore_value(true);
  r.set_ignore_lease(true);
  const std::string expected = len_delim(1, "foo") + len_delim(2, "bar") + int_field(3, kLeaseId) +
                               bool_field(4) + bool_field(5) + bool_field(6);
  pb::PutRequest parsed = check_wire(r, expected);
  EXPECT_EQ(parsed.lease(), kLeaseId);
  EXPECT_TRUE(parsed.ignore_lease());

  pb::PutResponse resp;
  fill_header(resp.mutable_header());
  fill_kv(resp.mutable_prev_kv(), "foo", "old");
  check_wire(resp, len_delim(1, header_bytes()) + len_delim(2, kv_bytes("foo", "old")));
}

TEST(KvWire, DeleteRangeRequestAndResponse) {
  pb::DeleteRangeRequest r;
  r.set_key(std::string("\0", 1));
  r.set_range_end(std::string("\0", 1));
  r.set_prev_kv(true);
  pb::DeleteRangeRequest parsed = check_wire(
      r, len_delim(1, std::string("\0", 1)) + len_delim(2, std::string("\0", 1)) + bool_field(3));
  EXPECT_EQ(parsed.range_end().size(), 1u);

  pb::DeleteRangeResponse resp;
  fill_header(resp.mutable_header());
  resp.set_deleted(1);
  fill_kv(resp.add_prev_kvs(), "x", "y");
  check_wire(resp,
             len_delim(1, header_bytes()) + int_field(2, 1) + len_delim(3, kv_bytes("x", "y")));
}

TEST(KvWire, CompareEachTargetUnionAlternative) {
  // Common prefix: result, target, key; range_end (field 64) comes last.
  auto make = [](pb::Compare::CompareTarget target) {
    pb::Compare c;
    c.set_result(pb::Compare::NOT_EQUAL);
    c.set_target(target);
    c.set_key("key");
    c.set_range_end("kez");
    return c;
  };
  auto prefix = [](int target) {  // target VERSION (0) is the default and is not emitted.
    return int_field(1, 3) + (target == 0 ? "" : int_field(2, target)) + len_delim(3, "key");
  };
  const std::string suffix = len_delim(64, "kez");

  pb::Compare version = make(pb::Compare::VERSION);
  version.set_version(5);
  pb::Compare parsed = check_wire(version, prefix(0) + int_field(4, 5) + suffix);
  EXPECT_EQ(parsed.target_union_case(), pb::Compare::kVersion);
  EXPECT_EQ(parsed.range_end(), "kez");

  // Negative int64 inside the oneof: 10-byte varint, no zig-zag.
  pb::Compare create = make(pb::Compare::CREATE);
  create.set_create_revision(-1);
  parsed = check_wire(create, prefix(1) + int_field(5, -1) + suffix);
  EXPECT_EQ(parsed.target_union_case(), pb::Compare::kCreateRevision);
  EXPECT_EQ(parsed.create_revision(), -1);
  EXPECT_EQ(create.SerializeAsString().size(), prefix(1).size() + 11 + suffix.size());

  pb::Compare mod = make(pb::Compare::MOD);
  mod.set_mod_revision(100);
  parsed = check_wire(mod, prefix(2) + int_field(6, 100) + suffix);
  EXPECT_EQ(parsed.target_union_case(), pb::Compare::kModRevision);

  pb::Compare value = make(pb::Compare::VALUE);
  value.set_value("v");
  parsed = check_wire(value, prefix(3) + len_delim(7, "v") + suffix);
  EXPECT_EQ(parsed.target_union_case(), pb::Compare::kValue);
  EXPECT_EQ(parsed.value(), "v");

  pb::Compare lease = make(pb::Compare::LEASE);
  lease.set_lease(kLeaseId);
  parsed = check_wire(lease, prefix(4) + int_field(8, kLeaseId) + suffix);
  EXPECT_EQ(parsed.target_union_case(), pb::Compare::kLease);
  EXPECT_EQ(parsed.lease(), kLeaseId);

  // A oneof member set to its zero value is still emitted (it has presence).
  pb::Compare zero;
  zero.set_version(0);
  parsed = check_wire(zero, int_field(4, 0));
  EXPECT_EQ(parsed.target_union_case(), pb::Compare::kVersion);
  pb::Compare empty_value;
  empty_value.set_value("");
  check_wire(empty_value, len_delim(7, ""));
}

TEST(KvWire, TxnRequestWithNestedRequestOps) {
  pb::TxnRequest txn;
  pb::Compare* cmp = txn.add_compare();
  cmp->set_result(pb::Compare::GREATER);
  cmp->set_target(pb::Compare::MOD);
  cmp->set_key("k");
  cmp->set_mod_revision(3);

  pb::RangeRequest* range = txn.add_success()->mutable_request_range();
  range->set_key("k");
  range->set_limit(1);
  pb::PutRequest* put = txn.add_success()->mutable_request_put();
  put->set_key("k");
  put->set_value("v");
  pb::DeleteRangeRequest* del = txn.add_failure()->mutable_request_delete_range();
  del->set_key("k");
  del->set_prev_kv(true);
  pb::TxnRequest* inner = txn.add_failure()->mutable_request_txn();
  inner->add_success()->mutable_request_put()->set_key("n");

  const std::string cmp_bytes =
      int_field(1, 1) + int_field(2, 2) + len_delim(3, "k") + int_field(6, 3);
  const std::string range_op = len_delim(1, len_delim(1, "k") + int_field(3, 1));
  const std::string put_op = len_delim(2, len_delim(1, "k") + len_delim(2, "v"));
  const std::string del_op = len_delim(3, len_delim(1, "k") + bool_field(3));
  const std::string inner_txn = len_delim(2, len_delim(2, len_delim(1, "n")));
  const std::string txn_op = len_delim(4, inner_txn);
  const std::string expected = len_delim(1, cmp_bytes) + len_delim(2, range_op) +
                               len_delim(2, put_op) + len_delim(3, del_op) + len_delim(3, txn_op);
  pb::TxnRequest parsed = check_wire(txn, expected);
  ASSERT_EQ(parsed.success_size(), 2);
  ASSERT_EQ(parsed.failure_size(), 2);
  EXPECT_EQ(parsed.success(0).request_case(), pb::RequestOp::kRequestRange);
  EXPECT_EQ(parsed.success(1).request_case(), pb::RequestOp::kRequestPut);
  EXPECT_EQ(parsed.failure(0).request_case(), pb::RequestOp::kRequestDeleteRange);
  EXPECT_EQ(parsed.failure(1).request_case(), pb::RequestOp::kRequestTxn);
  EXPECT_EQ(parsed.failure(1).request_txn().success(0).request_put().key(), "n");
}

TEST(KvWire, TxnResponseWithResponseOps) {
  pb::TxnResponse resp;
  fill_header(resp.mutable_header());
  resp.set_succeeded(true);
  resp.add_responses()->mutable_response_range()->set_count(4);
  resp.add_responses()->mutable_response_put();
  resp.add_responses()->mutable_response_delete_range()->set_deleted(2);
  resp.add_responses()->mutable_response_txn()->set_succeeded(true);
  const std::string expected =
      len_delim(1, header_bytes()) + bool_field(2) + len_delim(3, len_delim(1, int_field(4, 4))) +
      len_delim(3, len_delim(2, "")) + len_delim(3, len_delim(3, int_field(2, 2))) +
      len_delim(3, len_delim(4, bool_field(2)));
  pb::TxnResponse parsed = check_wire(resp, expected);
  ASSERT_EQ(parsed.responses_size(), 4);
  EXPECT_EQ(parsed.responses(1).response_case(), pb::ResponseOp::kResponsePut);
  EXPECT_EQ(parsed.responses(3).response_case(), pb::ResponseOp::kResponseTxn);
}

TEST(KvWire, CompactionRequest) {
  pb::CompactionRequest r;
  r.set_revision(77);
  r.set_physical(true);
  check_wire(r, int_field(1, 77) + bool_field(2));
}

// ---------------------------------------------------------------------------
// Watch
// ---------------------------------------------------------------------------

TEST(WatchWire, CreateRequestWithPackedFilters) {
  pb::WatchRequest req;
  pb::WatchCreateRequest* c = req.mutable_create_request();
  c->set_key("a");
  c->set_range_end("z");
  c->set_start_revision(100);
  c->set_progress_notify(true);
  c->add_filters(pb::WatchCreateRequest::NOPUT);
  c->add_filters(pb::WatchCreateRequest::NODELETE);
  c->set_prev_kv(true);
  c->set_watch_id(7);
  c->set_fragment(true);
  const std::string create = len_delim(1, "a") + len_delim(2, "z") + int_field(3, 100) +
                             bool_field(4) + packed_varints(5, {0, 1}) + bool_field(6) +
                             int_field(7, 7) + bool_field(8);
  pb::WatchRequest parsed = check_wire(req, len_delim(1, create));
  ASSERT_EQ(parsed.request_union_case(), pb::WatchRequest::kCreateRequest);
  ASSERT_EQ(parsed.create_request().filters_size(), 2);
  EXPECT_EQ(parsed.create_request().filters(1), pb::WatchCreateRequest::NODELETE);
  EXPECT_EQ(parsed.create_request().watch_id(), 7);
  EXPECT_TRUE(parsed.create_request().fragment());

  // Parsers must also accept the unpacked form of the repeated enum.
  pb::WatchCreateRequest unpacked;
  ASSERT_TRUE(unpacked.ParseFromString(int_field(5, 1) + int_field(5, 0)));
  ASSERT_EQ(unpacked.filters_size(), 2);
  EXPECT_EQ(unpacked.filters(0), pb::WatchCreateRequest::NODELETE);
}

TEST(WatchWire, CancelAndProgressRequests) {
  pb::WatchRequest cancel;
  cancel.mutable_cancel_request()->set_watch_id(9);
  pb::WatchRequest parsed = check_wire(cancel, len_delim(2, int_field(1, 9)));
  EXPECT_EQ(parsed.request_union_case(), pb::WatchRequest::kCancelRequest);

  pb::WatchRequest progress;
  progress.mutable_progress_request();
  parsed = check_wire(progress, len_delim(3, ""));
  EXPECT_EQ(parsed.request_union_case(), pb::WatchRequest::kProgressRequest);
}

TEST(WatchWire, ResponseWithEventsField11) {
  pb::WatchResponse resp;
  fill_header(resp.mutable_header());
  resp.set_watch_id(3);
  resp.set_created(true);
  resp.set_canceled(true);
  resp.set_compact_revision(50);
  resp.set_cancel_reason("compacted");
  resp.set_fragment(true);
  mvccpb::Event* put = resp.add_events();
  fill_kv(put->mutable_kv(), "a", "1");
  mvccpb::Event* del = resp.add_events();
  del->set_type(mvccpb::Event::DELETE);
  fill_kv(del->mutable_kv(), "b", "");
  const std::string expected = len_delim(1, header_bytes()) + int_field(2, 3) + bool_field(3) +
                               bool_field(4) + int_field(5, 50) + len_delim(6, "compacted") +
                               bool_field(7) + len_delim(11, len_delim(2, kv_bytes("a", "1"))) +
                               len_delim(11, int_field(1, 1) + len_delim(2, kv_bytes("b", "")));
  pb::WatchResponse parsed = check_wire(resp, expected);
  ASSERT_EQ(parsed.events_size(), 2);
  EXPECT_EQ(parsed.events(1).type(), mvccpb::Event::DELETE);
  EXPECT_EQ(parsed.cancel_reason(), "compacted");
}

// ---------------------------------------------------------------------------
// Lease
// ---------------------------------------------------------------------------

TEST(LeaseWire, GrantRequestAndResponse) {
  pb::LeaseGrantRequest r;
  r.set_ttl(60);
  r.set_id(kLeaseId);
  pb::LeaseGrantRequest parsed = check_wire(r, int_field(1, 60) + int_field(2, kLeaseId));
  EXPECT_EQ(parsed.ttl(), 60);
  EXPECT_EQ(parsed.id(), kLeaseId);

  pb::LeaseGrantResponse resp;
  fill_header(resp.mutable_header());
  resp.set_id(kLeaseId);
  resp.set_ttl(60);
  resp.set_error("x");
  check_wire(resp, len_delim(1, header_bytes()) + int_field(2, kLeaseId) + int_field(3, 60) +
                       len_delim(4, "x"));
}

TEST(LeaseWire, KeepAliveAndRevoke) {
  pb::LeaseKeepAliveRequest ka;
  ka.set_id(kLeaseId);
  check_wire(ka, int_field(1, kLeaseId));

  pb::LeaseKeepAliveResponse kar;
  fill_header(kar.mutable_header());
  kar.set_id(kLeaseId);
  kar.set_ttl(-1);  // Negative TTL: plain 10-byte varint.
  check_wire(kar, len_delim(1, header_bytes()) + int_field(2, kLeaseId) + int_field(3, -1));

  pb::LeaseRevokeRequest rv;
  rv.set_id(kLeaseId);
  check_wire(rv, int_field(1, kLeaseId));
}

TEST(LeaseWire, TimeToLiveResponse) {
  pb::LeaseTimeToLiveRequest req;
  req.set_id(kLeaseId);
  req.set_keys(true);
  check_wire(req, int_field(1, kLeaseId) + bool_field(2));

  pb::LeaseTimeToLiveResponse resp;
  fill_header(resp.mutable_header());
  resp.set_id(kLeaseId);
  resp.set_ttl(30);
  resp.set_grantedttl(60);
  resp.add_keys("k1");
  resp.add_keys(std::string("k\0", 2));
  const std::string expected = len_delim(1, header_bytes()) + int_field(2, kLeaseId) +
                               int_field(3, 30) + int_field(4, 60) + len_delim(5, "k1") +
                               len_delim(5, std::string("k\0", 2));
  pb::LeaseTimeToLiveResponse parsed = check_wire(resp, expected);
  EXPECT_EQ(parsed.grantedttl(), 60);
  ASSERT_EQ(parsed.keys_size(), 2);
  EXPECT_EQ(parsed.keys(1), std::string("k\0", 2));
}

TEST(LeaseWire, LeasesAndCheckpoint) {
  pb::LeaseLeasesResponse resp;
  fill_header(resp.mutable_header());
  resp.add_leases()->set_id(1);
  resp.add_leases()->set_id(2);
  check_wire(resp, len_delim(1, header_bytes()) + len_delim(2, int_field(1, 1)) +
                       len_delim(2, int_field(1, 2)));

  pb::LeaseCheckpointRequest cp;
  pb::LeaseCheckpoint* c = cp.add_checkpoints();
  c->set_id(kLeaseId);
  c->set_remaining_ttl(15);
  check_wire(cp, len_delim(1, int_field(1, kLeaseId) + int_field(2, 15)));
}

// ---------------------------------------------------------------------------
// Cluster
// ---------------------------------------------------------------------------

TEST(ClusterWire, Member) {
  pb::Member m;
  m.set_id(kMemberId);
  m.set_name("infra1");
  m.add_peerurls("http://10.0.0.1:2380");
  m.add_peerurls("http://10.0.0.2:2380");
  m.add_clienturls("http://10.0.0.1:2379");
  m.set_islearner(true);
  const std::string expected =
      uint_field(1, kMemberId) + len_delim(2, "infra1") + len_delim(3, "http://10.0.0.1:2380") +
      len_delim(3, "http://10.0.0.2:2380") + len_delim(4, "http://10.0.0.1:2379") + bool_field(5);
  pb::Member parsed = check_wire(m, expected);
  EXPECT_EQ(parsed.id(), kMemberId);
  ASSERT_EQ(parsed.peerurls_size(), 2);
  EXPECT_EQ(parsed.clienturls(0), "http://10.0.0.1:2379");
  EXPECT_TRUE(parsed.islearner());
}

TEST(ClusterWire, MemberRequests) {
  pb::MemberListRequest list;
  list.set_linearizable(true);
  pb::MemberListRequest parsed_list = check_wire(list, "\x08\x01");
  EXPECT_TRUE(parsed_list.linearizable());

  pb::MemberAddRequest add;
  add.add_peerurls("http://a:2380");
  add.set_islearner(true);
  check_wire(add, len_delim(1, "http://a:2380") + bool_field(2));

  pb::MemberUpdateRequest update;
  update.set_id(5);
  update.add_peerurls("http://b:2380");
  check_wire(update, uint_field(1, 5) + len_delim(2, "http://b:2380"));

  pb::MemberPromoteRequest promote;
  promote.set_id(kMemberId);
  check_wire(promote, uint_field(1, kMemberId));

  pb::MemberAddResponse add_resp;
  fill_header(add_resp.mutable_header());
  add_resp.mutable_member()->set_id(5);
  add_resp.add_members()->set_name("n");
  check_wire(add_resp, len_delim(1, header_bytes()) + len_delim(2, uint_field(1, 5)) +
                           len_delim(3, len_delim(2, "n")));
}

// ---------------------------------------------------------------------------
// Maintenance
// ---------------------------------------------------------------------------

TEST(MaintenanceWire, StatusResponseAllFields) {
  pb::StatusResponse s;
  fill_header(s.mutable_header());
  s.set_version("3.5.0");
  s.set_dbsize(24576);
  s.set_leader(kMemberId);
  s.set_raftindex(100);
  s.set_raftterm(4);
  s.set_raftappliedindex(99);
  s.add_errors("alarm:NOSPACE");
  s.add_errors("other");
  s.set_dbsizeinuse(16384);
  s.set_islearner(true);
  const std::string expected =
      len_delim(1, header_bytes()) + len_delim(2, "3.5.0") + int_field(3, 24576) +
      uint_field(4, kMemberId) + uint_field(5, 100) + uint_field(6, 4) + uint_field(7, 99) +
      len_delim(8, "alarm:NOSPACE") + len_delim(8, "other") + int_field(9, 16384) + bool_field(10);
  pb::StatusResponse parsed = check_wire(s, expected);
  EXPECT_EQ(parsed.dbsizeinuse(), 16384);
  EXPECT_EQ(parsed.raftappliedindex(), 99u);
  EXPECT_EQ(parsed.leader(), kMemberId);
  ASSERT_EQ(parsed.errors_size(), 2);
}

TEST(MaintenanceWire, AlarmRequestAndResponse) {
  pb::AlarmRequest r;
  r.set_action(pb::AlarmRequest::ACTIVATE);
  r.set_memberid(kMemberId);
  r.set_alarm(pb::NOSPACE);
  pb::AlarmRequest parsed =
      check_wire(r, int_field(1, 1) + uint_field(2, kMemberId) + int_field(3, 1));
  EXPECT_EQ(parsed.action(), pb::AlarmRequest::ACTIVATE);
  EXPECT_EQ(parsed.alarm(), pb::NOSPACE);

  pb::AlarmResponse resp;
  fill_header(resp.mutable_header());
  pb::AlarmMember* m = resp.add_alarms();
  m->set_memberid(kMemberId);
  m->set_alarm(pb::CORRUPT);
  check_wire(resp, len_delim(1, header_bytes()) +
                       len_delim(2, uint_field(1, kMemberId) + int_field(2, 2)));
}

TEST(MaintenanceWire, HashKVResponse) {
  pb::HashKVRequest req;
  req.set_revision(10);
  check_wire(req, int_field(1, 10));

  pb::HashKVResponse r;
  fill_header(r.mutable_header());
  r.set_hash(0xdeadbeefu);  // uint32 is a varint, not fixed32.
  r.set_compact_revision(5);
  r.set_hash_revision(10);
  pb::HashKVResponse parsed =
      check_wire(r, len_delim(1, header_bytes()) + uint_field(2, 0xdeadbeefu) + int_field(3, 5) +
                        int_field(4, 10));
  EXPECT_EQ(parsed.hash(), 0xdeadbeefu);
  EXPECT_EQ(parsed.hash_revision(), 10);

  pb::HashResponse h;
  h.set_hash(1);
  check_wire(h, uint_field(2, 1));
}

TEST(MaintenanceWire, SnapshotMoveLeaderDefragment) {
  pb::SnapshotResponse snap;
  fill_header(snap.mutable_header());
  snap.set_remaining_bytes(4096);
  snap.set_blob(std::string("\x00\x01\x02", 3));
  check_wire(snap, len_delim(1, header_bytes()) + uint_field(2, 4096) +
                       len_delim(3, std::string("\x00\x01\x02", 3)));

  pb::MoveLeaderRequest move;
  move.set_targetid(kMemberId);
  check_wire(move, uint_field(1, kMemberId));

  pb::DefragmentResponse defrag;
  fill_header(defrag.mutable_header());
  check_wire(defrag, len_delim(1, header_bytes()));
}

TEST(MaintenanceWire, Downgrade) {
  pb::DowngradeRequest r;
  r.set_action(pb::DowngradeRequest::CANCEL);
  r.set_version("3.4.0");
  pb::DowngradeRequest parsed = check_wire(r, int_field(1, 2) + len_delim(2, "3.4.0"));
  EXPECT_EQ(parsed.action(), pb::DowngradeRequest::CANCEL);
  EXPECT_EQ(parsed.version(), "3.4.0");

  pb::DowngradeResponse resp;
  fill_header(resp.mutable_header());
  resp.set_version("3.5.0");
  check_wire(resp, len_delim(1, header_bytes()) + len_delim(2, "3.5.0"));
}

// ---------------------------------------------------------------------------
// Auth
// ---------------------------------------------------------------------------

TEST(AuthWire, RoleGrantPermissionRequest) {
  pb::AuthRoleGrantPermissionRequest r;
  r.set_name("reader");
  authpb::Permission* p = r.mutable_perm();
  p->set_permtype(authpb::Permission::READWRITE);
  p->set_key("foo");
  p->set_range_end("fop");
  const std::string perm = int_field(1, 2) + len_delim(2, "foo") + len_delim(3, "fop");
  pb::AuthRoleGrantPermissionRequest parsed =
      check_wire(r, len_delim(1, "reader") + len_delim(2, perm));
  EXPECT_EQ(parsed.perm().permtype(), authpb::Permission::READWRITE);
  EXPECT_EQ(parsed.perm().range_end(), "fop");

  pb::AuthRoleRevokePermissionRequest revoke;
  revoke.set_role("reader");
  revoke.set_key("foo");
  revoke.set_range_end("fop");
  check_wire(revoke, len_delim(1, "reader") + len_delim(2, "foo") + len_delim(3, "fop"));

  pb::AuthRoleGetResponse get;
  fill_header(get.mutable_header());
  get.add_perm()->set_permtype(authpb::Permission::WRITE);
  check_wire(get, len_delim(1, header_bytes()) + len_delim(2, int_field(1, 1)));
}

TEST(AuthWire, AuthpbUserAndRole) {
  authpb::User u;
  u.set_name("alice");
  u.set_password("$2a$10$hash");
  u.add_roles("root");
  u.add_roles("reader");
  u.mutable_options()->set_no_password(true);
  const std::string expected = len_delim(1, "alice") + len_delim(2, "$2a$10$hash") +
                               len_delim(3, "root") + len_delim(3, "reader") +
                               len_delim(4, bool_field(1));
  authpb::User parsed = check_wire(u, expected);
  EXPECT_TRUE(parsed.options().no_password());
  ASSERT_EQ(parsed.roles_size(), 2);

  authpb::Role role;
  role.set_name("reader");
  authpb::Permission* p = role.add_keypermission();
  p->set_permtype(authpb::Permission::READ);
  p->set_key("a");
  check_wire(role, len_delim(1, "reader") + len_delim(2, len_delim(2, "a")));
}

TEST(AuthWire, UserRequests) {
  pb::AuthUserAddRequest add;
  add.set_name("alice");
  add.set_password("pw");
  add.mutable_options()->set_no_password(true);
  add.set_hashedpassword("$2a$hash");
  pb::AuthUserAddRequest parsed =
      check_wire(add, len_delim(1, "alice") + len_delim(2, "pw") + len_delim(3, bool_field(1)) +
                          len_delim(4, "$2a$hash"));
  EXPECT_EQ(parsed.hashedpassword(), "$2a$hash");

  pb::AuthUserChangePasswordRequest change;
  change.set_name("alice");
  change.set_password("pw2");
  change.set_hashedpassword("$2a$h2");
  check_wire(change, len_delim(1, "alice") + len_delim(2, "pw2") + len_delim(3, "$2a$h2"));

  pb::AuthUserGrantRoleRequest grant;
  grant.set_user("alice");
  grant.set_role("root");
  check_wire(grant, len_delim(1, "alice") + len_delim(2, "root"));

  pb::AuthenticateResponse auth;
  fill_header(auth.mutable_header());
  auth.set_token("tok.42");
  check_wire(auth, len_delim(1, header_bytes()) + len_delim(2, "tok.42"));
}

TEST(AuthWire, AuthStatusResponse) {
  pb::AuthStatusResponse r;
  fill_header(r.mutable_header());
  r.set_enabled(true);
  r.set_authrevision(17);
  pb::AuthStatusResponse parsed =
      check_wire(r, len_delim(1, header_bytes()) + bool_field(2) + uint_field(3, 17));
  EXPECT_TRUE(parsed.enabled());
  EXPECT_EQ(parsed.authrevision(), 17u);
  EXPECT_EQ(pb::AuthStatusRequest().SerializeAsString(), "");
}

// ---------------------------------------------------------------------------
// Lock and Election
// ---------------------------------------------------------------------------

TEST(LockWire, LockRequestAndResponse) {
  v3lockpb::LockRequest r;
  r.set_name("mylock");
  r.set_lease(kLeaseId);
  v3lockpb::LockRequest parsed = check_wire(r, len_delim(1, "mylock") + int_field(2, kLeaseId));
  EXPECT_EQ(parsed.lease(), kLeaseId);

  v3lockpb::LockResponse resp;
  fill_header(resp.mutable_header());
  resp.set_key("mylock/694d");
  check_wire(resp, len_delim(1, header_bytes()) + len_delim(2, "mylock/694d"));

  v3lockpb::UnlockRequest unlock;
  unlock.set_key("mylock/694d");
  check_wire(unlock, len_delim(1, "mylock/694d"));
}

TEST(ElectionWire, LeaderKeyAndFriends) {
  v3electionpb::LeaderKey k;
  k.set_name("e");
  k.set_key("e/694d");
  k.set_rev(12);
  k.set_lease(kLeaseId);
  const std::string key_bytes =
      len_delim(1, "e") + len_delim(2, "e/694d") + int_field(3, 12) + int_field(4, kLeaseId);
  v3electionpb::LeaderKey parsed = check_wire(k, key_bytes);
  EXPECT_EQ(parsed.rev(), 12);

  v3electionpb::CampaignRequest campaign;
  campaign.set_name("e");
  campaign.set_lease(kLeaseId);
  campaign.set_value("v");
  check_wire(campaign, len_delim(1, "e") + int_field(2, kLeaseId) + len_delim(3, "v"));

  v3electionpb::CampaignResponse campaign_resp;
  fill_header(campaign_resp.mutable_header());
  *campaign_resp.mutable_leader() = k;
  check_wire(campaign_resp, len_delim(1, header_bytes()) + len_delim(2, key_bytes));

  v3electionpb::ProclaimRequest proclaim;
  *proclaim.mutable_leader() = k;
  proclaim.set_value("v2");
  check_wire(proclaim, len_delim(1, key_bytes) + len_delim(2, "v2"));

  v3electionpb::LeaderResponse leader;
  fill_header(leader.mutable_header());
  fill_kv(leader.mutable_kv(), "e/694d", "v");
  check_wire(leader, len_delim(1, header_bytes()) + len_delim(2, kv_bytes("e/694d", "v")));
}

// ---------------------------------------------------------------------------
// Enum values
// ---------------------------------------------------------------------------

TEST(EnumValues, MatchEtcd) {
  EXPECT_EQ(mvccpb::Event::PUT, 0);
  EXPECT_EQ(mvccpb::Event::DELETE, 1);
  EXPECT_EQ(authpb::Permission::READ, 0);
  EXPECT_EQ(authpb::Permission::WRITE, 1);
  EXPECT_EQ(authpb::Permission::READWRITE, 2);
  EXPECT_EQ(pb::RangeRequest::NONE, 0);
  EXPECT_EQ(pb::RangeRequest::ASCEND, 1);
  EXPECT_EQ(pb::RangeRequest::DESCEND, 2);
  EXPECT_EQ(pb::RangeRequest::KEY, 0);
  EXPECT_EQ(pb::RangeRequest::VERSION, 1);
  EXPECT_EQ(pb::RangeRequest::CREATE, 2);
  EXPECT_EQ(pb::RangeRequest::MOD, 3);
  EXPECT_EQ(pb::RangeRequest::VALUE, 4);
  EXPECT_EQ(pb::Compare::EQUAL, 0);
  EXPECT_EQ(pb::Compare::GREATER, 1);
  EXPECT_EQ(pb::Compare::LESS, 2);
  EXPECT_EQ(pb::Compare::NOT_EQUAL, 3);
  EXPECT_EQ(pb::Compare::VERSION, 0);
  EXPECT_EQ(pb::Compare::CREATE, 1);
  EXPECT_EQ(pb::Compare::MOD, 2);
  EXPECT_EQ(pb::Compare::VALUE, 3);
  EXPECT_EQ(pb::Compare::LEASE, 4);
  EXPECT_EQ(pb::WatchCreateRequest::NOPUT, 0);
  EXPECT_EQ(pb::WatchCreateRequest::NODELETE, 1);
  EXPECT_EQ(pb::NONE, 0);
  EXPECT_EQ(pb::NOSPACE, 1);
  EXPECT_EQ(pb::CORRUPT, 2);
  EXPECT_EQ(pb::AlarmRequest::GET, 0);
  EXPECT_EQ(pb::AlarmRequest::ACTIVATE, 1);
  EXPECT_EQ(pb::AlarmRequest::DEACTIVATE, 2);
  EXPECT_EQ(pb::DowngradeRequest::VALIDATE, 0);
  EXPECT_EQ(pb::DowngradeRequest::ENABLE, 1);
  EXPECT_EQ(pb::DowngradeRequest::CANCEL, 2);
}

// ---------------------------------------------------------------------------
// gRPC services, via descriptors
// ---------------------------------------------------------------------------

enum class Streaming { kUnary, kServerStream, kBidiStream };

struct MethodSpec {
  const char* path;    // "/package.Service/Method"
  const char* input;   // Request message, relative to the service's package.
  const char* output;  // Response message, relative to the service's package.
  Streaming streaming;
};

const std::vector<MethodSpec>& all_methods() {
  using enum Streaming;
  static const std::vector<MethodSpec> kMethods = {
      {"/etcdserverpb.KV/Range", "RangeRequest", "RangeResponse", kUnary},
      {"/etcdserverpb.KV/Put", "PutRequest", "PutResponse", kUnary},
      {"/etcdserverpb.KV/DeleteRange", "DeleteRangeRequest", "DeleteRangeResponse", kUnary},
      {"/etcdserverpb.KV/Txn", "TxnRequest", "TxnResponse", kUnary},
      {"/etcdserverpb.KV/Compact", "CompactionRequest", "CompactionResponse", kUnary},

      {"/etcdserverpb.Watch/Watch", "WatchRequest", "WatchResponse", kBidiStream},

      {"/etcdserverpb.Lease/LeaseGrant", "LeaseGrantRequest", "LeaseGrantResponse", kUnary},
      {"/etcdserverpb.Lease/LeaseRevoke", "LeaseRevokeRequest", "LeaseRevokeResponse", kUnary},
      {"/etcdserverpb.Lease/LeaseKeepAlive", "LeaseKeepAliveRequest", "LeaseKeepAliveResponse",
       kBidiStream},
      {"/etcdserverpb.Lease/LeaseTimeToLive", "LeaseTimeToLiveRequest", "LeaseTimeToLiveResponse",
       kUnary},
      {"/etcdserverpb.Lease/LeaseLeases", "LeaseLeasesRequest", "LeaseLeasesResponse", kUnary},

      {"/etcdserverpb.Cluster/MemberAdd", "MemberAddRequest", "MemberAddResponse", kUnary},
      {"/etcdserverpb.Cluster/MemberRemove", "MemberRemoveRequest", "MemberRemoveResponse", kUnary},
      {"/etcdserverpb.Cluster/MemberUpdate", "MemberUpdateRequest", "MemberUpdateResponse", kUnary},
      {"/etcdserverpb.Cluster/MemberList", "MemberListRequest", "MemberListResponse", kUnary},
      {"/etcdserverpb.Cluster/MemberPromote", "MemberPromoteRequest", "MemberPromoteResponse",
       kUnary},

      {"/etcdserverpb.Maintenance/Alarm", "AlarmRequest", "AlarmResponse", kUnary},
      {"/etcdserverpb.Maintenance/Status", "StatusRequest", "StatusResponse", kUnary},
      {"/etcdserverpb.Maintenance/Defragment", "DefragmentRequest", "DefragmentResponse", kUnary},
      {"/etcdserverpb.Maintenance/Hash", "HashRequest", "HashResponse", kUnary},
      {"/etcdserverpb.Maintenance/HashKV", "HashKVRequest", "HashKVResponse", kUnary},
      {"/etcdserverpb.Maintenance/Snapshot", "SnapshotRequest", "SnapshotResponse", kServerStream},
      {"/etcdserverpb.Maintenance/MoveLeader", "MoveLeaderRequest", "MoveLeaderResponse", kUnary},
      {"/etcdserverpb.Maintenance/Downgrade", "DowngradeRequest", "DowngradeResponse", kUnary},

      {"/etcdserverpb.Auth/AuthEnable", "AuthEnableRequest", "AuthEnableResponse", kUnary},
      {"/etcdserverpb.Auth/AuthDisable", "AuthDisableRequest", "AuthDisableResponse", kUnary},
      {"/etcdserverpb.Auth/AuthStatus", "AuthStatusRequest", "AuthStatusResponse", kUnary},
      {"/etcdserverpb.Auth/Authenticate", "AuthenticateRequest", "AuthenticateResponse", kUnary},
      {"/etcdserverpb.Auth/UserAdd", "AuthUserAddRequest", "AuthUserAddResponse", kUnary},
      {"/etcdserverpb.Auth/UserGet", "AuthUserGetRequest", "AuthUserGetResponse", kUnary},
      {"/etcdserverpb.Auth/UserList", "AuthUserListRequest", "AuthUserListResponse", kUnary},
      {"/etcdserverpb.Auth/UserDelete", "AuthUserDeleteRequest", "AuthUserDeleteResponse", kUnary},
      {"/etcdserverpb.Auth/UserChangePassword", "AuthUserChangePasswordRequest",
       "AuthUserChangePasswordResponse", kUnary},
      {"/etcdserverpb.Auth/UserGrantRole", "AuthUserGrantRoleRequest", "AuthUserGrantRoleResponse",
       kUnary},
      {"/etcdserverpb.Auth/UserRevokeRole", "AuthUserRevokeRoleRequest",
       "AuthUserRevokeRoleResponse", kUnary},
      {"/etcdserverpb.Auth/RoleAdd", "AuthRoleAddRequest", "AuthRoleAddResponse", kUnary},
      {"/etcdserverpb.Auth/RoleGet", "AuthRoleGetRequest", "AuthRoleGetResponse", kUnary},
      {"/etcdserverpb.Auth/RoleList", "AuthRoleListRequest", "AuthRoleListResponse", kUnary},
      {"/etcdserverpb.Auth/RoleDelete", "AuthRoleDeleteRequest", "AuthRoleDeleteResponse", kUnary},
      {"/etcdserverpb.Auth/RoleGrantPermission", "AuthRoleGrantPermissionRequest",
       "AuthRoleGrantPermissionResponse", kUnary},
      {"/etcdserverpb.Auth/RoleRevokePermission", "AuthRoleRevokePermissionRequest",
       "AuthRoleRevokePermissionResponse", kUnary},

      {"/v3lockpb.Lock/Lock", "LockRequest", "LockResponse", kUnary},
      {"/v3lockpb.Lock/Unlock", "UnlockRequest", "UnlockResponse", kUnary},

      {"/v3electionpb.Election/Campaign", "CampaignRequest", "CampaignResponse", kUnary},
      {"/v3electionpb.Election/Proclaim", "ProclaimRequest", "ProclaimResponse", kUnary},
      {"/v3electionpb.Election/Leader", "LeaderRequest", "LeaderResponse", kUnary},
      {"/v3electionpb.Election/Observe", "LeaderRequest", "LeaderResponse", kServerStream},
      {"/v3electionpb.Election/Resign", "ResignRequest", "ResignResponse", kUnary},
  };
  return kMethods;
}

// Splits "/pkg.Service/Method" into {"pkg.Service", "Method"}.
std::pair<std::string, std::string> split_path(const std::string& path) {
  const size_t slash = path.rfind('/');
  return {path.substr(1, slash - 1), path.substr(slash + 1)};
}

TEST(GrpcServices, EveryMethodPathAndShape) {
  const google::protobuf::DescriptorPool* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const MethodSpec& spec : all_methods()) {
    SCOPED_TRACE(spec.path);
    const auto [service_name, method_name] = split_path(spec.path);
    const google::protobuf::ServiceDescriptor* service = pool->FindServiceByName(service_name);
    ASSERT_NE(service, nullptr);
    const google::protobuf::MethodDescriptor* method = service->FindMethodByName(method_name);
    ASSERT_NE(method, nullptr);
    EXPECT_EQ("/" + service->full_name() + "/" + method->name(), spec.path);
    EXPECT_EQ(method->full_name(), service_name + "." + method_name);
    const std::string package = service_name.substr(0, service_name.rfind('.'));
    EXPECT_EQ(method->input_type()->full_name(), package + "." + spec.input);
    EXPECT_EQ(method->output_type()->full_name(), package + "." + spec.output);
    EXPECT_EQ(method->client_streaming(), spec.streaming == Streaming::kBidiStream);
    EXPECT_EQ(method->server_streaming(), spec.streaming != Streaming::kUnary);
  }
}

TEST(GrpcServices, NoUnexpectedMethods) {
  const google::protobuf::DescriptorPool* pool = google::protobuf::DescriptorPool::generated_pool();
  std::set<std::string> expected_paths;
  for (const MethodSpec& spec : all_methods()) expected_paths.insert(spec.path);

  const std::vector<std::pair<std::string, int>> services = {
      {"etcdserverpb.KV", 5},      {"etcdserverpb.Watch", 1},       {"etcdserverpb.Lease", 5},
      {"etcdserverpb.Cluster", 5}, {"etcdserverpb.Maintenance", 8}, {"etcdserverpb.Auth", 17},
      {"v3lockpb.Lock", 2},        {"v3electionpb.Election", 5},
  };
  size_t total = 0;
  for (const auto& [name, count] : services) {
    SCOPED_TRACE(name);
    const google::protobuf::ServiceDescriptor* service = pool->FindServiceByName(name);
    ASSERT_NE(service, nullptr);
    EXPECT_EQ(service->method_count(), count);
    for (int i = 0; i < service->method_count(); ++i) {
      const std::string path = "/" + service->full_name() + "/" + service->method(i)->name();
      EXPECT_EQ(expected_paths.count(path), 1u) << path;
    }
    total += static_cast<size_t>(service->method_count());
  }
  EXPECT_EQ(total, all_methods().size());
}

TEST(GrpcServices, ProtoFileNamesAndPackages) {
  const google::protobuf::DescriptorPool* pool = google::protobuf::DescriptorPool::generated_pool();
  const std::vector<std::pair<std::string, std::string>> files = {
      {"mvccpb/kv.proto", "mvccpb"},
      {"authpb/auth.proto", "authpb"},
      {"etcdserverpb/rpc.proto", "etcdserverpb"},
      {"v3lockpb/v3lock.proto", "v3lockpb"},
      {"v3electionpb/v3election.proto", "v3electionpb"},
  };
  for (const auto& [file, package] : files) {
    const google::protobuf::FileDescriptor* fd = pool->FindFileByName(file);
    ASSERT_NE(fd, nullptr) << file;
    EXPECT_EQ(fd->package(), package);
    EXPECT_EQ(fd->syntax(), google::protobuf::FileDescriptor::SYNTAX_PROTO3);
  }
}

// ---------------------------------------------------------------------------
// gRPC services, via the generated client stubs
// ---------------------------------------------------------------------------

// Records the method path of every call created on a channel.
class RecordingInterceptorFactory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit RecordingInterceptorFactory(std::vector<std::string>* paths) : paths_(paths) {}

  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    paths_->push_back(info->method());
    return nullptr;  // Observe only.
  }

 private:
  std::vector<std::string>* paths_;
};

void set_deadline(grpc::ClientContext* ctx) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
}

TEST(GrpcStubs, UseEtcdMethodPaths) {
  std::vector<std::string> paths;
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> factories;
  factories.push_back(std::make_unique<RecordingInterceptorFactory>(&paths));
  // Nothing listens there: every call fails fast, after its path has been recorded.
  std::shared_ptr<grpc::Channel> channel = grpc::experimental::CreateCustomChannelWithInterceptors(
      "unix:/nonexistent-dir/etcd-proto-wire-test.sock", grpc::InsecureChannelCredentials(),
      grpc::ChannelArguments(), std::move(factories));

  {
    grpc::ClientContext ctx;
    set_deadline(&ctx);
    pb::RangeResponse resp;
    EXPECT_FALSE(pb::KV::NewStub(channel)->Range(&ctx, pb::RangeRequest(), &resp).ok());
  }
  {
    grpc::ClientContext ctx;
    set_deadline(&ctx);
    auto stream = pb::Watch::NewStub(channel)->Watch(&ctx);
    stream->WritesDone();
    EXPECT_FALSE(stream->Finish().ok());
  }
  {
    grpc::ClientContext ctx;
    set_deadline(&ctx);
    auto stream = pb::Lease::NewStub(channel)->LeaseKeepAlive(&ctx);
    stream->WritesDone();
    EXPECT_FALSE(stream->Finish().ok());
  }
  {
    grpc::ClientContext ctx;
    set_deadline(&ctx);
    pb::MemberListResponse resp;
    EXPECT_FALSE(
        pb::Cluster::NewStub(channel)->MemberList(&ctx, pb::MemberListRequest(), &resp).ok());
  }
  {
    grpc::ClientContext ctx;
    set_deadline(&ctx);
    auto reader = pb::Maintenance::NewStub(channel)->Snapshot(&ctx, pb::SnapshotRequest());
    pb::SnapshotResponse resp;
    EXPECT_FALSE(reader->Read(&resp));
    EXPECT_FALSE(reader->Finish().ok());
  }
  {
    grpc::ClientContext ctx;
    set_deadline(&ctx);
    pb::DowngradeResponse resp;
    EXPECT_FALSE(
        pb::Maintenance::NewStub(channel)->Downgrade(&ctx, pb::DowngradeRequest(), &resp).ok());
  }
  {
    grpc::ClientContext ctx;
    set_deadline(&ctx);
    pb::AuthStatusResponse resp;
    EXPECT_FALSE(pb::Auth::NewStub(channel)->AuthStatus(&ctx, pb::AuthStatusRequest(), &resp).ok());
  }
  {
    grpc::ClientContext ctx;
    set_deadline(&ctx);
    v3lockpb::LockResponse resp;
    EXPECT_FALSE(v3lockpb::Lock::NewStub(channel)->Lock(&ctx, v3lockpb::LockRequest(), &resp).ok());
  }
  {
    grpc::ClientContext ctx;
    set_deadline(&ctx);
    auto reader =
        v3electionpb::Election::NewStub(channel)->Observe(&ctx, v3electionpb::LeaderRequest());
    v3electionpb::LeaderResponse resp;
    EXPECT_FALSE(reader->Read(&resp));
    EXPECT_FALSE(reader->Finish().ok());
  }

  const std::vector<std::string> expected = {
      "/etcdserverpb.KV/Range",
      "/etcdserverpb.Watch/Watch",
      "/etcdserverpb.Lease/LeaseKeepAlive",
      "/etcdserverpb.Cluster/MemberList",
      "/etcdserverpb.Maintenance/Snapshot",
      "/etcdserverpb.Maintenance/Downgrade",
      "/etcdserverpb.Auth/AuthStatus",
      "/v3lockpb.Lock/Lock",
      "/v3electionpb.Election/Observe",
  };
  EXPECT_EQ(paths, expected);
}

}  // namespace
