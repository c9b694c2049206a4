#include "server/systemd_notify.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <spdlog/sinks/ostream_sink.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

namespace etcd::server {
namespace {

// A fake init daemon: a Unix datagram socket bound where $NOTIFY_SOCKET
// points (a path, or "@name" for the abstract namespace).
class FakeNotifySocket {
 public:
  explicit FakeNotifySocket(const std::string& address) : address_(address) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd_, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    socklen_t len;
    if (address[0] == '@') {
      // Abstract: a leading NUL, then the name (no terminator).
      std::memcpy(sa.sun_path + 1, address.data() + 1, address.size() - 1);
      len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size());
    } else {
      std::memcpy(sa.sun_path, address.data(), address.size());
      len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size() + 1);
    }
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&sa), len), 0) << std::strerror(errno);
  }
  ~FakeNotifySocket() { ::close(fd_); }

  // The next datagram, or nullopt if none arrives within the timeout.
  std::optional<std::string> receive(int timeout_ms = 2000) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) != 1) return std::nullopt;
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0) return std::nullopt;
    return std::string(buf, static_cast<size_t>(n));
  }

 private:
  std::string address_;
  int fd_ = -1;
};

// Sets $NOTIFY_SOCKET for one test and restores the absence after it.
class NotifySocketEnv {
 public:
  explicit NotifySocketEnv(const std::string& value) {
    ::setenv("NOTIFY_SOCKET", value.c_str(), 1);
  }
  ~NotifySocketEnv() { ::unsetenv("NOTIFY_SOCKET"); }
};

class SystemdNotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv("NOTIFY_SOCKET");
    dir_ = std::filesystem::temp_directory_path() /
           ("systemd_notify_test." + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    sink_ = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_);
    logger_ = std::make_unique<log::Logger>(log::Level::kInfo, log::Logger::Sinks{sink_},
                                            [] { return int64_t{0}; });
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::vector<nlohmann::json> log_lines() {
    std::vector<nlohmann::json> out;
    std::istringstream in(log_.str());
    for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
    return out;
  }

  std::filesystem::path dir_;
  std::ostringstream log_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
  std::unique_ptr<log::Logger> logger_;
};

TEST_F(SystemdNotifyTest, WithoutNotifySocketNothingIsSentAndNoErrorIsLogged) {
  auto sent = sd_notify_state("READY=1");
  ASSERT_TRUE(sent.is_ok());
  EXPECT_FALSE(*sent);
  {
    NotifySocketEnv empty("");
    sent = sd_notify_state("READY=1");
    ASSERT_TRUE(sent.is_ok());
    EXPECT_FALSE(*sent);
  }
  SystemdNotifier notifier(*logger_);
  notifier.ready();
  notifier.stopping();
  // etcd 3.5's two info lines, as it writes them without a socket too.
  auto lines = log_lines();
  ASSERT_EQ(lines.size(), 2u) << log_.str();
  EXPECT_EQ(lines[0]["msg"], "notifying init daemon");
  EXPECT_EQ(lines[0]["level"], "info");
  EXPECT_EQ(lines[1]["msg"], "successfully notified init daemon");
  EXPECT_EQ(lines[1]["level"], "info");
}

TEST_F(SystemdNotifyTest, ReadyAndStoppingReachAPathSocket) {
  const std::string path = (dir_ / "notify.sock").string();
  FakeNotifySocket daemon(path);
  NotifySocketEnv env(path);
  SystemdNotifier notifier(*logger_);
  notifier.ready();
  EXPECT_EQ(daemon.receive(), "READY=1");
  notifier.stopping();
  EXPECT_EQ(daemon.receive(), "STOPPING=1");
  EXPECT_EQ(daemon.receive(100), std::nullopt);  // one datagram each
  auto lines = log_lines();
  ASSERT_EQ(lines.size(), 2u) << log_.str();
  EXPECT_EQ(lines[0]["msg"], "notifying init daemon");
  EXPECT_EQ(lines[1]["msg"], "successfully notified init daemon");
}

TEST_F(SystemdNotifyTest, AbstractNamespaceSocket) {
  const std::string name = "@etcd-notify-test-" + std::to_string(::getpid());
  FakeNotifySocket daemon(name);
  NotifySocketEnv env(name);
  auto sent = sd_notify_state("READY=1");
  ASSERT_TRUE(sent.is_ok()) << sent.status().message();
  EXPECT_TRUE(*sent);
  EXPECT_EQ(daemon.receive(), "READY=1");
}

TEST_F(SystemdNotifyTest, AMissingSocketIsAnErrorLineNotAFailure) {
  const std::string path = (dir_ / "nobody-listens.sock").string();
  NotifySocketEnv env(path);
  auto sent = sd_notify_state("READY=1");
  ASSERT_FALSE(sent.is_ok());
  EXPECT_EQ(sent.status().message(),
            "dial unixgram " + path + ": connect: no such file or directory");
  SystemdNotifier notifier(*logger_);
  notifier.ready();
  notifier.stopping();
  auto lines = log_lines();
  ASSERT_EQ(lines.size(), 3u) << log_.str();
  EXPECT_EQ(lines[0]["msg"], "notifying init daemon");
  EXPECT_EQ(lines[1]["msg"], "failed to notify systemd for readiness");
  EXPECT_EQ(lines[1]["level"], "error");
  EXPECT_EQ(lines[1]["error"], "dial unixgram " + path + ": connect: no such file or directory");
  EXPECT_EQ(lines[2]["msg"], "failed to notify systemd of stopping");
  EXPECT_EQ(lines[2]["level"], "warn");
}

}  // namespace
}  // namespace etcd::server
