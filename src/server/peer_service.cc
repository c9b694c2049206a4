#include "server/peer_service.h"

#include <fcntl.h>

#include <nlohmann/json.hpp>

#include "base/version.h"
#include "env/file_system.h"
#include "leasepb/lease.pb.h"
#include "server/bootstrap.h"
#include "server/errors.h"
#include "storage/backend/snapshot.h"

namespace etcd::server {
namespace {

PeerHttpReply text(int status, const std::string& body) {
  return PeerHttpReply{status, "text/plain; charset=utf-8", body + "\n", ""};
}

PeerHttpReply protobuf(const google::protobuf::Message& m) {
  return PeerHttpReply{200, "application/protobuf", m.SerializeAsString(), ""};
}

// The backend image, read in 1 MiB pieces.
class BackendSnapshotSource final : public SnapshotSource {
 public:
  explicit BackendSnapshotSource(std::unique_ptr<backend::SnapshotReader> r)
      : reader_(std::move(r)) {}
  Result<std::string> next() override {
    std::string piece(1 << 20, '\0');
    auto n = reader_->read(piece.data(), piece.size());
    if (!n.is_ok()) return n.status();
    piece.resize(*n);
    return piece;
  }

 private:
  std::unique_ptr<backend::SnapshotReader> reader_;
};

// "3.4.23" < "3.5.0", numerically per component.
bool version_less(const std::string& a, const std::string& b) {
  auto parts = [](const std::string& v) {
    std::vector<int> out;
    size_t pos = 0;
    while (pos < v.size()) {
      auto dot = v.find('.', pos);
      if (dot == std::string::npos) dot = v.size();
      out.push_back(std::atoi(v.substr(pos, dot - pos).c_str()));
      pos = dot + 1;
    }
    return out;
  };
  return parts(a) < parts(b);
}

}  // namespace

std::string PeerService::members_json(const std::vector<Member>& members) {
  nlohmann::json arr = nlohmann::json::array();
  for (const Member& m : members) {
    nlohmann::json j;
    j["id"] = m.id.value();
    j["peerURLs"] = m.peer_urls;
    j["name"] = m.name;
    j["clientURLs"] = m.client_urls;
    if (m.is_learner) j["isLearner"] = true;
    arr.push_back(std::move(j));
  }
  return arr.dump();
}

void PeerService::process(raftpb::Message m) {
  // A message from a removed member is dropped (etcd's Process answers
  // "the member has been permanently removed").
  if (core_.membership.is_removed(MemberId(m.from()))) return;
  if (stats_ != nullptr) stats_->received(m);
  raft_.step(std::move(m));
}

void PeerService::removed_from_cluster() {
  if (removed_.exchange(true)) return;
  if (on_removed_) on_removed_();
}

Result<std::unique_ptr<SnapshotSource>> PeerService::open_snapshot() {
  auto r = backend_.snapshot();
  if (!r.is_ok()) return r.status();
  return std::unique_ptr<SnapshotSource>(new BackendSnapshotSource(std::move(r).value()));
}

std::string PeerService::snapshot_db_path(uint64_t index) {
  char name[32];
  std::snprintf(name, sizeof name, "%016llx.snap.db", static_cast<unsigned long long>(index));
  return env::join_path(snap_dir_, name);
}

PeerHttpReply PeerService::http(const std::string& method, const std::string& target,
                                const std::string& body) {
  std::string path = target.substr(0, target.find('?'));
  if (path == "/members") {
    if (method != "GET") return text(405, "Method Not Allowed");
    return PeerHttpReply{200, "application/json", members_json(core_.membership.members()), ""};
  }
  if (path == "/version") {
    if (method != "GET") return text(405, "Method Not Allowed");
    nlohmann::json j;
    j["etcdserver"] = kEtcdVersion;
    const std::string v = core_.membership.version();
    j["etcdcluster"] = v.empty() ? "not_decided" : cluster_version(v) + ".0";
    return PeerHttpReply{200, "application/json", j.dump(), ""};
  }
  if (path == "/leases" || path == "/leases/internal") {
    if (method != "POST") return text(405, "Method Not Allowed");
    if (!core_.wait_applied_index().is_ok()) return text(408, "lease: waiting for apply timed out");
    if (path == "/leases") {
      etcdserverpb::LeaseKeepAliveRequest req;
      if (!req.ParseFromString(body)) return text(400, "error unmarshalling request");
      auto ttl = lessor_.renew(LeaseId(req.id()));
      if (!ttl.is_ok()) {
        return ttl.status().code() == Code::kNotFound ? text(404, "lease not found")
                                                      : text(400, ttl.status().message());
      }
      etcdserverpb::LeaseKeepAliveResponse resp;
      resp.set_id(req.id());
      resp.set_ttl(*ttl);
      return protobuf(resp);
    }
    leasepb::LeaseInternalRequest req;
    if (!req.ParseFromString(body)) return text(400, "error unmarshalling request");
    const auto& ttl_req = req.leasetimetoliverequest();
    auto l = lessor_.lookup(LeaseId(ttl_req.id()), ttl_req.keys());
    if (!l) return text(404, "lease not found");
    leasepb::LeaseInternalResponse resp;
    auto* r = resp.mutable_leasetimetoliveresponse();
    r->mutable_header();
    r->set_id(ttl_req.id());
    r->set_ttl(l->remaining_s);
    r->set_grantedttl(l->ttl_s);
    for (auto& k : l->keys) r->add_keys(std::move(k));
    return protobuf(resp);
  }
  if (path == "/members/hashkv") {
    if (method != "GET") return text(405, "Method Not Allowed");
    auto req = nlohmann::json::parse(body, nullptr, false);
    if (!req.is_object() || !hash_kv_) return text(400, "error unmarshalling request");
    const int64_t rev = req.value("revision", int64_t{0});
    auto h = hash_kv_(rev);
    if (!h.is_ok()) return text(400, h.status().message());
    nlohmann::json j;
    j["header"] = {{"cluster_id", h->header().cluster_id()},
                   {"member_id", h->header().member_id()},
                   {"revision", h->header().revision()},
                   {"raft_term", h->header().raft_term()}};
    j["hash"] = h->hash();
    j["compact_revision"] = h->compact_revision();
    return PeerHttpReply{200, "application/json", j.dump(), ""};
  }
  if (path.rfind("/members/promote/", 0) == 0) {
    if (method != "POST") return text(405, "Method Not Allowed");
    uint64_t id = 0;
    try {
      id = std::stoull(path.substr(std::string("/members/promote/").size()), nullptr, 16);
    } catch (...) {
      return text(400, "invalid member id");
    }
    Status st = cluster_.promote_on_leader(MemberId(id));
    if (st.is_ok()) {
      return PeerHttpReply{200, "application/json", members_json(core_.membership.members()), ""};
    }
    if (st == errors::member_not_found()) return text(404, "member not found");
    if (st == errors::member_not_learner()) return text(412, "can only promote a learner member");
    if (st == errors::learner_not_ready()) {
      return text(412, "can only promote a learner member which is in sync with leader");
    }
    return text(500, st.message());
  }
  return text(404, "404 page not found");
}

Result<PeerHttpReply> PeerService::post_to(MemberId leader, const std::string& target,
                                           const std::string& body) {
  auto m = core_.membership.member(leader);
  if (!m || m->peer_urls.empty() || !http_call_) return errors::no_leader();
  Status last = errors::timeout();
  for (const auto& url : m->peer_urls) {
    auto r = http_call_(url, "POST", target, body, core_.request_timeout());
    if (r.is_ok()) return r;
    last = r.status();
  }
  return last;
}

Result<int64_t> PeerService::forward_renew(MemberId leader, LeaseId id) {
  etcdserverpb::LeaseKeepAliveRequest req;
  req.set_id(id.value());
  auto r = post_to(leader, "/leases", req.SerializeAsString());
  if (!r.is_ok()) return r.status();
  if (r->status == 404) return errors::lease_not_found();
  if (r->status != 200) return errors::timeout();
  etcdserverpb::LeaseKeepAliveResponse resp;
  if (!resp.ParseFromString(r->body)) return errors::timeout();
  return resp.ttl();
}

Result<etcdserverpb::LeaseTimeToLiveResponse> PeerService::forward_time_to_live(
    MemberId leader, const etcdserverpb::LeaseTimeToLiveRequest& r) {
  leasepb::LeaseInternalRequest req;
  *req.mutable_leasetimetoliverequest() = r;
  auto reply = post_to(leader, "/leases/internal", req.SerializeAsString());
  if (!reply.is_ok()) return reply.status();
  if (reply->status == 404) return errors::lease_not_found();
  if (reply->status != 200) return errors::timeout();
  leasepb::LeaseInternalResponse resp;
  if (!resp.ParseFromString(reply->body)) return errors::timeout();
  return resp.leasetimetoliveresponse();
}

Status PeerService::forward_promote(MemberId leader, MemberId learner) {
  auto r = post_to(leader, "/members/promote/" + to_hex(learner), "");
  if (!r.is_ok()) return r.status();
  if (r->status == 200) return Status::ok();
  if (r->status == 404) return errors::member_not_found();
  if (r->body.find("in sync with leader") != std::string::npos) return errors::learner_not_ready();
  if (r->status == 412) return errors::member_not_learner();
  return Status(Code::kUnknown, r->body);
}

std::vector<PeerHashKV> PeerService::peer_hashes(MainRev revision) {
  std::vector<PeerHashKV> out;
  nlohmann::json req;
  req["revision"] = revision.value();
  const std::string body = req.dump();
  for (const Member& m : core_.membership.members()) {
    if (m.id == core_.id()) continue;
    PeerHashKV p;
    p.id = m.id;
    p.endpoints = m.peer_urls;
    p.error = errors::timeout();
    for (const auto& url : m.peer_urls) {
      auto r = http_call_ ? http_call_(url, "GET", "/members/hashkv", body, std::chrono::seconds(5))
                          : Result<PeerHttpReply>(errors::timeout());
      if (!r.is_ok()) {
        p.error = r.status();
        continue;
      }
      if (r->status != 200) {
        p.error = Status(Code::kUnknown, r->body);
        continue;
      }
      auto j = nlohmann::json::parse(r->body, nullptr, false);
      if (!j.is_object()) continue;
      etcdserverpb::HashKVResponse h;
      if (j.contains("header") && j["header"].is_object()) {
        const auto& hd = j["header"];
        h.mutable_header()->set_cluster_id(hd.value("cluster_id", uint64_t{0}));
        h.mutable_header()->set_member_id(hd.value("member_id", uint64_t{0}));
        h.mutable_header()->set_revision(hd.value("revision", int64_t{0}));
        h.mutable_header()->set_raft_term(hd.value("raft_term", uint64_t{0}));
      }
      h.set_hash(j.value("hash", uint32_t{0}));
      h.set_compact_revision(j.value("compact_revision", int64_t{0}));
      p.resp = h;
      p.error = Status::ok();
      break;
    }
    out.push_back(std::move(p));
  }
  return out;
}

std::string PeerService::lowest_peer_version() {
  std::string lowest = kEtcdVersion;
  for (const Member& m : core_.membership.members()) {
    if (m.id == core_.id()) continue;
    std::string got;
    for (const auto& url : m.peer_urls) {
      auto r = http_call_ ? http_call_(url, "GET", "/version", "", std::chrono::seconds(2))
                          : Result<PeerHttpReply>(errors::timeout());
      if (!r.is_ok() || r->status != 200) continue;
      auto j = nlohmann::json::parse(r->body, nullptr, false);
      if (j.is_object() && j.contains("etcdserver") && j["etcdserver"].is_string()) {
        got = j["etcdserver"].get<std::string>();
        break;
      }
    }
    if (got.empty()) return "";
    if (version_less(got, lowest)) lowest = got;
  }
  return lowest;
}

}  // namespace etcd::server
