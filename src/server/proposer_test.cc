#include "server/proposer.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>
#include <thread>
#include <vector>

#include "base/encoding.h"
#include "base/mutex.h"
#include "server/errors.h"
#include "server/raft_entry.h"

namespace etcd::server {
namespace {

using std::chrono::milliseconds;

// A raft node that records what it is asked and answers as told.
class FakeRaft final : public RaftPort {
 public:
  Status propose(std::string data) override {
    MutexLock lock(&mu_);
    if (classify_entry(data) == EntryKind::kV2) {
      etcdserverpb::Request v2;
      EXPECT_TRUE(v2.ParseFromString(data));
      proposed_.push_back(v2.id());
    } else {
      serverpb::InternalRaftRequest r;
      EXPECT_TRUE(r.ParseFromString(data));
      proposed_.push_back(r.header().id());
    }
    return drop_ ? Status(Code::kUnavailable, "raft: proposal dropped") : Status::ok();
  }
  void read_index(std::string ctx) override {
    MutexLock lock(&mu_);
    reads_.push_back(std::move(ctx));
  }
  MemberId lead() const override {
    MutexLock lock(&mu_);
    return MemberId(lead_);
  }

  void set(bool drop, uint64_t lead) {
    MutexLock lock(&mu_);
    drop_ = drop;
    lead_ = lead;
  }
  std::vector<uint64_t> proposed() {
    MutexLock lock(&mu_);
    return proposed_;
  }
  std::vector<std::string> reads() {
    MutexLock lock(&mu_);
    return reads_;
  }
  // Waits (up to 5 s) until `f()` holds.
  template <typename F>
  static void until(F f) {
    for (int i = 0; i < 5000 && !f(); ++i) std::this_thread::sleep_for(milliseconds(1));
    ASSERT_TRUE(f());
  }

 private:
  mutable Mutex mu_;
  bool drop_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t lead_ ABSL_GUARDED_BY(mu_) = 1;
  std::vector<uint64_t> proposed_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> reads_ ABSL_GUARDED_BY(mu_);
};

class ProposerTest : public ::testing::Test {
 protected:
  ProposerTest()
      : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(log_)),
        logger_(log::Level::kInfo, {sink_}, [] { return int64_t{0}; }) {}

  std::unique_ptr<Proposer> make(Proposer::Options o = {}) {
    return std::make_unique<Proposer>(raft_, MemberId(0xABCD1234), clock_, logger_, o);
  }
  static serverpb::InternalRaftRequest put() {
    serverpb::InternalRaftRequest r;
    r.mutable_put()->set_key("k");
    return r;
  }
  static size_t count(const std::string& s, const std::string& what) {
    size_t n = 0;
    for (auto at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
    return n;
  }

  // Real monotonic time (the waits are real), a fixed wall time (the ids).
  struct TestClock final : env::Clock {
    std::chrono::steady_clock::time_point now() override {
      return std::chrono::steady_clock::now();
    }
    int64_t wall_unix_ms() override { return 1795282200123; }
    void sleep_for(std::chrono::nanoseconds d) override { std::this_thread::sleep_for(d); }
  };

  TestClock clock_;
  FakeRaft raft_;
  std::ostringstream log_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
  log::Logger logger_;
};

TEST_F(ProposerTest, IdsCarryTheMemberAndTheStartTimeAndNeverRepeat) {
  auto p = make();
  const uint64_t a = p->next_id(), b = p->next_id();
  EXPECT_EQ(a >> 48, 0x1234u);
  EXPECT_EQ((a >> 8) & 0xFFFFFFFFFFULL, 1795282200123ULL & 0xFFFFFFFFFFULL);
  EXPECT_EQ(b, a + 1);
}

TEST_F(ProposerTest, AV2RequestIsProposedRawAndCompletedByItsOwnId) {
  auto p = make();
  std::thread t([&] {
    auto r = p->propose_v2(v2_request(0, "PUT", "/0/version", "3.4.0"));
    ASSERT_TRUE(r.is_ok());
    EXPECT_TRUE(r->status.is_ok());
  });
  FakeRaft::until([&] { return raft_.proposed().size() == 1; });
  const uint64_t id = raft_.proposed()[0];
  EXPECT_EQ(id >> 48, 0x1234u);  // a fresh id, not the 0 it was built with
  p->complete(id, ApplyResult{});
  t.join();
  EXPECT_EQ(p->waiting(), 0u);
}

TEST_F(ProposerTest, AProposalWaitsForItsApplication) {
  auto p = make();
  std::thread t([&] {
    auto r = p->propose(put());
    ASSERT_TRUE(r.is_ok());
    EXPECT_TRUE(r->status.is_ok());
    ASSERT_TRUE(std::holds_alternative<etcdserverpb::PutResponse>(r->response));
    EXPECT_EQ(std::get<etcdserverpb::PutResponse>(r->response).header().revision(), 7);
  });
  FakeRaft::until([&] { return raft_.proposed().size() == 1; });
  EXPECT_EQ(p->waiting(), 1u);
  p->complete(raft_.proposed()[0] + 1, ApplyResult{});  // someone else's: ignored
  ApplyResult done;
  etcdserverpb::PutResponse put_resp;
  put_resp.mutable_header()->set_revision(7);
  done.response = put_resp;
  p->complete(raft_.proposed()[0], std::move(done));
  t.join();
  EXPECT_EQ(p->waiting(), 0u);
}

TEST_F(ProposerTest, ADroppedProposalSaysWhy) {
  auto p = make({.request_timeout = milliseconds(200)});
  raft_.set(/*drop=*/true, /*lead=*/0);
  // No leader: handed to Raft again and again until the request timeout.
  auto r = p->propose(put());
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().message(), "etcdserver: request timed out");
  // Every attempt proposes the whole request (once, a retry sent it empty).
  const auto ids = raft_.proposed();
  ASSERT_GT(ids.size(), 1u);
  EXPECT_EQ(ids.front(), ids.back());
  raft_.set(/*drop=*/true, /*lead=*/7);
  r = p->propose(put());
  EXPECT_EQ(r.status().message(), "etcdserver: request timed out");
  EXPECT_EQ(p->waiting(), 0u);
}

TEST_F(ProposerTest, AProposalNeverAppliedTimesOutAndALateResultIsDropped) {
  auto p = make({.request_timeout = milliseconds(50)});
  auto r = p->propose(put());
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().message(), "etcdserver: request timed out");
  EXPECT_EQ(p->waiting(), 0u);
  p->complete(raft_.proposed()[0], ApplyResult{});  // nothing waits: no effect
}

TEST_F(ProposerTest, StopFailsWaitersAndEveryLaterProposal) {
  auto p = make();
  std::thread t([&] {
    auto r = p->propose(put());
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r->status.message(), "etcdserver: server stopped");
  });
  FakeRaft::until([&] { return raft_.proposed().size() == 1; });
  p->stop();
  t.join();
  auto r = p->propose(put());
  EXPECT_EQ(r.status().message(), "etcdserver: server stopped");
  EXPECT_EQ(raft_.proposed().size(), 1u);  // the later one never reached Raft
}

TEST_F(ProposerTest, ARequestOverTheLimitIsRefusedBeforeRaft) {
  auto p = make({.max_request_bytes = 8});
  auto r = p->propose(put());
  EXPECT_EQ(r.status().message(), "etcdserver: request is too large");
  EXPECT_TRUE(raft_.proposed().empty());
}

TEST_F(ProposerTest, ReadsWaitingTogetherShareOneRound) {
  auto p = make();
  std::vector<uint64_t> got(3);
  std::thread first([&] { got[0] = *p->read_index(); });
  FakeRaft::until([&] { return raft_.reads().size() == 1; });
  // Two more arrive while the first round is in flight: they share the next.
  std::thread second([&] { got[1] = *p->read_index(); });
  std::thread third([&] { got[2] = *p->read_index(); });
  FakeRaft::until([&] { return p->reading() == 3; });
  EXPECT_EQ(raft_.reads().size(), 1u);
  p->on_read_state(raft::ReadState{7, raft_.reads()[0]});
  first.join();
  FakeRaft::until([&] { return raft_.reads().size() == 2; });
  p->on_read_state(raft::ReadState{9, "not ours"});  // ignored
  p->on_read_state(raft::ReadState{9, raft_.reads()[1]});
  second.join();
  third.join();
  EXPECT_EQ(got, (std::vector<uint64_t>{7, 9, 9}));
  EXPECT_EQ(raft_.reads().size(), 2u);
}

TEST_F(ProposerTest, ALeaderChangeFailsTheRoundInFlightAndStartsTheNext) {
  auto p = make();
  Result<uint64_t> first = Status(Code::kInternal, "unset");
  Result<uint64_t> second = Status(Code::kInternal, "unset");
  std::thread a([&] { first = p->read_index(); });
  FakeRaft::until([&] { return raft_.reads().size() == 1; });
  std::thread b([&] { second = p->read_index(); });
  FakeRaft::until([&] { return p->reading() == 2; });
  // The leader the first round went to is gone: its answer may never come.
  p->on_leader_change();
  a.join();
  EXPECT_EQ(first.status(), errors::leader_changed());
  // The waiting reader's round was sent at once and is answered.
  FakeRaft::until([&] { return raft_.reads().size() == 2; });
  p->on_read_state(raft::ReadState{5, raft_.reads()[0]});  // the old round's: ignored
  p->on_read_state(raft::ReadState{6, raft_.reads()[1]});
  b.join();
  ASSERT_TRUE(second.is_ok());
  EXPECT_EQ(*second, 6u);
  p->on_leader_change();  // nothing in flight: no effect
  EXPECT_EQ(raft_.reads().size(), 2u);
}

TEST_F(ProposerTest, AnUnansweredRoundIsResentOncePerIntervalThenTimesOut) {
  auto p = make({.request_timeout = milliseconds(300), .read_retry = milliseconds(30)});
  raft_.set(false, /*lead=*/0);
  std::vector<std::thread> readers;
  std::vector<Status> results(4);
  readers.emplace_back([&] { results[0] = p->read_index().status(); });
  FakeRaft::until([&] { return raft_.reads().size() == 1; });
  for (int i = 1; i < 4; ++i)
    readers.emplace_back([&, i] { results[i] = p->read_index().status(); });
  for (auto& t : readers) t.join();
  for (const auto& st : results) EXPECT_EQ(st.message(), "etcdserver: no leader");
  const auto reads = raft_.reads();
  // The first round: sent, then resent about every 30 ms for 300 ms, by one
  // waiter (four waiters resending each would send about four times more).
  const auto first = std::count(reads.begin(), reads.end(), reads[0]);
  EXPECT_GE(first, 3);
  EXPECT_LE(first, 12);
  const std::string out = log_.str();
  EXPECT_EQ(count(out, "timed out waiting for read index response"),
            1u + (reads.back() != reads[0]))
      << out;
  EXPECT_GE(count(out, "waiting for ReadIndex response took too long, retrying"), 2u);
  EXPECT_NE(out.find("\"retry-timeout\":\"30ms\""), std::string::npos);
}

}  // namespace
}  // namespace etcd::server
