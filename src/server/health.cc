#include "server/health.h"

#include "base/assert.h"
#include "server/kv_front.h"

namespace etcd::server {

namespace {

std::string alarm_name(etcdserverpb::AlarmType t) { return etcdserverpb::AlarmType_Name(t); }

}  // namespace

Status HealthChecker::read(bool serializable) {
  // As etcd's check: one key, keys only, as the member itself (no
  // permission applies).
  etcdserverpb::RangeRequest req;
  req.set_key(std::string(1, '\0'));
  req.set_keys_only(true);
  req.set_limit(1);
  req.set_serializable(serializable);
  auto r = server_.kv().range(Caller::self(), req);
  return r.is_ok() ? Status::ok() : r.status();
}

Health HealthChecker::health(const std::set<std::string>& excluded, bool serializable) {
  Health h;
  for (const auto& a : server_.alarms()) {
    if (excluded.count(alarm_name(a.alarm())) > 0) continue;
    h.healthy = false;
    switch (a.alarm()) {
      case etcdserverpb::AlarmType::NOSPACE:
        h.reason = "ALARM NOSPACE";
        break;
      case etcdserverpb::AlarmType::CORRUPT:
        h.reason = "ALARM CORRUPT";
        break;
      default:
        h.reason = "ALARM UNKNOWN";
        break;
    }
    return h;
  }
  if (!serializable && server_.leader() == MemberId(0)) {
    h.healthy = false;
    h.reason = "RAFT NO LEADER";
    return h;
  }
  if (Status s = read(serializable); !s.is_ok()) {
    h.healthy = false;
    h.reason = "RANGE ERROR:" + s.message();
  }
  return h;
}

const std::vector<std::string>& HealthChecker::livez_checks() {
  static const std::vector<std::string> kChecks = {"serializable_read"};
  return kChecks;
}

const std::vector<std::string>& HealthChecker::readyz_checks() {
  static const std::vector<std::string> kChecks = {"data_corruption", "serializable_read",
                                                   "linearizable_read", "non_learner"};
  return kChecks;
}

CheckResult HealthChecker::run(const std::string& name) {
  CheckResult r{name, true, ""};
  auto fail = [&](std::string error) {
    r.ok = false;
    r.error = std::move(error);
  };
  if (name == "serializable_read" || name == "linearizable_read") {
    if (Status s = read(name == "serializable_read"); !s.is_ok()) fail(s.message());
  } else if (name == "data_corruption") {
    for (const auto& a : server_.alarms()) {
      if (a.alarm() == etcdserverpb::AlarmType::CORRUPT) {
        fail("alarm activated: CORRUPT");
        break;
      }
    }
  } else if (name == "non_learner") {
    if (server_.is_learner()) fail("not supported for learner");
  } else {
    ASSERT(false, "unknown health check " + name);
  }
  return r;
}

}  // namespace etcd::server
