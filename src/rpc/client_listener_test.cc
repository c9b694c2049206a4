#include "rpc/client_listener.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

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

  void start(bool client_cert_auth, std::string url = "https://127.0.0.1:0") {
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
    ClientTlsListener::Options lo;
    lo.urls = {url};
    lo.tls = *ctx;
    lo.server = server_.get();
    lo.logger = &logger_;
    lo.buffer_bytes = 4096;  // smaller than a TLS record
    auto l = ClientTlsListener::start(std::move(lo));
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
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<ClientTlsListener> listener_;
};

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
  ClientTlsListener::Options lo;
  lo.urls = {"https://" + listener_->addresses()[0]};
  lo.tls = *ctx;
  lo.server = server_.get();
  lo.logger = &logger_;
  auto l = ClientTlsListener::start(std::move(lo));
  ASSERT_FALSE(l.is_ok());
  EXPECT_NE(l.status().message().find("address already in use"), std::string::npos)
      << l.status().message();
}

}  // namespace
}  // namespace etcd::rpc
