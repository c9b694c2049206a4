// Time as a seam: everything that needs the time is handed a Clock&, so the
// simulation drives time by hand and tests get fixed timestamps. This is the
// only place that reads the system clocks.
#pragma once

#include <chrono>
#include <cstdint>
#include <thread>

namespace etcd::env {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time, for timeouts and tick scheduling.
  virtual std::chrono::steady_clock::time_point now() = 0;
  // Wall time as Unix milliseconds, for logs and lease display only.
  virtual int64_t wall_unix_ms() = 0;
  // Blocks the caller for `d` (a ManualClock moves its time instead).
  virtual void sleep_for(std::chrono::nanoseconds d) = 0;
};

class RealClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point now() override { return std::chrono::steady_clock::now(); }
  int64_t wall_unix_ms() override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  void sleep_for(std::chrono::nanoseconds d) override { std::this_thread::sleep_for(d); }
};

// A clock that moves only when told to (tests and the simulation).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t wall_unix_ms = 0) : wall_ms_(wall_unix_ms) {}
  std::chrono::steady_clock::time_point now() override { return mono_; }
  int64_t wall_unix_ms() override { return wall_ms_; }
  void sleep_for(std::chrono::nanoseconds d) override {
    advance(std::chrono::duration_cast<std::chrono::milliseconds>(d));
  }
  void advance(std::chrono::milliseconds d) {
    mono_ += d;
    wall_ms_ += d.count();
  }

 private:
  std::chrono::steady_clock::time_point mono_{};
  int64_t wall_ms_;
};

}  // namespace etcd::env
