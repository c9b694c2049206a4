// libFuzzer target: a WAL segment image through the scanner and the replayer
// (src/storage/wal/record.h, decoder.h), as the last segment, as an earlier
// one, and split in two. Whatever the bytes, decoding must end in a value or
// an error: no crash, no out-of-bounds read, no allocation driven by a
// length field (scripts/fuzz runs this with -malloc_limit_mb).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "storage/wal/decoder.h"
#include "storage/wal/record.h"

namespace {

void check(bool cond) {
  if (!cond) __builtin_trap();
}

void replay(std::string_view a, std::string_view b, bool split) {
  etcd::wal::Replayer r(etcd::wal::WalSnapshot{}, 1 << 20);
  auto first = r.feed("a.wal", a, !split);
  if (!first.is_ok()) return;
  check(first->end_offset <= a.size() && first->end_offset % 8 == 0);
  for (const auto& rec : first->records) {
    check(rec.offset < first->end_offset);
    if (!rec.data.empty()) {
      check(rec.data.data() >= a.data() &&
            rec.data.data() + rec.data.size() <= a.data() + a.size());
    }
  }
  if (split) {
    auto second = r.feed("b.wal", b, true);
    if (!second.is_ok()) return;
    check(second->end_offset <= b.size());
  }
  (void)r.finish();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  replay(bytes, {}, false);
  // As a finished (not last) segment.
  etcd::wal::Replayer r(etcd::wal::WalSnapshot{}, 1 << 20);
  (void)r.feed("x.wal", bytes, false);
  // Two segments, split at a point the input chooses: exercises the CRC chain.
  if (size > 8) {
    size_t cut = (data[0] * 8u) % size;
    replay(bytes.substr(0, cut), bytes.substr(cut), true);
  }
  return 0;
}
