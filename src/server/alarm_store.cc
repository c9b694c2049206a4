#include "server/alarm_store.h"

#include "base/assert.h"

namespace etcd::server {

void AlarmStore::load(backend::Backend& b) {
  std::map<Key, etcdserverpb::AlarmMember> loaded;
  auto rtx = b.read_tx();
  rtx.for_each(backend::Bucket::kAlarm, "", "", [&](std::string_view k, std::string_view) {
    etcdserverpb::AlarmMember m;
    if (m.ParseFromArray(k.data(), static_cast<int>(k.size()))) {
      loaded[{static_cast<int>(m.alarm()), m.memberid()}] = m;
    }
    return true;
  });
  MutexLock lock(&mu_);
  alarms_ = std::move(loaded);
  update_flags();
}

void AlarmStore::update_flags() {
  bool nospace = false, corrupt = false;
  for (const auto& [key, m] : alarms_) {
    nospace |= key.first == etcdserverpb::NOSPACE;
    corrupt |= key.first == etcdserverpb::CORRUPT;
  }
  nospace_.store(nospace, std::memory_order_release);
  corrupt_.store(corrupt, std::memory_order_release);
}

std::optional<etcdserverpb::AlarmMember> AlarmStore::activate(MemberId id,
                                                              etcdserverpb::AlarmType type,
                                                              backend::BatchTx& tx) {
  etcdserverpb::AlarmMember m;
  m.set_memberid(id.value());
  m.set_alarm(type);
  MutexLock lock(&mu_);
  if (!alarms_.emplace(Key{static_cast<int>(type), id.value()}, m).second) return std::nullopt;
  Status st = tx.put(backend::Bucket::kAlarm, m.SerializeAsString(), "");
  ASSERT(st.is_ok(), "storing an alarm failed");
  update_flags();
  return m;
}

std::optional<etcdserverpb::AlarmMember> AlarmStore::deactivate(MemberId id,
                                                                etcdserverpb::AlarmType type,
                                                                backend::BatchTx& tx) {
  MutexLock lock(&mu_);
  auto it = alarms_.find(Key{static_cast<int>(type), id.value()});
  if (it == alarms_.end()) return std::nullopt;
  etcdserverpb::AlarmMember m = it->second;
  alarms_.erase(it);
  tx.del(backend::Bucket::kAlarm, m.SerializeAsString());
  update_flags();
  return m;
}

std::vector<etcdserverpb::AlarmMember> AlarmStore::get(etcdserverpb::AlarmType type) const {
  MutexLock lock(&mu_);
  std::vector<etcdserverpb::AlarmMember> out;
  for (const auto& [key, m] : alarms_) {
    if (type == etcdserverpb::NONE || key.first == static_cast<int>(type)) out.push_back(m);
  }
  return out;
}

std::string alarm_text(const etcdserverpb::AlarmMember& m) {
  std::string out;
  if (m.memberid() != 0) out += "memberID:" + std::to_string(m.memberid()) + " ";
  if (m.alarm() != etcdserverpb::NONE) {
    out += "alarm:" + etcdserverpb::AlarmType_Name(m.alarm()) + " ";
  }
  return out;
}

}  // namespace etcd::server
