#include "rpc/election_service.h"

#include "rpc/grpc_server.h"
#include "v3electionpb/v3election.grpc.pb.h"

namespace etcd::rpc {
namespace {

namespace cc = client::concurrency;
using v3electionpb::LeaderKey;

grpc::Status begin_error(const Status& s) {
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), s.message());
}

// etcd's answer to a Proclaim or Resign without a LeaderKey.
grpc::Status missing_leader_key() {
  return grpc::Status(grpc::StatusCode::UNKNOWN, "\"leader\" field must be provided");
}

// The session of a call on `lease`: 0 means a new lease (etcd's session
// default, 60 s), granted here and never renewed.
grpc::Status session_on(SelfCall& c, int64_t lease, std::unique_ptr<cc::Session>* out) {
  if (lease == 0) {
    grpc::Status s = cc::grant_lease(c.client(), c.context(), cc::Session::kDefaultTtl, &lease);
    if (!s.ok()) return s;
  }
  *out = cc::Session::adopt(c.client(), lease);
  return grpc::Status::OK;
}

// Leader and Observe use no lease (etcd's session on lease -1).
constexpr int64_t kNoSessionLease = -1;

class ElectionService final : public v3electionpb::Election::Service {
 public:
  ElectionService(server::EtcdServer& server, std::shared_ptr<SelfClient> self)
      : server_(server), self_(std::move(self)) {}

  grpc::Status Campaign(grpc::ServerContext* ctx, const v3electionpb::CampaignRequest* req,
                        v3electionpb::CampaignResponse* resp) override {
    if (server_.is_learner()) return learner_unsupported();
    auto call = self_->begin(*ctx);
    if (!call.is_ok()) return begin_error(call.status());
    auto& c = **call;
    std::unique_ptr<cc::Session> session;
    grpc::Status s = session_on(c, req->lease(), &session);
    if (!s.ok()) return c.result(s);
    cc::Election election(*session, req->name());
    s = election.campaign(c.context(), req->value());
    if (!s.ok()) return c.result(s);
    *resp->mutable_header() = election.header();
    LeaderKey* leader = resp->mutable_leader();
    leader->set_name(req->name());
    leader->set_key(election.key());
    leader->set_rev(election.revision());
    leader->set_lease(session->lease());
    return grpc::Status::OK;
  }

  grpc::Status Proclaim(grpc::ServerContext* ctx, const v3electionpb::ProclaimRequest* req,
                        v3electionpb::ProclaimResponse* resp) override {
    if (server_.is_learner()) return learner_unsupported();
    if (!req->has_leader()) return missing_leader_key();
    auto call = self_->begin(*ctx);
    if (!call.is_ok()) return begin_error(call.status());
    auto& c = **call;
    const LeaderKey& lk = req->leader();
    std::unique_ptr<cc::Session> session;
    grpc::Status s = session_on(c, lk.lease(), &session);
    if (!s.ok()) return c.result(s);
    cc::Election election(*session, lk.name(), lk.key(), lk.rev());
    s = election.proclaim(c.context(), req->value());
    if (!s.ok()) return c.result(s);
    *resp->mutable_header() = election.header();
    return grpc::Status::OK;
  }

  grpc::Status Resign(grpc::ServerContext* ctx, const v3electionpb::ResignRequest* req,
                      v3electionpb::ResignResponse* resp) override {
    if (server_.is_learner()) return learner_unsupported();
    if (!req->has_leader()) return missing_leader_key();
    auto call = self_->begin(*ctx);
    if (!call.is_ok()) return begin_error(call.status());
    auto& c = **call;
    const LeaderKey& lk = req->leader();
    std::unique_ptr<cc::Session> session;
    grpc::Status s = session_on(c, lk.lease(), &session);
    if (!s.ok()) return c.result(s);
    cc::Election election(*session, lk.name(), lk.key(), lk.rev());
    s = election.resign(c.context());
    if (!s.ok()) return c.result(s);
    *resp->mutable_header() = election.header();
    return grpc::Status::OK;
  }

  grpc::Status Leader(grpc::ServerContext* ctx, const v3electionpb::LeaderRequest* req,
                      v3electionpb::LeaderResponse* resp) override {
    if (server_.is_learner()) return learner_unsupported();
    auto call = self_->begin(*ctx);
    if (!call.is_ok()) return begin_error(call.status());
    auto& c = **call;
    auto session = cc::Session::adopt(c.client(), kNoSessionLease);
    cc::Election election(*session, req->name());
    etcdserverpb::RangeResponse r;
    grpc::Status s = election.leader(c.context(), &r);
    if (!s.ok()) return c.result(s);
    *resp->mutable_header() = r.header();
    *resp->mutable_kv() = r.kvs(0);
    return grpc::Status::OK;
  }

  grpc::Status Observe(grpc::ServerContext* ctx, const v3electionpb::LeaderRequest* req,
                       grpc::ServerWriter<v3electionpb::LeaderResponse>* writer) override {
    if (server_.is_learner()) return learner_unsupported();
    auto call = self_->begin(*ctx);
    if (!call.is_ok()) return begin_error(call.status());
    auto& c = **call;
    auto session = cc::Session::adopt(c.client(), kNoSessionLease);
    cc::Election election(*session, req->name());
    bool write_failed = false;
    // etcd's observer ends quietly when its watch or read fails: the
    // stream then ends with OK.
    election.observe(c.context(), [&](const etcdserverpb::RangeResponse& r) {
      v3electionpb::LeaderResponse out;
      *out.mutable_header() = r.header();
      *out.mutable_kv() = r.kvs(0);
      if (!writer->Write(out)) {
        write_failed = true;
        return false;
      }
      return true;
    });
    if (c.context().cancelled()) return c.result(cc::context_canceled());
    if (write_failed) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "transport is closing");
    return grpc::Status::OK;
  }

 private:
  server::EtcdServer& server_;
  std::shared_ptr<SelfClient> self_;
};

}  // namespace

std::unique_ptr<grpc::Service> make_election_service(server::EtcdServer& server,
                                                     std::shared_ptr<SelfClient> self) {
  return std::make_unique<ElectionService>(server, std::move(self));
}

}  // namespace etcd::rpc
