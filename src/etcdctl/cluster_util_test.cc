#include "etcdctl/cluster_util.h"

#include <gtest/gtest.h>

namespace etcd::ctl {
namespace {

TEST(ParseHexUint64, ParsesAsGoParseUintBase16) {
  EXPECT_EQ(parse_hex_uint64("8211f1d0f64f3269").value, 0x8211f1d0f64f3269u);
  EXPECT_EQ(parse_hex_uint64("8211F1D0F64F3269").value, 0x8211f1d0f64f3269u);
  EXPECT_EQ(parse_hex_uint64("ffffffffffffffff").value, UINT64_MAX);
  EXPECT_EQ(parse_hex_uint64("0").error, "");
  EXPECT_EQ(parse_hex_uint64("").error, "strconv.ParseUint: parsing \"\": invalid syntax");
  EXPECT_EQ(parse_hex_uint64("xyz").error, "strconv.ParseUint: parsing \"xyz\": invalid syntax");
  // No "0x" prefix, sign or underscore with an explicit base.
  EXPECT_EQ(parse_hex_uint64("0x1").error, "strconv.ParseUint: parsing \"0x1\": invalid syntax");
  EXPECT_EQ(parse_hex_uint64("+1").error, "strconv.ParseUint: parsing \"+1\": invalid syntax");
  EXPECT_EQ(parse_hex_uint64("1_0").error, "strconv.ParseUint: parsing \"1_0\": invalid syntax");
  EXPECT_EQ(parse_hex_uint64("10000000000000000").error,
            "strconv.ParseUint: parsing \"10000000000000000\": value out of range");
  // The overflow comes first here, so it is what Go reports.
  EXPECT_EQ(parse_hex_uint64("10000000000000000z").error,
            "strconv.ParseUint: parsing \"10000000000000000z\": value out of range");
}

TEST(GoFormatting, SlicesAndHex) {
  EXPECT_EQ(go_string_slice({}), "[]");
  EXPECT_EQ(go_string_slice({"a", "b c"}), "[a b c]");
  EXPECT_EQ(hex_u64(0), "0");
  EXPECT_EQ(hex_u64(0x91bc3c398fb3c146), "91bc3c398fb3c146");
}

TEST(CheckPeerUrls, AsEtcdTypesNewURLs) {
  EXPECT_EQ(check_peer_urls({"http://127.0.0.1:2380"}), "");
  EXPECT_EQ(check_peer_urls({"https://[::1]:2380", " http://a:1 "}), "");
  EXPECT_EQ(check_peer_urls({"unix://x"}), "");
  EXPECT_EQ(check_peer_urls({}), "no valid URLs given");
  EXPECT_EQ(check_peer_urls({"127.0.0.1:2380"}),
            "parse \"127.0.0.1:2380\": first path segment in URL cannot contain colon");
  EXPECT_EQ(check_peer_urls({"localhost"}),
            "URL scheme must be http, https, unix, or unixs: localhost");
  EXPECT_EQ(check_peer_urls({"ftp://a:1"}),
            "URL scheme must be http, https, unix, or unixs: ftp://a:1");
  EXPECT_EQ(check_peer_urls({"http://a"}),
            "URL address does not have the form \"host:port\": http://a");
  EXPECT_EQ(check_peer_urls({"http://a:1/p"}), "URL must not contain a path: http://a:1/p");
  EXPECT_EQ(check_peer_urls({":2380"}), "parse \":2380\": missing protocol scheme");
  EXPECT_EQ(check_peer_urls({"http://a:x"}),
            "parse \"http://a:x\": invalid port \":x\" after host");
  EXPECT_EQ(check_peer_urls({"http://a:1", ""}),
            "URL scheme must be http, https, unix, or unixs: ");
}

TEST(SplitCommas, AsGoStringsSplit) {
  EXPECT_EQ(split_commas(""), std::vector<std::string>{""});
  EXPECT_EQ(split_commas("a,,b"), (std::vector<std::string>{"a", "", "b"}));
}

}  // namespace
}  // namespace etcd::ctl
