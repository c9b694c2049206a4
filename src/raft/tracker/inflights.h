// The window of in-flight MsgApp messages to one follower (bounded by
// max_inflight_msgs): a ring buffer of the last index each message carried.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace etcd::raft::tracker {

class Inflights {
 public:
  explicit Inflights(size_t size);

  // Records a message whose last entry is `index`; indexes are added in
  // increasing order. ASSERTs when full.
  void add(uint64_t index);
  // Frees every in-flight message whose index is <= `to` (acknowledged).
  void free_le(uint64_t to);
  // Frees the oldest in-flight message (a heartbeat response while full).
  void free_first_one();
  bool full() const { return count_ == size_; }
  size_t count() const { return count_; }
  size_t capacity() const { return size_; }
  void reset();

 private:
  size_t start_ = 0;  // ring position of the oldest entry
  size_t count_ = 0;
  size_t size_;
  std::vector<uint64_t> buffer_;  // grows lazily up to size_
};

}  // namespace etcd::raft::tracker
