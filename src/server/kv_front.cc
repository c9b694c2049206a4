#include "server/kv_front.h"

namespace etcd::server {

Result<etcdserverpb::RangeResponse> KvFront::range(const Caller& who,
                                                   const etcdserverpb::RangeRequest& r) {
  RETURN_IF_ERROR(check_range_request(r));
  if (!r.serializable()) RETURN_IF_ERROR(core_.linearizable_read_barrier());
  auto resp = core_.serve_read<etcdserverpb::RangeResponse>(
      who, [&](const auth::AuthInfo& ai) { return core_.auth.range(ai, r); },
      [&] { return kv_.range(r); });
  if (resp.is_ok()) core_.fill_header(resp->mutable_header(), resp->header().revision());
  return resp;
}

Result<etcdserverpb::PutResponse> KvFront::put(const Caller& who,
                                               const etcdserverpb::PutRequest& r) {
  RETURN_IF_ERROR(check_put_request(r));
  RETURN_IF_ERROR(core_.check_quota(put_cost(r)));
  serverpb::InternalRaftRequest req;
  *req.mutable_put() = r;
  auto resp = core_.propose<etcdserverpb::PutResponse>(who, std::move(req));
  if (resp.is_ok()) core_.fill_header(resp->mutable_header(), resp->header().revision());
  return resp;
}

Result<etcdserverpb::DeleteRangeResponse> KvFront::delete_range(
    const Caller& who, const etcdserverpb::DeleteRangeRequest& r) {
  RETURN_IF_ERROR(check_delete_request(r));
  serverpb::InternalRaftRequest req;
  *req.mutable_delete_range() = r;
  auto resp = core_.propose<etcdserverpb::DeleteRangeResponse>(who, std::move(req));
  if (resp.is_ok()) core_.fill_header(resp->mutable_header(), resp->header().revision());
  return resp;
}

Result<etcdserverpb::TxnResponse> KvFront::txn(const Caller& who,
                                               const etcdserverpb::TxnRequest& r) {
  RETURN_IF_ERROR(check_txn_request(r, static_cast<int64_t>(core_.cfg.max_txn_ops)));
  Result<etcdserverpb::TxnResponse> resp = Status(Code::kInternal, "unset");
  if (is_txn_read_only(r)) {
    // Served locally like a range; linearizable unless every range in it
    // is serializable.
    bool serializable = true;
    for (const auto* ops : {&r.success(), &r.failure()}) {
      for (const auto& op : *ops) {
        if (op.has_request_range() && !op.request_range().serializable()) serializable = false;
      }
    }
    if (!serializable) RETURN_IF_ERROR(core_.linearizable_read_barrier());
    resp = core_.serve_read<etcdserverpb::TxnResponse>(
        who, [&](const auth::AuthInfo& ai) { return core_.auth.txn(ai, r); },
        [&] { return kv_.txn_read_only(r); });
  } else {
    RETURN_IF_ERROR(core_.check_quota(txn_cost(r)));
    serverpb::InternalRaftRequest req;
    *req.mutable_txn() = r;
    resp = core_.propose<etcdserverpb::TxnResponse>(who, std::move(req));
  }
  if (resp.is_ok()) core_.fill_header(resp->mutable_header(), resp->header().revision());
  return resp;
}

Result<etcdserverpb::CompactionResponse> KvFront::compact(
    const Caller& who, const etcdserverpb::CompactionRequest& r) {
  if (!who.member) RETURN_IF_ERROR(core_.auth.authenticated(who.info));
  serverpb::InternalRaftRequest req;
  *req.mutable_compaction() = r;
  auto resp = core_.propose<etcdserverpb::CompactionResponse>(who, std::move(req));
  if (resp.is_ok()) {
    if (r.physical()) backend_.force_commit();  // compaction is done when apply returns
    core_.fill_header(resp->mutable_header(), resp->header().revision());
  }
  return resp;
}

}  // namespace etcd::server
