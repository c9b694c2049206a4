#include "rpc/auth_service.h"

#include "etcdserverpb/rpc.grpc.pb.h"
#include "rpc/auth_context.h"
#include "rpc/grpc_server.h"

namespace etcd::rpc {
namespace {

using namespace etcdserverpb;

class AuthService final : public etcdserverpb::Auth::Service {
 public:
  explicit AuthService(server::EtcdServer& s) : s_(s) {}

  grpc::Status AuthEnable(grpc::ServerContext* ctx, const AuthEnableRequest*,
                          AuthEnableResponse* resp) override {
    return call(ctx, resp, [&](const auto& who) { return front().auth_enable(who); });
  }
  grpc::Status AuthDisable(grpc::ServerContext* ctx, const AuthDisableRequest*,
                           AuthDisableResponse* resp) override {
    return call(ctx, resp, [&](const auto& who) { return front().auth_disable(who); });
  }
  grpc::Status AuthStatus(grpc::ServerContext* ctx, const AuthStatusRequest*,
                          AuthStatusResponse* resp) override {
    return call(ctx, resp, [&](const auto& who) { return front().auth_status(who); });
  }
  grpc::Status Authenticate(grpc::ServerContext* ctx, const AuthenticateRequest* req,
                            AuthenticateResponse* resp) override {
    return call(ctx, resp, [&](const auto& who) { return front().authenticate(*req, who); });
  }
  grpc::Status UserAdd(grpc::ServerContext* ctx, const AuthUserAddRequest* req,
                       AuthUserAddResponse* resp) override {
    return call(ctx, resp, [&](const auto& who) { return front().user_add(*req, who); });
  }
  grpc::Status UserGet(grpc::ServerContext* ctx, const AuthUserGetRequest* req,
                       AuthUserGetResponse* resp) override {
    return call(ctx, resp, [&](const auto& who) { return front().user_get(*req, who); });
  }
  grpc::Status UserList(grpc::ServerContext* ctx, const AuthUserListRequest*,
                        AuthUserListResponse* resp) override {
    return call(ctx, resp, [&](const auto& who) { return front().user_list(who); });
  }
  grpc::Status UserDelete(grpc::ServerContext* ctx, const AuthUserDeleteRequest* req,
                          AuthUserDeleteResponse* resp) override {
    return call(ctx, resp, [&](const auto& who) { return front().user_delete(*req, who); });
  }
  grpc::Status UserChangePassword(grpc::ServerContext* ctx,
                                  const AuthUserChangePasswordRequest* req,
                                  AuthUserChangePasswordResponse* resp) override {
    return call(ctx, resp,
                [&](const auto& who) { return front().user_change_password(*req, who); });
  }
  grpc::Status UserGrantRole(grpc::ServerContext* ctx, const AuthUserGrantRoleRequest* req,
                             AuthUserGrantRoleResponse* resp) override {
    return call(ctx, resp, [&](const auto& who) { return front().user_grant_role(*req, who); });
  }
  grpc::Status UserRevokeRole(grpc::ServerContext* ctx, const AuthUserRevokeRoleRequest* req,
                              AuthUserRevokeRoleResponse* resp) override {
    return call(ctx, resp, [&](const auto& who) { return front().user_revoke_role(*req, who); });
  }
  grpc::Status RoleAdd(grpc::ServerContext* ctx, const AuthRoleAddRequest* req,
                       AuthRoleAddResponse* resp) override {
    return call(ctx, resp, [&](const auto& who) { return front().role_add(*req, who); });
  }
  grpc::Status RoleGet(grpc::ServerContext* ctx, const AuthRoleGetRequest* req,
                       AuthRoleGetResponse* resp) override {
    return call(ctx, resp, [&](const auto& who) { return front().role_get(*req, who); });
  }
  grpc::Status RoleList(grpc::ServerContext* ctx, const AuthRoleListRequest*,
                        AuthRoleListResponse* resp) override {
    return call(ctx, resp, [&](const auto& who) { return front().role_list(who); });
  }
  grpc::Status RoleDelete(grpc::ServerContext* ctx, const AuthRoleDeleteRequest* req,
                          AuthRoleDeleteResponse* resp) override {
    return call(ctx, resp, [&](const auto& who) { return front().role_delete(*req, who); });
  }
  grpc::Status RoleGrantPermission(grpc::ServerContext* ctx,
                                   const AuthRoleGrantPermissionRequest* req,
                                   AuthRoleGrantPermissionResponse* resp) override {
    return call(ctx, resp,
                [&](const auto& who) { return front().role_grant_permission(*req, who); });
  }
  grpc::Status RoleRevokePermission(grpc::ServerContext* ctx,
                                    const AuthRoleRevokePermissionRequest* req,
                                    AuthRoleRevokePermissionResponse* resp) override {
    return call(ctx, resp,
                [&](const auto& who) { return front().role_revoke_permission(*req, who); });
  }

 private:
  server::AuthFront& front() { return s_.auth(); }

  template <typename Resp, typename F>
  grpc::Status call(grpc::ServerContext* ctx, Resp* out, F&& f) {
    if (s_.is_learner()) return learner_unsupported();
    auto who = caller(*ctx, s_.auth_store());
    if (!who.is_ok()) return to_grpc(who.status());
    auto r = f(*who);
    if (!r.is_ok()) return to_grpc(r.status());
    *out = std::move(r).value();
    return grpc::Status::OK;
  }

  server::EtcdServer& s_;
};

}  // namespace

std::unique_ptr<grpc::Service> make_auth_service(server::EtcdServer& server) {
  return std::make_unique<AuthService>(server);
}

}  // namespace etcd::rpc
