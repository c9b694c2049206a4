// libFuzzer target: a bbolt file image through the reader
// (src/storage/bbolt/bbolt.h): open from memory, check(), walk every bucket
// (nested ones too). Each ends in a value or an error, never a crash, and:
//  - when check() passes, every walk succeeds;
//  - when check() passes and the content is writable (no keys in the root
//    bucket, no empty keys), the writer writes it again to a file that
//    passes check() and holds the same content.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/bbolt/bbolt.h"

namespace {

using etcd::Code;
using etcd::Status;
using namespace etcd::bbolt;  // NOLINT

struct Item {
  std::vector<std::string> path;  // the bucket holding it
  std::string key;
  std::string value;
  bool is_bucket;
};

// Walks the bucket at `path` and, depth first, the buckets in it: the items
// come in the order the writer takes them. Stops after `*budget` buckets.
Status walk_bucket(Reader& r, const std::vector<std::string>& path, std::vector<Item>* items,
                   size_t* budget) {
  if (*budget == 0 || path.size() > 16) return Status::ok();
  --*budget;
  std::vector<Item> here;
  Status s = r.for_each(path, [&](const Entry& e) {
    here.push_back(
        {path, std::string(e.key), e.is_bucket ? "" : std::string(e.value), e.is_bucket});
    return Status::ok();
  });
  if (!s.is_ok()) return s;
  for (Item& it : here) {
    items->push_back(it);
    if (it.is_bucket) {
      std::vector<std::string> child = path;
      child.push_back(it.key);
      if (Status c = walk_bucket(r, child, items, budget); !c.is_ok()) return c;
    }
  }
  return Status::ok();
}

Status walk(Reader& r, std::vector<Item>* items, size_t limit) {
  return walk_bucket(r, {}, items, &limit);
}

// Writes the items (in walk order, which is the order the writer needs).
Status rewrite(Writer& w, const std::vector<Item>& items) {
  std::vector<std::string> open;  // the open bucket path
  for (const Item& it : items) {
    while (open.size() > it.path.size() || !std::equal(open.begin(), open.end(), it.path.begin())) {
      if (Status s = w.end_bucket(); !s.is_ok()) return s;
      open.pop_back();
    }
    if (it.is_bucket) {
      if (Status s = w.begin_bucket(it.key); !s.is_ok()) return s;
      open.push_back(it.key);
    } else if (Status s = w.put(it.key, it.value); !s.is_ok()) {
      return s;
    }
  }
  while (!open.empty()) {
    if (Status s = w.end_bucket(); !s.is_ok()) return s;
    open.pop_back();
  }
  return Status::ok();
}

void round_trip(const std::vector<Item>& items) {
  for (const Item& it : items) {
    if (it.key.empty() || it.path.empty() != it.is_bucket) return;  // not writable
  }
  int fd = ::memfd_create("bbolt", 0);
  if (fd < 0) return;
  WriterOptions opts;
  opts.page_size = 512;
  auto w = Writer::create_fd(fd, opts);
  if (!w.is_ok()) __builtin_trap();
  Status s = rewrite(**w, items);
  if (!s.is_ok()) __builtin_trap();
  auto size = (*w)->finish();
  if (!size.is_ok()) __builtin_trap();
  std::string image(*size, '\0');
  if (::pread(fd, image.data(), image.size(), 0) != static_cast<ssize_t>(image.size())) {
    __builtin_trap();
  }
  ::close(fd);
  auto r = Reader::from_memory(image);
  if (!r.is_ok() || !(*r)->check().is_ok()) __builtin_trap();
  std::vector<Item> again;
  if (!walk(**r, &again, ~size_t{0}).is_ok() || again.size() != items.size()) __builtin_trap();
  for (size_t i = 0; i < items.size(); ++i) {
    if (again[i].path != items[i].path || again[i].key != items[i].key ||
        again[i].value != items[i].value || again[i].is_bucket != items[i].is_bucket) {
      __builtin_trap();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)looks_like_bbolt(bytes);
  auto r = Reader::from_memory(bytes);
  if (!r.is_ok()) {
    if (r.status().code() != Code::kDataLoss) __builtin_trap();
    return 0;
  }
  Reader& reader = **r;
  (void)reader.bucket_names();
  const Status checked = reader.check();
  std::vector<Item> items;
  const Status walked = walk(reader, &items, 1000);
  if (checked.is_ok()) {
    if (!walked.is_ok()) __builtin_trap();
    round_trip(items);
  } else if (checked.code() != Code::kDataLoss) {
    __builtin_trap();
  }
  return 0;
}
