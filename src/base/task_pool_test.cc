#include "base/task_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

namespace etcd {
namespace {

TEST(TaskPool, RunsTasksAndRefusesBeyondTheBound) {
  TaskPool pool(1, 2);
  std::promise<void> release;
  auto released = release.get_future().share();
  std::atomic<int> ran{0};
  std::promise<void> started;
  ASSERT_TRUE(pool.try_post([&] {
    started.set_value();
    released.wait();
    ++ran;
  }));
  started.get_future().wait();  // the thread is busy; the queue is empty
  EXPECT_TRUE(pool.try_post([&] { ++ran; }));
  EXPECT_TRUE(pool.try_post([&] { ++ran; }));
  EXPECT_FALSE(pool.try_post([&] { ++ran; }));  // two already wait
  release.set_value();
  pool.stop();  // runs what was queued
  EXPECT_EQ(ran.load(), 3);
  EXPECT_FALSE(pool.try_post([&] { ++ran; }));
}

}  // namespace
}  // namespace etcd
