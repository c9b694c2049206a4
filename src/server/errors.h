// etcd's client-visible errors: the gRPC code and the exact message, which
// client libraries match to raise typed errors. Status codes are gRPC's, so
// the RPC layer passes these through unchanged.
#pragma once

#include "base/status.h"

namespace etcd::server::errors {

// KV
inline Status empty_key() { return {Code::kInvalidArgument, "etcdserver: key is not provided"}; }
inline Status key_not_found() { return {Code::kInvalidArgument, "etcdserver: key not found"}; }
inline Status value_provided() { return {Code::kInvalidArgument, "etcdserver: value is provided"}; }
inline Status lease_provided() { return {Code::kInvalidArgument, "etcdserver: lease is provided"}; }
inline Status too_many_ops() {
  return {Code::kInvalidArgument, "etcdserver: too many operations in txn request"};
}
inline Status duplicate_key() {
  return {Code::kInvalidArgument, "etcdserver: duplicate key given in txn request"};
}
inline Status invalid_sort_option() {
  return {Code::kInvalidArgument, "etcdserver: invalid sort option"};
}
inline Status compacted() {
  return {Code::kOutOfRange, "etcdserver: mvcc: required revision has been compacted"};
}
inline Status future_rev() {
  return {Code::kOutOfRange, "etcdserver: mvcc: required revision is a future revision"};
}
inline Status no_space() {
  return {Code::kResourceExhausted, "etcdserver: mvcc: database space exceeded"};
}
inline Status request_too_large() {
  return {Code::kInvalidArgument, "etcdserver: request is too large"};
}
// Lease
inline Status lease_not_found() {
  return {Code::kNotFound, "etcdserver: requested lease not found"};
}
inline Status lease_exists() {
  return {Code::kFailedPrecondition, "etcdserver: lease already exists"};
}
inline Status lease_ttl_too_large() {
  return {Code::kOutOfRange, "etcdserver: too large lease TTL"};
}
// Cluster
inline Status member_exists() {
  return {Code::kFailedPrecondition, "etcdserver: member ID already exist"};
}
inline Status peer_url_exists() {
  return {Code::kFailedPrecondition, "etcdserver: Peer URLs already exists"};
}
inline Status member_not_found() { return {Code::kNotFound, "etcdserver: member not found"}; }
inline Status member_bad_urls() {
  return {Code::kInvalidArgument, "etcdserver: given member URLs are invalid"};
}
inline Status member_not_learner() {
  return {Code::kFailedPrecondition, "etcdserver: can only promote a learner member"};
}
inline Status learner_not_ready() {
  return {Code::kFailedPrecondition,
          "etcdserver: can only promote a learner member which is in sync with leader"};
}
inline Status too_many_learners() {
  return {Code::kFailedPrecondition, "etcdserver: too many learner members in cluster"};
}
inline Status not_enough_started_members() {
  return {Code::kFailedPrecondition,
          "etcdserver: re-configuration failed due to not enough started members"};
}
inline Status unhealthy() { return {Code::kUnavailable, "etcdserver: unhealthy cluster"}; }
// Server state
inline Status no_leader() { return {Code::kUnavailable, "etcdserver: no leader"}; }
inline Status not_leader() { return {Code::kFailedPrecondition, "etcdserver: not leader"}; }
inline Status leader_changed() { return {Code::kUnavailable, "etcdserver: leader changed"}; }
inline Status stopped() { return {Code::kUnavailable, "etcdserver: server stopped"}; }
inline Status timeout() { return {Code::kUnavailable, "etcdserver: request timed out"}; }
inline Status too_many_requests() {
  return {Code::kResourceExhausted, "etcdserver: too many requests"};
}
inline Status bad_leader_transferee() {
  return {Code::kFailedPrecondition, "etcdserver: bad leader transferee"};
}
inline Status corrupt() { return {Code::kDataLoss, "etcdserver: corrupt cluster"}; }

}  // namespace etcd::server::errors
