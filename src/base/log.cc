#include "base/log.h"

#include "base/journal_sink.h"

#include <spdlog/logger.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace etcd::log {

std::string_view level_name(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
    case Level::kPanic:
      return "panic";
    case Level::kFatal:
      return "fatal";
  }
  return "info";
}

Result<Level> parse_level(std::string_view text) {
  std::string t(text);
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  if (t == "debug") return Level::kDebug;
  if (t == "info" || t.empty()) return Level::kInfo;
  if (t == "warn") return Level::kWarn;
  if (t == "error") return Level::kError;
  if (t == "dpanic" || t == "panic") return Level::kPanic;
  if (t == "fatal") return Level::kFatal;
  return invalid_argument("unrecognized level: \"" + std::string(text) + "\"");
}

std::string format_timestamp(int64_t unix_ms) {
  std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  int ms = static_cast<int>(unix_ms % 1000);
  if (ms < 0) {
    ms += 1000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

std::string format_caller(const std::source_location& loc) {
  std::string_view path = loc.file_name();
  // Keep the path below the source root: "src/server/x.cc" -> "server/x.cc",
  // "cmd/etcd/main.cc" -> "etcd/main.cc"; otherwise the last two components.
  for (std::string_view root : {"/src/", "/cmd/"}) {
    if (auto pos = path.rfind(root); pos != std::string_view::npos) {
      path.remove_prefix(pos + root.size());
      return std::string(path) + ":" + std::to_string(loc.line());
    }
  }
  if (auto last = path.rfind('/'); last != std::string_view::npos && last > 0) {
    auto prev = path.rfind('/', last - 1);
    if (prev != std::string_view::npos) path.remove_prefix(prev + 1);
  }
  return std::string(path) + ":" + std::to_string(loc.line());
}

std::string format_line(Level level, int64_t unix_ms, const std::source_location& loc,
                        std::string_view msg, const Fields& fields) {
  using nlohmann::json;
  std::string line = "{\"level\":\"";
  line += level_name(level);
  line += "\",\"ts\":\"";
  line += format_timestamp(unix_ms);
  line += "\",\"caller\":";
  line += json(format_caller(loc)).dump();
  line += ",\"msg\":";
  line += json(std::string(msg)).dump(-1, ' ', false, json::error_handler_t::replace);
  for (const Field& f : fields) {
    line += ',';
    line += json(f.key).dump(-1, ' ', false, json::error_handler_t::replace);
    line += ':';
    line += f.value.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  line += '}';
  return line;
}

Logger::Logger(Level level, Sinks sinks, WallClock clock)
    : level_(level),
      clock_(std::move(clock)),
      out_(std::make_unique<spdlog::logger>("etcd", sinks.begin(), sinks.end())) {
  out_->set_pattern("%v");
  out_->set_level(spdlog::level::trace);
  out_->flush_on(spdlog::level::trace);
}

Logger::~Logger() { flush(); }

Result<std::unique_ptr<Logger>> Logger::create(Level level, const std::vector<std::string>& outputs,
                                               WallClock clock) {
  Sinks sinks;
  if (outputs.size() > 1 && std::find(outputs.begin(), outputs.end(), "default") != outputs.end()) {
    return invalid_argument("multi logoutput for \"default\" is not supported yet");
  }
  if (std::find(outputs.begin(), outputs.end(), kJournalOutput) != outputs.end()) {
    // etcd's check: the journal cannot be combined with another output
    // (its message speaks of 'default' whatever the other one is).
    if (outputs.size() > 1) {
      std::string listed = "[";
      for (size_t i = 0; i < outputs.size(); ++i) {
        listed += (i > 0 ? " " : "") + nlohmann::json(outputs[i]).dump();
      }
      listed += "]";
      return invalid_argument("running with systemd/journal but other '--log-outputs' values (" +
                              listed +
                              ") are configured with 'default'; override 'default' value with "
                              "something else");
    }
    if (auto st = check_journal(); !st.is_ok()) return st;
    sinks.push_back(std::make_shared<JournalSink>(send_to_journal,
                                                  std::make_shared<spdlog::sinks::stderr_sink_mt>(),
                                                  program_invocation_short_name));
  }
  for (const std::string& o : outputs) {
    if (o == kJournalOutput) continue;
    if (o == "default" || o == "stderr") {
      sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
    } else if (o == "stdout") {
      sinks.push_back(std::make_shared<spdlog::sinks::stdout_sink_mt>());
    } else if (o.empty()) {
      return invalid_argument("empty log output");
    } else {
      try {
        sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(o, false));
      } catch (const std::exception& e) {
        return invalid_argument("cannot open log output \"" + o + "\": " + e.what());
      }
    }
  }
  if (sinks.empty()) sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  return std::make_unique<Logger>(level, std::move(sinks), std::move(clock));
}

void Logger::write(Level level, std::string_view msg, const Fields& fields,
                   const std::source_location& loc) {
  if (!enabled(level)) return;
  out_->info(format_line(level, clock_(), loc, msg, fields));
}

void Logger::panic(std::string_view msg, const Fields& fields, std::source_location loc) {
  out_->info(format_line(Level::kPanic, clock_(), loc, msg, fields));
  flush();
  std::abort();
}

void Logger::fatal(std::string_view msg, const Fields& fields, std::source_location loc) {
  out_->info(format_line(Level::kFatal, clock_(), loc, msg, fields));
  flush();
  std::exit(1);
}

void Logger::flush() { out_->flush(); }

}  // namespace etcd::log
