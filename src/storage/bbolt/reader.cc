// The bbolt reader: meta selection, a bounded cursor walk, and check().
// Every length and offset read from the file is checked before it is used;
// see docs/storage-backend.md, "bbolt files".
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "storage/bbolt/bbolt.h"
#include "storage/bbolt/format.h"

namespace etcd::bbolt {

using namespace format;  // NOLINT: the layout constants

namespace {

// A B+tree deeper than this is corrupt: bbolt's fanout keeps real trees
// under ~10 levels even for terabytes.
constexpr size_t kMaxTreeDepth = 64;
// Buckets nested deeper than this are refused (etcd nests none).
constexpr size_t kMaxBucketNesting = 64;
// The largest page span a valid file has: one leaf element with a maximal
// key and value, rounded up to whole pages.
constexpr uint64_t kMaxPageSpan = kMaxValueSize + kMaxKeySize + 2 * kMaxPageSize;

std::string hex32(uint32_t v) {
  static const char* kDigits = "0123456789abcdef";
  std::string s = "0x";
  bool started = false;
  for (int i = 28; i >= 0; i -= 4) {
    unsigned d = (v >> i) & 0xF;
    if (d != 0 || started || i == 0) {
      s.push_back(kDigits[d]);
      started = true;
    }
  }
  return s;
}

std::string u(uint64_t v) { return std::to_string(v); }

Status loss(std::string m) { return data_loss("bbolt: " + std::move(m)); }

// Where the bytes come from: a file read with pread, or an image in memory.
class Source {
 public:
  virtual ~Source() = default;
  uint64_t size() const { return size_; }
  // Makes `out` the bytes [off, off+n): a view into the image, or into
  // `buf` after reading them from the file.
  virtual Status read(uint64_t off, uint64_t n, std::string_view* out, std::vector<char>* buf) = 0;

 protected:
  uint64_t size_ = 0;
};

class MemorySource final : public Source {
 public:
  explicit MemorySource(std::string_view image) : image_(image) { size_ = image.size(); }
  Status read(uint64_t off, uint64_t n, std::string_view* out, std::vector<char>*) override {
    if (off > size_ || n > size_ - off) {
      return loss("read of " + u(n) + " bytes at offset " + u(off) + " past the end (" + u(size_) +
                  " bytes)");
    }
    *out = image_.substr(off, n);
    return Status::ok();
  }

 private:
  std::string_view image_;
};

class FileSource final : public Source {
 public:
  FileSource(int fd, uint64_t size, std::string path) : fd_(fd), path_(std::move(path)) {
    size_ = size;
  }
  ~FileSource() override { ::close(fd_); }
  Status read(uint64_t off, uint64_t n, std::string_view* out, std::vector<char>* buf) override {
    if (off > size_ || n > size_ - off) {
      return loss(path_ + ": read of " + u(n) + " bytes at offset " + u(off) + " past the end (" +
                  u(size_) + " bytes)");
    }
    buf->resize(n);
    uint64_t done = 0;
    while (done < n) {
      size_t chunk = static_cast<size_t>(std::min<uint64_t>(n - done, uint64_t{1} << 30));
      ssize_t r = ::pread(fd_, buf->data() + done, chunk, static_cast<off_t>(off + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return internal_error("bbolt: " + path_ + ": pread at offset " + u(off + done) + ": " +
                              std::strerror(errno));
      }
      if (r == 0) return loss(path_ + ": file shrank while reading (offset " + u(off + done) + ")");
      done += static_cast<uint64_t>(r);
    }
    *out = std::string_view(buf->data(), n);
    return Status::ok();
  }

 private:
  int fd_;
  std::string path_;
};

// One page (with its overflow pages) or an inline bucket's page.
struct Page {
  uint64_t id = 0;  // the page id; for an inline page, the page holding it
  bool is_inline = false;
  uint16_t flags = 0;
  uint16_t count = 0;
  uint32_t overflow = 0;
  std::string_view data;  // the whole span
  std::vector<char> buf;  // owns `data` when it was read from a file or copied

  std::string name() const {
    return is_inline ? "inline bucket page (in page " + u(id) + ")" : "page " + u(id);
  }
};

// A bucket to walk: a root page, or an inline page (a copy of its bytes).
struct BucketRef {
  uint64_t root = 0;
  uint64_t host = 0;  // for an inline bucket: the page its value sits in
  std::vector<char> inline_page;
};

// Reads a page header and its elements' array bound from `data`.
Status parse_header(Page* p) {
  if (p->data.size() < kPageHeaderSize) {
    return loss(p->name() + ": " + u(p->data.size()) + " bytes, shorter than a page header");
  }
  const char* d = p->data.data();
  p->flags = get16(d + kOffFlags);
  p->count = get16(d + kOffCount);
  p->overflow = get32(d + kOffOverflow);
  return Status::ok();
}

Status check_element_array(const Page& p) {
  uint64_t need = kPageHeaderSize + uint64_t{p.count} * kLeafElementSize;
  if (need > p.data.size()) {
    return loss(p.name() + ": " + u(p.count) + " elements do not fit in its " + u(p.data.size()) +
                " bytes");
  }
  if (p.flags == kBranchPage && p.count == 0)
    return loss(p.name() + ": branch page with no elements");
  return Status::ok();
}

struct LeafElem {
  uint32_t flags;
  std::string_view key;
  std::string_view value;
};

Status leaf_element(const Page& p, uint32_t i, LeafElem* out) {
  uint64_t off = kPageHeaderSize + uint64_t{i} * kLeafElementSize;
  const char* e = p.data.data() + off;
  out->flags = get32(e);
  uint32_t pos = get32(e + 4);
  uint32_t ksize = get32(e + 8);
  uint32_t vsize = get32(e + 12);
  uint64_t start = off + pos;
  if (start + ksize + vsize > p.data.size()) {
    return loss(p.name() + ": leaf element " + u(i) + " runs past the page (pos " + u(pos) +
                ", ksize " + u(ksize) + ", vsize " + u(vsize) + ", page " + u(p.data.size()) +
                " bytes)");
  }
  out->key = p.data.substr(start, ksize);
  out->value = p.data.substr(start + ksize, vsize);
  return Status::ok();
}

Status branch_element(const Page& p, uint32_t i, std::string_view* key, uint64_t* child) {
  uint64_t off = kPageHeaderSize + uint64_t{i} * kBranchElementSize;
  const char* e = p.data.data() + off;
  uint32_t pos = get32(e);
  uint32_t ksize = get32(e + 4);
  *child = get64(e + 8);
  uint64_t start = off + pos;
  if (start + ksize > p.data.size()) {
    return loss(p.name() + ": branch element " + u(i) + " runs past the page (pos " + u(pos) +
                ", ksize " + u(ksize) + ", page " + u(p.data.size()) + " bytes)");
  }
  *key = p.data.substr(start, ksize);
  return Status::ok();
}

struct ParsedMeta {
  bool ok = false;
  std::string why;
  MetaInfo info;
};

// Validates the meta page at `index` from the first bytes of its page.
// `page_size` (when not 0) is the page size the meta must state.
ParsedMeta parse_meta(std::string_view page, int index, uint32_t page_size) {
  ParsedMeta m;
  if (page.size() < kPageHeaderSize + kMetaSize) {
    m.why = "too short";
    return m;
  }
  const char* d = page.data();
  uint64_t id = get64(d + kOffId);
  uint16_t flags = get16(d + kOffFlags);
  const char* md = d + kPageHeaderSize;
  if ((flags & kMetaPage) == 0) {
    m.why = "not a meta page (flags " + hex32(flags) + ")";
  } else if (get32(md + kMetaMagic) != kMagic) {
    m.why = "bad magic " + hex32(get32(md + kMetaMagic));
  } else if (get32(md + kMetaVersion) != kVersion) {
    m.why = "unsupported version " + u(get32(md + kMetaVersion));
  } else if (get64(md + kMetaChecksum) != fnv64a(std::string_view(md, kMetaChecksum))) {
    m.why = "checksum mismatch";
  } else if (id != static_cast<uint64_t>(index)) {
    m.why = "header says page " + u(id);
  } else if (!valid_page_size(get32(md + kMetaPageSize))) {
    m.why = "page size " + u(get32(md + kMetaPageSize)) + " is not a power of two in 512..65536";
  } else if (page_size != 0 && get32(md + kMetaPageSize) != page_size) {
    m.why = "page size " + u(get32(md + kMetaPageSize)) + " differs from " + u(page_size);
  } else {
    MetaInfo& i = m.info;
    i.page_size = get32(md + kMetaPageSize);
    i.root_pgid = get64(md + kMetaRoot);
    i.freelist_pgid = get64(md + kMetaFreelist);
    i.high_water = get64(md + kMetaPgid);
    i.txid = get64(md + kMetaTxid);
    i.meta_page = index;
    if (i.high_water < 3 || i.root_pgid < 2 || i.root_pgid >= i.high_water) {
      m.why = "root page " + u(i.root_pgid) + " outside the high water mark " + u(i.high_water);
    } else if (i.freelist_pgid != kNoFreelist &&
               (i.freelist_pgid < 2 || i.freelist_pgid >= i.high_water)) {
      m.why =
          "freelist page " + u(i.freelist_pgid) + " outside the high water mark " + u(i.high_water);
    } else {
      m.ok = true;
    }
  }
  return m;
}

class ReaderImpl final : public Reader {
 public:
  explicit ReaderImpl(std::unique_ptr<Source> src) : src_(std::move(src)) {}

  Status init();
  const MetaInfo& info() const { return meta_; }
  Result<std::vector<std::string>> names();
  Status walk_path(const std::vector<std::string>& path, const EntryFn& fn);
  Status check_all();

 private:
  using LeafFn = std::function<Status(const Page&, uint32_t, const LeafElem&)>;

  // Reads page `pgid` (with its overflow) and checks its id and kind.
  Status load_page(uint64_t pgid, bool want_tree, Page* out);
  Status open_bucket(const BucketRef& b, Page* out);
  Status bucket_ref(const Page& p, uint32_t i, std::string_view value, BucketRef* out);
  // Marks the pages of `p` in `seen`; a page already there is an error.
  Status mark(const Page& p, std::vector<bool>* seen, const std::vector<bool>* freed);
  // Every leaf element of the bucket, in order; checks key order.
  Status walk(const BucketRef& b, std::vector<bool>* seen, const std::vector<bool>* freed,
              const LeafFn& fn);
  // The nested bucket `name` inside `b`.
  Status find_bucket(const BucketRef& b, std::string_view name, const std::string& shown,
                     BucketRef* out);

  std::unique_ptr<Source> src_;
  MetaInfo meta_;
};

Status ReaderImpl::init() {
  const uint64_t size = src_->size();
  constexpr uint64_t kHead = kPageHeaderSize + kMetaSize;
  if (size < kHead) return loss("file is " + u(size) + " bytes, too short for a meta page");
  std::vector<char> buf;
  std::string_view head;
  RETURN_IF_ERROR(src_->read(0, kHead, &head, &buf));
  ParsedMeta m0 = parse_meta(head, 0, 0);
  ParsedMeta m1;
  m1.why = m0.ok ? "beyond the end of the file" : "no valid meta at any page size offset";
  // Page 1 sits at offset page_size: meta 0's when it is valid, otherwise
  // the first power of two whose meta states that page size.
  for (uint32_t ps = kMinPageSize; ps <= kMaxPageSize; ps *= 2) {
    if (m0.ok && ps != m0.info.page_size) continue;
    if (size < ps + kHead) break;
    std::vector<char> b1;
    std::string_view h1;
    RETURN_IF_ERROR(src_->read(ps, kHead, &h1, &b1));
    ParsedMeta m = parse_meta(h1, 1, ps);
    if (m.ok || m0.ok) {
      m1 = std::move(m);
      if (m1.ok) break;
    } else if (ps == kDefaultPageSize) {
      m1.why = "at offset " + u(ps) + ": " + m.why;
    }
  }
  if (!m0.ok && !m1.ok) {
    return loss("no valid meta page (page 0: " + m0.why + "; page 1: " + m1.why + ")");
  }
  if (m0.ok && m1.ok) {
    meta_ = m1.info.txid > m0.info.txid ? m1.info : m0.info;
  } else {
    meta_ = m0.ok ? m0.info : m1.info;
  }
  if (meta_.high_water > size / meta_.page_size) {
    return loss("file is " + u(size) + " bytes, shorter than the high water mark of meta page " +
                u(meta_.meta_page) + " (" + u(meta_.high_water) + " pages of " +
                u(meta_.page_size) + " bytes)");
  }
  return Status::ok();
}

Status ReaderImpl::load_page(uint64_t pgid, bool want_tree, Page* out) {
  const uint64_t ps = meta_.page_size;
  out->id = pgid;
  out->is_inline = false;
  if (pgid < 2 || pgid >= meta_.high_water) {
    return loss("page " + u(pgid) + ": outside the data pages (high water mark " +
                u(meta_.high_water) + ")");
  }
  // The first page (with the header) in one read; the overflow, if any, in
  // a second one.
  RETURN_IF_ERROR(src_->read(pgid * ps, ps, &out->data, &out->buf));
  RETURN_IF_ERROR(parse_header(out));
  uint64_t id = get64(out->data.data() + kOffId);
  if (id != pgid) return loss("page " + u(pgid) + ": header says page " + u(id));
  if (want_tree ? (out->flags != kBranchPage && out->flags != kLeafPage)
                : out->flags != kFreelistPage) {
    return loss("page " + u(pgid) + ": expected a " +
                (want_tree ? std::string("branch or leaf") : std::string("freelist")) +
                " page, found flags " + hex32(out->flags));
  }
  if (out->overflow >= meta_.high_water - pgid) {
    return loss("page " + u(pgid) + ": overflow " + u(out->overflow) +
                " runs past the high water mark " + u(meta_.high_water));
  }
  uint64_t span = (uint64_t{out->overflow} + 1) * ps;
  if (span > kMaxPageSpan) {
    return loss("page " + u(pgid) + ": overflow " + u(out->overflow) + " exceeds any valid page");
  }
  if (span > ps) RETURN_IF_ERROR(src_->read(pgid * ps, span, &out->data, &out->buf));
  if (want_tree) RETURN_IF_ERROR(check_element_array(*out));
  return Status::ok();
}

Status ReaderImpl::open_bucket(const BucketRef& b, Page* out) {
  if (b.root != 0) return load_page(b.root, true, out);
  out->id = b.host;
  out->is_inline = true;
  out->buf = b.inline_page;
  out->data = std::string_view(out->buf.data(), out->buf.size());
  RETURN_IF_ERROR(parse_header(out));
  if (out->flags != kLeafPage) {
    return loss(out->name() + ": expected a leaf page, found flags " + hex32(out->flags));
  }
  return check_element_array(*out);
}

Status ReaderImpl::bucket_ref(const Page& p, uint32_t i, std::string_view value, BucketRef* out) {
  if (value.size() < kBucketHeaderSize) {
    return loss(p.name() + ": bucket in element " + u(i) + " has a " + u(value.size()) +
                "-byte value, shorter than a bucket header");
  }
  out->root = get64(value.data());
  out->host = p.id;
  out->inline_page.clear();
  if (out->root == 0) {
    std::string_view page = value.substr(kBucketHeaderSize);
    if (page.size() < kPageHeaderSize) {
      return loss(p.name() + ": inline bucket in element " + u(i) +
                  " is shorter than a page header");
    }
    out->inline_page.assign(page.begin(), page.end());
  } else if (out->root < 2 || out->root >= meta_.high_water) {
    return loss(p.name() + ": bucket in element " + u(i) + " has root page " + u(out->root) +
                " outside the data pages (high water mark " + u(meta_.high_water) + ")");
  }
  return Status::ok();
}

Status ReaderImpl::mark(const Page& p, std::vector<bool>* seen, const std::vector<bool>* freed) {
  if (p.is_inline) return Status::ok();
  for (uint64_t j = 0; j <= p.overflow; ++j) {
    uint64_t id = p.id + j;
    if ((*seen)[id]) {
      return loss("page " + u(id) + ": reached twice (a cycle, or a page with two parents)");
    }
    if (freed != nullptr && (*freed)[id]) {
      return loss("page " + u(id) + ": in use and on the freelist");
    }
    (*seen)[id] = true;
  }
  return Status::ok();
}

Status ReaderImpl::walk(const BucketRef& b, std::vector<bool>* seen, const std::vector<bool>* freed,
                        const LeafFn& fn) {
  struct Frame {
    Page page;
    uint32_t next = 0;
  };
  std::vector<Frame> stack;
  stack.emplace_back();
  RETURN_IF_ERROR(open_bucket(b, &stack.back().page));
  RETURN_IF_ERROR(mark(stack.back().page, seen, freed));
  // Keys ascend strictly across the walk. A branch element i > 0 with key K
  // bounds its subtree from below (bbolt's seek relies on it): the keys
  // before it are < K, the next key after descending is >= K.
  std::string last_key;
  bool have_last = false;
  std::string lower;
  bool have_lower = false;
  while (!stack.empty()) {
    Frame& f = stack.back();
    if (f.next >= f.page.count) {
      stack.pop_back();
      continue;
    }
    const uint32_t i = f.next++;
    if (f.page.flags == kLeafPage) {
      LeafElem e;
      RETURN_IF_ERROR(leaf_element(f.page, i, &e));
      if (have_last && std::string_view(last_key) >= e.key) {
        return loss(f.page.name() + ": leaf element " + u(i) + " is not after the key before it");
      }
      if (have_lower && e.key < std::string_view(lower)) {
        return loss(f.page.name() + ": leaf element " + u(i) +
                    " is below the key of the branch element above it");
      }
      have_lower = false;
      last_key.assign(e.key);
      have_last = true;
      RETURN_IF_ERROR(fn(f.page, i, e));
      continue;
    }
    std::string_view key;
    uint64_t child = 0;
    RETURN_IF_ERROR(branch_element(f.page, i, &key, &child));
    if (i > 0) {
      std::string_view prev;
      uint64_t unused = 0;
      RETURN_IF_ERROR(branch_element(f.page, i - 1, &prev, &unused));
      if (prev >= key) {
        return loss(f.page.name() + ": branch element " + u(i) + " is not after the key before it");
      }
      if (have_last && std::string_view(last_key) >= key) {
        return loss(f.page.name() + ": branch element " + u(i) +
                    " is not above the keys of the subtree before it");
      }
      lower.assign(key);
      have_lower = true;
    }
    if (child < 2 || child >= meta_.high_water) {
      return loss(f.page.name() + ": branch element " + u(i) + " points to page " + u(child) +
                  " outside the data pages (high water mark " + u(meta_.high_water) + ")");
    }
    for (const Frame& up : stack) {
      if (!up.page.is_inline && up.page.id == child) {
        return loss(f.page.name() + ": branch element " + u(i) + " points back to page " +
                    u(child) + " on its own path (a cycle)");
      }
    }
    if (stack.size() >= kMaxTreeDepth) {
      return loss(f.page.name() + ": tree deeper than " + u(kMaxTreeDepth) + " levels");
    }
    Page next;
    RETURN_IF_ERROR(load_page(child, true, &next));
    RETURN_IF_ERROR(mark(next, seen, freed));
    stack.emplace_back();  // `f` is invalid from here
    stack.back().page = std::move(next);
  }
  return Status::ok();
}

Status ReaderImpl::find_bucket(const BucketRef& b, std::string_view name, const std::string& shown,
                               BucketRef* out) {
  Page page;
  RETURN_IF_ERROR(open_bucket(b, &page));
  std::vector<uint64_t> path;
  for (;;) {
    if (page.flags == kLeafPage) {
      for (uint32_t i = 0; i < page.count; ++i) {
        LeafElem e;
        RETURN_IF_ERROR(leaf_element(page, i, &e));
        if (e.key != name) continue;
        if ((e.flags & kBucketLeafFlag) == 0)
          return not_found("bbolt: " + shown + " is not a bucket");
        return bucket_ref(page, i, e.value, out);
      }
      return not_found("bbolt: bucket " + shown + " not found");
    }
    // The last element whose key is <= name (the first when none is).
    uint64_t child = 0;
    for (uint32_t i = 0; i < page.count; ++i) {
      std::string_view key;
      uint64_t c = 0;
      RETURN_IF_ERROR(branch_element(page, i, &key, &c));
      if (i == 0 || key <= name) child = c;
      if (key > name) break;
    }
    if (child < 2 || child >= meta_.high_water) {
      return loss(page.name() + ": points to page " + u(child) +
                  " outside the data pages (high water mark " + u(meta_.high_water) + ")");
    }
    path.push_back(page.id);
    for (uint64_t id : path) {
      if (id == child)
        return loss(page.name() + ": points back to page " + u(child) + " (a cycle)");
    }
    if (path.size() >= kMaxTreeDepth) {
      return loss(page.name() + ": tree deeper than " + u(kMaxTreeDepth) + " levels");
    }
    Page next;
    RETURN_IF_ERROR(load_page(child, true, &next));
    page = std::move(next);
  }
}

Status ReaderImpl::walk_path(const std::vector<std::string>& path, const EntryFn& fn) {
  if (path.size() > kMaxBucketNesting) return invalid_argument("bbolt: bucket path too deep");
  BucketRef cur;
  cur.root = meta_.root_pgid;
  std::string shown;
  for (const std::string& name : path) {
    shown += (shown.empty() ? "" : "/") + name;
    BucketRef next;
    RETURN_IF_ERROR(find_bucket(cur, name, shown, &next));
    cur = std::move(next);
  }
  std::vector<bool> seen(meta_.high_water);
  return walk(cur, &seen, nullptr, [&](const Page&, uint32_t, const LeafElem& e) {
    Entry entry;
    entry.key = e.key;
    entry.value = e.value;
    entry.is_bucket = (e.flags & kBucketLeafFlag) != 0;
    return fn(entry);
  });
}

Result<std::vector<std::string>> ReaderImpl::names() {
  std::vector<std::string> out;
  Status s = walk_path({}, [&](const Entry& e) {
    if (e.is_bucket) out.emplace_back(e.key);
    return Status::ok();
  });
  if (!s.is_ok()) return s;
  return out;
}

Status ReaderImpl::check_all() {
  const uint64_t hw = meta_.high_water;
  std::vector<bool> seen(hw);
  std::vector<bool> freed(hw);
  seen[0] = seen[1] = true;
  const bool have_freelist = meta_.freelist_pgid != kNoFreelist;
  if (have_freelist) {
    Page fl;
    RETURN_IF_ERROR(load_page(meta_.freelist_pgid, false, &fl));
    RETURN_IF_ERROR(mark(fl, &seen, nullptr));
    uint64_t count = fl.count;
    uint64_t first = 0;
    const uint64_t slots = (fl.data.size() - kPageHeaderSize) / 8;
    if (count == 0xFFFF) {
      count = get64(fl.data.data() + kPageHeaderSize);
      first = 1;
    }
    if (count > slots - first) {
      return loss(fl.name() + ": freelist of " + u(count) + " ids does not fit in the page");
    }
    for (uint64_t k = 0; k < count; ++k) {
      uint64_t id = get64(fl.data.data() + kPageHeaderSize + (first + k) * 8);
      if (id < 2 || id >= hw) {
        return loss(fl.name() + ": freelist lists page " + u(id) +
                    " outside the data pages (high water mark " + u(hw) + ")");
      }
      if (freed[id]) return loss(fl.name() + ": freelist lists page " + u(id) + " twice");
      if (seen[id]) return loss("page " + u(id) + ": on the freelist and in use");
      freed[id] = true;
    }
  }
  // Buckets still to walk, depth first, with their nesting depth.
  std::vector<std::pair<BucketRef, size_t>> todo;
  todo.emplace_back();
  todo.back().first.root = meta_.root_pgid;
  todo.back().second = 0;
  while (!todo.empty()) {
    std::pair<BucketRef, size_t> item = std::move(todo.back());
    todo.pop_back();
    RETURN_IF_ERROR(walk(
        item.first, &seen, &freed, [&](const Page& p, uint32_t i, const LeafElem& e) -> Status {
          if ((e.flags & kBucketLeafFlag) == 0) return Status::ok();
          if (item.second + 1 > kMaxBucketNesting) {
            return loss(p.name() + ": buckets nested deeper than " + u(kMaxBucketNesting));
          }
          BucketRef child;
          RETURN_IF_ERROR(bucket_ref(p, i, e.value, &child));
          todo.emplace_back(std::move(child), item.second + 1);
          return Status::ok();
        }));
  }
  if (have_freelist) {
    for (uint64_t id = 2; id < hw; ++id) {
      if (!seen[id] && !freed[id]) return loss("page " + u(id) + ": neither in use nor free");
    }
  }
  return Status::ok();
}

ReaderImpl* impl(Reader* r) { return static_cast<ReaderImpl*>(r); }
const ReaderImpl* impl(const Reader* r) { return static_cast<const ReaderImpl*>(r); }

}  // namespace

bool looks_like_bbolt(std::string_view head) {
  if (head.size() < kPageHeaderSize + 8) return false;
  const char* d = head.data();
  return (get16(d + kOffFlags) & kMetaPage) != 0 &&
         get32(d + kPageHeaderSize + kMetaMagic) == kMagic &&
         get32(d + kPageHeaderSize + kMetaVersion) == kVersion;
}

bool is_bbolt_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[32];
  ssize_t n;
  do {
    n = ::pread(fd, buf, sizeof buf, 0);
  } while (n < 0 && errno == EINTR);
  ::close(fd);
  return n == static_cast<ssize_t>(sizeof buf) &&
         looks_like_bbolt(std::string_view(buf, sizeof buf));
}

Reader::Reader() = default;
Reader::~Reader() = default;

Result<std::unique_ptr<Reader>> Reader::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    std::string m = "bbolt: open " + path + ": " + std::strerror(err);
    if (err == ENOENT) return not_found(std::move(m));
    return internal_error(std::move(m));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return internal_error("bbolt: stat " + path + ": " + std::strerror(err));
  }
  auto r = std::make_unique<ReaderImpl>(
      std::make_unique<FileSource>(fd, static_cast<uint64_t>(st.st_size), path));
  Status s = r->init();
  if (!s.is_ok()) return Status(s.code(), s.message() + " (" + path + ")");
  return std::unique_ptr<Reader>(std::move(r));
}

Result<std::unique_ptr<Reader>> Reader::from_memory(std::string_view image) {
  auto r = std::make_unique<ReaderImpl>(std::make_unique<MemorySource>(image));
  RETURN_IF_ERROR(r->init());
  return std::unique_ptr<Reader>(std::move(r));
}

const MetaInfo& Reader::meta() const { return impl(this)->info(); }
Result<std::vector<std::string>> Reader::bucket_names() { return impl(this)->names(); }
Status Reader::for_each(const std::vector<std::string>& path, const EntryFn& fn) {
  return impl(this)->walk_path(path, fn);
}
Status Reader::check() { return impl(this)->check_all(); }

}  // namespace etcd::bbolt
