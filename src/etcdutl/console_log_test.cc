// zap's console encoding of our zap JSON lines.
#include "etcdutl/console_log.h"

#include <gtest/gtest.h>

#include <sstream>

namespace etcd::utl {
namespace {

TEST(ConsoleLogTest, ReencodesAJsonLine) {
  EXPECT_EQ(to_console_line(R"({"level":"info","ts":"2026-12-07T07:54:27.526Z",)"
                            R"("caller":"etcdutl/snapshot.cc:248","msg":"restoring snapshot",)"
                            R"("path":"snap.db","n":3,"urls":["a","b"]})"),
            "2026-12-07T07:54:27Z\tinfo\tetcdutl/snapshot.cc:248\trestoring snapshot\t"
            R"({"path": "snap.db", "n": 3, "urls": ["a", "b"]})");
  EXPECT_EQ(to_console_line(R"({"level":"warn","ts":"2026-12-07T07:54:27.000Z","caller":"x.cc:1",)"
                            R"("msg":"m"})"),
            "2026-12-07T07:54:27Z\twarn\tx.cc:1\tm");
  EXPECT_EQ(to_console_line("not json"), "not json");
}

TEST(ConsoleLogTest, LoggerWritesConsoleLines) {
  std::ostringstream out;
  {
    auto logger = make_console_logger(out);
    logger->info("restored snapshot", {{"data-dir", "d"}});
    logger->debug("hidden");
  }
  const std::string line = out.str();
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_NE(line.find("Z\tinfo\tetcdutl/console_log_test.cc:"), std::string::npos) << line;
  EXPECT_NE(line.find("\trestored snapshot\t{\"data-dir\": \"d\"}\n"), std::string::npos) << line;
  EXPECT_EQ(line.find("hidden"), std::string::npos);
}

}  // namespace
}  // namespace etcd::utl
