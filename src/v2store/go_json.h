// The pieces of Go's encoding/json that the v2 store's JSON needs to match
// byte for byte: strings (base/go_json_string.h) and time.Time as Go
// marshals it (RFC 3339 with nanoseconds).
//
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/go_json_string.h"

namespace etcd::v2store {

// Strings: base/go_json_string.h.
using ::etcd::append_go_json_string;
using ::etcd::go_json_string;

// The JSON text of Go's zero time.Time (a node without a TTL).
inline constexpr std::string_view kGoZeroTime = "0001-01-01T00:00:00Z";

// Unix nanoseconds as Go's time.Time formats a UTC time in RFC3339Nano
// ("2006-01-02T15:04:05.999999999Z07:00": the fraction without trailing
// zeros, and no '.' when it is zero), unquoted.
std::string go_time_rfc3339nano(int64_t unix_ns);

// An RFC 3339 time as Go's time.Time.UnmarshalJSON reads it (without the
// quotes): "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)".
struct ParsedTime {
  bool zero = false;    // Go's zero time (January 1, year 1, UTC)
  int64_t unix_ns = 0;  // when not zero
};
// nullopt when malformed or outside what Unix nanoseconds in an int64 hold.
std::optional<ParsedTime> parse_go_time(std::string_view s);

}  // namespace etcd::v2store
