// The bbolt reader and writer: files real bbolt wrote (committed testdata
// and files the Go tool writes at test time), files our writer wrote
// (checked by the reader and by real bbolt's tx.Check), and corrupt files.
#include "storage/bbolt/bbolt.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "storage/bbolt/format.h"

namespace etcd::bbolt {
namespace {

namespace fs = std::filesystem;
using namespace format;  // NOLINT

// ---- helpers ---------------------------------------------------------------

std::string hex(std::string_view s) {
  if (s.empty()) return "-";
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() * 2);
  for (unsigned char c : s) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

std::string join(const std::vector<std::string>& path) {
  std::string s;
  for (const std::string& p : path) s += (s.empty() ? "" : "/") + hex(p);
  return s;
}

// The content in the Go tool's dump format (B/K lines, depth first).
Status dump_bucket(Reader& r, const std::vector<std::string>& path, std::string* out) {
  std::vector<std::pair<std::string, std::string>> kvs;
  std::vector<bool> is_bucket;
  RETURN_IF_ERROR(r.for_each(path, [&](const Entry& e) {
    kvs.emplace_back(e.key, e.value);
    is_bucket.push_back(e.is_bucket);
    return Status::ok();
  }));
  for (size_t i = 0; i < kvs.size(); ++i) {
    if (is_bucket[i]) {
      std::vector<std::string> child = path;
      child.push_back(kvs[i].first);
      *out += "B " + join(child) + "\n";
      RETURN_IF_ERROR(dump_bucket(r, child, out));
    } else {
      *out += "K " + join(path) + " " + hex(kvs[i].first) + " " + hex(kvs[i].second) + "\n";
    }
  }
  return Status::ok();
}

std::string dump(Reader& r) {
  std::string out;
  Status s = dump_bucket(r, {}, &out);
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  return out;
}

// Content to write: keys and nested buckets, each in byte order.
struct Model {
  std::map<std::string, std::string> kv;
  std::map<std::string, Model> buckets;
};

Status write_bucket(Writer& w, const Model& m) {
  auto k = m.kv.begin();
  auto b = m.buckets.begin();
  while (k != m.kv.end() || b != m.buckets.end()) {
    if (b == m.buckets.end() || (k != m.kv.end() && k->first < b->first)) {
      RETURN_IF_ERROR(w.put(k->first, k->second));
      ++k;
    } else {
      RETURN_IF_ERROR(w.begin_bucket(b->first));
      RETURN_IF_ERROR(write_bucket(w, b->second));
      RETURN_IF_ERROR(w.end_bucket());
      ++b;
    }
  }
  return Status::ok();
}

void dump_model(const Model& m, const std::vector<std::string>& path, std::string* out) {
  auto k = m.kv.begin();
  auto b = m.buckets.begin();
  while (k != m.kv.end() || b != m.buckets.end()) {
    if (b == m.buckets.end() || (k != m.kv.end() && k->first < b->first)) {
      *out += "K " + join(path) + " " + hex(k->first) + " " + hex(k->second) + "\n";
      ++k;
    } else {
      std::vector<std::string> child = path;
      child.push_back(b->first);
      *out += "B " + join(child) + "\n";
      dump_model(b->second, child, out);
      ++b;
    }
  }
}

std::string dump_model(const Model& m) {
  std::string out;
  dump_model(m, {}, &out);
  return out;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/bbolt_test.XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Writes `m` with our writer into `path`; returns the file size.
uint64_t write_model(const std::string& path, const Model& m, WriterOptions opts = {}) {
  auto w = Writer::create(path, opts);
  EXPECT_TRUE(w.is_ok()) << w.status().to_string();
  if (!w.is_ok()) return 0;
  Status s = write_bucket(**w, m);
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  auto size = (*w)->finish();
  EXPECT_TRUE(size.is_ok()) << size.status().to_string();
  return size.is_ok() ? *size : 0;
}

// Runs a command; returns its exit status and (optionally) its stdout.
int run(const std::string& cmd, std::string* out = nullptr, const std::string& input_file = "") {
  std::string full = cmd + (input_file.empty() ? "" : " < " + input_file);
  FILE* p = ::popen(full.c_str(), "r");
  if (p == nullptr) return -1;
  std::string data;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) data.append(buf, n);
  int rc = ::pclose(p);
  if (out != nullptr) *out = std::move(data);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// The Go oracle (tests/tools/bboltcheck), built by CMake when Go is found.
std::string bboltcheck() {
  std::string tool = ETCD_BBOLTCHECK;
  EXPECT_FALSE(tool.empty()) << "Go was not found at configure time: the bbolt oracle "
                                "(tests/tools/bboltcheck) needs golang-go and "
                                "golang-github-coreos-bbolt-dev (scripts/install-deps)";
  EXPECT_TRUE(tool.empty() || fs::exists(tool)) << tool << " was not built";
  return tool;
}

// Real bbolt's tx.Check and dump of `path`.
std::string go_dump(const std::string& path) {
  std::string tool = bboltcheck();
  if (tool.empty()) return "<no oracle>";
  std::string out;
  int rc = run(tool + " dump " + path + " 2>&1", &out);
  EXPECT_EQ(rc, 0) << "bbolt rejects " << path << ":\n" << out.substr(0, 4000);
  return out;
}

std::unique_ptr<Reader> open_ok(const std::string& path) {
  auto r = Reader::open(path);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? std::move(*r) : nullptr;
}

std::unique_ptr<Reader> mem_ok(std::string_view image) {
  auto r = Reader::from_memory(image);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? std::move(*r) : nullptr;
}

// Checks a round trip through our writer: our reader and real bbolt both
// see exactly `m`, and both checks pass.
void round_trip(const Model& m, WriterOptions opts = {}, bool with_go = true) {
  TempDir dir;
  const std::string path = dir.file("db");
  uint64_t size = write_model(path, m, opts);
  ASSERT_GT(size, 0u);
  EXPECT_EQ(fs::file_size(path), size);
  EXPECT_EQ(size % opts.page_size, 0u);
  auto r = open_ok(path);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->meta().page_size, opts.page_size);
  EXPECT_EQ(r->meta().txid, opts.txid);
  EXPECT_EQ(r->meta().high_water * opts.page_size, size);
  Status s = r->check();
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  const std::string want = dump_model(m);
  EXPECT_TRUE(dump(*r) == want) << "our reader disagrees with what was written";
  if (!with_go) return;
  EXPECT_TRUE(go_dump(path) == want) << "real bbolt disagrees with what was written";

  // Real bbolt can go on writing our file: it deletes the first item of
  // every top-level bucket and adds a key; the result passes both checks
  // and both readers see the change.
  std::string tool = bboltcheck();
  if (tool.empty()) return;
  std::string out;
  EXPECT_EQ(run(tool + " modify " + path + " 2>&1", &out), 0) << out;
  Model changed = m;
  for (auto& [name, b] : changed.buckets) {
    bool key_first =
        !b.kv.empty() && (b.buckets.empty() || b.kv.begin()->first < b.buckets.begin()->first);
    if (key_first) {
      b.kv.erase(b.kv.begin());
    } else if (!b.buckets.empty()) {
      b.buckets.erase(b.buckets.begin());
    }
    b.kv["~added"] = "by bboltcheck";
  }
  const std::string want_changed = dump_model(changed);
  EXPECT_TRUE(go_dump(path) == want_changed) << "bbolt's change went wrong";
  r = open_ok(path);
  ASSERT_NE(r, nullptr);
  s = r->check();
  EXPECT_TRUE(s.is_ok()) << "after bbolt's change: " << s.to_string();
  EXPECT_TRUE(dump(*r) == want_changed) << "our reader misreads bbolt's change";
}

std::string testdata(const std::string& name) {
  return std::string(ETCD_BBOLT_TESTDATA) + "/" + name;
}

// An image from our writer, for the corruption tests.
std::string image_of(const Model& m, WriterOptions opts = {}) {
  TempDir dir;
  write_model(dir.file("db"), m, opts);
  return read_file(dir.file("db"));
}

Model many_keys(int n, size_t value_size = 8) {
  Model m;
  Model& b = m.buckets["key"];
  for (int i = 0; i < n; ++i) {
    char k[32];
    std::snprintf(k, sizeof k, "key%08d", i);
    b.kv[k] = std::string(value_size, static_cast<char>('a' + i % 26));
  }
  return m;
}

uint16_t page_flags(const std::string& img, uint64_t pgid, uint32_t ps = 4096) {
  return get16(img.data() + pgid * ps + kOffFlags);
}

// The first page of kind `flags` at or after page 2.
uint64_t find_page(const std::string& img, uint16_t flags, uint32_t ps = 4096) {
  for (uint64_t p = 2; p < img.size() / ps; ++p) {
    if (page_flags(img, p, ps) == flags && get64(img.data() + p * ps) == p) return p;
  }
  return 0;
}

void expect_loss(const Status& s, const std::string& fragment) {
  EXPECT_EQ(s.code(), Code::kDataLoss) << s.to_string();
  EXPECT_NE(s.message().find(fragment), std::string::npos) << s.message();
}

Status walk_all(Reader& r) {
  std::string ignored;
  RETURN_IF_ERROR(dump_bucket(r, {}, &ignored));
  return r.check();
}

// ---- files real bbolt and real etcd wrote ----------------------------------

TEST(BboltReader, ReadsFilesRealBboltWrote) {
  const std::string want = read_file(testdata("bbolt-sample.dump"));
  ASSERT_FALSE(want.empty());
  for (const char* name : {"bbolt-sample-4096.db", "bbolt-sample-512.db"}) {
    SCOPED_TRACE(name);
    auto r = open_ok(testdata(name));
    ASSERT_NE(r, nullptr);
    EXPECT_NE(r->meta().freelist_pgid, kNoFreelist);
    Status s = r->check();
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    EXPECT_TRUE(dump(*r) == want);
    auto names = r->bucket_names();
    ASSERT_TRUE(names.is_ok());
    EXPECT_EQ(*names, (std::vector<std::string>{"big", "empty", "many", "nested", "small"}));
    // A nested bucket inside a nested bucket, by path.
    std::vector<std::string> keys;
    s = r->for_each({"nested", "inner-large", "zz-deeper"}, [&](const Entry& e) {
      keys.emplace_back(e.key);
      EXPECT_FALSE(e.is_bucket);
      EXPECT_EQ(e.value, "value");
      return Status::ok();
    });
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    EXPECT_EQ(keys, std::vector<std::string>{"leaf"});
    EXPECT_EQ(r->for_each({"nested", "missing"}, [](const Entry&) { return Status::ok(); }).code(),
              Code::kNotFound);
    EXPECT_EQ(r->for_each({"nested", "plain"}, [](const Entry&) { return Status::ok(); }).code(),
              Code::kNotFound);
    EXPECT_EQ(r->for_each({"nope"}, [](const Entry&) { return Status::ok(); }).code(),
              Code::kNotFound);
  }
  // The sample's page kinds: 4096-byte pages hold the 5 KiB and 9 KiB
  // values in overflow pages; "many" needs branch pages at 512 bytes.
  std::string img = read_file(testdata("bbolt-sample-512.db"));
  EXPECT_NE(find_page(img, kBranchPage, 512), 0u);
  EXPECT_NE(find_page(img, kFreelistPage, 512), 0u);
}

TEST(BboltReader, ReadsTheFilesOfRealBboltAtTestTime) {
  // Real bbolt writes our model (1 KiB pages: branches; 1 MiB: overflow).
  std::string tool = bboltcheck();
  ASSERT_FALSE(tool.empty());
  Model m = many_keys(3000);
  m.buckets["big"].kv["one-mib"] = std::string(1 << 20, 'x');
  m.buckets["big"].kv["ten-kib"] = std::string(10 << 10, 'y');
  m.buckets["nest"].buckets["inner"].kv["k"] = "v";
  m.buckets["nest"].kv["a"] = "";
  TempDir dir;
  write_file(dir.file("spec"), dump_model(m));
  for (int ps : {1024, 4096, 16384}) {
    SCOPED_TRACE(ps);
    std::string path = dir.file("go-" + std::to_string(ps) + ".db");
    std::string out;
    ASSERT_EQ(
        run(tool + " gen " + path + " - " + std::to_string(ps) + " 2>&1", &out, dir.file("spec")),
        0)
        << out;
    auto r = open_ok(path);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->meta().page_size, static_cast<uint32_t>(ps));
    Status s = r->check();
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    EXPECT_TRUE(dump(*r) == dump_model(m));
  }
}

TEST(BboltReader, ReadsARealEtcdDb) {
  auto r = open_ok(testdata("etcd-3.4.23.db"));
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->meta().freelist_pgid, kNoFreelist);  // etcd sets NoFreelistSync
  EXPECT_EQ(r->meta().page_size, 4096u);
  Status s = r->check();
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  auto names = r->bucket_names();
  ASSERT_TRUE(names.is_ok()) << names.status().to_string();
  // etcd 3.4 creates all ten (members_removed and alarm stay empty here).
  EXPECT_EQ(*names,
            (std::vector<std::string>{"alarm", "auth", "authRoles", "authUsers", "cluster", "key",
                                      "lease", "members", "members_removed", "meta"}));
  EXPECT_TRUE(dump(*r) == read_file(testdata("etcd-3.4.23.dump")));
  // Six revisions in "key" (3.4 keys: 8-byte main, '_', 8-byte sub, plus
  // 't' for a tombstone), the consistent index in "meta".
  int revisions = 0, tombstones = 0;
  s = r->for_each({"key"}, [&](const Entry& e) {
    EXPECT_TRUE(e.key.size() == 17 || e.key.size() == 18) << hex(e.key);
    ++revisions;
    if (e.key.size() == 18 && e.key.back() == 't') ++tombstones;
    return Status::ok();
  });
  EXPECT_TRUE(s.is_ok());
  EXPECT_EQ(revisions, 6);
  EXPECT_EQ(tombstones, 1);
  bool have_index = false;
  s = r->for_each({"meta"}, [&](const Entry& e) {
    if (e.key == "consistent_index") have_index = e.value.size() == 8;
    return Status::ok();
  });
  EXPECT_TRUE(s.is_ok());
  EXPECT_TRUE(have_index);
  EXPECT_TRUE(is_bbolt_file(testdata("etcd-3.4.23.db")));
}

TEST(BboltReader, SniffsTheFormat) {
  EXPECT_FALSE(looks_like_bbolt(""));
  EXPECT_FALSE(looks_like_bbolt(std::string(64, '\0')));
  std::string img = read_file(testdata("etcd-3.4.23.db"));
  EXPECT_TRUE(looks_like_bbolt(img.substr(0, 32)));
  EXPECT_FALSE(looks_like_bbolt(img.substr(0, 20)));
  EXPECT_FALSE(is_bbolt_file("/nonexistent/db"));
  EXPECT_EQ(Reader::open("/nonexistent/db").status().code(), Code::kNotFound);
}

// ---- meta pages ------------------------------------------------------------

TEST(BboltReader, PicksTheValidMetaWithTheHighestTxid) {
  Model m = many_keys(10);
  WriterOptions opts;
  opts.txid = 7;
  std::string img = image_of(m, opts);
  auto r = mem_ok(img);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->meta().txid, 7u);
  EXPECT_EQ(r->meta().meta_page, 1);  // txid 7 % 2

  // A torn winner: its checksum fails, the other meta (txid 6) wins.
  std::string torn = img;
  torn[4096 + kPageHeaderSize + kMetaRoot] ^= 1;
  r = mem_ok(torn);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->meta().txid, 6u);
  EXPECT_EQ(r->meta().meta_page, 0);
  EXPECT_TRUE(r->check().is_ok());
  EXPECT_TRUE(dump(*r) == dump_model(m));

  // Page 0 bad instead: page 1 wins, found at offset page_size even though
  // meta 0 cannot tell the page size.
  std::string bad0 = img;
  bad0[kPageHeaderSize + kMetaMagic] ^= 0x55;
  r = mem_ok(bad0);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->meta().txid, 7u);

  // Both bad: no valid meta.
  std::string both = torn;
  both[kPageHeaderSize + kMetaChecksum] ^= 1;
  auto fail = Reader::from_memory(both);
  ASSERT_FALSE(fail.is_ok());
  expect_loss(fail.status(), "no valid meta page");

  // Other meta faults: version, page size, page id.
  std::string v = img;
  put32(v.data() + kPageHeaderSize + kMetaVersion, 3);
  put32(v.data() + 4096 + kPageHeaderSize + kMetaVersion, 3);
  expect_loss(Reader::from_memory(v).status(), "unsupported version 3");
}

TEST(BboltReader, RefusesMetasThatPointOutside) {
  std::string img = image_of(many_keys(10));
  for (size_t field : {kMetaRoot, kMetaFreelist}) {
    std::string bad = img;
    for (size_t off : {size_t{0}, size_t{4096}}) {
      char* meta = bad.data() + off + kPageHeaderSize;
      put64(meta + field, 1000);
      put64(meta + kMetaChecksum, fnv64a(std::string_view(meta, kMetaChecksum)));
    }
    expect_loss(Reader::from_memory(bad).status(), "outside the high water mark");
  }
}

TEST(BboltReader, RefusesTruncatedFiles) {
  std::string img = image_of(many_keys(1000));
  expect_loss(Reader::from_memory(img.substr(0, img.size() - 1)).status(),
              "shorter than the high water");
  expect_loss(Reader::from_memory(img.substr(0, 8192)).status(), "shorter than the high water");
  expect_loss(Reader::from_memory(img.substr(0, 50)).status(), "too short");
  EXPECT_FALSE(Reader::from_memory("").is_ok());
  TempDir dir;
  write_file(dir.file("short"), img.substr(0, img.size() - 4096));
  auto r = Reader::open(dir.file("short"));
  expect_loss(r.status(), "shorter than the high water");
}

// ---- page faults -----------------------------------------------------------

TEST(BboltReader, FindsCorruptPages) {
  const Model m = many_keys(2000);
  const std::string img = image_of(m);
  auto good = mem_ok(img);
  ASSERT_NE(good, nullptr);
  const uint64_t root = good->meta().root_pgid;
  // The root bucket is a leaf holding "key", whose tree has a branch root.
  const uint64_t branch = find_page(img, kBranchPage);
  const uint64_t leaf = find_page(img, kLeafPage);
  ASSERT_NE(branch, 0u);
  ASSERT_NE(leaf, 0u);
  EXPECT_EQ(page_flags(img, root), kLeafPage);

  auto corrupt = [&](const std::function<void(std::string&)>& edit, const std::string& fragment) {
    SCOPED_TRACE(fragment);
    std::string bad = img;
    edit(bad);
    auto r = Reader::from_memory(bad);
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    expect_loss(walk_all(**r), fragment);
    expect_loss((*r)->check(), fragment);
  };
  auto at = [](std::string& s, uint64_t pgid) { return s.data() + pgid * 4096; };

  // A branch element that points at the branch itself: a cycle.
  corrupt([&](std::string& s) { put64(at(s, branch) + kPageHeaderSize + 8, branch); },
          "page " + std::to_string(branch));
  // Two branch elements pointing at the same leaf.
  corrupt(
      [&](std::string& s) {
        uint64_t c0 = get64(at(s, branch) + kPageHeaderSize + 8);
        put64(at(s, branch) + kPageHeaderSize + kBranchElementSize + 8, c0);
      },
      "reached twice");
  corrupt([&](std::string& s) { put64(at(s, branch) + kPageHeaderSize + 8, 99999); },
          "outside the data pages");
  // A leaf element running past its page.
  corrupt([&](std::string& s) { put32(at(s, leaf) + kPageHeaderSize + 4, 5000); },
          "runs past the page");
  corrupt([&](std::string& s) { put32(at(s, leaf) + kPageHeaderSize + 12, 0xFFFFFFFF); },
          "leaf element 0 runs past the page");
  // More elements than the page holds.
  corrupt([&](std::string& s) { put16(at(s, leaf) + kOffCount, 300); }, "do not fit");
  // A header naming another page; a page of the wrong kind.
  corrupt([&](std::string& s) { put64(at(s, leaf), leaf + 1); }, "header says page");
  corrupt([&](std::string& s) { put16(at(s, leaf) + kOffFlags, kMetaPage); },
          "expected a branch or leaf");
  // Overflow past the high water mark.
  corrupt([&](std::string& s) { put32(at(s, leaf) + kOffOverflow, 100000); }, "overflow");
  // Keys out of order.
  corrupt(
      [&](std::string& s) {
        char* e0 = at(s, leaf) + kPageHeaderSize;
        char* key0 = e0 + get32(e0 + 4);
        key0[0] = 'z';
      },
      "not after the key before it");
  // The bucket value is shorter than a header / its root points outside.
  corrupt([&](std::string& s) { put32(at(s, root) + kPageHeaderSize + 12, 8); },
          "shorter than a bucket header");
  corrupt(
      [&](std::string& s) {
        char* e0 = at(s, root) + kPageHeaderSize;
        put64(e0 + get32(e0 + 4) + get32(e0 + 8), 5000);
      },
      "outside the data pages");
  // A branch key that does not separate its children: equal to the last key
  // of the child before, or above the first key of its own child.
  auto leaf_key = [&](std::string& s, uint64_t pgid, uint32_t i) {
    char* e = at(s, pgid) + kPageHeaderSize + i * kLeafElementSize;
    return e + get32(e + 4);
  };
  auto branch_key = [&](std::string& s, uint32_t i) {
    char* e = at(s, branch) + kPageHeaderSize + i * kBranchElementSize;
    return e + get32(e);
  };
  corrupt(
      [&](std::string& s) {
        uint64_t c0 = get64(at(s, branch) + kPageHeaderSize + 8);
        uint16_t n = get16(at(s, c0) + kOffCount);
        std::memcpy(branch_key(s, 1), leaf_key(s, c0, n - 1), 11);
      },
      "not above the keys of the subtree before it");
  corrupt(
      [&](std::string& s) {
        uint64_t c1 = get64(at(s, branch) + kPageHeaderSize + kBranchElementSize + 8);
        std::memcpy(branch_key(s, 1), leaf_key(s, c1, 1), 11);
      },
      "below the key of the branch element above it");
  // A branch page with no elements.
  corrupt([&](std::string& s) { put16(at(s, branch) + kOffCount, 0); }, "no elements");
}

TEST(BboltReader, FindsCorruptFreelists) {
  const std::string img = image_of(many_keys(100));
  auto r = mem_ok(img);
  ASSERT_NE(r, nullptr);
  const uint64_t fl = r->meta().freelist_pgid;
  ASSERT_EQ(page_flags(img, fl), kFreelistPage);
  char* const base = nullptr;
  (void)base;
  auto check = [&](const std::function<void(char*)>& edit) {
    std::string bad = img;
    edit(bad.data() + fl * 4096);
    auto rr = Reader::from_memory(bad);
    EXPECT_TRUE(rr.is_ok());
    return rr.is_ok() ? (*rr)->check() : rr.status();
  };
  // The extended count form (count 0xFFFF, the real count in the first id).
  EXPECT_TRUE(check([](char* p) {
                put16(p + kOffCount, 0xFFFF);
                put64(p + kPageHeaderSize, 0);
              }).is_ok());
  expect_loss(check([](char* p) {
                put16(p + kOffCount, 0xFFFF);
                put64(p + kPageHeaderSize, uint64_t{1} << 62);
              }),
              "does not fit");
  // A free page that is in use.
  expect_loss(check([&](char* p) {
                put16(p + kOffCount, 1);
                put64(p + kPageHeaderSize, r->meta().root_pgid);
              }),
              "in use");
  expect_loss(check([&](char* p) {
                put16(p + kOffCount, 1);
                put64(p + kPageHeaderSize, 77777);
              }),
              "outside the data pages");
  expect_loss(check([&](char* p) { put16(p + kOffFlags, kLeafPage); }), "expected a freelist");
  // A page neither used nor free: the freelist page claims one overflow
  // page more... which runs past the high water mark; instead raise the
  // high water mark by one page in both metas.
  std::string grown = img + std::string(4096, '\0');
  for (size_t off : {size_t{0}, size_t{4096}}) {
    char* meta = grown.data() + off + kPageHeaderSize;
    put64(meta + kMetaPgid, get64(meta + kMetaPgid) + 1);
    put64(meta + kMetaChecksum, fnv64a(std::string_view(meta, kMetaChecksum)));
  }
  auto rg = mem_ok(grown);
  ASSERT_NE(rg, nullptr);
  expect_loss(rg->check(), "neither in use nor free");
}

TEST(BboltReader, InlineBucketFaults) {
  Model m;
  m.buckets["a"].kv["k"] = "v";  // inline
  const std::string img = image_of(m);
  auto r = mem_ok(img);
  ASSERT_NE(r, nullptr);
  const uint64_t root = r->meta().root_pgid;
  std::string bad = img;
  char* e0 = bad.data() + root * 4096 + kPageHeaderSize;
  char* value = e0 + get32(e0 + 4) + get32(e0 + 8);
  ASSERT_EQ(get64(value), 0u);  // inline
  put16(value + kBucketHeaderSize + kOffCount, 50);
  auto rb = mem_ok(bad);
  ASSERT_NE(rb, nullptr);
  expect_loss(walk_all(*rb), "inline bucket page (in page " + std::to_string(root) + ")");
  put16(value + kBucketHeaderSize + kOffFlags, kBranchPage);
  rb = mem_ok(bad);
  ASSERT_NE(rb, nullptr);
  expect_loss(rb->check(), "expected a leaf page");
}

// Builds images page by page, for shapes our writer never produces.
class RawImage {
 public:
  explicit RawImage(uint32_t ps) : ps_(ps) {}
  char* page(uint64_t id, uint16_t flags, uint16_t count, uint32_t overflow = 0) {
    if (img_.size() < (id + overflow + 1) * ps_) img_.resize((id + overflow + 1) * ps_, '\0');
    char* p = img_.data() + id * ps_;
    put64(p + kOffId, id);
    put16(p + kOffFlags, flags);
    put16(p + kOffCount, count);
    put32(p + kOffOverflow, overflow);
    return p;
  }
  void leaf(uint64_t id, const std::vector<std::tuple<uint32_t, std::string, std::string>>& elems) {
    char* p = page(id, kLeafPage, static_cast<uint16_t>(elems.size()));
    size_t data = kPageHeaderSize + elems.size() * kLeafElementSize;
    for (size_t i = 0; i < elems.size(); ++i) {
      const auto& [flags, k, v] = elems[i];
      char* e = p + kPageHeaderSize + i * kLeafElementSize;
      put32(e, flags);
      put32(e + 4, static_cast<uint32_t>(data - (e - p)));
      put32(e + 8, static_cast<uint32_t>(k.size()));
      put32(e + 12, static_cast<uint32_t>(v.size()));
      std::memcpy(p + data, k.data(), k.size());
      std::memcpy(p + data + k.size(), v.data(), v.size());
      data += k.size() + v.size();
    }
  }
  void branch(uint64_t id, const std::vector<std::pair<std::string, uint64_t>>& elems) {
    char* p = page(id, kBranchPage, static_cast<uint16_t>(elems.size()));
    size_t data = kPageHeaderSize + elems.size() * kBranchElementSize;
    for (size_t i = 0; i < elems.size(); ++i) {
      char* e = p + kPageHeaderSize + i * kBranchElementSize;
      put32(e, static_cast<uint32_t>(data - (e - p)));
      put32(e + 4, static_cast<uint32_t>(elems[i].first.size()));
      put64(e + 8, elems[i].second);
      std::memcpy(p + data, elems[i].first.data(), elems[i].first.size());
      data += elems[i].first.size();
    }
  }
  // Both metas (txid and txid - 1) and the file size: hw pages.
  std::string finish(uint64_t root, uint64_t freelist, uint64_t hw, uint64_t txid = 2) {
    img_.resize(hw * ps_, '\0');
    for (uint64_t t : {txid - 1, txid}) {
      char* p = page(t % 2, kMetaPage, 0);
      char* m = p + kPageHeaderSize;
      put32(m + kMetaMagic, kMagic);
      put32(m + kMetaVersion, kVersion);
      put32(m + kMetaPageSize, ps_);
      put64(m + kMetaRoot, root);
      put64(m + kMetaFreelist, freelist);
      put64(m + kMetaPgid, hw);
      put64(m + kMetaTxid, t);
      put64(m + kMetaChecksum, fnv64a(std::string_view(m, kMetaChecksum)));
    }
    return img_;
  }

 private:
  uint32_t ps_;
  std::string img_;
};

std::string bucket_header(uint64_t root) {
  std::string h(kBucketHeaderSize, '\0');
  put64(h.data(), root);
  return h;
}

TEST(BboltReader, RefusesTreesDeeperThanTheLimit) {
  // Bucket "b": a chain of branch pages, each with one element, over a leaf.
  for (int depth : {63, 70}) {
    SCOPED_TRACE(depth);
    RawImage raw(512);
    const uint64_t first = 3, leaf = first + depth, freelist = leaf + 1;
    raw.leaf(2, {{kBucketLeafFlag, "b", bucket_header(first)}});
    for (uint64_t id = first; id < leaf; ++id) raw.branch(id, {{"k", id + 1}});
    raw.leaf(leaf, {{0, "k", "v"}});
    raw.page(freelist, kFreelistPage, 0);
    std::string img = raw.finish(2, freelist, freelist + 1);
    auto r = mem_ok(img);
    ASSERT_NE(r, nullptr);
    int n = 0;
    Status s = r->for_each({"b"}, [&](const Entry&) {
      ++n;
      return Status::ok();
    });
    if (depth < 64) {
      EXPECT_TRUE(s.is_ok()) << s.to_string();
      EXPECT_EQ(n, 1);
      EXPECT_TRUE(r->check().is_ok());
    } else {
      expect_loss(s, "deeper than 64 levels");
      expect_loss(r->check(), "deeper than 64 levels");
    }
  }
}

TEST(BboltReader, ExtendedFreelistCountAndNoFreelist) {
  // 65535 free pages: the freelist stores its count in its first id.
  RawImage raw(512);
  const uint64_t kFree = 0xFFFF;
  std::string empty_inline(kPageHeaderSize, '\0');
  put16(empty_inline.data() + kOffFlags, kLeafPage);
  raw.leaf(2, {{kBucketLeafFlag, "b", bucket_header(0) + empty_inline}});
  const uint64_t freelist = 3 + kFree;
  const uint64_t bytes = kPageHeaderSize + (kFree + 1) * 8;
  const uint32_t overflow = static_cast<uint32_t>((bytes + 511) / 512 - 1);
  char* fl = raw.page(freelist, kFreelistPage, 0xFFFF, overflow);
  put64(fl + kPageHeaderSize, kFree);
  for (uint64_t i = 0; i < kFree; ++i) put64(fl + kPageHeaderSize + 8 * (i + 1), 3 + i);
  std::string img = raw.finish(2, freelist, freelist + overflow + 1);
  auto r = mem_ok(img);
  ASSERT_NE(r, nullptr);
  Status s = r->check();
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_EQ(*r->bucket_names(), std::vector<std::string>{"b"});
  TempDir dir;
  write_file(dir.file("db"), img);
  EXPECT_EQ(go_dump(dir.file("db")), "B 62\n");

  // One page short in the list: that page is neither used nor free...
  std::string short_list = img;
  put64(short_list.data() + freelist * 512 + kPageHeaderSize, kFree - 1);
  r = mem_ok(short_list);
  ASSERT_NE(r, nullptr);
  expect_loss(r->check(), "page " + std::to_string(3 + kFree - 1) + ": neither in use nor free");
  // ...which is fine when the freelist is not stored (etcd's NoFreelistSync).
  for (size_t off : {size_t{0}, size_t{512}}) {
    char* m = short_list.data() + off + kPageHeaderSize;
    put64(m + kMetaFreelist, kNoFreelist);
    put64(m + kMetaChecksum, fnv64a(std::string_view(m, kMetaChecksum)));
  }
  r = mem_ok(short_list);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->meta().freelist_pgid, kNoFreelist);
  s = r->check();
  EXPECT_TRUE(s.is_ok()) << s.to_string();
}

// ---- writer ----------------------------------------------------------------

TEST(BboltWriter, EmptyFileAndEmptyBuckets) {
  round_trip(Model{});
  Model m;
  m.buckets["alarm"];
  m.buckets["key"];
  m.buckets["members_removed"];
  round_trip(m);
  // Empty buckets are inline, as bbolt writes them: a 4-page file.
  TempDir dir;
  EXPECT_EQ(write_model(dir.file("db"), m), 4u * 4096);
}

TEST(BboltWriter, InlineAndNestedBuckets) {
  Model m;
  m.buckets["inline"].kv["a"] = "1";
  m.buckets["inline"].kv["b"] = "";
  // Just at bbolt's inline limit (page_size / 4 = 1024 bytes in total).
  Model& edge = m.buckets["edge"];
  edge.kv["k"] = std::string(1024 - 16 - 16 - 1, 'e');
  Model& over = m.buckets["over"];
  over.kv["k"] = std::string(1024 - 16 - 16, 'o');
  Model& nest = m.buckets["nest"];
  nest.kv["a-before"] = "x";
  nest.buckets["b-inline"].kv["q"] = "r";
  nest.buckets["c-empty"];
  for (int i = 0; i < 500; ++i) nest.buckets["d-big"].kv["k" + std::to_string(1000 + i)] = "value";
  nest.buckets["d-big"].buckets["zz"].buckets["deeper"].kv["x"] = "y";
  nest.kv["e-after"] = "z";
  round_trip(m);

  // bbolt's inline rule decides which buckets have pages of their own.
  std::string img = image_of(m);
  auto r = mem_ok(img);
  ASSERT_NE(r, nullptr);
  std::map<std::string, uint64_t> roots;
  ASSERT_TRUE(r->for_each({}, [&](const Entry& e) {
                 roots[std::string(e.key)] = get64(e.value.data());
                 return Status::ok();
               }).is_ok());
  EXPECT_EQ(roots["inline"], 0u);
  EXPECT_EQ(roots["edge"], 0u);
  EXPECT_NE(roots["over"], 0u);
  EXPECT_NE(roots["nest"], 0u);  // holds buckets: never inline
}

TEST(BboltWriter, HundredThousandKeys) {
  // Two branch levels at 4 KiB pages.
  const Model m = many_keys(100000);
  round_trip(m);
  std::string img = image_of(m);
  auto r = mem_ok(img);
  ASSERT_NE(r, nullptr);
  uint64_t key_root = 0;
  ASSERT_TRUE(r->for_each({}, [&](const Entry& e) {
                 key_root = get64(e.value.data());
                 return Status::ok();
               }).is_ok());
  ASSERT_EQ(page_flags(img, key_root), kBranchPage);
  const char* e0 = img.data() + key_root * 4096 + kPageHeaderSize;
  EXPECT_EQ(page_flags(img, get64(e0 + 8)), kBranchPage);
}

TEST(BboltWriter, SmallPagesDeepTrees) {
  WriterOptions opts;
  opts.page_size = 512;
  round_trip(many_keys(20000), opts);
  opts.page_size = 65536;
  opts.fill_percent = 0.5;
  round_trip(many_keys(20000, 100), opts);
}

TEST(BboltWriter, OverflowValues) {
  Model m;
  Model& b = m.buckets["big"];
  b.kv["a-10k"] = std::string(10 << 10, 'a');
  b.kv["b-small"] = "s";
  b.kv["c-1m"] = std::string(1 << 20, 'c');
  b.kv["d-page"] = std::string(4096 - 16 - 16 - 6, 'd');        // exactly one page
  b.kv["e-page+1"] = std::string(4096 - 16 - 16 - 8 + 1, 'e');  // one byte over
  for (int i = 0; i < 50; ++i) b.kv["f" + std::to_string(i)] = std::string(3000, 'f');
  m.buckets["only-big"].kv["v"] = std::string(9000, 'v');
  round_trip(m);
}

TEST(BboltWriter, LongKeysMakeOverflowingBranchPages) {
  Model m;
  Model& b = m.buckets["long"];
  for (int i = 0; i < 40; ++i) {
    std::string k(32768, 'k');
    k[100] = static_cast<char>('a' + i);
    b.kv[k] = std::to_string(i);
  }
  round_trip(m);
}

TEST(BboltWriter, ManyBuckets) {
  // Enough top-level buckets for the root bucket to need branch pages.
  Model m;
  for (int i = 0; i < 3000; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "bucket-%05d", i);
    Model& b = m.buckets[name];
    if (i % 3 == 0) b.kv["k"] = std::to_string(i);
    if (i % 100 == 0) {
      for (int j = 0; j < 300; ++j) b.kv["key" + std::to_string(j)] = std::string(20, 'x');
    }
  }
  round_trip(m);
  std::string img = image_of(m);
  auto r = mem_ok(img);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(page_flags(img, r->meta().root_pgid), kBranchPage);
}

// Random binary keys and values (sizes from tiny to overflowing), nested
// buckets, page sizes and fill percents: our writer and real bbolt's, each
// read by the other side.
void random_bucket(std::mt19937_64& rng, Model* b, int depth) {
  auto pick = [&](uint64_t n) { return rng() % n; };
  auto bytes = [&](size_t n) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(pick(4) == 0 ? pick(256) : 'a' + pick(3));
    return s;
  };
  auto size = [&](size_t small, size_t large) {
    return pick(10) == 0 ? 1 + pick(large) : 1 + pick(small);
  };
  const size_t keys = pick(4) == 0 ? pick(600) : pick(30);
  for (size_t i = 0; i < keys; ++i) b->kv[bytes(size(12, 3000))] = bytes(size(40, 20000) - 1);
  if (depth < 3) {
    const size_t children = pick(depth == 0 ? 6 : 3);
    for (size_t i = 0; i < children; ++i) {
      std::string name = bytes(size(8, 100));
      if (b->kv.count(name) != 0) continue;
      random_bucket(rng, &b->buckets[name], depth + 1);
    }
  }
}

TEST(BboltWriter, RandomContentAgreesWithRealBbolt) {
  const std::string tool = bboltcheck();
  ASSERT_FALSE(tool.empty());
  std::mt19937_64 rng(20261207);
  for (int round = 0; round < 12; ++round) {
    SCOPED_TRACE(round);
    Model m;
    const size_t top = 1 + rng() % 5;
    for (size_t i = 0; i < top; ++i) {
      std::string name(1 + rng() % 10, '\0');
      for (char& c : name) c = static_cast<char>(rng() % 256);
      random_bucket(rng, &m.buckets[name], 1);
    }
    WriterOptions opts;
    opts.page_size = std::vector<uint32_t>{512, 1024, 4096, 8192}[rng() % 4];
    opts.fill_percent = std::vector<double>{1.0, 0.9, 0.5, 0.1}[rng() % 4];
    opts.txid = 1 + rng() % 1000;
    round_trip(m, opts);

    // The same content written by real bbolt, read by us.
    TempDir dir;
    write_file(dir.file("spec"), dump_model(m));
    std::string out;
    ASSERT_EQ(
        run(tool + " gen " + dir.file("db") + " - " + std::to_string(opts.page_size) + " 2>&1",
            &out, dir.file("spec")),
        0)
        << out;
    auto r = open_ok(dir.file("db"));
    ASSERT_NE(r, nullptr);
    Status s = r->check();
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    EXPECT_TRUE(dump(*r) == dump_model(m));
  }
}

TEST(BboltWriter, TxidAndCreateFd) {
  TempDir dir;
  int fd = ::open(dir.file("fd").c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  WriterOptions opts;
  opts.txid = 1;
  auto w = Writer::create_fd(fd, opts);
  ASSERT_TRUE(w.is_ok()) << w.status().to_string();
  ASSERT_TRUE((*w)->begin_bucket("b").is_ok());
  ASSERT_TRUE((*w)->put("k", "v").is_ok());
  ASSERT_TRUE((*w)->end_bucket().is_ok());
  auto size = (*w)->finish();
  ASSERT_TRUE(size.is_ok());
  w->reset();
  EXPECT_EQ(::lseek(fd, 0, SEEK_END), static_cast<off_t>(*size));
  ::close(fd);
  auto r = open_ok(dir.file("fd"));
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->meta().txid, 1u);
  EXPECT_EQ(go_dump(dir.file("fd")), "B 62\nK 62 6b 76\n");
  // A non-empty fd, a bad page size, txid 0.
  fd = ::open(dir.file("fd").c_str(), O_RDWR);
  EXPECT_EQ(Writer::create_fd(fd, {}).status().code(), Code::kInvalidArgument);
  ::close(fd);
  WriterOptions bad;
  bad.page_size = 3000;
  EXPECT_EQ(Writer::create(dir.file("x"), bad).status().code(), Code::kInvalidArgument);
  bad.page_size = 4096;
  bad.txid = 0;
  EXPECT_EQ(Writer::create(dir.file("x"), bad).status().code(), Code::kInvalidArgument);
}

TEST(BboltWriter, RefusesMisuse) {
  TempDir dir;
  auto fresh = [&]() { return Writer::create(dir.file("db")).value(); };
  auto w = fresh();
  EXPECT_EQ(w->put("k", "v").code(), Code::kInvalidArgument);     // outside a bucket
  EXPECT_EQ(w->put("k", "v").code(), Code::kFailedPrecondition);  // refuses from then on
  EXPECT_EQ(w->finish().status().code(), Code::kFailedPrecondition);

  w = fresh();
  ASSERT_TRUE(w->begin_bucket("b").is_ok());
  ASSERT_TRUE(w->end_bucket().is_ok());
  EXPECT_EQ(w->begin_bucket("a").code(), Code::kInvalidArgument);  // buckets unsorted

  w = fresh();
  ASSERT_TRUE(w->begin_bucket("b").is_ok());
  ASSERT_TRUE(w->end_bucket().is_ok());
  EXPECT_EQ(w->begin_bucket("b").code(), Code::kInvalidArgument);  // a duplicate

  w = fresh();
  ASSERT_TRUE(w->begin_bucket("b").is_ok());
  ASSERT_TRUE(w->put("k2", "v").is_ok());
  EXPECT_EQ(w->put("k1", "v").code(), Code::kInvalidArgument);  // keys unsorted

  w = fresh();
  ASSERT_TRUE(w->begin_bucket("b").is_ok());
  ASSERT_TRUE(w->put("k", "v").is_ok());
  EXPECT_EQ(w->put("k", "v").code(), Code::kInvalidArgument);  // a duplicate key

  w = fresh();
  ASSERT_TRUE(w->begin_bucket("b").is_ok());
  ASSERT_TRUE(w->put("k", "v").is_ok());
  EXPECT_EQ(w->begin_bucket("k").code(), Code::kInvalidArgument);  // a bucket named like a key

  w = fresh();
  EXPECT_EQ(w->begin_bucket("").code(), Code::kInvalidArgument);
  w = fresh();
  ASSERT_TRUE(w->begin_bucket("b").is_ok());
  EXPECT_EQ(w->put("", "v").code(), Code::kInvalidArgument);
  w = fresh();
  ASSERT_TRUE(w->begin_bucket("b").is_ok());
  EXPECT_EQ(w->put(std::string(32769, 'k'), "v").code(), Code::kInvalidArgument);
  w = fresh();
  ASSERT_TRUE(w->begin_bucket("b").is_ok());
  EXPECT_EQ(w->finish().status().code(), Code::kInvalidArgument);  // a bucket still open
  w = fresh();
  EXPECT_EQ(w->end_bucket().code(), Code::kInvalidArgument);

  w = fresh();
  ASSERT_TRUE(w->finish().is_ok());
  EXPECT_EQ(w->begin_bucket("a").code(), Code::kFailedPrecondition);  // finished
}

}  // namespace
}  // namespace etcd::bbolt
