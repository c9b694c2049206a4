#include "env/posix_file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace etcd::env {

Status errno_status(std::string_view what, const std::string& path, int err) {
  std::string msg = std::string(what) + " " + path + ": " + std::strerror(err);
  switch (err) {
    case ENOENT:
      return {Code::kNotFound, std::move(msg)};
    case EEXIST:
      return {Code::kAlreadyExists, std::move(msg)};
    case EACCES:
    case EPERM:
      return {Code::kPermissionDenied, std::move(msg)};
    case ENOSPC:
    case EDQUOT:
      return {Code::kResourceExhausted, std::move(msg)};
    default:
      return {Code::kInternal, std::move(msg)};
  }
}

namespace {

class PosixFile final : public File {
 public:
  PosixFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixFile() override { ::close(fd_); }
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;

  const std::string& path() const override { return path_; }

  Result<size_t> read_at(uint64_t offset, char* buf, size_t n) override {
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd_, buf + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return errno_status("read", path_, errno);
      }
      if (r == 0) break;
      done += static_cast<size_t>(r);
    }
    return done;
  }

  Status write_at(uint64_t offset, std::string_view data) override {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t r =
          ::pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return errno_status("write", path_, errno);
      }
      done += static_cast<size_t>(r);
    }
    return Status::ok();
  }

  Status append(std::string_view data) override {
    auto end = size();
    if (!end.is_ok()) return end.status();
    return write_at(*end, data);
  }

  Status sync() override {
    while (::fdatasync(fd_) != 0) {
      if (errno != EINTR) return errno_status("fdatasync", path_, errno);
    }
    return Status::ok();
  }

  Status truncate(uint64_t size) override {
    while (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      if (errno != EINTR) return errno_status("ftruncate", path_, errno);
    }
    return Status::ok();
  }

  Status allocate(uint64_t size) override {
    auto cur = this->size();
    if (!cur.is_ok()) return cur.status();
    if (*cur >= size) return Status::ok();
    // Mode 0 extends the file size; the new range reads as zeros.
    if (::fallocate(fd_, 0, static_cast<off_t>(*cur), static_cast<off_t>(size - *cur)) == 0) {
      return Status::ok();
    }
    if (errno != EOPNOTSUPP && errno != ENOSYS && errno != EINVAL) {
      return errno_status("fallocate", path_, errno);
    }
    // Filesystems without fallocate: glibc's posix_fallocate writes zeros.
    int err = ::posix_fallocate(fd_, static_cast<off_t>(*cur), static_cast<off_t>(size - *cur));
    if (err != 0) return errno_status("posix_fallocate", path_, err);
    return Status::ok();
  }

  Result<uint64_t> size() override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return errno_status("fstat", path_, errno);
    return static_cast<uint64_t>(st.st_size);
  }

 private:
  const std::string path_;
  const int fd_;
};

}  // namespace

Result<std::unique_ptr<File>> PosixFileSystem::open(const std::string& path, OpenMode mode,
                                                    uint32_t perm) {
  int flags = O_CLOEXEC;
  switch (mode) {
    case OpenMode::kReadOnly:
      flags |= O_RDONLY;
      break;
    case OpenMode::kReadWrite:
      flags |= O_RDWR;
      break;
    case OpenMode::kCreate:
      flags |= O_RDWR | O_CREAT;
      break;
    case OpenMode::kCreateNew:
      flags |= O_RDWR | O_CREAT | O_EXCL;
      break;
    case OpenMode::kCreateTruncate:
      flags |= O_RDWR | O_CREAT | O_TRUNC;
      break;
  }
  int fd;
  do {
    fd = ::open(path.c_str(), flags, static_cast<mode_t>(perm));
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return errno_status("open", path, errno);
  return std::unique_ptr<File>(std::make_unique<PosixFile>(path, fd));
}

Status PosixFileSystem::rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0)
    return errno_status("rename", from + " -> " + to, errno);
  return Status::ok();
}

Status PosixFileSystem::remove(const std::string& path) {
  if (::unlink(path.c_str()) != 0) return errno_status("unlink", path, errno);
  return Status::ok();
}

Status PosixFileSystem::mkdir(const std::string& path, uint32_t perm) {
  if (::mkdir(path.c_str(), static_cast<mode_t>(perm)) != 0) {
    return errno_status("mkdir", path, errno);
  }
  // The umask may have narrowed the mode; etcd's modes are exact.
  return chmod(path, perm);
}

Status PosixFileSystem::chmod(const std::string& path, uint32_t perm) {
  if (::chmod(path.c_str(), static_cast<mode_t>(perm)) != 0) {
    return errno_status("chmod", path, errno);
  }
  return Status::ok();
}

Result<std::vector<std::string>> PosixFileSystem::list_dir(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return errno_status("opendir", path, errno);
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name(e->d_name);
    if (name != "." && name != "..") names.emplace_back(name);
    errno = 0;
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return errno_status("readdir", path, err);
  std::sort(names.begin(), names.end());
  return names;
}

Status PosixFileSystem::sync_dir(const std::string& path) {
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return errno_status("open", path, errno);
  Status s;
  while (::fsync(fd) != 0) {
    if (errno != EINTR) {
      s = errno_status("fsync", path, errno);
      break;
    }
  }
  ::close(fd);
  return s;
}

Result<FileInfo> PosixFileSystem::stat(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return errno_status("stat", path, errno);
  FileInfo info;
  info.size = static_cast<uint64_t>(st.st_size);
  info.mode = static_cast<uint32_t>(st.st_mode & 07777);
  info.is_dir = S_ISDIR(st.st_mode);
  return info;
}

}  // namespace etcd::env
