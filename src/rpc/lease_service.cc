#include "rpc/lease_service.h"

#include "etcdserverpb/rpc.grpc.pb.h"
#include "rpc/grpc_server.h"
#include "server/errors.h"

namespace etcd::rpc {
namespace {

class LeaseService final : public etcdserverpb::Lease::Service {
 public:
  explicit LeaseService(server::EtcdServer& s) : s_(s) {}

  grpc::Status LeaseGrant(grpc::ServerContext* ctx, const etcdserverpb::LeaseGrantRequest* req,
                          etcdserverpb::LeaseGrantResponse* resp) override {
    if (s_.is_learner()) return learner_unsupported();
    auto who = caller_of(*ctx, s_);
    if (!who.is_ok()) return to_grpc(who.status());
    auto r = s_.lease().grant(*who, *req);
    if (!r.is_ok()) return to_grpc(r.status());
    *resp = std::move(r).value();
    return grpc::Status::OK;
  }

  grpc::Status LeaseRevoke(grpc::ServerContext* ctx, const etcdserverpb::LeaseRevokeRequest* req,
                           etcdserverpb::LeaseRevokeResponse* resp) override {
    if (s_.is_learner()) return learner_unsupported();
    auto who = caller_of(*ctx, s_);
    if (!who.is_ok()) return to_grpc(who.status());
    auto r = s_.lease().revoke(*who, *req);
    if (!r.is_ok()) return to_grpc(r.status());
    *resp = std::move(r).value();
    return grpc::Status::OK;
  }

  grpc::Status LeaseTimeToLive(grpc::ServerContext* ctx,
                               const etcdserverpb::LeaseTimeToLiveRequest* req,
                               etcdserverpb::LeaseTimeToLiveResponse* resp) override {
    if (s_.is_learner()) return learner_unsupported();
    // etcd 3.5 looks at the credentials only when keys are asked for.
    server::Caller who;
    if (req->keys()) {
      auto c = caller_of(*ctx, s_);
      if (!c.is_ok()) return to_grpc(c.status());
      who = std::move(c).value();
    }
    auto r = s_.lease().time_to_live(who, *req);
    if (r.is_ok()) {
      *resp = std::move(r).value();
      return grpc::Status::OK;
    }
    if (r.status() != server::errors::lease_not_found()) return to_grpc(r.status());
    // etcd answers an unknown lease with TTL -1, not an error.
    resp->Clear();
    s_.fill_header(resp->mutable_header(), 0);
    resp->set_id(req->id());
    resp->set_ttl(-1);
    return grpc::Status::OK;
  }

  grpc::Status LeaseLeases(grpc::ServerContext*, const etcdserverpb::LeaseLeasesRequest*,
                           etcdserverpb::LeaseLeasesResponse* resp) override {
    if (s_.is_learner()) return learner_unsupported();
    auto r = s_.lease().leases();
    if (!r.is_ok()) return to_grpc(r.status());
    *resp = std::move(r).value();
    return grpc::Status::OK;
  }

  // One handler thread per open stream (the sync API): each request renews
  // its lease and is answered in order.
  grpc::Status LeaseKeepAlive(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<etcdserverpb::LeaseKeepAliveResponse,
                               etcdserverpb::LeaseKeepAliveRequest>* stream) override {
    if (s_.is_learner()) return learner_unsupported();
    etcdserverpb::LeaseKeepAliveRequest req;
    while (stream->Read(&req)) {
      // The header is taken before the renewal, so its revision is never
      // newer than the state the renewal saw (etcd does the same).
      etcdserverpb::LeaseKeepAliveResponse resp;
      s_.fill_header(resp.mutable_header(), 0);
      resp.set_id(req.id());
      auto ttl = s_.lease().renew(LeaseId(req.id()));
      if (ttl.is_ok()) {
        resp.set_ttl(*ttl);
      } else if (ttl.status() == server::errors::lease_not_found()) {
        resp.set_ttl(0);
      } else {
        return to_grpc(ttl.status());
      }
      if (ctx->IsCancelled() || !stream->Write(resp)) break;
    }
    return grpc::Status::OK;
  }

 private:
  server::EtcdServer& s_;
};

}  // namespace

std::unique_ptr<grpc::Service> make_lease_service(server::EtcdServer& server) {
  return std::make_unique<LeaseService>(server);
}

}  // namespace etcd::rpc
