#include "server/auth_checks.h"

#include <utility>

#include "auth/errors.h"

namespace etcd::server {

Status unconverted_auth_error(const Status& st) {
  static const std::pair<Status, const char*> kForms[] = {
      {auth::errors::permission_denied(), "auth: permission denied"},
      {auth::errors::user_empty(), "auth: user name is empty"},
      {auth::errors::user_not_found(), "auth: user not found"},
      {auth::errors::invalid_auth_token(), "auth: invalid auth token"},
      {auth::errors::auth_old_revision(), "auth: revision in header is old"},
  };
  for (const auto& [converted, raw] : kForms) {
    if (st == converted) return Status(Code::kUnknown, raw);
  }
  return st;
}

Status AuthChecks::authenticated(const auth::AuthInfo& who) const {
  if (!store_.enabled()) return Status::ok();
  if (who.username.empty()) return auth::errors::user_empty();
  return Status::ok();
}

Status AuthChecks::range(const auth::AuthInfo& who, const etcdserverpb::RangeRequest& r) const {
  return store_.is_range_permitted(who, r.key(), r.range_end());
}

Status AuthChecks::put(const auth::AuthInfo& who, const etcdserverpb::PutRequest& r) const {
  RETURN_IF_ERROR(store_.is_put_permitted(who, r.key()));
  if (r.lease() != 0) RETURN_IF_ERROR(lease_keys_writable(who, LeaseId(r.lease())));
  if (r.prev_kv()) RETURN_IF_ERROR(store_.is_range_permitted(who, r.key(), ""));
  return Status::ok();
}

Status AuthChecks::delete_range(const auth::AuthInfo& who,
                                const etcdserverpb::DeleteRangeRequest& r) const {
  RETURN_IF_ERROR(store_.is_delete_range_permitted(who, r.key(), r.range_end()));
  if (r.prev_kv()) RETURN_IF_ERROR(store_.is_range_permitted(who, r.key(), r.range_end()));
  return Status::ok();
}

Status AuthChecks::txn(const auth::AuthInfo& who, const etcdserverpb::TxnRequest& r) const {
  for (const auto& c : r.compare()) {
    RETURN_IF_ERROR(store_.is_range_permitted(who, c.key(), c.range_end()));
  }
  RETURN_IF_ERROR(txn_ops(who, r.success()));
  return txn_ops(who, r.failure());
}

Status AuthChecks::txn_ops(
    const auth::AuthInfo& who,
    const google::protobuf::RepeatedPtrField<etcdserverpb::RequestOp>& ops) const {
  for (const auto& op : ops) {
    switch (op.request_case()) {
      case etcdserverpb::RequestOp::kRequestRange:
        RETURN_IF_ERROR(range(who, op.request_range()));
        break;
      case etcdserverpb::RequestOp::kRequestPut:
        RETURN_IF_ERROR(put(who, op.request_put()));
        break;
      case etcdserverpb::RequestOp::kRequestDeleteRange:
        RETURN_IF_ERROR(delete_range(who, op.request_delete_range()));
        break;
      case etcdserverpb::RequestOp::kRequestTxn:
        RETURN_IF_ERROR(txn(who, op.request_txn()));
        break;
      default:
        break;
    }
  }
  return Status::ok();
}

Status AuthChecks::lease_keys_writable(const auth::AuthInfo& who, LeaseId id) const {
  // Root (or auth disabled) first: no need to look at the keys.
  if (store_.is_admin_permitted(who).is_ok()) return Status::ok();
  auto l = lessor_.lookup(id, /*with_keys=*/true);
  if (!l) return Status::ok();  // the store answers lease_not_found
  for (const auto& key : l->keys) RETURN_IF_ERROR(store_.is_put_permitted(who, key));
  return Status::ok();
}

Status AuthChecks::lease_keys_readable(const auth::AuthInfo& who, LeaseId id) const {
  if (!store_.enabled()) return Status::ok();
  if (who.username.empty()) return auth::errors::user_empty();
  auto l = lessor_.lookup(id, /*with_keys=*/true);
  if (!l) return Status::ok();
  for (const auto& key : l->keys) RETURN_IF_ERROR(store_.is_range_permitted(who, key, ""));
  return Status::ok();
}

Status AuthChecks::watch(const auth::AuthInfo& who, std::string_view key,
                         std::string_view end) const {
  // An empty key is "\0", the smallest key (as the watch itself reads it).
  static constexpr char kZero[1] = {'\0'};
  if (key.empty()) key = std::string_view(kZero, 1);
  return store_.is_range_permitted(who, key, end);
}

}  // namespace etcd::server
