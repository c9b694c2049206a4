#include "raft/tracker/inflights.h"

#include <algorithm>

#include "base/assert.h"

namespace etcd::raft::tracker {

Inflights::Inflights(size_t size) : size_(size) {}

void Inflights::add(uint64_t index) {
  ASSERT(!full(), "cannot add into a full inflights window");
  size_t slot = start_ + count_;
  if (slot >= size_) slot -= size_;
  if (slot >= buffer_.size()) {
    // Grow on demand (doubling, capped at size_) rather than allocating the
    // whole window up front: a process may host many idle followers. Growth
    // only happens while the ring has not wrapped, so the occupied slots keep
    // their positions.
    buffer_.resize(std::min(size_, std::max<size_t>(1, buffer_.size() * 2)));
  }
  buffer_[slot] = index;
  ++count_;
}

void Inflights::free_le(uint64_t to) {
  if (count_ == 0 || to < buffer_[start_]) return;  // nothing that old in flight

  size_t pos = start_;
  size_t freed = 0;
  while (freed < count_ && buffer_[pos] <= to) {
    ++freed;
    if (++pos == size_) pos = 0;
  }
  count_ -= freed;
  // An empty window restarts at slot 0 so the lazily grown buffer stays small.
  start_ = count_ == 0 ? 0 : pos;
}

void Inflights::free_first_one() {
  if (count_ == 0) return;
  free_le(buffer_[start_]);
}

void Inflights::reset() {
  count_ = 0;
  start_ = 0;
}

}  // namespace etcd::raft::tracker
