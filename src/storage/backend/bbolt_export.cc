// The backend (LMDB) to bbolt: export_bbolt, the bbolt snapshot stream
// (Backend::snapshot) and the reverse for whole files (convert_to_lmdb).
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>

#include "metrics/metrics.h"
#include "storage/backend/bbolt_convert.h"
#include "storage/backend/fs_util.h"
#include "storage/backend/snapshot.h"

namespace etcd::backend {

Result<uint64_t> export_bbolt(const ReadTx& tx, bbolt::Writer& w) {
  // Every bucket, empty ones too (etcd creates them all at start, and
  // `snapshot status` hashes their names), in the byte order of their
  // names: the order bbolt keeps in its root bucket. The cursor walk holds
  // one key/value at a time; the writer keeps one page per tree level.
  for (Bucket b : buckets_in_name_order()) {
    RETURN_IF_ERROR(w.begin_bucket(bucket_name(b)));
    Status st = Status::ok();
    tx.for_each(b, "", "", [&](std::string_view k, std::string_view v) {
      st = w.put(k, v);
      return st.is_ok();
    });
    RETURN_IF_ERROR(st);
    RETURN_IF_ERROR(w.end_bucket());
  }
  return w.finish();
}

Result<std::unique_ptr<SnapshotReader>> Backend::snapshot() {
  // One read transaction sees every write published before this call
  // (buffered or committed), so the image holds every acknowledged write
  // without a commit; the apply thread goes on meanwhile. The read
  // transaction lives only while the image is written to the temporary
  // file, not while a slow client downloads it.
  const auto start = std::chrono::steady_clock::now();
  Result<int> fd = fs::open_anonymous_temp(fs::dir_of(path_));
  if (!fd.is_ok()) return fd.status();
  Result<uint64_t> size = [&]() -> Result<uint64_t> {
    auto w = bbolt::Writer::create_fd(*fd);
    if (!w.is_ok()) return w.status();
    ReadTx tx = read_tx();
    return export_bbolt(tx, **w);
  }();
  if (!size.is_ok()) {
    ::close(*fd);
    return Status(size.status().code(), "snapshot: " + size.status().message());
  }
  metrics::Metrics::global().backend_snapshot_seconds->Observe(metrics::seconds_since(start));
  return SnapshotReader::from_fd(*fd);
}

Status convert_to_lmdb(const std::string& bbolt_path, const std::string& lmdb_path,
                       ImportStats* stats) {
  auto reader = bbolt::Reader::open(bbolt_path);
  if (!reader.is_ok()) return reader.status();
  const std::string lock = lmdb_path + "-lock";
  ::unlink(lmdb_path.c_str());
  Status st = [&]() -> Status {
    // The target is private to this call: no committer thread, one
    // synced commit at the end (import_bbolt force-commits).
    Options o;
    o.background_commit = false;
    env::RealClock clock;
    auto be = Backend::open(lmdb_path, o, clock);
    if (!be.is_ok()) return be.status();
    Result<ImportStats> imported = import_bbolt(**reader, **be);
    (*be)->close();
    if (!imported.is_ok()) return imported.status();
    if (stats != nullptr) *stats = std::move(imported).value();
    return Status::ok();
  }();
  ::unlink(lock.c_str());
  if (!st.is_ok()) ::unlink(lmdb_path.c_str());
  return st;
}

}  // namespace etcd::backend
