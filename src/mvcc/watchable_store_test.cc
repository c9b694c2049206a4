#include "mvcc/watchable_store.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "base/rng.h"

namespace etcd::mvcc {
namespace {

using Kind = WatchResponse::Kind;
const std::string kAll("\0", 1);

class WatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("watch_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    open();
  }
  void TearDown() override {
    close();
    std::filesystem::remove_all(dir_);
  }
  void open(std::chrono::milliseconds progress = std::chrono::milliseconds(0)) {
    std::filesystem::remove_all(dir_);
    backend::Options o;
    o.background_commit = false;
    auto b = backend::Backend::open((dir_ / "db").string(), o, clock_);
    ASSERT_TRUE(b.is_ok()) << b.status().to_string();
    backend_ = std::move(b).value();
    kv_ = std::make_unique<KVStore>(*backend_);
    ASSERT_TRUE(kv_->restore().is_ok());
    ws_ = std::make_unique<WatchableStore>(*kv_, clock_, progress);
  }
  void close() {
    streams_.clear();
    ws_.reset();
    kv_.reset();
    if (backend_) backend_->close();
    backend_.reset();
  }
  WatchStream& stream(size_t capacity = WatchableStore::kChanBufLen) {
    streams_.push_back(ws_->new_stream(nullptr, capacity));
    return *streams_.back();
  }
  int64_t put(const std::string& k, const std::string& v) {
    auto t = kv_->write();
    t->put(k, v, 0);
    int64_t rev = t->write_rev().value();
    t->end();
    return rev;
  }
  int64_t del(const std::string& k, const std::string& end = "") {
    auto t = kv_->write();
    t->delete_range(KeyRange{k, end});
    int64_t rev = t->write_rev().value();
    t->end();
    return rev;
  }
  static std::vector<WatchResponse> drain(WatchStream& s) {
    std::vector<WatchResponse> out;
    WatchResponse r;
    while (s.next(&r)) out.push_back(std::move(r));
    return out;
  }
  // Events of the drained kEvents responses as "PUT k=v@rev" strings.
  static std::vector<std::string> events(const std::vector<WatchResponse>& rs) {
    std::vector<std::string> out;
    for (const auto& r : rs) {
      if (r.kind != Kind::kEvents) continue;
      for (const auto& ev : r.events) {
        out.push_back((ev.type() == mvccpb::Event::PUT ? "PUT " : "DELETE ") + ev.kv().key() + "=" +
                      ev.kv().value() + "@" + std::to_string(ev.kv().mod_revision()));
      }
    }
    return out;
  }

  std::filesystem::path dir_;
  env::ManualClock clock_;
  std::unique_ptr<backend::Backend> backend_;
  std::unique_ptr<KVStore> kv_;
  std::unique_ptr<WatchableStore> ws_;
  std::vector<std::unique_ptr<WatchStream>> streams_;
};

TEST_F(WatchTest, SyncedDeliveryOfOneKey) {
  auto& s = stream();
  auto id = s.watch(kAutoWatchId, "a", "", MainRev(0), {});
  ASSERT_TRUE(id.is_ok());
  EXPECT_EQ(*id, 0);
  put("a", "1");
  put("b", "1");
  del("a");
  auto rs = drain(s);
  ASSERT_GE(rs.size(), 1u);
  EXPECT_EQ(rs[0].kind, Kind::kCreated);
  EXPECT_EQ(rs[0].revision, 1);
  EXPECT_EQ(events(rs), (std::vector<std::string>{"PUT a=1@2", "DELETE a=@4"}));
  EXPECT_EQ(rs.size(), 3u);  // one response per revision
  EXPECT_EQ(ws_->counts().synced, 1u);
}

TEST_F(WatchTest, PrefixRangeAndAllKeys) {
  auto& s = stream();
  ASSERT_TRUE(s.watch(kAutoWatchId, "p/", "p0", MainRev(0), {}).is_ok());  // prefix p/
  ASSERT_TRUE(s.watch(kAutoWatchId, "", kAll, MainRev(0), {}).is_ok());    // every key
  ASSERT_TRUE(s.watch(kAutoWatchId, "m", kAll, MainRev(0), {}).is_ok());   // >= m
  put("p/x", "1");
  put("a", "2");
  put("z", "3");
  std::map<int64_t, std::vector<std::string>> by_id;
  for (const auto& r : drain(s)) {
    if (r.kind == Kind::kEvents) {
      for (const auto& e : events({r})) by_id[r.watch_id].push_back(e);
    }
  }
  EXPECT_EQ(by_id[0], (std::vector<std::string>{"PUT p/x=1@2"}));
  EXPECT_EQ(by_id[1], (std::vector<std::string>{"PUT p/x=1@2", "PUT a=2@3", "PUT z=3@4"}));
  EXPECT_EQ(by_id[2], (std::vector<std::string>{"PUT p/x=1@2", "PUT z=3@4"}));
}

TEST_F(WatchTest, HistoryReplayThenSynced) {
  put("a", "1");
  put("a", "2");
  put("b", "x");
  put("a", "3");
  auto& s = stream();
  ASSERT_TRUE(s.watch(kAutoWatchId, "a", "", MainRev(3), {}).is_ok());
  EXPECT_EQ(ws_->counts().unsynced, 1u);
  EXPECT_EQ(ws_->sync_watchers(), 0u);
  EXPECT_EQ(ws_->counts().synced, 1u);
  put("a", "4");
  auto rs = drain(s);
  EXPECT_EQ(events(rs), (std::vector<std::string>{"PUT a=2@3", "PUT a=3@5", "PUT a=4@6"}));
}

TEST_F(WatchTest, Filters) {
  auto& s = stream();
  WatchOptions noput;
  noput.no_put = true;
  WatchOptions nodel;
  nodel.no_delete = true;
  ASSERT_EQ(*s.watch(kAutoWatchId, "a", "", MainRev(0), noput), 0);
  ASSERT_EQ(*s.watch(kAutoWatchId, "a", "", MainRev(0), nodel), 1);
  put("a", "1");
  del("a");
  std::map<int64_t, std::vector<std::string>> by_id;
  for (const auto& r : drain(s)) {
    for (const auto& e : events({r})) by_id[r.watch_id].push_back(e);
  }
  EXPECT_EQ(by_id[0], (std::vector<std::string>{"DELETE a=@3"}));
  EXPECT_EQ(by_id[1], (std::vector<std::string>{"PUT a=1@2"}));
}

TEST_F(WatchTest, PrevKv) {
  put("a", "1");
  auto& s = stream();
  WatchOptions o;
  o.prev_kv = true;
  ASSERT_TRUE(s.watch(kAutoWatchId, "a", "", MainRev(0), o).is_ok());
  put("a", "2");
  del("a");
  put("a", "3");
  std::vector<mvccpb::Event> evs;
  for (auto& r : drain(s)) {
    for (auto& e : r.events) evs.push_back(e);
  }
  ASSERT_EQ(evs.size(), 3u);
  EXPECT_EQ(evs[0].prev_kv().value(), "1");
  EXPECT_EQ(evs[1].prev_kv().value(), "2");
  EXPECT_FALSE(evs[2].has_prev_kv());  // a creation has no previous value
}

TEST_F(WatchTest, CompactedStartRevisionCancels) {
  for (int i = 0; i < 5; ++i) put("a", std::to_string(i));
  ASSERT_TRUE(kv_->compact(MainRev(4)).is_ok());
  auto& s = stream();
  ASSERT_TRUE(s.watch(kAutoWatchId, "a", "", MainRev(2), {}).is_ok());
  ASSERT_TRUE(
      s.watch(kAutoWatchId, "a", "", MainRev(4), {}).is_ok());  // at the compaction: allowed
  ws_->sync_watchers();
  auto rs = drain(s);
  ASSERT_EQ(rs.size(), 4u);
  EXPECT_EQ(rs[2].kind == Kind::kCompacted ? rs[2].watch_id : rs[3].watch_id, 0);
  bool saw = false;
  for (const auto& r : rs) {
    if (r.kind == Kind::kCompacted) {
      saw = true;
      EXPECT_EQ(r.compact_revision, 4);
      EXPECT_EQ(r.watch_id, 0);
    }
  }
  EXPECT_TRUE(saw);
  EXPECT_EQ(events(rs), (std::vector<std::string>{"PUT a=2@4", "PUT a=3@5", "PUT a=4@6"}));
  auto c = ws_->counts();
  EXPECT_EQ(c.synced, 1u);
  EXPECT_EQ(c.unsynced, 0u);
}

TEST_F(WatchTest, CancelAndErrors) {
  auto& s = stream();
  ASSERT_EQ(*s.watch(7, "a", "", MainRev(0), {}), 7);
  EXPECT_FALSE(s.watch(7, "b", "", MainRev(0), {}).is_ok());              // duplicate
  EXPECT_FALSE(s.watch(kAutoWatchId, "b", "a", MainRev(0), {}).is_ok());  // empty range
  ASSERT_EQ(*s.watch(kAutoWatchId, "c", "", MainRev(0), {}), 0);
  EXPECT_TRUE(s.cancel(7).is_ok());
  EXPECT_EQ(s.cancel(7).code(), Code::kNotFound);
  put("a", "1");
  auto rs = drain(s);
  ASSERT_EQ(rs.size(), 5u);
  EXPECT_EQ(rs[1].kind, Kind::kCreated);
  EXPECT_TRUE(rs[1].canceled);
  EXPECT_EQ(rs[1].watch_id, -1);
  EXPECT_EQ(rs[1].cancel_reason, kErrWatcherDuplicateId);
  EXPECT_EQ(rs[2].cancel_reason, kErrEmptyWatcherRange);
  EXPECT_EQ(rs[4].kind, Kind::kCanceled);
  EXPECT_EQ(rs[4].watch_id, 7);
  EXPECT_TRUE(events(rs).empty());
}

TEST_F(WatchTest, ARefusedCreateIsAnsweredAndWatchesNothing) {
  auto& s = stream();
  put("a", "0");
  s.refuse("no read on a");
  put("a", "1");
  auto rs = drain(s);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].kind, Kind::kCreated);
  EXPECT_TRUE(rs[0].canceled);
  EXPECT_EQ(rs[0].watch_id, -1);
  EXPECT_EQ(rs[0].cancel_reason, "no read on a");
  EXPECT_EQ(rs[0].revision, 2);
  EXPECT_EQ(ws_->counts().synced, 0u);
}

TEST_F(WatchTest, SlowConsumerBecomesVictimAndLosesNothing) {
  auto& s = stream(/*capacity=*/2);
  ASSERT_TRUE(s.watch(kAutoWatchId, "k", "", MainRev(0), {}).is_ok());
  std::vector<std::string> want;
  for (int i = 0; i < 50; ++i) {
    int64_t rev = put("k", std::to_string(i));
    want.push_back("PUT k=" + std::to_string(i) + "@" + std::to_string(rev));
    EXPECT_LE(s.buffered(), 2u + WatchableStore::kMaxControl);  // bounded
  }
  EXPECT_EQ(ws_->counts().victims, 1u);
  std::vector<WatchResponse> got;
  for (int round = 0; round < 200; ++round) {
    WatchResponse r;
    if (s.next(&r)) got.push_back(r);
    ws_->retry_victims();
    ws_->sync_watchers();
    if (ws_->counts().synced == 1 && s.buffered() == 0) break;
  }
  EXPECT_EQ(events(got), want);
  EXPECT_EQ(ws_->counts().synced, 1u);
  int64_t rev = put("k", "last");
  WatchResponse r;
  ASSERT_TRUE(s.next(&r));
  EXPECT_EQ(events({r}), (std::vector<std::string>{"PUT k=last@" + std::to_string(rev)}));
}

TEST_F(WatchTest, IndexVisitsOnlyConcernedWatchers) {
  auto& s = stream(4);
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(s.watch(kAutoWatchId, "key" + std::to_string(i), "", MainRev(0), {}).is_ok());
    WatchResponse r;
    ASSERT_TRUE(s.next(&r));  // keep the control buffer empty
  }
  for (int i = 0; i < 500; ++i) {
    std::string b = "r" + std::to_string(1000 + i);
    ASSERT_TRUE(s.watch(kAutoWatchId, b, b + "z", MainRev(0), {}).is_ok());
    WatchResponse r;
    ASSERT_TRUE(s.next(&r));
  }
  ASSERT_TRUE(s.watch(kAutoWatchId, "r", "s", MainRev(0), {}).is_ok());  // covers every r key
  uint64_t before = ws_->counts().visited;
  put("key42", "v");
  EXPECT_EQ(ws_->counts().visited - before, 1u);
  before = ws_->counts().visited;
  put("r1200x", "v");
  EXPECT_EQ(ws_->counts().visited - before, 2u);  // [r1200, r1200z) and [r, s)
  before = ws_->counts().visited;
  put("nobody", "v");
  EXPECT_EQ(ws_->counts().visited - before, 0u);
}

TEST_F(WatchTest, ProgressRequestWaitsForSync) {
  put("a", "1");
  auto& s = stream();
  ASSERT_TRUE(s.watch(kAutoWatchId, "a", "", MainRev(1), {}).is_ok());  // unsynced
  drain(s);
  s.request_progress();
  EXPECT_TRUE(drain(s).empty());  // deferred
  ws_->sync_watchers();
  auto rs = drain(s);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(events({rs[0]}), (std::vector<std::string>{"PUT a=1@2"}));
  EXPECT_EQ(rs[1].watch_id, kInvalidWatchId);
  EXPECT_TRUE(rs[1].events.empty());
  EXPECT_EQ(rs[1].revision, 2);
  s.request_progress();  // synced now: at once
  rs = drain(s);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].revision, 2);
}

TEST_F(WatchTest, PeriodicProgressNotify) {
  close();
  open(std::chrono::milliseconds(1000));
  auto& s = stream();
  WatchOptions o;
  o.progress_notify = true;
  ASSERT_TRUE(s.watch(kAutoWatchId, "a", "", MainRev(0), o).is_ok());
  ASSERT_TRUE(s.watch(kAutoWatchId, "b", "", MainRev(0), {}).is_ok());
  drain(s);
  clock_.advance(std::chrono::milliseconds(500));
  ws_->tick_progress();
  EXPECT_TRUE(drain(s).empty());
  clock_.advance(std::chrono::milliseconds(700));
  ws_->tick_progress();
  auto rs = drain(s);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].watch_id, 0);
  EXPECT_TRUE(rs[0].events.empty());
  // Events since the last tick elide the next notification.
  put("a", "1");
  drain(s);
  clock_.advance(std::chrono::milliseconds(1200));
  ws_->tick_progress();
  EXPECT_TRUE(drain(s).empty());
  clock_.advance(std::chrono::milliseconds(1200));
  ws_->tick_progress();
  rs = drain(s);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].revision, 2);
}

TEST_F(WatchTest, LargeTxnOverSyncLimitStaysAtomic) {
  auto t = kv_->write();
  for (size_t i = 0; i < WatchableStore::kMaxSyncEvents + 10; ++i) {
    t->put("big" + std::to_string(i), "v", 0);
  }
  t->end();
  t.reset();
  put("big0", "after");
  auto& s = stream();
  ASSERT_TRUE(s.watch(kAutoWatchId, "big", "bih", MainRev(1), {}).is_ok());
  for (int i = 0; i < 10 && ws_->sync_watchers() > 0; ++i) {
  }
  auto rs = drain(s);
  std::map<int64_t, size_t> per_rev;
  for (const auto& r : rs) {
    std::set<int64_t> revs;
    for (const auto& e : r.events) revs.insert(e.kv().mod_revision());
    for (int64_t rev : revs) {
      EXPECT_EQ(per_rev.count(rev), 0u) << "revision split across responses";
      per_rev[rev] = 0;
    }
    for (const auto& e : r.events) per_rev[e.kv().mod_revision()]++;
  }
  EXPECT_EQ(per_rev[2], WatchableStore::kMaxSyncEvents + 10);
  EXPECT_EQ(per_rev[3], 1u);
}

// ---- the randomized test ----------------------------------------------------

struct TrueEvent {
  int64_t rev;
  bool del;
  std::string key, value;
  std::optional<std::string> prev;  // the value before the change
};

struct Model {
  std::vector<TrueEvent> history;
  std::map<std::string, std::string> live;
  std::set<int64_t> compactions;
};

struct Sub {
  WatchStream* stream;
  int64_t id;
  std::string key, end;
  int64_t start;  // effective first revision
  WatchOptions opts;
  bool open = true, compacted = false, canceled = false;
  bool created = false;  // its created response was popped
  std::vector<TrueEvent> got;
  std::vector<std::set<int64_t>> responses;  // revisions per response
};

bool in_range(const Sub& w, const std::string& k) {
  if (w.end.empty()) return k == w.key;
  if (w.end == kAll) return k >= w.key;
  return k >= w.key && k < w.end;
}

std::vector<TrueEvent> expected(const Model& m, const Sub& w, int64_t upto) {
  std::vector<TrueEvent> out;
  for (const auto& e : m.history) {
    if (e.rev < w.start || e.rev > upto || !in_range(w, e.key)) continue;
    if ((e.del && w.opts.no_delete) || (!e.del && w.opts.no_put)) continue;
    out.push_back(e);
  }
  return out;
}

// got must be `want` in order, except DELETEs at a compaction revision
// (compaction removes a tombstone at exactly its revision, as etcd).
void check_prefix(const Model& m, const Sub& w, const std::vector<TrueEvent>& want, bool complete,
                  const std::string& ctx) {
  size_t j = 0;
  for (size_t i = 0; i < w.got.size(); ++i) {
    while (j < want.size() && (want[j].rev != w.got[i].rev || want[j].key != w.got[i].key)) {
      ASSERT_TRUE(want[j].del && m.compactions.count(want[j].rev))
          << ctx << ": watcher " << w.id << " missed " << want[j].key << "@" << want[j].rev;
      ++j;
    }
    ASSERT_LT(j, want.size()) << ctx << ": unexpected or duplicate event " << w.got[i].key << "@"
                              << w.got[i].rev;
    EXPECT_EQ(want[j].del, w.got[i].del) << ctx;
    EXPECT_EQ(want[j].value, w.got[i].value) << ctx;
    if (w.opts.prev_kv && w.got[i].prev) {
      EXPECT_EQ(w.got[i].prev, want[j].prev) << ctx;
    }
    ++j;
  }
  if (complete) {
    for (; j < want.size(); ++j) {
      ASSERT_TRUE(want[j].del && m.compactions.count(want[j].rev))
          << ctx << ": watcher " << w.id << " never got " << want[j].key << "@" << want[j].rev;
    }
  }
}

class RandomWatchTest : public WatchTest {};

TEST_F(RandomWatchTest, GuaranteesHoldUnderRandomInterleavings) {
  int seeds = 60;
  if (const char* e = std::getenv("WATCH_TEST_SEEDS")) seeds = std::atoi(e);
  for (int seed = 1; seed <= seeds; ++seed) {
    close();
    open(std::chrono::milliseconds(100));
    Rng rng(static_cast<uint64_t>(seed));
    Model m;
    std::vector<std::unique_ptr<Sub>> subs;
    std::vector<WatchStream*> ss;
    for (int i = 0; i < 4; ++i) ss.push_back(&stream(1 + rng.uniform(i == 0 ? 2 : 40)));
    const std::string ctx = "seed " + std::to_string(seed);
    auto key = [&] { return "k" + std::to_string(rng.uniform(8)); };

    auto record = [&](KVStore::WriteTxn& t) {
      int64_t rev = t.write_rev().value();
      for (size_t i = 0; i < t.changes().size(); ++i) {
        const auto& kv = t.changes()[i];
        TrueEvent e{rev, static_cast<bool>(t.change_is_delete()[i]), kv.key(), kv.value(), {}};
        if (auto it = m.live.find(kv.key()); it != m.live.end()) e.prev = it->second;
        if (e.del) {
          m.live.erase(kv.key());
        } else {
          m.live[kv.key()] = kv.value();
        }
        m.history.push_back(e);
      }
    };
    auto open_sub = [&](WatchStream* s, int64_t start, std::string k, std::string end) {
      auto w = std::make_unique<Sub>();
      w->stream = s;
      w->key = std::move(k);
      w->end = std::move(end);
      w->opts.no_put = rng.chance(1, 10);
      w->opts.no_delete = !w->opts.no_put && rng.chance(1, 10);
      w->opts.prev_kv = rng.chance(1, 3);
      w->opts.progress_notify = rng.chance(1, 3);
      if (!s->has_control_room()) return;
      auto id = s->watch(kAutoWatchId, w->key, w->end, MainRev(start), w->opts);
      ASSERT_TRUE(id.is_ok());
      w->id = *id;
      w->start = start <= 0 || start > kv_->rev().value() ? std::max(kv_->rev().value() + 1, start)
                                                          : start;
      subs.push_back(std::move(w));
    };
    auto find = [&](WatchStream* s, int64_t id) -> Sub* {
      for (auto& w : subs) {
        if (w->stream == s && w->id == id && w->open) return w.get();
      }
      return nullptr;
    };
    auto pop = [&](WatchStream* s) {
      WatchResponse r;
      if (!s->next(&r)) return false;
      if (r.kind == Kind::kCreated) {
        if (Sub* w = find(s, r.watch_id)) w->created = true;
        return true;
      }
      if (r.kind == Kind::kCanceled) return true;
      if (r.kind == Kind::kCompacted) {
        Sub* w = find(s, r.watch_id);
        EXPECT_NE(w, nullptr) << ctx;
        if (w == nullptr) return true;
        int64_t next = w->got.empty() ? w->start : w->got.back().rev + 1;
        EXPECT_LT(next, r.compact_revision) << ctx << ": compacted a watcher that could go on";
        w->compacted = true;
        w->open = false;
        return true;
      }
      if (r.events.empty()) {
        // Bookmark: everything up to r.revision was delivered.
        for (auto& w : subs) {
          // Watchers created after the notification was queued are not
          // covered by it (their created response comes later).
          if (w->stream != s || !w->open || !w->created) continue;
          if (r.watch_id != kInvalidWatchId && r.watch_id != w->id) continue;
          check_prefix(m, *w, expected(m, *w, r.revision), /*complete=*/true, ctx + " progress");
        }
        return true;
      }
      Sub* w = find(s, r.watch_id);
      EXPECT_NE(w, nullptr) << ctx << ": events for an unknown watch " << r.watch_id;
      if (w == nullptr) return true;
      std::set<int64_t> revs;
      for (const auto& ev : r.events) {
        revs.insert(ev.kv().mod_revision());
        TrueEvent e{
            ev.kv().mod_revision(), ev.type() == mvccpb::Event::DELETE, ev.kv().key(),
            ev.kv().value(),
            ev.has_prev_kv() ? std::optional<std::string>(ev.prev_kv().value()) : std::nullopt};
        EXPECT_TRUE(w->got.empty() || w->got.back().rev <= e.rev) << ctx << ": out of order";
        w->got.push_back(e);
      }
      // Atomic: a revision never continues in a later response.
      for (const auto& prev : w->responses) {
        for (int64_t rev : revs) EXPECT_EQ(prev.count(rev), 0u) << ctx << ": split revision";
      }
      w->responses.push_back(revs);
      return true;
    };

    for (int step = 0; step < 300; ++step) {
      int op = static_cast<int>(rng.uniform(100));
      if (op < 30) {
        auto t = kv_->write();
        t->put(key(), "v" + std::to_string(step), 0);
        record(*t);
      } else if (op < 38) {
        auto t = kv_->write();
        t->delete_range(KeyRange{key(), ""});
        record(*t);
      } else if (op < 46) {
        // A multi-key txn, or every key at once (a lease revoke).
        auto t = kv_->write();
        if (rng.chance(1, 2)) {
          t->delete_range(KeyRange{"k", "l"});
        } else {
          std::set<std::string> ks;
          for (int i = 0; i < 4; ++i) ks.insert(key());
          for (const auto& k : ks) {
            if (rng.chance(1, 3)) {
              t->delete_range(KeyRange{k, ""});
            } else {
              t->put(k, "t" + std::to_string(step), 0);
            }
          }
        }
        record(*t);
      } else if (op < 49) {
        int64_t lo = std::max<int64_t>(kv_->compact_rev().value() + 1, 1);
        if (lo <= kv_->rev().value()) {
          int64_t rev = lo + static_cast<int64_t>(rng.uniform(kv_->rev().value() - lo + 1));
          ASSERT_TRUE(kv_->compact(MainRev(rev)).is_ok());
          m.compactions.insert(rev);
        }
      } else if (op < 60) {
        WatchStream* s = ss[rng.uniform(ss.size())];
        int64_t start =
            rng.chance(1, 3) ? 0 : 1 + static_cast<int64_t>(rng.uniform(kv_->rev().value() + 2));
        int kind = static_cast<int>(rng.uniform(3));
        if (kind == 0) {
          open_sub(s, start, key(), "");
        } else if (kind == 1) {
          open_sub(s, start, "k2", "k5");
        } else {
          open_sub(s, start, "", kAll);
        }
      } else if (op < 64 && !subs.empty()) {
        // Cancel one, and resume it from its last seen revision + 1.
        Sub* w = subs[rng.uniform(subs.size())].get();
        if (w->open && w->stream->has_control_room()) {
          // Drain first so that what it saw is complete up to now.
          while (pop(w->stream)) {
          }
          if (!w->open) continue;
          ASSERT_TRUE(w->stream->cancel(w->id).is_ok());
          w->open = false;
          w->canceled = true;
          int64_t resume = w->got.empty() ? w->start : w->got.back().rev + 1;
          if (resume > kv_->compact_rev().value()) open_sub(w->stream, resume, w->key, w->end);
        }
      } else if (op < 80) {
        WatchStream* s = ss[rng.uniform(ss.size())];
        // Stream 0 is slow: it reads rarely.
        if (s != ss[0] || rng.chance(1, 5)) {
          for (uint64_t n = rng.uniform(6); n > 0 && pop(s); --n) {
          }
        }
      } else if (op < 88) {
        ws_->sync_watchers();
      } else if (op < 94) {
        ws_->retry_victims();
      } else if (op < 97) {
        WatchStream* s = ss[rng.uniform(ss.size())];
        if (s->has_control_room()) s->request_progress();
      } else {
        clock_.advance(std::chrono::milliseconds(60));
        ws_->tick_progress();
      }
      ASSERT_FALSE(::testing::Test::HasFailure()) << ctx << " step " << step;
    }
    // Quiesce: drain, retry and sync until every watcher is caught up.
    for (int round = 0; round < 10000; ++round) {
      bool any = false;
      for (WatchStream* s : ss) {
        while (pop(s)) any = true;
      }
      ws_->retry_victims();
      ws_->sync_watchers();
      auto c = ws_->counts();
      if (!any && c.unsynced == 0 && c.victims == 0) break;
    }
    auto c = ws_->counts();
    ASSERT_EQ(c.unsynced, 0u) << ctx;
    ASSERT_EQ(c.victims, 0u) << ctx;
    for (auto& w : subs) {
      check_prefix(m, *w, expected(m, *w, kv_->rev().value()), /*complete=*/w->open, ctx);
      ASSERT_FALSE(::testing::Test::HasFailure()) << ctx << " watcher " << w->id;
    }
  }
}

}  // namespace
}  // namespace etcd::mvcc
