#include "storage/wal/wal.h"

#include "base/encoding.h"
#include "metrics/metrics.h"
#include "raft/raftpb_encode.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace etcd::wal {
namespace {

constexpr std::string_view kWalSuffix = ".wal";
constexpr std::string_view kTmpSuffix = ".wal.tmp";

bool is_empty(const raftpb::HardState& hs) {
  return hs.term() == 0 && hs.vote() == 0 && hs.commit() == 0;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool parse_hex16(std::string_view s, uint64_t* out) {
  return s.size() == 16 && parse_hex_u64(s, out);
}

// An fsync that fails leaves the page cache in an unknown state (the kernel
// may have dropped the dirty pages and will not report it again), so the
// only safe reaction is to stop: never retry (design brief, error tier 3).
void sync_or_panic(env::File& f) {
  Status s = f.sync();
  if (!s.is_ok()) PANIC("wal: fdatasync failed: " + s.to_string());
}

void sync_dir_or_panic(env::FileSystem& fs, const std::string& dir) {
  Status s = fs.sync_dir(dir);
  if (!s.is_ok()) PANIC("wal: directory fsync failed: " + s.to_string());
}

struct DirScan {
  std::vector<std::string> segments;  // sorted by sequence
};

// Lists the directory, fixing modes (CVE-2020-15113: data left readable by
// other users) and removing temporary segments a crash left behind.
Result<DirScan> scan_dir(env::FileSystem& fs, const std::string& dir, log::Logger* logger) {
  RETURN_IF_ERROR(fs.chmod(dir, env::kPrivateDirMode));
  auto names = fs.list_dir(dir);
  if (!names.is_ok()) return names.status();
  DirScan out;
  bool removed = false;
  for (const std::string& name : *names) {
    std::string path = env::join_path(dir, name);
    auto info = fs.stat(path);
    if (!info.is_ok()) return info.status();
    if (info->is_dir) continue;
    if (info->mode != env::kPrivateFileMode) {
      RETURN_IF_ERROR(fs.chmod(path, env::kPrivateFileMode));
    }
    if (ends_with(name, kTmpSuffix)) {
      RETURN_IF_ERROR(fs.remove(path));
      removed = true;
      continue;
    }
    uint64_t seq;
    uint64_t index;
    if (Wal::parse_segment_name(name, &seq, &index)) {
      out.segments.push_back(name);
    } else if (logger != nullptr && !ends_with(name, ".broken")) {
      logger->warn("ignored file in WAL directory", {{"path", path}});
    }
  }
  if (removed) sync_dir_or_panic(fs, dir);
  // Fixed-width hex names sort by sequence.
  std::sort(out.segments.begin(), out.segments.end());
  return out;
}

}  // namespace

std::string Wal::segment_name(uint64_t seq, uint64_t first_index) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%016llx-%016llx.wal", static_cast<unsigned long long>(seq),
                static_cast<unsigned long long>(first_index));
  return buf;
}

bool Wal::parse_segment_name(std::string_view name, uint64_t* seq, uint64_t* first_index) {
  if (name.size() != 16 + 1 + 16 + kWalSuffix.size() || name[16] != '-' ||
      !ends_with(name, kWalSuffix)) {
    return false;
  }
  return parse_hex16(name.substr(0, 16), seq) && parse_hex16(name.substr(17, 16), first_index);
}

bool Wal::exists(env::FileSystem& fs, const std::string& dir) {
  auto names = fs.list_dir(dir);
  if (!names.is_ok()) return false;
  uint64_t seq;
  uint64_t index;
  return std::any_of(names->begin(), names->end(),
                     [&](const std::string& n) { return parse_segment_name(n, &seq, &index); });
}

Wal::Wal(env::FileSystem& fs, std::string dir, const WalOptions& options)
    : fs_(fs), dir_(std::move(dir)), options_(options) {
  ASSERT(options_.segment_size_bytes > 0, "segment size must be positive");
}

Wal::~Wal() = default;

std::string Wal::tail_path() const {
  return segments_.empty() ? std::string() : env::join_path(dir_, segments_.back().name);
}

Result<std::unique_ptr<Wal>> Wal::create(env::FileSystem& fs, const std::string& dir,
                                         std::string_view metadata, const WalOptions& options) {
  if (exists(fs, dir)) return Status(Code::kAlreadyExists, "wal: " + dir + " already holds a WAL");
  RETURN_IF_ERROR(env::mkdir_all(fs, dir, env::kPrivateDirMode));
  auto scan = scan_dir(fs, dir, options.logger);
  if (!scan.is_ok()) return scan.status();

  std::unique_ptr<Wal> w(new Wal(fs, dir, options));
  const std::string name = segment_name(0, 0);
  const std::string path = env::join_path(dir, name);
  const std::string tmp = path + ".tmp";
  auto f = fs.open(tmp, env::OpenMode::kCreateTruncate, env::kPrivateFileMode);
  if (!f.is_ok()) return f.status();
  RETURN_IF_ERROR(w->preallocate(**f, options.segment_size_bytes));

  std::string head;
  append_crc_record(&head, 0);
  append_record(&head, RecordType::kMetadata, metadata, &w->crc_);
  append_record(&head, RecordType::kSnapshot, encode_snapshot_marker({}), &w->crc_);
  RETURN_IF_ERROR((*f)->write_at(0, head));
  sync_or_panic(**f);
  // The segment gets its real name only once its contents are durable.
  RETURN_IF_ERROR(fs.rename(tmp, path));
  sync_dir_or_panic(fs, dir);

  w->mode_ = Mode::kAppending;
  w->metadata_ = std::string(metadata);
  w->segments_.push_back({0, 0, name});
  w->tail_ = std::move(*f);
  w->file_offset_ = head.size();
  w->allocated_ = std::max<uint64_t>(options.segment_size_bytes, head.size());
  return w;
}

Result<std::unique_ptr<Wal>> Wal::open(env::FileSystem& fs, const std::string& dir,
                                       WalSnapshot snap, const WalOptions& options) {
  if (!env::exists(fs, dir)) return not_found("wal: file not found: no directory " + dir);
  auto scan = scan_dir(fs, dir, options.logger);
  if (!scan.is_ok()) return scan.status();
  const auto& names = scan->segments;
  if (names.empty()) return not_found("wal: file not found in " + dir);

  // The last segment starting at or before the snapshot holds its marker or
  // precedes the one that does.
  std::vector<Segment> segs;
  for (const std::string& n : names) {
    Segment s{0, 0, n};
    parse_segment_name(n, &s.seq, &s.first_index);
    segs.push_back(std::move(s));
  }
  size_t start = segs.size();
  for (size_t i = segs.size(); i-- > 0;) {
    if (segs[i].first_index <= snap.index.value()) {
      start = i;
      break;
    }
  }
  if (start == segs.size()) {
    return not_found("wal: file not found: no segment at or before index " +
                     std::to_string(snap.index.value()) + " in " + dir);
  }
  for (size_t i = start + 1; i < segs.size(); ++i) {
    if (segs[i].seq != segs[i - 1].seq + 1) {
      return data_loss("wal: segment sequence broken in " + dir + ": " + segs[i - 1].name +
                       " is followed by " + segs[i].name);
    }
  }

  std::unique_ptr<Wal> w(new Wal(fs, dir, options));
  w->start_ = snap;
  w->segments_.assign(segs.begin() + static_cast<std::ptrdiff_t>(start), segs.end());
  // Segments before the selected one are not needed from this snapshot on.
  w->released_below_seq_ = w->segments_.front().seq;
  return w;
}

Result<WalContents> Wal::read_all() {
  if (mode_ != Mode::kReading) return failed_precondition("wal: read_all() after reading");
  mode_ = Mode::kClosed;  // until the read succeeds
  Replayer replayer(start_, options_.max_record_bytes);
  for (size_t i = 0; i < segments_.size(); ++i) {
    const Segment& seg = segments_[i];
    const bool last = i + 1 == segments_.size();
    const std::string path = env::join_path(dir_, seg.name);
    auto bytes = env::read_file(fs_, path);
    if (!bytes.is_ok()) return bytes.status();
    auto scan = replayer.feed(seg.name, *bytes, last);
    if (!scan.is_ok()) return scan.status();
    if (!last) continue;
    if (scan->torn) {
      RETURN_IF_ERROR(repair_torn_tail(seg, *bytes, scan->end_offset, scan->torn_reason));
    }
    auto f = fs_.open(path, env::OpenMode::kReadWrite);
    if (!f.is_ok()) return f.status();
    auto size = (*f)->size();
    if (!size.is_ok()) return size.status();
    tail_ = std::move(*f);
    file_offset_ = scan->end_offset;
    allocated_ = *size;
  }
  RETURN_IF_ERROR(replayer.finish());
  WalContents& contents = replayer.contents();
  metadata_ = contents.metadata;
  state_ = contents.hard_state;
  last_index_ = replayer.last_index();
  crc_ = replayer.crc();
  mode_ = Mode::kAppending;
  return std::move(contents);
}

Status Wal::repair_torn_tail(const Segment& seg, std::string_view bytes, uint64_t end,
                             const std::string& reason) {
  const std::string path = env::join_path(dir_, seg.name);
  const std::string broken = path + ".broken";
  if (options_.logger != nullptr) {
    options_.logger->warn("repairing torn WAL tail",
                          {{"path", path}, {"reason", reason}, {"broken-copy", broken}});
  }
  {
    auto copy = fs_.open(broken, env::OpenMode::kCreateTruncate, env::kPrivateFileMode);
    if (!copy.is_ok()) return copy.status();
    RETURN_IF_ERROR((*copy)->write_at(0, bytes));
    sync_or_panic(**copy);
  }
  sync_dir_or_panic(fs_, dir_);
  auto f = fs_.open(path, env::OpenMode::kReadWrite);
  if (!f.is_ok()) return f.status();
  // Zero everything after the last good record, durably, before anything
  // new is appended: stale torn bytes must never mix with new records.
  RETURN_IF_ERROR((*f)->truncate(end));
  RETURN_IF_ERROR(preallocate(**f, std::max<uint64_t>(bytes.size(), options_.segment_size_bytes)));
  sync_or_panic(**f);
  return Status::ok();
}

Status Wal::check_appending() const {
  if (mode_ == Mode::kReading) return failed_precondition("wal: read_all() first");
  if (mode_ == Mode::kClosed) return failed_precondition("wal: closed");
  if (failed_) return failed_precondition("wal: an earlier write failed");
  return Status::ok();
}

void Wal::encode_state(const raftpb::HardState& hs, std::string* out, uint32_t* crc) {
  append_record(out, RecordType::kState, raft::gogo::encode(hs), crc);
}

Status Wal::save(const raftpb::HardState& hard_state, std::span<const raftpb::Entry> entries,
                 bool must_sync) {
  RETURN_IF_ERROR(check_appending());
  const bool has_state = !is_empty(hard_state);
  if (!has_state && entries.empty()) return Status::ok();
  // The envelope adds at most 1 + 10 + 1 + 5 + 1 + 10 bytes to the data.
  constexpr uint64_t kEnvelopeBytes = 28;
  for (const raftpb::Entry& e : entries) {
    // A record the reader would refuse must never be written.
    const size_t bytes = raft::gogo::encoded_size(e);
    if (bytes + kEnvelopeBytes > options_.max_record_bytes) {
      return invalid_argument("wal: entry " + std::to_string(e.index()) + " of " +
                              std::to_string(bytes) + " bytes exceeds the maximum " +
                              std::to_string(options_.max_record_bytes));
    }
  }
  for (const raftpb::Entry& e : entries) {
    // etcd's gogoproto form, byte for byte (raft/raftpb_encode.h).
    scratch_.clear();
    raft::gogo::append(&scratch_, e);
    append_record(&buf_, RecordType::kEntry, scratch_, &crc_);
    last_index_ = Index(e.index());
  }
  if (has_state) {
    state_ = hard_state;
    encode_state(hard_state, &buf_, &crc_);
  }
  if (tail_offset() >= options_.segment_size_bytes) return cut();
  if (must_sync) return sync();
  if (buf_.size() >= options_.flush_threshold_bytes) return flush(/*page_aligned=*/true);
  return Status::ok();
}

Status Wal::save_snapshot(const WalSnapshot& snap) {
  RETURN_IF_ERROR(check_appending());
  append_record(&buf_, RecordType::kSnapshot, encode_snapshot_marker(snap), &crc_);
  if (last_index_ < snap.index) last_index_ = snap.index;
  return sync();
}

Status Wal::sync() {
  RETURN_IF_ERROR(check_appending());
  RETURN_IF_ERROR(flush(/*page_aligned=*/false));
  sync_tail();
  return Status::ok();
}

void Wal::sync_tail() {
  auto start = std::chrono::steady_clock::now();
  sync_or_panic(*tail_);
  metrics::Metrics::global().wal_fsync_seconds->Observe(metrics::seconds_since(start));
}

Status Wal::ensure_allocated(uint64_t end) {
  if (end <= allocated_) return Status::ok();
  // Only the batch that crosses the segment size gets here; the cut that
  // follows it truncates the slack again.
  uint64_t size = (end + kPageBytes - 1) / kPageBytes * kPageBytes;
  RETURN_IF_ERROR(tail_->allocate(size));
  allocated_ = size;
  return Status::ok();
}

Status Wal::preallocate(env::File& f, uint64_t size) const {
  if (!options_.zero_fill_segments) return f.allocate(size);
  auto cur = f.size();
  if (!cur.is_ok()) return cur.status();
  constexpr uint64_t kChunkBytes = 1 << 20;
  static const std::string kZeros(kChunkBytes, '\0');
  for (uint64_t off = *cur; off < size; off += kChunkBytes) {
    RETURN_IF_ERROR(
        f.write_at(off, std::string_view(kZeros).substr(0, std::min(kChunkBytes, size - off))));
  }
  return Status::ok();
}

Status Wal::flush(bool page_aligned) {
  if (buf_.empty()) return Status::ok();
  uint64_t n = buf_.size();
  if (page_aligned) {
    uint64_t end = (file_offset_ + n) / kPageBytes * kPageBytes;
    if (end <= file_offset_) return Status::ok();
    n = end - file_offset_;
  }
  Status s = ensure_allocated(file_offset_ + n);
  if (s.is_ok()) s = tail_->write_at(file_offset_, std::string_view(buf_).substr(0, n));
  if (!s.is_ok()) {
    failed_ = true;
    return s;
  }
  file_offset_ += n;
  metrics::Metrics::global().wal_write_bytes->Increment(static_cast<double>(n));
  buf_.erase(0, n);
  return Status::ok();
}

Status Wal::cut() {
  Status s = flush(/*page_aligned=*/false);
  // The finished segment ends exactly at its last record: readers take a
  // non-last segment's end of file as the end of its records.
  if (s.is_ok()) s = tail_->truncate(file_offset_);
  if (!s.is_ok()) {
    failed_ = true;
    return s;
  }
  sync_tail();

  const uint64_t seq = segments_.back().seq + 1;
  const uint64_t first_index = last_index_.value() + 1;
  const std::string name = segment_name(seq, first_index);
  const std::string path = env::join_path(dir_, name);
  const std::string tmp = path + ".tmp";
  // The new segment starts with the running CRC, the metadata and the hard
  // state, and is complete on disk before it gets its name.
  std::string head;
  uint32_t crc = crc_;
  append_crc_record(&head, crc);
  append_record(&head, RecordType::kMetadata, metadata_, &crc);
  if (!is_empty(state_)) encode_state(state_, &head, &crc);

  auto f = fs_.open(tmp, env::OpenMode::kCreateTruncate, env::kPrivateFileMode);
  s = f.status();
  if (s.is_ok()) s = preallocate(**f, std::max<uint64_t>(options_.segment_size_bytes, head.size()));
  if (s.is_ok()) s = (*f)->write_at(0, head);
  if (!s.is_ok()) {
    failed_ = true;
    return s;
  }
  sync_or_panic(**f);
  s = fs_.rename(tmp, path);
  if (!s.is_ok()) {
    failed_ = true;
    return s;
  }
  sync_dir_or_panic(fs_, dir_);

  tail_ = std::move(*f);
  file_offset_ = head.size();
  allocated_ = std::max<uint64_t>(options_.segment_size_bytes, head.size());
  crc_ = crc;
  segments_.push_back({seq, first_index, name});
  if (options_.logger != nullptr)
    options_.logger->info("created a new WAL segment", {{"path", path}});
  return Status::ok();
}

void Wal::release_to(Index index) {
  // Keep the segment before the first one starting at or after `index`: it
  // may hold entries up to index - 1 and the marker of the snapshot.
  size_t keep_from = segments_.size() - 1;
  for (size_t i = 0; i < segments_.size(); ++i) {
    if (segments_[i].first_index >= index.value()) {
      keep_from = i == 0 ? 0 : i - 1;
      break;
    }
  }
  if (keep_from == 0) return;
  released_below_seq_ = std::max(released_below_seq_, segments_[keep_from].seq);
  segments_.erase(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(keep_from));
}

Result<std::vector<std::string>> Wal::purge() {
  std::vector<std::string> removed;
  if (options_.max_wals == 0) return removed;
  auto names = fs_.list_dir(dir_);
  if (!names.is_ok()) return names.status();
  std::vector<std::string> segs;
  uint64_t seq;
  uint64_t index;
  for (const std::string& n : *names) {
    if (parse_segment_name(n, &seq, &index)) segs.push_back(n);
  }
  std::sort(segs.begin(), segs.end());
  for (size_t i = 0; segs.size() - i > options_.max_wals; ++i) {
    parse_segment_name(segs[i], &seq, &index);
    if (seq >= released_below_seq_) break;  // still needed: never delete unreleased
    RETURN_IF_ERROR(fs_.remove(env::join_path(dir_, segs[i])));
    removed.push_back(segs[i]);
    if (options_.logger != nullptr) {
      options_.logger->info("purged WAL segment", {{"path", env::join_path(dir_, segs[i])}});
    }
  }
  if (!removed.empty()) sync_dir_or_panic(fs_, dir_);
  return removed;
}

Status Wal::close() {
  Status s;
  if (mode_ == Mode::kAppending && !failed_) s = sync();
  tail_.reset();
  mode_ = Mode::kClosed;
  return s;
}

}  // namespace etcd::wal
