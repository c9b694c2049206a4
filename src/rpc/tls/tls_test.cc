#include "rpc/tls/tls.h"

#include "rpc/tls/test_certs.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <spdlog/sinks/ostream_sink.h>
#include <sys/stat.h>

#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace etcd::rpc::tls {
namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;

using testing::CertFactory;
using testing::CertSpec;
using testing::Issued;

struct HandshakeResult {
  bool server_ok = false;
  bool client_ok = false;
  std::string server_error;
  Result<std::string> peer = std::string();  // check_peer on the server side
  std::string server_serial;                 // as the client saw it
  std::string cipher;
  std::string version;
};

std::string serial_hex(X509* cert) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  char* hex = BN_bn2hex(bn);
  std::string s(hex);
  OPENSSL_free(hex);
  BN_free(bn);
  return s;
}

// One handshake between the two contexts over a socket pair.
HandshakeResult handshake(TlsContext& server, TlsContext& client) {
  asio::io_context io;
  asio::local::stream_protocol::socket a(io), b(io);
  asio::local::connect_pair(a, b);
  auto sctx = server.context();
  auto cctx = client.context();
  asio::ssl::stream<asio::local::stream_protocol::socket&> ss(a, *sctx), cs(b, *cctx);
  HandshakeResult r;
  std::thread t([&] {
    boost::system::error_code ec;
    cs.handshake(asio::ssl::stream_base::client, ec);
    r.client_ok = !ec;
    if (!ec) {
      if (X509* c = SSL_get0_peer_certificate(cs.native_handle())) r.server_serial = serial_hex(c);
      // TLS 1.3 finishes the client side before the server checked the
      // client's certificate: read to see the server's verdict.
      char byte;
      asio::read(cs, asio::buffer(&byte, 1), ec);
      r.client_ok = !ec;
    }
  });
  boost::system::error_code ec;
  ss.handshake(asio::ssl::stream_base::server, ec);
  r.server_ok = !ec;
  if (ec) {
    r.server_error = ec.message();
    a.close();
  } else {
    r.peer = server.check_peer(ss.native_handle());
    r.cipher = SSL_get_cipher_name(ss.native_handle());
    r.version = SSL_get_version(ss.native_handle());
    char byte = 'x';
    asio::write(ss, asio::buffer(&byte, 1), ec);
  }
  t.join();
  return r;
}

class TlsTest : public ::testing::Test {
 protected:
  TlsTest()
      : dir_(fs::temp_directory_path() /
             ("tls_test_" + std::to_string(getpid()) + "_" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name())),
        sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(log_)),
        logger_(log::Level::kInfo, {sink_}, [] { return int64_t{0}; }) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    certs_ = std::make_unique<CertFactory>(dir_);
    ca_ = certs_->make("ca", {.cn = "test-ca", .ca = true}, nullptr);
    server_cert_ =
        certs_->make("server", {.cn = "server", .sans = {"DNS:localhost", "IP:127.0.0.1"}}, &ca_);
    client_cert_ =
        certs_->make("client", {.cn = "alice", .sans = {"DNS:client.example.com"}}, &ca_);
  }
  ~TlsTest() override { fs::remove_all(dir_); }

  TlsOptions server_options() {
    TlsOptions o;
    o.cert_file = server_cert_.cert_file;
    o.key_file = server_cert_.key_file;
    o.trusted_ca_file = ca_.cert_file;
    o.client_cert_auth = true;
    return o;
  }
  TlsOptions client_options(const Issued* cert) {
    TlsOptions o;
    if (cert != nullptr) {
      o.cert_file = cert->cert_file;
      o.key_file = cert->key_file;
    }
    o.trusted_ca_file = ca_.cert_file;
    return o;
  }
  std::shared_ptr<TlsContext> make(TlsContext::Role role, TlsOptions o) {
    auto c = TlsContext::create(role, std::move(o), logger_);
    EXPECT_TRUE(c.is_ok()) << c.status().to_string();
    return c.is_ok() ? *c : nullptr;
  }
  HandshakeResult run(TlsOptions server, TlsOptions client) {
    auto s = make(TlsContext::Role::kServer, std::move(server));
    auto c = make(TlsContext::Role::kClient, std::move(client));
    if (!s || !c) return {};
    return handshake(*s, *c);
  }

  fs::path dir_;
  std::ostringstream log_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
  log::Logger logger_;
  std::unique_ptr<CertFactory> certs_;
  Issued ca_, server_cert_, client_cert_;
};

TEST_F(TlsTest, MutualTlsHandshakeReturnsTheClientCn) {
  auto r = run(server_options(), client_options(&client_cert_));
  ASSERT_TRUE(r.server_ok) << r.server_error;
  EXPECT_TRUE(r.client_ok);
  ASSERT_TRUE(r.peer.is_ok());
  EXPECT_EQ(*r.peer, "alice");
}

TEST_F(TlsTest, RsaCertificatesWork) {
  Issued rsa_server = certs_->make("rsa", {.cn = "rsa", .rsa = true}, &ca_);
  TlsOptions s = server_options();
  s.cert_file = rsa_server.cert_file;
  s.key_file = rsa_server.key_file;
  auto r = run(s, client_options(&client_cert_));
  EXPECT_TRUE(r.server_ok) << r.server_error;
  EXPECT_TRUE(r.client_ok);
}

TEST_F(TlsTest, NoClientCertificateIsRefused) {
  auto r = run(server_options(), client_options(nullptr));
  EXPECT_FALSE(r.server_ok);
  EXPECT_FALSE(r.client_ok);
  EXPECT_NE(r.server_error.find("peer did not return a certificate"), std::string::npos)
      << r.server_error;
}

TEST_F(TlsTest, WithoutClientCertAuthNoCertificateIsAsked) {
  TlsOptions s = server_options();
  s.client_cert_auth = false;
  auto r = run(s, client_options(&client_cert_));
  EXPECT_TRUE(r.server_ok) << r.server_error;
  ASSERT_TRUE(r.peer.is_ok());
  EXPECT_EQ(*r.peer, "");
}

TEST_F(TlsTest, CertificateOfAnotherCaIsRefused) {
  Issued other_ca = certs_->make("other-ca", {.cn = "other", .ca = true}, nullptr);
  Issued stranger = certs_->make("stranger", {.cn = "alice"}, &other_ca);
  auto r = run(server_options(), client_options(&stranger));
  EXPECT_FALSE(r.server_ok);
  EXPECT_FALSE(r.client_ok);
  EXPECT_NE(r.server_error.find("certificate verify failed"), std::string::npos) << r.server_error;
}

TEST_F(TlsTest, ExpiredCertificateIsRefused) {
  Issued expired =
      certs_->make("expired", {.cn = "alice", .not_before_s = -7200, .not_after_s = -3600}, &ca_);
  auto r = run(server_options(), client_options(&expired));
  EXPECT_FALSE(r.server_ok);
  EXPECT_FALSE(r.client_ok);
}

TEST_F(TlsTest, RevokedCertificateIsRefusedPemAndDer) {
  Issued revoked = certs_->make("revoked", {.cn = "mallory", .serial = 4242}, &ca_);
  for (bool der : {false, true}) {
    TlsOptions s = server_options();
    s.crl_file = certs_->crl(ca_, {4242}, der);
    auto bad = run(s, client_options(&revoked));
    EXPECT_FALSE(bad.server_ok) << "der=" << der;
    auto good = run(s, client_options(&client_cert_));
    EXPECT_TRUE(good.server_ok) << "der=" << der << " " << good.server_error;
  }
}

TEST_F(TlsTest, AllowedCn) {
  TlsOptions s = server_options();
  s.allowed_cn = "alice";
  EXPECT_TRUE(run(s, client_options(&client_cert_)).server_ok);
  s.allowed_cn = "bob";
  auto r = run(s, client_options(&client_cert_));
  EXPECT_FALSE(r.server_ok);
  EXPECT_FALSE(r.client_ok);
}

TEST_F(TlsTest, AllowedHostnameMatchesSansThenCn) {
  TlsOptions s = server_options();
  s.allowed_hostname = "client.example.com";
  EXPECT_TRUE(run(s, client_options(&client_cert_)).server_ok);
  s.allowed_hostname = "other.example.com";
  EXPECT_FALSE(run(s, client_options(&client_cert_)).server_ok);
  // With IP SANs.
  Issued by_ip = certs_->make("byip", {.cn = "ipclient", .sans = {"IP:10.1.2.3"}}, &ca_);
  s.allowed_hostname = "10.1.2.3";
  EXPECT_TRUE(run(s, client_options(&by_ip)).server_ok);
  s.allowed_hostname = "10.1.2.4";
  EXPECT_FALSE(run(s, client_options(&by_ip)).server_ok);
  // No SANs: the CN.
  Issued cn_only = certs_->make("cnonly", {.cn = "host.example.org"}, &ca_);
  s.allowed_hostname = "host.example.org";
  EXPECT_TRUE(run(s, client_options(&cn_only)).server_ok);
}

TEST_F(TlsTest, CheckPeerAppliesTheRules) {
  // A context without the rules lets the handshake through; one with them
  // judges the same connection in check_peer.
  TlsOptions lax = server_options();
  auto s = make(TlsContext::Role::kServer, lax);
  TlsOptions strict = server_options();
  strict.allowed_cn = "bob";
  auto judge = make(TlsContext::Role::kServer, strict);
  auto c = make(TlsContext::Role::kClient, client_options(&client_cert_));
  ASSERT_TRUE(s && judge && c);
  asio::io_context io;
  asio::local::stream_protocol::socket a(io), b(io);
  asio::local::connect_pair(a, b);
  auto sctx = s->context();
  auto cctx = c->context();
  asio::ssl::stream<asio::local::stream_protocol::socket&> ss(a, *sctx), cs(b, *cctx);
  std::thread t([&] {
    boost::system::error_code ec;
    cs.handshake(asio::ssl::stream_base::client, ec);
  });
  boost::system::error_code ec;
  ss.handshake(asio::ssl::stream_base::server, ec);
  t.join();
  ASSERT_FALSE(ec) << ec.message();
  auto verdict = judge->check_peer(ss.native_handle());
  ASSERT_FALSE(verdict.is_ok());
  EXPECT_EQ(verdict.status().code(), Code::kPermissionDenied);
  EXPECT_NE(verdict.status().message().find("CN=alice"), std::string::npos)
      << verdict.status().message();
}

TEST_F(TlsTest, AllowedCnAndHostnameAreExclusive) {
  TlsOptions s = server_options();
  s.allowed_cn = "a";
  s.allowed_hostname = "b";
  auto c = TlsContext::create(TlsContext::Role::kServer, s, logger_);
  ASSERT_FALSE(c.is_ok());
  EXPECT_NE(c.status().message().find("mutually exclusive"), std::string::npos);
}

TEST_F(TlsTest, CipherNames) {
  EXPECT_EQ(*openssl_cipher_name("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
            "ECDHE-RSA-AES128-GCM-SHA256");
  EXPECT_EQ(*openssl_cipher_name("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
            "ECDHE-ECDSA-AES256-GCM-SHA384");
  EXPECT_EQ(*openssl_cipher_name("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305"),
            "ECDHE-RSA-CHACHA20-POLY1305");
  EXPECT_EQ(*openssl_cipher_name("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
            "ECDHE-RSA-CHACHA20-POLY1305");
  EXPECT_EQ(*openssl_cipher_name("TLS_RSA_WITH_AES_128_CBC_SHA"), "AES128-SHA");
  auto bad = openssl_cipher_name("TLS_BOGUS");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().message(), "unexpected TLS cipher suite \"TLS_BOGUS\"");
  TlsOptions s = server_options();
  s.cipher_suites = {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "nope"};
  auto c = TlsContext::create(TlsContext::Role::kServer, s, logger_);
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.status().message(), "unexpected TLS cipher suite \"nope\"");
}

TEST_F(TlsTest, CipherSuitesApplyToTls12) {
  TlsOptions s = server_options();
  s.max_version = "TLS1.2";
  s.cipher_suites = {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"};
  auto r = run(s, client_options(&client_cert_));
  ASSERT_TRUE(r.server_ok) << r.server_error;
  EXPECT_EQ(r.cipher, "ECDHE-ECDSA-AES256-GCM-SHA384");
  EXPECT_EQ(r.version, "TLSv1.2");
  // A suite the client does not offer: no handshake.
  TlsOptions c = client_options(&client_cert_);
  c.cipher_suites = {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"};
  EXPECT_FALSE(run(s, c).server_ok);
}

TEST_F(TlsTest, VersionBounds) {
  auto r = run(server_options(), client_options(&client_cert_));
  EXPECT_EQ(r.version, "TLSv1.3");
  TlsOptions s = server_options();
  s.max_version = "TLS1.2";
  EXPECT_EQ(run(s, client_options(&client_cert_)).version, "TLSv1.2");
  // Server TLS 1.3 only, client TLS 1.2 only: refused.
  s = server_options();
  s.min_version = "TLS1.3";
  TlsOptions c = client_options(&client_cert_);
  c.max_version = "TLS1.2";
  EXPECT_FALSE(run(s, c).server_ok);
  // min > max is refused at creation.
  s.max_version = "TLS1.2";
  EXPECT_FALSE(TlsContext::create(TlsContext::Role::kServer, s, logger_).is_ok());
}

TEST_F(TlsTest, BadFilesNameTheFile) {
  TlsOptions s = server_options();
  s.cert_file = (dir_ / "missing.pem").string();
  auto c = TlsContext::create(TlsContext::Role::kServer, s, logger_);
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.status().message(), "open " + s.cert_file + ": no such file or directory");
  s = server_options();
  s.key_file = ca_.cert_file;  // not a key
  c = TlsContext::create(TlsContext::Role::kServer, s, logger_);
  ASSERT_FALSE(c.is_ok());
  EXPECT_NE(c.status().message().find(ca_.cert_file), std::string::npos);
  s = server_options();
  s.key_file = client_cert_.key_file;  // another certificate's key
  c = TlsContext::create(TlsContext::Role::kServer, s, logger_);
  ASSERT_FALSE(c.is_ok());
  EXPECT_NE(c.status().message().find("private key does not match public key"), std::string::npos);
  s = server_options();
  s.crl_file = ca_.key_file;
  c = TlsContext::create(TlsContext::Role::kServer, s, logger_);
  ASSERT_FALSE(c.is_ok());
  EXPECT_NE(c.status().message().find("CRL file " + ca_.key_file), std::string::npos);
}

TEST_F(TlsTest, RotationServesTheNewCertificateToNewHandshakes) {
  auto s = make(TlsContext::Role::kServer, server_options());
  auto c = make(TlsContext::Role::kClient, client_options(&client_cert_));
  ASSERT_TRUE(s && c);
  auto first = handshake(*s, *c);
  ASSERT_TRUE(first.server_ok);
  std::string old_serial = first.server_serial;
  auto old_ctx = s->context();

  // A broken renewal is logged and the old context kept.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  { std::ofstream(server_cert_.cert_file) << "garbage"; }
  EXPECT_EQ(s->context(), old_ctx);
  EXPECT_NE(log_.str().find("failed to reload TLS certificates"), std::string::npos);

  // The renewed certificate: new handshakes get it.
  Issued renewed =
      certs_->make("renewed", {.cn = "server", .sans = {"IP:127.0.0.1"}, .serial = 777}, &ca_);
  renewed.cert_file = server_cert_.cert_file;
  renewed.key_file = server_cert_.key_file;
  CertFactory::write(renewed);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto second = handshake(*s, *c);
  ASSERT_TRUE(second.server_ok) << second.server_error;
  EXPECT_EQ(second.server_serial, "0309");  // 777
  EXPECT_NE(second.server_serial, old_serial);
  EXPECT_NE(s->context(), old_ctx);
}

TEST_F(TlsTest, SelfCertMakesAndReusesACertificate) {
  std::string dir = (dir_ / "fixtures" / "client").string();
  auto o = self_cert(logger_, dir, {"https://127.0.0.1:2379", "https://localhost:2379"}, 2, {});
  ASSERT_TRUE(o.is_ok()) << o.status().to_string();
  EXPECT_TRUE(o->insecure_skip_verify);
  EXPECT_EQ(o->cert_file, dir + "/cert.pem");
  struct stat st {};
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(stat(o->key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  FILE* f = std::fopen(o->cert_file.c_str(), "r");
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_host(cert, "localhost", 0, 0, nullptr), 1);
  int days = 0, secs = 0;
  ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert), X509_get0_notAfter(cert));
  EXPECT_EQ(days, 730);
  EVP_PKEY* pub = X509_get0_pubkey(cert);
  EXPECT_EQ(EVP_PKEY_get_base_id(pub), EVP_PKEY_EC);
  X509_free(cert);
  EXPECT_NE(log_.str().find("created cert file"), std::string::npos);

  // Serves, and a second call reuses the files.
  TlsOptions server = *o;
  TlsOptions client;
  client.insecure_skip_verify = true;
  auto r = run(server, client);
  EXPECT_TRUE(r.server_ok) << r.server_error;
  std::string before;
  {
    std::ifstream in(o->cert_file);
    std::stringstream ss;
    ss << in.rdbuf();
    before = ss.str();
  }
  auto again = self_cert(logger_, dir, {"https://127.0.0.1:2379"}, 1, {});
  ASSERT_TRUE(again.is_ok());
  std::ifstream in(again->cert_file);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), before);
}

}  // namespace
}  // namespace etcd::rpc::tls
