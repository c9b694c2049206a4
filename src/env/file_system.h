// The filesystem as a seam: the WAL, the snapshot files and the tools see
// files only through FileSystem/File, so the same code runs on the real disk
// (PosixFileSystem) and on a simulated one that loses un-synced data when it
// "crashes" (SimFileSystem). Together with clock.h this folder is the only
// code that calls fsync/fdatasync.
//
// Every call returns a Status: the seam reports, the caller decides. The WAL
// and the snapshotter PANIC when sync() or sync_dir() fails, because after a
// failed fsync the kernel may already have dropped the dirty pages and a
// retry would report success for data that is gone (the "fsyncgate" lesson).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace etcd::env {

// The modes etcd uses for its data (fileutil.PrivateFileMode/PrivateDirMode).
// Data directories and files are private to the member's user: etcd
// CVE-2020-15113 was data directories created, or left, world-readable.
inline constexpr uint32_t kPrivateFileMode = 0600;
inline constexpr uint32_t kPrivateDirMode = 0700;

enum class OpenMode {
  kReadOnly,        // must exist
  kReadWrite,       // must exist
  kCreate,          // read-write, created when missing
  kCreateNew,       // read-write, kAlreadyExists when present (O_EXCL)
  kCreateTruncate,  // read-write, created or emptied
};

// An open file. Not thread-safe: one owner at a time.
class File {
 public:
  virtual ~File() = default;  // closes without syncing

  // The path the file was opened under (a later rename does not change it).
  virtual const std::string& path() const = 0;
  // Reads up to n bytes at offset; returns fewer only at the end of the file.
  virtual Result<size_t> read_at(uint64_t offset, char* buf, size_t n) = 0;
  // Writes all of data at offset (extending the file when needed).
  virtual Status write_at(uint64_t offset, std::string_view data) = 0;
  // Writes all of data at the current end of the file.
  virtual Status append(std::string_view data) = 0;
  // fdatasync: the file's data and size are durable when this returns OK.
  virtual Status sync() = 0;
  // Sets the size, dropping or zero-filling the tail.
  virtual Status truncate(uint64_t size) = 0;
  // Makes the file at least `size` bytes, the new bytes zero, with their
  // blocks reserved (fallocate, or posix_fallocate where unsupported).
  virtual Status allocate(uint64_t size) = 0;
  virtual Result<uint64_t> size() = 0;
};

struct FileInfo {
  uint64_t size = 0;
  uint32_t mode = 0;  // permission bits only
  bool is_dir = false;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // `perm` applies when the file is created.
  virtual Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode,
                                             uint32_t perm = kPrivateFileMode) = 0;
  // Atomically replaces `to`. Durable only after sync_dir of both parents.
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  // Unlinks a file. Durable only after sync_dir of the parent.
  virtual Status remove(const std::string& path) = 0;
  // Creates one directory; kAlreadyExists when the name is taken.
  virtual Status mkdir(const std::string& path, uint32_t perm) = 0;
  virtual Status chmod(const std::string& path, uint32_t perm) = 0;
  // Names in a directory, sorted, without "." and "..".
  virtual Result<std::vector<std::string>> list_dir(const std::string& path) = 0;
  // fsync of a directory: makes creates, renames and unlinks in it durable.
  virtual Status sync_dir(const std::string& path) = 0;
  // kNotFound when the path does not exist.
  virtual Result<FileInfo> stat(const std::string& path) = 0;
};

// "a/b" + "c" -> "a/b/c".
std::string join_path(std::string_view dir, std::string_view name);
// "a/b/c" -> "a/b"; "c" -> "."; "/c" -> "/".
std::string parent_dir(std::string_view path);
// "a/b/c" -> "c".
std::string base_name(std::string_view path);

// Creates `dir` and its missing parents with `perm`, syncing each parent
// after a child is created in it so the new directories survive a crash.
// OK when the directory already exists.
Status mkdir_all(FileSystem& fs, const std::string& dir, uint32_t perm = kPrivateDirMode);

// Reads a whole file.
Result<std::string> read_file(FileSystem& fs, const std::string& path);

bool exists(FileSystem& fs, const std::string& path);

}  // namespace etcd::env
