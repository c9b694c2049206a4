// The command line: cobra's errors and exit codes, prefix matching, help,
// flags in pflag's forms.
#include "etcdutl/cli.h"

#include <gtest/gtest.h>

#include <sstream>

namespace etcd::utl {
namespace {

struct Outcome {
  int code;
  std::string out;
  std::string err;
};

Outcome run(std::vector<std::string> args) {
  std::ostringstream out, err;
  int code = run_cli(args, out, err);
  return {code, out.str(), err.str()};
}

TEST(CliTest, UnknownCommandAsCobra) {
  Outcome r = run({"x"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err,
            "Error: unknown command \"x\" for \"etcdutl\"\nRun 'etcdutl --help' for usage.\n");
  r = run({"snapshott"});
  EXPECT_EQ(
      r.err,
      "Error: unknown command \"snapshott\" for \"etcdutl\"\n\nDid you mean this?\n\tsnapshot\n\n"
      "Run 'etcdutl --help' for usage.\n");
}

TEST(CliTest, VersionAndHelp) {
  Outcome r = run({"version"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out.rfind("etcdutl version: 3.5", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("API version: 3.5\n"), std::string::npos);
  r = run({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("Usage:\n  etcdutl [command]\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  snapshot    Manages etcd node snapshots\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  -w, --write-out string   set the output format (fields, json, "
                       "protobuf, simple, table) (default \"simple\")\n"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(run({}).out, r.out);
  Outcome sub = run({"snapshot", "restore", "-h"});
  EXPECT_NE(sub.out.find("etcdutl snapshot restore <filename> --data-dir {output dir} [options] "
                         "[flags]"),
            std::string::npos)
      << sub.out;
  EXPECT_NE(sub.out.find("--skip-hash-check"), std::string::npos);
  EXPECT_NE(sub.out.find("Global Flags:"), std::string::npos);
  EXPECT_EQ(run({"help", "snapshot", "restore"}).out, sub.out);
  // Ours alone, hidden from the list but with its own help.
  EXPECT_EQ(r.out.find("migrate-to-etcd"), std::string::npos);
  sub = run({"migrate-to-etcd", "--help"});
  EXPECT_EQ(sub.code, 0);
  EXPECT_NE(sub.out.find("etcdutl migrate-to-etcd [flags]"), std::string::npos) << sub.out;
  EXPECT_NE(sub.out.find("--data-dir string"), std::string::npos) << sub.out;
}

TEST(CliTest, ArgumentErrors) {
  Outcome r = run({"snapshot", "status"});
  EXPECT_EQ(r.code, kExitBadArgs);
  EXPECT_EQ(r.err, "Error: snapshot status requires exactly one argument\n");
  r = run({"snap", "restore", "a", "b"});  // a unique prefix names the command
  EXPECT_EQ(r.code, kExitBadArgs);
  EXPECT_EQ(r.err, "Error: snapshot restore requires exactly one argument\n");
  r = run({"snapshot", "restore", "f", "--bump-revision=3"});
  EXPECT_EQ(r.code, kExitBadArgs);
  EXPECT_EQ(r.err, "Error: --mark-compacted required if --revision-bump > 0\n");
  r = run({"defrag"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err,
            "Error: required flag(s) \"data-dir\" not set\nRun 'etcdutl --help' for usage.\n");
  r = run({"snapshot", "status", "f", "--bogus"});
  EXPECT_EQ(r.err, "Error: unknown flag: --bogus\nRun 'etcdutl --help' for usage.\n");
  r = run({"snapshot", "status", "f", "-w", "yaml"});
  EXPECT_EQ(r.code, kExitBadFeature);
  EXPECT_EQ(r.err, "Error: unsupported output format\n");
  r = run({"hashkv"});
  EXPECT_EQ(r.err, "Error: accepts 1 arg(s), received 0\nRun 'etcdutl --help' for usage.\n");
  r = run({"hashkv", "f", "--rev", "x"});
  EXPECT_EQ(r.err,
            "Error: invalid argument \"x\" for \"--rev\" flag: strconv.ParseInt: parsing \"x\": "
            "invalid syntax\nRun 'etcdutl --help' for usage.\n");
}

TEST(CliTest, ErrorsOfTheOperations) {
  Outcome r = run({"snapshot", "status", "/nonexistent/snap.db", "--write-out=json"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "Error: stat /nonexistent/snap.db: no such file or directory\n");
  r = run({"defrag", "--data-dir", "/nonexistent/d"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err.rfind("Error: Failed to defragment etcd data[/nonexistent/d] (", 0), 0u) << r.err;
  r = run({"migrate-to-etcd", "--data-dir", "/nonexistent/d"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("Error: Failed to migrate etcd data[/nonexistent/d] (no member db in "
                       "/nonexistent/d: stat /nonexistent/d/member/snap/db: No such file or "
                       "directory)\n"),
            std::string::npos)
      << r.err;
  r = run({"migrate-to-etcd"});
  EXPECT_EQ(r.code, 1);
  r = run({"migrate-to-etcd", "--data-dir", "/nonexistent/d", "--target-version", "3.3"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--target-version must be 3.4 or 3.5, not \"3.3\""), std::string::npos)
      << r.err;
  r = run({"snapshot", "save", "x.db"});
  EXPECT_EQ(r.code, kExitBadArgs);
  EXPECT_EQ(r.err,
            "Command \"save\" is deprecated, Use `etcdctl snapshot save` to download snapshot\n"
            "Error: In order to download snapshot use: `etcdctl snapshot save ...`\n");
}

}  // namespace
}  // namespace etcd::utl
