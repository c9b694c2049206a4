// Raft trace tests: every file in src/raft/testdata/ is a datadriven script
// run against an InteractionEnv (see interaction_env.h for the commands and
// the output format). One test per file.
//
//   raft_trace_test                     compare with the expected outputs
//   raft_trace_test --rewrite           rewrite the files with the actual ones
//   REWRITE=1 raft_trace_test           (the same)
//   raft_trace_test --gtest_filter='*/campaign'
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "raft/rafttest/datadriven.h"
#include "raft/rafttest/interaction_env.h"

#ifndef RAFT_TESTDATA_DIR
#error "RAFT_TESTDATA_DIR must be defined (the absolute path of src/raft/testdata)"
#endif

namespace etcd::raft::rafttest {
namespace {

bool g_rewrite = false;

std::vector<std::string> testdata_files() {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(RAFT_TESTDATA_DIR)) {
    if (e.is_regular_file() && e.path().extension() == ".txt") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string test_name(const testing::TestParamInfo<std::string>& info) {
  std::string name = std::filesystem::path(info.param).stem().string();
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

class TraceTest : public testing::TestWithParam<std::string> {};

TEST_P(TraceTest, Run) {
  InteractionEnv env;
  RunOptions options;
  options.rewrite = g_rewrite;
  auto failures = run_file(
      GetParam(), [&env](const TestData& d) { return env.handle(d); }, options);
  for (const auto& f : failures) ADD_FAILURE() << f;
}

INSTANTIATE_TEST_SUITE_P(Testdata, TraceTest, testing::ValuesIn(testdata_files()), test_name);

TEST(Datadriven, ParsesArgumentsAndBothOutputForms) {
  auto parsed = parse_string("t.txt",
                             "# comment\n"
                             "cmd 1 k=v l=(1 2,3) (4 5) \\\n"
                             "  more\n"
                             "input line\n"
                             "----\n"
                             "out\n"
                             "\n"
                             "other\n"
                             "----\n"
                             "----\n"
                             "a\n"
                             "\n"
                             "b\n"
                             "----\n"
                             "----\n");
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().message();
  ASSERT_EQ(parsed->size(), 2u);
  const TestData& d = (*parsed)[0];
  EXPECT_EQ(d.pos, "t.txt:2");
  EXPECT_EQ(d.cmd, "cmd");
  EXPECT_EQ(d.directive(), "cmd 1 k=v l=(1 2 3) (4 5) more");
  EXPECT_EQ(d.input, "input line");
  EXPECT_EQ(d.expected, "out\n");
  EXPECT_EQ((*parsed)[1].expected, "a\n\nb\n");
  EXPECT_EQ(d.find_arg("l")->vals, (std::vector<std::string>{"1", "2", "3"}));
}

TEST(Datadriven, RejectsMissingSeparator) {
  auto parsed = parse_string("t.txt", "cmd\nno separator\n");
  ASSERT_FALSE(parsed.is_ok());
  EXPECT_NE(parsed.status().message().find("t.txt:1"), std::string::npos);
}

TEST(Datadriven, LineDiff) {
  EXPECT_EQ(line_diff("a\nb\nc\n", "a\nx\nc\n"), "  a\n- b\n+ x\n  c\n");
}

}  // namespace
}  // namespace etcd::raft::rafttest

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--rewrite") == 0) etcd::raft::rafttest::g_rewrite = true;
  }
  if (const char* r = std::getenv("REWRITE"); r != nullptr && std::strcmp(r, "1") == 0) {
    etcd::raft::rafttest::g_rewrite = true;
  }
  return RUN_ALL_TESTS();
}
