#include "base/journal_sink.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <sstream>
#include <vector>

#include "base/log.h"

namespace etcd::log {
namespace {

TEST(JournalSink, PriorityOfEachLevel) {
  EXPECT_EQ(*journal_priority("debug"), 7);
  EXPECT_EQ(*journal_priority("info"), 6);
  EXPECT_EQ(*journal_priority("warn"), 4);
  EXPECT_EQ(*journal_priority("error"), 3);
  EXPECT_EQ(*journal_priority("dpanic"), 2);
  EXPECT_EQ(*journal_priority("panic"), 2);
  EXPECT_EQ(*journal_priority("fatal"), 2);
  auto bad = journal_priority("loud");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().message(), "unknown log level: \"loud\"");
}

TEST(JournalSink, EntryOfALine) {
  const std::string line =
      R"({"level":"warn","ts":"2026-11-21T17:30:00.123Z","caller":"server/etcd_server.cc:42","msg":"m","k":1})";
  auto e = journal_entry(line, "etcd");
  ASSERT_TRUE(e.is_ok()) << e.status().message();
  EXPECT_EQ(e->message, line);  // the JSON line, whole
  EXPECT_EQ(e->priority, 4);
  EXPECT_EQ(e->package, "server");
  EXPECT_EQ(e->syslog_identifier, "etcd");
  // Nested directories stay; a caller without one is Go's ".".
  e = journal_entry(R"({"level":"info","caller":"rpc/peer/transport.cc:7","msg":"m"})", "x");
  EXPECT_EQ(e->package, "rpc/peer");
  e = journal_entry(R"({"level":"error","caller":"main.cc:7","msg":"m"})", "x");
  EXPECT_EQ(e->package, ".");
  EXPECT_EQ(e->priority, 3);
  EXPECT_FALSE(journal_entry("not json", "x").is_ok());
  EXPECT_FALSE(journal_entry(R"({"msg":"no level"})", "x").is_ok());
}

// The sink behind a Logger: what journald would get for each call, and the
// fallback when journald refuses.
struct Recorder {
  std::vector<JournalEntry> sent;
  int result = 0;
};

TEST(JournalSink, LoggerLinesBecomeEntries) {
  Recorder rec;
  std::ostringstream fallback_out;
  auto fallback = std::make_shared<spdlog::sinks::ostream_sink_mt>(fallback_out);
  auto sink = std::make_shared<JournalSink>(
      [&rec](const JournalEntry& e) {
        rec.sent.push_back(e);
        return rec.result;
      },
      fallback, "etcd");
  Logger lg(Level::kDebug, {sink}, [] { return int64_t{1795282200123}; });
  lg.debug("d");
  lg.info("starting etcd", {{"name", "default"}});
  lg.warn("w");
  lg.error("e");
  ASSERT_EQ(rec.sent.size(), 4u);
  EXPECT_EQ(rec.sent[0].priority, 7);
  EXPECT_EQ(rec.sent[1].priority, 6);
  EXPECT_EQ(rec.sent[2].priority, 4);
  EXPECT_EQ(rec.sent[3].priority, 3);
  for (const auto& e : rec.sent) {
    EXPECT_EQ(e.package, "base");  // this file is base/journal_sink_test.cc
    EXPECT_EQ(e.syslog_identifier, "etcd");
    EXPECT_EQ(e.message.find('\n'), std::string::npos);
  }
  auto j = nlohmann::json::parse(rec.sent[1].message);
  EXPECT_EQ(j["msg"], "starting etcd");
  EXPECT_EQ(j["name"], "default");
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["ts"], "2026-11-21T17:30:00.123Z");
  EXPECT_EQ(fallback_out.str(), "");

  // journald refuses: the line goes to the fallback (stderr in etcd), as is.
  rec.result = -ECONNREFUSED;
  lg.warn("refused");
  ASSERT_EQ(rec.sent.size(), 5u);
  auto out = fallback_out.str();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n');
  auto fj = nlohmann::json::parse(out);
  EXPECT_EQ(fj["msg"], "refused");
  EXPECT_EQ(fj["level"], "warn");
}

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("journal_sink_test." + std::to_string(::getpid()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

TEST(JournalSink, CheckJournalDialsTheSocket) {
  TempDir dir;
  const std::string missing = (dir.path() / "socket").string();
  auto st = check_journal(missing);
  ASSERT_FALSE(st.is_ok());
  EXPECT_EQ(st.message(), "can't find journal (dial unixgram " + missing +
                              ": connect: no such file or directory)");

  // A datagram socket bound there, as journald's: the dial succeeds.
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, missing.data(), missing.size());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0) << std::strerror(errno);
  EXPECT_TRUE(check_journal(missing).is_ok());
  ::close(fd);
  // The file stays but nobody reads: refused, as Go's dial reports it.
  st = check_journal(missing);
  ASSERT_FALSE(st.is_ok());
  EXPECT_EQ(st.message(),
            "can't find journal (dial unixgram " + missing + ": connect: connection refused)");
}

TEST(JournalSink, CreateRefusesTheJournalWithOtherOutputs) {
  auto clock = [] { return int64_t{0}; };
  auto r = Logger::create(Level::kInfo, {"stderr", "systemd/journal"}, clock);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().message(),
            "running with systemd/journal but other '--log-outputs' values ([\"stderr\" "
            "\"systemd/journal\"]) are configured with 'default'; override 'default' value with "
            "something else");
  // Alone, it is accepted exactly when journald's socket is there.
  r = Logger::create(Level::kInfo, {"systemd/journal"}, clock);
  auto check = check_journal();
  EXPECT_EQ(r.is_ok(), check.is_ok());
  if (!r.is_ok()) {
    EXPECT_EQ(r.status().message(), check.message());
  }
}

}  // namespace
}  // namespace etcd::log
