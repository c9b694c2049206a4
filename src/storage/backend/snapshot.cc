#include "storage/backend/snapshot.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "storage/backend/bbolt_convert.h"
#include "storage/backend/fs_util.h"

namespace etcd::backend {
namespace {

// Closes a file descriptor on scope exit.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

EVP_MD_CTX* new_sha256() {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ASSERT(ctx != nullptr, "EVP_MD_CTX_new");
  const int ok = EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  ASSERT(ok == 1, "OpenSSL SHA-256 unavailable");
  return ctx;
}

Sha256 finish_sha256(EVP_MD_CTX* ctx) {
  Sha256 out{};
  unsigned int n = 0;
  const int ok = EVP_DigestFinal_ex(ctx, out.data(), &n);
  ASSERT(ok == 1 && n == kSha256Size, "SHA-256 final");
  return out;
}

// Go's %v of a []byte: "[1 2 255]", the form etcd's checksum error uses.
std::string go_bytes(const Sha256& b) {
  std::string s = "[";
  for (size_t i = 0; i < b.size(); ++i) {
    if (i > 0) s += ' ';
    s += std::to_string(b[i]);
  }
  return s + "]";
}

Status pread_all(int fd, char* out, size_t n, uint64_t offset) {
  while (n > 0) {
    ssize_t r = ::pread(fd, out, n, static_cast<off_t>(offset));
    if (r < 0) {
      if (errno == EINTR) continue;
      return fs::errno_status("read snapshot", errno);
    }
    if (r == 0) return data_loss("snapshot file is shorter than its size");
    out += r;
    n -= static_cast<size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return Status::ok();
}

// Hashes the first `n` bytes of fd, copying them to out_fd when >= 0.
Result<Sha256> hash_prefix(int fd, uint64_t n, int out_fd) {
  EVP_MD_CTX* ctx = new_sha256();
  std::vector<char> buf(1 << 20);
  uint64_t offset = 0;
  Status st;
  while (offset < n && st.is_ok()) {
    size_t len = static_cast<size_t>(std::min<uint64_t>(buf.size(), n - offset));
    st = pread_all(fd, buf.data(), len, offset);
    if (!st.is_ok()) break;
    EVP_DigestUpdate(ctx, buf.data(), len);
    if (out_fd >= 0) st = fs::write_all(out_fd, std::string_view(buf.data(), len));
    offset += len;
  }
  Sha256 digest = finish_sha256(ctx);
  EVP_MD_CTX_free(ctx);
  if (!st.is_ok()) return st;
  return digest;
}

Result<Sha256> read_trailer(int fd, uint64_t file_size) {
  Sha256 stored{};
  RETURN_IF_ERROR(
      pread_all(fd, reinterpret_cast<char*>(stored.data()), kSha256Size, file_size - kSha256Size));
  return stored;
}

Status checksum_mismatch(const Sha256& stored, const Sha256& computed) {
  return data_loss("expected sha256 " + go_bytes(stored) + ", got " + go_bytes(computed));
}

}  // namespace

// ---------------------------------------------------------------------------
// SnapshotReader

Result<std::unique_ptr<SnapshotReader>> SnapshotReader::from_fd(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    Status s = fs::errno_status("stat snapshot", errno);
    ::close(fd);
    return s;
  }
  return std::unique_ptr<SnapshotReader>(
      new SnapshotReader(fd, static_cast<uint64_t>(st.st_size), new_sha256()));
}

SnapshotReader::SnapshotReader(int fd, uint64_t size, EVP_MD_CTX* ctx)
    : fd_(fd), size_(size), ctx_(ctx) {}

SnapshotReader::~SnapshotReader() {
  ::close(fd_);
  EVP_MD_CTX_free(ctx_);
}

Result<size_t> SnapshotReader::read(char* out, size_t n) {
  size_t len = static_cast<size_t>(std::min<uint64_t>(n, remaining()));
  if (len > 0) {
    RETURN_IF_ERROR(pread_all(fd_, out, len, offset_));
    EVP_DigestUpdate(ctx_, out, len);
    offset_ += len;
  }
  if (remaining() == 0 && !finished_) {
    digest_ = finish_sha256(ctx_);
    finished_ = true;
  }
  return len;
}

const Sha256& SnapshotReader::sha256() const {
  ASSERT(finished_, "sha256() before the whole image was read");
  return digest_;
}

Status SnapshotReader::write_to(const ChunkSink& sink, size_t chunk_size) {
  ASSERT(chunk_size > 0, "zero chunk size");
  std::vector<char> buf(chunk_size);
  for (;;) {
    Result<size_t> n = read(buf.data(), buf.size());
    if (!n.is_ok()) return n.status();
    if (*n == 0) break;
    RETURN_IF_ERROR(sink(std::string_view(buf.data(), *n)));
  }
  const Sha256& d = sha256();
  return sink(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

// ---------------------------------------------------------------------------
// Files

Status save_snapshot_file(SnapshotReader& reader, const std::string& path) {
  int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return fs::errno_status("create " + path, errno);
  FdCloser closer(fd);
  RETURN_IF_ERROR(
      reader.write_to([fd](std::string_view chunk) { return fs::write_all(fd, chunk); }));
  if (::fsync(fd) != 0) return fs::errno_status("fsync " + path, errno);
  return Status::ok();
}

bool has_sha256_trailer(uint64_t file_size) { return file_size % 512 == kSha256Size; }

Status verify_snapshot_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fs::errno_status("open " + path, errno);
  FdCloser closer(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) return fs::errno_status("stat " + path, errno);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (!has_sha256_trailer(size)) {
    return invalid_argument("sha256 checksum not found [bytes: " + std::to_string(size) + "]");
  }
  Result<Sha256> stored = read_trailer(fd, size);
  if (!stored.is_ok()) return stored.status();
  Result<Sha256> computed = hash_prefix(fd, size - kSha256Size, -1);
  if (!computed.is_ok()) return computed.status();
  if (*stored != *computed) return checksum_mismatch(*stored, *computed);
  return Status::ok();
}

Status install_snapshot(const std::string& snapshot_path, const std::string& db_path,
                        bool skip_hash_check) {
  int fd = ::open(snapshot_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fs::errno_status("open " + snapshot_path, errno);
  FdCloser closer(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) return fs::errno_status("stat " + snapshot_path, errno);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  const bool has_hash = has_sha256_trailer(size);
  if (!has_hash && !skip_hash_check) {
    return invalid_argument("snapshot missing hash but --skip-hash-check=false");
  }
  const uint64_t image = has_hash ? size - kSha256Size : size;

  const std::string dir = fs::dir_of(db_path);
  RETURN_IF_ERROR(fs::make_dirs(dir));
  const std::string tmp = db_path + ".install.tmp";
  int out = ::open(tmp.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  if (out < 0) return fs::errno_status("create " + tmp, errno);
  Status st_copy;
  {
    FdCloser out_closer(out);
    Result<Sha256> computed = hash_prefix(fd, image, out);
    if (!computed.is_ok()) {
      st_copy = computed.status();
    } else if (has_hash && !skip_hash_check) {
      Result<Sha256> stored = read_trailer(fd, size);
      if (!stored.is_ok()) {
        st_copy = stored.status();
      } else if (*stored != *computed) {
        st_copy = checksum_mismatch(*stored, *computed);
      }
    }
    if (st_copy.is_ok() && ::fsync(out) != 0) st_copy = fs::errno_status("fsync " + tmp, errno);
  }
  if (!st_copy.is_ok()) {
    ::unlink(tmp.c_str());
    return st_copy;
  }
  std::string installed = tmp;
  if (bbolt::is_bbolt_file(tmp)) {
    // etcd's format (a snapshot etcd or we took): the backend is LMDB, so
    // the image's buckets are imported into a new LMDB file.
    installed = db_path + ".import.tmp";
    Status converted = convert_to_lmdb(tmp, installed);
    ::unlink(tmp.c_str());
    if (!converted.is_ok()) return converted;
  }
  if (::rename(installed.c_str(), db_path.c_str()) != 0) {
    Status s = fs::errno_status("rename " + installed, errno);
    ::unlink(installed.c_str());
    return s;
  }
  return fs::sync_dir(dir);
}

Sha256 sha256_of(std::string_view data) {
  EVP_MD_CTX* ctx = new_sha256();
  EVP_DigestUpdate(ctx, data.data(), data.size());
  Sha256 d = finish_sha256(ctx);
  EVP_MD_CTX_free(ctx);
  return d;
}

}  // namespace etcd::backend
