// Plain integer aliases used inside the Raft library. At the library's
// boundary (Storage, RawNode status) the strong types of base/ids.h are used.
#pragma once

#include <cstdint>
#include <limits>

namespace etcd::raft {

using NodeId = uint64_t;  // 0 means "none"
inline constexpr NodeId kNone = 0;
inline constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();

}  // namespace etcd::raft
