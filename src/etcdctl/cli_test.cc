#include "etcdctl/cli.h"

#include <gtest/gtest.h>

namespace etcd::ctl {
namespace {

TEST(Tabwrite, AlignsCellsToTabStopsPerBlock) {
  // Go's tabwriter (0, 8, 1, '\t', 0): a column is as wide as its widest
  // cell plus one, rounded up to a tab stop, and padded with tabs.
  EXPECT_EQ(
      tabwrite("\talarm disarm\tDisarms\n\tdefrag\tDefragments\n\tcompletion powershell\tGen\n"),
      "\talarm disarm\t\tDisarms\n\tdefrag\t\t\tDefragments\n\tcompletion powershell\tGen\n");
  // A line without tabs ends a block.
  EXPECT_EQ(tabwrite("a\tb\nheader\nlonger cell\tc\n"), "a\tb\nheader\nlonger cell\tc\n");
}

TEST(GoDuration, FormatsAsGoDoes) {
  EXPECT_EQ(go_duration(0), "0s");
  EXPECT_EQ(go_duration(5'000'000'000), "5s");
  EXPECT_EQ(go_duration(1'500'000'000), "1.5s");
  EXPECT_EQ(go_duration(120'000'000'000), "2m0s");
  EXPECT_EQ(go_duration(3'600'000'000'000), "1h0m0s");
  EXPECT_EQ(go_duration(300'000'000), "300ms");
  EXPECT_EQ(parse_go_duration("1m30s"), 90'000'000'000);
  EXPECT_EQ(parse_go_duration("100ms"), 100'000'000);
  EXPECT_EQ(parse_go_duration("abc"), std::nullopt);
  EXPECT_EQ(parse_go_duration("5"), std::nullopt);
}

TEST(Command, ParsesPflagSyntaxAndFindsSubcommands) {
  Command root("etcdctl", "root");
  root.persistent_flags().add(FlagKind::kString, "write-out", "w", "simple", "format");
  root.persistent_flags().add(FlagKind::kBool, "hex", "", "false", "hex");
  std::vector<std::string> got;
  std::string w;
  bool hex = false;
  int64_t limit = -1;
  auto& get = root.add("get [options] <key> [range_end] [flags]", "Gets", "", [&](Invocation& inv) {
    got = inv.args;
    w = inv.get_string("write-out");
    hex = inv.get_bool("hex");
    limit = inv.get_int("limit");
  });
  get.flags().add(FlagKind::kInt, "limit", "", "0", "limit");
  EXPECT_EQ(root.execute({"-w", "json", "get", "a", "--limit=3", "--hex", "b"}), 0);
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(w, "json");
  EXPECT_TRUE(hex);
  EXPECT_EQ(limit, 3);
  // Prefix matching, "--" ends the flags.
  EXPECT_EQ(root.execute({"ge", "--", "-x"}), 0);
  EXPECT_EQ(got, (std::vector<std::string>{"-x"}));
  EXPECT_EQ(root.execute({"get", "--limit", "abc"}), kExitError);
  EXPECT_EQ(root.execute({"get", "--nope"}), kExitError);
  EXPECT_EQ(root.execute({"nope"}), kExitError);
}

TEST(Command, UnknownCommandsAsCobraFindsThem) {
  Command root("etcdctl", "root");
  root.persistent_flags().add(FlagKind::kBool, "hex", "", "false", "hex");
  bool ran = false;
  root.add("get <key>", "Gets", "", [&](Invocation&) { ran = true; });
  root.add("put <key> <value>", "Puts", "", [&](Invocation&) { ran = true; });
  auto run = [&](std::vector<std::string> argv) {
    ran = false;
    testing::internal::CaptureStderr();
    const int code = root.execute(argv);
    return std::make_pair(code, testing::internal::GetCapturedStderr());
  };
  // An unknown flag takes the next word as its value: "k" is the command.
  EXPECT_EQ(run({"--frobnicate", "get", "k"}),
            std::make_pair(int{kExitError},
                           std::string("Error: unknown command \"k\" for \"etcdctl\"\n"
                                       "Run 'etcdctl --help' for usage.\n"
                                       "Error: unknown command \"k\" for \"etcdctl\"\n")));
  // ...unless it is the last word: then the flag is what is wrong.
  EXPECT_EQ(run({"--frobnicate", "get"}).first, kExitError);
  EXPECT_FALSE(ran);
  // A known bool flag takes no value.
  EXPECT_EQ(run({"--hex", "get", "k"}).first, 0);
  EXPECT_TRUE(ran);
  // Suggestions: edit distance <= 2 ignoring case, or a prefix.
  const std::string err = run({"GTE"}).second;
  EXPECT_NE(err.find("Did you mean this?\n\tget\n\n"), std::string::npos) << err;
  EXPECT_EQ(run({"frobnicate"}).second.find("Did you mean"), std::string::npos);
}

TEST(Command, UsageFollowsEtcdctlsTemplate) {
  Command root("etcdctl", "A simple command line client for etcd3.");
  root.persistent_flags().add(FlagKind::kDuration, "dial-timeout", "", "2s", "dial timeout");
  auto& put = root.add("put [options] <key> <value>", "Puts the given key into the store",
                       "Puts the given key into the store.\n", [](Invocation&) {});
  put.flags().add(FlagKind::kString, "lease", "", "0",
                  "lease ID (in hexadecimal) to attach to the key");
  EXPECT_EQ(put.usage(),
            "NAME:\n\tput - Puts the given key into the store\n\nUSAGE:\n\tetcdctl put [options] "
            "<key> <value> "
            "[flags]\n\nDESCRIPTION:\n\tPuts the given key into the store.\n\nOPTIONS:\n"
            "  -h, --help[=false]\thelp for put\n      --lease=\"0\"\tlease ID (in hexadecimal) to "
            "attach to the "
            "key\n\nGLOBAL OPTIONS:\n      --dial-timeout=2s\tdial timeout\n\n");
}

}  // namespace
}  // namespace etcd::ctl
