// Structured logging in the shape of etcd's zap JSON logs: one JSON object
// per line, keys in zap's order, then the call's own fields:
//   {"level":"info","ts":"2026-11-21T17:30:00.123Z","caller":"server/x.cc:42","msg":"..."}
// A Logger is made once in main and passed by reference; the wall clock is
// injected so tests get fixed timestamps.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <source_location>
#include <string>
#include <string_view>
#include <vector>

#include "base/ids.h"
#include "base/status.h"

namespace spdlog {
class logger;
}
namespace spdlog::sinks {
class sink;
}

namespace etcd {
// A revision is logged as etcd logs one: a number ("revision":42). Member
// and lease ids are not converted implicitly (etcd prints them in hex:
// to_hex).
inline void to_json(nlohmann::json& j, MainRev rev) { j = rev.value(); }
}  // namespace etcd

namespace etcd::log {

enum class Level { kDebug = 0, kInfo, kWarn, kError, kPanic, kFatal };

std::string_view level_name(Level level);
// Accepts etcd's --log-level values: debug, info, warn, error, dpanic,
// panic, fatal (case-insensitive, as zap).
Result<Level> parse_level(std::string_view text);

struct Field {
  std::string key;
  nlohmann::json value;
};
using Fields = std::vector<Field>;

// Unix time in milliseconds.
using WallClock = std::function<int64_t()>;

// "2026-11-21T17:30:00.123Z"
std::string format_timestamp(int64_t unix_ms);
// The caller as zap prints it: the path below the source root, "dir/file.cc:42".
std::string format_caller(const std::source_location& loc);
// One complete log line without the trailing newline.
std::string format_line(Level level, int64_t unix_ms, const std::source_location& loc,
                        std::string_view msg, const Fields& fields);

class Logger {
 public:
  using Sinks = std::vector<std::shared_ptr<spdlog::sinks::sink>>;
  Logger(Level level, Sinks sinks, WallClock clock);
  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  // Builds the sinks for etcd's --log-outputs: "default" (stderr), "stderr",
  // "stdout", "systemd/journal" (journald; see journal_sink.h) or file
  // paths (appended to). "default" and "systemd/journal" cannot be combined
  // with others; etcd's errors, and its error when journald is not there.
  static Result<std::unique_ptr<Logger>> create(Level level,
                                                const std::vector<std::string>& outputs,
                                                WallClock clock);

  bool enabled(Level level) const { return level >= level_; }
  Level level() const { return level_; }

  void debug(std::string_view msg, const Fields& fields = {},
             std::source_location loc = std::source_location::current()) {
    write(Level::kDebug, msg, fields, loc);
  }
  void info(std::string_view msg, const Fields& fields = {},
            std::source_location loc = std::source_location::current()) {
    write(Level::kInfo, msg, fields, loc);
  }
  void warn(std::string_view msg, const Fields& fields = {},
            std::source_location loc = std::source_location::current()) {
    write(Level::kWarn, msg, fields, loc);
  }
  void error(std::string_view msg, const Fields& fields = {},
             std::source_location loc = std::source_location::current()) {
    write(Level::kError, msg, fields, loc);
  }
  // Logs, flushes and aborts (zap's Panic).
  [[noreturn]] void panic(std::string_view msg, const Fields& fields = {},
                          std::source_location loc = std::source_location::current());
  // Logs, flushes and exits with status 1 (zap's Fatal).
  [[noreturn]] void fatal(std::string_view msg, const Fields& fields = {},
                          std::source_location loc = std::source_location::current());

  void flush();

 private:
  void write(Level level, std::string_view msg, const Fields& fields,
             const std::source_location& loc);

  const Level level_;
  const WallClock clock_;
  std::unique_ptr<spdlog::logger> out_;  // thread-safe sinks; spdlog serialises writes
};

}  // namespace etcd::log
