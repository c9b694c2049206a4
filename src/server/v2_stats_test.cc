#include "server/v2_stats.h"

#include <gtest/gtest.h>

namespace etcd::server {
namespace {

raftpb::Message msg(raftpb::MessageType t, uint64_t from, uint64_t to, bool reject = false) {
  raftpb::Message m;
  m.set_type(t);
  m.set_from(from);
  m.set_to(to);
  m.set_reject(reject);
  return m;
}

TEST(V2Stats, GoFormats) {
  EXPECT_EQ(rfc3339_nano(1700000000123456789), "2023-11-14T22:13:20.123456789Z");
  EXPECT_EQ(rfc3339_nano(1700000000120000000), "2023-11-14T22:13:20.12Z");
  EXPECT_EQ(rfc3339_nano(1700000000000000000), "2023-11-14T22:13:20Z");
  EXPECT_EQ(go_float(0), "0");
  EXPECT_EQ(go_float(9223372036854775808.0), "9223372036854775808");
  EXPECT_EQ(go_float(1.5), "1.5");
  EXPECT_EQ(go_float(0.0000001), "1e-07");
  EXPECT_EQ(go_float(1e21), "1e+21");
}

TEST(V2Stats, FollowerThenLeader) {
  env::ManualClock clock(1700000000000);
  V2Stats s("m1", MemberId(0xbdae9bbc11dd390d), clock);
  clock.advance(std::chrono::milliseconds(1500));
  EXPECT_EQ(
      s.self_json(),
      R"({"name":"m1","id":"bdae9bbc11dd390d","state":"StateFollower","startTime":"2023-11-14T22:13:20Z","leaderInfo":{"leader":"","uptime":"1.5s","startTime":"2023-11-14T22:13:20Z"},"recvAppendRequestCnt":0,"sendAppendRequestCnt":0})");

  // Appends from a leader: counted, the leader known, rates over the
  // samples (two messages 500ms apart).
  s.received(msg(raftpb::MsgApp, 0x2, 0xbdae9bbc11dd390d));
  clock.advance(std::chrono::milliseconds(500));
  s.received(msg(raftpb::MsgApp, 0x2, 0xbdae9bbc11dd390d));
  s.received(msg(raftpb::MsgHeartbeat, 0x2, 0xbdae9bbc11dd390d));
  const size_t bytes = msg(raftpb::MsgApp, 0x2, 0xbdae9bbc11dd390d).ByteSizeLong();
  std::string j = s.self_json();
  EXPECT_NE(
      j.find(
          R"("leaderInfo":{"leader":"2","uptime":"500ms","startTime":"2023-11-14T22:13:21.5Z"})"),
      std::string::npos)
      << j;
  EXPECT_NE(j.find(R"("recvAppendRequestCnt":2,"recvPkgRate":4,"recvBandwidthRate":)" +
                   go_float(static_cast<double>(2 * bytes) / 0.5) + ",\"sendAppendRequestCnt\":0}"),
            std::string::npos)
      << j;
  // Idle for more than a second: no rates.
  clock.advance(std::chrono::milliseconds(1001));
  EXPECT_EQ(s.self_json().find("Rate"), std::string::npos);

  s.leader_changed(true);
  s.sent({msg(raftpb::MsgApp, 0xbdae9bbc11dd390d, 0x2), msg(raftpb::MsgHeartbeat, 1, 0x2)});
  j = s.self_json();
  EXPECT_NE(j.find(R"("state":"StateLeader")"), std::string::npos) << j;
  EXPECT_NE(j.find(R"("leader":"bdae9bbc11dd390d","uptime":"0s")"), std::string::npos) << j;
  EXPECT_NE(j.find(R"("sendAppendRequestCnt":1})"), std::string::npos) << j;
}

TEST(V2Stats, LeaderFollowerLatencies) {
  env::ManualClock clock(1700000000000);
  V2Stats s("m1", MemberId(0xa), clock);
  EXPECT_EQ(
      s.leader_json({MemberId(0xb)}),
      R"({"leader":"a","followers":{"b":{"latency":{"current":0,"average":0,"standardDeviation":0,"minimum":9223372036854775808,"maximum":0},"counts":{"fail":0,"success":0}}}})");
  s.sent({msg(raftpb::MsgApp, 0xa, 0xb)});
  clock.advance(std::chrono::milliseconds(2));
  s.sent({msg(raftpb::MsgApp, 0xa, 0xb)});  // the clock runs from the first
  clock.advance(std::chrono::milliseconds(2));
  s.received(msg(raftpb::MsgAppResp, 0xb, 0xa));
  s.sent({msg(raftpb::MsgApp, 0xa, 0xb)});
  clock.advance(std::chrono::milliseconds(2));
  s.received(msg(raftpb::MsgAppResp, 0xb, 0xa, /*reject=*/true));  // not a success
  s.received(msg(raftpb::MsgAppResp, 0xb, 0xa));
  s.unreachable(MemberId(0xb));
  EXPECT_EQ(
      s.leader_json({MemberId(0xc), MemberId(0xb)}),
      R"({"leader":"a","followers":{"b":{"latency":{"current":2,"average":3,"standardDeviation":1,"minimum":2,"maximum":4},"counts":{"fail":1,"success":2}},"c":{"latency":{"current":0,"average":0,"standardDeviation":0,"minimum":9223372036854775808,"maximum":0},"counts":{"fail":0,"success":0}}}})");
}

}  // namespace
}  // namespace etcd::server
