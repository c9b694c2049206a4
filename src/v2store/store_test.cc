#include "v2store/store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "v2store/go_json.h"

namespace etcd::v2store {
namespace {

// 2026-12-07T18:20:01Z
constexpr int64_t kNow = 1796667601LL * 1'000'000'000;
constexpr int64_t kSec = 1'000'000'000;

class StoreTest : public ::testing::Test {
 protected:
  StoreTest() : store_({"/0", "/1"}, [this] { return now_; }) {}

  static Event ok(StoreResult<Event> r) {
    if (auto* err = std::get_if<Error>(&r)) {
      ADD_FAILURE() << "error " << err->to_json();
      return Event{};
    }
    return std::get<Event>(std::move(r));
  }
  static Error err(StoreResult<Event> r) {
    if (auto* e = std::get_if<Error>(&r)) return *e;
    ADD_FAILURE() << "no error: " << std::get<Event>(r).to_json();
    return Error{};
  }
  static TTLOptions ttl(int64_t expire_ns, bool refresh = false) {
    return TTLOptions{expire_ns, refresh};
  }

  int64_t now_ = kNow;
  Store store_;
};

TEST(CleanPath, AsGoPathClean) {
  EXPECT_EQ(clean_path(""), "/");
  EXPECT_EQ(clean_path("/"), "/");
  EXPECT_EQ(clean_path("foo"), "/foo");
  EXPECT_EQ(clean_path("/a//b/"), "/a/b");
  EXPECT_EQ(clean_path("/a/./b/../c"), "/a/c");
  EXPECT_EQ(clean_path("/../../a"), "/a");
  EXPECT_EQ(clean_path("a/.."), "/");
  EXPECT_EQ(clean_path("/_x/..y"), "/_x/..y");
}

TEST(ErrorTest, MessagesStatusesAndJson) {
  Error e{kKeyNotFound, "/foo", 5};
  EXPECT_EQ(e.message(), "Key not found");
  EXPECT_EQ(e.http_status(), 404);
  EXPECT_EQ(e.to_json(), R"({"errorCode":100,"message":"Key not found","cause":"/foo","index":5})");
  EXPECT_EQ((Error{kTestFailed, "", 0}).to_json(),
            R"({"errorCode":101,"message":"Compare failed","index":0})");
  EXPECT_EQ((Error{kNotFile, "", 0}).http_status(), 403);
  EXPECT_EQ((Error{kDirNotEmpty, "", 0}).http_status(), 403);
  EXPECT_EQ((Error{kUnauthorized, "", 0}).http_status(), 401);
  EXPECT_EQ((Error{kNodeExist, "", 0}).http_status(), 412);
  EXPECT_EQ((Error{kRaftInternal, "", 0}).http_status(), 500);
  EXPECT_EQ((Error{kLeaderElect, "", 0}).http_status(), 500);
  EXPECT_EQ((Error{kNotDir, "", 0}).http_status(), 400);
  EXPECT_EQ((Error{kEventIndexCleared, "", 0}).http_status(), 400);
  EXPECT_EQ((Error{kRootROnly, "", 0}).message(), "Root is read only");
  EXPECT_EQ((Error{kNotDir, "", 0}).message(), "Not a directory");
  EXPECT_EQ((Error{kNodeExist, "", 0}).message(), "Key already exists");
  EXPECT_EQ((Error{kDirNotEmpty, "", 0}).message(), "Directory not empty");
  EXPECT_EQ((Error{kEventIndexCleared, "", 0}).message(),
            "The event in requested index is outdated and cleared");
  EXPECT_EQ((Error{kRefreshTTLRequired, "", 0}).message(), "A TTL must be provided on refresh");
  EXPECT_EQ((Error{999, "", 0}).message(), "");
  // The cause is escaped as Go does.
  EXPECT_EQ((Error{kKeyNotFound, "/<a>", 1}).to_json(),
            R"({"errorCode":100,"message":"Key not found","cause":"/\u003ca\u003e","index":1})");
}

TEST_F(StoreTest, CreateGetAndIndexes) {
  EXPECT_EQ(store_.index(), 0u);
  Event e = ok(store_.create("/1/foo", false, "bar", false, {}));
  EXPECT_EQ(
      e.to_json(),
      R"({"action":"create","node":{"key":"/1/foo","value":"bar","modifiedIndex":1,"createdIndex":1}})");
  EXPECT_EQ(e.etcd_index, 1u);
  EXPECT_TRUE(e.is_created());
  EXPECT_EQ(store_.index(), 1u);

  Event g = ok(store_.get("/1/foo", false, false));
  EXPECT_EQ(
      g.to_json(),
      R"({"action":"get","node":{"key":"/1/foo","value":"bar","modifiedIndex":1,"createdIndex":1}})");
  EXPECT_EQ(g.etcd_index, 1u);
  EXPECT_FALSE(g.is_created());
  EXPECT_EQ(store_.index(), 1u);  // reads do not advance the index

  // An empty value is still a value.
  Event empty = ok(store_.create("/1/empty", false, "", false, {}));
  EXPECT_EQ(
      empty.to_json(),
      R"({"action":"create","node":{"key":"/1/empty","value":"","modifiedIndex":2,"createdIndex":2}})");

  Error exists = err(store_.create("/1/foo", false, "x", false, {}));
  EXPECT_EQ(exists.code, kNodeExist);
  EXPECT_EQ(exists.cause, "/1/foo");
  EXPECT_EQ(exists.index, 2u);
  EXPECT_EQ(store_.index(), 2u);
}

TEST_F(StoreTest, GetKeyNotFoundAndNotDir) {
  ok(store_.set("/1/file", false, "v", {}));
  Error nf = err(store_.get("/1/missing/deeper", false, false));
  EXPECT_EQ(nf.code, kKeyNotFound);
  EXPECT_EQ(nf.cause, "/1/missing");
  EXPECT_EQ(nf.index, 1u);
  Error nd = err(store_.get("/1/file/below", false, false));
  EXPECT_EQ(nd.code, kNotDir);
  EXPECT_EQ(nd.cause, "/1/file");
  // Paths are cleaned before the walk.
  EXPECT_EQ(ok(store_.get("1//file/", false, false)).node->value, "v");
  // etcd keeps the path as given in a get's key.
  EXPECT_EQ(ok(store_.get("1//file/", false, false)).node->key, "1//file/");
}

TEST_F(StoreTest, CreateThroughFileFailsAndCountsAsFailedSet) {
  ok(store_.set("/1/file", false, "v", {}));
  Error e = err(store_.create("/1/file/x", false, "v", false, {}));
  EXPECT_EQ(e.code, kNotDir);
  EXPECT_EQ(e.cause, "/1/file");
  EXPECT_EQ(e.index, 1u);
  EXPECT_EQ(
      store_.json_stats(),
      R"({"getsSuccess":0,"getsFail":0,"setsSuccess":1,"setsFail":1,"deleteSuccess":0,"deleteFail":0,"updateSuccess":0,"updateFail":0,"createSuccess":0,"createFail":1,"compareAndSwapSuccess":0,"compareAndSwapFail":0,"compareAndDeleteSuccess":0,"compareAndDeleteFail":0,"expireCount":0,"watchers":0})");
}

TEST_F(StoreTest, SetReplacesAFileWithPrevNode) {
  Event s1 = ok(store_.set("/1/foo", false, "one", {}));
  EXPECT_EQ(
      s1.to_json(),
      R"({"action":"set","node":{"key":"/1/foo","value":"one","modifiedIndex":1,"createdIndex":1}})");
  EXPECT_TRUE(s1.is_created());
  Event s2 = ok(store_.set("/1/foo", false, "two", {}));
  EXPECT_EQ(
      s2.to_json(),
      R"({"action":"set","node":{"key":"/1/foo","value":"two","modifiedIndex":2,"createdIndex":2},"prevNode":{"key":"/1/foo","value":"one","modifiedIndex":1,"createdIndex":1}})");
  EXPECT_FALSE(s2.is_created());
  EXPECT_EQ(s2.etcd_index, 2u);
  // A set cannot replace a directory.
  ok(store_.set("/1/dir", true, "", {}));
  Error e = err(store_.set("/1/dir", false, "x", {}));
  EXPECT_EQ(e.code, kNotFile);
  EXPECT_EQ(e.cause, "/1/dir");
  EXPECT_EQ(e.index, 3u);
  // nor go through a file
  Error nd = err(store_.set("/1/foo/bar", false, "x", {}));
  EXPECT_EQ(nd.code, kNotDir);
  EXPECT_EQ(nd.cause, "/1/foo");
}

TEST_F(StoreTest, DirectoriesListingHiddenAndRecursive) {
  ok(store_.set("/1/d/b", false, "B", {}));   // makes /1/d at index 1
  ok(store_.set("/1/d/a", false, "A", {}));   // 2
  ok(store_.set("/1/d/_h", false, "H", {}));  // 3: hidden
  ok(store_.set("/1/d/sub/x", false, "X", {}));
  ok(store_.set("/1/d/sub/_y", false, "Y", {}));
  Event g = ok(store_.get("/1/d", false, true));
  EXPECT_EQ(
      g.to_json(),
      R"({"action":"get","node":{"key":"/1/d","dir":true,"nodes":[{"key":"/1/d/a","value":"A","modifiedIndex":2,"createdIndex":2},{"key":"/1/d/b","value":"B","modifiedIndex":1,"createdIndex":1},{"key":"/1/d/sub","dir":true,"modifiedIndex":4,"createdIndex":4}],"modifiedIndex":1,"createdIndex":1}})");
  Event r = ok(store_.get("/1/d", true, true));
  EXPECT_EQ(
      r.to_json(),
      R"({"action":"get","node":{"key":"/1/d","dir":true,"nodes":[{"key":"/1/d/a","value":"A","modifiedIndex":2,"createdIndex":2},{"key":"/1/d/b","value":"B","modifiedIndex":1,"createdIndex":1},{"key":"/1/d/sub","dir":true,"nodes":[{"key":"/1/d/sub/x","value":"X","modifiedIndex":4,"createdIndex":4}],"modifiedIndex":4,"createdIndex":4}],"modifiedIndex":1,"createdIndex":1}})");
  // A hidden key can be read directly.
  EXPECT_EQ(ok(store_.get("/1/d/_h", false, false)).node->value, "H");
  // An empty directory lists no "nodes".
  ok(store_.set("/1/e", true, "", {}));
  EXPECT_EQ(
      ok(store_.get("/1/e", false, false)).to_json(),
      R"({"action":"get","node":{"key":"/1/e","dir":true,"modifiedIndex":6,"createdIndex":6}})");
  // The root lists the namespaces.
  EXPECT_EQ(
      ok(store_.get("/", false, true)).to_json(),
      R"({"action":"get","node":{"key":"/","dir":true,"nodes":[{"key":"/0","dir":true},{"key":"/1","dir":true}]}})");
  Event root = ok(store_.get("/", false, true));
  EXPECT_EQ(root.node->key, "/");
  ASSERT_TRUE(root.node->nodes);
  ASSERT_EQ(root.node->nodes->size(), 2u);
  EXPECT_EQ((*root.node->nodes)[0].key, "/0");
  EXPECT_EQ((*root.node->nodes)[1].key, "/1");
}

TEST_F(StoreTest, InOrderKeys) {
  ok(store_.set("/1/q", true, "", {}));
  Event a = ok(store_.create("/1/q", false, "first", true, {}));
  EXPECT_EQ(a.node->key, "/1/q/00000000000000000002");
  Event b = ok(store_.create("/1/q/", false, "second", true, {}));
  EXPECT_EQ(b.node->key, "/1/q/00000000000000000003");
  EXPECT_EQ(b.action, "create");
  Event d = ok(store_.create("/1/q", true, "", true, {}));
  EXPECT_EQ(
      d.to_json(),
      R"({"action":"create","node":{"key":"/1/q/00000000000000000004","dir":true,"modifiedIndex":4,"createdIndex":4}})");
  // Under a missing directory: it is made.
  EXPECT_EQ(ok(store_.create("/1/new", false, "v", true, {})).node->key,
            "/1/new/00000000000000000005");
}

TEST_F(StoreTest, RootAndNamespacesAreReadOnly) {
  for (const char* p : {"/", "/0", "/1", "//1/"}) {
    SCOPED_TRACE(p);
    Error s = err(store_.set(p, false, "x", {}));
    EXPECT_EQ(s.code, kRootROnly);
    EXPECT_EQ(s.cause, "/");
    EXPECT_EQ(s.index, 0u);
    EXPECT_EQ(err(store_.create(p, true, "", false, {})).code, kRootROnly);
    EXPECT_EQ(err(store_.update(p, "", {})).code, kRootROnly);
    EXPECT_EQ(err(store_.compare_and_swap(p, "a", 0, "b", {})).code, kRootROnly);
    EXPECT_EQ(err(store_.remove(p, true, true)).code, kRootROnly);
  }
  // compare_and_delete has no read-only check: the root is a directory.
  Error cad = err(store_.compare_and_delete("/", "a", 0));
  EXPECT_EQ(cad.code, kNotFile);
  EXPECT_EQ(cad.cause, "/");
  EXPECT_EQ(store_.index(), 0u);
}

TEST_F(StoreTest, UpdateFileAndDirectory) {
  ok(store_.set("/1/foo", false, "one", {}));
  Event u = ok(store_.update("/1/foo", "two", {}));
  EXPECT_EQ(
      u.to_json(),
      R"({"action":"update","node":{"key":"/1/foo","value":"two","modifiedIndex":2,"createdIndex":1},"prevNode":{"key":"/1/foo","value":"one","modifiedIndex":1,"createdIndex":1}})");
  EXPECT_EQ(u.etcd_index, 2u);
  Error nf = err(store_.update("/1/nope", "x", {}));
  EXPECT_EQ(nf.code, kKeyNotFound);
  EXPECT_EQ(nf.cause, "/1/nope");
  EXPECT_EQ(nf.index, 2u);

  ok(store_.set("/1/dir", true, "", {}));  // 3
  Error value_on_dir = err(store_.update("/1/dir", "v", {}));
  EXPECT_EQ(value_on_dir.code, kNotFile);
  EXPECT_EQ(value_on_dir.cause, "/1/dir");
  // A directory's TTL can be updated; its modified index stays.
  Event ud = ok(store_.update("/1/dir", "", ttl(kNow + 10 * kSec)));
  EXPECT_EQ(
      ud.to_json(),
      R"({"action":"update","node":{"key":"/1/dir","dir":true,"expiration":"2026-12-07T18:20:11Z","ttl":10,"modifiedIndex":4,"createdIndex":3},"prevNode":{"key":"/1/dir","dir":true,"modifiedIndex":3,"createdIndex":3}})");
  Event g = ok(store_.get("/1/dir", false, false));
  EXPECT_EQ(g.node->modified_index, 3u);
  EXPECT_EQ(g.node->ttl, 10);
  EXPECT_EQ(store_.index(), 4u);
}

TEST_F(StoreTest, CompareAndSwap) {
  ok(store_.set("/1/foo", false, "one", {}));
  Error both = err(store_.compare_and_swap("/1/foo", "x", 7, "two", {}));
  EXPECT_EQ(both.code, kTestFailed);
  EXPECT_EQ(both.cause, "[x != one] [7 != 1]");
  EXPECT_EQ(both.index, 1u);
  EXPECT_EQ(err(store_.compare_and_swap("/1/foo", "x", 0, "two", {})).cause, "[x != one]");
  EXPECT_EQ(err(store_.compare_and_swap("/1/foo", "", 7, "two", {})).cause, "[7 != 1]");
  EXPECT_EQ(err(store_.compare_and_swap("/1/foo", "one", 7, "two", {})).cause, "[7 != 1]");
  Event e = ok(store_.compare_and_swap("/1/foo", "one", 1, "two", {}));
  EXPECT_EQ(
      e.to_json(),
      R"({"action":"compareAndSwap","node":{"key":"/1/foo","value":"two","modifiedIndex":2,"createdIndex":1},"prevNode":{"key":"/1/foo","value":"one","modifiedIndex":1,"createdIndex":1}})");
  EXPECT_EQ(e.etcd_index, 2u);
  // Only one of the two given: that one is tested.
  EXPECT_EQ(ok(store_.compare_and_swap("/1/foo", "two", 0, "three", {})).node->modified_index, 3u);
  EXPECT_EQ(ok(store_.compare_and_swap("/1/foo", "", 3, "four", {})).node->value, "four");

  ok(store_.set("/1/dir", true, "", {}));
  Error nf = err(store_.compare_and_swap("/1/dir", "a", 0, "b", {}));
  EXPECT_EQ(nf.code, kNotFile);
  EXPECT_EQ(nf.cause, "/1/dir");
  Error missing = err(store_.compare_and_swap("/1/none", "a", 0, "b", {}));
  EXPECT_EQ(missing.code, kKeyNotFound);
  EXPECT_EQ(missing.cause, "/1/none");
}

TEST_F(StoreTest, DeleteFilesAndDirectories) {
  ok(store_.set("/1/foo", false, "bar", {}));
  Event d = ok(store_.remove("/1/foo", false, false));
  EXPECT_EQ(
      d.to_json(),
      R"({"action":"delete","node":{"key":"/1/foo","modifiedIndex":2,"createdIndex":1},"prevNode":{"key":"/1/foo","value":"bar","modifiedIndex":1,"createdIndex":1}})");
  EXPECT_EQ(d.etcd_index, 2u);
  EXPECT_EQ(err(store_.get("/1/foo", false, false)).code, kKeyNotFound);
  Error nf = err(store_.remove("/1/foo", false, false));
  EXPECT_EQ(nf.code, kKeyNotFound);
  EXPECT_EQ(nf.cause, "/1/foo");
  EXPECT_EQ(nf.index, 2u);

  ok(store_.set("/1/dir/a", false, "A", {}));  // 3
  Error not_file = err(store_.remove("/1/dir", false, false));
  EXPECT_EQ(not_file.code, kNotFile);
  EXPECT_EQ(not_file.cause, "/1/dir");
  Error not_empty = err(store_.remove("/1/dir", true, false));
  EXPECT_EQ(not_empty.code, kDirNotEmpty);
  EXPECT_EQ(not_empty.cause, "/1/dir");
  EXPECT_EQ(not_empty.index, 3u);
  Event rd = ok(store_.remove("/1/dir", false, true));  // recursive implies dir
  EXPECT_EQ(
      rd.to_json(),
      R"({"action":"delete","node":{"key":"/1/dir","dir":true,"modifiedIndex":4,"createdIndex":3},"prevNode":{"key":"/1/dir","dir":true,"modifiedIndex":3,"createdIndex":3}})");
  EXPECT_EQ(err(store_.get("/1/dir/a", false, false)).code, kKeyNotFound);
  // An empty directory goes with dir alone; a file with dir set too.
  ok(store_.set("/1/empty", true, "", {}));
  ok(store_.set("/1/file", false, "", {}));
  EXPECT_EQ(ok(store_.remove("/1/empty", true, false)).node->dir, true);
  EXPECT_EQ(ok(store_.remove("/1/file", true, false)).node->dir, false);
  EXPECT_EQ(store_.index(), 8u);
}

TEST_F(StoreTest, CompareAndDelete) {
  ok(store_.set("/1/foo", false, "bar", {}));
  Error tf = err(store_.compare_and_delete("/1/foo", "baz", 0));
  EXPECT_EQ(tf.code, kTestFailed);
  EXPECT_EQ(tf.cause, "[baz != bar]");
  EXPECT_EQ(tf.index, 1u);
  EXPECT_EQ(err(store_.compare_and_delete("/1/foo", "baz", 5)).cause, "[baz != bar] [5 != 1]");
  Event e = ok(store_.compare_and_delete("/1/foo", "bar", 1));
  EXPECT_EQ(
      e.to_json(),
      R"({"action":"compareAndDelete","node":{"key":"/1/foo","modifiedIndex":2,"createdIndex":1},"prevNode":{"key":"/1/foo","value":"bar","modifiedIndex":1,"createdIndex":1}})");
  EXPECT_EQ(e.etcd_index, 2u);
  EXPECT_EQ(err(store_.compare_and_delete("/1/foo", "bar", 0)).code, kKeyNotFound);
  ok(store_.set("/1/dir", true, "", {}));
  Error nf = err(store_.compare_and_delete("/1/dir", "", 0));
  EXPECT_EQ(nf.code, kNotFile);
  EXPECT_EQ(nf.cause, "/1/dir");
}

TEST_F(StoreTest, StatsCountAsEtcd) {
  ok(store_.set("/1/a", false, "1", {}));                 // setsSuccess
  err(store_.set("/1", false, "1", {}));                  // read-only: setsFail
  ok(store_.get("/1/a", false, false));                   // getsSuccess
  err(store_.get("/1/b", false, false));                  // getsFail
  ok(store_.create("/1/b", false, "", false, {}));        // createSuccess
  err(store_.create("/1/b", false, "", false, {}));       // createFail
  ok(store_.update("/1/a", "2", {}));                     // updateSuccess
  err(store_.update("/1/zz", "2", {}));                   // updateFail
  err(store_.update("/1", "", {}));                       // read-only: updateSuccess
  ok(store_.compare_and_swap("/1/a", "2", 0, "3", {}));   // casSuccess
  err(store_.compare_and_swap("/1/a", "2", 0, "3", {}));  // casFail
  err(store_.compare_and_swap("/1", "2", 0, "3", {}));    // read-only: casSuccess
  err(store_.compare_and_delete("/1/a", "x", 0));         // test failed: cadSuccess
  err(store_.compare_and_delete("/1/q", "x", 0));         // not found: cadFail
  ok(store_.compare_and_delete("/1/a", "3", 0));          // cadSuccess
  ok(store_.remove("/1/b", false, false));                // deleteSuccess
  err(store_.remove("/1/b", false, false));               // deleteFail
  err(store_.remove("/1", true, true));                   // read-only: deleteSuccess
  EXPECT_EQ(
      store_.json_stats(),
      R"({"getsSuccess":1,"getsFail":1,"setsSuccess":1,"setsFail":1,"deleteSuccess":2,"deleteFail":1,"updateSuccess":2,"updateFail":1,"createSuccess":1,"createFail":1,"compareAndSwapSuccess":2,"compareAndSwapFail":1,"compareAndDeleteSuccess":2,"compareAndDeleteFail":1,"expireCount":0,"watchers":0})");
}

// ---- watches ----

// Collects what a sink is given.
struct Sink {
  std::shared_ptr<std::vector<Event>> events = std::make_shared<std::vector<Event>>();
  bool keep = true;
  WatchSink fn() {
    auto ev = events;
    bool k = keep;
    return [ev, k](const Event& e) {
      ev->push_back(e);
      return k;
    };
  }
  size_t size() const { return events->size(); }
  const Event& at(size_t i) const { return events->at(i); }
};

std::shared_ptr<Watch> watch_ok(StoreResult<std::shared_ptr<Watch>> r) {
  if (auto* e = std::get_if<Error>(&r)) {
    ADD_FAILURE() << e->to_json();
    return nullptr;
  }
  return std::get<std::shared_ptr<Watch>>(r);
}

TEST_F(StoreTest, OneShotWatchEndsAfterOneEvent) {
  ok(store_.set("/1/other", false, "x", {}));
  Sink sink;
  auto w = watch_ok(store_.watch("/1/foo", false, false, 0, sink.fn()));
  EXPECT_EQ(w->start_index(), 1u);
  EXPECT_EQ(store_.watcher_count(), 1u);
  ok(store_.set("/1/bar", false, "x", {}));  // another key
  EXPECT_EQ(sink.size(), 0u);
  ok(store_.set("/1/foo", false, "v", {}));
  ASSERT_EQ(sink.size(), 1u);
  EXPECT_EQ(sink.at(0).action, "set");
  EXPECT_EQ(sink.at(0).node->key, "/1/foo");
  EXPECT_EQ(sink.at(0).etcd_index, 3u);
  EXPECT_EQ(store_.watcher_count(), 0u);
  ok(store_.set("/1/foo", false, "w", {}));
  EXPECT_EQ(sink.size(), 1u);
  w->cancel();  // idempotent after the end
  w->cancel();
}

TEST_F(StoreTest, StreamWatchUntilCancelled) {
  Sink sink;
  auto w = watch_ok(store_.watch("1/foo/", false, true, 0, sink.fn()));
  ok(store_.set("/1/foo", false, "a", {}));
  ok(store_.update("/1/foo", "b", {}));
  ok(store_.compare_and_swap("/1/foo", "b", 0, "c", {}));
  ASSERT_EQ(sink.size(), 3u);
  EXPECT_EQ(sink.at(0).action, "set");
  EXPECT_EQ(sink.at(1).action, "update");
  EXPECT_EQ(sink.at(2).action, "compareAndSwap");
  EXPECT_EQ(store_.watcher_count(), 1u);
  EXPECT_EQ(store_.json_stats().find("\"watchers\":1}") != std::string::npos, true);
  w->cancel();
  EXPECT_EQ(store_.watcher_count(), 0u);
  ok(store_.set("/1/foo", false, "d", {}));
  EXPECT_EQ(sink.size(), 3u);
  w->cancel();
}

TEST_F(StoreTest, StreamSinkReturningFalseEndsTheWatch) {
  Sink sink;
  sink.keep = false;
  auto w = watch_ok(store_.watch("/1/foo", false, true, 0, sink.fn()));
  ok(store_.set("/1/foo", false, "a", {}));
  ok(store_.set("/1/foo", false, "b", {}));
  EXPECT_EQ(sink.size(), 1u);
  EXPECT_EQ(store_.watcher_count(), 0u);
}

TEST_F(StoreTest, RecursiveWatchAndHiddenKeys) {
  Sink rec, flat, root, hidden;
  auto w1 = watch_ok(store_.watch("/1/d", true, true, 0, rec.fn()));
  auto w2 = watch_ok(store_.watch("/1/d", false, true, 0, flat.fn()));
  auto w3 = watch_ok(store_.watch("/", true, true, 0, root.fn()));
  auto w4 = watch_ok(store_.watch("/1/d/_h", false, true, 0, hidden.fn()));
  ok(store_.set("/1/d/x", false, "1", {}));     // 1: rec, root
  ok(store_.set("/1/d/_h", false, "2", {}));    // 2: hidden only (watched itself)
  ok(store_.set("/1/d/y/_z", false, "3", {}));  // 3: nobody
  ok(store_.set("/1/dx", false, "4", {}));      // 4: root
  ok(store_.set("/1/_top/a", false, "5", {}));  // 5: nobody
  ASSERT_EQ(rec.size(), 1u);
  EXPECT_EQ(rec.at(0).node->key, "/1/d/x");
  EXPECT_EQ(flat.size(), 0u);
  ASSERT_EQ(root.size(), 2u);
  EXPECT_EQ(root.at(0).node->key, "/1/d/x");
  EXPECT_EQ(root.at(1).node->key, "/1/dx");
  ASSERT_EQ(hidden.size(), 1u);
  EXPECT_EQ(hidden.at(0).node->key, "/1/d/_h");
  // The directory itself changes: the flat watcher sees it.
  ok(store_.update("/1/d", "", ttl(kNow + 100 * kSec)));
  ASSERT_EQ(flat.size(), 1u);
  EXPECT_EQ(flat.at(0).action, "update");
  for (auto& w : {w1, w2, w3, w4}) w->cancel();
  EXPECT_EQ(store_.watcher_count(), 0u);
}

TEST_F(StoreTest, SinceIndexInTheFutureSkipsEarlierEvents) {
  Sink sink;
  auto w = watch_ok(store_.watch("/1/foo", false, false, 3, sink.fn()));
  ok(store_.set("/1/foo", false, "1", {}));  // index 1 < 3
  ok(store_.set("/1/bar", false, "2", {}));
  EXPECT_EQ(sink.size(), 0u);
  ok(store_.set("/1/foo", false, "3", {}));  // index 3
  ASSERT_EQ(sink.size(), 1u);
  EXPECT_EQ(sink.at(0).node->value, "3");
}

TEST_F(StoreTest, HistoryReplay) {
  ok(store_.set("/1/a", false, "1", {}));    // 1
  ok(store_.set("/1/b", false, "2", {}));    // 2
  ok(store_.set("/1/a", false, "3", {}));    // 3
  ok(store_.set("/1/c/d", false, "4", {}));  // 4
  Sink s1;
  auto w = watch_ok(store_.watch("/1/a", false, false, 2, s1.fn()));
  ASSERT_EQ(s1.size(), 1u);  // before watch() returned
  EXPECT_EQ(s1.at(0).node->modified_index, 3u);
  EXPECT_EQ(s1.at(0).node->value, "3");
  EXPECT_EQ(s1.at(0).etcd_index, 4u);  // the store's index now
  EXPECT_EQ(w->start_index(), 4u);
  EXPECT_EQ(store_.watcher_count(), 0u);
  // The first match wins, even for a stream, and no watcher stays.
  Sink s2;
  watch_ok(store_.watch("/1", true, true, 1, s2.fn()));
  ASSERT_EQ(s2.size(), 1u);
  EXPECT_EQ(s2.at(0).node->key, "/1/a");
  EXPECT_EQ(store_.watcher_count(), 0u);
  ok(store_.set("/1/a", false, "5", {}));
  EXPECT_EQ(s2.size(), 1u);
  // Recursive finds keys below; non-recursive does not.
  Sink s3, s4;
  watch_ok(store_.watch("/1/c", true, false, 1, s3.fn()));
  ASSERT_EQ(s3.size(), 1u);
  EXPECT_EQ(s3.at(0).node->key, "/1/c/d");
  watch_ok(store_.watch("/1/c", false, false, 1, s4.fn()));
  EXPECT_EQ(s4.size(), 0u);
  EXPECT_EQ(store_.watcher_count(), 1u);
  // Index at the newest event: found; beyond: waits.
  Sink s5;
  watch_ok(store_.watch("/1/a", false, false, 5, s5.fn()));
  ASSERT_EQ(s5.size(), 1u);
  EXPECT_EQ(s5.at(0).node->value, "5");
}

TEST_F(StoreTest, HistoryClearedIs401) {
  for (int i = 0; i < 1005; ++i) ok(store_.set("/1/k", false, std::to_string(i), {}));
  Sink sink;
  auto r = store_.watch("/1/k", false, false, 5, sink.fn());
  ASSERT_TRUE(std::holds_alternative<Error>(r));
  Error e = std::get<Error>(r);
  EXPECT_EQ(e.code, kEventIndexCleared);
  EXPECT_EQ(e.cause, "the requested history has been cleared [6/5]");
  EXPECT_EQ(e.index, 1005u);
  EXPECT_EQ(
      e.to_json(),
      R"({"errorCode":401,"message":"The event in requested index is outdated and cleared","cause":"the requested history has been cleared [6/5]","index":1005})");
  // The oldest kept event is still there.
  watch_ok(store_.watch("/1/k", false, false, 6, sink.fn()));
  ASSERT_EQ(sink.size(), 1u);
  EXPECT_EQ(sink.at(0).node->value, "5");
}

TEST_F(StoreTest, DeletingAParentNotifiesWatchersBelow) {
  ok(store_.set("/1/d/x/y", false, "v", {}));  // 1
  Sink below, exact, stream_exact, sibling;
  auto w1 = watch_ok(store_.watch("/1/d/x/y", false, false, 0, below.fn()));
  auto w2 = watch_ok(store_.watch("/1/d", false, false, 0, exact.fn()));
  auto w3 = watch_ok(store_.watch("/1/d", false, true, 0, stream_exact.fn()));
  auto w4 = watch_ok(store_.watch("/1/e", false, false, 0, sibling.fn()));
  Event del = ok(store_.remove("/1/d", true, true));  // 2
  ASSERT_EQ(below.size(), 1u);
  EXPECT_EQ(below.at(0).to_json(), del.to_json());
  EXPECT_EQ(below.at(0).node->key, "/1/d");
  ASSERT_EQ(exact.size(), 1u);
  // etcd tells a stream on the deleted key twice.
  ASSERT_EQ(stream_exact.size(), 2u);
  EXPECT_EQ(stream_exact.at(1).to_json(), del.to_json());
  EXPECT_EQ(sibling.size(), 0u);
  w3->cancel();
  w4->cancel();
  EXPECT_EQ(store_.watcher_count(), 0u);
  // From the history too: the directory's deletion is a match for a key
  // below it.
  Sink hist;
  watch_ok(store_.watch("/1/d/x/y/z", false, false, 2, hist.fn()));
  ASSERT_EQ(hist.size(), 1u);
  EXPECT_EQ(hist.at(0).action, "delete");
  EXPECT_EQ(hist.at(0).node->key, "/1/d");
}

TEST_F(StoreTest, StreamsAsEtcd34AnswersThem) {
  // What etcd 3.4.23 answered to `?wait=true&stream=true` (checked by hand
  // against /usr/bin/etcd): a stream on a deleted key gets the deletion
  // twice and goes on; one whose waitIndex hits the history gets that
  // event only.
  ok(store_.set("/1/foo", false, "1", {}));  // 1
  Sink live, hist;
  auto w = watch_ok(store_.watch("/1/foo", false, true, 0, live.fn()));
  ok(store_.remove("/1/foo", false, false));  // 2
  watch_ok(store_.watch("/1/foo", false, true, 1, hist.fn()));
  ok(store_.set("/1/foo", false, "2", {}));  // 3
  ASSERT_EQ(live.size(), 3u);
  EXPECT_EQ(live.at(0).to_json(), live.at(1).to_json());
  EXPECT_EQ(
      live.at(0).trim_prefix("/1").to_json(),
      R"({"action":"delete","node":{"key":"/foo","modifiedIndex":2,"createdIndex":1},"prevNode":{"key":"/foo","value":"1","modifiedIndex":1,"createdIndex":1}})");
  EXPECT_EQ(live.at(2).action, "set");
  ASSERT_EQ(hist.size(), 1u);
  EXPECT_EQ(hist.at(0).node->modified_index, 1u);
  w->cancel();
}

TEST_F(StoreTest, CancelFromInsideASink) {
  std::shared_ptr<Watch> other;
  int calls = 0, other_calls = 0;
  std::shared_ptr<Watch> self;
  auto w = watch_ok(store_.watch("/1/k", false, true, 0, [&](const Event&) {
    ++calls;
    self->cancel();
    other->cancel();
    return true;
  }));
  self = w;
  other = watch_ok(store_.watch("/1/k", false, true, 0, [&](const Event&) {
    ++other_calls;
    return true;
  }));
  EXPECT_EQ(store_.watcher_count(), 2u);
  ok(store_.set("/1/k", false, "v", {}));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(other_calls, 0);  // cancelled before its turn
  EXPECT_EQ(store_.watcher_count(), 0u);
  ok(store_.set("/1/k", false, "w", {}));
  EXPECT_EQ(calls, 1);
}

TEST_F(StoreTest, WatchOutlivesStore) {
  std::shared_ptr<Watch> w;
  {
    Store s;
    w = watch_ok(s.watch("/k", false, true, 0, [](const Event&) { return true; }));
  }
  w->cancel();  // the store is gone: nothing to do
}

TEST(StoreConcurrency, CancelWhileWriting) {
  Store store({"/1"});
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; i < 3000 && !stop; ++i) {
      auto r = store.set("/1/k", false, std::to_string(i), {});
      ASSERT_TRUE(std::holds_alternative<Event>(r));
    }
  });
  for (int round = 0; round < 300; ++round) {
    auto cancelled = std::make_shared<std::atomic<bool>>(false);
    auto late = std::make_shared<std::atomic<int>>(0);
    auto r = store.watch("/1", true, true, 0, [cancelled, late](const Event&) {
      if (cancelled->load()) late->fetch_add(1);
      return true;
    });
    ASSERT_TRUE(std::holds_alternative<std::shared_ptr<Watch>>(r));
    auto w = std::get<std::shared_ptr<Watch>>(r);
    std::this_thread::yield();
    w->cancel();
    cancelled->store(true);
    std::this_thread::yield();
    EXPECT_EQ(late->load(), 0);
  }
  stop = true;
  writer.join();
  EXPECT_EQ(store.watcher_count(), 0u);
}

// ---- TTLs ----

TEST_F(StoreTest, TtlExpirationAndCountdown) {
  Event e = ok(store_.set("/1/t", false, "v", ttl(kNow + 1500 * int64_t{1'000'000})));
  EXPECT_EQ(
      e.to_json(),
      R"({"action":"set","node":{"key":"/1/t","value":"v","expiration":"2026-12-07T18:20:02.5Z","ttl":2,"modifiedIndex":1,"createdIndex":1}})");
  EXPECT_TRUE(store_.has_ttl_keys());
  now_ = kNow + 600 * int64_t{1'000'000};
  EXPECT_EQ(ok(store_.get("/1/t", false, false)).node->ttl, 1);
  now_ = kNow + 1500 * int64_t{1'000'000};
  Event at = ok(store_.get("/1/t", false, false));
  EXPECT_EQ(at.node->ttl, 0);  // left out of the JSON
  EXPECT_EQ(
      at.to_json(),
      R"({"action":"get","node":{"key":"/1/t","value":"v","expiration":"2026-12-07T18:20:02.5Z","modifiedIndex":1,"createdIndex":1}})");
  now_ = kNow + 3700 * int64_t{1'000'000};
  EXPECT_EQ(ok(store_.get("/1/t", false, false)).node->ttl, -2);  // not swept yet
}

TEST_F(StoreTest, DeleteExpiredKeysInExpiryOrder) {
  ok(store_.set("/1/c", false, "C", ttl(kNow + 3 * kSec)));  // 1
  ok(store_.set("/1/a", false, "A", ttl(kNow + 1 * kSec)));  // 2
  ok(store_.set("/1/b", false, "B", ttl(kNow + 2 * kSec)));  // 3
  ok(store_.set("/1/p", false, "P", {}));                    // 4
  Sink all, one;
  watch_ok(store_.watch("/", true, true, 0, all.fn()));
  watch_ok(store_.watch("/1/b", false, false, 0, one.fn()));
  store_.delete_expired_keys(kNow + kSec - 1);
  EXPECT_EQ(all.size(), 0u);
  EXPECT_EQ(store_.index(), 4u);
  now_ = kNow + 2 * kSec;
  store_.delete_expired_keys(kNow + 2 * kSec);  // at the expiry: expired
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(
      all.at(0).to_json(),
      R"({"action":"expire","node":{"key":"/1/a","modifiedIndex":5,"createdIndex":2},"prevNode":{"key":"/1/a","value":"A","expiration":"2026-12-07T18:20:02Z","ttl":-1,"modifiedIndex":2,"createdIndex":2}})");
  EXPECT_EQ(all.at(0).etcd_index, 5u);
  EXPECT_EQ(all.at(1).node->key, "/1/b");
  EXPECT_EQ(all.at(1).node->modified_index, 6u);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one.at(0).action, "expire");
  EXPECT_EQ(store_.index(), 6u);
  EXPECT_EQ(err(store_.get("/1/a", false, false)).code, kKeyNotFound);
  EXPECT_TRUE(store_.has_ttl_keys());
  store_.delete_expired_keys(kNow + 100 * kSec);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all.at(2).node->key, "/1/c");
  EXPECT_FALSE(store_.has_ttl_keys());
  EXPECT_EQ(ok(store_.get("/1/p", false, false)).node->value, "P");
  EXPECT_NE(store_.json_stats().find("\"expireCount\":3,"), std::string::npos);
}

TEST_F(StoreTest, SameExpiryLeavesInGoHeapOrder) {
  // Go's container/heap pops equal keys as: first pushed, then the last,
  // then the rest sifted up; etcd's expire events (and their indexes)
  // follow that order, so must ours.
  for (const char* k : {"/1/a", "/1/b", "/1/c"}) ok(store_.set(k, false, "", ttl(kNow + kSec)));
  Sink sink;
  watch_ok(store_.watch("/1", true, true, 0, sink.fn()));
  store_.delete_expired_keys(kNow + kSec);
  ASSERT_EQ(sink.size(), 3u);
  EXPECT_EQ(sink.at(0).node->key, "/1/a");
  EXPECT_EQ(sink.at(1).node->key, "/1/c");
  EXPECT_EQ(sink.at(2).node->key, "/1/b");
}

TEST_F(StoreTest, DirectoryTtlTakesItsChildren) {
  ok(store_.set("/1/d", true, "", ttl(kNow + 5 * kSec)));       // 1
  ok(store_.set("/1/d/x", false, "v", ttl(kNow + 50 * kSec)));  // 2
  ok(store_.set("/1/d/y", false, "w", {}));                     // 3
  Sink child;
  watch_ok(store_.watch("/1/d/y", false, false, 0, child.fn()));
  store_.delete_expired_keys(kNow + 5 * kSec);
  ASSERT_EQ(child.size(), 1u);
  EXPECT_EQ(
      child.at(0).to_json(),
      R"({"action":"expire","node":{"key":"/1/d","dir":true,"modifiedIndex":4,"createdIndex":1},"prevNode":{"key":"/1/d","dir":true,"expiration":"2026-12-07T18:20:06Z","ttl":5,"modifiedIndex":1,"createdIndex":1}})");
  EXPECT_FALSE(store_.has_ttl_keys());  // the child's TTL went with it
  EXPECT_EQ(err(store_.get("/1/d/x", false, false)).code, kKeyNotFound);
  // A watch below it finds the expiry in the history.
  Sink hist;
  watch_ok(store_.watch("/1/d/x", false, false, 4, hist.fn()));
  ASSERT_EQ(hist.size(), 1u);
  EXPECT_EQ(hist.at(0).action, "expire");
}

TEST_F(StoreTest, TtlChangesAndOldExpiries) {
  // Before 2000-01-01 on create or set: no TTL.
  Event old = ok(store_.set("/1/o", false, "v", ttl(946684799LL * kSec)));
  EXPECT_FALSE(old.node->expiration_ns);
  EXPECT_FALSE(store_.has_ttl_keys());
  Event y2k = ok(store_.create("/1/y", false, "v", false, ttl(946684800LL * kSec)));
  EXPECT_EQ(*y2k.node->expiration_ns, 946684800LL * kSec);
  EXPECT_TRUE(store_.has_ttl_keys());
  // Update without a TTL: permanent again.
  Event u = ok(store_.update("/1/y", "w", {}));
  EXPECT_FALSE(u.node->expiration_ns);
  EXPECT_EQ(u.prev_node->expiration_ns, 946684800LL * kSec);
  EXPECT_FALSE(store_.has_ttl_keys());
  // Update with an old expiry: kept, and swept at once.
  ok(store_.update("/1/o", "v", ttl(kSec)));
  EXPECT_TRUE(store_.has_ttl_keys());
  store_.delete_expired_keys(kNow);
  EXPECT_EQ(err(store_.get("/1/o", false, false)).code, kKeyNotFound);
  // CAS moves the TTL too.
  ok(store_.set("/1/c", false, "1", ttl(kNow + 10 * kSec)));
  ok(store_.compare_and_swap("/1/c", "1", 0, "2", ttl(kNow + 20 * kSec)));
  store_.delete_expired_keys(kNow + 15 * kSec);
  EXPECT_EQ(ok(store_.get("/1/c", false, false)).node->value, "2");
  store_.delete_expired_keys(kNow + 20 * kSec);
  EXPECT_EQ(err(store_.get("/1/c", false, false)).code, kKeyNotFound);
}

TEST_F(StoreTest, Refresh) {
  EXPECT_EQ(err(store_.set("/1/r", false, "", ttl(kNow + kSec, true))).code, kKeyNotFound);
  ok(store_.set("/1/r", false, "keep", ttl(kNow + 5 * kSec)));  // 1
  Sink sink;
  watch_ok(store_.watch("/1/r", false, true, 0, sink.fn()));
  Event s = ok(store_.set("/1/r", false, "", ttl(kNow + 30 * kSec, true)));  // 2
  EXPECT_EQ(
      s.to_json(),
      R"({"action":"set","node":{"key":"/1/r","value":"keep","expiration":"2026-12-07T18:20:31Z","ttl":30,"modifiedIndex":2,"createdIndex":2},"prevNode":{"key":"/1/r","value":"keep","expiration":"2026-12-07T18:20:06Z","ttl":5,"modifiedIndex":1,"createdIndex":1},"refresh":true})");
  EXPECT_TRUE(s.refresh);
  EXPECT_FALSE(s.trim_prefix("/1").refresh);
  Event u = ok(store_.update("/1/r", "", ttl(kNow + 40 * kSec, true)));  // 3
  EXPECT_EQ(u.node->value, "keep");
  EXPECT_EQ(u.node->ttl, 40);
  EXPECT_TRUE(u.refresh);
  Event c = ok(store_.compare_and_swap("/1/r", "keep", 0, "", ttl(kNow + 50 * kSec, true)));
  EXPECT_EQ(c.node->value, "keep");
  EXPECT_EQ(sink.size(), 0u);  // refreshes reach no watcher
  EXPECT_EQ(store_.index(), 4u);
  // nor a watch from the history
  Sink hist;
  watch_ok(store_.watch("/1/r", false, false, 2, hist.fn()));
  EXPECT_EQ(hist.size(), 0u);
  ok(store_.set("/1/r", false, "new", {}));
  EXPECT_EQ(hist.size(), 1u);
  ASSERT_EQ(sink.size(), 1u);
  store_.delete_expired_keys(kNow + 100 * kSec);
  EXPECT_EQ(ok(store_.get("/1/r", false, false)).node->value, "new");
}

// ---- save and recovery ----

// Equal, or where the two first differ (the documents are long).
::testing::AssertionResult same(const std::string& a, const std::string& b) {
  if (a == b) return ::testing::AssertionSuccess();
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  size_t from = i < 40 ? 0 : i - 40;
  return ::testing::AssertionFailure() << "differ at " << i << ": ..." << a.substr(from, 120)
                                       << "\n vs ..." << b.substr(from, 120);
}

std::string nulls(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += ",null";
  return out;
}

constexpr const char* kZeroStats =
    R"({"getsSuccess":0,"getsFail":0,"setsSuccess":0,"setsFail":0,"deleteSuccess":0,"deleteFail":0,"updateSuccess":0,"updateFail":0,"createSuccess":0,"createFail":0,"compareAndSwapSuccess":0,"compareAndSwapFail":0,"compareAndDeleteSuccess":0,"compareAndDeleteFail":0,"expireCount":0,"watchers":0})";

TEST(StoreSave, EmptyStoreGolden) {
  Store store({"/0", "/1"});
  std::string events = "null" + nulls(999);
  EXPECT_TRUE(same(
      store.save(),
      R"({"Root":{"Path":"/","CreatedIndex":0,"ModifiedIndex":0,"ExpireTime":"0001-01-01T00:00:00Z","Value":"","Children":{"0":{"Path":"/0","CreatedIndex":0,"ModifiedIndex":0,"ExpireTime":"0001-01-01T00:00:00Z","Value":"","Children":{}},"1":{"Path":"/1","CreatedIndex":0,"ModifiedIndex":0,"ExpireTime":"0001-01-01T00:00:00Z","Value":"","Children":{}}}},"WatcherHub":{"EventHistory":{"Queue":{"Events":[)" +
          events +
          R"(],"Size":0,"Front":0,"Back":0,"Capacity":1000},"StartIndex":0,"LastIndex":0}},"CurrentIndex":0,"Stats":)" +
          kZeroStats + R"(,"CurrentVersion":2})"));
}

TEST_F(StoreTest, SaveGolden) {
  ok(store_.set("/1/foo", false, "b<a>r", ttl(kNow + 5 * kSec)));  // 1
  ok(store_.set("/1/foo", false, "baz", {}));                      // 2
  ok(store_.get("/1/foo", false, false));
  Sink sink;
  watch_ok(store_.watch("/1/x", false, false, 0, sink.fn()));
  store_.json_stats();  // etcd saves the watcher count of the last stats call
  std::string expected =
      R"({"Root":{"Path":"/","CreatedIndex":0,"ModifiedIndex":0,"ExpireTime":"0001-01-01T00:00:00Z","Value":"","Children":{"0":{"Path":"/0","CreatedIndex":0,"ModifiedIndex":0,"ExpireTime":"0001-01-01T00:00:00Z","Value":"","Children":{}},"1":{"Path":"/1","CreatedIndex":0,"ModifiedIndex":0,"ExpireTime":"0001-01-01T00:00:00Z","Value":"","Children":{"foo":{"Path":"/1/foo","CreatedIndex":2,"ModifiedIndex":2,"ExpireTime":"0001-01-01T00:00:00Z","Value":"baz","Children":null}}}}},)"
      R"("WatcherHub":{"EventHistory":{"Queue":{"Events":[)"
      R"({"action":"set","node":{"key":"/1/foo","value":"b\u003ca\u003er","expiration":"2026-12-07T18:20:06Z","ttl":5,"modifiedIndex":1,"createdIndex":1}},)"
      R"({"action":"set","node":{"key":"/1/foo","value":"baz","modifiedIndex":2,"createdIndex":2},"prevNode":{"key":"/1/foo","value":"b\u003ca\u003er","expiration":"2026-12-07T18:20:06Z","ttl":5,"modifiedIndex":1,"createdIndex":1}})" +
      nulls(998) +
      R"(],"Size":2,"Front":0,"Back":2,"Capacity":1000},"StartIndex":1,"LastIndex":2}},"CurrentIndex":2,)"
      R"("Stats":{"getsSuccess":1,"getsFail":0,"setsSuccess":2,"setsFail":0,"deleteSuccess":0,"deleteFail":0,"updateSuccess":0,"updateFail":0,"createSuccess":0,"createFail":0,"compareAndSwapSuccess":0,"compareAndSwapFail":0,"compareAndDeleteSuccess":0,"compareAndDeleteFail":0,"expireCount":0,"watchers":1},"CurrentVersion":2})";
  EXPECT_TRUE(same(store_.save(), expected));
}

TEST_F(StoreTest, SaveWithTtlAndRefreshGolden) {
  ok(store_.set("/1/d", true, "", ttl(kNow + 1'500'000'000)));  // 1
  ok(store_.update("/1/d", "", ttl(kNow + 2 * kSec, true)));    // 2: refresh
  std::string s = store_.save();
  EXPECT_NE(
      s.find(
          R"("d":{"Path":"/1/d","CreatedIndex":1,"ModifiedIndex":1,"ExpireTime":"2026-12-07T18:20:03Z","Value":"","Children":{}})"),
      std::string::npos)
      << s;
  EXPECT_NE(
      s.find(
          R"({"action":"update","node":{"key":"/1/d","dir":true,"expiration":"2026-12-07T18:20:03Z","ttl":2,"modifiedIndex":2,"createdIndex":1},"prevNode":{"key":"/1/d","dir":true,"expiration":"2026-12-07T18:20:02.5Z","ttl":2,"modifiedIndex":1,"createdIndex":1},"refresh":true})"),
      std::string::npos)
      << s;
}

TEST_F(StoreTest, RecoveryRoundTrip) {
  ok(store_.set("/1/a", false, "A", ttl(kNow + 30 * kSec)));    // 1
  ok(store_.set("/1/d/b", false, "B", ttl(kNow + 10 * kSec)));  // 2
  EXPECT_EQ(err(store_.set("/1/d", true, "", {})).code, kNotFile);
  ok(store_.update("/1/d", "", ttl(kNow + 20 * kSec)));  // 3
  ok(store_.set("/1/d/_h", false, "H", {}));             // 4
  ok(store_.create("/1/q", false, "Q1", true, {}));      // 5
  ok(store_.set("/1/v", false, "\n<&>", {}));            // 6
  ok(store_.remove("/1/v", false, false));               // 7
  ok(store_.set("/0/members/1", false, "{}", {}));       // 8
  const std::string saved = store_.save();

  int64_t now2 = kNow + 5 * kSec;
  Store other({"/0", "/1"}, [&] { return now2; });
  auto r = other.recovery(saved);
  ASSERT_TRUE(std::holds_alternative<std::monostate>(r)) << std::get<Error>(r).to_json();
  EXPECT_TRUE(same(other.save(), saved));
  EXPECT_EQ(other.index(), store_.index());
  EXPECT_EQ(other.json_stats(), store_.json_stats());
  Event g = std::get<Event>(other.get("/1", true, true));
  EXPECT_EQ(g.node->nodes->size(), 3u);  // a, d, q (v deleted)
  EXPECT_EQ(std::get<Event>(other.get("/1/a", false, false)).node->ttl, 25);
  EXPECT_EQ(std::get<Event>(other.get("/1/d/_h", false, false)).node->value, "H");
  // The history came along.
  Sink hist;
  watch_ok(other.watch("/1/v", false, false, 7, hist.fn()));
  ASSERT_EQ(hist.size(), 1u);
  EXPECT_EQ(hist.at(0).action, "delete");
  EXPECT_EQ(hist.at(0).etcd_index, 8u);
  // The TTL heap was rebuilt: b (10s), then d (20s, with what is left of
  // it), then a (30s).
  Sink all;
  watch_ok(other.watch("/1", true, true, 0, all.fn()));
  EXPECT_TRUE(other.has_ttl_keys());
  other.delete_expired_keys(kNow + 30 * kSec);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all.at(0).node->key, "/1/d/b");
  EXPECT_EQ(all.at(1).node->key, "/1/d");
  EXPECT_EQ(all.at(2).node->key, "/1/a");
  EXPECT_EQ(all.at(2).node->modified_index, 11u);
  EXPECT_FALSE(other.has_ttl_keys());
  // New writes go on from the recovered index.
  EXPECT_EQ(std::get<Event>(other.create("/1/q", false, "", true, {})).node->key,
            "/1/q/00000000000000000012");
}

TEST_F(StoreTest, InvalidUtf8ComesBackAsReplacementCharacters) {
  // Saved as \ufffd, so read back as U+FFFD, as with etcd.
  ok(store_.set("/1/v", false, "a\xff", {}));
  Store other;
  ASSERT_TRUE(std::holds_alternative<std::monostate>(other.recovery(store_.save())));
  EXPECT_EQ(std::get<Event>(other.get("/1/v", false, false)).node->value, "a\xef\xbf\xbd");
  EXPECT_NE(other.save().find(R"("Value":"a)"
                              "\xef\xbf\xbd"
                              R"(")"),
            std::string::npos);
}

TEST_F(StoreTest, RecoveryKeepsWatchers) {
  Sink sink;
  auto w = watch_ok(store_.watch("/1/k", false, true, 0, sink.fn()));
  Store other({"/0", "/1"});
  ok(other.set("/1/x", false, "1", {}));
  ok(other.set("/1/y", false, "2", {}));
  auto r = store_.recovery(other.save());
  ASSERT_TRUE(std::holds_alternative<std::monostate>(r));
  EXPECT_EQ(store_.watcher_count(), 1u);
  EXPECT_EQ(store_.index(), 2u);
  ok(store_.set("/1/k", false, "v", {}));
  ASSERT_EQ(sink.size(), 1u);
  EXPECT_EQ(sink.at(0).node->modified_index, 3u);
  w->cancel();
}

TEST_F(StoreTest, RecoveryReadsWhatGoAccepts) {
  // Other offsets, names in another case, fields missing or null, unknown
  // fields: as Go's encoding/json and time.Time read them.
  const std::string doc =
      R"({"root":{"Path":"/","Children":{"1":{"Path":"/1","Children":{"k":{"Path":"/1/k","CreatedIndex":4,"ModifiedIndex":5,"ExpireTime":"2026-12-07T19:20:01.5+01:00","Value":"v","Children":null,"Extra":1}}}}},"CurrentIndex":7,"Stats":{"getsSuccess":3,"watchers":null},"WatcherHub":null})";
  auto r = store_.recovery(doc);
  ASSERT_TRUE(std::holds_alternative<std::monostate>(r)) << std::get<Error>(r).to_json();
  EXPECT_EQ(store_.index(), 7u);
  Event g = ok(store_.get("/1/k", false, false));
  EXPECT_EQ(
      g.to_json(),
      R"({"action":"get","node":{"key":"/1/k","value":"v","expiration":"2026-12-07T18:20:01.5Z","ttl":1,"modifiedIndex":5,"createdIndex":4}})");
  EXPECT_NE(store_.json_stats().find(R"({"getsSuccess":4,)"), std::string::npos);
  EXPECT_TRUE(store_.has_ttl_keys());
  std::string saved = store_.save();
  EXPECT_NE(saved.find(R"("ExpireTime":"2026-12-07T18:20:01.5Z")"), std::string::npos);
  EXPECT_NE(saved.find(R"("Capacity":1000},"StartIndex":0,"LastIndex":0})"), std::string::npos);
  // The namespaces stay read-only (they are the store's, not the document's).
  EXPECT_EQ(err(store_.set("/0", false, "", {})).code, kRootROnly);
}

TEST_F(StoreTest, MalformedRecoveryChangesNothing) {
  ok(store_.set("/1/keep", false, "me", ttl(kNow + kSec)));
  const std::string before = store_.save();
  const std::string good_history =
      R"("WatcherHub":{"EventHistory":{"Queue":{"Events":[null,null],"Size":0,"Front":0,"Back":0,"Capacity":2},"StartIndex":0,"LastIndex":0}})";
  const std::string root = R"("Root":{"Path":"/","Children":{}})";
  // The pieces are fine together:
  {
    Store s;
    auto r = s.recovery("{" + root + "," + good_history + "}");
    ASSERT_TRUE(std::holds_alternative<std::monostate>(r)) << std::get<Error>(r).to_json();
  }
  for (
      std::string doc : {
          std::string(""),
          std::string("{"),
          std::string("[]"),
          std::string("null"),
          std::string(R"({"CurrentIndex":1})"),
          std::string(R"({"Root":null})"),
          std::string(R"({"Root":{"Path":"/","Children":null}})"),
          std::string(R"({"Root":{"Path":"/","Children":[]}})"),
          std::string(R"({"Root":{"Path":"/","Children":{"a":{"Path":"/b"}}}})"),
          std::string(R"({"Root":{"Path":"/","Children":{"":{"Path":"/"}}}})"),
          std::string(
              R"({"Root":{"Path":"/","Children":{"a":{"Path":"/a","ExpireTime":"soon"}}}})"),
          std::string(R"({"Root":{"Path":"/","Children":{"a":{"Path":"/a","CreatedIndex":-1}}}})"),
          std::string(R"({"Root":{"Path":"/","Children":{"a":{"Path":"/a","Value":5}}}})"),
          "{" + root + R"(,"CurrentIndex":"7"})",
          "{" + root + R"(,"CurrentIndex":1.5})",
          "{" + root + R"(,"Stats":{"getsSuccess":-1}})",
          "{" + root +
              R"(,"WatcherHub":{"EventHistory":{"Queue":{"Events":[null],"Size":0,"Front":0,"Back":0,"Capacity":2}}}})",
          "{" + root +
              R"(,"WatcherHub":{"EventHistory":{"Queue":{"Events":[null,null],"Size":0,"Front":2,"Back":0,"Capacity":2}}}})",
          "{" + root +
              R"(,"WatcherHub":{"EventHistory":{"Queue":{"Events":[],"Size":0,"Front":0,"Back":0,"Capacity":0}}}})",
          "{" + root +
              R"(,"WatcherHub":{"EventHistory":{"Queue":{"Events":[{"action":"set"},null],"Size":1,"Front":0,"Back":1,"Capacity":2}}}})",
          "{" + root +
              R"(,"WatcherHub":{"EventHistory":{"Queue":{"Events":[{"action":"set","node":{"expiration":"0001-01-01T00:00:00Z"}},null],"Size":1,"Front":0,"Back":1,"Capacity":2}}}})",
      }) {
    SCOPED_TRACE(doc);
    auto r = store_.recovery(doc);
    ASSERT_TRUE(std::holds_alternative<Error>(r));
    EXPECT_EQ(std::get<Error>(r).code, kRaftInternal);
    EXPECT_EQ(std::get<Error>(r).cause.rfind("v2store: recovery: ", 0), 0u);
    EXPECT_TRUE(same(store_.save(), before));
  }
}

TEST_F(StoreTest, RecoveredInconsistentHistoryDoesNotCrash) {
  // A ring whose indexes do not match its events: scans stop at an empty
  // slot instead of reading past the events.
  const std::string doc =
      R"({"Root":{"Path":"/","Children":{}},"WatcherHub":{"EventHistory":{"Queue":{"Events":[{"action":"set","node":{"key":"/a","modifiedIndex":1}},null,null],"Size":1,"Front":0,"Back":1,"Capacity":3},"StartIndex":1,"LastIndex":9}},"CurrentIndex":9})";
  ASSERT_TRUE(std::holds_alternative<std::monostate>(store_.recovery(doc)));
  Sink sink;
  watch_ok(store_.watch("/b", false, false, 5, sink.fn()));
  EXPECT_EQ(sink.size(), 0u);
  watch_ok(store_.watch("/a", false, false, 1, sink.fn()));
  EXPECT_EQ(sink.size(), 1u);
  // A smaller ring keeps working as a ring.
  ok(store_.set("/x", false, "1", {}));
  ok(store_.set("/x", false, "2", {}));
  ok(store_.set("/x", false, "3", {}));
  auto r = store_.watch("/x", false, false, 9, sink.fn());
  ASSERT_TRUE(std::holds_alternative<Error>(r));
  EXPECT_EQ(std::get<Error>(r).cause, "the requested history has been cleared [10/9]");
  watch_ok(store_.watch("/x", false, false, 11, sink.fn()));
  ASSERT_EQ(sink.size(), 2u);
  EXPECT_EQ(sink.at(1).node->value, "2");
}

TEST_F(StoreTest, DeepTree) {
  // Every directory keeps its whole path, so depth costs its square in
  // memory; 3000 levels is 9 MB of paths.
  std::string key = "/1";
  for (int i = 0; i < 3000; ++i) key += "/d";
  ok(store_.set(key + "/leaf", false, "v", ttl(kNow + kSec)));
  const std::string saved = store_.save();
  Store other({"/0", "/1"}, [this] { return now_; });
  ASSERT_TRUE(std::holds_alternative<std::monostate>(other.recovery(saved)));
  EXPECT_TRUE(same(other.save(), saved));
  EXPECT_EQ(std::get<Event>(other.get(key + "/leaf", false, false)).node->value, "v");
  Sink sink;
  watch_ok(other.watch(key + "/leaf", false, false, 0, sink.fn()));
  Event del = std::get<Event>(other.remove("/1/d", true, true));
  EXPECT_EQ(del.node->key, "/1/d");
  ASSERT_EQ(sink.size(), 1u);
  EXPECT_FALSE(other.has_ttl_keys());
  store_.delete_expired_keys(kNow + kSec);
  EXPECT_EQ(err(store_.get(key + "/leaf", false, false)).code, kKeyNotFound);
  EXPECT_EQ(ok(store_.get(key, false, false)).node->dir, true);
}

TEST_F(StoreTest, HiddenKeysAsEtcdTestsThem) {
  // A recursive watch sees nothing made under a hidden directory, except
  // when it watches inside the hidden part itself.
  Sink outside, inside;
  watch_ok(store_.watch("/foo", true, true, 0, outside.fn()));
  watch_ok(store_.watch("/_foo/bar", true, true, 0, inside.fn()));
  ok(store_.create("/foo/_baz", true, "", false, {}));
  ok(store_.create("/foo/_baz/quux", false, "q", false, {}));
  ok(store_.create("/_foo/bar/baz", false, "b", false, {}));
  EXPECT_EQ(outside.size(), 0u);
  ASSERT_EQ(inside.size(), 1u);
  EXPECT_EQ(inside.at(0).node->key, "/_foo/bar/baz");
  // Expiry of a hidden key: unseen from "/".
  Sink root;
  watch_ok(store_.watch("/", true, true, 0, root.fn()));
  ok(store_.create("/_t", false, "x", false, ttl(kNow + kSec)));
  ok(store_.create("/t", false, "x", false, ttl(kNow + 2 * kSec)));
  ASSERT_EQ(root.size(), 1u);  // the create of /t
  store_.delete_expired_keys(kNow + kSec);
  EXPECT_EQ(root.size(), 1u);
  store_.delete_expired_keys(kNow + 2 * kSec);
  ASSERT_EQ(root.size(), 2u);
  EXPECT_EQ(root.at(1).action, "expire");
  EXPECT_EQ(root.at(1).node->key, "/t");
}

TEST_F(StoreTest, WatchAfterARefreshSeesTheExpiry) {
  // etcd's TestStoreWatchExpireRefresh: a watch from the refresh's index
  // skips it and waits for the expiry.
  ok(store_.create("/foo", false, "bar", false, ttl(kNow + kSec)));  // 1
  ok(store_.update("/foo", "", ttl(kNow + 2 * kSec, true)));         // 2
  Sink sink;
  auto w = watch_ok(store_.watch("/", true, false, 2, sink.fn()));
  EXPECT_EQ(w->start_index(), 2u);
  EXPECT_EQ(sink.size(), 0u);
  store_.delete_expired_keys(kNow + kSec);
  EXPECT_EQ(sink.size(), 0u);  // the refresh moved the expiry
  store_.delete_expired_keys(kNow + 2 * kSec);
  ASSERT_EQ(sink.size(), 1u);
  EXPECT_EQ(sink.at(0).action, "expire");
  EXPECT_EQ(sink.at(0).etcd_index, 3u);
  EXPECT_EQ(*sink.at(0).prev_node->value, "bar");
}

// A store etcd 3.4.23 saved (testdata/README.md says how it was made).
TEST(StoreGolden, Etcd34Snapshot) {
  std::ifstream in(V2STORE_TESTDATA_DIR "/etcd-3.4.23-store.json", std::ios::binary);
  ASSERT_TRUE(in.good());
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string golden = buf.str();
  int64_t now = parse_go_time("2026-12-07T18:42:00Z")->unix_ns;
  Store store({"/0", "/1"}, [&] { return now; });
  auto r = store.recovery(golden);
  ASSERT_TRUE(std::holds_alternative<std::monostate>(r)) << std::get<Error>(r).to_json();
  // Byte for byte what etcd wrote.
  EXPECT_TRUE(same(store.save(), golden));
  EXPECT_EQ(store.index(), 39u);
  EXPECT_EQ(
      store.json_stats(),
      R"({"getsSuccess":2,"getsFail":41,"setsSuccess":33,"setsFail":0,"deleteSuccess":1,"deleteFail":0,"updateSuccess":1,"updateFail":0,"createSuccess":3,"createFail":0,"compareAndSwapSuccess":0,"compareAndSwapFail":1,"compareAndDeleteSuccess":2,"compareAndDeleteFail":0,"expireCount":0,"watchers":0})");

  auto get = [&](std::string_view p, bool recursive) {
    auto g = store.get(p, recursive, true);
    EXPECT_TRUE(std::holds_alternative<Event>(g));
    return std::get<Event>(g).trim_prefix("/1").to_json();
  };
  EXPECT_EQ(
      get("/1/queue", true),
      R"({"action":"get","node":{"key":"/queue","dir":true,"nodes":[{"key":"/queue/00000000000000000009","value":"first","modifiedIndex":9,"createdIndex":9},{"key":"/queue/00000000000000000010","value":"second","modifiedIndex":10,"createdIndex":10}],"modifiedIndex":9,"createdIndex":9}})");
  EXPECT_EQ(
      get("/1", false),
      R"({"action":"get","node":{"dir":true,"nodes":[{"key":"/filler","value":"22","modifiedIndex":39,"createdIndex":39},{"key":"/foo","value":"b\u003ca\u003er","modifiedIndex":5,"createdIndex":5},{"key":"/queue","dir":true,"modifiedIndex":9,"createdIndex":9},{"key":"/ttl","value":"t","expiration":"2026-12-07T19:40:17.767015192Z","ttl":3498,"modifiedIndex":13,"createdIndex":11},{"key":"/ttldir","dir":true,"expiration":"2026-12-07T19:48:37.757109643Z","ttl":3998,"modifiedIndex":12,"createdIndex":12},{"key":"/utf","value":"h)"
      "\xc3\xa9"
      R"(\u2028","modifiedIndex":15,"createdIndex":15}]}})");
  // The history: a refresh is no match, a directory's deletion is one for
  // keys below it.
  std::vector<Event> seen;
  auto sink = [&](const Event& e) {
    seen.push_back(e);
    return true;
  };
  watch_ok(store.watch("/1/dir/sub/x", false, false, 9, sink));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].action, "delete");
  EXPECT_EQ(seen[0].node->key, "/1/dir");
  EXPECT_EQ(seen[0].etcd_index, 39u);
  watch_ok(store.watch("/1/ttl", false, false, 12, sink));
  EXPECT_EQ(seen.size(), 1u);
  EXPECT_EQ(store.watcher_count(), 1u);
  // The TTL heap: /1/ttl (19:40) before /1/ttldir (19:48).
  watch_ok(store.watch("/1", true, true, 0, sink));
  store.delete_expired_keys(parse_go_time("2026-12-07T20:00:00Z")->unix_ns);
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[1].action, "expire");  // the one-shot watch on /1/ttl
  EXPECT_EQ(seen[1].node->modified_index, 40u);
  EXPECT_EQ(seen[2].node->key, "/1/ttl");
  EXPECT_EQ(seen[3].node->key, "/1/ttldir");
  EXPECT_EQ(seen[3].node->modified_index, 41u);
}

TEST(EventJson, EscapingAndOmitEmpty) {
  Event e;
  e.action = "set";
  e.node.emplace();
  e.node->key = "/1/<k>&\"\\";
  e.node->value = std::string("v\n\x01\xff\xe2\x80\xa8", 7);
  e.node->modified_index = 3;
  e.node->created_index = 2;
  EXPECT_EQ(
      e.to_json(),
      R"({"action":"set","node":{"key":"/1/\u003ck\u003e\u0026\"\\","value":"v\n\u0001\ufffd\u2028","modifiedIndex":3,"createdIndex":2}})");
  Event bare;
  bare.action = "get";
  EXPECT_EQ(bare.to_json(), R"({"action":"get"})");
  bare.node.emplace();
  EXPECT_EQ(bare.to_json(), R"({"action":"get","node":{}})");
  bare.node->nodes.emplace();  // empty: left out
  bare.node->ttl = -2;         // an expired node not yet removed
  bare.node->expiration_ns = kNow - 1;
  EXPECT_EQ(bare.to_json(),
            R"({"action":"get","node":{"expiration":"2026-12-07T18:20:00.999999999Z","ttl":-2}})");
  bare.refresh = true;
  EXPECT_EQ(
      bare.to_json(),
      R"({"action":"get","node":{"expiration":"2026-12-07T18:20:00.999999999Z","ttl":-2},"refresh":true})");
}

TEST(EventJson, TrimPrefix) {
  Event e;
  e.action = "get";
  e.refresh = true;
  e.node.emplace();
  e.node->key = "/1/d";
  e.node->dir = true;
  e.node->nodes.emplace();
  NodeExtern c;
  c.key = "/1/d/x";
  c.value = "v";
  e.node->nodes->push_back(c);
  e.prev_node.emplace();
  e.prev_node->key = "/1";
  Event t = e.trim_prefix("/1");
  EXPECT_EQ(t.node->key, "/d");
  EXPECT_EQ((*t.node->nodes)[0].key, "/d/x");
  EXPECT_EQ(t.prev_node->key, "");
  EXPECT_FALSE(t.refresh);
  EXPECT_EQ(
      t.to_json(),
      R"({"action":"get","node":{"key":"/d","dir":true,"nodes":[{"key":"/d/x","value":"v"}]},"prevNode":{}})");
  // Keys without the prefix stay.
  e.node->key = "/0/x";
  EXPECT_EQ(e.trim_prefix("/1").node->key, "/0/x");
}

}  // namespace
}  // namespace etcd::v2store
