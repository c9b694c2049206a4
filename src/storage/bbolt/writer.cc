// The bbolt writer: a compact file written front to back. Each open bucket
// (the root bucket included) is a stack of in-progress pages, one per tree
// level; a page is written as soon as the next element does not fit, and
// its first key and page id go up one level. See docs/storage-backend.md,
// "bbolt files".
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

std::string u(uint64_t v) { return std::to_string(v); }

Status errno_error(const std::string& what, int err) {
  return internal_error("bbolt: " + what + ": " + std::strerror(err));
}

// The elements of one in-progress page. Leaf elements keep key and value
// back to back in `data`; branch elements keep the key there and the child.
struct PendingPage {
  struct Elem {
    uint32_t flags = 0;  // leaf: bucketLeafFlag or 0
    uint32_t ksize = 0;
    uint32_t vsize = 0;
    uint64_t child = 0;  // branch
    size_t off = 0;      // into data
  };
  std::vector<Elem> elems;
  std::string data;
  uint64_t emitted = 0;  // pages written from this level so far

  uint64_t size() const { return kPageHeaderSize + elems.size() * kLeafElementSize + data.size(); }
  std::string_view key(size_t i) const {
    return std::string_view(data).substr(elems[i].off, elems[i].ksize);
  }
  void clear() {
    elems.clear();
    data.clear();
  }
};

// One open bucket: levels[0] holds leaf elements, levels[i > 0] branch
// elements pointing at pages of level i - 1.
struct Tree {
  std::string name;
  std::vector<PendingPage> levels{1};
  std::string last_key;
  bool has_key = false;
  bool has_bucket = false;  // holds a nested bucket: never inline
};

class WriterImpl final : public Writer {
 public:
  WriterImpl(int fd, bool owns_fd, WriterOptions opts) : fd_(fd), owns_fd_(owns_fd), opts_(opts) {
    threshold_ = static_cast<uint64_t>(opts_.page_size * std::clamp(opts_.fill_percent, 0.1, 1.0));
    threshold_ = std::max<uint64_t>(threshold_, kPageHeaderSize + kLeafElementSize);
    trees_.emplace_back();  // the root bucket
  }
  ~WriterImpl() override {
    if (owns_fd_ && fd_ >= 0) ::close(fd_);
  }

  Status begin(std::string_view name);
  Status add(std::string_view key, std::string_view value);
  Status end();
  Result<uint64_t> done();

 private:
  Status fail(Status s) {
    if (failed_.is_ok()) failed_ = s;
    return s;
  }
  Status usable() const {
    if (!failed_.is_ok()) {
      return failed_precondition("bbolt writer: an earlier call failed: " + failed_.message());
    }
    if (finished_) return failed_precondition("bbolt writer: already finished");
    return Status::ok();
  }
  Status check_key(std::string_view key, const char* what) const;
  Status pwrite_all(const char* data, size_t n, uint64_t off);
  // Writes `image` (header fields filled here) as the next page(s).
  Status emit(std::string* image, uint16_t flags, uint16_t count, uint64_t* pgid);
  std::string serialize(const PendingPage& p, bool leaf) const;
  // Adds an element to `tree` at `level`, writing the level's page first
  // when the element does not fit.
  Status push(Tree* tree, size_t level, uint32_t flags, std::string_view key,
              std::string_view value, uint64_t child);
  Status flush(Tree* tree, size_t level);
  // The largest leaf that packs elements of more than half a page together.
  static constexpr uint64_t kPackedLeafPages = 16;
  uint64_t packed_leaf_limit() const { return kPackedLeafPages * opts_.page_size; }
  Status write_big_leaf(Tree* tree, uint32_t flags, std::string_view key, std::string_view value);
  // Ends a tree: its root page id, or (inline_ok) the inline bucket image.
  Status close_tree(Tree* tree, bool inline_ok, std::string* bucket_value, uint64_t* root);

  int fd_;
  bool owns_fd_;
  WriterOptions opts_;
  uint64_t threshold_ = 0;
  uint64_t next_pgid_ = 2;   // pages 0 and 1 are the metas, written last
  std::vector<Tree> trees_;  // trees_[0]: the root bucket; back(): the open bucket
  Status failed_;
  bool finished_ = false;
  std::string scratch_;
};

Status WriterImpl::check_key(std::string_view key, const char* what) const {
  if (key.empty()) return invalid_argument(std::string("bbolt writer: empty ") + what);
  if (key.size() > kMaxKeySize) {
    return invalid_argument(std::string("bbolt writer: ") + what + " of " + u(key.size()) +
                            " bytes exceeds bbolt's limit of " + u(kMaxKeySize));
  }
  const Tree& t = trees_.back();
  if (t.has_key && std::string_view(t.last_key) >= key) {
    return invalid_argument(std::string("bbolt writer: ") + what +
                            " is not after the previous one" +
                            (t.name.empty() ? "" : " in bucket " + t.name));
  }
  return Status::ok();
}

Status WriterImpl::pwrite_all(const char* data, size_t n, uint64_t off) {
  size_t done = 0;
  while (done < n) {
    size_t chunk = std::min<size_t>(n - done, size_t{1} << 30);
    ssize_t r = ::pwrite(fd_, data + done, chunk, static_cast<off_t>(off + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno_error("pwrite at offset " + u(off + done), errno);
    }
    done += static_cast<size_t>(r);
  }
  return Status::ok();
}

std::string WriterImpl::serialize(const PendingPage& p, bool leaf) const {
  std::string out(p.size(), '\0');
  put16(out.data() + kOffFlags, leaf ? kLeafPage : kBranchPage);
  put16(out.data() + kOffCount, static_cast<uint16_t>(p.elems.size()));
  const uint64_t data_start = kPageHeaderSize + p.elems.size() * kLeafElementSize;
  std::memcpy(out.data() + data_start, p.data.data(), p.data.size());
  for (size_t i = 0; i < p.elems.size(); ++i) {
    const PendingPage::Elem& e = p.elems[i];
    char* el = out.data() + kPageHeaderSize + i * kLeafElementSize;
    uint32_t pos = static_cast<uint32_t>(data_start + e.off - (el - out.data()));
    if (leaf) {
      put32(el, e.flags);
      put32(el + 4, pos);
      put32(el + 8, e.ksize);
      put32(el + 12, e.vsize);
    } else {
      put32(el, pos);
      put32(el + 4, e.ksize);
      put64(el + 8, e.child);
    }
  }
  return out;
}

Status WriterImpl::emit(std::string* image, uint16_t flags, uint16_t count, uint64_t* pgid) {
  const uint64_t ps = opts_.page_size;
  const uint64_t pages = (image->size() + ps - 1) / ps;
  image->resize(pages * ps, '\0');
  put64(image->data() + kOffId, next_pgid_);
  put16(image->data() + kOffFlags, flags);
  put16(image->data() + kOffCount, count);
  put32(image->data() + kOffOverflow, static_cast<uint32_t>(pages - 1));
  RETURN_IF_ERROR(pwrite_all(image->data(), image->size(), next_pgid_ * ps));
  *pgid = next_pgid_;
  next_pgid_ += pages;
  return Status::ok();
}

Status WriterImpl::flush(Tree* tree, size_t level) {
  PendingPage& p = tree->levels[level];
  if (p.elems.empty()) return Status::ok();
  const bool leaf = level == 0;
  scratch_ = serialize(p, leaf);
  uint64_t pgid = 0;
  RETURN_IF_ERROR(emit(&scratch_, leaf ? kLeafPage : kBranchPage,
                       static_cast<uint16_t>(p.elems.size()), &pgid));
  std::string first(p.key(0));
  p.clear();
  p.emitted++;
  return push(tree, level + 1, 0, first, {}, pgid);
}

Status WriterImpl::push(Tree* tree, size_t level, uint32_t flags, std::string_view key,
                        std::string_view value, uint64_t child) {
  if (tree->levels.size() <= level) tree->levels.resize(level + 1);
  const uint64_t esize = kLeafElementSize + key.size() + value.size();
  {
    PendingPage& p = tree->levels[level];
    // A branch page takes at least two elements (bbolt's minKeysPerPage),
    // so that each level has at most half the pages of the one below and
    // the tree closes even when keys are as large as pages.
    const size_t min_elems = level == 0 ? 1 : 2;
    // Leaf elements of more than half a page share a leaf of up to
    // kPackedLeafPages pages: alone, each would take a page and most of
    // another (a 4.1 KB value in two 4 KiB pages).
    const uint64_t limit = level == 0 && esize > threshold_ / 2 ? packed_leaf_limit() : threshold_;
    if (p.elems.size() >= min_elems && (p.size() + esize > limit || p.elems.size() >= 0xFFFF)) {
      RETURN_IF_ERROR(flush(tree, level));
    }
  }
  PendingPage& p = tree->levels[level];  // flush may have grown `levels`
  PendingPage::Elem e;
  e.flags = flags;
  e.ksize = static_cast<uint32_t>(key.size());
  e.vsize = static_cast<uint32_t>(value.size());
  e.child = child;
  e.off = p.data.size();
  p.data.append(key);
  p.data.append(value);
  p.elems.push_back(e);
  return Status::ok();
}

Status WriterImpl::write_big_leaf(Tree* tree, uint32_t flags, std::string_view key,
                                  std::string_view value) {
  RETURN_IF_ERROR(flush(tree, 0));
  const uint64_t ps = opts_.page_size;
  const uint64_t total = kPageHeaderSize + kLeafElementSize + key.size() + value.size();
  const uint64_t pages = (total + ps - 1) / ps;
  const uint64_t pgid = next_pgid_;
  std::string head(kPageHeaderSize + kLeafElementSize, '\0');
  put64(head.data() + kOffId, pgid);
  put16(head.data() + kOffFlags, kLeafPage);
  put16(head.data() + kOffCount, 1);
  put32(head.data() + kOffOverflow, static_cast<uint32_t>(pages - 1));
  char* el = head.data() + kPageHeaderSize;
  put32(el, flags);
  put32(el + 4, kLeafElementSize);
  put32(el + 8, static_cast<uint32_t>(key.size()));
  put32(el + 12, static_cast<uint32_t>(value.size()));
  head.append(key);
  const uint64_t off = pgid * ps;
  RETURN_IF_ERROR(pwrite_all(head.data(), head.size(), off));
  RETURN_IF_ERROR(pwrite_all(value.data(), value.size(), off + head.size()));
  std::string pad(pages * ps - total, '\0');
  RETURN_IF_ERROR(pwrite_all(pad.data(), pad.size(), off + total));
  next_pgid_ += pages;
  tree->levels[0].emitted++;
  return push(tree, 1, 0, key, {}, pgid);
}

Status WriterImpl::close_tree(Tree* tree, bool inline_ok, std::string* bucket_value,
                              uint64_t* root) {
  PendingPage& leaf = tree->levels[0];
  bucket_value->assign(kBucketHeaderSize, '\0');  // root 0, sequence 0
  if (inline_ok && tree->levels.size() == 1 && leaf.emitted == 0 && !tree->has_bucket &&
      leaf.size() <= opts_.page_size / 4) {
    bucket_value->append(serialize(leaf, true));
    *root = 0;
    return Status::ok();
  }
  if (tree->levels.size() == 1) {
    // One leaf page (maybe empty: an empty root bucket) is the whole tree.
    scratch_ = serialize(leaf, true);
    RETURN_IF_ERROR(emit(&scratch_, kLeafPage, static_cast<uint16_t>(leaf.elems.size()), root));
  } else {
    for (size_t level = 0;; ++level) {
      PendingPage& p = tree->levels[level];
      const bool top = level + 1 == tree->levels.size();
      if (!top) {
        RETURN_IF_ERROR(flush(tree, level));
        continue;
      }
      if (p.emitted > 0) {
        RETURN_IF_ERROR(flush(tree, level));  // adds the level above
        continue;
      }
      if (p.elems.size() == 1) {
        *root = p.elems[0].child;  // the one page below is the root
      } else {
        scratch_ = serialize(p, false);
        RETURN_IF_ERROR(emit(&scratch_, kBranchPage, static_cast<uint16_t>(p.elems.size()), root));
      }
      break;
    }
  }
  put64(bucket_value->data(), *root);
  return Status::ok();
}

Status WriterImpl::begin(std::string_view name) {
  RETURN_IF_ERROR(usable());
  if (trees_.size() > 64) return fail(invalid_argument("bbolt writer: buckets nested too deep"));
  Status s = check_key(name, "bucket name");
  if (!s.is_ok()) return fail(s);
  Tree& parent = trees_.back();
  parent.last_key.assign(name);
  parent.has_key = true;
  Tree t;
  t.name = trees_.size() == 1 ? std::string(name) : trees_.back().name + "/" + std::string(name);
  trees_.push_back(std::move(t));
  return Status::ok();
}

Status WriterImpl::add(std::string_view key, std::string_view value) {
  RETURN_IF_ERROR(usable());
  if (trees_.size() == 1) return fail(invalid_argument("bbolt writer: put outside a bucket"));
  Status s = check_key(key, "key");
  if (s.is_ok() && value.size() > kMaxValueSize) {
    s = invalid_argument("bbolt writer: value of " + u(value.size()) +
                         " bytes exceeds bbolt's limit of " + u(kMaxValueSize));
  }
  if (!s.is_ok()) return fail(s);
  Tree& t = trees_.back();
  t.last_key.assign(key);
  t.has_key = true;
  const uint64_t esize = kLeafElementSize + key.size() + value.size();
  if (kPageHeaderSize + esize > packed_leaf_limit()) return fail(write_big_leaf(&t, 0, key, value));
  return fail(push(&t, 0, 0, key, value, 0));
}

Status WriterImpl::end() {
  RETURN_IF_ERROR(usable());
  if (trees_.size() == 1)
    return fail(invalid_argument("bbolt writer: end_bucket without a bucket"));
  Tree t = std::move(trees_.back());
  trees_.pop_back();
  std::string value;
  uint64_t root = 0;
  RETURN_IF_ERROR(fail(close_tree(&t, true, &value, &root)));
  // begin() checked the name and made it the parent's last key.
  const std::string name = trees_.back().last_key;
  Tree& parent = trees_.back();
  parent.has_bucket = true;
  const uint64_t esize = kLeafElementSize + name.size() + value.size();
  if (kPageHeaderSize + esize > opts_.page_size) {
    return fail(write_big_leaf(&parent, kBucketLeafFlag, name, value));
  }
  return fail(push(&parent, 0, kBucketLeafFlag, name, value, 0));
}

Result<uint64_t> WriterImpl::done() {
  RETURN_IF_ERROR(usable());
  if (trees_.size() != 1) {
    return fail(
        invalid_argument("bbolt writer: finish with bucket " + trees_.back().name + " still open"));
  }
  std::string unused;
  uint64_t root = 0;
  RETURN_IF_ERROR(fail(close_tree(&trees_[0], false, &unused, &root)));
  // An empty freelist page.
  scratch_.assign(kPageHeaderSize, '\0');
  uint64_t freelist = 0;
  RETURN_IF_ERROR(fail(emit(&scratch_, kFreelistPage, 0, &freelist)));
  const uint64_t high_water = next_pgid_;
  const uint64_t ps = opts_.page_size;
  // Page txid % 2 holds the winning meta, the other one txid - 1.
  for (uint64_t txid : {opts_.txid - 1, opts_.txid}) {
    std::string page(ps, '\0');
    put64(page.data() + kOffId, txid % 2);
    put16(page.data() + kOffFlags, kMetaPage);
    char* m = page.data() + kPageHeaderSize;
    put32(m + kMetaMagic, kMagic);
    put32(m + kMetaVersion, kVersion);
    put32(m + kMetaPageSize, opts_.page_size);
    put32(m + kMetaFlags, 0);
    put64(m + kMetaRoot, root);
    put64(m + kMetaSequence, 0);
    put64(m + kMetaFreelist, freelist);
    put64(m + kMetaPgid, high_water);
    put64(m + kMetaTxid, txid);
    put64(m + kMetaChecksum, fnv64a(std::string_view(m, kMetaChecksum)));
    RETURN_IF_ERROR(fail(pwrite_all(page.data(), page.size(), (txid % 2) * ps)));
  }
  if (::fsync(fd_) != 0) return fail(errno_error("fsync", errno));
  if (owns_fd_) {
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return fail(errno_error("close", errno));
  }
  finished_ = true;
  return high_water * ps;
}

WriterImpl* impl(Writer* w) { return static_cast<WriterImpl*>(w); }

Status check_options(const WriterOptions& o) {
  if (!valid_page_size(o.page_size)) {
    return invalid_argument("bbolt writer: page size " + u(o.page_size) +
                            " is not a power of two in 512..65536");
  }
  if (o.txid < 1) return invalid_argument("bbolt writer: txid must be at least 1");
  return Status::ok();
}

}  // namespace

Writer::Writer() = default;
Writer::~Writer() = default;

Result<std::unique_ptr<Writer>> Writer::create(const std::string& path, WriterOptions opts) {
  RETURN_IF_ERROR(check_options(opts));
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return errno_error("create " + path, errno);
  return std::unique_ptr<Writer>(std::make_unique<WriterImpl>(fd, true, opts));
}

Result<std::unique_ptr<Writer>> Writer::create_fd(int fd, WriterOptions opts) {
  RETURN_IF_ERROR(check_options(opts));
  struct stat st;
  if (::fstat(fd, &st) != 0) return errno_error("fstat", errno);
  if (st.st_size != 0) {
    return invalid_argument("bbolt writer: the file is not empty (" + u(st.st_size) + " bytes)");
  }
  return std::unique_ptr<Writer>(std::make_unique<WriterImpl>(fd, false, opts));
}

Status Writer::begin_bucket(std::string_view name) { return impl(this)->begin(name); }
Status Writer::put(std::string_view key, std::string_view value) {
  return impl(this)->add(key, value);
}
Status Writer::end_bucket() { return impl(this)->end(); }
Result<uint64_t> Writer::finish() { return impl(this)->done(); }

}  // namespace etcd::bbolt
