// Backend snapshots in etcd's format: the db image (bbolt, see
// bbolt_convert.h) followed by the 32 raw bytes of its SHA-256 (what
// Maintenance.Snapshot streams and `etcdctl snapshot save` writes), and the
// reverse: verifying and installing one.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace etcd::backend {

inline constexpr size_t kSha256Size = 32;
// etcd's snapshotSendBufferSize: the blob size of one SnapshotResponse.
inline constexpr size_t kSnapshotChunkSize = 32 * 1024;

using Sha256 = std::array<uint8_t, kSha256Size>;
using ChunkSink = std::function<Status(std::string_view chunk)>;

// Reads a finished db image (an anonymous temporary file the reader owns),
// hashing the bytes as they pass. The size is known before the first read,
// which is what SnapshotResponse.remaining_bytes needs.
class SnapshotReader {
 public:
  // Takes ownership of `fd`, a file holding the whole image from offset 0.
  static Result<std::unique_ptr<SnapshotReader>> from_fd(int fd);
  ~SnapshotReader();
  SnapshotReader(const SnapshotReader&) = delete;
  SnapshotReader& operator=(const SnapshotReader&) = delete;

  // Bytes of the db image (without the digest).
  uint64_t size() const { return size_; }
  // Image bytes not yet read.
  uint64_t remaining() const { return size_ - offset_; }
  // Reads up to n image bytes into out; 0 once the image is exhausted.
  Result<size_t> read(char* out, size_t n);
  // The SHA-256 of the image; call once remaining() is 0.
  const Sha256& sha256() const;
  // Writes the rest of the image in chunks, then the 32-byte digest as a
  // last chunk of its own (the stream etcd's server sends).
  Status write_to(const ChunkSink& sink, size_t chunk_size = kSnapshotChunkSize);

 private:
  SnapshotReader(int fd, uint64_t size, EVP_MD_CTX* ctx);

  const int fd_;
  const uint64_t size_;
  uint64_t offset_ = 0;
  EVP_MD_CTX* ctx_;
  Sha256 digest_{};
  bool finished_ = false;
};

// Writes the whole stream (image + digest) to `path` (0600) and fsyncs it:
// the file `etcdctl snapshot save` produces.
Status save_snapshot_file(SnapshotReader& reader, const std::string& path);

// etcd's test for a trailing digest: an image is a whole number of pages,
// so a file 32 bytes longer than a multiple of 512 carries one.
bool has_sha256_trailer(uint64_t file_size);

// Checks the trailing SHA-256 of a snapshot file. data_loss with etcd's
// message ("expected sha256 [..], got [..]") on mismatch; invalid_argument
// when there is no digest.
Status verify_snapshot_file(const std::string& path);

// Copies the image of `snapshot_path` (without its digest) to `db_path`
// atomically (temporary file, fsync, rename, directory fsync), after
// checking the digest unless skip_hash_check. A bbolt image (etcd's format,
// what Backend::snapshot streams) is imported into a new LMDB file; an LMDB
// image is installed as it is. The backend at db_path must be closed;
// Backend::open then opens the installed db.
Status install_snapshot(const std::string& snapshot_path, const std::string& db_path,
                        bool skip_hash_check = false);

// The SHA-256 of a byte string (tests, tools).
Sha256 sha256_of(std::string_view data);

}  // namespace etcd::backend
