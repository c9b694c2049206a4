// bbolt's on-disk layout, shared by the reader and the writer (internal).
// All integers are little-endian (bbolt writes native order; every machine
// etcd runs on is little-endian). See docs/storage-backend.md, "bbolt files".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace etcd::bbolt::format {

// Page header: id u64, flags u16, count u16, overflow u32.
inline constexpr size_t kPageHeaderSize = 16;
inline constexpr size_t kOffId = 0;
inline constexpr size_t kOffFlags = 8;
inline constexpr size_t kOffCount = 10;
inline constexpr size_t kOffOverflow = 12;

inline constexpr uint16_t kBranchPage = 0x01;
inline constexpr uint16_t kLeafPage = 0x02;
inline constexpr uint16_t kMetaPage = 0x04;
inline constexpr uint16_t kFreelistPage = 0x10;

// Branch element: pos u32, ksize u32, pgid u64. Leaf element: flags u32,
// pos u32, ksize u32, vsize u32. `pos` counts from the element itself.
inline constexpr size_t kBranchElementSize = 16;
inline constexpr size_t kLeafElementSize = 16;
inline constexpr uint32_t kBucketLeafFlag = 0x01;

// Bucket header (a bucket's value in its parent): root pgid u64, sequence u64.
inline constexpr size_t kBucketHeaderSize = 16;

// Meta, at offset kPageHeaderSize of pages 0 and 1: magic u32, version u32,
// page_size u32, flags u32, root bucket header (16), freelist u64, pgid u64,
// txid u64, checksum u64 (FNV-64a of the 56 bytes before it).
inline constexpr size_t kMetaMagic = 0;
inline constexpr size_t kMetaVersion = 4;
inline constexpr size_t kMetaPageSize = 8;
inline constexpr size_t kMetaFlags = 12;
inline constexpr size_t kMetaRoot = 16;
inline constexpr size_t kMetaSequence = 24;
inline constexpr size_t kMetaFreelist = 32;
inline constexpr size_t kMetaPgid = 40;
inline constexpr size_t kMetaTxid = 48;
inline constexpr size_t kMetaChecksum = 56;
inline constexpr size_t kMetaSize = 64;

inline constexpr uint32_t kMinPageSize = 512;
inline constexpr uint32_t kMaxPageSize = 64 * 1024;

inline constexpr size_t kMaxKeySize = 32768;
inline constexpr uint64_t kMaxValueSize = (uint64_t{1} << 31) - 2;

inline uint16_t get16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint16_t>(u[0] | (u[1] << 8));
}
inline uint32_t get32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{u[0]} | (uint32_t{u[1]} << 8) | (uint32_t{u[2]} << 16) | (uint32_t{u[3]} << 24);
}
inline uint64_t get64(const char* p) { return uint64_t{get32(p)} | (uint64_t{get32(p + 4)} << 32); }
inline void put16(char* p, uint16_t v) {
  p[0] = static_cast<char>(v);
  p[1] = static_cast<char>(v >> 8);
}
inline void put32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline void put64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}

// FNV-64a, the meta checksum.
inline uint64_t fnv64a(std::string_view data) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

inline bool valid_page_size(uint64_t ps) {
  return ps >= kMinPageSize && ps <= kMaxPageSize && (ps & (ps - 1)) == 0;
}

}  // namespace etcd::bbolt::format
