#include "base/log.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace etcd::log {
namespace {

TEST(Log, TimestampFormat) {
  EXPECT_EQ(format_timestamp(0), "1970-01-01T00:00:00.000Z");
  // 2026-11-21T17:30:00.123Z
  EXPECT_EQ(format_timestamp(1795282200123LL), "2026-11-21T17:30:00.123Z");
}

TEST(Log, LineShapeIsZapJson) {
  std::ostringstream os;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(os);
  Logger lg(Level::kInfo, {sink}, [] { return int64_t{1795282200123}; });
  lg.info("starting etcd", {{"name", "default"}, {"ids", std::vector<int>{1, 2}}, {"ok", true}});
  lg.debug("hidden at info level");
  std::string out = os.str();
  ASSERT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
  // Key order as zap's: level, ts, caller, msg, then fields.
  EXPECT_EQ(
      out.rfind(
          "{\"level\":\"info\",\"ts\":\"2026-11-21T17:30:00.123Z\",\"caller\":\"base/log_test.cc:",
          0),
      0u)
      << out;
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["msg"], "starting etcd");
  EXPECT_EQ(j["name"], "default");
  EXPECT_EQ(j["ids"], nlohmann::json({1, 2}));
  EXPECT_EQ(j["ok"], true);
  EXPECT_NE(out.find("\"msg\":\"starting etcd\",\"name\":\"default\",\"ids\":[1,2]"),
            std::string::npos);
}

TEST(Log, LevelsFilter) {
  std::ostringstream os;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(os);
  Logger lg(Level::kWarn, {sink}, [] { return int64_t{0}; });
  lg.info("no");
  lg.warn("yes", {{"k", 1}});
  lg.error("also");
  auto out = os.str();
  EXPECT_EQ(out.find("\"no\""), std::string::npos);
  EXPECT_NE(out.find("\"level\":\"warn\""), std::string::npos);
  EXPECT_NE(out.find("\"level\":\"error\""), std::string::npos);
}

TEST(Log, ParseLevel) {
  EXPECT_EQ(*parse_level("debug"), Level::kDebug);
  EXPECT_EQ(*parse_level("INFO"), Level::kInfo);
  EXPECT_EQ(*parse_level("warn"), Level::kWarn);
  EXPECT_EQ(*parse_level("error"), Level::kError);
  EXPECT_EQ(*parse_level("panic"), Level::kPanic);
  EXPECT_EQ(*parse_level("fatal"), Level::kFatal);
  auto bad = parse_level("verbose");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().message(), "unrecognized level: \"verbose\"");
}

TEST(Log, EscapesMessageAndFields) {
  std::string line = format_line(Level::kError, 0, std::source_location::current(),
                                 "quote \" and \n newline", {{"path", "a\\b"}});
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["msg"], "quote \" and \n newline");
  EXPECT_EQ(j["path"], "a\\b");
}

TEST(Log, OutputsValidation) {
  auto clock = [] { return int64_t{0}; };
  EXPECT_TRUE(Logger::create(Level::kInfo, {"default"}, clock).is_ok());
  EXPECT_TRUE(Logger::create(Level::kInfo, {"stderr", "stdout"}, clock).is_ok());
  auto bad = Logger::create(Level::kInfo, {"default", "stdout"}, clock);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().message(), "multi logoutput for \"default\" is not supported yet");
}

TEST(Log, FileOutputAppends) {
  std::string path = ::testing::TempDir() + "/etcd_log_test.log";
  std::remove(path.c_str());
  {
    auto lg = Logger::create(Level::kInfo, {path}, [] { return int64_t{0}; });
    ASSERT_TRUE(lg.is_ok());
    (*lg)->info("one");
  }
  {
    auto lg = Logger::create(Level::kInfo, {path}, [] { return int64_t{0}; });
    (*lg)->info("two");
  }
  std::ifstream in(path);
  std::string l1, l2;
  std::getline(in, l1);
  std::getline(in, l2);
  EXPECT_EQ(nlohmann::json::parse(l1)["msg"], "one");
  EXPECT_EQ(nlohmann::json::parse(l2)["msg"], "two");
}

}  // namespace
}  // namespace etcd::log
