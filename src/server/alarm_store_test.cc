#include "server/alarm_store.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "env/clock.h"

namespace etcd::server {
namespace {

TEST(AlarmStoreTest, ActivateDeactivatePersistAndText) {
  auto dir =
      std::filesystem::path(::testing::TempDir()) / ("alarm_store_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  env::ManualClock clock;
  backend::Options o;
  o.background_commit = false;
  auto b = backend::Backend::open((dir / "db").string(), o, clock);
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  {
    AlarmStore s;
    s.load(**b);
    EXPECT_TRUE(s.get(etcdserverpb::NONE).empty());
    backend::BatchTx tx = (*b)->batch_tx();
    auto m = s.activate(MemberId(7), etcdserverpb::NOSPACE, tx);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(alarm_text(*m), "memberID:7 alarm:NOSPACE ");
    EXPECT_FALSE(s.activate(MemberId(7), etcdserverpb::NOSPACE, tx).has_value());
    EXPECT_TRUE(s.activate(MemberId(3), etcdserverpb::CORRUPT, tx).has_value());
    EXPECT_EQ(s.get(etcdserverpb::NONE).size(), 2u);
    EXPECT_EQ(s.get(etcdserverpb::NOSPACE).size(), 1u);
  }
  (*b)->close();
  b = backend::Backend::open((dir / "db").string(), o, clock);
  ASSERT_TRUE(b.is_ok());
  {
    AlarmStore s;
    s.load(**b);
    auto all = s.get(etcdserverpb::NONE);
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].alarm(), etcdserverpb::NOSPACE);
    EXPECT_EQ(all[0].memberid(), 7u);
    backend::BatchTx tx = (*b)->batch_tx();
    EXPECT_FALSE(s.deactivate(MemberId(3), etcdserverpb::NOSPACE, tx).has_value());
    EXPECT_TRUE(s.deactivate(MemberId(7), etcdserverpb::NOSPACE, tx).has_value());
    EXPECT_TRUE(s.get(etcdserverpb::NOSPACE).empty());
  }
  (*b)->close();
  b = backend::Backend::open((dir / "db").string(), o, clock);
  ASSERT_TRUE(b.is_ok());
  AlarmStore s;
  s.load(**b);
  EXPECT_EQ(s.get(etcdserverpb::NONE).size(), 1u);
  (*b)->close();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace etcd::server
