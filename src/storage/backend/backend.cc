#include "storage/backend/backend.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <limits>
#include <utility>

#include "base/crc32c.h"
#include "metrics/metrics.h"
#include "storage/backend/bbolt_convert.h"
#include "storage/backend/buffer.h"
#include "storage/backend/fs_util.h"
#include "storage/backend/snapshot.h"

namespace etcd::backend {
namespace {

// An LMDB data file: its first meta page's magic (after the 16-byte page
// header), little-endian as LMDB writes it on the machines we run on.
bool is_lmdb_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  unsigned char head[20];
  const ssize_t n = ::pread(fd, head, sizeof head, 0);
  ::close(fd);
  if (n != static_cast<ssize_t>(sizeof head)) return false;
  const uint32_t magic = uint32_t{head[16]} | uint32_t{head[17]} << 8 | uint32_t{head[18]} << 16 |
                         uint32_t{head[19]} << 24;
  return magic == 0xBEEFC0DE;
}

// LMDB reader slots beyond max_readers: every read transaction goes through
// our gate, so these only absorb slots a crashed process left behind.
constexpr unsigned kSpareReaderSlots = 2;
// The free-page database's handle (LMDB's FREE_DBI).
constexpr MDB_dbi kFreeDbi = 0;
// The LMDB file's sub-databases: ours plus headroom.
constexpr MDB_dbi kMaxDbs = kBucketCount + 6;

MDB_val to_val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
std::string_view from_val(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

// Tier three: an LMDB failure while reading or writing committed state is
// corruption or an I/O error; the process must not go on.
[[noreturn]] void lmdb_panic(std::string_view what, int rc) {
  PANIC(std::string("backend: ") + std::string(what) + ": " + mdb_strerror(rc));
}

Status open_status(const std::string& path, int rc) {
  std::string msg = "open backend " + path + ": " + mdb_strerror(rc);
  switch (rc) {
    case MDB_INVALID:
    case MDB_CORRUPTED:
    case MDB_VERSION_MISMATCH:
    case MDB_PAGE_NOTFOUND:
      return data_loss(msg);
    case EACCES:
    case EPERM:
      return Status(Code::kPermissionDenied, msg);
    case ENOENT:
      return not_found(msg);
    case EAGAIN:
      return Status(Code::kUnavailable, msg + " (in use by another process)");
    default:
      return internal_error(msg);
  }
}

// The newest version visible at `seq`, or nullptr.
const Version* visible(const std::vector<Version>& versions, uint64_t seq) {
  for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
    if (it->seq <= seq) return &*it;
  }
  return nullptr;
}

bool in_range(std::string_view key, std::string_view end) { return end.empty() || key < end; }

}  // namespace

// ---------------------------------------------------------------------------
// View

namespace internal {

View::View(Backend* backend, MDB_txn* txn, const std::array<MDB_dbi, kBucketCount>& dbis,
           std::vector<std::shared_ptr<const Generation>> gens, uint64_t seq,
           const ScopeBuffer* scope)
    : backend_(backend), txn_(txn), dbis_(dbis), gens_(std::move(gens)), seq_(seq), scope_(scope) {}

View::~View() {
  mdb_txn_abort(txn_);
  backend_->release_reader_slot();
}

std::optional<std::string> View::get(Bucket bucket, std::string_view key) const {
  const size_t b = bucket_index(bucket);
  if (scope_ != nullptr) {
    auto it = scope_->buckets[b].find(key);
    if (it != scope_->buckets[b].end()) return it->second;
  }
  if (!gens_.empty()) {
    // Copied under the lock: publishing may reallocate a key's versions.
    MutexLock lock(&backend_->state_mu_);
    for (auto g = gens_.rbegin(); g != gens_.rend(); ++g) {
      auto it = (*g)->buckets[b].find(key);
      if (it == (*g)->buckets[b].end()) continue;
      if (const Version* v = visible(it->second, seq_)) return v->value;
    }
  }
  if (key.empty() || key.size() > backend_->max_key_size_) return std::nullopt;
  MDB_val k = to_val(key);
  MDB_val d;
  int rc = mdb_get(txn_, dbis_[b], &k, &d);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  if (rc != 0) lmdb_panic("get", rc);
  return std::string(from_val(d));
}

void View::scan(Bucket bucket, std::string_view start, std::string_view end, size_t limit,
                const KeyValueFn& fn) const {
  const size_t b = bucket_index(bucket);
  // The buffered writes in range, newest visible value per key. Bounded by
  // the buffer size (at most two batches plus one scope).
  std::map<std::string, MaybeValue, std::less<>> overlay;
  if (!gens_.empty()) {
    MutexLock lock(&backend_->state_mu_);
    for (const auto& g : gens_) {
      const auto& m = g->buckets[b];
      for (auto it = m.lower_bound(start); it != m.end() && in_range(it->first, end); ++it) {
        if (const Version* v = visible(it->second, seq_)) overlay[it->first] = v->value;
      }
    }
  }
  if (scope_ != nullptr) {
    const auto& m = scope_->buckets[b];
    for (auto it = m.lower_bound(start); it != m.end() && in_range(it->first, end); ++it) {
      overlay[it->first] = it->second;
    }
  }

  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn_, dbis_[b], &cursor);
  if (rc != 0) lmdb_panic("cursor open", rc);
  MDB_val k = to_val(start);
  MDB_val d;
  rc = start.empty() ? mdb_cursor_get(cursor, &k, &d, MDB_FIRST)
                     : mdb_cursor_get(cursor, &k, &d, MDB_SET_RANGE);
  auto ov = overlay.begin();
  size_t emitted = 0;
  for (;;) {
    if (rc != 0 && rc != MDB_NOTFOUND) lmdb_panic("cursor get", rc);
    const bool have_db = rc == 0 && in_range(from_val(k), end);
    const bool have_ov = ov != overlay.end();
    if (!have_db && !have_ov) break;
    bool go_on;
    if (have_ov && (!have_db || std::string_view(ov->first) <= from_val(k))) {
      // The buffer shadows LMDB's value of the same key.
      if (have_db && ov->first == from_val(k)) rc = mdb_cursor_get(cursor, &k, &d, MDB_NEXT);
      const bool present = ov->second.has_value();
      go_on = present ? fn(ov->first, *ov->second) : true;
      if (present) ++emitted;
      ++ov;
    } else {
      go_on = fn(from_val(k), from_val(d));
      ++emitted;
      rc = mdb_cursor_get(cursor, &k, &d, MDB_NEXT);
    }
    if (!go_on || (limit != 0 && emitted >= limit)) break;
  }
  mdb_cursor_close(cursor);
}

}  // namespace internal

// ---------------------------------------------------------------------------
// ReadTx

ReadTx::ReadTx(std::unique_ptr<internal::View> view) : view_(std::move(view)) {}
ReadTx::ReadTx(ReadTx&&) noexcept = default;
ReadTx& ReadTx::operator=(ReadTx&&) noexcept = default;
ReadTx::~ReadTx() = default;

std::optional<std::string> ReadTx::get(Bucket bucket, std::string_view key) const {
  ASSERT(view_ != nullptr, "use of a moved-from ReadTx");
  return view_->get(bucket, key);
}

std::vector<KeyValue> ReadTx::range(Bucket bucket, std::string_view start, std::string_view end,
                                    size_t limit) const {
  ASSERT(view_ != nullptr, "use of a moved-from ReadTx");
  std::vector<KeyValue> out;
  view_->scan(bucket, start, end, limit, [&](std::string_view k, std::string_view v) {
    out.push_back(KeyValue{std::string(k), std::string(v)});
    return true;
  });
  return out;
}

void ReadTx::for_each(Bucket bucket, std::string_view start, std::string_view end,
                      const KeyValueFn& fn) const {
  ASSERT(view_ != nullptr, "use of a moved-from ReadTx");
  view_->scan(bucket, start, end, 0, fn);
}

// ---------------------------------------------------------------------------
// BatchTx

BatchTx::BatchTx(Backend* backend) : backend_(backend), scope_(std::make_unique<ScopeBuffer>()) {
  backend_->writer_mu_.lock();
}

BatchTx::~BatchTx() {
  // The view holds a reader slot: give it back before anything below can
  // wait for a commit (which may need every slot drained to grow the map).
  view_.reset();
  const bool commit_now = backend_->publish(*scope_);
  backend_->writer_mu_.unlock();
  if (commit_now) backend_->commit_frozen(/*sync=*/false);
}

Status BatchTx::put(Bucket bucket, std::string_view key, std::string_view value) {
  if (key.empty()) return invalid_argument("backend: empty key");
  if (key.size() > backend_->max_key_size_) {
    return invalid_argument("backend: key of " + std::to_string(key.size()) +
                            " bytes exceeds the maximum of " +
                            std::to_string(backend_->max_key_size_));
  }
  if (value.size() > std::numeric_limits<uint32_t>::max()) {
    return invalid_argument("backend: value too large");
  }
  auto [it, inserted] = scope_->buckets[bucket_index(bucket)].try_emplace(std::string(key));
  it->second = std::string(value);
  ++scope_->ops;
  return Status::ok();
}

void BatchTx::del(Bucket bucket, std::string_view key) {
  if (key.empty() || key.size() > backend_->max_key_size_) return;  // cannot exist
  auto [it, inserted] = scope_->buckets[bucket_index(bucket)].try_emplace(std::string(key));
  it->second = std::nullopt;
  ++scope_->ops;
}

void BatchTx::set_consistent_index(ConsistentIndex ci) {
  auto& meta = scope_->buckets[bucket_index(Bucket::kMeta)];
  meta[std::string(kMetaConsistentIndex)] = u64_value(ci.index.value());
  meta[std::string(kMetaTerm)] = u64_value(ci.term.value());
  scope_->ops += 2;
  scope_->consistent_index = ci;
}

internal::View& BatchTx::view() {
  if (view_ == nullptr) view_ = backend_->begin_view(/*for_writer=*/true, scope_.get());
  return *view_;
}

std::optional<std::string> BatchTx::get(Bucket bucket, std::string_view key) {
  return view().get(bucket, key);
}

std::vector<KeyValue> BatchTx::range(Bucket bucket, std::string_view start, std::string_view end,
                                     size_t limit) {
  std::vector<KeyValue> out;
  view().scan(bucket, start, end, limit, [&](std::string_view k, std::string_view v) {
    out.push_back(KeyValue{std::string(k), std::string(v)});
    return true;
  });
  return out;
}

void BatchTx::for_each(Bucket bucket, std::string_view start, std::string_view end,
                       const KeyValueFn& fn) {
  view().scan(bucket, start, end, 0, fn);
}

uint64_t BatchTx::ops() const { return scope_->ops; }

// ---------------------------------------------------------------------------
// Backend: open and close

Backend::Backend(std::string path, Options options, env::Clock& clock)
    : path_(std::move(path)), options_(options), clock_(clock) {
  MutexLock lock(&state_mu_);
  active_ = std::make_shared<Generation>();
}

Result<std::unique_ptr<Backend>> Backend::open(std::string path, Options options,
                                               env::Clock& clock) {
  if (path.empty()) return invalid_argument("backend: empty path");
  if (options.batch_limit == 0) return invalid_argument("backend: batch_limit must be > 0");
  if (options.max_readers == 0) return invalid_argument("backend: max_readers must be > 0");
  if (options.map_size_bytes < (uint64_t{1} << 20)) {
    return invalid_argument("backend: map size must be at least 1 MiB");
  }
  RETURN_IF_ERROR(fs::make_dirs(fs::dir_of(path)));
  // One process per database: our write buffer assumes it is the only writer.
  const std::string lock_path = path + "-lock";
  int lock_fd = ::open(lock_path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  if (lock_fd < 0) return fs::errno_status("open " + lock_path, errno);
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(lock_fd);
    if (err == EWOULDBLOCK) {
      return Status(Code::kUnavailable, "backend " + path + " is in use by another process");
    }
    return fs::errno_status("flock " + lock_path, err);
  }
  std::unique_ptr<Backend> b(new Backend(std::move(path), options, clock));
  b->lock_fd_ = lock_fd;  // released by close(), after LMDB has closed its descriptors
  {
    MutexLock lock(&b->commit_mu_);
    b->map_size_ = options.map_size_bytes;
    RETURN_IF_ERROR(b->open_env());
  }
  b->load_consistent_index();
  {
    MutexLock lock(&b->state_mu_);
    b->closed_ = false;
  }
  if (options.background_commit) {
    b->committer_ = std::thread([p = b.get()] { p->committer_loop(); });
  }
  return b;
}

Status Backend::open_env() {
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc != 0) return internal_error(std::string("mdb_env_create: ") + mdb_strerror(rc));
  unsigned flags = MDB_NOSUBDIR | MDB_NOTLS;
  switch (options_.sync_mode) {
    case SyncMode::kNoSync:
      flags |= MDB_NOSYNC;
      break;
    case SyncMode::kNoMetaSync:
      flags |= MDB_NOMETASYNC;
      break;
    case SyncMode::kSync:
      break;
  }
  if ((rc = mdb_env_set_maxdbs(env, kMaxDbs)) != 0 ||
      (rc = mdb_env_set_mapsize(env, map_size_.load())) != 0 ||
      (rc = mdb_env_set_maxreaders(env, options_.max_readers + kSpareReaderSlots)) != 0 ||
      (rc = mdb_env_open(env, path_.c_str(), flags, 0600)) != 0) {
    mdb_env_close(env);
    return open_status(path_, rc);
  }
  // Every bucket exists from the start (etcd's modules create theirs at
  // boot), so DBI handles are opened once and hash() always sees all ten.
  MDB_txn* txn = nullptr;
  std::array<MDB_dbi, kBucketCount> dbis{};
  rc = mdb_txn_begin(env, nullptr, 0, &txn);
  for (size_t i = 0; rc == 0 && i < kBucketCount; ++i) {
    rc = mdb_dbi_open(txn, std::string(bucket_name(kAllBuckets[i])).c_str(), MDB_CREATE, &dbis[i]);
  }
  if (rc == 0) {
    rc = mdb_txn_commit(txn);
  } else if (txn != nullptr) {
    mdb_txn_abort(txn);
  }
  if (rc != 0) {
    mdb_env_close(env);
    return open_status(path_, rc);
  }
  MDB_envinfo info;
  mdb_env_info(env, &info);
  map_size_ = info.me_mapsize;  // LMDB keeps the larger of ours and the file's
  env_ = env;
  dbis_ = dbis;
  if (max_key_size_ == 0) max_key_size_ = static_cast<size_t>(mdb_env_get_maxkeysize(env));
  return Status::ok();
}

void Backend::close_env() {
  if (env_ != nullptr) mdb_env_close(env_);
  env_ = nullptr;
}

void Backend::load_consistent_index() {
  ConsistentIndex ci = committed_consistent_index();
  MutexLock lock(&state_mu_);
  consistent_index_ = ci;
}

ConsistentIndex Backend::committed_consistent_index() {
  acquire_reader_slot();
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
  if (rc != 0) lmdb_panic("begin read", rc);
  auto read_u64 = [&](std::string_view key) -> uint64_t {
    MDB_val k = to_val(key);
    MDB_val d;
    int r = mdb_get(txn, dbis_[bucket_index(Bucket::kMeta)], &k, &d);
    if (r == MDB_NOTFOUND) return 0;
    if (r != 0) lmdb_panic("get meta", r);
    auto v = parse_u64_value(from_val(d));
    if (!v) PANIC("backend: meta key " + std::string(key) + " is not 8 bytes");
    return *v;
  };
  ConsistentIndex ci{Index(read_u64(kMetaConsistentIndex)), Term(read_u64(kMetaTerm))};
  mdb_txn_abort(txn);
  release_reader_slot();
  return ci;
}

Backend::~Backend() {
  close();
  if (lock_fd_ >= 0) ::close(lock_fd_);  // open() failed after taking the lock
}

void Backend::finish_close() {
  drain_readers();  // bolt's Close waits for read transactions too
  close_env();
  // Only after mdb_env_close: closing any descriptor of the lock file drops
  // the process's fcntl locks on it, LMDB's included.
  if (lock_fd_ >= 0) ::close(lock_fd_);
  lock_fd_ = -1;
  {
    MutexLock lock(&gate_mu_);
    env_closed_ = true;
    gate_closed_ = false;
    gate_cv_.notify_all();  // late readers fail their ASSERT instead of waiting
  }
  MutexLock lock(&state_mu_);
  closed_ = true;
}

void Backend::close() {
  {
    MutexLock lock(&state_mu_);
    if (closed_ || stop_committer_) return;
    stop_committer_ = true;
    state_cv_.notify_all();
  }
  if (committer_.joinable()) committer_.join();
  MutexLock writer(&writer_mu_);  // no scope is open past this point
  commit_all(/*sync=*/true);
  MutexLock commit(&commit_mu_);
  finish_close();
}

void Backend::close_without_commit_for_testing() {
  {
    MutexLock lock(&state_mu_);
    if (closed_ || stop_committer_) return;
    stop_committer_ = true;
    state_cv_.notify_all();
  }
  if (committer_.joinable()) committer_.join();
  MutexLock writer(&writer_mu_);
  MutexLock commit(&commit_mu_);
  {
    MutexLock lock(&state_mu_);
    frozen_.clear();
    active_ = std::make_shared<Generation>();
  }
  finish_close();
}

// ---------------------------------------------------------------------------
// Reader slots

void Backend::acquire_reader_slot() {
  MutexLock lock(&gate_mu_);
  const uint32_t max = options_.max_readers;
  lock.wait(gate_cv_, [this, max]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(gate_mu_) {
    return env_closed_ || (!gate_closed_ && active_readers_ < max);
  });
  ASSERT(!env_closed_, "backend used after close()");
  ++active_readers_;
}

void Backend::release_reader_slot() {
  MutexLock lock(&gate_mu_);
  ASSERT(active_readers_ > 0, "reader slot released twice");
  --active_readers_;
  gate_cv_.notify_all();  // a reader waiting for a slot, or a drain
}

void Backend::drain_readers() {
  MutexLock lock(&gate_mu_);
  ASSERT(!gate_closed_, "nested drain");
  gate_closed_ = true;
  lock.wait(gate_cv_,
            [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(gate_mu_) { return active_readers_ == 0; });
}

void Backend::reopen_readers() {
  MutexLock lock(&gate_mu_);
  gate_closed_ = false;
  gate_cv_.notify_all();
}

std::unique_ptr<internal::View> Backend::begin_view(bool for_writer, const ScopeBuffer* scope) {
  acquire_reader_slot();
  MDB_txn* txn = nullptr;
  std::vector<std::shared_ptr<const Generation>> gens;
  uint64_t seq;
  {
    // Beginning the LMDB transaction under state_mu_ pairs it with the
    // generation list: a generation whose commit_txnid is <= the txn id is
    // in LMDB already (its commit_txnid was set under this lock before the
    // commit became visible); any other is overlaid.
    MutexLock lock(&state_mu_);
    ASSERT(!closed_, "read from a closed backend");
    int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
    if (rc != 0) lmdb_panic("begin read", rc);
    const uint64_t id = mdb_txn_id(txn);
    for (const auto& g : frozen_) {
      if (g->commit_txnid == 0 || g->commit_txnid > id) gens.push_back(g);
    }
    if (active_->ops > 0) gens.push_back(active_);
    seq = for_writer ? std::numeric_limits<uint64_t>::max() : published_seq_;
  }
  return std::make_unique<internal::View>(this, txn, dbis_, std::move(gens), seq, scope);
}

ReadTx Backend::read_tx() { return ReadTx(begin_view(/*for_writer=*/false, nullptr)); }

BatchTx Backend::batch_tx() { return BatchTx(this); }

ConsistentIndex Backend::consistent_index() const {
  MutexLock lock(&state_mu_);
  return consistent_index_;
}

// ---------------------------------------------------------------------------
// Publishing and committing

bool Backend::publish(ScopeBuffer& scope) {
  if (scope.ops == 0) return false;
  MutexLock lock(&state_mu_);
  Generation& gen = *active_;
  if (gen.ops == 0) {
    gen.first_op_at = clock_.now();
    state_cv_.notify_all();  // an idle committer starts timing the interval
  }
  const uint64_t seq = ++published_seq_;
  for (size_t b = 0; b < kBucketCount; ++b) {
    auto& from = scope.buckets[b];
    auto& to = gen.buckets[b];
    while (!from.empty()) {
      auto node = from.extract(from.begin());
      gen.bytes += node.key().size() + (node.mapped() ? node.mapped()->size() : 0);
      to[std::move(node.key())].push_back(Version{seq, std::move(node.mapped())});
    }
  }
  gen.ops += scope.ops;
  if (scope.consistent_index) consistent_index_ = *scope.consistent_index;
  // During a defrag, batches close by size only: closed by the interval,
  // they would fill the bounded queue within seconds of a long copy.
  const bool full =
      gen.ops >= options_.batch_limit || (defragging_ && gen.bytes >= kMaxBatchBytesDuringDefrag);
  if (!full && (defragging_ || !interval_elapsed_locked())) return false;
  if (options_.background_commit) {
    // Back-pressure: at most one batch waits for the committer (during a
    // defrag, kMaxFrozenDuringDefrag), so the buffer stays bounded.
    lock.wait(state_cv_, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mu_) {
      return frozen_.size() < max_frozen_locked() || stop_committer_;
    });
    freeze_locked();
    return false;
  }
  freeze_locked();
  return true;
}

bool Backend::freeze_locked() {
  if (active_->ops == 0) return false;
  frozen_.push_back(std::move(active_));
  active_ = std::make_shared<Generation>();
  state_cv_.notify_all();  // the committer has work
  return true;
}

bool Backend::interval_elapsed_locked() {
  return active_->ops > 0 && clock_.now() - active_->first_op_at >= options_.batch_interval;
}

void Backend::commit_frozen(bool sync) {
  MutexLock lock(&commit_mu_);
  commit_frozen_locked(sync);
}

void Backend::commit_frozen_locked(bool sync) {
  for (;;) {
    std::shared_ptr<Generation> gen;
    {
      MutexLock lock(&state_mu_);
      if (frozen_.empty()) break;
      gen = frozen_.front();
    }
    commit_generation(*gen);
    MutexLock lock(&state_mu_);
    frozen_.pop_front();
    ++commits_;
    state_cv_.notify_all();  // a writer held back by a full buffer
  }
  if (sync) {
    int rc = mdb_env_sync(env_, 1);
    if (rc != 0) lmdb_panic("fsync", rc);  // never retried (fsyncgate)
  }
}

void Backend::commit_generation(Generation& gen) {
  for (;;) {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc != 0) lmdb_panic("begin write", rc);
    // Keys go in order per bucket (std::map), which keeps LMDB's page
    // splits local. The consistent index is in the meta bucket's entries,
    // so it lands in this same transaction as the data it covers.
    for (size_t b = 0; b < kBucketCount && rc == 0; ++b) {
      for (const auto& [key, versions] : gen.buckets[b]) {
        const MaybeValue& value = versions.back().value;
        MDB_val k = to_val(key);
        if (value.has_value()) {
          MDB_val d = to_val(*value);
          rc = mdb_put(txn, dbis_[b], &k, &d, 0);
        } else {
          rc = mdb_del(txn, dbis_[b], &k, nullptr);
          if (rc == MDB_NOTFOUND) rc = 0;
        }
        if (rc != 0) break;
      }
    }
    if (rc == 0) {
      {
        MutexLock lock(&state_mu_);
        gen.commit_txnid = mdb_txn_id(txn);
      }
      auto start = std::chrono::steady_clock::now();
      rc = mdb_txn_commit(txn);  // frees txn whatever the outcome
      if (rc == 0) {
        metrics::Metrics::global().backend_commit_seconds->Observe(metrics::seconds_since(start));
        return;
      }
      MutexLock lock(&state_mu_);
      gen.commit_txnid = 0;
    } else {
      mdb_txn_abort(txn);
    }
    if (rc == MDB_TXN_FULL) {
      lmdb_panic("a batch exceeds the dirty-page limit of one LMDB transaction", rc);
    }
    if (rc != MDB_MAP_FULL) lmdb_panic("commit", rc);
    // The batch is still in memory: grow the map and write it again.
    grow_map();
  }
}

void Backend::grow_map() {
  const uint64_t next = map_size_.load() * 2;
  drain_readers();  // mdb_env_set_mapsize needs no transaction in the process
  int rc = mdb_env_set_mapsize(env_, next);
  reopen_readers();
  if (rc != 0) lmdb_panic("grow map to " + std::to_string(next) + " bytes", rc);
  map_size_ = next;
  MutexLock lock(&state_mu_);
  ++map_grows_;
}

void Backend::commit_all(bool sync) {
  {
    MutexLock lock(&state_mu_);
    freeze_locked();
  }
  commit_frozen(sync);
}

bool Backend::maybe_commit() {
  {
    MutexLock lock(&state_mu_);
    if (closed_ || !interval_elapsed_locked()) return false;
    if (options_.background_commit) {
      if (frozen_.empty()) freeze_locked();  // else the committer is on it
      return true;
    }
    freeze_locked();
  }
  commit_frozen(/*sync=*/false);
  return true;
}

void Backend::force_commit() { commit_all(/*sync=*/true); }

void Backend::committer_loop() {
  MutexLock lock(&state_mu_);
  while (!stop_committer_) {
    if (!frozen_.empty()) {
      lock.unlock();
      commit_frozen(/*sync=*/false);
      lock.lock();
      continue;
    }
    if (interval_elapsed_locked()) {
      freeze_locked();
      continue;
    }
    // Sleep until the batch's interval ends, a batch is frozen, the first
    // write of an idle period arrives (to start its interval), or close().
    // The interval is measured on the injected clock; the wait itself is in
    // real time, so with a manual clock the owner calls maybe_commit().
    const bool idle = active_->ops == 0;
    auto timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(options_.batch_interval);
    if (!idle) {
      timeout -=
          std::chrono::duration_cast<std::chrono::nanoseconds>(clock_.now() - active_->first_op_at);
    }
    if (timeout > std::chrono::nanoseconds::zero()) {
      lock.wait_for(state_cv_, timeout, [this, idle]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mu_) {
        return stop_committer_ || !frozen_.empty() || (idle && active_->ops > 0);
      });
    }
  }
}

// ---------------------------------------------------------------------------
// Maintenance

int64_t Backend::size() const {
  struct stat st;
  if (::stat(path_.c_str(), &st) != 0) return 0;
  return static_cast<int64_t>(st.st_size);
}

int64_t Backend::size_in_use() {
  MutexLock lock(&commit_mu_);
  return size_in_use_locked();
}

std::optional<int64_t> Backend::try_size_in_use() {
  if (!commit_mu_.try_lock()) return std::nullopt;
  int64_t n = env_ != nullptr ? size_in_use_locked() : 0;
  commit_mu_.unlock();
  return n;
}

int64_t Backend::size_in_use_locked() {
  // Holding commit_mu_ keeps the read transaction and mdb_env_info on the
  // same committed state. The free-page database maps a transaction id to
  // the pages it freed, as an IDL whose first word is its length.
  acquire_reader_slot();
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
  if (rc != 0) lmdb_panic("begin read", rc);
  MDB_envinfo info;
  MDB_stat st;
  mdb_env_info(env_, &info);
  mdb_env_stat(env_, &st);
  MDB_cursor* cursor = nullptr;
  rc = mdb_cursor_open(txn, kFreeDbi, &cursor);
  if (rc != 0) lmdb_panic("open free-page cursor", rc);
  uint64_t free_pages = 0;
  MDB_val k;
  MDB_val d;
  while ((rc = mdb_cursor_get(cursor, &k, &d, MDB_NEXT)) == 0) {
    size_t n = 0;
    if (d.mv_size >= sizeof(n)) std::memcpy(&n, d.mv_data, sizeof(n));
    free_pages += n;
  }
  if (rc != MDB_NOTFOUND) lmdb_panic("walk free pages", rc);
  mdb_cursor_close(cursor);
  mdb_txn_abort(txn);
  release_reader_slot();
  const uint64_t pages = info.me_last_pgno + 1;
  const uint64_t used = pages > free_pages ? pages - free_pages : 0;
  return static_cast<int64_t>(used * st.ms_psize);
}

Stats Backend::stats() {
  Stats s;
  s.map_size_bytes = map_size_.load();
  {
    MutexLock lock(&state_mu_);
    s.commits = commits_;
    s.map_grows = map_grows_;
    s.buffered_ops = active_->ops;
    for (const auto& g : frozen_) s.buffered_ops += g->ops;
  }
  MutexLock lock(&gate_mu_);
  s.active_readers = active_readers_;
  return s;
}

uint32_t Backend::hash(const std::vector<HashIgnore>& ignores) {
  ReadTx tx = read_tx();
  uint32_t crc = 0;
  for (Bucket b : buckets_in_name_order()) {
    std::string_view name = bucket_name(b);
    crc = crc32c::extend(crc, name.data(), name.size());
    tx.for_each(b, "", "", [&](std::string_view k, std::string_view v) {
      for (const HashIgnore& ig : ignores) {
        if (ig.bucket == b && ig.key == k) return true;
      }
      crc = crc32c::extend(crc, k.data(), k.size());
      crc = crc32c::extend(crc, v.data(), v.size());
      return true;
    });
  }
  return crc;
}

Result<DefragResult> Backend::defrag() {
  // Everything published so far goes into LMDB, under the writer lock so no
  // scope is half-published; then writers go on while the copy runs: their
  // batches wait in frozen_ (readers see them) for commit_mu_, which the
  // copy and the swap hold.
  auto start = std::chrono::steady_clock::now();
  writer_mu_.lock();
  commit_all(/*sync=*/false);
  commit_mu_.lock();
  commit_frozen_locked(/*sync=*/false);  // the committer may have held a batch
  {
    MutexLock lock(&state_mu_);
    defragging_ = true;
  }
  writer_mu_.unlock();
  Result<DefragResult> r = defrag_locked();
  {
    MutexLock lock(&state_mu_);
    defragging_ = false;
    state_cv_.notify_all();
  }
  commit_mu_.unlock();
  // The batches written meanwhile go to the new file now (or with the
  // committer thread, which was waiting for commit_mu_).
  if (!options_.background_commit) commit_frozen(/*sync=*/false);
  metrics::Metrics::global().backend_defrag_seconds->Observe(metrics::seconds_since(start));
  return r;
}

Result<DefragResult> Backend::defrag_locked() {
  DefragResult r;
  r.size_before = size();
  r.size_in_use_before = size_in_use_locked();

  const std::string tmp = path_ + ".defrag.tmp";
  int fd = ::open(tmp.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return fs::errno_status("defrag: create " + tmp, errno);
  acquire_reader_slot();  // the copy runs a read transaction
  int rc = mdb_env_copyfd2(env_, fd, MDB_CP_COMPACT);
  release_reader_slot();
  if (rc == 0 && ::fdatasync(fd) != 0) rc = errno;
  ::close(fd);
  if (rc != 0) {
    ::unlink(tmp.c_str());
    return internal_error(std::string("defrag: compacting copy: ") + mdb_strerror(rc));
  }

  // The swap: no reader may hold the old environment when it closes.
  drain_readers();
  close_env();
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    Status failed = fs::errno_status("defrag: rename " + tmp, errno);
    ::unlink(tmp.c_str());
    Status reopened = open_env();
    if (!reopened.is_ok()) PANIC("backend: reopen after failed defrag: " + reopened.to_string());
    reopen_readers();
    return failed;
  }
  // From here the compacted file is the database: failures are fatal.
  Status synced = fs::sync_dir(fs::dir_of(path_));
  if (!synced.is_ok()) PANIC("backend: defrag: " + synced.to_string());
  Status reopened = open_env();
  if (!reopened.is_ok()) PANIC("backend: reopen after defrag: " + reopened.to_string());
  reopen_readers();

  r.size_after = size();
  r.size_in_use_after = size_in_use_locked();
  return r;
}

Status Backend::replace_with(const std::string& image) {
  // A bbolt image (what etcd's members, and ours, send) becomes an LMDB
  // file beside it first, while the live database still serves; a failed
  // conversion leaves the backend as it was.
  std::string lmdb_image = image;
  if (bbolt::is_bbolt_file(image)) {
    lmdb_image = image + ".lmdb";
    if (Status st = convert_to_lmdb(image, lmdb_image); !st.is_ok()) {
      return Status(st.code(), "backend: import bbolt snapshot " + image + ": " + st.message());
    }
  } else if (!is_lmdb_file(image)) {
    return invalid_argument("backend: " + image + " is neither a bbolt nor an LMDB db image");
  }
  writer_mu_.lock();
  commit_all(/*sync=*/false);
  commit_mu_.lock();
  commit_frozen_locked(/*sync=*/false);
  drain_readers();
  close_env();
  Status st = Status::ok();
  if (::rename(lmdb_image.c_str(), path_.c_str()) != 0) {
    st = fs::errno_status("backend: rename " + lmdb_image, errno);
  } else if (Status synced = fs::sync_dir(fs::dir_of(path_)); !synced.is_ok()) {
    PANIC("backend: replace: " + synced.to_string());
  } else if (lmdb_image != image) {
    // Only now: a crash before the swap finds the received image again.
    ::unlink(image.c_str());
  }
  Status reopened = open_env();
  if (!reopened.is_ok()) PANIC("backend: reopen after replace: " + reopened.to_string());
  reopen_readers();
  commit_mu_.unlock();
  writer_mu_.unlock();
  load_consistent_index();
  return st;
}

Result<std::unique_ptr<SnapshotReader>> Backend::copy_lmdb() {
  // Acknowledged writes must be in the image: commit them (no fsync needed,
  // the copy reads the page cache).
  commit_all(/*sync=*/false);
  Result<int> fd = fs::open_anonymous_temp(fs::dir_of(path_));
  if (!fd.is_ok()) return fd.status();
  // The copy holds a read transaction only while it writes the temporary
  // file, not while a slow client downloads it.
  acquire_reader_slot();
  int rc = mdb_env_copyfd2(env_, *fd, MDB_CP_COMPACT);
  release_reader_slot();
  if (rc != 0) {
    ::close(*fd);
    return internal_error(std::string("snapshot: compacting copy: ") + mdb_strerror(rc));
  }
  return SnapshotReader::from_fd(*fd);
}

}  // namespace etcd::backend
