// etcd's alarm store (etcdserver/api/v3alarm): the active alarms by type
// and member, persisted in the backend's `alarm` bucket (key: the
// marshalled etcdserverpb.AlarmMember, value empty). Changed only by the
// apply thread (AlarmRequest entries); read from any thread.
#pragma once

#include <absl/base/thread_annotations.h>

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "base/ids.h"
#include "base/mutex.h"
#include "etcdserverpb/rpc.pb.h"
#include "storage/backend/backend.h"

namespace etcd::server {

class AlarmStore {
 public:
  // Loads the persisted alarms (start-up).
  void load(backend::Backend& b);
  // Raises an alarm; nullopt when it was already active.
  std::optional<etcdserverpb::AlarmMember> activate(MemberId id, etcdserverpb::AlarmType type,
                                                    backend::BatchTx& tx);
  // Clears an alarm; nullopt when it was not active.
  std::optional<etcdserverpb::AlarmMember> deactivate(MemberId id, etcdserverpb::AlarmType type,
                                                      backend::BatchTx& tx);
  // The active alarms of `type` (NONE: all), ordered by type then member.
  std::vector<etcdserverpb::AlarmMember> get(etcdserverpb::AlarmType type) const;
  // Whether any member raised NOSPACE / CORRUPT (lock-free: the applier
  // chain asks for every write).
  bool nospace() const { return nospace_.load(std::memory_order_acquire); }
  bool corrupt() const { return corrupt_.load(std::memory_order_acquire); }

 private:
  using Key = std::pair<int, uint64_t>;  // (type, member)
  void update_flags() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  mutable Mutex mu_;
  std::map<Key, etcdserverpb::AlarmMember> alarms_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> nospace_{false};
  std::atomic<bool> corrupt_{false};
};

// etcd's AlarmMember.String() (gogo's compact text): "memberID:<id> alarm:<TYPE> ".
std::string alarm_text(const etcdserverpb::AlarmMember& m);

}  // namespace etcd::server
