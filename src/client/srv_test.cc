#include "client/srv.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <thread>

namespace etcd::client {
namespace {

struct SrvRecord {
  uint16_t port;
  std::string target;
};

void put16(std::string& b, uint16_t v) {
  b += static_cast<char>(v >> 8);
  b += static_cast<char>(v & 0xff);
}
void put_name(std::string& b, const std::string& name) {
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    b += static_cast<char>(dot - start);
    b += name.substr(start, dot - start);
    start = dot + 1;
  }
  b += '\0';
}

// A one-socket DNS server on loopback answering SRV questions from `zone`
// (NXDOMAIN otherwise), for `queries` questions.
class FakeDns {
 public:
  FakeDns(std::map<std::string, std::vector<SrvRecord>> zone, int queries)
      : zone_(std::move(zone)) {
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    timeval bound{5, 0};  // the thread never waits forever
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
    socklen_t len = sizeof addr_;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr_), &len);
    thread_ = std::thread([this, queries] { serve(queries); });
  }
  ~FakeDns() {
    // Wake the server thread (a UDP socket's shutdown ends a blocked
    // recvfrom), and close the socket only after it has stopped using it.
    shutdown(fd_, SHUT_RDWR);
    thread_.join();
    close(fd_);
  }
  sockaddr_in address() const { return addr_; }

 private:
  void serve(int queries) {
    for (int q = 0; q < queries; ++q) {
      unsigned char buf[512];
      sockaddr_in from{};
      socklen_t flen = sizeof from;
      const ssize_t n =
          recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &flen);
      if (n < 12) return;
      // The question: labels from offset 12.
      std::string name;
      size_t i = 12;
      while (i < static_cast<size_t>(n) && buf[i] != 0) {
        if (!name.empty()) name += '.';
        name.append(reinterpret_cast<char*>(buf + i + 1), buf[i]);
        i += buf[i] + 1;
      }
      const size_t question_end = i + 5;  // zero label, qtype, qclass
      std::string resp(reinterpret_cast<char*>(buf), question_end);
      auto it = zone_.find(name);
      resp[2] = static_cast<char>(0x81);                             // response, recursion desired
      resp[3] = static_cast<char>(it == zone_.end() ? 0x83 : 0x80);  // NXDOMAIN or ok
      resp[6] = resp[7] = resp[8] = resp[9] = resp[10] = resp[11] = 0;
      if (it != zone_.end()) {
        resp[7] = static_cast<char>(it->second.size());
        for (const auto& r : it->second) {
          put16(resp, 0xc00c);  // the question's name
          put16(resp, 33);      // SRV
          put16(resp, 1);       // IN
          resp += std::string("\0\0\0\x3c", 4);
          std::string rdata;
          put16(rdata, 0);  // priority
          put16(rdata, 0);  // weight
          put16(rdata, r.port);
          put_name(rdata, r.target);
          put16(resp, static_cast<uint16_t>(rdata.size()));
          resp += rdata;
        }
      }
      sendto(fd_, resp.data(), resp.size(), 0, reinterpret_cast<sockaddr*>(&from), flen);
    }
  }

  std::map<std::string, std::vector<SrvRecord>> zone_;
  int fd_ = -1;
  sockaddr_in addr_{};
  std::thread thread_;
};

TEST(Srv, ServiceNamesAsEtcdBuildsThem) {
  EXPECT_EQ(srv_service("etcd-client", "", true), "etcd-client-ssl");
  EXPECT_EQ(srv_service("etcd-client", "", false), "etcd-client");
  EXPECT_EQ(srv_service("etcd-client", "prod", true), "etcd-client-ssl-prod");
}

TEST(Srv, DiscoversHttpsThenHttpEndpoints) {
  FakeDns dns(
      {{"_etcd-client-ssl._tcp.example.com", {{2379, "a.example.com"}}},
       {"_etcd-client._tcp.example.com", {{2379, "b.example.com"}, {22379, "c.example.com"}}}},
      2);
  auto eps = discover_srv("etcd-client", "example.com", "", dns.address());
  ASSERT_TRUE(eps.is_ok()) << eps.status().message();
  EXPECT_EQ(*eps,
            (std::vector<std::string>{"https://a.example.com.:2379", "http://b.example.com.:2379",
                                      "http://c.example.com.:22379"}));
}

TEST(Srv, FailsOnlyWhenNeitherNameResolves) {
  {
    FakeDns dns({{"_etcd-client-x._tcp.example.com", {{2379, "b.example.com"}}}}, 2);
    auto eps = discover_srv("etcd-client", "example.com", "x", dns.address());
    ASSERT_TRUE(eps.is_ok());
    EXPECT_EQ(*eps, (std::vector<std::string>{"http://b.example.com.:2379"}));
  }
  FakeDns dns({}, 2);
  auto eps = discover_srv("etcd-client", "example.com", "", dns.address());
  ASSERT_FALSE(eps.is_ok());
  EXPECT_EQ(eps.status().message(),
            "dns lookup errors: lookup _etcd-client-ssl._tcp.example.com: no such host and lookup "
            "_etcd-client._tcp.example.com: no such host");
}

}  // namespace
}  // namespace etcd::client
