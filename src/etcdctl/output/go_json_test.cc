// Goldens captured from the reference: etcd 3.4.23 server and
// `ETCDCTL_API=3 etcdctl ... -w json` (built with Go 1.19.8).
#include "etcdctl/output/go_json.h"

#include <gtest/gtest.h>

#include "base/crc32c.h"
#include "etcdctl/output/test_util.h"
#include "etcdserverpb/rpc.pb.h"

namespace etcd::ctl {
namespace {

constexpr uint64_t kCluster = 324952591200643719ULL;
constexpr uint64_t kMember = 3319814642761637952ULL;

void set_header(etcdserverpb::ResponseHeader* h, int64_t revision) {
  h->set_cluster_id(kCluster);
  h->set_member_id(kMember);
  h->set_revision(revision);
  h->set_raft_term(2);
}

void set_kv(mvccpb::KeyValue* kv, std::string key, int64_t create, int64_t mod, int64_t version,
            std::string value) {
  kv->set_key(std::move(key));
  kv->set_create_revision(create);
  kv->set_mod_revision(mod);
  kv->set_version(version);
  kv->set_value(std::move(value));
}

TEST(GoJson, PutResponse) {
  // etcdctl put foo bar -w json
  etcdserverpb::PutResponse r;
  set_header(r.mutable_header(), 2);
  EXPECT_EQ(go_json(r),
            R"({"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,)"
            R"("revision":2,"raft_term":2}})");
  // etcdctl put foo baz --prev-kv -w json
  set_header(r.mutable_header(), 4);
  set_kv(r.mutable_prev_kv(), "foo", 2, 2, 1, "bar");
  EXPECT_EQ(go_json(r),
            R"({"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,)"
            R"("revision":4,"raft_term":2},"prev_kv":{"key":"Zm9v","create_revision":2,)"
            R"("mod_revision":2,"version":1,"value":"YmFy"}})");
}

TEST(GoJson, RangeResponse) {
  // etcdctl get foo -w json
  etcdserverpb::RangeResponse r;
  set_header(r.mutable_header(), 4);
  set_kv(r.add_kvs(), "foo", 2, 4, 2, "baz");
  r.set_count(1);
  EXPECT_EQ(go_json(r),
            R"({"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,)"
            R"("revision":4,"raft_term":2},"kvs":[{"key":"Zm9v","create_revision":2,)"
            R"("mod_revision":4,"version":2,"value":"YmF6"}],"count":1})");
  // etcdctl get foo --prefix --keys-only -w json
  r.mutable_kvs(0)->clear_value();
  EXPECT_EQ(go_json(r),
            R"({"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,)"
            R"("revision":4,"raft_term":2},"kvs":[{"key":"Zm9v","create_revision":2,)"
            R"("mod_revision":4,"version":2}],"count":1})");
  // etcdctl get a --prefix -w json, after put 'a<b>&c' $'v\x01\xff\xe2\x80\xa8é'
  r.clear_kvs();
  set_kv(r.add_kvs(), "a<b>&c", 3, 3, 1, "v\x01\xff\xe2\x80\xa8\xc3\xa9");
  EXPECT_EQ(go_json(r),
            R"({"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,)"
            R"("revision":4,"raft_term":2},"kvs":[{"key":"YTxiPiZj","create_revision":3,)"
            R"("mod_revision":3,"version":1,"value":"dgH/4oCow6k="}],"count":1})");
  // etcdctl get nothing -w json
  r.clear_kvs();
  r.set_count(0);
  EXPECT_EQ(go_json(r),
            R"({"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,)"
            R"("revision":4,"raft_term":2}})");
}

TEST(GoJson, DeleteRangeResponse) {
  // etcdctl del foo --prev-kv -w json
  etcdserverpb::DeleteRangeResponse r;
  set_header(r.mutable_header(), 7);
  r.set_deleted(1);
  set_kv(r.add_prev_kvs(), "foo", 2, 4, 2, "baz");
  EXPECT_EQ(go_json(r),
            R"({"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,)"
            R"("revision":7,"raft_term":2},"deleted":1,"prev_kvs":[{"key":"Zm9v",)"
            R"("create_revision":2,"mod_revision":4,"version":2,"value":"YmF6"}]})");
}

TEST(GoJson, TxnResponseOneofUsesGoFieldNames) {
  // etcdctl txn -w json with: mod("foo") > "0" / value("foo") = "baz"
  // success: put k1 v1, get foo, del nothing; failure: put k2 v2.
  etcdserverpb::TxnResponse r;
  set_header(r.mutable_header(), 5);
  r.set_succeeded(true);
  r.add_responses()->mutable_response_put()->mutable_header()->set_revision(5);
  auto* range = r.add_responses()->mutable_response_range();
  range->mutable_header()->set_revision(5);
  set_kv(range->add_kvs(), "foo", 2, 4, 2, "baz");
  range->set_count(1);
  r.add_responses()->mutable_response_delete_range()->mutable_header()->set_revision(5);
  EXPECT_EQ(go_json(r),
            R"({"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,)"
            R"("revision":5,"raft_term":2},"succeeded":true,"responses":[)"
            R"({"Response":{"ResponsePut":{"header":{"revision":5}}}},)"
            R"({"Response":{"ResponseRange":{"header":{"revision":5},"kvs":[{"key":"Zm9v",)"
            R"("create_revision":2,"mod_revision":4,"version":2,"value":"YmF6"}],"count":1}}},)"
            R"({"Response":{"ResponseDeleteRange":{"header":{"revision":5}}}}]})");
}

TEST(GoJson, OneofWithoutTagIsNeverOmitted) {
  // Derived from the generated structs (the oneof interface field and its
  // wrapper's field carry no json tag, hence no omitempty): an unset oneof
  // is null, a set one keeps its zero value, in its declaration position.
  etcdserverpb::RequestOp op;
  EXPECT_EQ(go_json(op), R"({"Request":null})");
  op.mutable_request_range();
  EXPECT_EQ(go_json(op), R"({"Request":{"RequestRange":{}}})");

  etcdserverpb::Compare c;
  c.set_key("foo");
  EXPECT_EQ(go_json(c), R"({"key":"Zm9v","TargetUnion":null})");
  c.set_version(0);
  c.set_range_end("fop");
  EXPECT_EQ(go_json(c), R"({"key":"Zm9v","TargetUnion":{"Version":0},"range_end":"Zm9w"})");
  c.set_result(etcdserverpb::Compare::GREATER);
  c.set_target(etcdserverpb::Compare::MOD);
  c.set_mod_revision(3);
  EXPECT_EQ(go_json(c), R"({"result":1,"target":2,"key":"Zm9v","TargetUnion":{"ModRevision":3},)"
                        R"("range_end":"Zm9w"})");
  c.set_value("");
  EXPECT_EQ(go_json(c), R"({"result":1,"target":2,"key":"Zm9v","TargetUnion":{"Value":""},)"
                        R"("range_end":"Zm9w"})");

  etcdserverpb::WatchRequest w;
  w.mutable_create_request()->set_key("a");
  EXPECT_EQ(go_json(w), R"({"RequestUnion":{"CreateRequest":{"key":"YQ=="}}})");
}

TEST(GoJson, MemberListResponse) {
  // etcdctl member list -w json (member list leaves revision 0).
  etcdserverpb::MemberListResponse r;
  r.mutable_header()->set_cluster_id(kCluster);
  r.mutable_header()->set_member_id(kMember);
  r.mutable_header()->set_raft_term(2);
  auto* m = r.add_members();
  m->set_id(kMember);
  m->set_name("default");
  m->add_peerurls("http://127.0.0.1:23800");
  m->add_clienturls("http://127.0.0.1:23790");
  EXPECT_EQ(go_json(r),
            R"({"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,)"
            R"("raft_term":2},"members":[{"ID":3319814642761637952,"name":"default",)"
            R"("peerURLs":["http://127.0.0.1:23800"],"clientURLs":["http://127.0.0.1:23790"]}]})");
  // A second reference member named with spaces and CJK, two client URLs.
  etcdserverpb::MemberListResponse r2;
  r2.mutable_header()->set_cluster_id(15118495548433857066ULL);
  r2.mutable_header()->set_member_id(13668033151171901709ULL);
  r2.mutable_header()->set_raft_term(2);
  auto* m2 = r2.add_members();
  m2->set_id(13668033151171901709ULL);
  m2->set_name("node 東京 alpha beta gamma delta epsilon zeta");
  m2->add_peerurls("http://127.0.0.1:23801");
  m2->add_clienturls("http://127.0.0.1:23791");
  m2->add_clienturls("http://localhost:23791");
  EXPECT_EQ(go_json(r2),
            R"({"header":{"cluster_id":15118495548433857066,"member_id":13668033151171901709,)"
            R"("raft_term":2},"members":[{"ID":13668033151171901709,)"
            R"("name":"node 東京 alpha beta gamma delta epsilon zeta",)"
            R"("peerURLs":["http://127.0.0.1:23801"],)"
            R"("clientURLs":["http://127.0.0.1:23791","http://localhost:23791"]}]})");
}

TEST(GoJson, AuthResponses) {
  // etcdctl role get 'r"\x' -w json: readwrite [foo, fop), read --prefix pre
  etcdserverpb::AuthRoleGetResponse role;
  set_header(role.mutable_header(), 6);
  auto* p1 = role.add_perm();
  p1->set_permtype(authpb::Permission::READWRITE);
  p1->set_key("foo");
  p1->set_range_end("fop");
  auto* p2 = role.add_perm();
  p2->set_key("pre");
  p2->set_range_end("prf");
  EXPECT_EQ(go_json(role),
            R"({"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,)"
            R"("revision":6,"raft_term":2},"perm":[{"permType":2,"key":"Zm9v","range_end":"Zm9w"},)"
            R"({"key":"cHJl","range_end":"cHJm"}]})");

  // etcdctl role list -w json
  etcdserverpb::AuthRoleListResponse roles;
  set_header(roles.mutable_header(), 6);
  roles.add_roles("r\"\\x");
  EXPECT_EQ(go_json(roles),
            R"({"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,)"
            R"("revision":6,"raft_term":2},"roles":["r\"\\x"]})");

  // etcdctl user list -w json after adding 'u<&>é' and
  // $'c\x01\x08\x0c\t\n\r\xff\xe2\x80\xa8\x7f\\"/' (bytes checked with od).
  etcdserverpb::AuthUserListResponse users;
  set_header(users.mutable_header(), 7);
  users.add_users("c\x01\x08\x0c\t\n\r\xff\xe2\x80\xa8\x7f\\\"/");
  users.add_users("u<&>\xc3\xa9");
  EXPECT_EQ(go_json(users),
            "{\"header\":{\"cluster_id\":324952591200643719,\"member_id\":3319814642761637952,"
            "\"revision\":7,\"raft_term\":2},\"users\":[\"c\\u0001\\u0008\\u000c\\t\\n\\r"
            "\\ufffd\\u2028\x7f\\\\\\\"/\",\"u\\u003c\\u0026\\u003e\xc3\xa9\"]}");
}

TEST(GoJson, EmptyMessage) {
  // etcdctl alarm list -w json with no alarm
  etcdserverpb::AlarmResponse r;
  EXPECT_EQ(go_json(r), "{}");
}

TEST(GoJson, EndpointListsBuiltByHand) {
  // etcdctl endpoint status -w json: []epStatus{Ep `json:"Endpoint"`,
  // Resp `json:"Status"`}.
  etcdserverpb::StatusResponse s;
  set_header(s.mutable_header(), 7);
  s.set_version("3.4.23");
  s.set_dbsize(20480);
  s.set_leader(kMember);
  s.set_raftindex(26);
  s.set_raftterm(2);
  s.set_raftappliedindex(26);
  s.set_dbsizeinuse(16384);
  const std::string status =
      GoJsonObject().string("Endpoint", "127.0.0.1:23790").message("Status", s).str();
  EXPECT_EQ("[" + status + "]",
            R"([{"Endpoint":"127.0.0.1:23790","Status":{"header":{"cluster_id":324952591200643719,)"
            R"("member_id":3319814642761637952,"revision":7,"raft_term":2},"version":"3.4.23",)"
            R"("dbSize":20480,"leader":3319814642761637952,"raftIndex":26,"raftTerm":2,)"
            R"("raftAppliedIndex":26,"dbSizeInUse":16384}}])");

  // etcdctl endpoint hashkv -w json
  etcdserverpb::HashKVResponse h;
  set_header(h.mutable_header(), 7);
  h.set_hash(1848878991);
  h.set_compact_revision(2);
  EXPECT_EQ(GoJsonObject().string("Endpoint", "127.0.0.1:23790").message("HashKV", h).str(),
            R"({"Endpoint":"127.0.0.1:23790","HashKV":{"header":{"cluster_id":324952591200643719,)"
            R"("member_id":3319814642761637952,"revision":7,"raft_term":2},"hash":1848878991,)"
            R"("compact_revision":2}})");

  // etcdctl endpoint health -w json (error has omitempty, the rest not)
  EXPECT_EQ(GoJsonObject()
                .string("endpoint", "127.0.0.1:23799")
                .boolean("health", false)
                .string("took", "5.000257029s")
                .string("error", "context deadline exceeded")
                .str(),
            R"({"endpoint":"127.0.0.1:23799","health":false,"took":"5.000257029s",)"
            R"("error":"context deadline exceeded"})");
}

TEST(GoJson, LeaseResponsesEmbedTheHeader) {
  etcdserverpb::ResponseHeader header;
  set_header(&header, 5);
  // etcdctl lease grant 100 -w json: *pb.ResponseHeader embedded, then
  // ID, TTL and Error without tags.
  EXPECT_EQ(GoJsonObject()
                .embed(header)
                .int64("ID", 2324035869646488077)
                .int64("TTL", 100)
                .string("Error", "")
                .str(),
            R"({"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":5,)"
            R"("raft_term":2,"ID":2324035869646488077,"TTL":100,"Error":""})");
  // etcdctl lease timetolive --keys -w json, then without --keys (nil slice)
  set_header(&header, 6);
  auto ttl = [&](std::string_view keys) {
    return GoJsonObject()
        .embed(header)
        .int64("id", 2324035869646488079)
        .int64("ttl", 99)
        .int64("granted-ttl", 100)
        .raw("keys", keys)
        .str();
  };
  EXPECT_EQ(
      ttl("[" + go_json_bytes("lk") + "]"),
      R"({"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":6,)"
      R"("raft_term":2,"id":2324035869646488079,"ttl":99,"granted-ttl":100,"keys":["bGs="]})");
  EXPECT_EQ(ttl("null"),
            R"({"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":6,)"
            R"("raft_term":2,"id":2324035869646488079,"ttl":99,"granted-ttl":100,"keys":null})");
}

TEST(GoJson, WatchResponse) {
  // etcdctl watch w --prev-kv -w json; then put w 1, del w.
  etcdserverpb::ResponseHeader header;
  set_header(&header, 109);
  mvccpb::Event ev;
  ev.set_type(mvccpb::Event::DELETE);
  ev.mutable_kv()->set_key("w");
  ev.mutable_kv()->set_mod_revision(109);
  set_kv(ev.mutable_prev_kv(), "w", 108, 108, 1, "1");
  EXPECT_EQ(GoJsonObject()
                .message("Header", header)
                .raw("Events", "[" + go_json(ev) + "]")
                .int64("CompactRevision", 0)
                .boolean("Canceled", false)
                .boolean("Created", false)
                .str(),
            R"({"Header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,)"
            R"("revision":109,"raft_term":2},"Events":[{"type":1,"kv":{"key":"dw==",)"
            R"("mod_revision":109},"prev_kv":{"key":"dw==","create_revision":108,)"
            R"("mod_revision":108,"version":1,"value":"MQ=="}}],"CompactRevision":0,)"
            R"("Canceled":false,"Created":false})");
}

TEST(GoJson, Strings) {
  EXPECT_EQ(go_json_string(""), R"("")");
  EXPECT_EQ(go_json_string("a<b>&c"), R"("a\u003cb\u003e\u0026c")");
  EXPECT_EQ(go_json_string("\x1f\x7f/"), "\"\\u001f\x7f/\"");
  // Each invalid byte is one U+FFFD: truncated, overlong, surrogate.
  EXPECT_EQ(go_json_string("\xe2\x80"), R"("\ufffd\ufffd")");
  EXPECT_EQ(go_json_string("\xc0\xaf"), R"("\ufffd\ufffd")");
  EXPECT_EQ(go_json_string("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");
  EXPECT_EQ(go_json_string("\xe2\x80\xa9\xf0\x9f\x98\x80"), "\"\\u2029\xf0\x9f\x98\x80\"");
}

TEST(GoJson, StringsMatchEtcdctlOnTheBmpAndInvalidUtf8) {
  // User names of every code point (in chunks below bbolt's 32 KiB key
  // limit) added with `etcdctl user add` and listed with `user list -w
  // json`; the reference's escaped names are kept as length and CRC-32C.
  const std::string all = code_points(0x10FFFF, 0x110000, code_points(1, 0x10400));
  const std::string json = go_json_string(all);
  EXPECT_EQ(json.size(), 192555u);
  EXPECT_EQ(crc32c::value(json), 0x7d7832eeu);
  // Bytes 0x80..0xFF, a surrogate, a code point above U+10FFFF, an overlong
  // form, truncated sequences, then "x".
  std::string bad;
  for (int b = 0x80; b <= 0xFF; ++b) bad += static_cast<char>(b);
  bad += "\xed\xa0\x80\xf4\x90\x80\x80\xe0\x80\x80\xe2\x80\xf0\x9f\x98\xc3x";
  const std::string bad_json = go_json_string(bad);
  EXPECT_EQ(bad_json.size(), 867u);
  EXPECT_EQ(crc32c::value(bad_json), 0xe1023da5u);
}

TEST(GoJson, Base64) {
  EXPECT_EQ(base64_std(""), "");
  EXPECT_EQ(base64_std("f"), "Zg==");
  EXPECT_EQ(base64_std("fo"), "Zm8=");
  EXPECT_EQ(base64_std("foo"), "Zm9v");
  EXPECT_EQ(base64_std("\xff\xfe\xfd"), "//79");
}

}  // namespace
}  // namespace etcd::ctl
