#include "server/unreachable_transport.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

namespace etcd::server {
namespace {

raftpb::Message to(uint64_t peer) {
  raftpb::Message m;
  m.set_to(peer);
  m.set_type(raftpb::MsgPreVote);
  return m;
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (auto at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

TEST(UnreachableTransport, NamesEachUnreachablePeerPeriodically) {
  std::ostringstream out;
  log::Logger logger(log::Level::kInfo, {std::make_shared<spdlog::sinks::ostream_sink_mt>(out)},
                     [] { return int64_t{0}; });
  env::ManualClock clock;
  UnreachableTransport t(logger, clock);
  t.send({to(0xa), to(0xb), to(0xa)});
  EXPECT_EQ(count(out.str(), "\"level\":\"warn\""), 2u) << out.str();
  EXPECT_EQ(count(out.str(), "\"peer-id\":\"a\""), 1u);
  EXPECT_EQ(count(out.str(), "\"peer-id\":\"b\""), 1u);
  EXPECT_NE(out.str().find("peer became inactive (message send to peer failed)"),
            std::string::npos);
  // Within the interval: nothing more, however many messages are dropped.
  for (int i = 0; i < 10; ++i) {
    clock.advance(std::chrono::milliseconds(400));
    t.send({to(0xa)});
  }
  EXPECT_EQ(count(out.str(), "\"peer-id\":\"a\""), 1u);
  // Still dropping after the interval: named again.
  clock.advance(std::chrono::milliseconds(1000));
  t.send({to(0xa)});
  EXPECT_EQ(count(out.str(), "\"peer-id\":\"a\""), 2u);
}

}  // namespace
}  // namespace etcd::server
