// Fakes for the v2 HTTP API's tests: a member (V2Api) that applies the
// API's requests to a real v2 store as etcd's applier does, without Raft,
// and a cluster (V2Cluster) with three members whose changes answer what
// the test sets.
#pragma once

#include <mutex>
#include <vector>

#include "rpc/v2http/members.h"
#include "server/v2_api.h"

namespace etcd::rpc::v2http {

inline constexpr int64_t kNow = 1700000000123456789;  // 2023-11-14T22:13:20.123456789Z

// etcd's applier over the store, without Raft: what do_request does for
// the API's requests.
class FakeV2Api : public server::V2Api {
 public:
  FakeV2Api() : store_({"/0", "/1"}, [] { return kNow; }) {}

  Result<server::V2Outcome> do_request(etcdserverpb::Request r) override {
    {
      std::lock_guard l(mu_);
      requests_.push_back(r);
      if (!fail_.is_ok()) return fail_;
    }
    server::V2Outcome o;
    o.raft_term = raft_term();
    o.raft_index = raft_index();
    v2store::TTLOptions ttl;
    if (r.expiration() != 0) ttl.expire_ns = r.expiration();
    ttl.refresh = r.refresh();
    v2store::StoreResult<v2store::Event> res = v2store::Error{};
    const std::string& m = r.method();
    if (m == "GET" || m == "QGET") {
      res = store_.get(r.path(), r.recursive(), r.sorted());
    } else if (m == "POST") {
      res = store_.create(r.path(), r.dir(), r.val(), true, ttl);
    } else if (m == "DELETE") {
      res = r.prev_index() > 0 || !r.prev_value().empty()
                ? store_.compare_and_delete(r.path(), r.prev_value(), r.prev_index())
                : store_.remove(r.path(), r.dir(), r.recursive());
    } else if (r.has_prev_exist()) {
      if (r.prev_exist()) {
        res = r.prev_index() == 0 && r.prev_value().empty()
                  ? store_.update(r.path(), r.val(), ttl)
                  : store_.compare_and_swap(r.path(), r.prev_value(), r.prev_index(), r.val(), ttl);
      } else {
        res = store_.create(r.path(), r.dir(), r.val(), false, ttl);
      }
    } else if (r.prev_index() > 0 || !r.prev_value().empty()) {
      res = store_.compare_and_swap(r.path(), r.prev_value(), r.prev_index(), r.val(), ttl);
    } else {
      res = store_.set(r.path(), r.dir(), r.val(), ttl);
    }
    if (auto* ev = std::get_if<v2store::Event>(&res)) {
      o.result = std::move(*ev);
    } else {
      o.result = std::get<v2store::Error>(std::move(res));
    }
    return o;
  }
  v2store::Store& store() override { return store_; }
  uint64_t raft_term() const override { return 2; }
  uint64_t raft_index() const override { return 9; }

  void fail_with(Status s) {
    std::lock_guard l(mu_);
    fail_ = std::move(s);
  }
  etcdserverpb::Request last_request() {
    std::lock_guard l(mu_);
    return requests_.empty() ? etcdserverpb::Request() : requests_.back();
  }
  size_t request_count() {
    std::lock_guard l(mu_);
    return requests_.size();
  }

 private:
  v2store::Store store_;
  std::mutex mu_;
  Status fail_ = Status::ok();
  std::vector<etcdserverpb::Request> requests_;
};

class FakeCluster : public V2Cluster {
 public:
  uint64_t cluster_id() override { return 0xd1cfaf999eb97a2a; }
  std::vector<V2Member> members() override {
    std::lock_guard l(mu_);
    return members_;
  }
  uint64_t leader() override { return leader_; }
  ChangeResult add_member(const std::vector<std::string>& urls) override {
    std::lock_guard l(mu_);
    added_urls = urls;
    ChangeResult c;
    c.outcome = next_;
    c.member.id = 0x1234abcd;
    c.member.peer_urls = urls;
    return c;
  }
  ChangeResult remove_member(uint64_t id) override {
    std::lock_guard l(mu_);
    removed_id = id;
    return ChangeResult{next_, "", {}};
  }
  ChangeResult update_member(uint64_t id, const std::vector<std::string>& urls) override {
    std::lock_guard l(mu_);
    updated_id = id;
    added_urls = urls;
    return ChangeResult{next_, "", {}};
  }
  std::string self_stats() override { return "{\"name\":\"self\"}"; }
  std::optional<std::string> leader_stats() override {
    if (leader_ != 0xbdae9bbc11dd390d) return std::nullopt;
    return "{\"leader\":\"bdae9bbc11dd390d\",\"followers\":{}}";
  }

  std::mutex mu_;
  std::vector<V2Member> members_{
      {0xbdae9bbc11dd390d, "ref1", {"http://127.0.0.1:23801"}, {"http://127.0.0.1:23791"}},
      {0x2, "", {"http://127.0.0.1:23802"}, {}},
      {0x3, "m3", {"http://127.0.0.1:23803"}, {"http://127.0.0.1:23793", "http://a:1"}}};
  uint64_t leader_ = 0xbdae9bbc11dd390d;
  ChangeOutcome next_ = ChangeOutcome::kOk;
  std::vector<std::string> added_urls;
  uint64_t removed_id = 0;
  uint64_t updated_id = 0;
};

}  // namespace etcd::rpc::v2http
