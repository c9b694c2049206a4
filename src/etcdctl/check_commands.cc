// etcdctl check perf / check datascale: real write load against the cluster
// with etcdctl's workload models, then PASS/FAIL lines as etcdctl prints
// them. The progress bar (cheggaaa/pb's layout with etcdctl's "Bom !"
// format) is drawn only when stdout is a terminal.
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <thread>

#include "client/concurrency.h"
#include "etcdctl/global.h"
#include "etcdctl/output/quote.h"

namespace etcd::ctl {
namespace {

using client::Connection;
using client::Idempotent;
using Clock = std::chrono::steady_clock;

struct PerfModel {
  int limit;
  int clients;
  int duration_s;
};
struct DatascaleModel {
  int limit;
  int kv_size;
  int clients;
};

std::string model_name(const std::string& load) {
  static const std::map<std::string, std::string> alias = {
      {"s", "s"}, {"small", "s"}, {"m", "m"},   {"medium", "m"},
      {"l", "l"}, {"large", "l"}, {"xl", "xl"}, {"xLarge", "xl"}};
  auto it = alias.find(load);
  if (it == alias.end()) exit_with_error(kExitBadFeature, "unknown load option " + load);
  return it->second;
}

// Go's binary.PutVarint of `v` into the first bytes of a zeroed key.
void put_varint(std::string& buf, int64_t v) {
  uint64_t ux = static_cast<uint64_t>(v) << 1;
  if (v < 0) ux = ~ux;
  size_t i = 0;
  while (ux >= 0x80) {
    buf[i++] = static_cast<char>(static_cast<uint8_t>(ux) | 0x80);
    ux >>= 7;
  }
  buf[i] = static_cast<char>(ux);
}

// A bounded queue of keys to put (Go's buffered channel of ops).
class Requests {
 public:
  explicit Requests(size_t cap) : cap_(cap) {}
  void push(std::string key) {
    MutexLock l(&mu_);
    l.wait(cv_, [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return q_.size() < cap_; });
    q_.push_back(std::move(key));
    cv_.notify_all();
  }
  void close() {
    MutexLock l(&mu_);
    closed_ = true;
    cv_.notify_all();
  }
  bool pop(std::string* key) {
    MutexLock l(&mu_);
    l.wait(cv_, [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return !q_.empty() || closed_; });
    if (q_.empty()) return false;
    *key = std::move(q_.front());
    q_.pop_front();
    cv_.notify_all();
    return true;
  }

 private:
  const size_t cap_;
  etcd::Mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> q_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

// pkg/report's Stats, from the latencies and errors of every request.
struct Stats {
  double rps = 0, slowest = 0, stddev = 0;
  std::map<std::string, int> errors;
};

class Report {
 public:
  void start() { start_ = Clock::now(); }
  void add(double latency_s, const grpc::Status& s) {
    MutexLock l(&mu_);
    if (!s.ok()) {
      ++errors_[go_error_string(s)];
      return;
    }
    lats_.push_back(latency_s);
  }
  Stats finish() {
    MutexLock l(&mu_);
    Stats st;
    const double total = std::chrono::duration<double>(Clock::now() - start_).count();
    st.rps = static_cast<double>(lats_.size()) / total;
    double sum = 0;
    for (double x : lats_) sum += x;
    const double avg = sum / static_cast<double>(lats_.size());
    double var = 0;
    for (double x : lats_) var += (x - avg) * (x - avg);
    st.stddev = std::sqrt(var / static_cast<double>(lats_.size()));
    if (!lats_.empty()) st.slowest = *std::max_element(lats_.begin(), lats_.end());
    st.errors = errors_;
    return st;
  }

 private:
  Clock::time_point start_;
  etcd::Mutex mu_;
  std::vector<double> lats_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> errors_ ABSL_GUARDED_BY(mu_);
};

// cheggaaa/pb v1's bar with etcdctl's Format("Bom !"), on a terminal only.
class ProgressBar {
 public:
  explicit ProgressBar(int64_t total) : total_(total), tty_(isatty(STDOUT_FILENO) == 1) {}
  void start() {
    start_ = Clock::now();
    {
      MutexLock l(&mu_);
      changed_ = start_;
    }
    if (!tty_) return;
    draw(false);
    thread_ = std::thread([this] {
      MutexLock l(&mu_);
      while (!l.wait_for(cv_, std::chrono::milliseconds(200),
                         [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return finished_; })) {
        l.unlock();
        draw(false);
        l.lock();
      }
    });
  }
  void add(int64_t n) {
    current_ += n;
    MutexLock l(&mu_);
    changed_ = Clock::now();
  }
  void finish() {
    {
      MutexLock l(&mu_);
      if (finished_) return;
      finished_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
    if (!tty_) return;
    draw(true);
    std::cout << "\n" << std::flush;
  }

 private:
  static int width() {
    winsize ws{};
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0) return 0;
    return ws.ws_col;
  }
  void draw(bool final) {
    const int64_t cur = current_.load();
    Clock::time_point changed;
    {
      MutexLock l(&mu_);
      changed = changed_;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, " %lld / %lld ", static_cast<long long>(cur),
                  static_cast<long long>(total_));
    const std::string counters = buf;
    std::snprintf(buf, sizeof buf, " %6.02f%%",
                  static_cast<double>(cur) / (static_cast<double>(total_) / 100.0));
    const std::string percent = buf;
    std::string left;
    const auto now = Clock::now();
    if (final) {
      left =
          " " + go_duration(std::chrono::duration_cast<std::chrono::seconds>(now - start_).count() *
                            1000000000LL);
    } else if (cur > 0) {
      const double per =
          std::chrono::duration<double>(changed - start_).count() / static_cast<double>(cur);
      double secs = static_cast<double>(total_ - cur) * per -
                    std::chrono::duration<double>(now - changed).count();
      const int64_t s = static_cast<int64_t>(secs);
      if (s > 0) {
        std::snprintf(buf, sizeof buf, " %02lldm%02llds", static_cast<long long>(s / 60),
                      static_cast<long long>(s % 60));
        left = buf;
      }
    }
    const int w = width();
    std::string bar;
    const int size = w - static_cast<int>(counters.size() + 2 + percent.size() + left.size());
    if (size > 0) {
      int cur_size = static_cast<int>(
          std::ceil(static_cast<double>(cur) / static_cast<double>(total_) * size));
      cur_size = std::min(cur_size, size);
      const int empty = std::max(size - cur_size, 0);
      bar = "B";
      if (empty <= 0) {
        bar += std::string(static_cast<size_t>(cur_size), 'o');
      } else if (cur_size > 0) {
        bar += std::string(static_cast<size_t>(cur_size - 1), 'o') + "m";
      }
      bar += std::string(static_cast<size_t>(empty), ' ') + "!";
    }
    std::string out = counters + bar + percent + left;
    if (static_cast<int>(out.size()) < w)
      out += std::string(static_cast<size_t>(w) - out.size(), ' ');
    std::cout << "\r" << out << std::flush;
  }

  const int64_t total_;
  const bool tty_;
  std::atomic<int64_t> current_{0};
  Clock::time_point start_;
  etcd::Mutex mu_;
  std::condition_variable cv_;
  Clock::time_point changed_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// One client (one connection) per worker. Like etcdctl's, they connect on
// their first call: an unreachable cluster fails the first call's deadline.
std::vector<std::unique_ptr<client::Client>> make_clients(const Invocation& inv, int n) {
  const client::Options o = client_config_from(inv);
  std::vector<std::unique_ptr<client::Client>> clients;
  for (int i = 0; i < n; ++i) clients.push_back(must_client(o));
  return clients;
}

[[noreturn]] void fail(const grpc::Status& s) { exit_with_status(s, kExitError); }

void ensure_empty(client::Client& c, const std::string& prefix, client::Deadline deadline) {
  etcdserverpb::RangeRequest req;
  req.set_key(prefix);
  req.set_range_end(client::concurrency::prefix_range_end(prefix));
  req.set_limit(1);
  etcdserverpb::RangeResponse resp;
  grpc::Status s = c.call(&Connection::kv, &etcdserverpb::KV::Stub::Range, req, &resp, deadline,
                          Idempotent::kYes);
  if (!s.ok()) fail(s);
  if (!resp.kvs().empty()) {
    exit_with_error(kExitInvalidInput, "prefix " + go_quote(prefix) +
                                           " has keys. Delete with etcdctl del --prefix " + prefix +
                                           " first");
  }
}

// Deletes the prefix, then --auto-compact / --auto-defrag as etcdctl's
// compact() and defrag() helpers print them.
void clean_up(const Invocation& inv, client::Client& c, const std::string& prefix,
              std::optional<std::chrono::seconds> timeout) {
  auto deadline = [&] {
    return timeout ? std::chrono::system_clock::now() + *timeout : client::Deadline::max();
  };
  etcdserverpb::DeleteRangeRequest del;
  del.set_key(prefix);
  del.set_range_end(client::concurrency::prefix_range_end(prefix));
  etcdserverpb::DeleteRangeResponse dresp;
  grpc::Status s = c.call(&Connection::kv, &etcdserverpb::KV::Stub::DeleteRange, del, &dresp,
                          deadline(), Idempotent::kNo);
  if (!s.ok()) fail(s);
  if (inv.get_bool("auto-compact")) {
    const int64_t rev = dresp.header().revision();
    std::cout << "Compacting with revision " << rev << "\n" << std::flush;
    etcdserverpb::CompactionRequest req;
    req.set_revision(rev);
    req.set_physical(true);
    etcdserverpb::CompactionResponse resp;
    s = c.call(&Connection::kv, &etcdserverpb::KV::Stub::Compact, req, &resp,
               std::chrono::system_clock::now() + std::chrono::seconds(30), Idempotent::kNo);
    if (!s.ok()) fail(s);
    std::cout << "Compacted with revision " << rev << "\n";
  }
  if (inv.get_bool("auto-defrag")) {
    for (const auto& ep : c.options().endpoints) {
      std::cout << "Defragmenting " << go_quote(ep) << "\n" << std::flush;
      etcdserverpb::DefragmentRequest req;
      etcdserverpb::DefragmentResponse resp;
      s = c.call_on(ep, &Connection::maintenance, &etcdserverpb::Maintenance::Stub::Defragment, req,
                    &resp, std::chrono::system_clock::now() + std::chrono::seconds(30));
      if (!s.ok()) fail(s);
      std::cout << "Defragmented " << go_quote(ep) << "\n";
    }
  }
  std::cout << std::flush;
}

// Runs `clients` workers putting what `produce` queues; returns the stats.
Stats run_load(std::vector<std::unique_ptr<client::Client>>& clients, Requests& requests,
               Report& report, const std::string& value, const std::function<void()>& on_done) {
  std::vector<std::thread> workers;
  for (auto& c : clients) {
    workers.emplace_back([&, cl = c.get()] {
      std::string key;
      while (requests.pop(&key)) {
        etcdserverpb::PutRequest req;
        req.set_key(key);
        req.set_value(value);
        etcdserverpb::PutResponse resp;
        const auto st = Clock::now();
        grpc::Status s = cl->call(&Connection::kv, &etcdserverpb::KV::Stub::Put, req, &resp,
                                  client::Deadline::max(), Idempotent::kNo);
        report.add(std::chrono::duration<double>(Clock::now() - st).count(), s);
        if (on_done) on_done();
      }
    });
  }
  for (auto& t : workers) t.join();
  return report.finish();
}

void check_perf(Invocation& inv) {
  static const std::map<std::string, PerfModel> models = {{"s", {150, 50, 60}},
                                                          {"m", {1000, 200, 60}},
                                                          {"l", {8000, 500, 60}},
                                                          {"xl", {15000, 1000, 60}}};
  const PerfModel cfg = models.at(model_name(inv.get_string("load")));
  const std::string prefix = inv.get_string("prefix");
  auto clients = make_clients(inv, cfg.clients);
  ensure_empty(*clients[0], prefix,
               std::chrono::system_clock::now() + std::chrono::seconds(cfg.duration_s));

  const std::string value(1024, '\0');
  ProgressBar bar(cfg.duration_s);
  bar.start();
  Requests requests(static_cast<size_t>(cfg.clients));
  Report report;

  // The rate limiter (one token, `limit` a second) for `duration` seconds.
  std::thread producer([&] {
    std::mt19937_64 rng(std::random_device{}());
    std::uniform_int_distribution<int64_t> dist(0, INT64_MAX - 1);
    const auto end = Clock::now() + std::chrono::seconds(cfg.duration_s);
    const auto interval = std::chrono::nanoseconds(1000000000LL / cfg.limit);
    auto next = Clock::now();
    std::string key(256, '\0');
    while (true) {
      const auto now = Clock::now();
      if (next < now) next = now;
      if (next > end) break;
      std::this_thread::sleep_until(next);
      next += interval;
      put_varint(key, dist(rng));
      requests.push(prefix + key);
    }
    requests.close();
  });
  std::thread ticker([&] {
    for (int i = 0; i < cfg.duration_s; ++i) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      bar.add(1);
    }
    bar.finish();
  });
  report.start();
  const Stats s = run_load(clients, requests, report, value, nullptr);
  producer.join();
  ticker.join();

  clean_up(inv, *clients[0], prefix, std::chrono::seconds(30));

  bool ok = true;
  char buf[128];
  if (!s.errors.empty()) {
    std::cout << "FAIL: too many errors\n";
    for (const auto& [e, n] : s.errors) std::cout << "FAIL: ERROR(" << e << ") -> " << n << "\n";
    ok = false;
  }
  if (s.rps / cfg.limit <= 0.9) {
    std::cout << "FAIL: Throughput too low: " << static_cast<int64_t>(s.rps) + 1 << " writes/s\n";
    ok = false;
  } else {
    std::cout << "PASS: Throughput is " << static_cast<int64_t>(s.rps) + 1 << " writes/s\n";
  }
  if (s.slowest > 0.5) {
    std::snprintf(buf, sizeof buf, "Slowest request took too long: %fs\n", s.slowest);
    ok = false;
  } else {
    std::snprintf(buf, sizeof buf, "PASS: Slowest request took %fs\n", s.slowest);
  }
  std::cout << buf;
  if (s.stddev > 0.1) {
    std::snprintf(buf, sizeof buf, "Stddev too high: %fs\n", s.stddev);
    ok = false;
  } else {
    std::snprintf(buf, sizeof buf, "PASS: Stddev is %fs\n", s.stddev);
  }
  std::cout << buf;
  if (ok) {
    std::cout << "PASS\n";
  } else {
    std::cout << "FAIL\n" << std::flush;
    std::exit(kExitError);
  }
}

// GET http://host/metrics: process_resident_memory_bytes, or 0 after
// printing why (etcdctl's endpointMemoryMetrics).
double endpoint_memory(const std::string& endpoint) {
  std::string host = endpoint;
  if (host.rfind("https://", 0) == 0) {
    std::cout << "fetch error: " << host << "/metrics: https is not supported by this check\n";
    return 0;
  }
  if (host.rfind("http://", 0) == 0) host = host.substr(7);
  while (!host.empty() && host.back() == '/') host.pop_back();
  const std::string url = "http://" + host + "/metrics";
  const size_t colon = host.rfind(':');
  const std::string name = colon == std::string::npos ? host : host.substr(0, colon);
  const std::string port = colon == std::string::npos ? "80" : host.substr(colon + 1);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(name.c_str(), port.c_str(), &hints, &res) != 0 || !res) {
    std::cout << "fetch error: Get " << go_quote(url) << ": dial tcp: lookup " << name
              << ": no such host\n";
    return 0;
  }
  const int fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
  if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    freeaddrinfo(res);
    if (fd >= 0) ::close(fd);
    std::cout << "fetch error: Get " << go_quote(url) << ": dial tcp " << host
              << ": connect: connection refused\n";
    return 0;
  }
  freeaddrinfo(res);
  const std::string req =
      "GET /metrics HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
  ssize_t off = 0;
  while (off < static_cast<ssize_t>(req.size())) {
    const ssize_t n = ::write(fd, req.data() + off, req.size() - static_cast<size_t>(off));
    if (n <= 0) break;
    off += n;
  }
  std::string body;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) body.append(buf, static_cast<size_t>(n));
  ::close(fd);
  // The status line, checked as Go's net/http reads it.
  const auto broken = [&](const std::string& why) {
    std::cout << "fetch error: Get " << go_quote(url)
              << ": net/http: HTTP/1.x transport connection broken: " << why << "\n";
    return 0.0;
  };
  std::string first = body.substr(0, body.find('\n'));
  if (!first.empty() && first.back() == '\r') first.pop_back();
  const size_t sp = first.find(' ');
  if (sp == std::string::npos) return broken("malformed HTTP response " + go_quote(first));
  std::string status = first.substr(sp + 1);
  status.erase(0, status.find_first_not_of(' ') == std::string::npos
                      ? status.size()
                      : status.find_first_not_of(' '));
  const std::string code = status.substr(0, status.find(' '));
  if (code.size() != 3) return broken("malformed HTTP status code " + go_quote(code));
  const size_t header_end = body.find("\r\n\r\n");
  std::string headers = body.substr(0, header_end);
  for (auto& ch : headers) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (header_end != std::string::npos) body = body.substr(header_end + 4);
  if (headers.find("transfer-encoding: chunked") != std::string::npos) {
    std::string plain;
    size_t at = 0;
    while (at < body.size()) {
      const size_t eol = body.find("\r\n", at);
      if (eol == std::string::npos) break;
      const size_t len = std::strtoul(body.substr(at, eol - at).c_str(), nullptr, 16);
      if (len == 0) break;
      plain += body.substr(eol + 2, len);
      at = eol + 2 + len + 2;
    }
    body = plain;
  }
  const std::string key = "process_resident_memory_bytes";
  size_t pos = 0;
  std::string value;
  while (pos < body.size()) {
    size_t eol = body.find('\n', pos);
    if (eol == std::string::npos) eol = body.size();
    const std::string line = body.substr(pos, eol - pos);
    if (line.rfind(key, 0) == 0) {
      value = line.substr(key.size());
      const size_t b = value.find_first_not_of(" \t\r");
      const size_t e = value.find_last_not_of(" \t\r");
      value = b == std::string::npos ? "" : value.substr(b, e - b + 1);
      break;
    }
    pos = eol + 1;
  }
  if (value.empty()) {
    std::cout << "could not find: " << key << "\n";
    return 0;
  }
  try {
    return std::stod(value);
  } catch (...) {
    std::cout << "parse error: strconv.ParseFloat: parsing " << go_quote(value)
              << ": invalid syntax\n";
    return 0;
  }
}

void check_datascale(Invocation& inv) {
  static const std::map<std::string, DatascaleModel> models = {{"s", {10000, 1024, 50}},
                                                               {"m", {100000, 1024, 200}},
                                                               {"l", {1000000, 1024, 500}},
                                                               {"xl", {3000000, 1024, 1000}}};
  const DatascaleModel cfg = models.at(model_name(inv.get_string("load")));
  const std::string prefix = inv.get_string("prefix");
  auto clients = make_clients(inv, cfg.clients);
  const auto eps = inv.get_slice("endpoints");
  ensure_empty(*clients[0], prefix, client::Deadline::max());

  const std::string value(512, '\0');
  const double before = endpoint_memory(eps.at(0));
  if (before == 0) {
    std::cout << "FAIL: Could not read process_resident_memory_bytes before the put operations.\n"
              << std::flush;
    std::exit(kExitError);
  }
  std::cout << "Start data scale check for work load [" << cfg.limit << " key-value pairs, "
            << cfg.kv_size << " bytes per key-value, " << cfg.clients << " concurrent clients].\n"
            << std::flush;
  ProgressBar bar(cfg.limit);
  bar.start();
  Requests requests(static_cast<size_t>(cfg.clients));
  Report report;
  std::thread producer([&] {
    std::mt19937_64 rng(std::random_device{}());
    std::uniform_int_distribution<int64_t> dist(0, INT64_MAX - 1);
    std::string key(512, '\0');
    for (int i = 0; i < cfg.limit; ++i) {
      put_varint(key, dist(rng));
      requests.push(prefix + key);
    }
    requests.close();
  });
  report.start();
  const Stats s = run_load(clients, requests, report, value, [&bar] { bar.add(1); });
  producer.join();
  bar.finish();

  const double after = endpoint_memory(eps.at(0));
  if (after == 0) {
    std::cout << "FAIL: Could not read process_resident_memory_bytes after the put operations.\n"
              << std::flush;
    std::exit(kExitError);
  }
  clean_up(inv, *clients[0], prefix, std::nullopt);
  const double mb = (after - before) / (1024 * 1024);
  if (!s.errors.empty()) {
    std::cout << "FAIL: too many errors\n";
    for (const auto& [e, n] : s.errors) std::cout << "FAIL: ERROR(" << e << ") -> " << n << "\n";
    std::cout << std::flush;
    std::exit(kExitError);
  }
  char buf[128];
  std::snprintf(buf, sizeof buf, "PASS: Approximate system memory used : %.2f MB.\n", mb);
  std::cout << buf;
}

void add_check_flags(Command& c, const std::string& what, const std::string& prefix) {
  FlagSet& f = c.flags();
  f.add(FlagKind::kString, "load", "", "s",
        "The " + what +
            " check's workload model. Accepted workloads: s(small), m(medium), l(large), "
            "xl(xLarge)");
  f.add(FlagKind::kString, "prefix", "", prefix,
        "The prefix for writing the " + what + " check's keys.");
  f.add(FlagKind::kBool, "auto-compact", "", "false",
        "Compact storage with last revision after test is finished.");
  f.add(FlagKind::kBool, "auto-defrag", "", "false", "Defragment storage after test is finished.");
}

}  // namespace

void add_check_commands(Command& root) {
  auto check = std::make_unique<Command>("check <subcommand>",
                                         "commands for checking properties of the etcd cluster");
  add_check_flags(
      check->add("perf [options]", "Check the performance of the etcd cluster", "", check_perf),
      "performance", "/etcdctl-check-perf/");
  add_check_flags(
      check->add("datascale [options]",
                 "Check the memory usage of holding data for different workloads on a given "
                 "server endpoint.",
                 "If no endpoint is provided, localhost will be used. If multiple endpoints are "
                 "provided, first endpoint will be used.",
                 check_datascale),
      "datascale", "/etcdctl-check-datascale/");
  root.add(std::move(check));
}

}  // namespace etcd::ctl
