#include "etcdctl/kv_parse.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "etcdctl/watch_args.h"

namespace etcd::ctl {
namespace {

using Args = std::vector<std::string>;

// ---- argify ----

TEST(Argify, WordsAndDoubleQuotes) {
  EXPECT_EQ(argify("put foo bar").args, (Args{"put", "foo", "bar"}));
  EXPECT_EQ(argify("  put   foo\tbar  ").args, (Args{"put", "foo", "bar"}));
  EXPECT_EQ(argify(R"(put "a key" "x\"y\n")").args, (Args{"put", "a key", "x\"y\n"}));
  EXPECT_EQ(argify(R"(put k "\x41\u00e9")").args, (Args{"put", "k", "A\xc3\xa9"}));
  EXPECT_EQ(argify("put --prev-kv k v").args, (Args{"put", "--prev-kv", "k", "v"}));
  EXPECT_TRUE(argify("").args.empty());
}

TEST(Argify, QuotesInsideWordsStay) {
  // A word starting with a plain character runs to the next space.
  EXPECT_EQ(argify(R"(get a"b c")").args, (Args{"get", "a\"b", "c\""}));
  EXPECT_EQ(argify("x").args, (Args{"x"}));
}

TEST(Argify, BadEscapeIsAnError) {
  ArgifyResult r = argify(R"(put k "\q")");
  EXPECT_EQ(r.error, "invalid syntax");
}

TEST(Argify, SingleQuotesSlicedByWordCount) {
  // etcdctl slices 'word' as word[1:len(args)-1]: three words give one
  // character.
  EXPECT_EQ(argify("put k 'hello'").args, (Args{"put", "k", "h"}));
  EXPECT_EQ(argify("put k a 'hello'").args, (Args{"put", "k", "a", "he"}));
  try {
    argify("put a b c 'x'");
    FAIL() << "no panic";
  } catch (const GoPanic& p) {
    EXPECT_EQ(p.message, "runtime error: slice bounds out of range [:4] with length 3");
  }
  try {
    argify("'x'");
    FAIL() << "no panic";
  } catch (const GoPanic& p) {
    EXPECT_EQ(p.message, "runtime error: slice bounds out of range [1:0]");
  }
}

// ---- %q scanning ----

TEST(ScanQuoted, Forms) {
  EXPECT_EQ(scan_quoted(R"("abc") rest)").value, "abc");
  EXPECT_EQ(scan_quoted(R"("abc") rest)").consumed, 5u);
  EXPECT_EQ(scan_quoted("  `raw\\n`").value, "raw\\n");
  EXPECT_EQ(scan_quoted(R"("a\"b")").value, "a\"b");
  EXPECT_EQ(scan_quoted("").error, "EOF");
  EXPECT_EQ(scan_quoted("   ").error, "EOF");
  EXPECT_EQ(scan_quoted(R"("abc)").error, "unexpected EOF");
  EXPECT_EQ(scan_quoted("abc").error, "expected quoted string");
  EXPECT_EQ(scan_quoted(R"("\'")").error, "invalid syntax");
}

// ---- compares ----

TEST(ParseCompare, Targets) {
  CompareResult r = parse_compare(R"(value("k") = "v")");
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.compare.key(), "k");
  EXPECT_EQ(r.compare.target(), etcdserverpb::Compare::VALUE);
  EXPECT_EQ(r.compare.result(), etcdserverpb::Compare::EQUAL);
  EXPECT_EQ(r.compare.value(), "v");

  r = parse_compare(R"(ver("k") != "3")");
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.compare.target(), etcdserverpb::Compare::VERSION);
  EXPECT_EQ(r.compare.result(), etcdserverpb::Compare::NOT_EQUAL);
  EXPECT_EQ(r.compare.version(), 3);
  EXPECT_TRUE(r.compare.has_version());

  r = parse_compare(R"(c("k") > "0")");
  EXPECT_EQ(r.compare.target(), etcdserverpb::Compare::CREATE);
  EXPECT_EQ(r.compare.result(), etcdserverpb::Compare::GREATER);
  EXPECT_TRUE(r.compare.has_create_revision());

  r = parse_compare(R"(mod("k") < "10")");
  EXPECT_EQ(r.compare.target(), etcdserverpb::Compare::MOD);
  EXPECT_EQ(r.compare.result(), etcdserverpb::Compare::LESS);
  EXPECT_EQ(r.compare.mod_revision(), 10);

  // etcd 3.5's etcdctl panics on any lease compare.
  try {
    parse_compare(R"(lease("k") = "1a")");
    ADD_FAILURE() << "no panic";
  } catch (const GoPanic& p) {
    EXPECT_EQ(p.message, "bad value");
  }

  // An empty value is still a value compare.
  r = parse_compare(R"(val("k") = "")");
  EXPECT_TRUE(r.compare.has_value());
  EXPECT_EQ(r.compare.value(), "");
}

TEST(ParseCompare, Errors) {
  EXPECT_EQ(parse_compare("value").error, "malformed comparison: value");
  EXPECT_EQ(parse_compare(R"(value("foo") =)").error,
            R"(malformed comparison: value("foo") =; got value("foo") = "")");
  EXPECT_EQ(parse_compare(R"(value("foo")= "x")").error,
            R"(malformed comparison: value("foo")= "x"; got value("foo")  "")");
  EXPECT_EQ(parse_compare(R"(value(foo) = "x")").error,
            R"(malformed comparison: value(foo) = "x"; got value("")  "")");
  EXPECT_EQ(parse_compare(R"(size("k") = "1")").error,
            R"(malformed comparison: size("k") = "1" (unknown target size))");
  EXPECT_EQ(parse_compare(R"(version("k") = "x")").error,
            R"(invalid txn compare request: version("k") = "x")");
  EXPECT_THROW(parse_compare(R"(value("k") == "v")"), GoPanic);
  // The operator is checked after the number.
  EXPECT_EQ(parse_compare(R"(mod("k") == "x")").error,
            R"(invalid txn compare request: mod("k") == "x")");
}

TEST(TrimSpace, GoRules) {
  EXPECT_EQ(go_trim_space(" \t x y \r\n"), "x y");
  EXPECT_EQ(go_trim_space("\xc2\xa0x\xe3\x80\x80"), "x");
  EXPECT_EQ(go_trim_space("\r\n"), "");
}

TEST(StdinReader, LinesThenRest) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const std::string text = "a\nbb\n\nlast";
  ASSERT_EQ(write(fds[1], text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fds[1]);
  StdinReader r(fds[0]);
  std::string line;
  EXPECT_TRUE(r.read_line(line));
  EXPECT_EQ(line, "a\n");
  EXPECT_TRUE(r.read_line(line));
  EXPECT_EQ(line, "bb\n");
  EXPECT_TRUE(r.read_line(line));
  EXPECT_EQ(line, "\n");
  EXPECT_FALSE(r.read_line(line));
  EXPECT_EQ(line, "last");
  // Everything was buffered: nothing is left for a direct read.
  EXPECT_EQ(r.read_rest_unbuffered(), "");
  close(fds[0]);
}

// ---- watch arguments ----

TEST(WatchArgs, KeyRangeAndExec) {
  WatchArgs w = parse_watch_args({"watch", "foo"}, {"foo"}, "", "");
  EXPECT_EQ(w.error, "");
  EXPECT_EQ(w.watch_args, (Args{"foo"}));
  EXPECT_TRUE(w.exec_args.empty());

  w = parse_watch_args({"--endpoints=x", "watch", "foo", "--rev", "2", "bar", "--", "echo", "foo"},
                       {"foo", "bar", "echo", "foo"}, "", "");
  EXPECT_EQ(w.watch_args, (Args{"foo", "bar"}));
  EXPECT_EQ(w.exec_args, (Args{"echo", "foo"}));

  w = parse_watch_args({"watch", "foo", "--"}, {"foo"}, "", "");
  EXPECT_EQ(w.error, "bad number of arguments (found separator --, but no commands)");
  w = parse_watch_args({"watch"}, {}, "", "");
  EXPECT_EQ(w.error, "bad number of arguments");
}

TEST(WatchArgs, EnvironmentKey) {
  WatchArgs w = parse_watch_args({"watch"}, {}, "k", "z");
  EXPECT_EQ(w.error, "");
  EXPECT_EQ(w.watch_args, (Args{"k", "z"}));
  w = parse_watch_args({"watch", "foo"}, {"foo"}, "k", "");
  EXPECT_EQ(w.error, "bad number of arguments (found conflicting environment key)");
  w = parse_watch_args({"watch", "--", "echo", "hi"}, {"echo", "hi"}, "k", "");
  EXPECT_EQ(w.error, "");
  EXPECT_EQ(w.watch_args, (Args{"k"}));
  EXPECT_EQ(w.exec_args, (Args{"echo", "hi"}));
  w = parse_watch_args({"watch", "foo", "--", "echo", "hi"}, {"foo", "echo", "hi"}, "k", "");
  EXPECT_EQ(w.error, "bad number of arguments (found conflicting environment key)");
}

TEST(WatchArgs, Interactive) {
  WatchArgs w = parse_interactive_watch_args({"watch", "--prefix", "--rev=3", "foo"}, "", "");
  EXPECT_EQ(w.error, "");
  EXPECT_EQ(w.watch_args, (Args{"foo"}));
  EXPECT_TRUE(w.options.prefix);
  EXPECT_EQ(w.options.rev, 3);
  w = parse_interactive_watch_args({"watch", "foo", "--", "sh", "-c", "env"}, "", "");
  EXPECT_EQ(w.watch_args, (Args{"foo"}));
  EXPECT_EQ(w.exec_args, (Args{"sh", "-c", "env"}));
  w = parse_interactive_watch_args({"watch", "--bogus", "foo"}, "", "");
  EXPECT_EQ(w.error, "unknown flag: --bogus");
  w = parse_interactive_watch_args({"watch", "--rev", "1"}, "", "");
  EXPECT_EQ(w.error, "bad number of arguments");
}

TEST(WatchArgs, Request) {
  etcdserverpb::WatchCreateRequest req;
  WatchOptions o;
  o.prefix = true;
  EXPECT_EQ(watch_request({"a\xff"}, o, &req), "");
  EXPECT_EQ(req.key(), "a\xff");
  EXPECT_EQ(req.range_end(), "b");
  EXPECT_EQ(watch_request({""}, o, &req), "");
  EXPECT_EQ(req.key(), std::string(1, '\0'));
  EXPECT_EQ(req.range_end(), std::string(1, '\0'));
  EXPECT_EQ(watch_request({"a", "b"}, o, &req),
            "`range_end` and `--prefix` are mutually exclusive");
  EXPECT_EQ(watch_request({}, WatchOptions{}, &req), "bad number of arguments");
  EXPECT_EQ(go_quote_list({"sh", "-c", "exit 3"}), R"(["sh" "-c" "exit 3"])");
}

}  // namespace
}  // namespace etcd::ctl
