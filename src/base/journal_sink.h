// --log-outputs=systemd/journal: each log line goes to journald as one
// entry, with the fields etcd's zap journal writer gives it:
//   MESSAGE            the whole JSON line (journalctl -o cat shows it as is)
//   PRIORITY           syslog's, from the line's "level"
//   PACKAGE            the directory of the line's "caller" ("server")
//   SYSLOG_IDENTIFIER  the program's name ("etcd")
// If journald refuses an entry the line goes to stderr instead, as etcd's.
#pragma once

#include <spdlog/sinks/base_sink.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "base/status.h"

namespace etcd::log {

// The --log-outputs value and the socket journald listens on.
inline constexpr std::string_view kJournalOutput = "systemd/journal";
inline constexpr std::string_view kJournalSocket = "/run/systemd/journal/socket";

struct JournalEntry {
  std::string message;
  int priority = 6;
  std::string package;
  std::string syslog_identifier;
};

// Sends one entry; 0 or a negative errno (sd_journal_sendv's convention).
using JournalSend = std::function<int(const JournalEntry&)>;

// syslog's priority for a zap level name: debug 7, info 6, warn 4, error 3,
// dpanic/panic/fatal 2 (crit). An unknown level is an error.
Result<int> journal_priority(std::string_view level);
// The entry for one JSON log line (without its newline).
Result<JournalEntry> journal_entry(std::string_view line, std::string_view identifier);
// The real journal: sd_journal_sendv.
int send_to_journal(const JournalEntry& entry);
// etcd checks at start-up that it can dial journald; its error when not:
// "can't find journal (dial unixgram <socket>: connect: <errno text>)".
Status check_journal(std::string_view socket_path = kJournalSocket);

// The spdlog sink for systemd/journal. `fallback` gets the lines journald
// refused (or that are not JSON); `identifier` is SYSLOG_IDENTIFIER.
class JournalSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  JournalSink(JournalSend send, std::shared_ptr<spdlog::sinks::sink> fallback,
              std::string identifier);

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override;

 private:
  const JournalSend send_;
  const std::shared_ptr<spdlog::sinks::sink> fallback_;
  const std::string identifier_;
};

}  // namespace etcd::log
