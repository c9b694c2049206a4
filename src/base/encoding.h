// Fixed-width big-endian and little-endian integer encoding. Big-endian
// keeps byte order equal to numeric order (backend keys sort by revision);
// little-endian is what WAL record headers use.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace etcd {

inline void put_u64_be(uint8_t* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<uint8_t>(v);
    v >>= 8;
  }
}
inline uint64_t get_u64_be(const uint8_t* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | in[i];
  return v;
}
inline void put_u32_be(uint8_t* out, uint32_t v) {
  for (int i = 3; i >= 0; --i) {
    out[i] = static_cast<uint8_t>(v);
    v >>= 8;
  }
}
inline uint32_t get_u32_be(const uint8_t* in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | in[i];
  return v;
}
inline void put_u64_le(uint8_t* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<uint8_t>(v);
    v >>= 8;
  }
}
inline uint64_t get_u64_le(const uint8_t* in) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | in[i];
  return v;
}
inline void put_u32_le(uint8_t* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    out[i] = static_cast<uint8_t>(v);
    v >>= 8;
  }
}
inline uint32_t get_u32_le(const uint8_t* in) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | in[i];
  return v;
}

// Appending forms for building keys and records in a std::string.
inline void append_u64_be(std::string* out, uint64_t v) {
  uint8_t b[8];
  put_u64_be(b, v);
  out->append(reinterpret_cast<const char*>(b), 8);
}
inline void append_u32_be(std::string* out, uint32_t v) {
  uint8_t b[4];
  put_u32_be(b, v);
  out->append(reinterpret_cast<const char*>(b), 4);
}
inline uint64_t get_u64_be(std::string_view s) {
  return get_u64_be(reinterpret_cast<const uint8_t*>(s.data()));
}
inline uint32_t get_u32_be(std::string_view s) {
  return get_u32_be(reinterpret_cast<const uint8_t*>(s.data()));
}

// Protobuf-style base-128 varints (the WAL and snap file envelopes are
// decoded by hand, so that length fields are checked before allocation).
// Lower- or upper-case hex digits without prefix, at most 16 ("8e9e05c5");
// false for anything else (etcd's types.IDFromString, our file names).
inline bool parse_hex_u64(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 16) return false;
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return false;
    }
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  *out = v;
  return true;
}

inline void append_varint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Reads a varint at *pos; false when truncated or longer than 10 bytes.
inline bool read_varint(std::string_view in, size_t* pos, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*pos >= in.size()) return false;
    uint8_t b = static_cast<uint8_t>(in[(*pos)++]);
    if (shift == 63 && b > 1) return false;  // overflows 64 bits
    result |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return false;
}

}  // namespace etcd
