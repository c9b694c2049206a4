#include "rpc/client_listener.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <atomic>

#include "etcdserverpb/rpc.grpc.pb.h"
#include "rpc/tls/test_certs.h"

namespace etcd::rpc {
namespace {

namespace fs = std::filesystem;
using tls::testing::CertFactory;
using tls::testing::Issued;

// Answers Range with what the server knows of the caller: its gRPC peer
// string and its client certificate's CN; Put echoes the value's size.
class EchoKv final : public etcdserverpb::KV::Service {
 public:
  grpc::Status Range(grpc::ServerContext* ctx, const etcdserverpb::RangeRequest*,
                     etcdserverpb::RangeResponse* resp) override {
    auto* kv = resp->add_kvs();
    kv->set_key(ctx->peer());
    kv->set_value(client_cert_common_name(*ctx));
    return grpc::Status::OK;
  }
  grpc::Status Put(grpc::ServerContext*, const etcdserverpb::PutRequest* req,
                   etcdserverpb::PutResponse* resp) override {
    resp->mutable_prev_kv()->set_value(req->value());
    return grpc::Status::OK;
  }
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The log, captured under the sink's own mutex (the listener logs from its
// I/O thread while the test reads).
class CaptureSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::string text() {
    std::lock_guard<std::mutex> lock(mutex_);
    return text_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    text_.append(buf.data(), buf.size());
  }
  void flush_() override {}

 private:
  std::string text_;
};

class ClientListenerTest : public ::testing::Test {
 protected:
  ClientListenerTest()
      : dir_(fs::temp_directory_path() /
             ("client_listener_test_" + std::to_string(getpid()) + "_" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name())),
        sink_(std::make_shared<CaptureSink>()),
        logger_(log::Level::kInfo, {sink_}, [] { return int64_t{0}; }) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    certs_ = std::make_unique<CertFactory>(dir_);
    ca_ = certs_->make("ca", {.cn = "ca", .ca = true}, nullptr);
    server_cert_ = certs_->make("server", {.cn = "server", .sans = {"IP:127.0.0.1"}}, &ca_);
    client_cert_ = certs_->make("client", {.cn = "alice"}, &ca_);
  }
  ~ClientListenerTest() override {
    // ClientServer's order: no new connections, gRPC's shutdown, then the
    // pumps.
    if (listener_) listener_->stop_accepting();
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    if (listener_) listener_->stop();
    fs::remove_all(dir_);
  }

  void start(bool client_cert_auth, std::string url = "https://127.0.0.1:0",
             ClientListener::Serve serve = ClientListener::Serve::kGrpcAndHttp) {
    tls::TlsOptions o;
    o.cert_file = server_cert_.cert_file;
    o.key_file = server_cert_.key_file;
    o.trusted_ca_file = ca_.cert_file;
    o.client_cert_auth = client_cert_auth;
    auto ctx = tls::TlsContext::create(tls::TlsContext::Role::kServer, o, logger_);
    ASSERT_TRUE(ctx.is_ok()) << ctx.status().to_string();
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    auto hidden = add_hidden_port(builder);
    ASSERT_TRUE(hidden.is_ok());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    remove_hidden_port(*hidden);
    EXPECT_FALSE(fs::exists(*hidden));
    ClientListener::Options lo;
    lo.urls = {url};
    lo.serve = serve;
    lo.tls = *ctx;
    lo.server = server_.get();
    lo.http = &router_;
    lo.http_limits.max_body_bytes = 1024 * 1024;
    lo.http_limits.max_queued_bytes = 64 * 1024;
    lo.logger = &logger_;
    lo.buffer_bytes = 4096;  // smaller than a TLS record
    auto l = ClientListener::start(std::move(lo));
    ASSERT_TRUE(l.is_ok()) << l.status().to_string();
    listener_ = std::move(l).value();
  }

  std::unique_ptr<etcdserverpb::KV::Stub> stub(bool with_cert, std::string target = "") {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = slurp(ca_.cert_file);
    if (with_cert) {
      o.pem_cert_chain = slurp(client_cert_.cert_file);
      o.pem_private_key = slurp(client_cert_.key_file);
    }
    if (target.empty()) target = listener_->addresses()[0];
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("127.0.0.1");
    auto channel = grpc::CreateCustomChannel(target, grpc::SslCredentials(o), args);
    return etcdserverpb::KV::NewStub(channel);
  }

  bool wait_connections(size_t n) {
    for (int i = 0; i < 200; ++i) {
      if (listener_->connection_count() == n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  fs::path dir_;
  // The log once it holds `what` (the listener logs a refusal on its own
  // thread, maybe after the client gave up), or after 5 s.
  std::string logged_once(const std::string& what) {
    for (int i = 0; i < 500; ++i) {
      std::string text = sink_->text();
      if (text.find(what) != std::string::npos) return text;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return sink_->text();
  }
  std::shared_ptr<CaptureSink> sink_;
  log::Logger logger_;
  std::unique_ptr<CertFactory> certs_;
  Issued ca_, server_cert_, client_cert_;
  EchoKv service_;
  // HTTP: /echo answers "<method> <target> <cn> <body>"; /stream sends
  // three chunks and stays open until the client goes.
  std::atomic<bool> stream_cancelled_{false};
  http::FunctionHandler echo_{[](http::Request req, std::shared_ptr<http::Responder> r) {
    http::Response resp;
    resp.content_type = "text/plain";
    resp.body = req.method + " " + req.target + " " + req.cn + " " + req.body;
    r->respond(std::move(resp));
  }};
  http::FunctionHandler stream_{[this](http::Request, std::shared_ptr<http::Responder> r) {
    r->on_cancel([this] { stream_cancelled_ = true; });
    r->start_stream(200, "application/json");
    // From another thread, as a gRPC stream's handler would.
    std::thread([r] {
      for (int i = 0; i < 3; ++i) r->write("{\"n\":" + std::to_string(i) + "}\n");
    }).detach();
  }};
  // /once streams one chunk and finishes (a v2 long poll's answer).
  http::FunctionHandler once_{[](http::Request, std::shared_ptr<http::Responder> r) {
    r->start_stream(200, "application/json");
    std::thread([r] {
      r->write("{\"once\":true}\n");
      r->finish();
    }).detach();
  }};
  http::Router router_ = [this] {
    http::Router router;
    router.add_exact("/echo", &echo_);
    router.add_exact("/stream", &stream_);
    router.add_exact("/once", &once_);
    return router;
  }();
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<ClientListener> listener_;
};

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

boost::asio::ip::tcp::endpoint endpoint_of(const std::string& addr) {
  auto colon = addr.rfind(':');
  return {boost::asio::ip::make_address(addr.substr(0, colon)),
          static_cast<uint16_t>(std::stoi(addr.substr(colon + 1)))};
}

template <typename Stream>
bhttp::response<bhttp::string_body> http_call(Stream& s, bhttp::verb verb,
                                              const std::string& target,
                                              const std::string& body = "",
                                              bool expect_continue = false) {
  bhttp::request<bhttp::string_body> req(verb, target, 11);
  req.set(bhttp::field::host, "localhost");
  if (expect_continue) req.set(bhttp::field::expect, "100-continue");
  req.body() = body;
  req.prepare_payload();
  bhttp::write(s, req);
  beast::flat_buffer buf;
  bhttp::response<bhttp::string_body> resp;
  bhttp::read(s, buf, resp);
  if (resp.result() == bhttp::status::continue_) {
    resp = {};
    bhttp::read(s, buf, resp);
  }
  return resp;
}

TEST_F(ClientListenerTest, APlainPortServesGrpcAndHttp) {
  start(false, "http://127.0.0.1:0");
  auto channel = grpc::CreateChannel(listener_->addresses()[0], grpc::InsecureChannelCredentials());
  auto kv = etcdserverpb::KV::NewStub(channel);
  grpc::ClientContext ctx;
  etcdserverpb::RangeResponse resp;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Status st = kv->Range(&ctx, {}, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.kvs(0).key().rfind("fd:", 0), 0u) << resp.kvs(0).key();
  EXPECT_EQ(resp.kvs(0).value(), "");  // a plain connection has no CN

  // HTTP/1.1 on the same port, two requests on one kept-alive connection.
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket sock(io);
  sock.connect(endpoint_of(listener_->addresses()[0]));
  auto r1 = http_call(sock, bhttp::verb::get, "/echo?x=1");
  EXPECT_EQ(r1.result_int(), 200);
  EXPECT_EQ(r1.body(), "GET /echo?x=1  ");
  EXPECT_FALSE(r1[bhttp::field::date].empty());
  auto r2 = http_call(sock, bhttp::verb::post, "/echo", "payload");
  EXPECT_EQ(r2.body(), "POST /echo  payload");
  auto r3 = http_call(sock, bhttp::verb::get, "/nowhere");
  EXPECT_EQ(r3.result_int(), 404);
  EXPECT_EQ(r3.body(), "404 page not found\n");
  // curl's Expect: 100-continue for bodies over 1 KiB.
  auto r4 = http_call(sock, bhttp::verb::post, "/echo", std::string(5000, 'b'), true);
  EXPECT_EQ(r4.result_int(), 200);
  EXPECT_EQ(r4.body().size(), std::string("POST /echo  ").size() + 5000);
  // A body over the bound: 413 as soon as the header says so (no body is
  // sent: the server would close while a client still writes it), and the
  // connection ends.
  std::string big_header =
      "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2097152\r\n\r\n";
  boost::asio::write(sock, boost::asio::buffer(big_header));
  beast::flat_buffer buf;
  bhttp::response<bhttp::string_body> r5;
  bhttp::read(sock, buf, r5);
  EXPECT_EQ(r5.result_int(), 413);
  EXPECT_FALSE(r5.keep_alive());
}

TEST_F(ClientListenerTest, ATlsPortServesHttpWithTheClientCn) {
  start(true);
  boost::asio::ssl::context ctx(boost::asio::ssl::context::tls_client);
  ctx.load_verify_file(ca_.cert_file);
  ctx.use_certificate_chain_file(client_cert_.cert_file);
  ctx.use_private_key_file(client_cert_.key_file, boost::asio::ssl::context::pem);
  ctx.set_verify_mode(boost::asio::ssl::verify_peer);
  boost::asio::io_context io;
  boost::asio::ssl::stream<boost::asio::ip::tcp::socket> s(io, ctx);
  s.lowest_layer().connect(endpoint_of(listener_->addresses()[0]));
  s.handshake(boost::asio::ssl::stream_base::client);
  auto r = http_call(s, bhttp::verb::post, "/echo", "hi");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), "POST /echo alice hi");
  auto r2 = http_call(s, bhttp::verb::get, "/echo");
  EXPECT_EQ(r2.body(), "GET /echo alice ");
  // gRPC still works on the same TLS port.
  auto kv = stub(true);
  grpc::ClientContext gctx;
  etcdserverpb::RangeResponse resp;
  ASSERT_TRUE(kv->Range(&gctx, {}, &resp).ok());
  EXPECT_EQ(resp.kvs(0).value(), "alice");
}

// A finished stream leaves the connection to the next request, as Go's
// server does (etcdctl v2 and flannel send wait after wait on one
// connection), also when that request was sent before the stream ended;
// with "Connection: close" it ends the connection.
TEST_F(ClientListenerTest, AFinishedStreamKeepsTheConnectionAlive) {
  start(false, "http://127.0.0.1:0");
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket sock(io);
  sock.connect(endpoint_of(listener_->addresses()[0]));
  beast::flat_buffer buf;
  for (int i = 0; i < 3; ++i) {
    bhttp::request<bhttp::string_body> req(bhttp::verb::get, "/once", 11);
    bhttp::write(sock, req);
    bhttp::response<bhttp::string_body> resp;
    bhttp::read(sock, buf, resp);
    EXPECT_EQ(resp.result_int(), 200);
    EXPECT_TRUE(resp.chunked());
    EXPECT_TRUE(resp.keep_alive());
    EXPECT_EQ(resp.body(), "{\"once\":true}\n");
  }
  // Two requests at once: the second is read while the first streams.
  bhttp::request<bhttp::string_body> a(bhttp::verb::get, "/once", 11);
  bhttp::request<bhttp::string_body> b(bhttp::verb::post, "/echo", 11);
  b.body() = "next";
  b.prepare_payload();
  bhttp::write(sock, a);
  bhttp::write(sock, b);
  bhttp::response<bhttp::string_body> ra, rb;
  bhttp::read(sock, buf, ra);
  bhttp::read(sock, buf, rb);
  EXPECT_EQ(ra.body(), "{\"once\":true}\n");
  EXPECT_EQ(rb.body(), "POST /echo  next");
  // "Connection: close": the stream ends the connection.
  bhttp::request<bhttp::string_body> last(bhttp::verb::get, "/once", 11);
  last.keep_alive(false);
  bhttp::write(sock, last);
  bhttp::response<bhttp::string_body> rl;
  bhttp::read(sock, buf, rl);
  EXPECT_FALSE(rl.keep_alive());
  boost::system::error_code ec;
  char c;
  sock.read_some(boost::asio::buffer(&c, 1), ec);
  EXPECT_EQ(ec, boost::asio::error::eof);
}

TEST_F(ClientListenerTest, AStreamIsChunkedAndCancelledWhenTheClientGoes) {
  start(false, "http://127.0.0.1:0");
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket sock(io);
    sock.connect(endpoint_of(listener_->addresses()[0]));
    bhttp::request<bhttp::string_body> req(bhttp::verb::post, "/stream", 11);
    req.prepare_payload();
    bhttp::write(sock, req);
    beast::flat_buffer buf;
    bhttp::response_parser<bhttp::string_body> parser;
    bhttp::read_header(sock, buf, parser);
    EXPECT_EQ(parser.get().result_int(), 200);
    EXPECT_TRUE(parser.get().chunked());
    EXPECT_TRUE(parser.get().keep_alive());  // HTTP/1.1's default
    // Read until the three chunks are in (the header's read may have
    // taken some or all of them already).
    std::string got(static_cast<const char*>(buf.data().data()), buf.size());
    for (int i = 0; i < 50 && got.find("{\"n\":2}") == std::string::npos; ++i) {
      char b[256];
      size_t n = sock.read_some(boost::asio::buffer(b));
      got.append(b, n);
    }
    EXPECT_NE(got.find("{\"n\":0}"), std::string::npos) << got;
    EXPECT_NE(got.find("{\"n\":2}"), std::string::npos) << got;
    EXPECT_FALSE(stream_cancelled_.load());
  }
  for (int i = 0; i < 250 && !stream_cancelled_.load(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(stream_cancelled_.load());
  EXPECT_TRUE(wait_connections(0));
}

TEST_F(ClientListenerTest, AGrpcOnlyPortDoesNotServeHttp) {
  start(false, "http://127.0.0.1:0", ClientListener::Serve::kGrpcOnly);
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket sock(io);
  sock.connect(endpoint_of(listener_->addresses()[0]));
  bhttp::request<bhttp::string_body> req(bhttp::verb::get, "/echo", 11);
  bhttp::write(sock, req);
  beast::flat_buffer buf;
  bhttp::response<bhttp::string_body> resp;
  boost::system::error_code ec;
  bhttp::read(sock, buf, resp, ec);
  EXPECT_TRUE(ec);  // gRPC does not answer HTTP/1.1
}

TEST_F(ClientListenerTest, CallsOverTlsCarryThePeerFdAndTheClientCn) {
  start(/*client_cert_auth=*/true);
  auto kv = stub(/*with_cert=*/true);
  grpc::ClientContext ctx;
  etcdserverpb::RangeRequest req;
  etcdserverpb::RangeResponse resp;
  grpc::Status st = kv->Range(&ctx, req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(resp.kvs_size(), 1);
  // gRPC names an fd channel's peer "fd:<n>": the registry's key.
  EXPECT_EQ(resp.kvs(0).key().rfind("fd:", 0), 0u) << resp.kvs(0).key();
  EXPECT_EQ(resp.kvs(0).value(), "alice");
  EXPECT_EQ(client_cert_common_name(resp.kvs(0).key()), "alice");
  EXPECT_EQ(client_cert_common_name("ipv4:127.0.0.1:5000"), "");
}

TEST_F(ClientListenerTest, WithoutClientCertAuthTheCnIsEmpty) {
  start(/*client_cert_auth=*/false);
  auto kv = stub(/*with_cert=*/false);
  grpc::ClientContext ctx;
  etcdserverpb::RangeResponse resp;
  ASSERT_TRUE(kv->Range(&ctx, {}, &resp).ok());
  ASSERT_EQ(resp.kvs_size(), 1);
  EXPECT_EQ(resp.kvs(0).value(), "");
}

TEST_F(ClientListenerTest, LargeMessagesPassThroughTheBoundedBuffers) {
  start(true);
  auto kv = stub(true);
  for (int round = 0; round < 5; ++round) {
    std::string big(3 * 1024 * 1024 + 17, 'x');
    for (size_t i = 0; i < big.size(); i += 7) big[i] = static_cast<char>('a' + i % 26);
    grpc::ClientContext ctx;
    etcdserverpb::PutRequest req;
    req.set_value(big);
    etcdserverpb::PutResponse resp;
    // A generous bound: without the hidden port gRPC misses the fd's
    // readiness and the call stalls for its 10 s poll timeout.
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::Status st = kv->Put(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(resp.prev_kv().value(), big);
  }
}

TEST_F(ClientListenerTest, ARefusedHandshakeIsLoggedAndTheServerGoesOn) {
  start(true);
  {
    auto kv = stub(/*with_cert=*/false);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
    etcdserverpb::RangeResponse resp;
    EXPECT_FALSE(kv->Range(&ctx, {}, &resp).ok());
  }
  std::string logged = logged_once("\"msg\":\"rejected connection\"");
  EXPECT_NE(logged.find("\"msg\":\"rejected connection\""), std::string::npos) << logged;
  EXPECT_NE(logged.find("\"remote-addr\":\"127.0.0.1:"), std::string::npos) << logged;
  EXPECT_NE(logged.find("\"server-name\""), std::string::npos) << logged;
  // Plain bytes at a TLS port: rejected too.
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket s(io);
    auto addr = listener_->addresses()[0];
    auto colon = addr.rfind(':');
    s.connect({boost::asio::ip::make_address(addr.substr(0, colon)),
               static_cast<uint16_t>(std::stoi(addr.substr(colon + 1)))});
    std::string junk = "GET / HTTP/1.1\r\n\r\n";
    boost::asio::write(s, boost::asio::buffer(junk));
    char buf[64];
    boost::system::error_code ec;
    s.read_some(boost::asio::buffer(buf), ec);
    EXPECT_TRUE(ec);  // closed by the server
  }
  auto kv = stub(true);
  grpc::ClientContext ctx;
  etcdserverpb::RangeResponse resp;
  EXPECT_TRUE(kv->Range(&ctx, {}, &resp).ok());
}

TEST_F(ClientListenerTest, ConnectionsCloseBothWays) {
  start(true);
  std::string peer;
  {
    auto kv = stub(true);
    grpc::ClientContext ctx;
    etcdserverpb::RangeResponse resp;
    ASSERT_TRUE(kv->Range(&ctx, {}, &resp).ok());
    peer = resp.kvs(0).key();
    EXPECT_EQ(listener_->connection_count(), 1u);
  }
  // The client went away: the connection and its registry entry go.
  EXPECT_TRUE(wait_connections(0));
  EXPECT_EQ(client_cert_common_name(peer), "");

  // The server shuts down: gRPC closes its end, the client sees it.
  auto kv = stub(true);
  grpc::ClientContext ctx;
  etcdserverpb::RangeResponse resp;
  ASSERT_TRUE(kv->Range(&ctx, {}, &resp).ok());
  EXPECT_EQ(listener_->connection_count(), 1u);
  listener_->stop_accepting();
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  EXPECT_TRUE(wait_connections(0));
  listener_->stop();
}

TEST_F(ClientListenerTest, UnixsUrlsServeTlsOnAUnixSocket) {
  std::string path = (dir_ / "etcd.sock").string();
  start(true, "unixs://" + path);
  EXPECT_EQ(listener_->addresses()[0], path);
  auto kv = stub(true, "unix:" + path);
  grpc::ClientContext ctx;
  etcdserverpb::RangeResponse resp;
  grpc::Status st = kv->Range(&ctx, {}, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.kvs(0).value(), "alice");
}

TEST_F(ClientListenerTest, ABusyPortFailsAtStart) {
  start(true);
  tls::TlsOptions o;
  o.cert_file = server_cert_.cert_file;
  o.key_file = server_cert_.key_file;
  auto ctx = tls::TlsContext::create(tls::TlsContext::Role::kServer, o, logger_);
  ASSERT_TRUE(ctx.is_ok());
  ClientListener::Options lo;
  lo.urls = {"https://" + listener_->addresses()[0]};
  lo.serve = ClientListener::Serve::kGrpcOnly;
  lo.tls = *ctx;
  lo.server = server_.get();
  lo.logger = &logger_;
  auto l = ClientListener::start(std::move(lo));
  ASSERT_FALSE(l.is_ok());
  EXPECT_NE(l.status().message().find("address already in use"), std::string::npos)
      << l.status().message();
}

}  // namespace
}  // namespace etcd::rpc
