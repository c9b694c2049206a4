#include "server/membership_mirror.h"

#include "server/raft_entry.h"

namespace etcd::server {

namespace {
const v2store::TTLOptions kPermanent{};
}  // namespace

void MembershipMirror::added(MemberId id, const std::vector<std::string>& peer_urls,
                             bool is_learner) {
  (void)store_.create(member_raft_attributes_path(id), /*dir=*/false,
                      raft_attributes_json(peer_urls, is_learner), /*unique=*/false, kPermanent);
}

void MembershipMirror::raft_attributes_updated(MemberId id,
                                               const std::vector<std::string>& peer_urls,
                                               bool is_learner) {
  (void)store_.update(member_raft_attributes_path(id), raft_attributes_json(peer_urls, is_learner),
                      kPermanent);
}

void MembershipMirror::removed(MemberId id) {
  (void)store_.remove(member_store_path(id), /*dir=*/true, /*recursive=*/true);
  (void)store_.create(removed_member_store_path(id), /*dir=*/false, "", /*unique=*/false,
                      kPermanent);
}

void MembershipMirror::attributes(MemberId id, const membershippb::Attributes& a) {
  (void)store_.set(member_attributes_path(id), /*dir=*/false,
                   attributes_json(a.name(), {a.client_urls().begin(), a.client_urls().end()}),
                   kPermanent);
}

void MembershipMirror::cluster_version(const std::string& v) {
  (void)store_.set(kStoreClusterVersionKey, /*dir=*/false, v, kPermanent);
}

}  // namespace etcd::server
