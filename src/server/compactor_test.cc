#include "server/compactor.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <atomic>
#include <sstream>
#include <thread>
#include <vector>

#include "server/errors.h"

namespace etcd::server {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// A fake server: a revision the test moves, and a record of compactions.
class FakeHost : public CompactorHost {
 public:
  MainRev current_revision() override { return MainRev(rev); }
  bool is_leader() override { return leader; }
  Status compact(MainRev at) override {
    const int64_t revision = at.value();
    calls.push_back(revision);
    if (fail) return errors::timeout();
    if (revision <= compacted.load()) return errors::compacted();
    compacted.store(revision);
    return Status::ok();
  }
  int64_t rev = 1;
  bool leader = true;
  bool fail = false;
  std::atomic<int64_t> compacted{0};  // read by the test while the thread runs
  std::vector<int64_t> calls;
};

class CompactorTest : public ::testing::Test {
 protected:
  CompactorTest()
      : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(log_)),
        logger_(log::Level::kInfo, {sink_}, [] { return int64_t{0}; }) {}

  // Advances the clock by `step` `n` times, polling after each, while the
  // revision grows by `rev_per_step`.
  void run_for(Compactor& c, milliseconds step, int n, int64_t rev_per_step) {
    for (int i = 0; i < n; ++i) {
      clock_.advance(step);
      host_.rev += rev_per_step;
      c.poll();
    }
  }

  std::ostringstream log_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
  log::Logger logger_;
  env::ManualClock clock_;
  FakeHost host_;
};

TEST(CompactionRetention, ParsesAsEtcd) {
  EXPECT_EQ(*parse_compaction_retention("periodic", "1"), int64_t{3600} * 1000000000);
  EXPECT_EQ(*parse_compaction_retention("periodic", "0"), 0);
  EXPECT_EQ(*parse_compaction_retention("periodic", "30m"), int64_t{1800} * 1000000000);
  EXPECT_EQ(*parse_compaction_retention("periodic", "5s"), int64_t{5} * 1000000000);
  EXPECT_EQ(*parse_compaction_retention("periodic", "1.5h"), int64_t{5400} * 1000000000);
  EXPECT_EQ(*parse_compaction_retention("revision", "1000"), 1000);
  // As etcd: a duration in revision mode is taken as its nanoseconds.
  EXPECT_EQ(*parse_compaction_retention("revision", "1us"), 1000);
  EXPECT_EQ(parse_compaction_retention("periodic", "abc").status().message(),
            "error parsing CompactionRetention: time: invalid duration \"abc\"");
  EXPECT_EQ(parse_compaction_retention("revision", "-1").status().message(),
            "error parsing CompactionRetention: time: missing unit in duration \"-1\"");
  EXPECT_EQ(parse_compaction_retention("periodic", "5x").status().message(),
            "error parsing CompactionRetention: time: unknown unit \"x\" in duration \"5x\"");
}

TEST_F(CompactorTest, PeriodicSamplesEveryTenthAndCompactsTheRevisionOfOnePeriodAgo) {
  // retention 10s: samples every 1s; the first compaction waits 10s.
  host_.rev = 100;
  Compactor c(CompactionMode::kPeriodic, int64_t{10} * 1000000000, host_, logger_, clock_);
  EXPECT_EQ(c.retry_interval(), seconds(1));
  EXPECT_EQ(c.retentions(), 11u);
  // Nine wake-ups: not yet a whole period.
  run_for(c, seconds(1), 9, 10);
  EXPECT_TRUE(host_.calls.empty());
  // At 10s: compacts to the revision sampled at the start.
  run_for(c, seconds(1), 1, 10);
  ASSERT_EQ(host_.calls, std::vector<int64_t>{100});
  EXPECT_NE(log_.str().find("\"msg\":\"starting auto periodic compaction\",\"revision\":100,"
                            "\"compact-period\":\"10s\""),
            std::string::npos)
      << log_.str();
  EXPECT_NE(log_.str().find("\"msg\":\"completed auto periodic compaction\",\"revision\":100"),
            std::string::npos);
  // Then every period, each time to the oldest of the 11 samples kept: the
  // one taken a period before the latest sample (as etcd's window).
  run_for(c, seconds(1), 10, 10);
  ASSERT_EQ(host_.calls.size(), 2u);
  EXPECT_EQ(host_.calls[1], 190);  // sampled at t=9s, compacted at t=20s
  run_for(c, seconds(1), 10, 10);
  ASSERT_EQ(host_.calls.size(), 3u);
  EXPECT_EQ(host_.calls[2], 290);
}

TEST_F(CompactorTest, PeriodicWakesOnlyWhenDue) {
  Compactor c(CompactionMode::kPeriodic, int64_t{10} * 1000000000, host_, logger_, clock_);
  clock_.advance(milliseconds(999));
  EXPECT_FALSE(c.poll());
  clock_.advance(milliseconds(1));
  EXPECT_TRUE(c.poll());
  EXPECT_EQ(c.next_wakeup() - clock_.now(), seconds(1));
}

TEST_F(CompactorTest, PeriodicLongRetentionCompactsHourly) {
  // retention 3h: samples every 6 minutes; first compaction after 3h, then
  // every hour, each to the revision of 3h before.
  host_.rev = 1;
  Compactor c(CompactionMode::kPeriodic, int64_t{3} * 3600 * 1000000000, host_, logger_, clock_);
  EXPECT_EQ(c.retry_interval(), minutes(6));
  EXPECT_EQ(c.retentions(), 31u);
  run_for(c, minutes(6), 29, 1);
  EXPECT_TRUE(host_.calls.empty());
  run_for(c, minutes(6), 1, 1);  // t = 3h
  ASSERT_EQ(host_.calls, std::vector<int64_t>{1});
  run_for(c, minutes(6), 10, 1);  // t = 4h: the sample of t = 54m
  ASSERT_EQ(host_.calls.size(), 2u);
  EXPECT_EQ(host_.calls[1], 10);
}

TEST_F(CompactorTest, PeriodicSkipsAnUnchangedRevision) {
  host_.rev = 5;
  Compactor c(CompactionMode::kPeriodic, int64_t{1} * 1000000000, host_, logger_, clock_);
  run_for(c, milliseconds(100), 10, 0);
  ASSERT_EQ(host_.calls, std::vector<int64_t>{5});
  // No writes since: nothing more to compact.
  run_for(c, milliseconds(100), 50, 0);
  EXPECT_EQ(host_.calls.size(), 1u);
  // Writes resume: compactions resume.
  run_for(c, milliseconds(100), 20, 1);
  EXPECT_GE(host_.calls.size(), 2u);
}

TEST_F(CompactorTest, PeriodicRetriesAFailureAtTheNextSample) {
  host_.rev = 10;
  host_.fail = true;
  Compactor c(CompactionMode::kPeriodic, int64_t{1} * 1000000000, host_, logger_, clock_);
  run_for(c, milliseconds(100), 10, 1);
  ASSERT_EQ(host_.calls.size(), 1u);
  EXPECT_NE(log_.str().find("failed auto periodic compaction"), std::string::npos);
  EXPECT_NE(log_.str().find("\"retry-interval\":\"100ms\""), std::string::npos) << log_.str();
  host_.fail = false;
  run_for(c, milliseconds(100), 1, 1);
  ASSERT_EQ(host_.calls.size(), 2u);
  EXPECT_EQ(host_.compacted.load(), host_.calls[1]);
}

TEST_F(CompactorTest, AlreadyCompactedCountsAsDone) {
  host_.rev = 10;
  host_.compacted.store(50);  // someone compacted further meanwhile
  Compactor c(CompactionMode::kPeriodic, int64_t{1} * 1000000000, host_, logger_, clock_);
  run_for(c, milliseconds(100), 10, 0);
  ASSERT_EQ(host_.calls.size(), 1u);
  EXPECT_NE(log_.str().find("completed auto periodic compaction"), std::string::npos);
  EXPECT_EQ(log_.str().find("failed"), std::string::npos);
}

TEST_F(CompactorTest, NoCompactionWhileNotLeader) {
  host_.rev = 10;
  Compactor c(CompactionMode::kRevision, 5, host_, logger_, clock_, seconds(1));
  host_.leader = false;
  run_for(c, seconds(1), 3, 1);
  EXPECT_TRUE(host_.calls.empty());
  host_.leader = true;
  run_for(c, seconds(1), 1, 1);
  EXPECT_EQ(host_.calls, std::vector<int64_t>{14 - 5});
}

TEST_F(CompactorTest, RevisionModeCompactsRetentionBehindWhenMoved) {
  host_.rev = 3;
  Compactor c(CompactionMode::kRevision, 10, host_, logger_, clock_);  // etcd's 5 minutes
  // rev - retention <= 0: nothing.
  run_for(c, minutes(5), 1, 0);
  EXPECT_TRUE(host_.calls.empty());
  host_.rev = 25;
  clock_.advance(minutes(4));
  EXPECT_FALSE(c.poll());
  clock_.advance(minutes(1));
  EXPECT_TRUE(c.poll());
  ASSERT_EQ(host_.calls, std::vector<int64_t>{15});
  EXPECT_NE(log_.str().find("\"msg\":\"starting auto revision compaction\",\"revision\":15,"
                            "\"revision-compaction-retention\":10"),
            std::string::npos)
      << log_.str();
  EXPECT_NE(log_.str().find("\"msg\":\"completed auto revision compaction\",\"revision\":15,"
                            "\"revision-compaction-retention\":10,\"took\":"),
            std::string::npos);
  // Revision unchanged: no second compaction to the same revision.
  run_for(c, minutes(5), 2, 0);
  EXPECT_EQ(host_.calls.size(), 1u);
  host_.rev = 40;
  run_for(c, minutes(5), 1, 0);
  EXPECT_EQ(host_.calls, (std::vector<int64_t>{15, 30}));
}

TEST_F(CompactorTest, RevisionModeFailureIsRetriedNextInterval) {
  host_.rev = 20;
  host_.fail = true;
  Compactor c(CompactionMode::kRevision, 10, host_, logger_, clock_, seconds(2));
  run_for(c, seconds(2), 1, 0);
  EXPECT_NE(log_.str().find("\"msg\":\"failed auto revision compaction\""), std::string::npos);
  EXPECT_NE(log_.str().find("\"retry-interval\":\"2s\""), std::string::npos);
  host_.fail = false;
  run_for(c, seconds(2), 1, 0);
  EXPECT_EQ(host_.calls, (std::vector<int64_t>{10, 10}));
  EXPECT_EQ(host_.compacted.load(), 10);
}

TEST_F(CompactorTest, ThreadRunsOnTheRealClock) {
  env::RealClock real;
  host_.rev = 50;
  Compactor c(CompactionMode::kRevision, 10, host_, logger_, real, milliseconds(20));
  c.run();
  for (int i = 0; i < 200 && host_.compacted.load() == 0; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  c.stop();
  EXPECT_EQ(host_.compacted.load(), 40);
}

}  // namespace
}  // namespace etcd::server
