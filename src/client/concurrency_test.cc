#include "client/concurrency.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace etcd::client::concurrency {
namespace {

TEST(PrefixRangeEnd, IncrementsTheLastByteBelowFF) {
  EXPECT_EQ(prefix_range_end("lock/"), "lock0");
  EXPECT_EQ(prefix_range_end("a"), "b");
  EXPECT_EQ(prefix_range_end(std::string("a\xff", 2)), "b");
  EXPECT_EQ(prefix_range_end(std::string("\xff\xff", 2)), std::string(1, '\0'));
  EXPECT_EQ(prefix_range_end(""), std::string(1, '\0'));
}

TEST(LeaseKey, IsLowercaseHexWithoutPadding) {
  EXPECT_EQ(lease_key("m/", 0x694d77aa1e9b1e0bLL), "m/694d77aa1e9b1e0b");
  EXPECT_EQ(lease_key("m/", 0x1234), "m/1234");
}

TEST(Recipe, FirstAndLastCreateAreTopOfTheSortedPrefix) {
  auto f = recipe::first_create("e/");
  EXPECT_EQ(f.key(), "e/");
  EXPECT_EQ(f.range_end(), "e0");
  EXPECT_EQ(f.sort_target(), etcdserverpb::RangeRequest::CREATE);
  EXPECT_EQ(f.sort_order(), etcdserverpb::RangeRequest::ASCEND);
  EXPECT_EQ(f.limit(), 1);
  EXPECT_EQ(f.max_create_revision(), 0);
  auto l = recipe::last_create("e/", 41);
  EXPECT_EQ(l.sort_order(), etcdserverpb::RangeRequest::DESCEND);
  EXPECT_EQ(l.max_create_revision(), 41);
  EXPECT_EQ(l.limit(), 1);
}

TEST(Recipe, LockTxnPutsOnceAndAlwaysReadsTheOwner) {
  auto t = recipe::lock_txn("m/", "m/1234", 0x1234);
  ASSERT_EQ(t.compare_size(), 1);
  EXPECT_EQ(t.compare(0).target(), etcdserverpb::Compare::CREATE);
  EXPECT_EQ(t.compare(0).result(), etcdserverpb::Compare::EQUAL);
  EXPECT_EQ(t.compare(0).create_revision(), 0);
  ASSERT_EQ(t.success_size(), 2);
  EXPECT_EQ(t.success(0).request_put().key(), "m/1234");
  EXPECT_EQ(t.success(0).request_put().value(), "");
  EXPECT_EQ(t.success(0).request_put().lease(), 0x1234);
  EXPECT_EQ(t.success(1).request_range().key(), "m/");
  ASSERT_EQ(t.failure_size(), 2);
  EXPECT_EQ(t.failure(0).request_range().key(), "m/1234");
  EXPECT_EQ(t.failure(0).request_range().range_end(), "");
  EXPECT_EQ(t.failure(1).request_range().limit(), 1);
}

TEST(Context, CallsCallbacksOnceAndAtOnceWhenAlreadyCancelled) {
  Context ctx;
  int a = 0, b = 0, c = 0;
  ctx.on_cancel([&] { ++a; });
  const int h = ctx.on_cancel([&] { ++b; });
  ctx.remove(h);
  EXPECT_FALSE(ctx.cancelled());
  ctx.cancel();
  ctx.cancel();
  EXPECT_TRUE(ctx.cancelled());
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 0);
  ctx.on_cancel([&] { ++c; });
  EXPECT_EQ(c, 1);
  EXPECT_EQ(context_canceled().error_message(), "context canceled");
}

TEST(Context, RemoveWaitsForItsCallbackRunningOnAnotherThread) {
  Context ctx;
  std::atomic<bool> started{false}, finished{false};
  const int h = ctx.on_cancel([&] {
    started = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    finished = true;
  });
  std::thread canceller([&] { ctx.cancel(); });
  while (!started) std::this_thread::yield();
  ctx.remove(h);  // the callback may touch what the caller frees next
  EXPECT_TRUE(finished);
  canceller.join();
  ctx.remove(h);  // again: returns at once
}

}  // namespace
}  // namespace etcd::client::concurrency
