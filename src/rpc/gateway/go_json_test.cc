#include "rpc/gateway/go_json.h"

#include <gtest/gtest.h>

#include <random>

#include "etcdserverpb/rpc.pb.h"

namespace etcd::rpc::gateway {
namespace {

// The error text decoding `body` into a RangeRequest gives ("" if none).
std::string range_error(std::string_view body) {
  etcdserverpb::RangeRequest req;
  std::string error;
  DecodeResult r = JsonBodyDecoder(body).next(&req, &error);
  return r == DecodeResult::kError ? error : "";
}

// Texts taken from etcd 3.4.23's gateway answers to the same bodies.
TEST(GoJson, ErrorsAreGoTexts) {
  EXPECT_EQ(range_error("{\"key\":"), "unexpected EOF");
  EXPECT_EQ(range_error("{\"key\":1}"),
            "json: cannot unmarshal number into Go value of type []uint8");
  EXPECT_EQ(range_error("{\"key\":\"!!\"}"), "illegal base64 data at input byte 0");
  EXPECT_EQ(range_error("{\"key\":\"Zm9\"}"), "illegal base64 data at input byte 0");
  EXPECT_EQ(range_error("{\"key\":\"Zm9vY\"}"), "illegal base64 data at input byte 4");
  EXPECT_EQ(range_error("{\"limit\":\"abc\"}"),
            "invalid character 'a' looking for beginning of value");
  EXPECT_EQ(range_error("{\"limit\":5.5}"),
            "json: cannot unmarshal number 5.5 into Go value of type int64");
  EXPECT_EQ(range_error("{\"limit\":true}"),
            "json: cannot unmarshal bool into Go value of type int64");
  EXPECT_EQ(range_error("{\"limit\":\"\"}"), "unexpected end of JSON input");
  EXPECT_EQ(range_error("{\"limit\":\"5x\"}"), "invalid character 'x' after top-level value");
  EXPECT_EQ(range_error("[1]"),
            "json: cannot unmarshal array into Go value of type map[string]json.RawMessage");
  EXPECT_EQ(range_error("{\"sort_order\":\"NOPE\"}"),
            "unknown value \"NOPE\" for enum etcdserverpb.RangeRequest_SortOrder");
  EXPECT_EQ(range_error("{\"sort_order\":1.5}"),
            "json: cannot unmarshal number 1.5 into Go value of type "
            "etcdserverpb.RangeRequest_SortOrder");
  EXPECT_EQ(range_error("{\"serializable\":1}"),
            "json: cannot unmarshal number into Go value of type bool");
  EXPECT_EQ(range_error("{\"key\" 1}"), "invalid character '1' after object key");
  EXPECT_EQ(range_error("{\"key\":\"Zm9v\" \"x\"}"),
            "invalid character '\"' after object key:value pair");
  EXPECT_EQ(range_error("{'key':1}"),
            "invalid character '\\'' looking for beginning of object key string");
  EXPECT_EQ(range_error("{\"a\":tru }"), "invalid character ' ' in literal true (expecting 'e')");
  EXPECT_EQ(range_error("{\"a\":[1 2]}"), "invalid character '2' after array element");
  EXPECT_EQ(range_error("{\"a\":-x}"), "invalid character 'x' in numeric literal");
  EXPECT_EQ(range_error("{\"a\":\"\\q\"}"), "invalid character 'q' in string escape code");
  EXPECT_EQ(range_error("{\"a\":\"\n\"}"), "invalid character '\\n' in string literal");
  EXPECT_EQ(range_error("x"), "invalid character 'x' looking for beginning of value");
}

TEST(GoJson, LenientLikeJsonpb) {
  etcdserverpb::RangeRequest req;
  std::string error;
  // Unknown fields ignored, camelCase accepted, numbers as strings, enum by
  // number, only the first value of the body read.
  JsonBodyDecoder d(
      "{\"key\":\"Zm9v\",\"nope\":[1,{}],\"rangeEnd\":\"Zm9w\",\"limit\":\"5\","
      "\"revision\":7,\"sort_order\":2,\"sort_target\":\"MOD\",\"serializable\":true} trailing");
  ASSERT_EQ(d.next(&req, &error), DecodeResult::kOk) << error;
  EXPECT_EQ(req.key(), "foo");
  EXPECT_EQ(req.range_end(), "fop");
  EXPECT_EQ(req.limit(), 5);
  EXPECT_EQ(req.revision(), 7);
  EXPECT_EQ(req.sort_order(), etcdserverpb::RangeRequest::DESCEND);
  EXPECT_EQ(req.sort_target(), etcdserverpb::RangeRequest::MOD);
  EXPECT_TRUE(req.serializable());
  // An empty body, white space or null: an empty request.
  for (std::string_view body : {"", "  \n", "null"}) {
    etcdserverpb::RangeRequest empty;
    DecodeResult r = JsonBodyDecoder(body).next(&empty, &error);
    EXPECT_NE(r, DecodeResult::kError) << body;
    EXPECT_EQ(empty.ByteSizeLong(), 0u) << body;
  }
}

TEST(GoJson, SeveralValuesAndOneofs) {
  JsonBodyDecoder d(
      "{\"create_request\":{\"key\":\"Zm9v\",\"start_revision\":\"3\",\"filters\":[\"NOPUT\"]}}\n"
      "{\"cancel_request\":{\"watch_id\":\"2\"}}");
  std::string error;
  etcdserverpb::WatchRequest a, b, c;
  ASSERT_EQ(d.next(&a, &error), DecodeResult::kOk) << error;
  ASSERT_EQ(d.next(&b, &error), DecodeResult::kOk) << error;
  EXPECT_EQ(d.next(&c, &error), DecodeResult::kEof);
  ASSERT_TRUE(a.has_create_request());
  EXPECT_EQ(a.create_request().key(), "foo");
  EXPECT_EQ(a.create_request().start_revision(), 3);
  ASSERT_EQ(a.create_request().filters_size(), 1);
  EXPECT_EQ(a.create_request().filters(0), etcdserverpb::WatchCreateRequest::NOPUT);
  ASSERT_TRUE(b.has_cancel_request());
  EXPECT_EQ(b.cancel_request().watch_id(), 2);
}

TEST(GoJson, MessagesOutAsJsonpb) {
  etcdserverpb::RangeResponse resp;
  resp.mutable_header()->set_cluster_id(14841639068965178418ull);
  resp.mutable_header()->set_revision(2);
  auto* kv = resp.add_kvs();
  kv->set_key("foo");
  kv->set_value("bar");
  kv->set_create_revision(2);
  resp.set_count(1);
  EXPECT_EQ(message_to_json(resp),
            "{\"header\":{\"cluster_id\":\"14841639068965178418\",\"revision\":\"2\"},"
            "\"kvs\":[{\"key\":\"Zm9v\",\"create_revision\":\"2\",\"value\":\"YmFy\"}],"
            "\"count\":\"1\"}");
  etcdserverpb::HashResponse h;
  h.set_hash(1710218381);
  EXPECT_EQ(message_to_json(h), "{\"hash\":1710218381}");
  // A set but empty message is written; a oneof member at its default too.
  etcdserverpb::Compare cmp;
  cmp.set_target(etcdserverpb::Compare::VALUE);
  cmp.set_value("");
  EXPECT_EQ(message_to_json(cmp), "{\"target\":\"VALUE\",\"value\":\"\"}");
  etcdserverpb::LeaseGrantResponse lg;
  lg.set_id(7);
  lg.set_ttl(60);
  EXPECT_EQ(message_to_json(lg), "{\"ID\":\"7\",\"TTL\":\"60\"}");
  EXPECT_EQ(go_json_string("a<b>&\"\\\n\x01\xff"),
            "\"a\\u003cb\\u003e\\u0026\\\"\\\\\\n\\u0001\\ufffd\"");
}

// Decoding then encoding etcd 3.4.23's gateway answers gives the same text:
// the field names, order and omitted defaults are jsonpb's.
template <typename T>
void expect_round_trip(const std::string& json) {
  T msg;
  std::string error;
  ASSERT_EQ(JsonBodyDecoder(json).next(&msg, &error), DecodeResult::kOk) << error;
  EXPECT_EQ(message_to_json(msg), json);
}

TEST(GoJson, ReferenceAnswersRoundTrip) {
  const std::string h =
      "{\"header\":{\"cluster_id\":\"14841639068965178418\",\"member_id\":"
      "\"10276657743932975437\",\"revision\":\"5\",\"raft_term\":\"2\"}";
  expect_round_trip<etcdserverpb::TxnResponse>(
      h +
      ",\"succeeded\":true,\"responses\":[{\"response_put\":{\"header\":{\"revision\":\"3\"},"
      "\"prev_kv\":{\"key\":\"Zm9v\",\"create_revision\":\"2\",\"mod_revision\":\"2\","
      "\"version\":\"1\",\"value\":\"YmFy\"}}},{\"response_range\":{\"header\":{\"revision\":"
      "\"3\"},\"kvs\":[{\"key\":\"Zm9v\",\"create_revision\":\"2\",\"mod_revision\":\"3\","
      "\"version\":\"2\",\"value\":\"YmF6\"}],\"count\":\"1\"}}]}");
  expect_round_trip<etcdserverpb::LeaseGrantResponse>(h + ",\"ID\":\"4242\",\"TTL\":\"60\"}");
  expect_round_trip<etcdserverpb::LeaseTimeToLiveResponse>(
      h + ",\"ID\":\"4242\",\"TTL\":\"59\",\"grantedTTL\":\"60\",\"keys\":[\"bGs=\"]}");
  expect_round_trip<etcdserverpb::LeaseTimeToLiveResponse>(h + ",\"ID\":\"999\",\"TTL\":\"-1\"}");
  expect_round_trip<etcdserverpb::LeaseLeasesResponse>(h + ",\"leases\":[{\"ID\":\"4242\"}]}");
  expect_round_trip<etcdserverpb::MemberListResponse>(
      "{\"header\":{\"cluster_id\":\"14841639068965178418\",\"member_id\":"
      "\"10276657743932975437\",\"raft_term\":\"2\"},\"members\":[{\"ID\":"
      "\"10276657743932975437\",\"name\":\"default\",\"peerURLs\":[\"http://localhost:2380\"],"
      "\"clientURLs\":[\"http://127.0.0.1:23790\"]}]}");
  expect_round_trip<etcdserverpb::StatusResponse>(
      h +
      ",\"version\":\"3.4.23\",\"dbSize\":\"32768\",\"leader\":\"10276657743932975437\","
      "\"raftIndex\":\"8\",\"raftTerm\":\"2\",\"raftAppliedIndex\":\"8\",\"dbSizeInUse\":"
      "\"16384\"}");
  expect_round_trip<etcdserverpb::DeleteRangeResponse>(
      h +
      ",\"deleted\":\"1\",\"prev_kvs\":[{\"key\":\"bGs=\",\"create_revision\":\"4\","
      "\"mod_revision\":\"4\",\"version\":\"1\",\"value\":\"dg==\",\"lease\":\"4242\"}]}");
  expect_round_trip<etcdserverpb::AuthRoleGetResponse>(
      h + ",\"perm\":[{\"permType\":\"READWRITE\",\"key\":\"YQ==\",\"range_end\":\"Yg==\"}]}");
  expect_round_trip<etcdserverpb::AuthUserGetResponse>(h + ",\"roles\":[\"root\"]}");
  expect_round_trip<etcdserverpb::HashResponse>(h + ",\"hash\":1056939861}");
  expect_round_trip<etcdserverpb::WatchResponse>(
      h +
      ",\"events\":[{\"type\":\"DELETE\",\"kv\":{\"key\":\"Zm9v\",\"mod_revision\":\"7\"},"
      "\"prev_kv\":{\"key\":\"Zm9v\",\"create_revision\":\"2\",\"mod_revision\":\"6\","
      "\"version\":\"3\",\"value\":\"PD4m\"}}]}");
  expect_round_trip<etcdserverpb::WatchResponse>(
      h +
      ",\"watch_id\":\"-1\",\"created\":true,\"canceled\":true,\"cancel_reason\":\"rpc error: "
      "code = InvalidArgument desc = etcdserver: user name is empty\"}");
  expect_round_trip<etcdserverpb::AlarmResponse>("{}");
}

// Mangled bodies (cut, bytes changed, inserted) never crash the decoder,
// and a body it accepts re-encodes and decodes to the same message.
TEST(GoJson, MangledBodiesAreSafe) {
  const std::string seeds[] = {
      "{\"compare\":[{\"key\":\"Zm9v\",\"result\":\"EQUAL\",\"target\":\"VALUE\",\"value\":"
      "\"YmFy\"}],\"success\":[{\"request_put\":{\"key\":\"Zm9v\",\"value\":\"YmF6\","
      "\"lease\":\"12\"}},{\"request_range\":{\"key\":\"Zm9v\",\"limit\":5}}],\"failure\":[]}",
      "{\"compare\":[{\"target\":\"CREATE\",\"key\":\"Zm9v\",\"createRevision\":\"2\"}],"
      "\"success\":[{\"requestDeleteRange\":{\"key\":\"\\u0041\\n\",\"prev_kv\":true}}]}",
  };
  std::mt19937 rng(12345);
  const std::string alphabet = "{}[]\",:\\ 0123456789-+.eEtrufalsn\"ZmYb=/u\n\x01\xc3\xff";
  for (int i = 0; i < 20000; ++i) {
    std::string body = seeds[i % 2];
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !body.empty(); ++e) {
      size_t at = rng() % body.size();
      switch (rng() % 3) {
        case 0:
          body.resize(at);
          break;
        case 1:
          body[at] = alphabet[rng() % alphabet.size()];
          break;
        default:
          body.insert(at, 1, alphabet[rng() % alphabet.size()]);
      }
    }
    etcdserverpb::TxnRequest req;
    std::string error;
    DecodeResult r = JsonBodyDecoder(body).next(&req, &error);
    if (r == DecodeResult::kError) {
      EXPECT_FALSE(error.empty()) << body;
      continue;
    }
    etcdserverpb::TxnRequest again;
    std::string json = message_to_json(req);
    ASSERT_EQ(JsonBodyDecoder(json).next(&again, &error), DecodeResult::kOk) << json << error;
    EXPECT_EQ(again.SerializeAsString(), req.SerializeAsString()) << body;
  }
}

}  // namespace
}  // namespace etcd::rpc::gateway
