#include "base/worker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <vector>

namespace etcd {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;

TEST(Worker, StopWakesALongSleepAndJoins) {
  Worker w;
  std::atomic<int> rounds{0};
  std::promise<void> slept;
  w.start([&](Worker& self) {
    ++rounds;
    slept.set_value();
    while (self.sleep_for(hours(1))) ++rounds;
  });
  slept.get_future().wait();
  w.stop();  // would hang for an hour if the sleep were not woken
  EXPECT_FALSE(w.running());
  EXPECT_EQ(rounds.load(), 1);
  EXPECT_TRUE(w.stopping());
}

TEST(Worker, KickEndsTheCurrentSleepAndIsConsumed) {
  Worker w;
  std::promise<void> first, second;
  std::atomic<int> phase{0};
  w.start([&](Worker& self) {
    first.set_value();
    if (!self.sleep_for(hours(1))) return;  // ended by the kick below
    phase = 1;
    second.set_value();
    // The kick was consumed: this sleep lasts until stop().
    self.sleep_for(hours(1));
    phase = self.stopping() ? 2 : 3;
  });
  first.get_future().wait();
  w.kick();
  second.get_future().wait();
  EXPECT_EQ(phase.load(), 1);
  w.stop();
  EXPECT_EQ(phase.load(), 2);
}

TEST(Worker, AKickBeforeTheSleepIsNotLost) {
  Worker w;
  std::promise<void> kicked;
  std::atomic<bool> woke{false};
  w.kick();  // before start: cleared by start()
  w.start([&](Worker& self) {
    kicked.get_future().wait();
    woke = self.sleep_for(hours(1));  // returns at once: kicked meanwhile
  });
  w.kick();
  kicked.set_value();
  for (int i = 0; i < 5000 && !woke; ++i) std::this_thread::sleep_for(milliseconds(1));
  EXPECT_TRUE(woke.load());
  w.stop();
}

TEST(Worker, WaitSaysWhatWokeIt) {
  Worker w;
  std::promise<std::vector<Worker::Wake>> out;
  std::promise<void> timed_out, kicked;
  w.start([&](Worker& self) {
    std::vector<Worker::Wake> wakes;
    wakes.push_back(self.wait_for(milliseconds(1)));
    timed_out.set_value();
    wakes.push_back(self.wait_for(hours(1)));  // the kick
    kicked.set_value();
    wakes.push_back(self.wait_for(hours(1)));  // the stop
    out.set_value(wakes);
  });
  timed_out.get_future().wait();
  w.kick();
  kicked.get_future().wait();
  w.stop();
  EXPECT_EQ(out.get_future().get(),
            (std::vector<Worker::Wake>{Worker::Wake::kTimeout, Worker::Wake::kKick,
                                       Worker::Wake::kStop}));
}

TEST(Worker, RestartsAfterStop) {
  Worker w;
  std::atomic<int> runs{0};
  for (int i = 0; i < 3; ++i) {
    w.start([&](Worker& self) {
      ++runs;
      while (self.sleep_for(milliseconds(1))) {
      }
    });
    w.stop();
  }
  EXPECT_EQ(runs.load(), 3);
  w.stop();  // idempotent
}

}  // namespace
}  // namespace etcd
