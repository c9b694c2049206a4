// bbolt, the db file format of etcd 3.4/3.5 (member/snap/db and the image a
// snapshot carries): a reader and a writer. LMDB stays the live backend;
// these meet etcd's files where they cross our path: importing an etcd data
// dir, `etcdutl migrate-to-etcd`, Maintenance.Snapshot, snapshot restore and
// the db images sent between members.
//
// The format (go.etcd.io/bbolt 1.3): the file is a sequence of pages of
// `page_size` bytes (4096 on every machine etcd runs on). Page 0 and page 1
// are meta pages; the one with a valid FNV-64a checksum and the highest txid
// wins. The meta names the root bucket's page and the freelist's page. A
// bucket is a B+tree of branch and leaf pages; a page whose elements do not
// fit spans `overflow` further pages. A bucket's value in its parent is a
// 16-byte header (root page, sequence), followed, when root is 0, by the
// whole bucket as one inline leaf page.
//
// Thread model: a Reader or Writer is used by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace etcd::bbolt {

inline constexpr uint32_t kMagic = 0xED0CDAED;
inline constexpr uint32_t kVersion = 2;
inline constexpr uint32_t kDefaultPageSize = 4096;

// True when `head` (at least the first 32 bytes of a file) starts with a
// bbolt meta page: page flags meta, magic and version. Cheap format sniffing
// (an LMDB file has its own magic at another offset); it does not check the
// checksum. Returns false for short input.
bool looks_like_bbolt(std::string_view head);
// The same for a file; false also when it cannot be read.
bool is_bbolt_file(const std::string& path);

struct MetaInfo {
  uint32_t page_size = 0;
  uint64_t root_pgid = 0;      // the root bucket's page
  uint64_t freelist_pgid = 0;  // kNoFreelist: not stored (NoFreelistSync)
  uint64_t high_water = 0;     // meta.pgid: pages in use, the file holds at least this many
  uint64_t txid = 0;
  int meta_page = 0;  // 0 or 1: the one that won
};
inline constexpr uint64_t kNoFreelist = ~uint64_t{0};

// One element of a bucket, in key order. `value` of a nested bucket is its
// raw header (and inline page); open it with Reader::for_each(path + key).
// The views are valid only during the callback.
struct Entry {
  std::string_view key;
  std::string_view value;
  bool is_bucket = false;
};
using EntryFn = std::function<Status(const Entry&)>;

// Reads a bbolt file with bounded memory: pages are read with pread as a
// cursor walks them (a root-to-leaf path, plus the element being returned:
// at most one overflowing page of a large value). Never mmaps the whole file.
// Hardened like the WAL decoder: a corrupt or truncated file gives
// kDataLoss with a message naming the page and what is wrong
// ("bbolt: page 17: leaf element 3 runs past the page (pos 4090, ksize 12)"),
// never a crash, an unbounded allocation or endless recursion (a page seen
// twice on one path, or a tree deeper than a limit, is an error).
class Reader {
 public:
  // Opens and validates the meta pages. kNotFound if the file is missing,
  // kDataLoss if neither meta page is valid or the file is shorter than
  // the winning meta's high water mark.
  static Result<std::unique_ptr<Reader>> open(const std::string& path);
  // The same over an image in memory (tests, the fuzzer); `image` must
  // outlive the Reader.
  static Result<std::unique_ptr<Reader>> from_memory(std::string_view image);
  virtual ~Reader();

  const MetaInfo& meta() const;
  // Names of the root bucket's buckets (etcd's top-level buckets), in order.
  Result<std::vector<std::string>> bucket_names();
  // Walks the bucket at `path` (empty: the root bucket; one name: a
  // top-level bucket; more: nested buckets) in key order. kNotFound if it
  // does not exist or is a plain key. A callback that
  // returns an error stops the walk and that error is returned.
  Status for_each(const std::vector<std::string>& path, const EntryFn& fn);
  // Every page reachable from the root: checks each page's id and kind,
  // element bounds, key order within and across pages, and that no page is
  // reachable twice (a subset of bbolt's Tx.Check). Used by tests and by
  // `etcdutl snapshot status`.
  Status check();

 protected:
  Reader();
};

struct WriterOptions {
  uint32_t page_size = kDefaultPageSize;
  // txid of the winning meta page (the other meta page holds txid - 1 with
  // the same tree, so both are valid). etcd's own files start at 2.
  uint64_t txid = 2;
  // Fill leaf and branch pages up to this fraction of the page (bbolt's
  // FillPercent); 1.0 packs them, as `bbolt compact` with fill 1.0 does.
  double fill_percent = 1.0;
};

// Writes a compact bbolt file sequentially with bounded memory: leaves are
// written as their keys arrive, branch pages level by level as they fill
// (memory is one page per tree level), the root bucket at the end, then the
// two meta pages at offsets 0 and page_size. Buckets whose content fits in a
// quarter page are written inline, as bbolt writes them.
//
//   auto w = Writer::create(path, {});          // or create_fd
//   w->begin_bucket("key");                    // top-level buckets in byte order
//   w->put(k, v);                              // keys strictly ascending
//   w->end_bucket();
//   w->finish();                               // metas, fsync
//
// begin_bucket inside an open bucket starts a nested one (up to 64 deep); a
// bucket's name and its keys share one strictly ascending order.
// Misuse (unsorted or empty keys or buckets, put outside a bucket, a key
// longer than bbolt's 32 KiB limit, a value over its 2 GiB limit, finish with
// a bucket open) gives kInvalidArgument and the writer refuses every further
// call with kFailedPrecondition. I/O errors are kInternal.
class Writer {
 public:
  // Creates (truncating) `path`, mode 0600.
  static Result<std::unique_ptr<Writer>> create(const std::string& path, WriterOptions opts = {});
  // Writes into an open, empty, seekable fd from offset 0; does not own or
  // close it (an O_TMPFILE for a snapshot stream).
  static Result<std::unique_ptr<Writer>> create_fd(int fd, WriterOptions opts = {});
  virtual ~Writer();

  Status begin_bucket(std::string_view name);
  Status put(std::string_view key, std::string_view value);
  Status end_bucket();
  // Writes the root bucket, the (empty) freelist and both meta pages, and
  // fsyncs the file. Returns the size of the file in bytes (a whole number
  // of pages).
  Result<uint64_t> finish();

 protected:
  Writer();
};

}  // namespace etcd::bbolt
