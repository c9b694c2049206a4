#include "mvcc/kvstore.h"

#include "base/assert.h"
#include "base/crc32c.h"
#include "base/encoding.h"
#include "metrics/metrics.h"

namespace etcd::mvcc {
namespace {

constexpr const char* kCompactedText = "mvcc: required revision has been compacted";
constexpr const char* kFutureRevText = "mvcc: required revision is a future revision";
// Revisions removed per backend batch during compaction (etcd: 1000).
constexpr size_t kCompactionBatch = 1000;

std::string main_rev_bytes(int64_t rev) { return backend::revision_key(Revision{rev, 0}); }

Result<int64_t> check_rev(int64_t want, int64_t cur, int64_t compacted) {
  if (want > cur) return err_future_rev();
  int64_t rev = want <= 0 ? cur : want;
  if (rev < compacted) return err_compacted();
  return rev;
}

}  // namespace

Status err_compacted() { return Status(Code::kOutOfRange, kCompactedText, Reason::kCompacted); }
Status err_future_rev() { return Status(Code::kOutOfRange, kFutureRevText, Reason::kFutureRev); }
bool is_compacted(const Status& s) { return s.reason() == Reason::kCompacted; }
bool is_future_rev(const Status& s) { return s.reason() == Reason::kFutureRev; }

KVStore::KVStore(backend::Backend& backend) : backend_(backend) {}

Status KVStore::reload(LeasedKeys* leased_keys) {
  index_.clear();
  current_rev_.store(1, std::memory_order_release);
  compact_main_rev_.store(-1, std::memory_order_release);
  return restore(leased_keys);
}

Status KVStore::restore(LeasedKeys* leased_keys) {
  backend::ReadTx rtx = backend_.read_tx();
  int64_t finished = -1;
  int64_t scheduled = -1;
  if (auto v = rtx.get(backend::Bucket::kMeta, backend::kMetaFinishedCompactRev)) {
    auto p = backend::parse_revision_key(*v);
    if (!p) return data_loss("malformed finishedCompactRev");
    finished = p->rev.main;
  }
  if (auto v = rtx.get(backend::Bucket::kMeta, backend::kMetaScheduledCompactRev)) {
    auto p = backend::parse_revision_key(*v);
    if (!p) return data_loss("malformed scheduledCompactRev");
    scheduled = p->rev.main;
  }
  int64_t cur = 1;
  Status status;
  // Revisions arrive in order, so each key's index is rebuilt by replaying
  // its changes.
  rtx.for_each(backend::Bucket::kKey, "", "", [&](std::string_view k, std::string_view v) {
    auto parsed = backend::parse_revision_key(k);
    mvccpb::KeyValue kv;
    if (!parsed || !kv.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
      status = data_loss("malformed revision in the key bucket");
      return false;
    }
    cur = std::max(cur, parsed->rev.main);
    if (leased_keys != nullptr) {
      if (!parsed->tombstone && kv.lease() != 0) {
        (*leased_keys)[kv.key()] = kv.lease();
      } else {
        leased_keys->erase(kv.key());
      }
    }
    if (parsed->tombstone) {
      index_.tombstone(kv.key(), parsed->rev);  // ignored for a key not seen yet
    } else {
      // A new key starts from its stored state (its earlier history may be
      // compacted away); a known one records one more put.
      index_.restore(kv.key(), Revision{kv.create_revision(), 0}, parsed->rev, kv.version());
    }
    return true;
  });
  RETURN_IF_ERROR(status);
  // An empty store after a compaction still remembers the compacted revision.
  cur = std::max(cur, std::max(finished, scheduled));
  current_rev_.store(cur, std::memory_order_release);
  compact_main_rev_.store(finished, std::memory_order_release);
  live_keys_.store(
      index_.count_revisions(KeyRange{std::string_view("", 0), std::string_view("\0", 1)}, cur),
      std::memory_order_relaxed);
  if (scheduled > finished) return compact(MainRev(scheduled));
  if (finished > 0) index_.compact(finished);
  return Status::ok();
}

std::vector<mvccpb::KeyValue> KVStore::fetch(const backend::ReadTx* rtx, backend::BatchTx* wtx,
                                             const std::vector<Revision>& revs) {
  std::vector<mvccpb::KeyValue> kvs;
  kvs.reserve(revs.size());
  for (const Revision& rev : revs) {
    std::string key = backend::revision_key(rev);
    auto v = rtx ? rtx->get(backend::Bucket::kKey, key) : wtx->get(backend::Bucket::kKey, key);
    ASSERT(v.has_value(), "revision in the index but not in the backend");
    mvccpb::KeyValue& kv = kvs.emplace_back();
    ASSERT(kv.ParseFromString(*v), "malformed KeyValue in the backend");
  }
  return kvs;
}

Result<RangeResult> KVStore::range(KeyRange r, const RangeOptions& ro) const {
  metrics::Metrics::global().range_total->Increment();
  // Fix the revision before opening the view: every write up to it is then
  // visible in the view.
  int64_t cur = rev().value();
  auto rev = check_rev(ro.rev.value(), cur, compact_rev().value());
  if (!rev.is_ok()) return rev.status();
  RangeResult out;
  out.rev = MainRev(cur);
  if (ro.count_only) {
    out.count = index_.count_revisions(r, *rev);
    return out;
  }
  auto revs = index_.revisions(r, *rev, ro.limit > 0 ? static_cast<size_t>(ro.limit) : 0);
  out.count = revs.total;
  backend::ReadTx rtx = backend_.read_tx();
  out.kvs = fetch(&rtx, nullptr, revs.revs);
  return out;
}

std::unique_ptr<KVStore::WriteTxn> KVStore::write() {
  return std::unique_ptr<WriteTxn>(new WriteTxn(*this));
}

KVStore::WriteTxn::WriteTxn(KVStore& store)
    : store_(store), tx_(store.backend_.batch_tx()), begin_rev_(store.rev().value()) {}

KVStore::WriteTxn::~WriteTxn() { end(); }

void KVStore::WriteTxn::end() {
  if (ended_) return;
  ended_ = true;
  // etcd's counting: each call once, and a transaction of several calls.
  auto& m = metrics::Metrics::global();
  if (ranges_ + puts_ + deletes_ > 1) m.txn_total->Increment();
  if (ranges_ > 0) m.range_total->Increment(ranges_);
  if (puts_ > 0) m.put_total->Increment(puts_);
  if (deletes_ > 0) m.delete_total->Increment(deletes_);
  if (!changes_.empty()) {
    for (const auto& fn : store_.observers_) fn(*this);
  }
  // The revision advances only after the index and backend hold the
  // changes, so readers that see the new revision find every change.
  if (!changes_.empty()) store_.current_rev_.store(begin_rev_ + 1, std::memory_order_release);
}

Result<RangeResult> KVStore::WriteTxn::range(KeyRange r, const RangeOptions& ro) {
  ++ranges_;
  return range_at(r, ro, changes_.empty() ? begin_rev_ : begin_rev_ + 1);
}

Result<RangeResult> KVStore::WriteTxn::range_at(KeyRange r, const RangeOptions& ro,
                                                int64_t cur_rev) {
  auto rev = check_rev(ro.rev.value(), cur_rev, store_.compact_rev().value());
  if (!rev.is_ok()) return rev.status();
  RangeResult out;
  out.rev = MainRev(cur_rev);
  if (ro.count_only) {
    out.count = store_.index_.count_revisions(r, *rev);
    return out;
  }
  auto revs = store_.index_.revisions(r, *rev, ro.limit > 0 ? static_cast<size_t>(ro.limit) : 0);
  out.count = revs.total;
  out.kvs = fetch(nullptr, &tx_, revs.revs);
  return out;
}

void KVStore::WriteTxn::put(std::string_view key, std::string_view value, int64_t lease) {
  int64_t rev = begin_rev_ + 1;
  int64_t created = rev;
  int64_t version = 1;
  ++puts_;
  if (auto at = store_.index_.get(key, rev)) {
    created = at->created.main;
    version = at->version + 1;
  } else {
    store_.live_keys_.fetch_add(1, std::memory_order_relaxed);
  }
  Revision idx{rev, static_cast<int64_t>(changes_.size())};
  mvccpb::KeyValue kv;
  kv.set_key(std::string(key));
  kv.set_value(std::string(value));
  kv.set_create_revision(created);
  kv.set_mod_revision(rev);
  kv.set_version(version);
  kv.set_lease(lease);
  Status st = tx_.put(backend::Bucket::kKey, backend::revision_key(idx), kv.SerializeAsString());
  ASSERT(st.is_ok(), "backend put failed: " + st.to_string());
  store_.index_.put(key, idx);
  changes_.push_back(std::move(kv));
  is_delete_.push_back(false);
}

int64_t KVStore::WriteTxn::delete_range(KeyRange r) {
  int64_t at = changes_.empty() ? begin_rev_ : begin_rev_ + 1;
  std::vector<std::string> keys = store_.index_.range_keys(r, at);
  ++deletes_;
  store_.live_keys_.fetch_sub(static_cast<int64_t>(keys.size()), std::memory_order_relaxed);
  for (const std::string& key : keys) {
    Revision idx{begin_rev_ + 1, static_cast<int64_t>(changes_.size())};
    mvccpb::KeyValue kv;
    kv.set_key(key);
    Status st = tx_.put(backend::Bucket::kKey, backend::revision_key(idx, /*tombstone=*/true),
                        kv.SerializeAsString());
    ASSERT(st.is_ok(), "backend put failed: " + st.to_string());
    bool live = store_.index_.tombstone(key, idx);
    ASSERT(live, "deleting a key that is not live");
    kv.set_mod_revision(idx.main);
    changes_.push_back(std::move(kv));
    is_delete_.push_back(true);
  }
  return static_cast<int64_t>(keys.size());
}

Status KVStore::compact(MainRev at) {
  const int64_t rev = at.value();
  if (at <= compact_rev()) return err_compacted();
  if (at > this->rev()) return err_future_rev();
  std::set<Revision> keep;
  {
    WriterLock compact_lock(&compact_mu_);
    backend::BatchTx tx = backend_.batch_tx();
    Status st =
        tx.put(backend::Bucket::kMeta, backend::kMetaScheduledCompactRev, main_rev_bytes(rev));
    ASSERT(st.is_ok(), "backend put failed");
    compact_main_rev_.store(rev, std::memory_order_release);
    keep = index_.compact(rev);
  }
  // Remove superseded revisions <= rev in batches, so other writers are
  // not held off for long.
  std::string end = backend::revision_key(Revision{rev + 1, 0});
  std::string start;
  while (true) {
    backend::BatchTx tx = backend_.batch_tx();
    auto batch = tx.range(backend::Bucket::kKey, start, end, kCompactionBatch);
    for (const auto& kv : batch) {
      auto p = backend::parse_revision_key(kv.key);
      ASSERT(p.has_value(), "malformed revision key");
      if (keep.count(p->rev) == 0) tx.del(backend::Bucket::kKey, kv.key);
    }
    if (batch.size() < kCompactionBatch) {
      Status st =
          tx.put(backend::Bucket::kMeta, backend::kMetaFinishedCompactRev, main_rev_bytes(rev));
      ASSERT(st.is_ok(), "backend put failed");
      break;
    }
    start = batch.back().key;
    start.push_back('\0');  // the next key after the last one seen
  }
  return Status::ok();
}

Result<KvHash> KVStore::hash_by_rev(MainRev at) const {
  const int64_t rev = at.value();
  ReaderLock lock(&compact_mu_);
  KvHash out;
  out.compact_rev = compact_rev();
  out.current_rev = this->rev();
  if (rev > 0 && at <= out.compact_rev) return err_compacted();
  if (rev > 0 && at > out.current_rev) return err_future_rev();
  out.hash_rev = rev == 0 ? out.current_rev : at;
  std::set<Revision> keep = index_.keep(out.hash_rev.value());
  backend::ReadTx rtx = backend_.read_tx();
  lock.unlock();
  const Revision lower{out.compact_rev.value() + 1, 0};
  std::string_view name = backend::bucket_name(backend::Bucket::kKey);
  uint32_t h = crc32c::extend(0, name.data(), name.size());
  // Revision keys sort by revision, so the walk stops after hash_rev.
  std::string end = backend::revision_key(Revision{out.hash_rev.value() + 1, 0});
  rtx.for_each(backend::Bucket::kKey, "", end, [&](std::string_view k, std::string_view v) {
    auto p = backend::parse_revision_key(k);
    ASSERT(p.has_value(), "malformed revision key");
    // Revisions scheduled for deletion by the compaction are skipped;
    // nothing is skipped when compaction would keep nothing (etcd's rule).
    if (p->rev < lower && !keep.empty() && keep.count(p->rev) == 0) return true;
    h = crc32c::extend(h, k.data(), k.size());
    h = crc32c::extend(h, v.data(), v.size());
    return true;
  });
  out.hash = h;
  return out;
}

}  // namespace etcd::mvcc
