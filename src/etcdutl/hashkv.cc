#include "etcdutl/hashkv.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "env/clock.h"
#include "etcdutl/db_reader.h"
#include "mvcc/kvstore.h"
#include "storage/backend/backend.h"
#include "storage/backend/snapshot.h"

namespace etcd::utl {

Result<HashKvResult> hash_kv(const std::string& path, int64_t rev) {
  RETURN_IF_ERROR(check_snapshot_file(path));
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return not_found("stat " + path);
  // A snapshot file carries its digest after the image: hash a copy of the
  // image (checked against the digest first), so the file and its digest
  // stay as they are. A bbolt file (etcd's) is imported into a temporary
  // LMDB db. An LMDB db file is opened in place, as etcd does.
  std::string db = path;
  std::string tmp_dir;
  const bool has_digest = backend::has_sha256_trailer(static_cast<uint64_t>(st.st_size));
  if (has_digest || sniff_db_kind(path) == DbKind::kBbolt) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "etcdutl-hashkv-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) return internal_error("mkdtemp: cannot create " + tmpl);
    tmp_dir = tmpl;
    db = tmp_dir + "/db";
    Status s = backend::install_snapshot(path, db, /*skip_hash_check=*/!has_digest);
    if (!s.is_ok()) {
      std::error_code ec;
      std::filesystem::remove_all(tmp_dir, ec);
      return s;
    }
  }
  Result<HashKvResult> out = [&]() -> Result<HashKvResult> {
    env::RealClock clock;
    backend::Options bo;
    bo.background_commit = false;
    auto opened = backend::Backend::open(db, bo, clock);
    if (!opened.is_ok()) return opened.status();
    std::unique_ptr<backend::Backend> be = std::move(opened).value();
    Result<HashKvResult> r = [&]() -> Result<HashKvResult> {
      mvcc::KVStore kv(*be);
      RETURN_IF_ERROR(kv.restore());
      auto h = kv.hash_by_rev(MainRev(rev));
      if (!h.is_ok()) return h.status();
      return HashKvResult{h->hash, h->hash_rev.value(), h->compact_rev.value()};
    }();
    be->close();
    return r;
  }();
  if (!tmp_dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(tmp_dir, ec);
  }
  return out;
}

}  // namespace etcd::utl
