// A small datadriven test runner in the style of cockroachdb/datadriven (the
// format etcd's raft trace tests use). A test file is a sequence of blocks:
//
//   # a comment line (ignored, kept verbatim on rewrite)
//   command arg1 key=value key=(v1 v2 v3) (v4 v5)
//   optional input lines
//   ----
//   expected output lines
//   <blank line or end of file>
//
// When the expected output itself contains blank lines, the block uses the
// double-separator form, in which only a "----" line immediately followed by
// another "----" line ends the output:
//
//   command
//   ----
//   ----
//   output with
//
//   a blank line
//   ----
//   ----
//
// Arguments: `key`, `key=value`, `key=(a b c)` or `key=(a,b,c)` (a list), and a
// bare `(a b c)` group (a list with an empty key). A command line ending in a
// backslash continues on the next line.
//
// Running a file hands every block to a handler and compares its output with
// the expected one (a trailing newline is added to non-empty output). In
// rewrite mode the file is written back with the actual outputs instead, all
// other lines (comments, blank lines, inputs) kept as they were.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/status.h"

namespace etcd::raft::rafttest {

struct CmdArg {
  std::string key;                // empty for a bare "(a b)" group
  std::vector<std::string> vals;  // empty for a plain `key`
  bool has_list = false;          // written with parentheses

  // As written (normalised spacing), e.g. "voters=(1 2 3)".
  std::string to_string() const;
};

struct TestData {
  std::string pos;  // "file:line" of the command line
  std::string cmd;
  std::vector<CmdArg> args;
  // The lines between the command and "----", joined with '\n' (no trailing
  // newline); empty when there are none.
  std::string input;
  // The expected output as written in the file; ends with '\n' unless empty.
  std::string expected;

  // The command line, e.g. "add-nodes 3 voters=(1 2 3)".
  std::string directive() const;
  // The first argument with this key, or nullptr.
  const CmdArg* find_arg(const std::string& key) const;
};

// Parses a datadriven file. Syntax errors carry "file:line: ...".
Result<std::vector<TestData>> parse_file(const std::string& path);
Result<std::vector<TestData>> parse_string(const std::string& name, const std::string& text);

// Runs a command; a returned error is a problem of the script (bad arguments,
// unknown command), reported as a failure at the block's position.
using Handler = std::function<Result<std::string>(const TestData&)>;

struct RunOptions {
  // Write the actual outputs back into the file instead of comparing.
  bool rewrite = false;
};

// Runs every block of the file through the handler. Returns one readable
// message per failure (mismatch or handler error); empty when all passed.
// A mismatch message carries the position, the command, and a line diff of
// expected against actual output.
std::vector<std::string> run_file(const std::string& path, const Handler& handler,
                                  const RunOptions& options);

// A line-based diff of two texts: common lines prefixed "  ", lines only in
// `expected` with "- ", lines only in `actual` with "+ ".
std::string line_diff(const std::string& expected, const std::string& actual);

}  // namespace etcd::raft::rafttest
