#include "rpc/lock_service.h"

#include "rpc/grpc_server.h"
#include "v3lockpb/v3lock.grpc.pb.h"

namespace etcd::rpc {
namespace {

namespace cc = client::concurrency;

grpc::Status begin_error(const Status& s) {
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), s.message());
}

class LockService final : public v3lockpb::Lock::Service {
 public:
  LockService(server::EtcdServer& server, std::shared_ptr<SelfClient> self)
      : server_(server), self_(std::move(self)) {}

  grpc::Status Lock(grpc::ServerContext* ctx, const v3lockpb::LockRequest* req,
                    v3lockpb::LockResponse* resp) override {
    if (server_.is_learner()) return learner_unsupported();
    auto call = self_->begin(*ctx);
    if (!call.is_ok()) return begin_error(call.status());
    auto& c = **call;
    int64_t lease = req->lease();
    if (lease == 0) {
      grpc::Status s = cc::grant_lease(c.client(), c.context(), cc::Session::kDefaultTtl, &lease);
      if (!s.ok()) return c.result(s);
    }
    auto session = cc::Session::adopt(c.client(), lease);
    cc::Mutex mutex(*session, req->name());
    grpc::Status s = mutex.lock(c.context());
    if (!s.ok()) return c.result(s);
    *resp->mutable_header() = mutex.header();
    resp->set_key(mutex.key());
    return grpc::Status::OK;
  }

  grpc::Status Unlock(grpc::ServerContext* ctx, const v3lockpb::UnlockRequest* req,
                      v3lockpb::UnlockResponse* resp) override {
    if (server_.is_learner()) return learner_unsupported();
    auto call = self_->begin(*ctx);
    if (!call.is_ok()) return begin_error(call.status());
    auto& c = **call;
    etcdserverpb::DeleteRangeRequest del;
    del.set_key(req->key());
    etcdserverpb::DeleteRangeResponse out;
    grpc::Status s = cc::call_cancellable(
        c.client(), c.context(),
        [&](client::Connection& conn, grpc::ClientContext& cctx) {
          return conn.kv->DeleteRange(&cctx, del, &out);
        },
        client::Idempotent::kNo);
    if (!s.ok()) return c.result(s);
    *resp->mutable_header() = out.header();
    return grpc::Status::OK;
  }

 private:
  server::EtcdServer& server_;
  std::shared_ptr<SelfClient> self_;
};

}  // namespace

std::unique_ptr<grpc::Service> make_lock_service(server::EtcdServer& server,
                                                 std::shared_ptr<SelfClient> self) {
  return std::make_unique<LockService>(server, std::move(self));
}

}  // namespace etcd::rpc
