// snapshot status/restore, defrag and hashkv on real files: a backend
// written through the MVCC store, its snapshot stream saved as
// `etcdctl snapshot save` does, and the restored data dir booted by the
// server's own bootstrap().
#include "etcdutl/snapshot.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "env/clock.h"
#include "env/posix_file_system.h"
#include "etcdutl/db_reader.h"
#include "etcdutl/defrag.h"
#include "etcdutl/hashkv.h"
#include "mvcc/kvstore.h"
#include "nlohmann/json.hpp"
#include "server/bootstrap.h"
#include "server/cluster_ids.h"
#include "storage/backend/backend.h"
#include "storage/backend/snapshot.h"
#include "storage/backend/test_util.h"

namespace etcd::utl {
namespace {

namespace stdfs = std::filesystem;

class UtlTest : public ::testing::Test {
 protected:
  UtlTest() : logger_(log::Level::kError, {}, [] { return int64_t{0}; }) {}

  std::string path(const std::string& name) const { return dir_.path() + "/" + name; }

  // A member's backend at `db`: `puts` keys k0.. (one revision each), then
  // the first `deletes` of them deleted (one revision each).
  std::unique_ptr<backend::Backend> make_db(const std::string& db, int puts, int deletes = 0,
                                            size_t value_size = 8) {
    backend::Options bo;
    bo.background_commit = false;
    auto be = backend::Backend::open(db, bo, clock_);
    EXPECT_TRUE(be.is_ok()) << be.status().to_string();
    mvcc::KVStore kv(**be);
    EXPECT_TRUE(kv.restore().is_ok());
    uint64_t ci = 10;
    for (int i = 0; i < puts; ++i) {
      auto txn = kv.write();
      txn->put("k" + std::to_string(i), std::string(value_size, 'v'), 0);
      txn->set_consistent_index({Index(++ci), Term(3)});
    }
    for (int i = 0; i < deletes; ++i) {
      auto txn = kv.write();
      txn->delete_range(mvcc::KeyRange{"k" + std::to_string(i), ""});
      txn->set_consistent_index({Index(++ci), Term(3)});
    }
    (*be)->force_commit();
    return std::move(be).value();
  }

  // `etcdctl snapshot save` of that backend.
  std::string make_snapshot(int puts, int deletes = 0) {
    auto be = make_db(path("src/member/snap/db"), puts, deletes);
    source_hash_ = be->hash({});
    auto reader = be->snapshot();
    EXPECT_TRUE(reader.is_ok());
    const std::string file = path("snap.db");
    EXPECT_TRUE(backend::save_snapshot_file(**reader, file).is_ok());
    reader->reset();
    be->close();
    return file;
  }

  config::ServerConfig config_for(const std::string& name, const std::string& data_dir,
                                  const std::string& initial_cluster, const std::string& url) {
    config::ServerConfig cfg;
    cfg.name = name;
    cfg.data_dir = data_dir;
    cfg.heartbeat_interval_ms = 100;
    cfg.election_timeout_ms = 1000;
    cfg.initial_advertise_peer_urls = {url};
    cfg.initial_cluster = initial_cluster;
    cfg.initial_cluster_state = "new";
    cfg.initial_cluster_token = "tok";
    return cfg;
  }

  static void close(server::Bootstrapped& b) {
    b.node.reset();
    if (b.raft.wal) (void)b.raft.wal->close();
    b.lessor.reset();
    b.kv.reset();
    b.backend->close();
  }

  backend::testing::TempDir dir_;
  env::ManualClock clock_{1795282200123};
  env::PosixFileSystem fs_;
  log::Logger logger_;
  uint32_t source_hash_ = 0;
};

TEST_F(UtlTest, StatusOfASnapshotFile) {
  const std::string file = make_snapshot(5, 1);
  auto st = snapshot_status(file);
  ASSERT_TRUE(st.is_ok()) << st.status().to_string();
  EXPECT_EQ(st->revision, 7);  // 5 puts (2..6) and a delete (7)
  // The file is etcd's format: a bbolt image and its digest.
  EXPECT_EQ(sniff_db_kind(file), DbKind::kBbolt);
  // Every record of every bucket: 6 revisions, consistent_index, term,
  // and the cluster-less rest of a fresh backend.
  EXPECT_EQ(st->total_keys, 8);
  // The same CRC as the backend's own hash with nothing ignored.
  EXPECT_EQ(st->hash, source_hash_);
  EXPECT_GT(st->total_size, 0);
  EXPECT_EQ(st->total_size % 4096, 0);
  EXPECT_LE(st->total_size + 32, static_cast<int64_t>(stdfs::file_size(file)));
  // Reading changed nothing: the digest still matches, no lock file.
  EXPECT_TRUE(backend::verify_snapshot_file(file).is_ok());
  EXPECT_FALSE(stdfs::exists(file + "-lock"));
}

TEST_F(UtlTest, StatusAndHashKvRefuseADamagedSnapshotFile) {
  const std::string file = make_snapshot(5);
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096 + 100);  // inside the image, past the meta pages
    f.put('\x7f');
  }
  auto st = snapshot_status(file);
  ASSERT_FALSE(st.is_ok());
  EXPECT_EQ(st.status().message().rfind(
                "snapshot file integrity check failed. 1 errors found.\nexpected sha256 [", 0),
            0u)
      << st.status().message();
  auto h = hash_kv(file, 0);
  ASSERT_FALSE(h.is_ok());
  EXPECT_EQ(h.status().message().rfind("expected sha256 [", 0), 0u) << h.status().message();
}

TEST_F(UtlTest, StatusRefusesWhatIsNotASnapshotOfOurs) {
  auto missing = snapshot_status(path("nope.db"));
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);

  std::ofstream(path("text.db")) << std::string(8192, 'x');
  auto text = snapshot_status(path("text.db"));
  ASSERT_FALSE(text.is_ok());
  EXPECT_NE(text.status().message().find("is not a snapshot"), std::string::npos);

  // Looks like bbolt (its meta page's magic at offset 16) but is not one:
  // the reader names what is wrong.
  std::string bolt(8192, '\0');
  const unsigned char magic[] = {0xED, 0xDA, 0x0C, 0xED};
  std::copy(magic, magic + 4, bolt.begin() + 16);
  std::ofstream(path("bolt.db"), std::ios::binary) << bolt;
  auto b = snapshot_status(path("bolt.db"));
  ASSERT_FALSE(b.is_ok());
  EXPECT_NE(b.status().message().find("bbolt"), std::string::npos);
}

TEST_F(UtlTest, StatusRefusesADbHeldByARunningServer) {
  auto be = make_db(path("live/db"), 3);
  auto st = snapshot_status(path("live/db"));
  ASSERT_FALSE(st.is_ok());
  EXPECT_EQ(st.status().code(), Code::kUnavailable);
  be->close();
  EXPECT_TRUE(snapshot_status(path("live/db")).is_ok());
}

TEST_F(UtlTest, RestoreBootsAsANewSingleMemberCluster) {
  const std::string file = make_snapshot(5, 1);
  RestoreOptions o;
  o.snapshot_path = file;
  o.name = "m1";
  o.data_dir = path("m1.etcd");
  o.initial_cluster = "m1=http://127.0.0.1:2380";
  o.initial_cluster_token = "tok";
  o.initial_advertise_peer_urls = {"http://127.0.0.1:2380"};
  ASSERT_TRUE(snapshot_restore(o).is_ok());

  auto cfg = config_for("m1", o.data_dir, "ignored=http://x:1", "http://x:1");
  auto b = server::bootstrap(cfg, fs_, logger_, clock_);
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  EXPECT_TRUE(b->restarted);
  EXPECT_EQ(b->kv->rev().value(), 7);
  auto r = b->kv->range(mvcc::KeyRange{"k", "l"}, {});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->kvs.size(), 4u);
  const MemberId want = server::compute_member_id({"http://127.0.0.1:2380"}, "tok");
  EXPECT_EQ(b->membership->local_id(), want);
  EXPECT_EQ(b->membership->cluster_id(), server::compute_cluster_id({want}));
  ASSERT_EQ(b->membership->members().size(), 1u);
  EXPECT_EQ(b->membership->members()[0].id, want);
  EXPECT_EQ(b->membership->members()[0].name, "m1");
  EXPECT_EQ(b->snapshot_index, 1u);
  EXPECT_EQ(b->backend->consistent_index().index.value(), 1u);
  ASSERT_EQ(b->conf_state.voters_size(), 1);
  EXPECT_EQ(b->conf_state.voters(0), want.value());
  close(*b);
}

TEST_F(UtlTest, RestoreThreeMembersAgreeOnTheCluster) {
  const std::string file = make_snapshot(3);
  const std::string ic = "a=http://127.0.0.1:1,b=http://127.0.0.1:2,c=http://127.0.0.1:3";
  std::vector<uint64_t> clusters;
  std::set<MemberId> locals;
  int port = 1;
  for (const std::string name : {"a", "b", "c"}) {
    RestoreOptions o;
    o.snapshot_path = file;
    o.name = name;
    o.data_dir = path(name + ".etcd");
    o.initial_cluster = ic;
    o.initial_cluster_token = "tok";
    o.initial_advertise_peer_urls = {"http://127.0.0.1:" + std::to_string(port++)};
    ASSERT_TRUE(snapshot_restore(o).is_ok());
    auto b = server::bootstrap(config_for(name, o.data_dir, ic, o.initial_advertise_peer_urls[0]),
                               fs_, logger_, clock_);
    ASSERT_TRUE(b.is_ok()) << b.status().to_string();
    EXPECT_EQ(b->membership->members().size(), 3u);
    EXPECT_EQ(b->conf_state.voters_size(), 3);
    EXPECT_EQ(b->voters_at_start, 3u);
    EXPECT_EQ(b->kv->rev().value(), 4);
    EXPECT_EQ(b->backend->consistent_index().index.value(), 3u);
    clusters.push_back(b->membership->cluster_id());
    locals.insert(b->membership->local_id());
    close(*b);
  }
  EXPECT_EQ(locals.size(), 3u);
  EXPECT_EQ(clusters[0], clusters[1]);
  EXPECT_EQ(clusters[1], clusters[2]);
}

TEST_F(UtlTest, RestoreRefusesANonEmptyDataDirAndAnExistingWalDir) {
  const std::string file = make_snapshot(2);
  RestoreOptions o;
  o.snapshot_path = file;
  o.data_dir = path("full");
  stdfs::create_directories(o.data_dir + "/something");
  Status s = snapshot_restore(o);
  EXPECT_EQ(s.message(), "data-dir \"" + o.data_dir + "\" not empty or could not be read");
  EXPECT_TRUE(stdfs::exists(o.data_dir + "/something"));

  o.data_dir = path("empty");
  stdfs::create_directories(o.data_dir);  // an empty dir is fine, as etcd 3.5
  o.wal_dir = path("wal");
  stdfs::create_directories(o.wal_dir);
  s = snapshot_restore(o);
  EXPECT_EQ(s.message(), "wal-dir \"" + o.wal_dir + "\" exists");
  stdfs::remove_all(o.wal_dir);
  EXPECT_TRUE(snapshot_restore(o).is_ok());
  EXPECT_TRUE(stdfs::exists(o.wal_dir));
  EXPECT_TRUE(stdfs::exists(o.data_dir + "/member/snap/db"));
  EXPECT_FALSE(stdfs::exists(o.data_dir + "/member/wal"));
}

TEST_F(UtlTest, RestoreChecksTheDigestUnlessSkipped) {
  const std::string file = make_snapshot(2);
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-1, std::ios::end);
    f.put('\x5a');
  }
  RestoreOptions o;
  o.snapshot_path = file;
  o.data_dir = path("r.etcd");
  Status s = snapshot_restore(o);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.message().rfind("expected sha256 [", 0), 0u) << s.message();
  EXPECT_FALSE(stdfs::exists(o.data_dir));  // nothing half-made is left
  o.skip_hash_check = true;
  EXPECT_TRUE(snapshot_restore(o).is_ok());
}

TEST_F(UtlTest, RestoreOfADbFileNeedsSkipHashCheck) {
  make_db(path("src/member/snap/db"), 2)->close();
  RestoreOptions o;
  o.snapshot_path = path("src/member/snap/db");
  o.data_dir = path("r.etcd");
  EXPECT_EQ(snapshot_restore(o).message(), "snapshot missing hash but --skip-hash-check=false");
  o.skip_hash_check = true;
  EXPECT_TRUE(snapshot_restore(o).is_ok());
}

TEST_F(UtlTest, StatusAndRestoreOfABboltFileWithoutItsDigest) {
  const std::string file = make_snapshot(5, 1);
  auto with = snapshot_status(file);
  ASSERT_TRUE(with.is_ok()) << with.status().to_string();
  // member/snap/db of an etcd member: the image without the digest.
  const std::string db = path("bare.db");
  stdfs::copy_file(file, db);
  stdfs::resize_file(db, stdfs::file_size(file) - 32);
  auto bare = snapshot_status(db);
  ASSERT_TRUE(bare.is_ok()) << bare.status().to_string();
  EXPECT_EQ(bare->hash, with->hash);
  EXPECT_EQ(bare->revision, 7);
  EXPECT_EQ(bare->total_keys, with->total_keys);
  EXPECT_EQ(bare->total_size, with->total_size);

  RestoreOptions o;
  o.snapshot_path = db;
  o.data_dir = path("r.etcd");
  EXPECT_EQ(snapshot_restore(o).message(), "snapshot missing hash but --skip-hash-check=false");
  o.skip_hash_check = true;
  ASSERT_TRUE(snapshot_restore(o).is_ok());
  EXPECT_EQ(sniff_db_kind(o.data_dir + "/member/snap/db"), DbKind::kLmdb);
  auto b = server::bootstrap(config_for("default", o.data_dir, "", "http://localhost:2380"), fs_,
                             logger_, clock_);
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  EXPECT_EQ(b->kv->rev().value(), 7);
  auto r = b->kv->range(mvcc::KeyRange{"k", "l"}, {});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->kvs.size(), 4u);
  close(*b);
}

TEST_F(UtlTest, AnLmdbSnapshotFileStillRestores) {
  // What an earlier version of ours saved: an LMDB image and its digest.
  {
    auto be = make_db(path("src/member/snap/db"), 3);
    auto reader = be->copy_lmdb();
    ASSERT_TRUE(reader.is_ok());
    ASSERT_TRUE(backend::save_snapshot_file(**reader, path("old.db")).is_ok());
    reader->reset();
    be->close();
  }
  EXPECT_EQ(sniff_db_kind(path("old.db")), DbKind::kLmdb);
  auto st = snapshot_status(path("old.db"));
  ASSERT_TRUE(st.is_ok()) << st.status().to_string();
  EXPECT_EQ(st->revision, 4);
  RestoreOptions o;
  o.snapshot_path = path("old.db");
  o.data_dir = path("r.etcd");
  ASSERT_TRUE(snapshot_restore(o).is_ok());
  auto b = server::bootstrap(config_for("default", o.data_dir, "", "http://localhost:2380"), fs_,
                             logger_, clock_);
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  EXPECT_EQ(b->kv->rev().value(), 4);
  close(*b);
}

TEST_F(UtlTest, RestoreValidatesTheClusterFlags) {
  const std::string file = make_snapshot(1);
  RestoreOptions o;
  o.snapshot_path = file;
  o.data_dir = path("r.etcd");
  o.name = "x";
  EXPECT_EQ(snapshot_restore(o).message(),
            "couldn't find local name \"x\" in the initial cluster configuration");
  o.name = "default";
  o.initial_advertise_peer_urls = {"http://127.0.0.1:9"};
  EXPECT_EQ(snapshot_restore(o).message(),
            "--initial-cluster has default=http://localhost:2380 but missing from "
            "--initial-advertise-peer-urls=http://127.0.0.1:9");
  o.initial_advertise_peer_urls = {"localhost:2380"};
  EXPECT_EQ(snapshot_restore(o).message(),
            "URL scheme must be http, https, unix, or unixs: localhost:2380");
  o.initial_advertise_peer_urls = {"http://localhost:2380"};
  o.initial_cluster = "default=http://localhost:2380,other=http://h";
  EXPECT_EQ(snapshot_restore(o).message(),
            "URL address does not have the form \"host:port\": http://h");
  o.initial_cluster = "default=http://localhost:2380";
  o.bump_revision = 5;
  EXPECT_EQ(snapshot_restore(o).message(), "--mark-compacted required if --revision-bump > 0");
  EXPECT_FALSE(stdfs::exists(o.data_dir));
}

TEST_F(UtlTest, RestoreBumpsAndCompactsTheRevision) {
  const std::string file = make_snapshot(4);
  RestoreOptions o;
  o.snapshot_path = file;
  o.data_dir = path("r.etcd");
  o.bump_revision = 1000;
  o.mark_compacted = true;
  ASSERT_TRUE(snapshot_restore(o).is_ok());
  auto b = server::bootstrap(config_for("default", o.data_dir, "", "http://localhost:2380"), fs_,
                             logger_, clock_);
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  EXPECT_EQ(b->kv->rev().value(), 1005);
  EXPECT_EQ(b->kv->compact_rev().value(), 1005);
  auto r = b->kv->range(mvcc::KeyRange{"k", "l"}, {});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->kvs.size(), 4u);
  close(*b);
}

TEST_F(UtlTest, DefragShrinksAndRefusesAHeldDb) {
  const std::string data_dir = path("d.etcd");
  const std::string db = data_dir + "/member/snap/db";
  {
    auto be = make_db(db, 400, 390, 4096);
    mvcc::KVStore kv(*be);
    ASSERT_TRUE(kv.restore().is_ok());
    ASSERT_TRUE(kv.compact(kv.rev()).is_ok());
    be->force_commit();
    EXPECT_FALSE(defrag_data_dir(data_dir).is_ok());  // held
    be->close();
  }
  auto before = snapshot_status(db);
  ASSERT_TRUE(before.is_ok());
  const auto size_before = stdfs::file_size(db);
  auto r = defrag_data_dir(data_dir);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_LT(stdfs::file_size(db) * 3, size_before);
  auto after = snapshot_status(db);
  ASSERT_TRUE(after.is_ok());
  EXPECT_EQ(after->hash, before->hash);
  EXPECT_EQ(after->total_keys, before->total_keys);

  auto missing = defrag_data_dir(path("none.etcd"));
  ASSERT_FALSE(missing.is_ok());
  EXPECT_FALSE(stdfs::exists(path("none.etcd")));
}

TEST_F(UtlTest, HashKvMatchesTheStoreOnDbAndSnapshotFiles) {
  uint32_t want = 0;
  {
    auto be = make_db(path("src/member/snap/db"), 6, 2);
    mvcc::KVStore kv(*be);
    ASSERT_TRUE(kv.restore().is_ok());
    want = kv.hash_by_rev(MainRev(0))->hash;
    auto reader = be->snapshot();
    ASSERT_TRUE(reader.is_ok());
    ASSERT_TRUE(backend::save_snapshot_file(**reader, path("snap.db")).is_ok());
    reader->reset();
    be->close();
  }
  auto h = hash_kv(path("src/member/snap/db"), 0);
  ASSERT_TRUE(h.is_ok()) << h.status().to_string();
  EXPECT_EQ(h->hash, want);
  EXPECT_EQ(h->hash_revision, 9);
  EXPECT_EQ(h->compact_revision, -1);
  auto hs = hash_kv(path("snap.db"), 0);
  ASSERT_TRUE(hs.is_ok()) << hs.status().to_string();
  EXPECT_EQ(hs->hash, want);
  EXPECT_TRUE(backend::verify_snapshot_file(path("snap.db")).is_ok());
  auto at = hash_kv(path("src/member/snap/db"), 5);
  ASSERT_TRUE(at.is_ok());
  EXPECT_EQ(at->hash_revision, 5);
  EXPECT_NE(at->hash, want);
  EXPECT_FALSE(hash_kv(path("src/member/snap/db"), 100).is_ok());
}

}  // namespace
}  // namespace etcd::utl
