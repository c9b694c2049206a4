// Byte sizes as etcdctl prints them in `endpoint status` and
// `snapshot status` (go-humanize's Bytes: SI units, base 1000).
#pragma once

#include <cstdint>
#include <string>

namespace etcd::ctl {

// "0 B" .. "9 B", then one decimal below 10 and none from 10 on, with the
// unit the base-1000 logarithm picks: 20480 -> "20 kB", 2301952 -> "2.3 MB",
// 82854982 -> "83 MB". Rounding can give "1000 kB" for 999950..999999.
std::string humanize_bytes(uint64_t size);

}  // namespace etcd::ctl
