#include "etcdctl/v2/urfave.h"

#include <gtest/gtest.h>

namespace etcd::ctl::v2 {
namespace {

TEST(UrfaveFlags, HelpLinesAsUrfaveWritesThem) {
  EXPECT_EQ(flag_help_line({FlagType::kBool, "quorum, q", "require quorum", ""}),
            "--quorum, -q\trequire quorum");
  EXPECT_EQ(flag_help_line({FlagType::kInt, "ttl", "key time-to-live in seconds", "0"}),
            "--ttl value\tkey time-to-live in seconds (default: 0)");
  EXPECT_EQ(flag_help_line({FlagType::kString, "output, o",
                            "output response in the given format (`simple`, `extended` or `json`)",
                            "simple"}),
            "--output simple, -o simple\toutput response in the given format (simple, `extended` "
            "or `json`) (default: \"simple\")");
  EXPECT_EQ(flag_help_line({FlagType::kDuration, "timeout", "per request", "2s"}),
            "--timeout value\tper request (default: 2s)");
  EXPECT_EQ(flag_help_line({FlagType::kString, "with-value", "previous value", ""}),
            "--with-value value\tprevious value");
}

TEST(UrfaveTabwriter, AlignsColumnBlocksSeparately) {
  EXPECT_EQ(tabwrite("A:\n   a\tx\n   long\ty\n\nB:\n   b\tz\n"),
            "A:\n   a     x\n   long  y\n\nB:\n   b  z\n");
  EXPECT_EQ(tabwrite("no tabs\n"), "no tabs\n");
}

TEST(UrfaveParse, GoFlagSyntax) {
  std::vector<FlagDef> defs = {{FlagType::kBool, "sort", "", ""},
                               {FlagType::kInt, "ttl", "", "0"},
                               {FlagType::kString, "output, o", "", "simple"},
                               {FlagType::kDuration, "timeout", "", "2s"}};
  FlagValues v(&defs);
  std::vector<std::string> rest;
  EXPECT_EQ(v.parse({"-sort", "--ttl", "0x10", "-o=json", "--timeout=1s", "a", "-b"}, rest), "");
  EXPECT_TRUE(v.get_bool("sort"));
  EXPECT_EQ(v.get_int("ttl"), 16);
  EXPECT_EQ(v.get_string("o"), "json");
  EXPECT_EQ(v.get_duration_ns("timeout"), 1000000000);
  EXPECT_EQ(rest, (std::vector<std::string>{"a", "-b"}));
  EXPECT_EQ(v.normalize(), "");
  EXPECT_EQ(v.get_string("output"), "json");

  FlagValues w(&defs);
  EXPECT_EQ(w.parse({"--nope"}, rest), "flag provided but not defined: -nope");
  FlagValues x(&defs);
  EXPECT_EQ(x.parse({"--ttl"}, rest), "flag needs an argument: -ttl");
  FlagValues y(&defs);
  EXPECT_EQ(y.parse({"--ttl", "abc"}, rest), "invalid value \"abc\" for flag -ttl: parse error");
  FlagValues z(&defs);
  EXPECT_EQ(z.parse({"--sort=x"}, rest), "invalid boolean value \"x\" for -sort: parse error");
  FlagValues t(&defs);
  EXPECT_EQ(t.parse({"--output", "a", "-o", "b"}, rest), "");
  EXPECT_EQ(t.normalize(), "Cannot use two forms of the same flag: o output");
  FlagValues u(&defs);
  EXPECT_EQ(u.parse({"--", "-sort"}, rest), "");
  EXPECT_FALSE(u.get_bool("sort"));
  EXPECT_EQ(rest, std::vector<std::string>{"-sort"});
  FlagValues b(&defs);
  EXPECT_EQ(b.parse({"---x"}, rest), "bad flag syntax: ---x");
}

TEST(UrfaveReorder, FlagsMoveBeforeArguments) {
  std::vector<FlagDef> defs = {{FlagType::kBool, "recursive, r", "", ""},
                               {FlagType::kInt, "after-index", "", "0"}};
  EXPECT_EQ(reorder_args(defs, {"/foo", "--after-index", "3", "-r"}),
            (std::vector<std::string>{"--after-index", "3", "-r", "/foo"}));
  // The guide's `exec-watch key --sh -c "ls"`: unknown flags stay arguments.
  EXPECT_EQ(reorder_args(defs, {"key", "--sh", "-c", "ls"}),
            (std::vector<std::string>{"key", "--sh", "-c", "ls"}));
  EXPECT_EQ(reorder_args(defs, {"-r", "/foo", "--", "sh", "-c"}),
            (std::vector<std::string>{"-r", "/foo", "--", "sh", "-c"}));
  EXPECT_EQ(reorder_args(defs, {"/foo", "--", "sh"}),
            (std::vector<std::string>{"--", "/foo", "sh"}));
}

TEST(UrfaveHelp, CommandHelpTemplate) {
  CommandDef c;
  c.name = "get";
  c.help_name = "etcdctl get";
  c.usage = "retrieve the value of a key";
  c.args_usage = "<key>";
  c.flags = {{FlagType::kBool, "sort", "returns result in sorted order", ""},
             {FlagType::kBool, "quorum, q", "require quorum for get request", ""}};
  EXPECT_EQ(command_help(c),
            "NAME:\n   etcdctl get - retrieve the value of a key\n\nUSAGE:\n   etcdctl get "
            "[command options] <key>\n\nOPTIONS:\n   --sort        returns result in sorted "
            "order\n   --quorum, -q  require quorum for get request\n   \n");
  CommandDef l;
  l.name = "list";
  l.help_name = "etcdctl member list";
  l.usage = "enumerate existing cluster members";
  l.args_usage = " ";
  EXPECT_EQ(command_help(l),
            "NAME:\n   etcdctl member list - enumerate existing cluster members\n\nUSAGE:\n   "
            "etcdctl member list  \n");
}

}  // namespace
}  // namespace etcd::ctl::v2

namespace etcd::ctl::v2 {
namespace {

TEST(UrfaveRun, RawActionGetsItsArgumentsAsGiven) {
  AppDef app;
  app.flags = {{FlagType::kBool, "debug", "", ""}};
  std::vector<std::string> got;
  CommandDef c;
  c.name = "backup";
  c.raw_action = [&](const std::vector<std::string>& a) {
    got = a;
    return 7;
  };
  app.commands = {c};
  EXPECT_EQ(run_app(app, {"--debug", "backup", "--data-dir", "x", "-h"}), 7);
  EXPECT_EQ(got, (std::vector<std::string>{"--data-dir", "x", "-h"}));
}

TEST(UrfaveRun, ActionSeesGlobalAndLocalFlags) {
  AppDef app;
  app.flags = {{FlagType::kString, "output, o", "", "simple"}};
  CommandDef c;
  c.name = "get";
  c.flags = {{FlagType::kBool, "sort", "", ""}};
  std::string out;
  bool sorted = false;
  std::vector<std::string> args;
  c.action = [&](Context& ctx) {
    out = ctx.global_string("output");
    sorted = ctx.flag_bool("sort");
    args = ctx.args;
    return 0;
  };
  app.commands = {c};
  EXPECT_EQ(run_app(app, {"-o", "json", "get", "/k", "--sort"}), 0);
  EXPECT_EQ(out, "json");
  EXPECT_TRUE(sorted);
  EXPECT_EQ(args, std::vector<std::string>{"/k"});
}

}  // namespace
}  // namespace etcd::ctl::v2
