#include "etcdctl/v2/client.h"

#include <gtest/gtest.h>

#include "etcdctl/v2/ctlv2.h"

namespace etcd::ctl::v2 {
namespace {

TEST(V2Url, ParseAndPrintEndpoints) {
  std::string err;
  auto u = parse_url("http://127.0.0.1:2379", &err);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scheme, "http");
  EXPECT_EQ(u->host, "127.0.0.1:2379");
  EXPECT_EQ(u->str(), "http://127.0.0.1:2379");
  EXPECT_FALSE(parse_url("127.0.0.1:1", &err));
  EXPECT_EQ(err, "parse \"127.0.0.1:1\": first path segment in URL cannot contain colon");
}

TEST(V2Url, EscapingAsGo) {
  EXPECT_EQ(escape_path("/v2/keys/a b?c!"), "/v2/keys/a%20b%3Fc%21");
  EXPECT_EQ(encode_values({{"value", "a b&c"}, {"ttl", "5"}}), "ttl=5&value=a+b%26c");
  EXPECT_EQ(canonical_path("/v2/keys//a/../b/"), "/v2/keys/b/");
  EXPECT_EQ(canonical_path("/v2/keys/"), "/v2/keys/");
}

TEST(V2Requests, KeysRequestsAsTheGoClientBuildsThem) {
  auto g = get_request("foo", false, true, false);
  EXPECT_EQ(g.path, "/v2/keys/foo");
  EXPECT_EQ(encode_values(g.query), "quorum=false&recursive=false&sorted=true");
  SetOptions o;
  o.dir = true;
  o.prev_exist = "true";
  o.ttl_s = 5;
  auto s = set_request("/dd", "", o);
  EXPECT_EQ(encode_values(s.query), "dir=true&prevExist=true");
  EXPECT_EQ(*s.body, "ttl=5");
  auto w = wait_request("/k", 0, false);
  EXPECT_EQ(encode_values(w.query), "recursive=false&wait=true&waitIndex=0");
}

TEST(V2Format, ResponsesInEachFormat) {
  KeysResponse r;
  r.action = "get";
  Node n;
  n.key = "/foo";
  n.value = "<&>";
  n.created_index = 4;
  n.modified_index = 4;
  r.node = n;
  r.index = 4;
  std::string err;
  EXPECT_EQ(format_response(r, "simple", &err), "<&>\n");
  EXPECT_EQ(format_response(r, "extended", &err),
            "Key: /foo\nCreated-Index: 4\nModified-Index: 4\nTTL: 0\nIndex: 4\n\n<&>\n");
  EXPECT_EQ(format_response(r, "json", &err),
            "{\"action\":\"get\",\"node\":{\"key\":\"/foo\",\"value\":\"\\u003c\\u0026\\u003e\","
            "\"nodes\":null,\"createdIndex\":4,\"modifiedIndex\":4},\"prevNode\":null}\n");
  EXPECT_EQ(err, "");
  EXPECT_EQ(format_response(r, "yaml", &err), "");
  EXPECT_EQ(err, "Unsupported output format: yaml\n");
  r.action = "delete";
  r.prev_node = n;
  EXPECT_EQ(format_response(r, "simple", &err), "PrevNode.Value: <&>\n");
}

TEST(V2Errors, EtcdErrorAndClusterError) {
  Response http;
  http.status = 404;
  http.body = R"({"errorCode":100,"message":"Key not found","cause":"/nokey","index":4})";
  KeysResponse r;
  auto err = keys_result(http, r);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->text, "100: Key not found (/nokey) [4]");
}

}  // namespace
}  // namespace etcd::ctl::v2
