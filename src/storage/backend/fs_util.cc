#include "storage/backend/fs_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace etcd::backend::fs {

Status errno_status(std::string_view what, int err) {
  Code code = Code::kInternal;
  if (err == ENOENT) code = Code::kNotFound;
  if (err == EACCES || err == EPERM) code = Code::kPermissionDenied;
  if (err == ENOSPC || err == EDQUOT) code = Code::kResourceExhausted;
  return Status(code, std::string(what) + ": " + std::strerror(err));
}

std::string dir_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status make_dirs(const std::string& dir) {
  if (dir.empty() || dir == "." || dir == "/") return Status::ok();
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return failed_precondition(dir + " is not a directory");
    return Status::ok();
  }
  RETURN_IF_ERROR(make_dirs(dir_of(dir)));
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return errno_status("mkdir " + dir, errno);
  }
  return Status::ok();
}

Status sync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_status("open " + dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return errno_status("fsync " + dir, err);
  return Status::ok();
}

Status write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status("write", errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::ok();
}

Result<int> open_anonymous_temp(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
    return errno_status("open O_TMPFILE in " + dir, errno);
  }
  // A unique name is enough: the file is unlinked before anyone could use it.
  static std::atomic<uint64_t> counter{0};
  std::string path = dir + "/.backend-tmp-" + std::to_string(::getpid()) + "-" +
                     std::to_string(counter.fetch_add(1));
  fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) return errno_status("create " + path, errno);
  ::unlink(path.c_str());
  return fd;
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa;
  struct stat sb;
  if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

Status remove_if_exists(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return errno_status("remove " + path, errno);
  }
  return Status::ok();
}

Status replace_keeping_original(const std::string& path, const std::string& tmp,
                                const std::string& keep) {
  const std::string dir = dir_of(path);
  if (!same_file(path, keep)) {
    // An older copy under that name (a previous conversion's): the file at
    // `path` now is the newer state, so it takes the name.
    struct stat st;
    if (::lstat(keep.c_str(), &st) == 0) {
      RETURN_IF_ERROR(remove_if_exists(keep));
      RETURN_IF_ERROR(sync_dir(dir));
    }
    if (::link(path.c_str(), keep.c_str()) != 0) {
      return errno_status("link " + path + " to " + keep, errno);
    }
    RETURN_IF_ERROR(sync_dir(dir));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return errno_status("rename " + tmp + " to " + path, errno);
  }
  return sync_dir(dir);
}

}  // namespace etcd::backend::fs
