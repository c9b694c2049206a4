// The store's tree (etcd's v2store node) and the heap of nodes with a TTL
// ordered by expiry (etcd's ttlKeyHeap). Internal to the store.
//
// Thread-safety: none; the store's mutex guards every node and the heap.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace etcd::v2store::internal {

// expire_ns of a node without a TTL (Go's zero time.Time).
inline constexpr int64_t kPermanent = std::numeric_limits<int64_t>::min();

struct Node {
  Node() = default;
  // Frees the subtree without recursion (a tree may be deeper than the
  // stack allows frames).
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  std::string path;  // absolute and clean; "/" for the root
  uint64_t created_index = 0;
  uint64_t modified_index = 0;
  int64_t expire_ns = kPermanent;  // Unix nanoseconds
  std::string value;               // files only
  bool dir = false;
  // Directories: children by name (the last component of their path), in
  // byte order (Go's encoding/json writes map keys in that order).
  std::map<std::string, std::unique_ptr<Node>> children;
  Node* parent = nullptr;  // null for the root
  // The position in the TtlHeap, kNotInHeap when not in it.
  static constexpr size_t kNotInHeap = std::numeric_limits<size_t>::max();
  size_t heap_pos = kNotInHeap;

  bool permanent() const { return expire_ns == kPermanent; }
  // The last component of the path (Go's path.Split).
  std::string_view name() const;
  // etcd's IsHidden: the name begins with '_' (left out of listings).
  bool hidden() const;
  // The TTL in whole seconds rounded up towards +inf for positive
  // remainders (etcd's expirationAndTTL); 0 for permanent nodes.
  int64_t ttl_seconds(int64_t now_ns) const;
};

// A binary min-heap of nodes by expire_ns that works exactly as Go's
// container/heap does (Push/Pop/Remove/Fix move elements the same way),
// so nodes that expire at the same instant leave in etcd's order.
class TtlHeap {
 public:
  size_t size() const { return array_.size(); }
  Node* top() const { return array_.empty() ? nullptr : array_[0]; }
  void push(Node* n);
  Node* pop();
  // Moves n after its expire_ns changed; nothing when n is not in the heap.
  void update(Node* n);
  // Takes n out; nothing when n is not in the heap.
  void remove(Node* n);
  void clear();

 private:
  bool less(size_t i, size_t j) const { return array_[i]->expire_ns < array_[j]->expire_ns; }
  void swap(size_t i, size_t j);
  void up(size_t j);
  bool down(size_t i0, size_t n);
  Node* remove_at(size_t i);

  std::vector<Node*> array_;
};

}  // namespace etcd::v2store::internal
