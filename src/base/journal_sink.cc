#include "base/journal_sink.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

namespace etcd::log {

namespace {

// Go's text for a system call's errno: strerror without the capital.
std::string errno_text(int err) {
  std::string text = std::strerror(err);
  if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') text[0] = static_cast<char>(text[0] + 32);
  return text;
}

// Go's filepath.Dir for a "dir/file.cc:42" caller: "dir", or "." if none.
std::string caller_dir(std::string_view caller) {
  auto slash = caller.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(caller.substr(0, slash));
}

}  // namespace

Result<int> journal_priority(std::string_view level) {
  if (level == "debug") return 7;                                           // LOG_DEBUG
  if (level == "info") return 6;                                            // LOG_INFO
  if (level == "warn") return 4;                                            // LOG_WARNING
  if (level == "error") return 3;                                           // LOG_ERR
  if (level == "dpanic" || level == "panic" || level == "fatal") return 2;  // LOG_CRIT
  return invalid_argument("unknown log level: \"" + std::string(level) + "\"");
}

Result<JournalEntry> journal_entry(std::string_view line, std::string_view identifier) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return invalid_argument("log line is not a JSON object");
  auto level = j.find("level");
  if (level == j.end() || !level->is_string()) return invalid_argument("log line has no level");
  auto priority = journal_priority(level->get<std::string>());
  if (!priority.is_ok()) return priority.status();
  JournalEntry e;
  e.message = std::string(line);
  e.priority = *priority;
  auto caller = j.find("caller");
  e.package =
      caller_dir(caller != j.end() && caller->is_string() ? caller->get<std::string>() : "");
  e.syslog_identifier = std::string(identifier);
  return e;
}

int send_to_journal(const JournalEntry& entry) {
  std::vector<std::string> fields = {
      "MESSAGE=" + entry.message,
      "PRIORITY=" + std::to_string(entry.priority),
      "PACKAGE=" + entry.package,
      "SYSLOG_IDENTIFIER=" + entry.syslog_identifier,
  };
  std::vector<iovec> iov;
  for (auto& f : fields) iov.push_back({f.data(), f.size()});
  return sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
}

Status check_journal(std::string_view socket_path) {
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int err = 0;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (fd < 0) {
    err = errno;
  } else if (socket_path.size() >= sizeof sa.sun_path) {
    err = EINVAL;
  } else {
    std::memcpy(sa.sun_path, socket_path.data(), socket_path.size());
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) err = errno;
  }
  if (fd >= 0) ::close(fd);
  if (err == 0) return Status();
  return Status(Code::kUnavailable, "can't find journal (dial unixgram " +
                                        std::string(socket_path) + ": connect: " + errno_text(err) +
                                        ")");
}

JournalSink::JournalSink(JournalSend send, std::shared_ptr<spdlog::sinks::sink> fallback,
                         std::string identifier)
    : send_(std::move(send)), fallback_(std::move(fallback)), identifier_(std::move(identifier)) {
  fallback_->set_pattern("%v");
}

void JournalSink::sink_it_(const spdlog::details::log_msg& msg) {
  std::string_view line(msg.payload.data(), msg.payload.size());
  auto entry = journal_entry(line, identifier_);
  if (entry.is_ok() && send_(*entry) >= 0) return;
  fallback_->log(msg);
}

void JournalSink::flush_() { fallback_->flush(); }

}  // namespace etcd::log
