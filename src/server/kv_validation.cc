#include "server/kv_validation.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "server/errors.h"

namespace etcd::server {

using etcdserverpb::RangeRequest;
using etcdserverpb::RequestOp;
using etcdserverpb::TxnRequest;

namespace {

// Duplicate-key check (etcd's checkIntervals): within one branch, a key may
// be put once and not be both put and deleted; then/else branches of a
// nested txn may put the same key since only one of them runs.
struct Interval {
  std::string begin;
  std::string end;  // empty: the point `begin`
  bool contains(const std::string& k) const {
    if (end.empty()) return k == begin;
    return begin <= k && k < end;
  }
};

Status check_intervals(const google::protobuf::RepeatedPtrField<RequestOp>& reqs,
                       std::set<std::string>* puts_out, std::vector<Interval>* dels_out) {
  std::vector<Interval> dels;
  for (const auto& req : reqs) {
    if (!req.has_request_delete_range()) continue;
    const auto& d = req.request_delete_range();
    dels.push_back(Interval{d.key(), d.range_end()});
  }
  auto deleted = [&dels](const std::string& k) {
    return std::any_of(dels.begin(), dels.end(),
                       [&k](const Interval& iv) { return iv.contains(k); });
  };
  std::set<std::string> puts;
  for (const auto& req : reqs) {
    if (!req.has_request_txn()) continue;
    std::set<std::string> puts_then, puts_else;
    std::vector<Interval> dels_then, dels_else;
    RETURN_IF_ERROR(check_intervals(req.request_txn().success(), &puts_then, &dels_then));
    RETURN_IF_ERROR(check_intervals(req.request_txn().failure(), &puts_else, &dels_else));
    for (const auto& k : puts_then) {
      if (puts.count(k) || deleted(k)) return errors::duplicate_key();
      puts.insert(k);
    }
    for (const auto& k : puts_else) {
      if (puts.count(k) && !puts_then.count(k)) return errors::duplicate_key();
      if (deleted(k)) return errors::duplicate_key();
      puts.insert(k);
    }
    dels.insert(dels.end(), dels_then.begin(), dels_then.end());
    dels.insert(dels.end(), dels_else.begin(), dels_else.end());
  }
  for (const auto& req : reqs) {
    if (!req.has_request_put()) continue;
    const std::string& k = req.request_put().key();
    if (puts.count(k) || deleted(k)) return errors::duplicate_key();
    puts.insert(k);
  }
  *puts_out = std::move(puts);
  *dels_out = std::move(dels);
  return Status::ok();
}

Status check_request_op(const RequestOp& op, int64_t max_txn_ops) {
  if (op.has_request_range()) return check_range_request(op.request_range());
  if (op.has_request_put()) return check_put_request(op.request_put());
  if (op.has_request_delete_range()) return check_delete_request(op.request_delete_range());
  if (op.has_request_txn()) return check_txn_request(op.request_txn(), max_txn_ops);
  return errors::key_not_found();  // an empty op
}

}  // namespace

bool is_txn_read_only(const TxnRequest& t) {
  for (const auto* ops : {&t.success(), &t.failure()}) {
    for (const auto& op : *ops) {
      if (op.has_request_put() || op.has_request_delete_range()) return false;
      if (op.has_request_txn() && !is_txn_read_only(op.request_txn())) return false;
    }
  }
  return true;
}

Status check_range_request(const RangeRequest& r) {
  if (r.key().empty()) return errors::empty_key();
  if (!RangeRequest::SortOrder_IsValid(r.sort_order()) ||
      !RangeRequest::SortTarget_IsValid(r.sort_target())) {
    return errors::invalid_sort_option();
  }
  return Status::ok();
}

Status check_put_request(const etcdserverpb::PutRequest& r) {
  if (r.key().empty()) return errors::empty_key();
  if (r.ignore_value() && !r.value().empty()) return errors::value_provided();
  if (r.ignore_lease() && r.lease() != 0) return errors::lease_provided();
  return Status::ok();
}

Status check_delete_request(const etcdserverpb::DeleteRangeRequest& r) {
  if (r.key().empty()) return errors::empty_key();
  return Status::ok();
}

Status check_txn_request(const TxnRequest& r, int64_t max_txn_ops) {
  int64_t opc = std::max({r.compare_size(), r.success_size(), r.failure_size()});
  if (opc > max_txn_ops) return errors::too_many_ops();
  for (const auto& c : r.compare()) {
    if (c.key().empty()) return errors::empty_key();
  }
  for (const auto* ops : {&r.success(), &r.failure()}) {
    for (const auto& op : *ops) RETURN_IF_ERROR(check_request_op(op, max_txn_ops - opc));
  }
  std::set<std::string> puts;
  std::vector<Interval> dels;
  RETURN_IF_ERROR(check_intervals(r.success(), &puts, &dels));
  RETURN_IF_ERROR(check_intervals(r.failure(), &puts, &dels));
  return Status::ok();
}

}  // namespace etcd::server
