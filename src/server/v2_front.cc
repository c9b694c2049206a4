#include "server/v2_front.h"

#include "server/raft_entry.h"

namespace etcd::server {

namespace {

int64_t unix_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

V2Outcome outcome_of(v2store::StoreResult<v2store::Event> r) {
  V2Outcome o;
  if (auto* ev = std::get_if<v2store::Event>(&r)) {
    o.result = std::move(*ev);
  } else {
    o.result = std::get<v2store::Error>(std::move(r));
  }
  return o;
}

}  // namespace

void V2Front::start() {
  sync_.start([this](Worker& self) {
    while (self.sleep_for(kSyncInterval)) sync_once();
  });
}

void V2Front::sync_once() {
  if (!raft_.is_leader() || !store_.has_ttl_keys()) return;
  // The outcome does not matter: a SYNC that fails is made again 500 ms on.
  (void)proposer_.propose_v2(v2_sync_request(0, unix_now_ns()));
}

Result<V2Outcome> V2Front::do_request(etcdserverpb::Request r) {
  if (r.method() == "GET" && r.quorum()) r.set_method("QGET");
  const std::string& m = r.method();
  V2Outcome out;
  if (m == "GET" || m == "HEAD") {
    out = outcome_of(store_.get(r.path(), r.recursive(), r.sorted()));
  } else if (m == "POST" || m == "PUT" || m == "DELETE" || m == "QGET") {
    auto resp = response_of<V2ApplyResponse>(proposer_.propose_v2(std::move(r)));
    if (!resp.is_ok()) return resp.status();
    out.result = std::move(resp->result);
  } else {
    return Status(Code::kInvalidArgument, "etcdserver: unknown method");
  }
  out.raft_term = raft_.term();
  out.raft_index = raft_.commit_index();
  return out;
}

}  // namespace etcd::server
