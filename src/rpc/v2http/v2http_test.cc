// The v2 HTTP API's handlers over a real v2 store and a fake member.
// Expected bodies are what etcd 3.4.23 (--enable-v2) answers the same
// requests (captured with curl), with this store's indexes.
#include "rpc/v2http/v2http.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "rpc/v2http/form.h"
#include "rpc/v2http/test_fakes.h"

namespace etcd::rpc::v2http {
namespace {

// Records what a handler answered; waits for answers given on the pool.
class FakeResponder : public http::Responder {
 public:
  void respond(http::Response r) override {
    std::lock_guard l(mu_);
    if (done_) return;
    resp_ = std::move(r);
    done_ = true;
    cv_.notify_all();
  }
  void start_stream(int status, std::string content_type, http::Headers headers) override {
    std::lock_guard l(mu_);
    streaming_ = true;
    resp_.status = status;
    resp_.content_type = std::move(content_type);
    resp_.headers = std::move(headers);
    cv_.notify_all();
  }
  bool write(std::string chunk) override {
    std::lock_guard l(mu_);
    if (refuse_writes_) return false;
    chunks_.push_back(std::move(chunk));
    cv_.notify_all();
    return true;
  }
  void finish() override {
    std::lock_guard l(mu_);
    done_ = true;
    cv_.notify_all();
  }
  void on_cancel(std::function<void()> f) override {
    std::lock_guard l(mu_);
    cancel_ = std::move(f);
  }
  bool cancelled() const override { return false; }

  // The client goes away: runs the cancel hook.
  void disconnect() {
    std::function<void()> f;
    {
      std::lock_guard l(mu_);
      f = std::move(cancel_);
    }
    if (f) f();
  }
  void refuse_writes() {
    std::lock_guard l(mu_);
    refuse_writes_ = true;
  }

  http::Response wait() {
    std::unique_lock l(mu_);
    EXPECT_TRUE(cv_.wait_for(l, std::chrono::seconds(10), [&] { return done_; }));
    return resp_;
  }
  bool done() {
    std::lock_guard l(mu_);
    return done_;
  }
  bool streaming() {
    std::lock_guard l(mu_);
    return streaming_;
  }
  std::vector<std::string> chunks() {
    std::lock_guard l(mu_);
    return chunks_;
  }
  std::string header(const std::string& name) {
    std::lock_guard l(mu_);
    for (const auto& [k, v] : resp_.headers) {
      if (k == name) return v;
    }
    return "<none>";
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  http::Response resp_;
  bool done_ = false;
  bool streaming_ = false;
  bool refuse_writes_ = false;
  std::vector<std::string> chunks_;
  std::function<void()> cancel_;
};

std::string header(const http::Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "<none>";
}

class V2HttpTest : public ::testing::Test {
 protected:
  V2HttpTest() : routes_(api_, cluster_, [] { return kNow; }) { routes_.register_routes(router_); }

  std::shared_ptr<FakeResponder> send(const std::string& method, const std::string& target,
                                      const std::string& body = "",
                                      const std::string& content_type = "") {
    http::Request req;
    req.method = method;
    req.target = target;
    size_t q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) req.query = target.substr(q + 1);
    req.body = body;
    if (!content_type.empty()) {
      req.headers.emplace_back("content-type", content_type);
    } else if (!body.empty()) {
      req.headers.emplace_back("content-type", "application/x-www-form-urlencoded");
    }
    auto r = std::make_shared<FakeResponder>();
    router_.handle(std::move(req), r);
    return r;
  }
  http::Response call(const std::string& method, const std::string& target,
                      const std::string& body = "", const std::string& content_type = "") {
    return send(method, target, body, content_type)->wait();
  }

  FakeV2Api api_;
  FakeCluster cluster_;
  V2Routes routes_;
  http::Router router_;
};

// --- parsing -------------------------------------------------------------

struct ParseCase {
  std::string method;
  std::string target;
  std::string body;
  std::string want;  // the whole error body
};

TEST_F(V2HttpTest, EveryValidationErrorAsEtcd) {
  const std::vector<ParseCase> cases = {
      {"GET", "/v2/keys/foo?prevIndex=x", "",
       R"({"errorCode":203,"message":"The given index in POST form is not a number","cause":"invalid value for \"prevIndex\"","index":0})"},
      {"GET", "/v2/keys/foo?waitIndex=x", "",
       R"({"errorCode":203,"message":"The given index in POST form is not a number","cause":"invalid value for \"waitIndex\"","index":0})"},
      {"GET", "/v2/keys/foo?recursive=x", "",
       R"({"errorCode":209,"message":"Invalid field","cause":"invalid value for \"recursive\"","index":0})"},
      {"GET", "/v2/keys/foo?sorted=x", "",
       R"({"errorCode":209,"message":"Invalid field","cause":"invalid value for \"sorted\"","index":0})"},
      {"GET", "/v2/keys/foo?wait=x", "",
       R"({"errorCode":209,"message":"Invalid field","cause":"invalid value for \"wait\"","index":0})"},
      {"GET", "/v2/keys/foo?dir=x", "",
       R"({"errorCode":209,"message":"Invalid field","cause":"invalid value for \"dir\"","index":0})"},
      {"GET", "/v2/keys/foo?quorum=x", "",
       R"({"errorCode":209,"message":"Invalid field","cause":"invalid value for \"quorum\"","index":0})"},
      {"GET", "/v2/keys/foo?stream=x", "",
       R"({"errorCode":209,"message":"Invalid field","cause":"invalid value for \"stream\"","index":0})"},
      {"PUT", "/v2/keys/foo?wait=true", "",
       R"({"errorCode":209,"message":"Invalid field","cause":"\"wait\" can only be used with GET requests","index":0})"},
      {"PUT", "/v2/keys/foo?prevValue=", "",
       R"({"errorCode":201,"message":"PrevValue is Required in POST form","cause":"\"prevValue\" cannot be empty","index":0})"},
      {"GET", "/v2/keys/foo?noValueOnSuccess=x", "",
       R"({"errorCode":209,"message":"Invalid field","cause":"invalid value for \"noValueOnSuccess\"","index":0})"},
      {"PUT", "/v2/keys/foo?ttl=x", "",
       R"({"errorCode":202,"message":"The given TTL in POST form is not a number","cause":"invalid value for \"ttl\"","index":0})"},
      {"PUT", "/v2/keys/foo?ttl=-1", "",
       R"({"errorCode":202,"message":"The given TTL in POST form is not a number","cause":"invalid value for \"ttl\"","index":0})"},
      {"PUT", "/v2/keys/foo?prevExist=x", "",
       R"({"errorCode":209,"message":"Invalid field","cause":"invalid value for prevExist","index":0})"},
      {"PUT", "/v2/keys/foo?refresh=x", "",
       R"({"errorCode":209,"message":"Invalid field","cause":"invalid value for refresh","index":0})"},
      {"PUT", "/v2/keys/foo?refresh=true&value=x", "",
       R"({"errorCode":211,"message":"Value provided on refresh","cause":"A value was provided on a refresh","index":0})"},
      {"PUT", "/v2/keys/foo?refresh=true&value=", "",
       R"({"errorCode":212,"message":"A TTL must be provided on refresh","cause":"No TTL value set","index":0})"},
      {"PUT", "/v2/keys/foo?refresh=true&ttl=", "",
       R"({"errorCode":212,"message":"A TTL must be provided on refresh","cause":"No TTL value set","index":0})"},
      {"GET", "/v2/keys/foo?prevIndex=%zz", "",
       R"({"errorCode":210,"message":"Invalid POST form","cause":"invalid URL escape \"%zz\"","index":0})"},
      {"GET", "/v2/keys/foo?a;b", "",
       R"({"errorCode":210,"message":"Invalid POST form","cause":"invalid semicolon separator in query","index":0})"},
      // The body's form counts too (POST/PUT), and comes first.
      {"PUT", "/v2/keys/foo?ttl=5", "ttl=x",
       R"({"errorCode":202,"message":"The given TTL in POST form is not a number","cause":"invalid value for \"ttl\"","index":0})"},
      {"POST", "/v2/keys/foo", "value=%g",
       R"({"errorCode":210,"message":"Invalid POST form","cause":"invalid URL escape \"%g\"","index":0})"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.method + " " + c.target);
    http::Response r = call(c.method, c.target, c.body);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.content_type, "application/json");
    EXPECT_EQ(r.body, c.want + "\n");
    EXPECT_EQ(header(r, "X-Etcd-Index"), "0");
    EXPECT_EQ(header(r, "X-Etcd-Cluster-Id"), "d1cfaf999eb97a2a");
  }
  EXPECT_EQ(api_.request_count(), 0u);
}

TEST(ParseKeyRequest, FieldsOfTheRequest) {
  http::Request req;
  req.method = "PUT";
  req.path = "/v2/keys/a//b/../c%20d+e/";
  req.query =
      "prevIndex=7&waitIndex=0&recursive=t&sorted=1&dir=TRUE&quorum=false&prevExist=false&"
      "ttl=30&value=query&noValueOnSuccess=true";
  req.body = "value=body&prevValue=old&refresh=false";
  req.headers.emplace_back("content-type", "application/x-www-form-urlencoded; charset=utf-8");
  auto parsed = parse_key_request(req, kNow);
  ASSERT_TRUE(std::holds_alternative<KeyRequest>(parsed));
  const KeyRequest& kr = std::get<KeyRequest>(parsed);
  const auto& q = kr.req;
  EXPECT_EQ(q.method(), "PUT");
  EXPECT_EQ(q.path(), "/1/a/c d+e");
  EXPECT_EQ(q.val(), "body");  // the body's value wins
  EXPECT_EQ(q.prev_value(), "old");
  EXPECT_EQ(q.prev_index(), 7u);
  EXPECT_TRUE(q.recursive());
  EXPECT_TRUE(q.sorted());
  EXPECT_TRUE(q.dir());
  EXPECT_FALSE(q.quorum());
  ASSERT_TRUE(q.has_prev_exist());
  EXPECT_FALSE(q.prev_exist());
  ASSERT_TRUE(q.has_refresh());
  EXPECT_FALSE(q.refresh());
  EXPECT_EQ(q.expiration(), kNow + 30 * 1000000000LL);
  EXPECT_TRUE(kr.no_value_on_success);
  EXPECT_FALSE(q.has_id());

  // No ttl, no prevExist, no refresh: left unset; a DELETE's body is not
  // read (Go parses bodies of POST, PUT and PATCH only).
  req.method = "DELETE";
  req.path = "/v2/keys";
  req.query = "ttl=";
  req.body = "prevValue=";
  parsed = parse_key_request(req, kNow);
  ASSERT_TRUE(std::holds_alternative<KeyRequest>(parsed));
  const auto& d = std::get<KeyRequest>(parsed).req;
  EXPECT_EQ(d.path(), "/1");
  EXPECT_EQ(d.expiration(), 0);
  EXPECT_FALSE(d.has_prev_exist());
  EXPECT_FALSE(d.has_refresh());

  // A body that is not a form is not read.
  req.method = "PUT";
  req.headers = {{"content-type", "text/plain"}};
  req.query = "value=q";
  req.body = "value=b";
  parsed = parse_key_request(req, kNow);
  ASSERT_TRUE(std::holds_alternative<KeyRequest>(parsed));
  EXPECT_EQ(std::get<KeyRequest>(parsed).req.val(), "q");
}

TEST(Form, GoParsers) {
  EXPECT_EQ(parse_go_bool("T"), true);
  EXPECT_EQ(parse_go_bool("False"), false);
  EXPECT_EQ(parse_go_bool("yes"), std::nullopt);
  EXPECT_EQ(parse_go_bool(""), std::nullopt);
  EXPECT_EQ(parse_go_uint64("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(parse_go_uint64("18446744073709551616"), std::nullopt);
  EXPECT_EQ(parse_go_uint64("+1"), std::nullopt);
  std::string err;
  Form f = parse_query("a=1&a=2&b&c=x+y%21", &err);
  EXPECT_EQ(err, "");
  EXPECT_EQ(f.values["a"], (std::vector<std::string>{"1", "2"}));
  EXPECT_TRUE(f.has("b"));
  EXPECT_EQ(f.value("b"), "");
  EXPECT_EQ(f.value("c"), "x y!");
  EXPECT_EQ(unescape_path("/a+b%2Fc"), "/a+b/c");
  EXPECT_EQ(unescape_path("/a%2"), std::nullopt);
}

// --- answers -------------------------------------------------------------

TEST_F(V2HttpTest, PutGetDeleteAnswersAsEtcd) {
  http::Response r = call("PUT", "/v2/keys/foo", "value=bar");
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(
      r.body,
      R"({"action":"set","node":{"key":"/foo","value":"bar","modifiedIndex":1,"createdIndex":1}})"
      "\n");
  EXPECT_EQ(header(r, "X-Etcd-Cluster-Id"), "d1cfaf999eb97a2a");
  EXPECT_EQ(header(r, "X-Etcd-Index"), "1");
  EXPECT_EQ(header(r, "X-Raft-Index"), "9");
  EXPECT_EQ(header(r, "X-Raft-Term"), "2");
  EXPECT_EQ(api_.last_request().path(), "/1/foo");

  r = call("PUT", "/v2/keys/foo?prevValue=bar", "value=y");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(
      r.body,
      R"({"action":"compareAndSwap","node":{"key":"/foo","value":"y","modifiedIndex":2,"createdIndex":1},"prevNode":{"key":"/foo","value":"bar","modifiedIndex":1,"createdIndex":1}})"
      "\n");

  r = call("PUT", "/v2/keys/foo?prevExist=false", "value=x");
  EXPECT_EQ(r.status, 412);
  EXPECT_EQ(r.body, R"({"errorCode":105,"message":"Key already exists","cause":"/foo","index":2})"
                    "\n");
  EXPECT_EQ(header(r, "X-Etcd-Index"), "2");
  EXPECT_EQ(header(r, "X-Raft-Index"), "<none>");

  r = call("PUT", "/v2/keys/foo", "value=z&ttl=100");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(
      r.body,
      R"({"action":"set","node":{"key":"/foo","value":"z","expiration":"2023-11-14T22:15:00.123456789Z","ttl":100,"modifiedIndex":3,"createdIndex":3},"prevNode":{"key":"/foo","value":"y","modifiedIndex":2,"createdIndex":1}})"
      "\n");

  r = call("GET", "/v2/keys/foo");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(
      r.body,
      R"({"action":"get","node":{"key":"/foo","value":"z","expiration":"2023-11-14T22:15:00.123456789Z","ttl":100,"modifiedIndex":3,"createdIndex":3}})"
      "\n");
  EXPECT_EQ(header(r, "X-Etcd-Index"), "3");
  const size_t writes = api_.request_count();

  // HEAD: the headers of a GET, no body; local reads do not go through
  // do_request.
  r = call("HEAD", "/v2/keys/foo");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(header(r, "X-Etcd-Index"), "3");
  r = call("HEAD", "/v2/keys/foo?quorum=true");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(header(r, "X-Etcd-Index"), "3");
  r = call("HEAD", "/v2/keys/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(header(r, "X-Etcd-Index"), "3");
  EXPECT_EQ(api_.request_count(), writes);

  r = call("GET", "/v2/keys/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"errorCode":100,"message":"Key not found","cause":"/nope","index":3})"
                    "\n");

  r = call("POST", "/v2/keys/q", "value=a");
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(
      r.body,
      R"({"action":"create","node":{"key":"/q/00000000000000000004","value":"a","modifiedIndex":4,"createdIndex":4}})"
      "\n");

  r = call("PUT", "/v2/keys/foo?noValueOnSuccess=true", "value=n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"action\":\"set\"}\n");
  r = call("DELETE", "/v2/keys/foo?noValueOnSuccess=true");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(
      r.body,
      R"({"action":"delete","node":{"key":"/foo","modifiedIndex":6,"createdIndex":5},"prevNode":{"key":"/foo","value":"n","modifiedIndex":5,"createdIndex":5}})"
      "\n");

  r = call("PUT", "/v2/keys/dir1?dir=true");
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(
      r.body,
      R"({"action":"set","node":{"key":"/dir1","dir":true,"modifiedIndex":7,"createdIndex":7}})"
      "\n");
  r = call("GET", "/v2/keys");
  EXPECT_EQ(
      r.body,
      R"({"action":"get","node":{"dir":true,"nodes":[{"key":"/dir1","dir":true,"modifiedIndex":7,"createdIndex":7},{"key":"/q","dir":true,"modifiedIndex":4,"createdIndex":4}]}})"
      "\n");
  EXPECT_EQ(call("GET", "/v2/keys/").body, r.body);
}

TEST_F(V2HttpTest, QuorumReadGoesThroughDoRequest) {
  call("PUT", "/v2/keys/w", "value=1");
  // wait is ignored with quorum: etcd turns the request into a QGET.
  http::Response r = call("GET", "/v2/keys/w?wait=true&quorum=true");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            R"({"action":"get","node":{"key":"/w","value":"1","modifiedIndex":1,"createdIndex":1}})"
            "\n");
  auto q = api_.last_request();
  EXPECT_EQ(q.method(), "GET");
  EXPECT_TRUE(q.quorum());
  EXPECT_TRUE(q.wait());
}

TEST_F(V2HttpTest, MemberFailureIsError300) {
  api_.fail_with(Status(Code::kUnavailable, "etcdserver: request timed out"));
  http::Response r = call("PUT", "/v2/keys/foo", "value=bar");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(
      r.body,
      R"({"errorCode":300,"message":"Raft Internal Error","cause":"etcdserver: request timed out","index":0})"
      "\n");
  EXPECT_EQ(header(r, "X-Etcd-Index"), "0");
}

TEST_F(V2HttpTest, MethodsPathsAndRedirects) {
  http::Response r = call("PATCH", "/v2/keys/foo");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.body, "Method Not Allowed\n");
  EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(header(r, "Allow"), "HEAD,GET,PUT,POST,DELETE");
  EXPECT_EQ(header(r, "X-Etcd-Cluster-Id"), "<none>");

  r = call("GET", "/v2/keys//foo?x=1&y=2");
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(header(r, "Location"), "/v2/keys/foo?x=1&y=2");
  EXPECT_EQ(r.body, "<a href=\"/v2/keys/foo?x=1&amp;y=2\">Moved Permanently</a>.\n\n");
  r = call("GET", "/v2/keys/a/../b/");
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(header(r, "Location"), "/v2/keys/b/");

  r = call("GET", "/v2/keys/foo%zz");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "400 Bad Request");

  // A key with an escaped name and a ';' (not a query separator).
  EXPECT_EQ(call("PUT", "/v2/keys/a%20b;x", "value=1").status, 201);
  r = call("GET", "/v2/keys/a%20b;x");
  EXPECT_EQ(
      r.body,
      R"({"action":"get","node":{"key":"/a b;x","value":"1","modifiedIndex":1,"createdIndex":1}})"
      "\n");

  // Not registered without --enable-v2: the router's 404.
  http::Router bare;
  auto resp = std::make_shared<FakeResponder>();
  http::Request req;
  req.method = "GET";
  req.path = req.target = "/v2/keys/foo";
  bare.handle(req, resp);
  r = resp->wait();
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "404 page not found\n");
}

// --- waits ---------------------------------------------------------------

TEST_F(V2HttpTest, WaitAnswersTheNextEvent) {
  call("PUT", "/v2/keys/other", "value=0");
  auto w = send("GET", "/v2/keys/w?wait=true");
  ASSERT_TRUE(w->streaming());
  EXPECT_FALSE(w->done());
  EXPECT_EQ(w->header("X-Etcd-Index"), "1");
  EXPECT_EQ(w->header("X-Raft-Index"), "9");
  EXPECT_EQ(w->header("X-Raft-Term"), "2");
  EXPECT_EQ(w->header("X-Etcd-Cluster-Id"), "d1cfaf999eb97a2a");
  EXPECT_EQ(api_.store().watcher_count(), 1u);
  call("PUT", "/v2/keys/other", "value=1");
  EXPECT_FALSE(w->done());
  call("PUT", "/v2/keys/w", "value=1");
  http::Response r = w->wait();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(
      w->chunks(),
      std::vector<std::string>{
          R"({"action":"set","node":{"key":"/w","value":"1","modifiedIndex":3,"createdIndex":3}})"
          "\n"});
  EXPECT_EQ(api_.store().watcher_count(), 0u);
}

TEST_F(V2HttpTest, WaitIndexInTheHistoryAnswersAtOnce) {
  call("PUT", "/v2/keys/w", "value=1");
  call("PUT", "/v2/keys/w", "value=2");
  auto w = send("GET", "/v2/keys/w?wait=true&waitIndex=2");
  ASSERT_TRUE(w->done());
  EXPECT_EQ(
      w->chunks(),
      std::vector<std::string>{
          R"({"action":"set","node":{"key":"/w","value":"2","modifiedIndex":2,"createdIndex":2},"prevNode":{"key":"/w","value":"1","modifiedIndex":1,"createdIndex":1}})"
          "\n"});
  EXPECT_EQ(api_.store().watcher_count(), 0u);

  // Recursive from the start of the history.
  w = send("GET", "/v2/keys/?wait=true&waitIndex=1&recursive=true");
  ASSERT_TRUE(w->done());
  ASSERT_EQ(w->chunks().size(), 1u);
  EXPECT_NE(w->chunks()[0].find("\"modifiedIndex\":1"), std::string::npos);
}

TEST_F(V2HttpTest, WaitIndexClearedIs401) {
  for (int i = 0; i < 1005; ++i) call("PUT", "/v2/keys/w", "value=x");
  http::Response r = call("GET", "/v2/keys/w?wait=true&waitIndex=1");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(
      r.body,
      R"({"errorCode":401,"message":"The event in requested index is outdated and cleared","cause":"the requested history has been cleared [6/1]","index":1005})"
      "\n");
}

TEST_F(V2HttpTest, StreamSendsEveryEventUntilTheClientLeaves) {
  auto w = send("GET", "/v2/keys/d?wait=true&stream=true&recursive=true");
  ASSERT_TRUE(w->streaming());
  call("PUT", "/v2/keys/d/a", "value=1");
  call("PUT", "/v2/keys/other", "value=1");
  call("DELETE", "/v2/keys/d/a");
  EXPECT_FALSE(w->done());
  auto chunks = w->chunks();
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(
      chunks[0],
      R"({"action":"set","node":{"key":"/d/a","value":"1","modifiedIndex":1,"createdIndex":1}})"
      "\n");
  EXPECT_EQ(
      chunks[1],
      R"({"action":"delete","node":{"key":"/d/a","modifiedIndex":3,"createdIndex":1},"prevNode":{"key":"/d/a","value":"1","modifiedIndex":1,"createdIndex":1}})"
      "\n");
  EXPECT_EQ(api_.store().watcher_count(), 1u);
  w->disconnect();
  EXPECT_EQ(api_.store().watcher_count(), 0u);
  call("PUT", "/v2/keys/d/b", "value=1");
  EXPECT_EQ(w->chunks().size(), 2u);
}

TEST_F(V2HttpTest, AStreamFromTheHistoryGivesOneEventAndStaysOpen) {
  // etcd 3.4.23: the history's event, then nothing more, the answer open
  // until the client goes.
  call("PUT", "/v2/keys/h", "value=1");
  auto w = send("GET", "/v2/keys/h?wait=true&stream=true&waitIndex=1");
  ASSERT_TRUE(w->streaming());
  EXPECT_EQ(
      w->chunks(),
      std::vector<std::string>{
          R"({"action":"set","node":{"key":"/h","value":"1","modifiedIndex":1,"createdIndex":1}})"
          "\n"});
  call("PUT", "/v2/keys/h", "value=2");
  EXPECT_EQ(w->chunks().size(), 1u);
  EXPECT_FALSE(w->done());
  w->disconnect();
}

TEST_F(V2HttpTest, OneShotWaitCancelledWhenTheClientLeaves) {
  auto w = send("GET", "/v2/keys/w?wait=true");
  EXPECT_EQ(api_.store().watcher_count(), 1u);
  w->disconnect();
  EXPECT_EQ(api_.store().watcher_count(), 0u);
}

TEST_F(V2HttpTest, SlowStreamReaderEndsTheWatch) {
  auto w = send("GET", "/v2/keys/w?wait=true&stream=true");
  call("PUT", "/v2/keys/w", "value=1");
  EXPECT_EQ(w->chunks().size(), 1u);
  w->refuse_writes();
  call("PUT", "/v2/keys/w", "value=2");
  EXPECT_EQ(api_.store().watcher_count(), 0u);
  call("PUT", "/v2/keys/w", "value=3");
  EXPECT_EQ(w->chunks().size(), 1u);
}

// --- members, machines, stats --------------------------------------------

TEST_F(V2HttpTest, MembersAsEtcd) {
  http::Response r = call("GET", "/v2/members");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(
      r.body,
      R"({"members":[{"id":"bdae9bbc11dd390d","name":"ref1","peerURLs":["http://127.0.0.1:23801"],"clientURLs":["http://127.0.0.1:23791"]},{"id":"2","name":"","peerURLs":["http://127.0.0.1:23802"],"clientURLs":[]},{"id":"3","name":"m3","peerURLs":["http://127.0.0.1:23803"],"clientURLs":["http://127.0.0.1:23793","http://a:1"]}]})"
      "\n");
  EXPECT_EQ(header(r, "X-Etcd-Cluster-Id"), "d1cfaf999eb97a2a");
  EXPECT_EQ(call("GET", "/v2/members/").body, r.body);

  r = call("GET", "/v2/members/leader");
  EXPECT_EQ(
      r.body,
      R"({"id":"bdae9bbc11dd390d","name":"ref1","peerURLs":["http://127.0.0.1:23801"],"clientURLs":["http://127.0.0.1:23791"]})"
      "\n");
  cluster_.leader_ = 0;
  r = call("GET", "/v2/members/leader");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, R"({"message":"During election"})");

  r = call("GET", "/v2/members/xyz");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"message":"Not found"})");

  r = call("PATCH", "/v2/members");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(header(r, "Allow"), "GET,POST,DELETE,PUT");
  r = call("DELETE", "/v2/members");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.body, "Method Not Allowed\n");
  EXPECT_EQ(header(r, "Allow"), "<none>");
}

TEST_F(V2HttpTest, MemberAddAsEtcd) {
  const std::string json = "application/json";
  http::Response r = call("POST", "/v2/members", R"({"peerURLs":["http://127.0.0.1:23801"]})",
                          "application/x-www-form-urlencoded");
  EXPECT_EQ(r.status, 415);
  EXPECT_EQ(
      r.body,
      R"({"message":"Bad Content-Type application/x-www-form-urlencoded, accept application/json"})");
  r = call("POST", "/v2/members", R"({"peerURLs":["127.0.0.1:23801"]})", json);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(
      r.body,
      R"({"message":"parse \"127.0.0.1:23801\": first path segment in URL cannot contain colon"})");
  r = call("POST", "/v2/members", R"({"peerURLs":)", json);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, R"({"message":"unexpected end of JSON input"})");
  r = call("POST", "/v2/members", R"({"peerURLs":[]})", json);
  EXPECT_EQ(r.body, R"({"message":"no valid URLs given"})");
  r = call("POST", "/v2/members", R"({"peerURLs":5})", "Application/JSON; charset=utf-8");
  EXPECT_EQ(
      r.body,
      R"({"message":"json: cannot unmarshal number into Go struct field .peerURLs of type []string"})");
  r = call("POST", "/v2/members", R"({"peerURLs":["ftp://a:1"]})", json);
  EXPECT_EQ(r.body, R"({"message":"URL scheme must be http, https, unix, or unixs: ftp://a:1"})");
  r = call("POST", "/v2/members", R"({"peerURLs":["http://a"]})", json);
  EXPECT_EQ(r.body, R"({"message":"URL address does not have the form \"host:port\": http://a"})");
  r = call("POST", "/v2/members", R"({"peerURLs":["http://a:1/x"]})", json);
  EXPECT_EQ(r.body, R"({"message":"URL must not contain a path: http://a:1/x"})");

  r = call("POST", "/v2/members", R"({"peerURLs":["http://b:2"," http://a:1"]})", json);
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body,
            R"({"id":"1234abcd","name":"","peerURLs":["http://a:1","http://b:2"],"clientURLs":[]})"
            "\n");
  EXPECT_EQ(header(r, "X-Etcd-Cluster-Id"), "d1cfaf999eb97a2a");
  cluster_.next_ = ChangeOutcome::kPeerUrlExists;
  r = call("POST", "/v2/members", R"({"peerURLs":["http://a:1"]})", json);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, R"({"message":"membership: peerURL exists"})");
  cluster_.next_ = ChangeOutcome::kFailed;
  r = call("POST", "/v2/members", R"({"peerURLs":["http://a:1"]})", json);
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, R"({"message":"Internal Server Error"})");
}

TEST_F(V2HttpTest, MemberRemoveAndUpdateAsEtcd) {
  http::Response r = call("DELETE", "/v2/members/zz");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"message":"No such member: zz"})");
  r = call("DELETE", "/v2/members/00ab");
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(cluster_.removed_id, 0xabu);
  cluster_.next_ = ChangeOutcome::kNotFound;
  r = call("DELETE", "/v2/members/00ab");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"message":"No such member: ab"})");
  cluster_.next_ = ChangeOutcome::kRemoved;
  r = call("DELETE", "/v2/members/ab");
  EXPECT_EQ(r.status, 410);
  EXPECT_EQ(r.body, R"({"message":"Member permanently removed: ab"})");

  cluster_.next_ = ChangeOutcome::kOk;
  r = call("PUT", "/v2/members/1234", R"({"peerURLs":["http://127.0.0.1:9999"]})");
  EXPECT_EQ(r.status, 415);
  r = call("PUT", "/v2/members/1234", R"({"peerURLs":["http://127.0.0.1:9999"]})",
           "application/json");
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(cluster_.updated_id, 0x1234u);
  EXPECT_EQ(cluster_.added_urls, std::vector<std::string>{"http://127.0.0.1:9999"});
  cluster_.next_ = ChangeOutcome::kNotFound;
  r = call("PUT", "/v2/members/1234", R"({"peerURLs":["http://127.0.0.1:9999"]})",
           "application/json");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"message":"No such member: 1234"})");
  cluster_.next_ = ChangeOutcome::kPeerUrlExists;
  r = call("PUT", "/v2/members/1234", R"({"peerURLs":["http://127.0.0.1:9999"]})",
           "application/json");
  EXPECT_EQ(r.status, 409);
}

TEST_F(V2HttpTest, MachinesAndStats) {
  http::Response r = call("GET", "/v2/machines");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(r.body, "http://127.0.0.1:23791, http://127.0.0.1:23793, http://a:1");
  r = call("POST", "/v2/machines");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(header(r, "Allow"), "GET,HEAD");

  r = call("GET", "/v2/stats/self");
  EXPECT_EQ(r.body, "{\"name\":\"self\"}");
  EXPECT_EQ(r.content_type, "application/json");
  r = call("GET", "/v2/stats/leader");
  EXPECT_EQ(r.body, R"({"leader":"bdae9bbc11dd390d","followers":{}})");
  cluster_.leader_ = 2;
  r = call("GET", "/v2/stats/leader");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body, R"({"message":"not current leader"})");

  call("PUT", "/v2/keys/a", "value=1");
  call("GET", "/v2/keys/nope");
  r = call("GET", "/v2/stats/store");
  EXPECT_EQ(
      r.body,
      R"({"getsSuccess":0,"getsFail":1,"setsSuccess":1,"setsFail":0,"deleteSuccess":0,"deleteFail":0,"updateSuccess":0,"updateFail":0,"createSuccess":0,"createFail":0,"compareAndSwapSuccess":0,"compareAndSwapFail":0,"compareAndDeleteSuccess":0,"compareAndDeleteFail":0,"expireCount":0,"watchers":0})");
  r = call("POST", "/v2/stats/store");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(header(r, "Allow"), "GET");
  EXPECT_EQ(call("GET", "/v2/stats/").status, 404);
}

}  // namespace
}  // namespace etcd::rpc::v2http
