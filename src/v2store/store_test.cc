#include "v2store/store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>

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
