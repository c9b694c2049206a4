// The v2 API behind a real HTTP listener (Beast sessions, chunked streams,
// a client that goes away), over the fake member of test_fakes.h.
#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <thread>

#include "rpc/client_listener.h"
#include "rpc/v2http/test_fakes.h"
#include "rpc/v2http/v2http.h"

namespace etcd::rpc::v2http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

class V2HttpWireTest : public ::testing::Test {
 protected:
  V2HttpWireTest()
      : logger_(log::Level::kError, {}, [] { return int64_t{0}; }),
        routes_(api_, cluster_, [] { return kNow; }) {
    routes_.register_routes(router_);
    ClientListener::Options o;
    o.urls = {"http://127.0.0.1:0"};
    o.serve = ClientListener::Serve::kHttpOnly;
    o.http = &router_;
    o.logger = &logger_;
    auto l = ClientListener::start(std::move(o));
    EXPECT_TRUE(l.is_ok()) << l.status().to_string();
    if (l.is_ok()) listener_ = std::move(l).value();
  }
  ~V2HttpWireTest() override {
    listener_.reset();
    routes_.stop();
  }

  boost::asio::ip::tcp::endpoint endpoint() {
    const std::string addr = listener_->addresses()[0];
    auto colon = addr.rfind(':');
    return {boost::asio::ip::make_address(addr.substr(0, colon)),
            static_cast<uint16_t>(std::stoi(addr.substr(colon + 1)))};
  }

  bhttp::response<bhttp::string_body> call(bhttp::verb verb, const std::string& target,
                                           const std::string& form = "") {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket sock(io);
    sock.connect(endpoint());
    bhttp::request<bhttp::string_body> req(verb, target, 11);
    req.set(bhttp::field::host, "localhost");
    if (!form.empty()) {
      req.set(bhttp::field::content_type, "application/x-www-form-urlencoded");
      req.body() = form;
    }
    req.prepare_payload();
    bhttp::write(sock, req);
    beast::flat_buffer buf;
    bhttp::response_parser<bhttp::string_body> parser;
    if (verb == bhttp::verb::head) parser.skip(true);
    bhttp::read(sock, buf, parser);
    return parser.release();
  }

  bool wait_watchers(size_t n) {
    for (int i = 0; i < 250; ++i) {
      if (api_.store().watcher_count() == n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  log::Logger logger_;
  FakeV2Api api_;
  FakeCluster cluster_;
  V2Routes routes_;
  http::Router router_;
  std::unique_ptr<ClientListener> listener_;
};

TEST_F(V2HttpWireTest, PutGetHeadOverTheWire) {
  auto r = call(bhttp::verb::put, "/v2/keys/foo", "value=bar");
  EXPECT_EQ(r.result_int(), 201);
  EXPECT_EQ(r[bhttp::field::content_type], "application/json");
  EXPECT_EQ(r["X-Etcd-Index"], "1");
  EXPECT_EQ(r["X-Raft-Term"], "2");
  EXPECT_EQ(r["X-Etcd-Cluster-Id"], "d1cfaf999eb97a2a");
  EXPECT_EQ(
      r.body(),
      R"({"action":"set","node":{"key":"/foo","value":"bar","modifiedIndex":1,"createdIndex":1}})"
      "\n");
  r = call(bhttp::verb::head, "/v2/keys/foo");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r["X-Etcd-Index"], "1");
  EXPECT_EQ(r.body(), "");
  r = call(bhttp::verb::get, "/v2/keys/nope");
  EXPECT_EQ(r.result_int(), 404);
  EXPECT_EQ(r.body(), R"({"errorCode":100,"message":"Key not found","cause":"/nope","index":1})"
                      "\n");
}

TEST_F(V2HttpWireTest, AWaitIsAnsweredWhenTheKeyChanges) {
  std::thread writer([this] {
    ASSERT_TRUE(wait_watchers(1));
    std::get<v2store::Event>(api_.store().set("/1/w", false, "v", {}));
  });
  auto r = call(bhttp::verb::get, "/v2/keys/w?wait=true");
  writer.join();
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r["X-Etcd-Index"], "0");
  EXPECT_EQ(r.body(),
            R"({"action":"set","node":{"key":"/w","value":"v","modifiedIndex":1,"createdIndex":1}})"
            "\n");
  EXPECT_TRUE(wait_watchers(0));
}

TEST_F(V2HttpWireTest, AStreamIsChunkedAndItsWatchEndsWhenTheClientGoes) {
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket sock(io);
    sock.connect(endpoint());
    bhttp::request<bhttp::string_body> req(bhttp::verb::get,
                                           "/v2/keys/s?wait=true&stream=true&recursive=true", 11);
    req.set(bhttp::field::host, "localhost");
    bhttp::write(sock, req);
    beast::flat_buffer buf;
    bhttp::response_parser<bhttp::string_body> parser;
    bhttp::read_header(sock, buf, parser);
    EXPECT_EQ(parser.get().result_int(), 200);
    EXPECT_TRUE(parser.get().chunked());
    EXPECT_EQ(parser.get()["X-Raft-Index"], "9");
    ASSERT_TRUE(wait_watchers(1));
    std::get<v2store::Event>(api_.store().set("/1/s/a", false, "1", {}));
    std::get<v2store::Event>(api_.store().set("/1/s/b", false, "2", {}));
    std::string got(static_cast<const char*>(buf.data().data()), buf.size());
    for (int i = 0; i < 50 && got.find("\"/s/b\"") == std::string::npos; ++i) {
      char b[512];
      size_t n = sock.read_some(boost::asio::buffer(b));
      got.append(b, n);
    }
    EXPECT_NE(got.find(R"({"action":"set","node":{"key":"/s/a","value":"1")"), std::string::npos)
        << got;
    EXPECT_NE(got.find(R"({"action":"set","node":{"key":"/s/b","value":"2")"), std::string::npos)
        << got;
    EXPECT_EQ(api_.store().watcher_count(), 1u);
  }
  // The client closed the connection: the watch is cancelled.
  EXPECT_TRUE(wait_watchers(0));
}

}  // namespace
}  // namespace etcd::rpc::v2http
