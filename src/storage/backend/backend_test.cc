#include "storage/backend/backend.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <thread>
#include <vector>

#include "base/crc32c.h"
#include "storage/backend/test_util.h"

namespace etcd::backend {
namespace {

using std::chrono::milliseconds;
using testing::manual_options;
using testing::must_open;
using testing::TempDir;

std::string key_of(int i) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "k%06d", i);
  return buf;
}

void put_one(Backend& b, Bucket bucket, std::string_view k, std::string_view v) {
  BatchTx tx = b.batch_tx();
  ASSERT_TRUE(tx.put(bucket, k, v).is_ok());
}

std::vector<std::string> keys(const std::vector<KeyValue>& kvs) {
  std::vector<std::string> out;
  for (const auto& kv : kvs) out.push_back(kv.key);
  return out;
}

class BackendTest : public ::testing::Test {
 protected:
  std::string db_path() const { return dir_.path() + "/member/snap/db"; }
  std::unique_ptr<Backend> open(const Options& o) { return must_open(db_path(), o, clock_); }

  TempDir dir_;
  env::ManualClock clock_;
};

TEST_F(BackendTest, PutGetRangeDeleteAcrossBuckets) {
  auto b = open(manual_options());
  {
    BatchTx tx = b->batch_tx();
    ASSERT_TRUE(tx.put(Bucket::kKey, "a", "key-a").is_ok());
    ASSERT_TRUE(tx.put(Bucket::kLease, "a", "lease-a").is_ok());
    ASSERT_TRUE(tx.put(Bucket::kAuthUsers, "root", "u").is_ok());
    ASSERT_TRUE(tx.put(Bucket::kAlarm, "alarm", "").is_ok());  // etcd stores empty values
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(tx.put(Bucket::kKey, key_of(i), "v").is_ok());
  }
  // Buffered (not committed yet) and committed reads answer the same.
  for (int pass = 0; pass < 2; ++pass) {
    ReadTx r = b->read_tx();
    EXPECT_EQ(r.get(Bucket::kKey, "a"), "key-a");
    EXPECT_EQ(r.get(Bucket::kLease, "a"), "lease-a");
    EXPECT_EQ(r.get(Bucket::kAlarm, "alarm"), "");
    EXPECT_FALSE(r.get(Bucket::kMeta, "a").has_value());
    EXPECT_EQ(keys(r.range(Bucket::kKey, key_of(1), key_of(4))),
              (std::vector<std::string>{key_of(1), key_of(2), key_of(3)}));
    EXPECT_EQ(keys(r.range(Bucket::kKey, key_of(1), "", 2)),
              (std::vector<std::string>{key_of(1), key_of(2)}));
    EXPECT_EQ(r.range(Bucket::kKey, "", "").size(), 6u);
    EXPECT_EQ(r.range(Bucket::kAuthUsers, "", "").size(), 1u);
    if (pass == 0) b->force_commit();
  }
  EXPECT_EQ(b->stats().commits, 1u);
  {
    BatchTx tx = b->batch_tx();
    tx.del(Bucket::kKey, "a");
    tx.del(Bucket::kKey, key_of(2));
    tx.del(Bucket::kKey, "never-existed");
  }
  ReadTx r = b->read_tx();
  EXPECT_FALSE(r.get(Bucket::kKey, "a").has_value());
  EXPECT_EQ(r.get(Bucket::kLease, "a"), "lease-a");  // other buckets untouched
  EXPECT_EQ(keys(r.range(Bucket::kKey, "", "")),
            (std::vector<std::string>{key_of(0), key_of(1), key_of(3), key_of(4)}));
}

TEST_F(BackendTest, RangeMergesBufferOverCommittedData) {
  auto b = open(manual_options());
  {
    BatchTx tx = b->batch_tx();
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(tx.put(Bucket::kKey, key_of(i), "old").is_ok());
  }
  b->force_commit();
  {
    BatchTx tx = b->batch_tx();
    for (int i = 0; i < 10; i += 2) tx.del(Bucket::kKey, key_of(i));  // hide the even keys
    ASSERT_TRUE(tx.put(Bucket::kKey, key_of(3), "new").is_ok());
    ASSERT_TRUE(tx.put(Bucket::kKey, key_of(10), "new").is_ok());
  }
  ReadTx r = b->read_tx();
  auto all = r.range(Bucket::kKey, "", "");
  EXPECT_EQ(keys(all), (std::vector<std::string>{key_of(1), key_of(3), key_of(5), key_of(7),
                                                 key_of(9), key_of(10)}));
  EXPECT_EQ(all[1].value, "new");
  EXPECT_EQ(all[2].value, "old");
  // The limit counts visible keys, not the tombstones skipped on the way.
  EXPECT_EQ(keys(r.range(Bucket::kKey, key_of(0), "", 2)),
            (std::vector<std::string>{key_of(1), key_of(3)}));
  int visited = 0;
  r.for_each(Bucket::kKey, "", "", [&](std::string_view, std::string_view) {
    return ++visited < 3;  // stops early
  });
  EXPECT_EQ(visited, 3);
}

TEST_F(BackendTest, WriterReadsItsOwnScope) {
  auto b = open(manual_options());
  put_one(*b, Bucket::kKey, "committed", "1");
  b->force_commit();
  BatchTx tx = b->batch_tx();
  ASSERT_TRUE(tx.put(Bucket::kKey, "mine", "2").is_ok());
  tx.del(Bucket::kKey, "committed");
  EXPECT_EQ(tx.get(Bucket::kKey, "mine"), "2");
  EXPECT_FALSE(tx.get(Bucket::kKey, "committed").has_value());
  EXPECT_EQ(keys(tx.range(Bucket::kKey, "", "")), (std::vector<std::string>{"mine"}));
  // Writes made after the writer's first read are seen too.
  ASSERT_TRUE(tx.put(Bucket::kKey, "later", "3").is_ok());
  EXPECT_EQ(tx.get(Bucket::kKey, "later"), "3");
  EXPECT_EQ(tx.ops(), 3u);
}

TEST_F(BackendTest, RejectsKeysLmdbCannotStore) {
  auto b = open(manual_options());
  EXPECT_EQ(b->max_key_size(), 511u);
  BatchTx tx = b->batch_tx();
  EXPECT_EQ(tx.put(Bucket::kKey, "", "v").code(), Code::kInvalidArgument);
  EXPECT_EQ(tx.put(Bucket::kKey, std::string(512, 'x'), "v").code(), Code::kInvalidArgument);
  EXPECT_TRUE(tx.put(Bucket::kKey, std::string(511, 'x'), "v").is_ok());
}

TEST_F(BackendTest, UnscopedWritesAreInvisibleUntilTheScopeCloses) {
  auto b = open(manual_options());
  std::unique_ptr<BatchTx> tx(new BatchTx(b->batch_tx()));
  ASSERT_TRUE(tx->put(Bucket::kKey, "k", "v").is_ok());
  EXPECT_FALSE(b->read_tx().get(Bucket::kKey, "k").has_value());
  tx.reset();  // closing the scope acknowledges the write
  EXPECT_EQ(b->read_tx().get(Bucket::kKey, "k"), "v");
}

TEST_F(BackendTest, BatchCommitsAtTheLimit) {
  Options o = manual_options();
  o.batch_limit = 10;
  auto b = open(o);
  for (int i = 0; i < 9; ++i) put_one(*b, Bucket::kKey, key_of(i), "v");
  EXPECT_EQ(b->stats().commits, 0u);
  EXPECT_EQ(b->stats().buffered_ops, 9u);
  put_one(*b, Bucket::kKey, key_of(9), "v");
  EXPECT_EQ(b->stats().commits, 1u);
  EXPECT_EQ(b->stats().buffered_ops, 0u);
  // A scope larger than the limit commits once, when it closes.
  {
    BatchTx tx = b->batch_tx();
    for (int i = 0; i < 25; ++i) ASSERT_TRUE(tx.put(Bucket::kKey, key_of(100 + i), "v").is_ok());
  }
  EXPECT_EQ(b->stats().commits, 2u);
}

TEST_F(BackendTest, BatchCommitsAtTheIntervalOfTheInjectedClock) {
  Options o = manual_options();
  o.batch_interval = milliseconds(100);
  auto b = open(o);
  EXPECT_FALSE(b->maybe_commit());  // nothing buffered
  put_one(*b, Bucket::kKey, "a", "1");
  clock_.advance(milliseconds(99));
  EXPECT_FALSE(b->maybe_commit());
  EXPECT_EQ(b->stats().commits, 0u);
  clock_.advance(milliseconds(1));
  EXPECT_TRUE(b->maybe_commit());
  EXPECT_EQ(b->stats().commits, 1u);
  // Closing a scope also checks the interval, measured from the batch's
  // first write.
  put_one(*b, Bucket::kKey, "b", "1");
  clock_.advance(milliseconds(100));
  EXPECT_EQ(b->stats().commits, 1u);
  put_one(*b, Bucket::kKey, "c", "1");
  EXPECT_EQ(b->stats().commits, 2u);
}

TEST_F(BackendTest, BackgroundCommitterCommitsOnItsOwn) {
  env::RealClock real;
  Options o;
  o.batch_interval = milliseconds(20);
  o.map_size_bytes = uint64_t{64} << 20;
  auto b = must_open(db_path(), o, real);
  put_one(*b, Bucket::kKey, "a", "1");
  for (int i = 0; i < 200 && b->stats().commits == 0; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(b->stats().commits, 1u);
  EXPECT_EQ(b->stats().buffered_ops, 0u);
}

TEST_F(BackendTest, ConsistentIndexPersistsAcrossReopen) {
  auto b = open(manual_options());
  EXPECT_EQ(b->consistent_index(), (ConsistentIndex{Index(0), Term(0)}));
  {
    BatchTx tx = b->batch_tx();
    ASSERT_TRUE(tx.put(Bucket::kKey, "a", "1").is_ok());
    tx.set_consistent_index({Index(42), Term(7)});
  }
  EXPECT_EQ(b->consistent_index(), (ConsistentIndex{Index(42), Term(7)}));
  EXPECT_EQ(b->read_tx().get(Bucket::kMeta, kMetaConsistentIndex), u64_value(42));
  EXPECT_EQ(b->read_tx().get(Bucket::kMeta, kMetaTerm), u64_value(7));
  b->close();
  b = open(manual_options());
  EXPECT_EQ(b->consistent_index(), (ConsistentIndex{Index(42), Term(7)}));
  EXPECT_EQ(b->committed_consistent_index(), (ConsistentIndex{Index(42), Term(7)}));
}

TEST_F(BackendTest, CrashKeepsDataAndIndexTogether) {
  Options o = manual_options();
  o.batch_limit = 100;
  auto write = [](Backend& b, int from, int to, uint64_t index) {
    BatchTx tx = b.batch_tx();
    for (int i = from; i < to; ++i) ASSERT_TRUE(tx.put(Bucket::kKey, key_of(i), "v").is_ok());
    tx.set_consistent_index({Index(index), Term(1)});
  };
  auto b = open(o);
  write(*b, 0, 10, 1);
  b->force_commit();
  write(*b, 10, 20, 2);  // acknowledged, buffered, not committed
  EXPECT_EQ(b->committed_consistent_index().index, Index(1));
  b->close_without_commit_for_testing();

  b = open(o);  // the crash lost entry 2's data and its index: WAL replay redoes both
  EXPECT_EQ(b->consistent_index().index, Index(1));
  EXPECT_EQ(b->read_tx().range(Bucket::kKey, "", "").size(), 10u);
  write(*b, 10, 20, 2);
  b->force_commit();
  b->close_without_commit_for_testing();

  b = open(o);  // committed: both survive
  EXPECT_EQ(b->consistent_index().index, Index(2));
  EXPECT_EQ(b->read_tx().range(Bucket::kKey, "", "").size(), 20u);
  // A limit-triggered commit carries the index of the scope that filled it.
  write(*b, 20, 120, 3);
  EXPECT_EQ(b->stats().buffered_ops, 0u);
  b->close_without_commit_for_testing();
  b = open(o);
  EXPECT_EQ(b->consistent_index().index, Index(3));
  EXPECT_EQ(b->read_tx().range(Bucket::kKey, "", "").size(), 120u);
}

TEST_F(BackendTest, CloseCommits) {
  auto b = open(manual_options());
  put_one(*b, Bucket::kCluster, kClusterVersion, "3.5.0");
  b->close();
  b->close();  // idempotent
  b = open(manual_options());
  EXPECT_EQ(b->read_tx().get(Bucket::kCluster, kClusterVersion), "3.5.0");
}

TEST_F(BackendTest, ReadTxIsASnapshot) {
  auto b = open(manual_options());
  put_one(*b, Bucket::kKey, "a", "1");
  ReadTx before = b->read_tx();
  put_one(*b, Bucket::kKey, "a", "2");
  put_one(*b, Bucket::kKey, "b", "2");
  b->force_commit();
  put_one(*b, Bucket::kKey, "c", "3");
  EXPECT_EQ(before.get(Bucket::kKey, "a"), "1");
  EXPECT_FALSE(before.get(Bucket::kKey, "b").has_value());
  EXPECT_EQ(before.range(Bucket::kKey, "", "").size(), 1u);
  ReadTx after = b->read_tx();
  EXPECT_EQ(after.get(Bucket::kKey, "a"), "2");
  EXPECT_EQ(after.range(Bucket::kKey, "", "").size(), 3u);
  // A ReadTx moves to another thread (MDB_NOTLS).
  std::thread([t = std::move(before)] { EXPECT_EQ(t.get(Bucket::kKey, "a"), "1"); }).join();
}

// Every scope writes the same version to kKeys keys; a reader must always
// see one version on all of them (atomic scopes, consistent snapshots),
// never older than the last version acknowledged before it began.
TEST_F(BackendTest, ConcurrentReadersSeeConsistentAcknowledgedState) {
  env::RealClock real;
  Options o;
  o.batch_limit = 64;  // many commits while readers run
  o.batch_interval = milliseconds(5);
  o.max_readers = 8;
  o.map_size_bytes = uint64_t{64} << 20;
  auto b = must_open(db_path(), o, real);
  constexpr int kKeys = 8;
  constexpr int kVersions = 400;
  std::atomic<int> acknowledged{0};
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::atomic<int> reads{0};

  std::thread writer([&] {
    for (int v = 1; v <= kVersions; ++v) {
      {
        BatchTx tx = b->batch_tx();
        for (int k = 0; k < kKeys; ++k) {
          if (!tx.put(Bucket::kKey, key_of(k), std::to_string(v)).is_ok()) failures++;
        }
      }
      acknowledged.store(v, std::memory_order_release);
    }
    done = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      while (!done.load()) {
        const int floor = acknowledged.load(std::memory_order_acquire);
        ReadTx tx = b->read_tx();
        auto kvs = tx.range(Bucket::kKey, "", "");
        reads++;
        if (floor == 0 && kvs.empty()) continue;
        if (kvs.size() != kKeys) {
          failures++;
          continue;
        }
        for (const auto& kv : kvs) {
          if (kv.value != kvs[0].value) failures++;
        }
        if (std::stoi(kvs[0].value) < floor) failures++;
      }
    });
  }
  writer.join();
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(reads.load(), 0);
  EXPECT_GT(b->stats().commits, 0u);
  EXPECT_EQ(b->read_tx().get(Bucket::kKey, key_of(0)), std::to_string(kVersions));
}

// Read-your-writes across threads: the moment a scope is closed, a ReadTx
// begun on another thread sees it, whether or not it was committed.
TEST_F(BackendTest, AcknowledgedWriteIsVisibleToAnotherThread) {
  env::RealClock real;
  Options o;
  o.batch_limit = 50;
  o.map_size_bytes = uint64_t{64} << 20;
  auto b = must_open(db_path(), o, real);
  constexpr int kWrites = 1000;
  std::atomic<int> acked{-1};
  std::atomic<int> misses{0};
  std::thread reader([&] {
    int last = -1;
    while (last < kWrites - 1) {
      int i = acked.load(std::memory_order_acquire);
      if (i == last) {
        std::this_thread::yield();
        continue;
      }
      if (!b->read_tx().get(Bucket::kKey, key_of(i)).has_value()) misses++;
      last = i;
    }
  });
  for (int i = 0; i < kWrites; ++i) {
    put_one(*b, Bucket::kKey, key_of(i), "v");
    acked.store(i, std::memory_order_release);
  }
  reader.join();
  EXPECT_EQ(misses.load(), 0);
}

TEST_F(BackendTest, ReadersBeyondMaxReadersWaitForASlot) {
  Options o = manual_options();
  o.max_readers = 2;
  auto b = open(o);
  put_one(*b, Bucket::kKey, "a", "1");
  auto r1 = std::make_unique<ReadTx>(b->read_tx());
  auto r2 = std::make_unique<ReadTx>(b->read_tx());
  EXPECT_EQ(b->stats().active_readers, 2u);
  std::atomic<bool> got{false};
  std::thread third([&] {
    EXPECT_EQ(b->read_tx().get(Bucket::kKey, "a"), "1");
    got = true;
  });
  std::this_thread::sleep_for(milliseconds(20));
  EXPECT_FALSE(got.load());  // all slots taken
  r1.reset();
  third.join();
  EXPECT_TRUE(got.load());
  r2.reset();
  EXPECT_EQ(b->stats().active_readers, 0u);
}

TEST_F(BackendTest, DefragShrinksAFragmentedFile) {
  auto b = open(manual_options());
  const std::string value(1024, 'v');
  for (int batch = 0; batch < 4; ++batch) {
    BatchTx tx = b->batch_tx();
    for (int i = 0; i < 500; ++i) {
      ASSERT_TRUE(tx.put(Bucket::kKey, key_of(batch * 500 + i), value).is_ok());
    }
  }
  b->force_commit();
  {
    BatchTx tx = b->batch_tx();
    for (int i = 0; i < 2000; ++i) {
      if (i % 10 != 0) tx.del(Bucket::kKey, key_of(i));
    }
  }
  b->force_commit();
  const uint32_t hash_before = b->hash();
  const int64_t size_before = b->size();
  EXPECT_LT(b->size_in_use(), size_before / 2);  // freed pages are not "in use"

  auto r = b->defrag();
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->size_before, size_before);
  EXPECT_LT(r->size_after, size_before / 3);
  EXPECT_EQ(r->size_after, b->size());
  EXPECT_LE(r->size_in_use_after, r->size_after);
  EXPECT_EQ(b->hash(), hash_before);
  EXPECT_EQ(b->read_tx().range(Bucket::kKey, "", "").size(), 200u);
  // Still writable, and the result survives a reopen.
  put_one(*b, Bucket::kKey, "after", "defrag");
  b->close();
  b = open(manual_options());
  EXPECT_EQ(b->read_tx().range(Bucket::kKey, "", "").size(), 201u);
  struct stat st;
  ASSERT_EQ(::stat(db_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(BackendTest, WritesAndReadsDuringDefragAreNotLost) {
  env::RealClock real;
  Options o;
  o.batch_limit = 100;
  o.map_size_bytes = uint64_t{64} << 20;
  auto b = must_open(db_path(), o, real);
  {
    BatchTx tx = b->batch_tx();
    for (int i = 0; i < 3000; ++i) {
      ASSERT_TRUE(tx.put(Bucket::kLease, key_of(i), std::string(200, 'x')).is_ok());
    }
  }
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::atomic<int> read_errors{0};
  // The writer keeps writing: its scopes wait while a defrag holds the
  // writer lock and go on afterwards.
  std::thread writer([&] {
    for (int i = 0; i < 100000 && !stop; ++i) {
      put_one(*b, Bucket::kKey, key_of(i), "w");
      written = i + 1;
    }
  });
  std::thread reader([&] {
    while (!stop) {
      if (b->read_tx().range(Bucket::kLease, "", "").size() != 3000) read_errors++;
    }
  });
  auto wait_for_writes = [&](int n) {
    for (int i = 0; i < 5000 && written.load() < n; ++i)
      std::this_thread::sleep_for(milliseconds(1));
  };
  wait_for_writes(10);
  const int before = written.load();
  for (int i = 0; i < 3; ++i) {
    auto r = b->defrag();
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    wait_for_writes(written.load() + 10);
  }
  stop = true;
  writer.join();
  reader.join();
  EXPECT_GT(written.load(), before + 20);
  EXPECT_EQ(read_errors.load(), 0);
  auto kvs = b->read_tx().range(Bucket::kKey, "", "");
  EXPECT_EQ(static_cast<int>(kvs.size()), written.load());
  b->close();
  b = must_open(db_path(), o, real);
  EXPECT_EQ(static_cast<int>(b->read_tx().range(Bucket::kKey, "", "").size()), written.load());
}

TEST_F(BackendTest, WritesGoOnWhileADefragCopies) {
  env::RealClock real;
  Options o;
  o.batch_limit = 50;  // many batches pile up while the copy runs
  o.map_size_bytes = uint64_t{512} << 20;
  auto b = must_open(db_path(), o, real);
  // Enough data that the copy takes a while.
  const std::string big(4096, 'x');
  for (int batch = 0; batch < 20; ++batch) {
    BatchTx tx = b->batch_tx();
    for (int i = 0; i < 1000; ++i) {
      ASSERT_TRUE(tx.put(Bucket::kLease, key_of(batch * 1000 + i), big).is_ok());
    }
  }
  b->force_commit();
  std::atomic<bool> defrag_started{false}, defrag_done{false};
  std::thread defrag([&] {
    defrag_started = true;
    auto r = b->defrag();
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    defrag_done = true;
  });
  while (!defrag_started) std::this_thread::yield();
  // Write and read back until the defrag ends: some writes must complete,
  // and be readable, while it still runs.
  int written = 0, during = 0;
  while (!defrag_done && written < 200000) {
    put_one(*b, Bucket::kKey, key_of(written), "w" + std::to_string(written));
    ++written;
    auto v = b->read_tx().get(Bucket::kKey, key_of(written - 1));
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(*v, "w" + std::to_string(written - 1));
    if (!defrag_done) ++during;
  }
  defrag.join();
  EXPECT_GT(during, 50) << "writes blocked during the defrag";
  for (int i = 0; i < 10; ++i) put_one(*b, Bucket::kKey, key_of(written++), "after");
  b->close();
  b = must_open(db_path(), o, real);
  auto kvs = b->read_tx().range(Bucket::kKey, "", "");
  ASSERT_EQ(static_cast<int>(kvs.size()), written);
  EXPECT_EQ(*b->read_tx().get(Bucket::kKey, key_of(0)), "w0");
  EXPECT_EQ(b->read_tx().range(Bucket::kLease, "", "").size(), 20000u);
}

TEST_F(BackendTest, MapGrowsWhenFull) {
  Options o = manual_options();
  o.map_size_bytes = uint64_t{1} << 20;
  o.batch_limit = 100;
  auto b = open(o);
  const std::string value(4096, 'm');
  for (int i = 0; i < 1000; ++i) put_one(*b, Bucket::kKey, key_of(i), value);  // ~4 MiB
  b->force_commit();
  Stats s = b->stats();
  EXPECT_GE(s.map_grows, 2u);
  EXPECT_GE(s.map_size_bytes, uint64_t{4} << 20);
  EXPECT_EQ(b->read_tx().range(Bucket::kKey, "", "").size(), 1000u);
  b->close();
  b = open(o);  // the grown map size is kept in the file
  EXPECT_EQ(b->read_tx().range(Bucket::kKey, "", "").size(), 1000u);
}

TEST_F(BackendTest, SizeInUseFollowsLivePages) {
  auto b = open(manual_options());
  const int64_t empty_in_use = b->size_in_use();
  EXPECT_GT(empty_in_use, 0);
  EXPECT_LE(empty_in_use, b->size());
  {
    BatchTx tx = b->batch_tx();
    for (int i = 0; i < 1000; ++i) {
      ASSERT_TRUE(tx.put(Bucket::kKey, key_of(i), std::string(512, 'x')).is_ok());
    }
  }
  b->force_commit();
  const int64_t full_in_use = b->size_in_use();
  EXPECT_GT(full_in_use, 500 * 1000);
  {
    BatchTx tx = b->batch_tx();
    for (int i = 0; i < 1000; ++i) tx.del(Bucket::kKey, key_of(i));
  }
  b->force_commit();
  EXPECT_LT(b->size_in_use(), full_in_use / 4);
  EXPECT_GE(b->size(), full_in_use);  // the file does not shrink without defrag
}

TEST_F(BackendTest, HashCoversBucketsKeysAndValues) {
  auto b = open(manual_options());
  // An empty backend hashes the ten bucket names in byte order.
  uint32_t expected = 0;
  for (Bucket bk : buckets_in_name_order()) {
    expected = crc32c::extend(expected, bucket_name(bk).data(), bucket_name(bk).size());
  }
  EXPECT_EQ(b->hash(), expected);
  {
    BatchTx tx = b->batch_tx();
    ASSERT_TRUE(tx.put(Bucket::kKey, "k", "v").is_ok());
    tx.set_consistent_index({Index(5), Term(2)});
  }
  const uint32_t buffered = b->hash();
  b->force_commit();
  EXPECT_EQ(b->hash(), buffered);  // the buffer is part of the hashed state
  // The consistent index and term are ignored by default...
  {
    BatchTx tx = b->batch_tx();
    tx.set_consistent_index({Index(6), Term(3)});
  }
  EXPECT_EQ(b->hash(), buffered);
  EXPECT_NE(b->hash({}), buffered);
  // ...values are not.
  put_one(*b, Bucket::kKey, "k", "w");
  EXPECT_NE(b->hash(), buffered);
}

TEST_F(BackendTest, CreatesPrivateDirectoriesAndFile) {
  auto b = open(manual_options());
  struct stat st;
  ASSERT_EQ(::stat((dir_.path() + "/member").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat(db_path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(BackendTest, OneProcessAtATime) {
  auto b = open(manual_options());
  // flock is per open file description: a second open fails even in-process.
  auto second = Backend::open(db_path(), manual_options(), clock_);
  ASSERT_FALSE(second.is_ok());
  EXPECT_EQ(second.status().code(), Code::kUnavailable);
  b.reset();
  EXPECT_TRUE(Backend::open(db_path(), manual_options(), clock_).is_ok());
}

TEST_F(BackendTest, OpenRejectsANonLmdbFile) {
  {
    auto b = open(manual_options());  // creates the directories
  }
  ASSERT_EQ(::truncate(db_path().c_str(), 0), 0);
  FILE* f = std::fopen(db_path().c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs(std::string(8192, 'z').c_str(), f);
  std::fclose(f);
  auto b = Backend::open(db_path(), manual_options(), clock_);
  ASSERT_FALSE(b.is_ok());
  EXPECT_EQ(b.status().code(), Code::kDataLoss) << b.status().to_string();
}

}  // namespace
}  // namespace etcd::backend
