#include "server/v2_stats.h"

#include <charconv>
#include <cmath>
#include <ctime>

#include "base/duration.h"

namespace etcd::server {

namespace {

constexpr size_t kRateSamples = 200;

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

}  // namespace

std::string rfc3339_nano(int64_t unix_ns) {
  int64_t secs = unix_ns / 1000000000;
  int64_t frac = unix_ns % 1000000000;
  if (frac < 0) {
    frac += 1000000000;
    --secs;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  if (frac != 0) {
    char f[16];
    snprintf(f, sizeof f, ".%09lld", static_cast<long long>(frac));
    std::string fs = f;
    while (fs.back() == '0') fs.pop_back();
    out += fs;
  }
  return out + "Z";
}

std::string go_float(double v) {
  if (v == 0) return "0";
  char buf[64];
  const double a = std::fabs(v);
  if (a < 1e-6 || a >= 1e21) {
    auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    std::string s(buf, r.ptr);
    // Go writes a two-digit exponent at least: 1e-07, 1e+21.
    size_t e = s.find('e');
    if (e != std::string::npos && s.size() - e == 3) s.insert(e + 2, "0");
    return s;
  }
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

void V2Stats::RateQueue::insert(Sample s) {
  if (samples.size() == kRateSamples) {
    bytes -= samples.front().bytes;
    samples.pop_front();
  }
  bytes += s.bytes;
  samples.push_back(s);
}

std::pair<double, double> V2Stats::RateQueue::rate(std::chrono::steady_clock::time_point now) {
  if (samples.empty()) return {0, 0};
  if (now - samples.back().at > std::chrono::seconds(1)) {
    samples.clear();
    bytes = 0;
    return {0, 0};
  }
  const double secs = std::chrono::duration<double>(samples.back().at - samples.front().at).count();
  // One sample spans no time: etcd divides by zero there (and fails to
  // encode); no rate is the honest answer.
  if (secs <= 0) return {0, 0};
  return {static_cast<double>(samples.size()) / secs, static_cast<double>(bytes) / secs};
}

V2Stats::V2Stats(std::string name, MemberId self, env::Clock& clock)
    : name_(std::move(name)), self_(self), clock_(clock), start_wall_ns_(wall_ns()) {
  leader_since_wall_ns_ = start_wall_ns_;
  leader_since_ = clock_.now();
}

int64_t V2Stats::wall_ns() { return clock_.wall_unix_ms() * 1000000; }

void V2Stats::become_leader_locked(std::chrono::steady_clock::time_point now, int64_t wall) {
  if (leader_) return;
  leader_ = true;
  leader_id_ = to_hex(self_);
  leader_since_ = now;
  leader_since_wall_ns_ = wall;
}

void V2Stats::sent(const std::vector<raftpb::Message>& msgs) {
  const auto now = clock_.now();
  const int64_t wall = wall_ns();
  MutexLock l(&mu_);
  for (const auto& m : msgs) {
    if (m.type() != raftpb::MsgApp || m.to() == 0) continue;
    become_leader_locked(now, wall);
    send_rate_.insert({now, m.ByteSizeLong()});
    ++send_appends_;
    Follower& f = followers_[MemberId(m.to())];
    if (!f.in_flight) {
      f.in_flight = true;
      f.sent_at = now;
    }
  }
}

void V2Stats::received(const raftpb::Message& m) {
  const auto now = clock_.now();
  const int64_t wall = wall_ns();
  MutexLock l(&mu_);
  if (m.type() == raftpb::MsgApp) {
    leader_ = false;
    const std::string from = to_hex(MemberId(m.from()));
    if (from != leader_id_) {
      leader_id_ = from;
      leader_since_ = now;
      leader_since_wall_ns_ = wall;
    }
    recv_rate_.insert({now, m.ByteSizeLong()});
    ++recv_appends_;
    return;
  }
  if (m.type() != raftpb::MsgAppResp || m.reject()) return;
  auto it = followers_.find(MemberId(m.from()));
  if (it == followers_.end() || !it->second.in_flight) return;
  Follower& f = it->second;
  f.in_flight = false;
  // etcd's FollowerStats.Succ: running mean and deviation in ms.
  const double total = static_cast<double>(f.success) * f.average_ms;
  const double total_square = static_cast<double>(f.success) * f.average_square;
  ++f.success;
  f.current_ms = std::chrono::duration<double, std::milli>(now - f.sent_at).count();
  f.maximum_ms = std::max(f.maximum_ms, f.current_ms);
  f.minimum_ms = std::min(f.minimum_ms, f.current_ms);
  f.average_ms = (total + f.current_ms) / static_cast<double>(f.success);
  f.average_square = (total_square + f.current_ms * f.current_ms) / static_cast<double>(f.success);
  f.stddev_ms = std::sqrt(std::max(0.0, f.average_square - f.average_ms * f.average_ms));
}

void V2Stats::unreachable(MemberId follower) {
  MutexLock l(&mu_);
  Follower& f = followers_[follower];
  ++f.fail;
  f.in_flight = false;
}

void V2Stats::leader_changed(bool leading) {
  if (!leading) return;
  const auto now = clock_.now();
  const int64_t wall = wall_ns();
  MutexLock l(&mu_);
  become_leader_locked(now, wall);
}

std::string V2Stats::self_json() {
  const auto now = clock_.now();
  MutexLock l(&mu_);
  auto [send_pkg, send_bw] = send_rate_.rate(now);
  auto [recv_pkg, recv_bw] = recv_rate_.rate(now);
  std::string out = "{\"name\":" + quoted(name_) + ",\"id\":" + quoted(to_hex(self_)) +
                    ",\"state\":" + quoted(leader_ ? "StateLeader" : "StateFollower") +
                    ",\"startTime\":" + quoted(rfc3339_nano(start_wall_ns_)) +
                    ",\"leaderInfo\":{\"leader\":" + quoted(leader_id_) +
                    ",\"uptime\":" + quoted(format_go_duration(now - leader_since_)) +
                    ",\"startTime\":" + quoted(rfc3339_nano(leader_since_wall_ns_)) +
                    "},\"recvAppendRequestCnt\":" + std::to_string(recv_appends_);
  if (recv_pkg != 0) out += ",\"recvPkgRate\":" + go_float(recv_pkg);
  if (recv_bw != 0) out += ",\"recvBandwidthRate\":" + go_float(recv_bw);
  out += ",\"sendAppendRequestCnt\":" + std::to_string(send_appends_);
  if (send_pkg != 0) out += ",\"sendPkgRate\":" + go_float(send_pkg);
  if (send_bw != 0) out += ",\"sendBandwidthRate\":" + go_float(send_bw);
  return out + "}";
}

std::string V2Stats::leader_json(const std::vector<MemberId>& followers) {
  MutexLock l(&mu_);
  // Go's map: keys in order.
  std::map<std::string, Follower> shown;
  for (MemberId id : followers) {
    auto it = followers_.find(id);
    shown[to_hex(id)] = it == followers_.end() ? Follower{} : it->second;
  }
  std::string out = "{\"leader\":" + quoted(to_hex(self_)) + ",\"followers\":{";
  bool first = true;
  for (const auto& [id, f] : shown) {
    if (!first) out += ",";
    first = false;
    out += quoted(id) + ":{\"latency\":{\"current\":" + go_float(f.current_ms) +
           ",\"average\":" + go_float(f.average_ms) +
           ",\"standardDeviation\":" + go_float(f.stddev_ms) +
           ",\"minimum\":" + go_float(f.minimum_ms) + ",\"maximum\":" + go_float(f.maximum_ms) +
           "},\"counts\":{\"fail\":" + std::to_string(f.fail) +
           ",\"success\":" + std::to_string(f.success) + "}}";
  }
  return out + "}}";
}

}  // namespace etcd::server
