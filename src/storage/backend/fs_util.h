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

// True when `a` and `b` name the same file (same device and inode); false
// also when either is missing.
bool same_file(const std::string& a, const std::string& b);
// Removes `path` if it exists (ENOENT is success).
Status remove_if_exists(const std::string& path);

// The swap at the end of a format conversion (the bbolt import at start,
// `etcdutl migrate-to-etcd`): keeps the file at `path` under the name
// `keep` (a hard link; an older `keep` that is another file is removed
// first), then renames `tmp` over `path`; the directory is fsynced after
// each step. `tmp` must be complete and fsynced. A crash at any point
// leaves `path` either the original or the whole converted file, and once
// it is the converted one, `keep` is the original.
Status replace_keeping_original(const std::string& path, const std::string& tmp,
                                const std::string& keep);

}  // namespace etcd::backend::fs
