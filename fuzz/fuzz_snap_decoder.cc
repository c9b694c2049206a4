// libFuzzer target: a .snap file image through decode_snap_file
// (src/storage/snap/snap_file.h). Decoding ends in a snapshot or an error;
// a decoded snapshot re-encodes to a file that decodes to the same value.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "storage/snap/snap_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto snap = etcd::snap::decode_snap_file(bytes);
  if (!snap.is_ok()) return 0;
  auto again = etcd::snap::decode_snap_file(etcd::snap::encode_snap_file(*snap));
  if (!again.is_ok() || again->SerializeAsString() != snap->SerializeAsString()) {
    __builtin_trap();
  }
  return 0;
}
