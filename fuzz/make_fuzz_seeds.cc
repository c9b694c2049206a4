// Writes a seed corpus for the fuzzers: a few valid WAL segment images (with
// entries, hard states, snapshot markers, padding and trailing zeros),
// .snap files and bbolt files (512-byte pages: branch, leaf, overflow,
// inline and nested buckets). Usage: make_fuzz_seeds <dir> (writes into
// <dir>/wal, <dir>/snap and <dir>/bbolt, which must exist).
#include <cstdio>
#include <string>

#include "raftpb/raft.pb.h"
#include "storage/bbolt/bbolt.h"
#include "storage/snap/snap_file.h"
#include "storage/wal/decoder.h"
#include "storage/wal/record.h"

namespace {

bool write(const std::string& path, const std::string& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

std::string segment(int entries, size_t entry_bytes, size_t trailing_zeros) {
  using etcd::wal::RecordType;
  std::string out;
  uint32_t crc = 0;
  etcd::wal::append_crc_record(&out, 0);
  etcd::wal::append_record(&out, RecordType::kMetadata, "meta", &crc);
  etcd::wal::append_record(&out, RecordType::kSnapshot, etcd::wal::encode_snapshot_marker({}),
                           &crc);
  for (int i = 1; i <= entries; ++i) {
    raftpb::Entry e;
    e.set_index(static_cast<uint64_t>(i));
    e.set_term(1);
    e.set_data(std::string(entry_bytes + static_cast<size_t>(i), static_cast<char>('a' + i)));
    etcd::wal::append_record(&out, RecordType::kEntry, e.SerializeAsString(), &crc);
    raftpb::HardState hs;
    hs.set_term(1);
    hs.set_commit(static_cast<uint64_t>(i));
    etcd::wal::append_record(&out, RecordType::kState, hs.SerializeAsString(), &crc);
  }
  out.append(trailing_zeros, '\0');
  return out;
}

// A small bbolt file: `keys` keys in "key", a value of `big` bytes, an
// inline bucket and a nested one.
bool bbolt_seed(const std::string& path, int keys, size_t big) {
  etcd::bbolt::WriterOptions opts;
  opts.page_size = 512;
  auto w = etcd::bbolt::Writer::create(path, opts);
  if (!w.is_ok()) return false;
  etcd::bbolt::Writer& wr = **w;
  bool ok = wr.begin_bucket("big").is_ok() && wr.put("v", std::string(big, 'b')).is_ok() &&
            wr.end_bucket().is_ok() && wr.begin_bucket("key").is_ok();
  for (int i = 0; ok && i < keys; ++i) {
    char k[16];
    std::snprintf(k, sizeof k, "k%05d", i);
    ok = wr.put(k, std::to_string(i * i)).is_ok();
  }
  ok = ok && wr.end_bucket().is_ok() && wr.begin_bucket("meta").is_ok() &&
       wr.put("consistent_index", std::string(8, '\1')).is_ok() && wr.end_bucket().is_ok() &&
       wr.begin_bucket("nest").is_ok() && wr.begin_bucket("inner").is_ok() &&
       wr.put("a", "b").is_ok() && wr.end_bucket().is_ok() && wr.end_bucket().is_ok();
  return ok && wr.finish().is_ok();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_fuzz_seeds <dir>\n");
    return 2;
  }
  const std::string dir = argv[1];
  bool ok = write(dir + "/wal/seed-small", segment(2, 5, 0)) &&
            write(dir + "/wal/seed-padded", segment(5, 40, 512)) &&
            write(dir + "/wal/seed-sectors", segment(3, 700, 1024));
  for (int i = 0; i < 3; ++i) {
    raftpb::Snapshot s;
    s.set_data(std::string(static_cast<size_t>(10 + 100 * i), 'd'));
    s.mutable_metadata()->set_index(static_cast<uint64_t>(10 + i));
    s.mutable_metadata()->set_term(2);
    s.mutable_metadata()->mutable_conf_state()->add_voters(1);
    s.mutable_metadata()->mutable_conf_state()->add_learners(static_cast<uint64_t>(i));
    ok = ok && write(dir + "/snap/seed-" + std::to_string(i), etcd::snap::encode_snap_file(s));
  }
  ok = ok && bbolt_seed(dir + "/bbolt/seed-tiny", 3, 10) &&
       bbolt_seed(dir + "/bbolt/seed-branches", 200, 100) &&
       bbolt_seed(dir + "/bbolt/seed-overflow", 20, 3000);
  return ok ? 0 : 1;
}
