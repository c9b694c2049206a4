// Small POSIX file helpers of the backend (the env/ filesystem seam does not
// cover LMDB, which does its own I/O on the file).
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace etcd::backend::fs {

// A Status for a failed system call: "<what>: <strerror(err)>".
Status errno_status(std::string_view what, int err);
// The directory part of a path ("." when there is none).
std::string dir_of(const std::string& path);
// Creates `dir` and its missing parents with mode 0700.
Status make_dirs(const std::string& dir);
// fsyncs a directory so a rename or create in it is durable.
Status sync_dir(const std::string& dir);
// Writes all of data at the file's current offset.
Status write_all(int fd, std::string_view data);
// Opens an unnamed temporary file in `dir` (O_TMPFILE, or a created and
// unlinked file where the filesystem lacks O_TMPFILE), mode 0600.
Result<int> open_anonymous_temp(const std::string& dir);

}  // namespace etcd::backend::fs
