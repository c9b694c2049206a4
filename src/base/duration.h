// Go's time.Duration text, which etcd's flags take and its logs print.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace etcd {

// Go's time.ParseDuration ("300ms", "-1.5h", "2h45m", "0"): nanoseconds,
// or Go's error text (`time: invalid duration "x"`, `time: missing unit in
// duration "1"`, `time: unknown unit "d" in duration "1d"`).
Result<int64_t> parse_go_duration(std::string_view s);

// Go's time.Duration.String(): "0s", "1.5ms", "5m0s", "1h0m0s".
std::string format_go_duration(int64_t ns);

template <typename Rep, typename Period>
std::string format_go_duration(std::chrono::duration<Rep, Period> d) {
  return format_go_duration(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}

}  // namespace etcd
