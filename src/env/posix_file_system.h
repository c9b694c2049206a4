// FileSystem on the real disk through POSIX calls. Stateless: one instance
// can serve every component of the process.
#pragma once

#include "env/file_system.h"

namespace etcd::env {

class PosixFileSystem final : public FileSystem {
 public:
  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode,
                                     uint32_t perm = kPrivateFileMode) override;
  Status rename(const std::string& from, const std::string& to) override;
  Status remove(const std::string& path) override;
  Status mkdir(const std::string& path, uint32_t perm) override;
  Status chmod(const std::string& path, uint32_t perm) override;
  Result<std::vector<std::string>> list_dir(const std::string& path) override;
  Status sync_dir(const std::string& path) override;
  Result<FileInfo> stat(const std::string& path) override;
};

// A Status for a failed system call: "what path: strerror(err)", with the
// code mapped from errno (ENOENT -> kNotFound, EEXIST -> kAlreadyExists,
// EACCES/EPERM -> kPermissionDenied, ENOSPC/EDQUOT -> kResourceExhausted,
// others kInternal).
Status errno_status(std::string_view what, const std::string& path, int err);

}  // namespace etcd::env
