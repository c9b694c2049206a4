#include "etcdutl/console_log.h"

#include <spdlog/sinks/base_sink.h>

#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>

namespace etcd::utl {
namespace {

using Json = nlohmann::ordered_json;

// zap's JSON encoder with spaced=true: ", " between elements, ": " after keys.
std::string spaced(const Json& v) {
  if (v.is_object()) {
    std::string out = "{";
    bool first = true;
    for (const auto& [k, e] : v.items()) {
      out += (first ? "" : ", ") + Json(k).dump() + ": " + spaced(e);
      first = false;
    }
    return out + "}";
  }
  if (v.is_array()) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + spaced(v[i]);
    return out + "]";
  }
  return v.dump();
}

class ConsoleSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit ConsoleSink(std::ostream& out) : out_(out) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    out_ << to_console_line(std::string_view(msg.payload.data(), msg.payload.size())) << "\n";
  }
  void flush_() override { out_.flush(); }

 private:
  std::ostream& out_;
};

}  // namespace

std::string to_console_line(std::string_view line) {
  Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::string(line);
  auto text = [&j](const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  // RFC 3339 to the second: "2026-12-07T07:54:27.526Z" -> "2026-12-07T07:54:27Z".
  std::string ts = text("ts");
  if (auto dot = ts.find('.'); dot != std::string::npos && !ts.empty() && ts.back() == 'Z') {
    ts = ts.substr(0, dot) + "Z";
  }
  std::string out = ts + "\t" + text("level") + "\t" + text("caller") + "\t" + text("msg");
  Json fields = Json::object();
  for (const auto& [k, v] : j.items()) {
    if (k != "level" && k != "ts" && k != "caller" && k != "msg") fields[k] = v;
  }
  if (!fields.empty()) out += "\t" + spaced(fields);
  return out;
}

std::unique_ptr<log::Logger> make_console_logger(std::ostream& out) {
  log::Logger::Sinks sinks = {std::make_shared<ConsoleSink>(out)};
  return std::make_unique<log::Logger>(log::Level::kInfo, std::move(sinks), [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  });
}

}  // namespace etcd::utl
