// The result of applying one proposed request: a status and, on success,
// the typed response of its kind (no downcasts from a protobuf Message).
#pragma once

#include <variant>

#include "base/status.h"
#include "etcdserverpb/rpc.pb.h"
#include "v2store/store.h"

namespace etcd::server {

// A v2 store request's outcome (etcd's v2 Response): the store's event, or
// its error (an expected outcome, not a failed apply).
struct V2ApplyResponse {
  std::variant<v2store::Event, v2store::Error> result;
};

using ApplyResponse =
    std::variant<std::monostate, etcdserverpb::PutResponse, etcdserverpb::DeleteRangeResponse,
                 etcdserverpb::TxnResponse, etcdserverpb::CompactionResponse,
                 etcdserverpb::LeaseGrantResponse, etcdserverpb::LeaseRevokeResponse,
                 etcdserverpb::LeaseCheckpointResponse, etcdserverpb::AlarmResponse,
                 // The Auth service (applied by AuthRequestApplier).
                 etcdserverpb::AuthEnableResponse, etcdserverpb::AuthDisableResponse,
                 etcdserverpb::AuthStatusResponse, etcdserverpb::AuthenticateResponse,
                 etcdserverpb::AuthUserAddResponse, etcdserverpb::AuthUserDeleteResponse,
                 etcdserverpb::AuthUserGetResponse, etcdserverpb::AuthUserChangePasswordResponse,
                 etcdserverpb::AuthUserGrantRoleResponse, etcdserverpb::AuthUserRevokeRoleResponse,
                 etcdserverpb::AuthUserListResponse, etcdserverpb::AuthRoleListResponse,
                 etcdserverpb::AuthRoleAddResponse, etcdserverpb::AuthRoleDeleteResponse,
                 etcdserverpb::AuthRoleGetResponse, etcdserverpb::AuthRoleGrantPermissionResponse,
                 etcdserverpb::AuthRoleRevokePermissionResponse,
                 // A v2 store request (V2Applier).
                 V2ApplyResponse>;

struct ApplyResult {
  Status status;
  ApplyResponse response;

  static ApplyResult error(Status s) { return ApplyResult{std::move(s), std::monostate{}}; }
  template <typename Resp>
  static ApplyResult of(Result<Resp> r) {
    if (!r.is_ok()) return error(r.status());
    return ApplyResult{Status::ok(), std::move(r).value()};
  }
};

// The response of type Resp, or the failure (of applying or of proposing).
template <typename Resp>
Result<Resp> response_of(Result<ApplyResult> r) {
  if (!r.is_ok()) return r.status();
  if (!r->status.is_ok()) return r->status;
  if (auto* resp = std::get_if<Resp>(&r->response)) return std::move(*resp);
  return Status(Code::kInternal, "etcdserver: unexpected response type");
}

}  // namespace etcd::server
