#include "server/membership.h"

#include <nlohmann/json.hpp>
#include <utility>

namespace etcd::server {

std::string Member::to_json() const {
  // etcd's json.Marshal of membership.Member (ConfigChangeContext for a
  // promotion): its field order, its omitempty rules, a nil list as null.
  nlohmann::ordered_json j;
  j["id"] = id.value();
  j["peerURLs"] = peer_urls.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(peer_urls);
  if (is_learner) j["isLearner"] = true;
  if (!name.empty()) j["name"] = name;
  if (!client_urls.empty()) j["clientURLs"] = client_urls;
  if (is_promote) j["isPromote"] = true;
  // Go also escapes <, > and & in strings (they only occur inside strings).
  std::string out;
  for (char c : j.dump()) {
    if (c == '<') {
      out += "\\u003c";
    } else if (c == '>') {
      out += "\\u003e";
    } else if (c == '&') {
      out += "\\u0026";
    } else {
      out += c;
    }
  }
  return out;
}

Result<Member> Member::from_json(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("id")) {
    return invalid_argument("malformed member JSON");
  }
  try {
    Member m;
    m.id = MemberId(j.at("id").get<uint64_t>());
    // Go encodes an empty list as null (a promotion's context has no URLs).
    auto strings = [&j](const char* key) {
      auto it = j.find(key);
      if (it == j.end() || it->is_null()) return std::vector<std::string>{};
      return it->get<std::vector<std::string>>();
    };
    m.peer_urls = strings("peerURLs");
    m.name = j.value("name", std::string());
    m.client_urls = strings("clientURLs");
    m.is_learner = j.value("isLearner", false);
    m.is_promote = j.value("isPromote", false);
    return m;
  } catch (const nlohmann::json::exception& e) {
    return invalid_argument(std::string("malformed member JSON: ") + e.what());
  }
}

void Membership::load(backend::Backend& b) {
  backend::ReadTx rtx = b.read_tx();
  MutexLock lock(&mu_);
  members_.clear();
  removed_.clear();
  // The callbacks run inside this scope, under mu_.
  rtx.for_each(backend::Bucket::kMembers, "", "",
               [this](std::string_view, std::string_view v) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                 auto m = Member::from_json(v);
                 if (m.is_ok()) members_[m->id] = *m;
                 return true;
               });
  rtx.for_each(backend::Bucket::kMembersRemoved, "", "",
               [this](std::string_view k, std::string_view) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                 removed_.insert(MemberId(std::stoull(std::string(k), nullptr, 16)));
                 return true;
               });
  version_ = rtx.get(backend::Bucket::kCluster, backend::kClusterVersion).value_or("");
}

std::string Membership::set_version(const std::string& version, backend::BatchTx& tx) {
  Status s = tx.put(backend::Bucket::kCluster, backend::kClusterVersion, version);
  ASSERT(s.is_ok(), "storing the cluster version failed: " + s.to_string());
  MutexLock lock(&mu_);
  return std::exchange(version_, version);
}

std::string Membership::version() const {
  MutexLock lock(&mu_);
  return version_;
}

void Membership::store(const Member& m, backend::BatchTx& tx) {
  Status s = tx.put(backend::Bucket::kMembers, backend::member_key(m.id), m.to_json());
  ASSERT(s.is_ok(), "storing a member failed: " + s.to_string());
}

void Membership::add(const Member& m, backend::BatchTx& tx) {
  MutexLock lock(&mu_);
  members_[m.id] = m;
  store(m, tx);
}

void Membership::remove(MemberId id, backend::BatchTx& tx) {
  MutexLock lock(&mu_);
  members_.erase(id);
  removed_.insert(id);
  tx.del(backend::Bucket::kMembers, backend::member_key(id));
  Status s = tx.put(backend::Bucket::kMembersRemoved, backend::member_key(id),
                    backend::kMemberRemovedValue);
  ASSERT(s.is_ok(), "storing a removed member failed");
}

void Membership::update_peer_urls(MemberId id, const std::vector<std::string>& urls,
                                  backend::BatchTx& tx) {
  MutexLock lock(&mu_);
  auto it = members_.find(id);
  if (it == members_.end()) return;
  it->second.peer_urls = urls;
  store(it->second, tx);
}

void Membership::update_attributes(MemberId id, const std::string& name,
                                   const std::vector<std::string>& client_urls,
                                   backend::BatchTx& tx) {
  MutexLock lock(&mu_);
  auto it = members_.find(id);
  if (it == members_.end()) return;
  it->second.name = name;
  it->second.client_urls = client_urls;
  store(it->second, tx);
}

void Membership::promote(MemberId id, backend::BatchTx& tx) {
  MutexLock lock(&mu_);
  auto it = members_.find(id);
  if (it == members_.end()) return;
  it->second.is_learner = false;
  store(it->second, tx);
}

std::vector<Member> Membership::members() const {
  MutexLock lock(&mu_);
  std::vector<Member> out;
  for (const auto& [id, m] : members_) out.push_back(m);
  return out;
}

std::optional<Member> Membership::member(MemberId id) const {
  MutexLock lock(&mu_);
  auto it = members_.find(id);
  if (it == members_.end()) return std::nullopt;
  return it->second;
}

bool Membership::is_removed(MemberId id) const {
  MutexLock lock(&mu_);
  return removed_.count(id) > 0;
}

}  // namespace etcd::server
