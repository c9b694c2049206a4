// Crash consistency: the WAL runs on SimFileSystem through random Raft-like
// saves, snapshot markers, releases and purges, and crashes at random points
// (between calls, or in the middle of one: between a write and its
// fdatasync, inside a segment cut, inside a purge). After every crash the
// reopened WAL must hold every save that was acknowledged as durable (a
// save with must_sync, save_snapshot or sync() that returned before the
// crash point), in order, plus at most a prefix of the records that
// followed, and must keep working.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "env/sim_file_system.h"
#include "storage/wal/wal.h"

namespace etcd::wal {
namespace {

const std::string kDir = "/data/member/wal";
constexpr uint64_t kSeeds = 500;
constexpr int kCycles = 5;          // crashes per seed
constexpr int kStepsPerCycle = 30;  // calls between crashes, at most

struct ModelState {
  std::vector<raftpb::Entry> log;  // entry i at log[i - 1]
  raftpb::HardState hs;
};

// One call since the last reopen, as the model sees it.
struct Op {
  bool marker = false;  // save_snapshot: changes nothing in the log
  raftpb::HardState hs;
  std::vector<raftpb::Entry> ents;
};

bool empty_state(const raftpb::HardState& hs) {
  return hs.term() == 0 && hs.vote() == 0 && hs.commit() == 0;
}

void append(ModelState& s, const raftpb::Entry& e) {
  ASSERT_LE(e.index(), s.log.size() + 1);
  s.log.resize(e.index() - 1);
  s.log.push_back(e);
}

void apply(ModelState& s, const Op& op) {
  for (const auto& e : op.ents) append(s, e);
  if (!empty_state(op.hs)) s.hs = op.hs;
}

bool matches(const ModelState& s, const WalContents& got, WalSnapshot snap) {
  if (got.hard_state.SerializeAsString() != s.hs.SerializeAsString()) return false;
  uint64_t from = snap.index.value();
  if (s.log.size() < from || got.entries.size() != s.log.size() - from) return false;
  for (size_t i = 0; i < got.entries.size(); ++i) {
    if (got.entries[i].SerializeAsString() != s.log[from + i].SerializeAsString()) return false;
  }
  return true;
}

struct Stats {
  uint64_t saves = 0;
  uint64_t markers = 0;
  uint64_t crashes = 0;
  uint64_t mid_call = 0;          // crash points inside a call
  uint64_t torn_tails = 0;        // reopenings that repaired a torn tail
  uint64_t unacked_survived = 0;  // reopenings that found more than was acknowledged
};

class Driver {
 public:
  Driver(uint64_t seed, Stats& stats) : seed_(seed), rng_(seed), stats_(stats) {
    static constexpr uint64_t kSegmentSizes[] = {2048, 4096, 16384};
    static constexpr uint64_t kThresholds[] = {512, 4096, 1 << 20};
    options_.segment_size_bytes = kSegmentSizes[rng_.uniform(3)];
    options_.flush_threshold_bytes = kThresholds[rng_.uniform(3)];
    options_.max_wals = 1 + rng_.uniform(4);
    options_.zero_fill_segments = rng_.chance(1, 2);
  }

  void run() {
    for (int cycle = 0; cycle < kCycles; ++cycle) {
      SCOPED_TRACE("seed " + std::to_string(seed_) + " cycle " + std::to_string(cycle));
      bool mid_call = rng_.chance(2, 3);
      if (mid_call) fs_.crash_after_ops(1 + rng_.uniform(30));
      ++stats_.crashes;
      if (wal_ == nullptr) {
        ASSERT_NO_FATAL_FAILURE(start());
      }
      int steps = static_cast<int>(rng_.uniform(kStepsPerCycle));
      for (int i = 0; i < steps && !fs_.crash_point_passed(); ++i) {
        ASSERT_NO_FATAL_FAILURE(step());
      }
      if (fs_.crash_point_passed()) ++stats_.mid_call;
      wal_.reset();  // the process dies: nothing more reaches the files
      fs_.crash(rng_);
      ASSERT_NO_FATAL_FAILURE(recover());
    }
  }

 private:
  bool acked() const { return !fs_.crash_point_passed(); }

  // Creates the WAL, or reopens and checks it.
  void start() {
    if (!created_) {
      auto w = Wal::create(fs_, kDir, "meta", options_);
      ASSERT_TRUE(w.is_ok()) << w.status().to_string();
      wal_ = std::move(*w);
      created_ = acked();
      return;
    }
    ASSERT_NO_FATAL_FAILURE(recover());
  }

  void recover() {
    if (!Wal::exists(fs_, kDir)) {
      // Only a create that never returned may leave no WAL behind.
      ASSERT_FALSE(created_) << "the WAL vanished";
      auto w = Wal::create(fs_, kDir, "meta", options_);
      ASSERT_TRUE(w.is_ok()) << w.status().to_string();
      wal_ = std::move(*w);
      created_ = acked();
      return;
    }
    if (std::getenv("WAL_CRASH_DEBUG") != nullptr) std::fprintf(stderr, "%s", dump_files().c_str());
    count_torn_tail();
    auto w = Wal::open(fs_, kDir, open_at_, options_);
    ASSERT_TRUE(w.is_ok()) << w.status().to_string();
    auto got = (*w)->read_all();
    ASSERT_TRUE(got.is_ok()) << got.status().to_string() << "\n" << dump_ops() << dump_files();
    EXPECT_EQ(got->metadata, "meta");
    created_ = true;

    // Every acknowledged call is in; after them, a prefix of the rest.
    ModelState cur = base_;
    for (size_t i = 0; i < durable_; ++i) apply(cur, ops_[i]);
    const size_t acked_log = cur.log.size();
    bool found = false;
    for (size_t m = durable_; !found; ++m) {
      if (matches(cur, *got, open_at_)) {
        found = true;
        break;
      }
      if (m == ops_.size()) break;
      ModelState partial = cur;
      for (const auto& e : ops_[m].ents) {
        append(partial, e);
        if (matches(partial, *got, open_at_)) {
          cur = partial;
          found = true;
          break;
        }
      }
      if (found) break;
      apply(cur, ops_[m]);
    }
    if (!found) {
      std::string dump = dump_ops() + "got:";
      for (const auto& e : got->entries) {
        dump += " " + std::to_string(e.index()) + "/" + std::to_string(e.term());
      }
      ADD_FAILURE() << dump;
    }
    ASSERT_TRUE(found) << "recovered " << got->entries.size() << " entries after index "
                       << open_at_.index.value() << ", hard state "
                       << got->hard_state.ShortDebugString() << "; model had " << base_.log.size()
                       << " entries before " << ops_.size() << " calls, the first " << durable_
                       << " acknowledged";
    if (cur.log.size() > acked_log) ++stats_.unacked_survived;
    base_ = cur;
    now_ = cur;
    ops_.clear();
    durable_ = 0;
    term_ = std::max<uint64_t>(term_, base_.hs.term());
    protect_ = std::max(base_.hs.commit(), open_at_.index.value());
    wal_ = std::move(*w);
  }

  // The records of every segment, for a failure message.
  std::string dump_files() {
    std::string out;
    auto names = fs_.list_dir(kDir);
    if (!names.is_ok()) return names.status().to_string();
    for (const std::string& name : *names) {
      std::string bytes = env::read_file(fs_, env::join_path(kDir, name)).value();
      out += name + " (" + std::to_string(bytes.size()) + " bytes):";
      uint64_t seq;
      uint64_t first;
      if (!Wal::parse_segment_name(name, &seq, &first)) {
        out += "\n";
        continue;
      }
      auto scan = scan_segment(bytes, 0, true);
      if (!scan.is_ok()) {
        out += " " + scan.status().to_string() + "\n";
        continue;
      }
      for (const auto& r : scan->records) {
        out += " @" + std::to_string(r.offset) + ":t" + std::to_string(static_cast<int>(r.type));
        raftpb::Entry e;
        if (r.type == RecordType::kEntry && decode_entry(r.data, &e)) {
          out += "=" + std::to_string(e.index()) + "/" + std::to_string(e.term());
        }
      }
      out += scan->torn ? " TORN " + scan->torn_reason : "";
      out += " end " + std::to_string(scan->end_offset) + "\n";
    }
    return out;
  }

  // Whether the last segment has a torn tail the open will repair.
  void count_torn_tail() {
    auto names = fs_.list_dir(kDir);
    if (!names.is_ok()) return;
    std::string last;
    uint64_t seq;
    uint64_t first;
    for (const auto& n : *names) {
      if (Wal::parse_segment_name(n, &seq, &first)) last = n;
    }
    auto bytes = env::read_file(fs_, env::join_path(kDir, last));
    if (!bytes.is_ok()) return;
    auto scan = scan_segment(*bytes, 0, true);
    if (scan.is_ok() && scan->torn) ++stats_.torn_tails;
  }

  std::string dump_ops() const {
    std::string dump = "base: " + std::to_string(base_.log.size()) + " entries, " +
                       std::to_string(durable_) + " calls acknowledged\n";
    for (size_t i = 0; i < ops_.size(); ++i) {
      dump += "op " + std::to_string(i) + (ops_[i].marker ? " marker" : "") + ":";
      for (const auto& e : ops_[i].ents) {
        dump += " " + std::to_string(e.index()) + "/" + std::to_string(e.term());
      }
      dump += " hs{" + ops_[i].hs.ShortDebugString() + "}\n";
    }
    return dump;
  }

  void step() {
    const ModelState& s = now_;
    const uint64_t last = s.log.size();
    uint64_t choice = rng_.uniform(100);
    if (choice < 10 && s.hs.commit() > open_at_.index.value()) {
      // A snapshot at the commit index; then release and purge below it.
      WalSnapshot snap{Index(s.hs.commit()), Term(s.log[s.hs.commit() - 1].term())};
      ops_.push_back({true, {}, {}});
      ++stats_.markers;
      Status st = wal_->save_snapshot(snap);
      ASSERT_TRUE(st.is_ok()) << st.to_string();
      if (!acked()) return;
      durable_ = ops_.size();
      open_at_ = snap;
      wal_->release_to(snap.index);
      auto purged = wal_->purge();
      ASSERT_TRUE(purged.is_ok()) << purged.status().to_string();
      return;
    }
    if (choice < 15) {
      ASSERT_TRUE(wal_->sync().is_ok());
      if (acked()) durable_ = ops_.size();
      return;
    }
    Op op;
    uint64_t next = last + 1;
    if (rng_.chance(1, 8) && last > protect_) {
      // A new leader overwrites an uncommitted suffix (Raft §5.3).
      next = protect_ + 1 + rng_.uniform(last - protect_);
      ++term_;
    }
    term_ = std::max<uint64_t>(term_, 1);
    uint64_t n = rng_.uniform(5);
    for (uint64_t i = 0; i < n; ++i) {
      raftpb::Entry e;
      e.set_index(next + i);
      e.set_term(term_);
      // Mostly small entries, some spanning several sectors.
      std::string data(rng_.uniform(rng_.chance(1, 4) ? 2000 : 400), '\0');
      for (char& c : data) c = static_cast<char>('a' + rng_.uniform(26));
      e.set_data(std::move(data));
      op.ents.push_back(std::move(e));
    }
    uint64_t new_last = n > 0 ? next + n - 1 : last;
    uint64_t commit = std::max(s.hs.commit(), protect_);
    if (new_last > commit && rng_.chance(1, 2)) commit += rng_.uniform(new_last - commit + 1);
    commit = std::min(commit, new_last);
    op.hs.set_term(term_);
    op.hs.set_vote(1);
    op.hs.set_commit(commit);
    protect_ = std::max(protect_, commit);
    const bool must_sync = rng_.chance(1, 2);
    ops_.push_back(op);
    apply(now_, op);
    ++stats_.saves;
    Status st = wal_->save(op.hs, op.ents, must_sync);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    if (must_sync && acked()) durable_ = ops_.size();
  }

  const uint64_t seed_;
  Rng rng_;
  Stats& stats_;
  env::SimFileSystem fs_;
  WalOptions options_;
  std::unique_ptr<Wal> wal_;
  bool created_ = false;
  ModelState base_;      // what the WAL held at the last reopen
  ModelState now_;       // base_ with every call since applied
  std::vector<Op> ops_;  // calls since then
  size_t durable_ = 0;   // ops_[0, durable_) are acknowledged durable
  WalSnapshot open_at_;  // the newest acknowledged snapshot marker
  uint64_t term_ = 1;
  uint64_t protect_ = 0;  // entries at or below never change (committed)
};

TEST(WalCrashTest, AcknowledgedSavesSurviveRandomCrashes) {
  Stats stats;
  uint64_t first = 1;
  uint64_t last = kSeeds;
  if (const char* only = std::getenv("WAL_CRASH_SEED"))
    first = last = std::strtoull(only, nullptr, 10);
  for (uint64_t seed = first; seed <= last; ++seed) {
    Driver d(seed, stats);
    d.run();
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << "first failing seed: " << seed;
      return;
    }
  }
  std::printf(
      "seeds %llu-%llu: %llu saves, %llu snapshot markers, %llu crashes (%llu inside a "
      "call), %llu torn tails repaired, %llu reopenings kept unacknowledged saves\n",
      static_cast<unsigned long long>(first), static_cast<unsigned long long>(last),
      static_cast<unsigned long long>(stats.saves), static_cast<unsigned long long>(stats.markers),
      static_cast<unsigned long long>(stats.crashes),
      static_cast<unsigned long long>(stats.mid_call),
      static_cast<unsigned long long>(stats.torn_tails),
      static_cast<unsigned long long>(stats.unacked_survived));
  // The full run must have exercised what it is about.
  if (first == 1 && last == kSeeds) {
    EXPECT_GT(stats.mid_call, kSeeds);
    EXPECT_GT(stats.torn_tails, kSeeds / 10);
    EXPECT_GT(stats.markers, kSeeds);
    EXPECT_GT(stats.unacked_survived, kSeeds / 5);
  }
}

}  // namespace
}  // namespace etcd::wal
