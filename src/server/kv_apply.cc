#include "server/kv_apply.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "base/assert.h"
#include "server/errors.h"

namespace etcd::server {
namespace {

using etcdserverpb::Compare;
using etcdserverpb::RangeRequest;
using etcdserverpb::RequestOp;
using etcdserverpb::TxnRequest;

Status map_mvcc_error(const Status& s) {
  if (mvcc::is_compacted(s)) return errors::compacted();
  if (mvcc::is_future_rev(s)) return errors::future_rev();
  return s;
}

mvcc::KeyRange key_range(const std::string& key, const std::string& end) {
  return mvcc::KeyRange{key, end};
}

// The core of a range on any reader (the store, or a write transaction that
// must see its own writes).
template <typename Reader>
Result<etcdserverpb::RangeResponse> do_range(Reader& reader, const RangeRequest& r) {
  int64_t limit = r.limit();
  bool post_process = r.sort_order() != RangeRequest::NONE || r.min_mod_revision() != 0 ||
                      r.max_mod_revision() != 0 || r.min_create_revision() != 0 ||
                      r.max_create_revision() != 0;
  // Filters and sorting need everything; otherwise fetch one extra key to
  // learn whether there are more.
  if (post_process) {
    limit = 0;
  } else if (limit > 0) {
    limit += 1;
  }
  mvcc::RangeOptions ro;
  ro.limit = limit;
  ro.rev = MainRev(r.revision());
  ro.count_only = r.count_only();
  auto rr = reader.range(key_range(r.key(), r.range_end()), ro);
  if (!rr.is_ok()) return map_mvcc_error(rr.status());
  std::vector<mvccpb::KeyValue>& kvs = rr->kvs;
  auto prune = [&kvs](auto drop) {
    kvs.erase(std::remove_if(kvs.begin(), kvs.end(), drop), kvs.end());
  };
  if (r.max_mod_revision() != 0) {
    prune([&](const mvccpb::KeyValue& kv) { return kv.mod_revision() > r.max_mod_revision(); });
  }
  if (r.min_mod_revision() != 0) {
    prune([&](const mvccpb::KeyValue& kv) { return kv.mod_revision() < r.min_mod_revision(); });
  }
  if (r.max_create_revision() != 0) {
    prune(
        [&](const mvccpb::KeyValue& kv) { return kv.create_revision() > r.max_create_revision(); });
  }
  if (r.min_create_revision() != 0) {
    prune(
        [&](const mvccpb::KeyValue& kv) { return kv.create_revision() < r.min_create_revision(); });
  }
  auto order = r.sort_order();
  // Results come in key order; any other target sorts ascending by default.
  if (r.sort_target() != RangeRequest::KEY && order == RangeRequest::NONE) {
    order = RangeRequest::ASCEND;
  }
  if (order != RangeRequest::NONE) {
    auto less = [&r](const mvccpb::KeyValue& a, const mvccpb::KeyValue& b) {
      switch (r.sort_target()) {
        case RangeRequest::VERSION:
          return a.version() < b.version();
        case RangeRequest::CREATE:
          return a.create_revision() < b.create_revision();
        case RangeRequest::MOD:
          return a.mod_revision() < b.mod_revision();
        case RangeRequest::VALUE:
          return a.value() < b.value();
        default:
          return a.key() < b.key();
      }
    };
    if (order == RangeRequest::ASCEND) {
      std::stable_sort(kvs.begin(), kvs.end(), less);
    } else {
      std::stable_sort(kvs.begin(), kvs.end(),
                       [&less](const auto& a, const auto& b) { return less(b, a); });
    }
  }
  etcdserverpb::RangeResponse resp;
  if (r.limit() > 0 && static_cast<int64_t>(kvs.size()) > r.limit()) {
    kvs.resize(static_cast<size_t>(r.limit()));
    resp.set_more(true);
  }
  resp.mutable_header()->set_revision(rr->rev.value());
  resp.set_count(rr->count);
  for (auto& kv : kvs) {
    if (r.keys_only()) kv.clear_value();
    *resp.add_kvs() = std::move(kv);
  }
  return resp;
}

// ---- compares ----

int compare_int(int64_t a, int64_t b) { return a < b ? -1 : (a > b ? 1 : 0); }

bool compare_kv(const Compare& c, const mvccpb::KeyValue& kv) {
  int result = 0;
  switch (c.target()) {
    case Compare::VALUE: {
      int r = kv.value().compare(c.value());
      result = r < 0 ? -1 : (r > 0 ? 1 : 0);
      break;
    }
    case Compare::CREATE:
      result = compare_int(kv.create_revision(), c.create_revision());
      break;
    case Compare::MOD:
      result = compare_int(kv.mod_revision(), c.mod_revision());
      break;
    case Compare::VERSION:
      result = compare_int(kv.version(), c.version());
      break;
    case Compare::LEASE:
      result = compare_int(kv.lease(), c.lease());
      break;
    default:
      break;
  }
  switch (c.result()) {
    case Compare::EQUAL:
      return result == 0;
    case Compare::NOT_EQUAL:
      return result != 0;
    case Compare::GREATER:
      return result > 0;
    case Compare::LESS:
      return result < 0;
    default:
      return true;
  }
}

template <typename Reader>
bool apply_compare(Reader& reader, const Compare& c) {
  auto rr = reader.range(key_range(c.key(), c.range_end()), mvcc::RangeOptions{});
  if (!rr.is_ok()) return false;
  if (rr->kvs.empty()) {
    // A value never matches a missing key (an empty value cannot be told
    // from a missing one otherwise); other targets compare against zeros.
    if (c.target() == Compare::VALUE) return false;
    return compare_kv(c, mvccpb::KeyValue());
  }
  for (const auto& kv : rr->kvs) {
    if (!compare_kv(c, kv)) return false;
  }
  return true;
}

// The branch taken at every level, evaluated on the state before the txn.
template <typename Reader>
void compare_to_path(Reader& reader, const TxnRequest& t, std::vector<bool>* path) {
  bool ok = true;
  for (const auto& c : t.compare()) {
    if (!apply_compare(reader, c)) {
      ok = false;
      break;
    }
  }
  path->push_back(ok);
  const auto& ops = ok ? t.success() : t.failure();
  for (const auto& op : ops) {
    if (op.has_request_txn()) compare_to_path(reader, op.request_txn(), path);
  }
}

// Reads the store at one fixed revision (a read-only txn's view).
struct PinnedReader {
  const mvcc::KVStore& store;
  MainRev rev;
  Result<mvcc::RangeResult> range(mvcc::KeyRange r, mvcc::RangeOptions ro) const {
    if (ro.rev.value() <= 0) ro.rev = rev;
    auto res = store.range(r, ro);
    if (res.is_ok()) res->rev = rev;
    return res;
  }
};

// Applies the chosen branches of a read-only txn.
size_t read_txn(const PinnedReader& reader, const TxnRequest& t, const std::vector<bool>& path,
                size_t pos, etcdserverpb::TxnResponse* resp, Status* err) {
  bool ok = path[pos];
  resp->set_succeeded(ok);
  resp->mutable_header()->set_revision(reader.rev.value());
  const auto& ops = ok ? t.success() : t.failure();
  size_t consumed = 0;
  for (const auto& op : ops) {
    auto* out = resp->add_responses();
    if (op.has_request_range()) {
      auto r = do_range(reader, op.request_range());
      if (!r.is_ok()) {
        *err = r.status();
        return consumed;
      }
      *out->mutable_response_range() = std::move(r).value();
    } else if (op.has_request_txn()) {
      consumed += read_txn(reader, op.request_txn(), path, pos + consumed + 1,
                           out->mutable_response_txn(), err) +
                  1;
    }
  }
  return consumed;
}

// Checks the ops of the chosen branches before anything is written, so a
// failing txn changes nothing.
template <typename Reader>
Status check_requests(Reader& reader, const TxnRequest& t, const std::vector<bool>& path,
                      size_t* pos, const LeaseExists& lease_exists, int64_t cur_rev,
                      int64_t first_rev) {
  bool ok = path[(*pos)++];
  const auto& ops = ok ? t.success() : t.failure();
  for (const auto& op : ops) {
    if (op.has_request_range()) {
      int64_t rev = op.request_range().revision();
      if (rev > cur_rev) return errors::future_rev();
      if (rev != 0 && rev < first_rev) return errors::compacted();
    } else if (op.has_request_put()) {
      const auto& p = op.request_put();
      if (p.lease() != 0 && !lease_exists(p.lease())) return errors::lease_not_found();
      if (p.ignore_value() || p.ignore_lease()) {
        auto rr = reader.range(key_range(p.key(), ""), mvcc::RangeOptions{});
        if (!rr.is_ok()) return map_mvcc_error(rr.status());
        if (rr->kvs.empty()) return errors::key_not_found();
      }
    } else if (op.has_request_txn()) {
      RETURN_IF_ERROR(
          check_requests(reader, op.request_txn(), path, pos, lease_exists, cur_rev, first_rev));
    }
  }
  return Status::ok();
}

Result<etcdserverpb::PutResponse> put_in(mvcc::KVStore::WriteTxn& txn,
                                         const etcdserverpb::PutRequest& p) {
  etcdserverpb::PutResponse resp;
  std::string value = p.value();
  int64_t lease = p.lease();
  if (p.ignore_value() || p.ignore_lease() || p.prev_kv()) {
    auto rr = txn.range(key_range(p.key(), ""), mvcc::RangeOptions{});
    if (!rr.is_ok()) return map_mvcc_error(rr.status());
    if ((p.ignore_value() || p.ignore_lease()) && rr->kvs.empty()) return errors::key_not_found();
    if (!rr->kvs.empty()) {
      if (p.ignore_value()) value = rr->kvs[0].value();
      if (p.ignore_lease()) lease = rr->kvs[0].lease();
      if (p.prev_kv()) *resp.mutable_prev_kv() = rr->kvs[0];
    }
  }
  txn.put(p.key(), value, lease);
  resp.mutable_header()->set_revision(txn.write_rev().value());
  return resp;
}

etcdserverpb::DeleteRangeResponse delete_in(mvcc::KVStore::WriteTxn& txn,
                                            const etcdserverpb::DeleteRangeRequest& d) {
  etcdserverpb::DeleteRangeResponse resp;
  if (d.prev_kv()) {
    auto rr = txn.range(key_range(d.key(), d.range_end()), mvcc::RangeOptions{});
    if (rr.is_ok()) {
      for (auto& kv : rr->kvs) *resp.add_prev_kvs() = std::move(kv);
    }
  }
  int64_t n = txn.delete_range(key_range(d.key(), d.range_end()));
  resp.set_deleted(n);
  resp.mutable_header()->set_revision(txn.changes().empty() ? txn.write_rev().value() - 1
                                                            : txn.write_rev().value());
  return resp;
}

// Applies the chosen branches; returns how many nested txns it consumed.
size_t apply_txn(mvcc::KVStore::WriteTxn& txn, const TxnRequest& t, const std::vector<bool>& path,
                 size_t pos, etcdserverpb::TxnResponse* resp) {
  bool ok = path[pos];
  resp->set_succeeded(ok);
  const auto& ops = ok ? t.success() : t.failure();
  size_t consumed = 0;
  for (const auto& op : ops) {
    auto* out = resp->add_responses();
    if (op.has_request_range()) {
      auto r = do_range(txn, op.request_range());
      ASSERT(r.is_ok(), "unexpected error during txn: " + r.status().to_string());
      *out->mutable_response_range() = std::move(r).value();
    } else if (op.has_request_put()) {
      auto r = put_in(txn, op.request_put());
      ASSERT(r.is_ok(), "unexpected error during txn: " + r.status().to_string());
      *out->mutable_response_put() = std::move(r).value();
    } else if (op.has_request_delete_range()) {
      *out->mutable_response_delete_range() = delete_in(txn, op.request_delete_range());
    } else if (op.has_request_txn()) {
      size_t n =
          apply_txn(txn, op.request_txn(), path, pos + consumed + 1, out->mutable_response_txn());
      consumed += n + 1;
    }
  }
  return consumed;
}

}  // namespace

Result<etcdserverpb::RangeResponse> KvApplier::range(const RangeRequest& r) const {
  return do_range(store_, r);
}

Result<etcdserverpb::TxnResponse> KvApplier::txn_read_only(const TxnRequest& r) const {
  PinnedReader reader{store_, store_.rev()};
  std::vector<bool> path;
  compare_to_path(reader, r, &path);
  etcdserverpb::TxnResponse resp;
  Status err;
  read_txn(reader, r, path, 0, &resp, &err);
  if (!err.is_ok()) return err;
  return resp;
}

Result<etcdserverpb::PutResponse> KvApplier::put(const etcdserverpb::PutRequest& r,
                                                 backend::ConsistentIndex ci) {
  auto txn = store_.write();
  txn->set_consistent_index(ci);  // recorded even when the request fails
  if (r.lease() != 0 && !lease_exists_(r.lease())) return errors::lease_not_found();
  auto resp = put_in(*txn, r);
  return resp;
}

Result<etcdserverpb::DeleteRangeResponse> KvApplier::delete_range(
    const etcdserverpb::DeleteRangeRequest& r, backend::ConsistentIndex ci) {
  auto txn = store_.write();
  txn->set_consistent_index(ci);
  auto resp = delete_in(*txn, r);
  return resp;
}

Result<etcdserverpb::TxnResponse> KvApplier::txn(const TxnRequest& r, backend::ConsistentIndex ci) {
  // Compares and checks see the state before the txn; since writes are
  // serialised on the apply thread, that is the write txn's starting state.
  auto txn = store_.write();
  txn->set_consistent_index(ci);
  std::vector<bool> path;
  compare_to_path(*txn, r, &path);
  size_t pos = 0;
  Status checked = check_requests(*txn, r, path, &pos, lease_exists_, store_.rev().value(),
                                  store_.compact_rev().value());
  if (!checked.is_ok()) return checked;
  etcdserverpb::TxnResponse resp;
  apply_txn(*txn, r, path, 0, &resp);
  resp.mutable_header()->set_revision(txn->changes().empty() ? txn->write_rev().value() - 1
                                                             : txn->write_rev().value());
  return resp;
}

Result<etcdserverpb::CompactionResponse> KvApplier::compact(
    const etcdserverpb::CompactionRequest& r, backend::ConsistentIndex ci) {
  store_.write()->set_consistent_index(ci);  // an empty write: no new revision
  Status s = store_.compact(MainRev(r.revision()));
  if (!s.is_ok()) return map_mvcc_error(s);
  etcdserverpb::CompactionResponse resp;
  resp.mutable_header()->set_revision(store_.rev().value());
  return resp;
}

}  // namespace etcd::server
