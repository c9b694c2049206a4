// An in-memory filesystem that forgets what was not made durable, for crash
// tests of the WAL and the snapshot files (and the cluster simulation).
//
// The model (docs/storage.md, "SimFileSystem"):
//   - A file has durable content and a list of un-synced operations (writes,
//     truncates, allocations) in the order they were made; reads see all of
//     them. File::sync() makes the list durable.
//   - A directory has durable entries and a list of un-synced entry changes
//     (create, rename, unlink, mkdir); lookups see all of them. sync_dir()
//     makes them durable. A file whose name never became durable is lost at
//     a crash however often its data was synced, as on Linux.
//   - crash(rng) drops the un-synced state: each un-synced write is kept
//     whole, dropped, or torn (kept sector by sector, each 512-byte piece
//     independently), so later writes can survive while earlier ones do not
//     (the disk reorders); each un-synced truncate or allocation is kept or
//     dropped; each directory keeps a random prefix of its un-synced entry
//     changes (a journaling filesystem commits metadata in order). Files no
//     longer reachable are freed. Modes (chmod) are durable at once.
//   - crash_after_ops(n) picks the crash point in advance: the state just
//     before the n-th mutating call from now is what crash() will start
//     from; calls after that point still work (the process has not noticed
//     it is dead yet) but are lost. A test can so crash in the middle of a
//     WAL segment cut or between a write and its fdatasync.
//   - crash_at_sync(n) sets the crash point at the n-th File::sync() or
//     sync_dir() from now: what was written before it is pending, not
//     durable (a process killed between a write and its fsync).
//   - set_fail_sync(true) makes sync()/sync_dir() fail, to test that the
//     callers PANIC.
//   - set_lying_sync(true) makes File::sync() succeed without making
//     anything durable (a disk that acknowledges fsync and loses the
//     data), so tests can prove their checks notice.
//
// Paths are absolute ("/data/member/wal"). Single-threaded.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/rng.h"
#include "env/file_system.h"

namespace etcd::env {

class SimFileSystem final : public FileSystem {
 public:
  static constexpr uint64_t kSectorBytes = 512;

  SimFileSystem();
  ~SimFileSystem() override;

  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode,
                                     uint32_t perm = kPrivateFileMode) override;
  Status rename(const std::string& from, const std::string& to) override;
  Status remove(const std::string& path) override;
  Status mkdir(const std::string& path, uint32_t perm) override;
  Status chmod(const std::string& path, uint32_t perm) override;
  Result<std::vector<std::string>> list_dir(const std::string& path) override;
  Status sync_dir(const std::string& path) override;
  Result<FileInfo> stat(const std::string& path) override;

  // Drops un-synced state as described above. Files opened before the crash
  // become stale: every call on them fails with kFailedPrecondition.
  void crash(Rng& rng);
  // Sets the crash point n >= 1 mutating calls ahead (see above).
  void crash_after_ops(uint64_t n);
  // True once the crash point set by crash_after_ops() has been passed.
  bool crash_point_passed() const { return frozen_.has_value(); }
  // Mutating calls (write, truncate, allocate, sync, create, rename, unlink,
  // mkdir, chmod, sync_dir) made so far.
  uint64_t mutating_ops() const { return ops_; }
  // n >= 1; 0 disarms.
  void crash_at_sync(uint64_t n) { syncs_until_freeze_ = n; }
  void set_fail_sync(bool fail) { fail_sync_ = fail; }
  void set_lying_sync(bool lie) { lying_sync_ = lie; }
  // Bytes written but not yet synced, over all files.
  uint64_t unsynced_write_bytes() const;
  // An identical, independent copy (pending state included).
  std::unique_ptr<SimFileSystem> clone() const;

 private:
  friend class SimFile;

  struct FileOp {
    enum Kind : uint8_t { kWrite, kResize, kGrow };
    Kind kind;
    uint64_t offset;   // kWrite: where; kResize/kGrow: the new size
    std::string data;  // kWrite only
  };
  struct DirOp {
    enum Kind : uint8_t { kLink, kUnlink, kRename };
    Kind kind;
    std::string name;
    std::string to;  // kRename only
    uint64_t ino = 0;
  };
  struct Inode {
    bool is_dir = false;
    uint32_t mode = 0;
    // Files: what reads see, what is durable, and the operations between.
    std::string data;
    std::string durable;
    std::vector<FileOp> pending;
    // Directories: the same for the entries (name -> inode).
    std::map<std::string, uint64_t> entries;
    std::map<std::string, uint64_t> durable_entries;
    std::vector<DirOp> dir_pending;
  };
  struct State {
    std::map<uint64_t, Inode> inodes;
    uint64_t next_ino = 2;
  };
  static constexpr uint64_t kRootIno = 1;

  // Counts a mutating call and freezes the crash state at the crash point.
  void before_mutation();
  // Freezes the crash state here if crash_at_sync() asked for this sync.
  void before_sync();
  Result<std::vector<std::string>> split(const std::string& path) const;
  Result<uint64_t> lookup(const std::string& path) const;
  // The parent directory's inode and the last component.
  Result<std::pair<uint64_t, std::string>> lookup_parent(const std::string& path) const;
  Inode* inode(uint64_t ino);
  static void crash_file(Inode& node, Rng& rng);

  // File calls, by inode (SimFile forwards here).
  Status file_write(uint64_t ino, uint64_t offset, std::string_view data);
  Status file_resize(uint64_t ino, uint64_t size, bool grow_only);
  Status file_sync(uint64_t ino, const std::string& path);

  State state_;
  std::optional<State> frozen_;  // the state at the crash point, once passed
  uint64_t ops_until_freeze_ = 0;
  uint64_t ops_ = 0;
  uint64_t generation_ = 0;  // bumped by crash(); older handles are stale
  bool fail_sync_ = false;
  uint64_t syncs_until_freeze_ = 0;
  bool lying_sync_ = false;
};

}  // namespace etcd::env
