#include "server/v2_applier.h"

#include "server/applier.h"
#include "server/raft_entry.h"

namespace etcd::server {

namespace {

v2store::TTLOptions ttl_options(const etcdserverpb::Request& r) {
  v2store::TTLOptions o;
  o.refresh = r.has_refresh() && r.refresh();
  if (r.expiration() != 0) o.expire_ns = r.expiration();
  return o;
}

ApplyResult of(v2store::StoreResult<v2store::Event> r) {
  V2ApplyResponse resp;
  if (auto* ev = std::get_if<v2store::Event>(&r)) {
    resp.result = std::move(*ev);
  } else {
    resp.result = std::get<v2store::Error>(std::move(r));
  }
  return ApplyResult{Status::ok(), std::move(resp)};
}

}  // namespace

ApplyResult V2Applier::apply(const etcdserverpb::Request& r, backend::ConsistentIndex ci,
                             bool already) {
  const std::string& m = r.method();
  if (m == "PUT") return put(r, ci, already);
  if (!already) record_consistent_index(backend_, ci);
  if (m == "POST") {
    return of(store_.create(r.path(), r.dir(), r.val(), /*unique=*/true, ttl_options(r)));
  }
  if (m == "DELETE") {
    if (r.prev_index() > 0 || !r.prev_value().empty()) {
      return of(store_.compare_and_delete(r.path(), r.prev_value(), r.prev_index()));
    }
    return of(store_.remove(r.path(), r.dir(), r.recursive()));
  }
  if (m == "QGET") return of(store_.get(r.path(), r.recursive(), r.sorted()));
  if (m == "SYNC") {
    store_.delete_expired_keys(r.time());
    return ApplyResult{};
  }
  return ApplyResult::error(Status(Code::kInvalidArgument, "etcdserver: unknown method"));
}

ApplyResult V2Applier::store_put(const etcdserverpb::Request& r) {
  const v2store::TTLOptions ttl = ttl_options(r);
  if (r.has_prev_exist()) {
    if (r.prev_exist()) {
      if (r.prev_index() == 0 && r.prev_value().empty()) {
        return of(store_.update(r.path(), r.val(), ttl));
      }
      return of(store_.compare_and_swap(r.path(), r.prev_value(), r.prev_index(), r.val(), ttl));
    }
    return of(store_.create(r.path(), r.dir(), r.val(), /*unique=*/false, ttl));
  }
  if (r.prev_index() > 0 || !r.prev_value().empty()) {
    return of(store_.compare_and_swap(r.path(), r.prev_value(), r.prev_index(), r.val(), ttl));
  }
  return of(store_.set(r.path(), r.dir(), r.val(), ttl));
}

ApplyResult V2Applier::put(const etcdserverpb::Request& r, backend::ConsistentIndex ci,
                           bool already) {
  // etcd reads membership facts only from a plain PUT (no precondition).
  const bool plain = !r.has_prev_exist() && r.prev_index() == 0 && r.prev_value().empty();
  if (plain) {
    if (auto id = member_of_attributes_path(r.path())) {
      auto attrs = parse_attributes_json(r.val());
      if (!attrs.is_ok()) {
        logger_.error("failed to unmarshal member attributes",
                      {{"value", r.val()}, {"error", attrs.status().message()}});
        if (!already) record_consistent_index(backend_, ci);
        return ApplyResult{};
      }
      if (already) {
        membership_.replay_attributes(*id, *attrs);
      } else {
        membership_.apply_attributes(*id, *attrs, ci);
      }
      return ApplyResult{};
    }
    if (r.path() == kStoreClusterVersionKey) {
      if (!is_cluster_version(r.val())) {
        logger_.error("invalid cluster version in raft entry", {{"cluster-version", r.val()}});
        if (!already) record_consistent_index(backend_, ci);
        return ApplyResult{};
      }
      if (already) {
        membership_.replay_cluster_version(r.val());
      } else {
        membership_.apply_cluster_version(r.val(), ci);
      }
      return ApplyResult{};
    }
  }
  if (!already) record_consistent_index(backend_, ci);
  return store_put(r);
}

}  // namespace etcd::server
