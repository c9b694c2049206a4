// `ETCDCTL_API=2 etcdctl backup`: flag parsing and help as etcdctl 3.4's,
// and the backup of a data dir made here: which entries stay, their new
// indexes, the new ids, the snapshot, and the db's consistent index and
// members with and without --with-v3.
#include "etcdctl/v2/backup_command.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "env/clock.h"
#include "env/posix_file_system.h"
#include "server/membership.h"
#include "server/raft_entry.h"
#include "server/raft_storage.h"
#include "server/wal_metadata.h"
#include "serverpb/raft_internal.pb.h"
#include "storage/backend/backend.h"
#include "storage/snap/snapshotter.h"
#include "storage/wal/wal.h"

namespace etcd::ctl::v2 {
namespace {

namespace fs = std::filesystem;

TEST(BackupCommand, HelpAndUsageErrorsAsEtcdctl34) {
  std::ostringstream out, err;
  EXPECT_EQ(run_backup({"--help"}, out, err), 0);
  EXPECT_EQ(out.str(), backup_help());
  EXPECT_EQ(err.str(), "");
  EXPECT_NE(backup_help().find("   --backup-wal-dir value  Path to the backup wal dir\n"),
            std::string::npos);
  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {{"--bogus"}, "flag provided but not defined: -bogus"},
           {{"--data-dir"}, "flag needs an argument: -data-dir"},
           {{"--with-v3=x"}, "invalid boolean value \"x\" for -with-v3: parse error"},
           {{"---x"}, "bad flag syntax: ---x"},
       }) {
    std::ostringstream o, e;
    EXPECT_EQ(run_backup(c.args, o, e), 1) << c.error;
    EXPECT_EQ(o.str(), "Incorrect Usage: " + c.error + "\n\n" + backup_help());
    EXPECT_EQ(e.str(), c.error + "\n");
  }
}

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("backup_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static raftpb::Entry entry(uint64_t index, uint64_t term, std::string data,
                             raftpb::EntryType type = raftpb::EntryNormal) {
    raftpb::Entry e;
    e.set_index(index);
    e.set_term(term);
    e.set_type(type);
    e.set_data(std::move(data));
    return e;
  }
  static std::string conf_add(uint64_t id) {
    raftpb::ConfChange cc;
    cc.set_type(raftpb::ConfChangeAddNode);
    cc.set_node_id(id);
    server::Member m;
    m.id = MemberId(id);
    m.peer_urls = {"http://10.0.0." + std::to_string(id) + ":2380"};
    cc.set_context(m.to_json());
    return cc.SerializeAsString();
  }
  static std::string v3_put(uint64_t id, const std::string& key) {
    serverpb::InternalRaftRequest r;
    r.mutable_header()->set_id(id);
    r.mutable_put()->set_key(key);
    r.mutable_put()->set_value("v");
    return r.SerializeAsString();
  }
  static std::string attributes_put(uint64_t member) {
    return server::v2_request(7, "PUT", server::member_attributes_path(MemberId(member)),
                              R"({"name":"m"})")
        .SerializeAsString();
  }

  // A source data dir: members 1, 2 (voters in the snapshot at 4) and 3
  // (added after it); after the snapshot, in order: 5 put a, 6 attributes,
  // 7 add 3, 8 put b, 9 empty, 10 v2 PUT /foo, 11 put c (uncommitted:
  // commit 10). The db has applied up to `db_ci`.
  void make_source(uint64_t db_ci,
                   const std::string& metadata = server::wal_metadata(MemberId(1), 0xc1)) {
    env::PosixFileSystem pfs;
    const std::string member = (dir_ / "src/member").string();
    auto rs = server::RaftStorage::create(pfs, member + "/wal", member + "/snap", metadata, {});
    ASSERT_TRUE(rs.is_ok()) << rs.status().to_string();
    std::vector<raftpb::Entry> ents = {
        entry(1, 1, conf_add(1), raftpb::EntryConfChange),
        entry(2, 1, conf_add(2), raftpb::EntryConfChange),
        entry(3, 2, ""),
        entry(4, 2, v3_put(1, "z")),
        entry(5, 2, v3_put(2, "a")),
        entry(6, 2, attributes_put(1)),
        entry(7, 2, conf_add(3), raftpb::EntryConfChange),
        entry(8, 2, v3_put(3, "b")),
        entry(9, 3, ""),
        entry(10, 3, server::v2_request(8, "PUT", "/foo", "bar").SerializeAsString()),
        entry(11, 3, v3_put(4, "c")),
    };
    raftpb::HardState hs;
    hs.set_term(3);
    hs.set_vote(1);
    hs.set_commit(10);
    ASSERT_TRUE(rs->wal->save(hs, ents, true).is_ok());
    raftpb::Snapshot snap;
    snap.mutable_metadata()->set_index(4);
    snap.mutable_metadata()->set_term(2);
    snap.mutable_metadata()->mutable_conf_state()->add_voters(1);
    snap.mutable_metadata()->mutable_conf_state()->add_voters(2);
    snap.set_data("{}");
    ASSERT_TRUE(rs->snapshotter->save(snap).is_ok());
    ASSERT_TRUE(rs->wal->save_snapshot(wal::WalSnapshot{Index(4), Term(2)}).is_ok());
    ASSERT_TRUE(rs->wal->close().is_ok());

    backend::Options o;
    o.background_commit = false;
    auto be = backend::Backend::open(member + "/snap/db", o, clock_);
    ASSERT_TRUE(be.is_ok());
    {
      backend::BatchTx tx = (*be)->batch_tx();
      server::Membership ms(MemberId(1), 0xc1);
      for (uint64_t id : {1, 2, 3}) {
        server::Member m;
        m.id = MemberId(id);
        m.peer_urls = {"http://10.0.0." + std::to_string(id) + ":2380"};
        ms.add(m, tx);
      }
      ASSERT_TRUE(tx.put(backend::Bucket::kKey, "rev", "data").is_ok());
      tx.set_consistent_index({Index(db_ci), Term(db_ci >= 9 ? 3 : 2)});
    }
    (*be)->close();
  }

  struct Result {
    wal::WalContents wal;
    raftpb::Snapshot snap;
    backend::ConsistentIndex ci;
    std::vector<uint64_t> members;
    bool has_key = false;
  };
  Result read_backup() {
    Result r;
    env::PosixFileSystem pfs;
    const std::string member = (dir_ / "bak/member").string();
    snap::Snapshotter ss(pfs, member + "/snap");
    auto snap = ss.load_newest();
    EXPECT_TRUE(snap.is_ok());
    if (snap.is_ok()) r.snap = *snap;
    auto w = wal::Wal::open(pfs, member + "/wal",
                            {Index(r.snap.metadata().index()), Term(r.snap.metadata().term())});
    EXPECT_TRUE(w.is_ok());
    auto c = (*w)->read_all();
    EXPECT_TRUE(c.is_ok()) << c.status().to_string();
    r.wal = *c;
    (void)(*w)->close();
    backend::Options o;
    o.background_commit = false;
    auto be = backend::Backend::open(member + "/snap/db", o, clock_);
    EXPECT_TRUE(be.is_ok());
    r.ci = (*be)->consistent_index();
    {
      backend::ReadTx tx = (*be)->read_tx();
      for (const auto& kv : tx.range(backend::Bucket::kMembers, std::string(1, '\0'), "")) {
        r.members.push_back(server::Member::from_json(kv.value)->id.value());
      }
      r.has_key = tx.get(backend::Bucket::kKey, "rev").has_value();
    }
    (*be)->close();
    return r;
  }

  int run(std::vector<std::string> extra, std::string* err_out = nullptr) {
    std::vector<std::string> args = {"--data-dir", (dir_ / "src").string(), "--backup-dir",
                                     (dir_ / "bak").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    std::ostringstream out, err;
    int rc = run_backup(args, out, err);
    EXPECT_EQ(out.str(), "");
    if (err_out) *err_out = err.str();
    return rc;
  }

  fs::path dir_;
  env::RealClock clock_;
};

std::vector<std::string> lines_without_time(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    auto bar = line.find(" I | ");
    out.push_back(bar == std::string::npos ? line : line.substr(bar + 5));
  }
  return out;
}

TEST_F(BackupTest, WithV3KeepsTheV3EntriesAndRenumbersTheConsistentIndex) {
  make_source(/*db_ci=*/8);
  std::string err;
  ASSERT_EQ(run({"--with-v3"}, &err), 0) << err;
  EXPECT_EQ(lines_without_time(err),
            (std::vector<std::string>{"ignoring member attribute update on /0/members/1/attributes",
                                      "ignoring EntryConfChange raft entry"}));
  Result r = read_backup();
  EXPECT_EQ(r.snap.metadata().index(), 4u);
  // 5 put a, 8 put b -> 6, 9 empty -> 7, 10 /foo -> 8, 11 put c -> 9.
  ASSERT_EQ(r.wal.entries.size(), 5u);
  for (size_t i = 0; i < r.wal.entries.size(); ++i) EXPECT_EQ(r.wal.entries[i].index(), 5 + i);
  EXPECT_EQ(r.wal.entries[1].data(), v3_put(3, "b"));
  EXPECT_EQ(r.wal.entries[4].data(), v3_put(4, "c"));
  EXPECT_EQ(r.wal.hard_state.commit(), 8u);  // 10 - 2 dropped at or below it
  EXPECT_EQ(r.wal.hard_state.term(), 3u);
  // New ids, in etcd's metadata form.
  auto meta = server::parse_wal_metadata(r.wal.metadata);
  ASSERT_TRUE(meta.is_ok()) << meta.status().to_string();
  EXPECT_FALSE(meta->legacy_json);
  EXPECT_NE(meta->member_id, MemberId(1));
  EXPECT_NE(meta->cluster_id, 0xc1u);
  // The db applied "put b" (old 8, now 6): nothing before is re-applied,
  // nothing after skipped.
  EXPECT_EQ(r.ci, (backend::ConsistentIndex{Index(6), Term(2)}));
  EXPECT_TRUE(r.has_key);
  // Only the snapshot's voters stay, for --force-new-cluster to remove.
  EXPECT_EQ(r.members, (std::vector<uint64_t>{1, 2}));
}

TEST_F(BackupTest, WithV3ADbBehindTheDroppedEntriesKeepsItsPlace) {
  // Applied up to 6 (the attributes update, dropped): the next to apply is
  // "put b", new index 6 - so the consistent index becomes 5 ("put a").
  make_source(/*db_ci=*/6);
  ASSERT_EQ(run({"--with-v3"}), 0);
  Result r = read_backup();
  EXPECT_EQ(r.ci.index.value(), 5u);
  EXPECT_EQ(r.wal.entries[1].index(), 6u);
  EXPECT_EQ(r.wal.entries[1].data(), v3_put(3, "b"));
}

TEST_F(BackupTest, WithoutV3DropsTheV3EntriesAndStartsAnEmptyDbAtTheCommit) {
  make_source(/*db_ci=*/10);
  std::string err;
  ASSERT_EQ(run({}, &err), 0) << err;
  EXPECT_EQ(lines_without_time(err),
            (std::vector<std::string>{"ignoring v3 raft entry",
                                      "ignoring member attribute update on /0/members/1/attributes",
                                      "ignoring EntryConfChange raft entry",
                                      "ignoring v3 raft entry", "ignoring v3 raft entry"}));
  Result r = read_backup();
  // 9 empty -> 5, 10 /foo -> 6.
  ASSERT_EQ(r.wal.entries.size(), 2u);
  EXPECT_EQ(r.wal.entries[0].index(), 5u);
  EXPECT_TRUE(r.wal.entries[0].data().empty());
  EXPECT_EQ(r.wal.entries[1].index(), 6u);
  EXPECT_EQ(r.wal.hard_state.commit(), 6u);
  EXPECT_EQ(r.ci, (backend::ConsistentIndex{Index(6), Term(3)}));
  EXPECT_FALSE(r.has_key);
  EXPECT_EQ(r.members, (std::vector<uint64_t>{1, 2}));
}

TEST_F(BackupTest, WalDirsOfTheSourceAndTheBackup) {
  make_source(/*db_ci=*/10);
  fs::rename(dir_ / "src/member/wal", dir_ / "srcwal");
  ASSERT_EQ(run({"--wal-dir", (dir_ / "srcwal").string(), "--backup-wal-dir",
                 (dir_ / "bakwal").string(), "--with-v3"}),
            0);
  EXPECT_FALSE(fs::exists(dir_ / "bak/member/wal"));
  env::PosixFileSystem pfs;
  EXPECT_TRUE(wal::Wal::exists(pfs, (dir_ / "bakwal").string()));
  EXPECT_TRUE(fs::exists(dir_ / "bak/member/snap/db"));
}

TEST_F(BackupTest, ASourceWithTheJsonMetadataOfEarlierBuildsGetsEtcdsForm) {
  make_source(/*db_ci=*/10, R"({"cluster_id":193,"member_id":1})");
  std::string err;
  ASSERT_EQ(run({}, &err), 0) << err;
  auto meta = server::parse_wal_metadata(read_backup().wal.metadata);
  ASSERT_TRUE(meta.is_ok()) << meta.status().to_string();
  EXPECT_FALSE(meta->legacy_json);
  EXPECT_NE(meta->member_id, MemberId(1));
}

TEST_F(BackupTest, ASourceWithUnreadableWalMetadataIsRefused) {
  make_source(/*db_ci=*/10, "garbage");
  std::string err;
  EXPECT_EQ(run({}, &err), 1);
  EXPECT_EQ(lines_without_time(err), std::vector<std::string>{"WAL metadata is not readable"});
  EXPECT_FALSE(fs::exists(dir_ / "bak/member/wal"));
}

TEST_F(BackupTest, ErrorsAsEtcd) {
  std::string err;
  EXPECT_EQ(run({}, &err), 1);
  EXPECT_EQ(lines_without_time(err),
            std::vector<std::string>{"open " + (dir_ / "src/member/snap").string() +
                                     ": no such file or directory"});
  // A second backup into the same dir: etcd wants an empty snap dir.
  fs::remove_all(dir_ / "bak");
  make_source(10);
  ASSERT_EQ(run({}), 0);
  EXPECT_EQ(run({}, &err), 1);
  const std::string snap = (dir_ / "bak/member/snap").string();
  EXPECT_EQ(lines_without_time(err),
            std::vector<std::string>{
                "failed creating backup snapshot dir " + snap + ": expected \"" + snap +
                "\" to be empty, got [\"0000000000000002-0000000000000004.snap\" "
                "\"db\"]"});
}

}  // namespace
}  // namespace etcd::ctl::v2
