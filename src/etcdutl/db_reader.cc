#include "etcdutl/db_reader.h"

#include <fcntl.h>
#include <lmdb.h>
#include <sys/file.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace etcd::utl {
namespace {

// Both formats put a 16-byte page header before the meta page's magic.
constexpr size_t kMagicOffset = 16;
constexpr uint32_t kLmdbMagic = 0xBEEFC0DE;
constexpr uint32_t kBboltMagic = 0xED0CDAED;

// Go's text for a failed system call (os.PathError): strerror with a
// lowercase first letter, "stat x.db: no such file or directory".
Status errno_status(const std::string& what, int err) {
  Code code = err == ENOENT ? Code::kNotFound : Code::kInternal;
  std::string text = std::strerror(err);
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return Status(code, what + ": " + text);
}

std::string_view view_of(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

Status lmdb_status(const std::string& path, int rc) {
  return internal_error("read " + path + ": " + mdb_strerror(rc));
}

// A running server holds an exclusive flock on "<db>-lock" (Backend::open);
// reading the file under it without LMDB's lock table is not safe.
Status check_not_in_use(const std::string& path) {
  const std::string lock_path = path + "-lock";
  int fd = ::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::ok();  // no lock file: nobody has it open
  Status s;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
    s = Status(Code::kUnavailable,
               "database " + path + " is in use by a running etcd (stop it first)");
  }
  ::close(fd);  // drops our shared lock, if taken
  return s;
}

}  // namespace

DbKind sniff_db_kind(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return DbKind::kUnknown;
  std::array<unsigned char, kMagicOffset + 4> head{};
  ssize_t n = ::pread(fd, head.data(), head.size(), 0);
  ::close(fd);
  if (n != static_cast<ssize_t>(head.size())) return DbKind::kUnknown;
  uint32_t magic = 0;
  for (int i = 3; i >= 0; --i) magic = (magic << 8) | head[kMagicOffset + i];  // little-endian
  if (magic == kLmdbMagic) return DbKind::kLmdb;
  if (magic == kBboltMagic) return DbKind::kBbolt;
  return DbKind::kUnknown;
}

Status check_db_file(const std::string& path) {
  if (::access(path.c_str(), F_OK) != 0) return errno_status("stat " + path, errno);
  switch (sniff_db_kind(path)) {
    case DbKind::kLmdb:
      return Status::ok();
    case DbKind::kBbolt:
      return invalid_argument(path +
                              " is a bbolt database (an etcd snapshot or data dir); this etcd "
                              "keeps its backend in LMDB: restore it with `etcdutl snapshot "
                              "restore` first");
    case DbKind::kUnknown:
      break;
  }
  return invalid_argument(path + " is not a backend database of this etcd (LMDB)");
}

Status check_snapshot_file(const std::string& path) {
  if (::access(path.c_str(), F_OK) != 0) return errno_status("stat " + path, errno);
  if (sniff_db_kind(path) != DbKind::kUnknown) return Status::ok();
  return invalid_argument(path +
                          " is not a snapshot: neither a bbolt database (etcd's format) nor a "
                          "backend image of this etcd (LMDB), nor a snapshot file made of one");
}

Status walk_db(const std::string& path, const DbVisitor& visitor, int64_t* size_bytes) {
  RETURN_IF_ERROR(check_db_file(path));
  RETURN_IF_ERROR(check_not_in_use(path));
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc != 0) return lmdb_status(path, rc);
  struct EnvCloser {
    MDB_env* env;
    ~EnvCloser() { mdb_env_close(env); }
  } closer{env};
  // Read-only and without the lock table: the file is not modified and no
  // "-lock" file appears beside a snapshot.
  if ((rc = mdb_env_set_maxdbs(env, 64)) != 0 ||
      (rc = mdb_env_open(env, path.c_str(), MDB_RDONLY | MDB_NOLOCK | MDB_NOSUBDIR | MDB_NOTLS,
                         0400)) != 0) {
    return lmdb_status(path, rc);
  }
  MDB_txn* txn = nullptr;
  if ((rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn)) != 0) return lmdb_status(path, rc);
  struct TxnAborter {
    MDB_txn* txn;
    ~TxnAborter() { mdb_txn_abort(txn); }
  } aborter{txn};
  if (size_bytes != nullptr) {
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(env, &info);
    mdb_env_stat(env, &st);
    *size_bytes = static_cast<int64_t>((info.me_last_pgno + 1) * st.ms_psize);
  }
  MDB_dbi main_dbi;
  if ((rc = mdb_dbi_open(txn, nullptr, 0, &main_dbi)) != 0) return lmdb_status(path, rc);
  MDB_cursor* names = nullptr;
  if ((rc = mdb_cursor_open(txn, main_dbi, &names)) != 0) return lmdb_status(path, rc);
  MDB_val name, ignored;
  Status status;
  for (rc = mdb_cursor_get(names, &name, &ignored, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(names, &name, &ignored, MDB_NEXT)) {
    const std::string bucket(view_of(name));
    MDB_dbi dbi;
    int r = mdb_dbi_open(txn, bucket.c_str(), 0, &dbi);
    if (r != 0) {
      status = internal_error("cannot get hash of bucket " + bucket + ": " + mdb_strerror(r));
      break;
    }
    if (visitor.bucket) visitor.bucket(bucket);
    MDB_cursor* c = nullptr;
    if ((r = mdb_cursor_open(txn, dbi, &c)) != 0) {
      status = lmdb_status(path, r);
      break;
    }
    MDB_val k, v;
    for (r = mdb_cursor_get(c, &k, &v, MDB_FIRST); r == 0;
         r = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
      if (visitor.kv) visitor.kv(view_of(k), view_of(v));
    }
    mdb_cursor_close(c);
    if (r != MDB_NOTFOUND) {
      status = lmdb_status(path, r);
      break;
    }
  }
  mdb_cursor_close(names);
  if (status.is_ok() && rc != MDB_NOTFOUND && rc != 0) status = lmdb_status(path, rc);
  return status;
}

}  // namespace etcd::utl
