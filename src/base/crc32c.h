// CRC-32C (Castagnoli, polynomial 0x82F63B78 reflected), as etcd's WAL uses.
// Uses the SSE4.2 crc32 instruction when the CPU has it, a slicing-by-8
// table otherwise; both give identical results.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace etcd::crc32c {

// Continues a CRC: extend(extend(0, a), b) == value(a + b), the same
// chaining as Go's crc32.Update, so a WAL's running CRC carries across
// records and files.
uint32_t extend(uint32_t crc, const void* data, size_t n);

inline uint32_t value(const void* data, size_t n) { return extend(0, data, n); }
inline uint32_t value(std::string_view s) { return extend(0, s.data(), s.size()); }

// The portable implementation, exposed so tests compare both paths.
uint32_t extend_portable(uint32_t crc, const void* data, size_t n);
// True when extend() uses the hardware instruction.
bool hardware_accelerated();

}  // namespace etcd::crc32c
