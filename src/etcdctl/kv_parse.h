// The text parsing behind etcdctl's txn and interactive watch: splitting a
// request line into words (etcdctl's argify), the compare syntax
// `value("k") = "v"`, Go's %q scanning, and standard input read the way
// etcdctl's bufio reader reads it (docs/etcdctl.md).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "etcdserverpb/rpc.pb.h"

namespace etcd::ctl {

// A Go runtime panic: etcdctl crashes with "panic: <message>" and exit code
// 2 where the reference does (txn's bad compare operator, argify's slice
// bounds).
struct GoPanic {
  std::string message;
};
[[noreturn]] void go_panic(const std::string& message);  // prints and exits 2

// Go's fmt %q scan of one quoted string at the start of `in` (after spaces):
// "..." with Go escapes, or `...` raw. On success sets `out` and the bytes
// consumed; else the Go error text ("EOF", "unexpected EOF", "invalid
// syntax", "expected quoted string").
struct ScanResult {
  std::string value;
  size_t consumed = 0;
  std::string error;  // "" on success
};
ScanResult scan_quoted(std::string_view in);

// etcdctl's argify: words, "double quoted" (unquoted as Go does) and
// 'single quoted' strings, including etcdctl's slicing of single-quoted words
// by the word count (so `put k 'ab'` gives "a"; out of bounds panics as the
// reference does). Throws GoPanic; a bad escape in a double-quoted word is
// the error string (`error` set).
struct ArgifyResult {
  std::vector<std::string> args;
  std::string error;
};
ArgifyResult argify(const std::string& line);

// One txn compare line: `target("key") op "value"` with target ver|version,
// c|create, m|mod, val|value, lease (hex lease ID) and op = != > <.
// Returns the compare, or etcdctl's error text in `error`. An unknown
// operator throws GoPanic("Unknown result op"), as clientv3.Compare panics.
struct CompareResult {
  etcdserverpb::Compare compare;
  std::string error;
};
CompareResult parse_compare(const std::string& line);

// Standard input read in 4096-byte reads into a buffer, as Go's
// bufio.Reader does, so that what a line reader has not consumed is what a
// later "read everything" sees (txn's `put k` reads the rest of stdin).
class StdinReader {
 public:
  explicit StdinReader(int fd = 0) : fd_(fd) {}
  // A line with its '\n'; false at end of input, with what was read before
  // it in `line` (Go's ReadString returns it with io.EOF).
  bool read_line(std::string& line);
  // Everything from the file descriptor not yet read into the buffer.
  std::string read_rest_unbuffered();

 private:
  bool fill();
  int fd_;
  std::string buf_;  // read, not yet consumed
  bool eof_ = false;
};

// Go's strings.TrimSpace (ASCII and Unicode white space).
std::string go_trim_space(std::string_view s);

}  // namespace etcd::ctl
