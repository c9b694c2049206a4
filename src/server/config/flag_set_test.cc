#include "server/config/flag_set.h"

#include <gtest/gtest.h>

namespace etcd::config {
namespace {

FlagSet sample() {
  FlagSet f;
  f.add({"name", FlagType::kString, "default", "", "", nullptr});
  f.add({"snapshot-count", FlagType::kUint, "100000", "", "", nullptr});
  f.add({"quota", FlagType::kInt, "0", "", "", nullptr});
  f.add({"force-new", FlagType::kBool, "false", "", "", nullptr});
  f.add({"urls", FlagType::kStrings, "http://a:1", "", "", nullptr});
  return f;
}

TEST(FlagSet, AllFourSpellingsOfAValueFlag) {
  for (auto args : std::vector<std::vector<std::string>>{
           {"--name", "n1"}, {"--name=n1"}, {"-name", "n1"}, {"-name=n1"}}) {
    FlagSet f = sample();
    ASSERT_TRUE(f.parse(args).is_ok()) << args[0];
    EXPECT_EQ(f.get("name"), "n1") << args[0];
    EXPECT_TRUE(f.set_on_command_line("name"));
  }
}

TEST(FlagSet, DefaultsWhenNotGiven) {
  FlagSet f = sample();
  ASSERT_TRUE(f.parse({}).is_ok());
  EXPECT_EQ(f.get("name"), "default");
  EXPECT_EQ(f.get_uint("snapshot-count"), 100000u);
  EXPECT_FALSE(f.get_bool("force-new"));
  EXPECT_FALSE(f.set_on_command_line("name"));
  EXPECT_FALSE(f.is_set("name"));
}

TEST(FlagSet, Booleans) {
  FlagSet a = sample();
  ASSERT_TRUE(a.parse({"--force-new"}).is_ok());
  EXPECT_TRUE(a.get_bool("force-new"));
  FlagSet b = sample();
  ASSERT_TRUE(b.parse({"--force-new=false"}).is_ok());
  EXPECT_FALSE(b.get_bool("force-new"));
  FlagSet c = sample();
  ASSERT_TRUE(c.parse({"-force-new=T"}).is_ok());
  EXPECT_TRUE(c.get_bool("force-new"));
  // As Go: "--flag false" does not take the next word; parsing stops there.
  FlagSet d = sample();
  ASSERT_TRUE(d.parse({"--force-new", "false"}).is_ok());
  EXPECT_TRUE(d.get_bool("force-new"));
  EXPECT_EQ(d.positional(), std::vector<std::string>{"false"});
  FlagSet e = sample();
  auto bad = e.parse({"--force-new=maybe"});
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().message(), "invalid boolean value \"maybe\" for -force-new: parse error");
}

TEST(FlagSet, ListsAndNumbers) {
  FlagSet f = sample();
  ASSERT_TRUE(
      f.parse({"--urls=http://x:1,http://y:2", "--quota", "-5", "--snapshot-count=0x10"}).is_ok());
  EXPECT_EQ(f.get_strings("urls"), (std::vector<std::string>{"http://x:1", "http://y:2"}));
  EXPECT_EQ(f.get_int("quota"), -5);
  EXPECT_EQ(f.get_uint("snapshot-count"), 16u);
}

TEST(FlagSet, LastOccurrenceWins) {
  FlagSet f = sample();
  ASSERT_TRUE(f.parse({"--name=a", "--name=b"}).is_ok());
  EXPECT_EQ(f.get("name"), "b");
}

TEST(FlagSet, GoErrorMessages) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  std::vector<Case> cases = {
      {{"--bogus"}, "flag provided but not defined: -bogus"},
      {{"-bogus=1"}, "flag provided but not defined: -bogus"},
      {{"--name"}, "flag needs an argument: -name"},
      {{"--snapshot-count=abc"}, "invalid value \"abc\" for flag -snapshot-count: parse error"},
      {{"--snapshot-count", "-1"}, "invalid value \"-1\" for flag -snapshot-count: parse error"},
      {{"---name=x"}, "bad flag syntax: ---name=x"},
      {{"-=x"}, "bad flag syntax: -=x"},
  };
  for (const auto& c : cases) {
    FlagSet f = sample();
    auto r = f.parse(c.args);
    ASSERT_FALSE(r.is_ok()) << c.args[0];
    EXPECT_EQ(r.status().message(), c.message);
  }
}

TEST(FlagSet, HelpAndPositional) {
  for (auto h : {"-h", "--help", "-help"}) {
    FlagSet f = sample();
    auto r = f.parse({h});
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(*r, FlagSet::Outcome::kHelp);
  }
  FlagSet f = sample();
  ASSERT_TRUE(f.parse({"--name=x", "extra", "--force-new"}).is_ok());
  EXPECT_EQ(f.positional(), (std::vector<std::string>{"extra", "--force-new"}));
  EXPECT_FALSE(f.get_bool("force-new"));  // parsing stopped at "extra"
  FlagSet g = sample();
  ASSERT_TRUE(g.parse({"--", "--name=x"}).is_ok());
  EXPECT_EQ(g.get("name"), "default");
  EXPECT_EQ(g.positional(), std::vector<std::string>{"--name=x"});
}

TEST(FlagSet, EnvFillsUnsetFlags) {
  FlagSet f = sample();
  ASSERT_TRUE(f.parse({}).is_ok());
  auto r = f.set_from_env(
      "ETCD", {"ETCD_NAME=n2", "ETCD_SNAPSHOT_COUNT=7", "PATH=/bin", "ETCD_FORCE_NEW=true"});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(f.get("name"), "n2");
  EXPECT_EQ(f.get_uint("snapshot-count"), 7u);
  EXPECT_TRUE(f.get_bool("force-new"));
  EXPECT_TRUE(f.is_set("name"));
  EXPECT_FALSE(f.set_on_command_line("name"));
  EXPECT_EQ(r->used.size(), 3u);
  EXPECT_TRUE(r->unrecognized.empty());
}

TEST(FlagSet, EmptyEnvIsIgnored) {
  FlagSet f = sample();
  ASSERT_TRUE(f.parse({"--name=cli"}).is_ok());
  auto r = f.set_from_env("ETCD", {"ETCD_NAME=", "ETCD_SNAPSHOT_COUNT="});
  ASSERT_TRUE(r.is_ok());  // an empty variable neither conflicts nor sets
  EXPECT_EQ(f.get("name"), "cli");
  EXPECT_EQ(f.get_uint("snapshot-count"), 100000u);
  EXPECT_TRUE(r->used.empty());
}

TEST(FlagSet, EnvShadowedByFlagIsAConflict) {
  FlagSet f = sample();
  ASSERT_TRUE(f.parse({"--name", "y"}).is_ok());
  auto r = f.set_from_env("ETCD", {"ETCD_NAME=x"});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(r.status().message(),
            "conflicting environment variable \"ETCD_NAME\" is shadowed by corresponding "
            "command-line flag (either unset environment variable or disable flag)");
}

TEST(FlagSet, UnknownEnvIsReportedNotFatal) {
  FlagSet f = sample();
  ASSERT_TRUE(f.parse({}).is_ok());
  auto r = f.set_from_env("ETCD", {"ETCD_ENABLE_V2=true", "ETCDCTL_API=3", "ETCD_NAME=x"});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->unrecognized, std::vector<std::string>{"ETCD_ENABLE_V2=true"});
  EXPECT_EQ(f.get("name"), "x");
}

TEST(FlagSet, BadEnvValue) {
  FlagSet f = sample();
  ASSERT_TRUE(f.parse({}).is_ok());
  auto r = f.set_from_env("ETCD", {"ETCD_SNAPSHOT_COUNT=lots"});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().message(), "invalid value \"lots\" for ETCD_SNAPSHOT_COUNT: parse error");
}

TEST(FlagSet, EnvName) {
  EXPECT_EQ(FlagSet::env_name("ETCD", "initial-cluster-token"), "ETCD_INITIAL_CLUSTER_TOKEN");
}

TEST(FlagSet, ParseHelpers) {
  EXPECT_EQ(parse_uint("010"), 8u);  // base 0, as Go
  EXPECT_EQ(parse_uint("0b11"), 3u);
  EXPECT_FALSE(parse_uint("18446744073709551616").has_value());
  EXPECT_EQ(parse_int("-9223372036854775808"), INT64_MIN);
  EXPECT_FALSE(parse_int("9223372036854775808").has_value());
  EXPECT_FALSE(parse_int("").has_value());
  EXPECT_EQ(split_list("a,b,,c"), (std::vector<std::string>{"a", "b", "", "c"}));
  EXPECT_TRUE(split_list("").empty());
}

}  // namespace
}  // namespace etcd::config
