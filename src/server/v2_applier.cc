#include "server/v2_applier.h"

#include "server/applier.h"
#include "server/raft_entry.h"

namespace etcd::server {

ApplyResult V2Applier::apply(const etcdserverpb::Request& r, backend::ConsistentIndex ci) {
  const std::string& m = r.method();
  if (m == "SYNC") {
    record_consistent_index(backend_, ci);
    return ApplyResult{};
  }
  if (m == "PUT") return put(r, ci);
  if (m == "POST" || m == "DELETE" || m == "QGET") return ignore(r, ci);
  record_consistent_index(backend_, ci);
  return ApplyResult::error(Status(Code::kInvalidArgument, "etcdserver: unknown method"));
}

ApplyResult V2Applier::put(const etcdserverpb::Request& r, backend::ConsistentIndex ci) {
  // etcd reads membership facts only from a plain PUT (no precondition).
  const bool plain = !r.has_prev_exist() && r.prev_index() == 0 && r.prev_value().empty();
  if (!plain) return ignore(r, ci);
  if (auto id = member_of_attributes_path(r.path())) {
    auto attrs = parse_attributes_json(r.val());
    if (!attrs.is_ok()) {
      logger_.error("failed to unmarshal member attributes",
                    {{"value", r.val()}, {"error", attrs.status().message()}});
      record_consistent_index(backend_, ci);
      return ApplyResult{};
    }
    membership_.apply_attributes(*id, *attrs, ci);
    return ApplyResult{};
  }
  if (r.path() == kStoreClusterVersionKey) {
    if (!is_cluster_version(r.val())) {
      logger_.error("invalid cluster version in raft entry", {{"cluster-version", r.val()}});
      record_consistent_index(backend_, ci);
      return ApplyResult{};
    }
    membership_.apply_cluster_version(r.val(), ci);
    return ApplyResult{};
  }
  return ignore(r, ci);
}

ApplyResult V2Applier::ignore(const etcdserverpb::Request& r, backend::ConsistentIndex ci) {
  record_consistent_index(backend_, ci);
  logger_.info("ignored v2 store request (this member keeps no v2 store)",
               {{"method", r.method()}, {"path", r.path()}, {"index", ci.index.value()}});
  return ApplyResult{};
}

}  // namespace etcd::server
