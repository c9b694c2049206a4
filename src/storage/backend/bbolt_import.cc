// import_bbolt: an etcd bbolt db into the LMDB backend, bucket by bucket,
// in bounded batches (see bbolt_convert.h and docs/storage-backend.md).
#include <memory>
#include <optional>
#include <string>

#include "storage/backend/bbolt_convert.h"

namespace etcd::backend {
namespace {

// One BatchTx scope holds at most this many keys or bytes: the backend's
// buffer (about two batches, see backend.h) stays bounded whatever the size
// of the file.
constexpr uint64_t kBatchKeys = 10000;
constexpr uint64_t kBatchBytes = uint64_t{16} << 20;

// A key as an error message shows it: printable ASCII as is, other bytes
// as \xNN, at most 64 bytes of it.
std::string printable(std::string_view key) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < key.size() && i < 64; ++i) {
    const auto c = static_cast<unsigned char>(key[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  out += key.size() > 64 ? "\"..." : "\"";
  return out;
}

bool is_empty(Backend& dest) {
  ReadTx r = dest.read_tx();
  for (Bucket b : kAllBuckets) {
    if (!r.range(b, "", "", 1).empty()) return false;
  }
  return true;
}

}  // namespace

Result<ImportStats> import_bbolt(bbolt::Reader& src, Backend& dest) {
  if (!is_empty(dest)) {
    return failed_precondition("bbolt import: the destination backend " + dest.path() +
                               " is not empty");
  }
  auto names = src.bucket_names();
  if (!names.is_ok()) return names.status();
  ImportStats stats;
  const size_t max_key = dest.max_key_size();
  for (const std::string& name : *names) {
    const std::optional<Bucket> bucket = bucket_from_name(name);
    if (!bucket) {
      stats.skipped_buckets.push_back(name);
      continue;
    }
    // The scope of the current batch; a new one after every kBatchKeys keys
    // or kBatchBytes bytes (closing it publishes the batch, and the
    // backend's back-pressure bounds what waits for its commit).
    std::unique_ptr<BatchTx> tx;
    uint64_t batch_keys = 0;
    uint64_t batch_bytes = 0;
    std::optional<uint64_t> consistent_index;
    std::optional<uint64_t> term;
    Status walked = src.for_each({name}, [&](const bbolt::Entry& e) -> Status {
      if (e.is_bucket) {
        // etcd keeps no bucket inside its buckets: not its data, left out.
        stats.skipped_buckets.push_back(name + "/" + std::string(e.key));
        return Status::ok();
      }
      if (e.key.empty() || e.key.size() > max_key) {
        return invalid_argument("bbolt import: bucket \"" + name + "\" key " + printable(e.key) +
                                " is " + std::to_string(e.key.size()) +
                                " bytes long; the LMDB backend holds keys of 1 to " +
                                std::to_string(max_key) + " bytes");
      }
      if (*bucket == Bucket::kMeta && e.key == kMetaConsistentIndex) {
        consistent_index = parse_u64_value(e.value);
        if (!consistent_index) {
          return data_loss("bbolt import: meta consistent_index is " +
                           std::to_string(e.value.size()) + " bytes, not 8");
        }
      }
      if (*bucket == Bucket::kMeta && e.key == kMetaTerm) {
        term = parse_u64_value(e.value);
        if (!term) {
          return data_loss("bbolt import: meta term is " + std::to_string(e.value.size()) +
                           " bytes, not 8");
        }
      }
      if (tx == nullptr) tx.reset(new BatchTx(dest.batch_tx()));
      RETURN_IF_ERROR(tx->put(*bucket, e.key, e.value));
      ++stats.keys;
      stats.bytes += e.key.size() + e.value.size();
      ++batch_keys;
      batch_bytes += e.key.size() + e.value.size();
      if (batch_keys >= kBatchKeys || batch_bytes >= kBatchBytes) {
        tx.reset();
        batch_keys = 0;
        batch_bytes = 0;
      }
      return Status::ok();
    });
    if (walked.is_ok() && consistent_index) {
      // The backend's consistent index as the file has it (set_consistent_index
      // writes the same two keys). etcd 3.4 stores no term: the key stays
      // absent and the term reads as 0, as Backend::open reads it.
      if (tx == nullptr) tx.reset(new BatchTx(dest.batch_tx()));
      tx->set_consistent_index({Index(*consistent_index), Term(term.value_or(0))});
      if (!term) tx->del(Bucket::kMeta, kMetaTerm);
    }
    tx.reset();
    if (!walked.is_ok()) return walked;
  }
  dest.force_commit();
  return stats;
}

}  // namespace etcd::backend
