// An interval tree over byte-string keys for the watch index (etcd's
// adt.IntervalTree as used by its watcherGroup): half-open intervals
// [begin, end) where `end` may be +infinity, each holding one value; a stab
// query returns every interval containing a point in O(log n + k).
//
// A treap (binary search tree by (begin, end), heap by a random priority)
// augmented with the largest end of each subtree. Not thread-safe: the
// owner (WatchableStore) guards it with its mutex.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "base/rng.h"

namespace etcd::mvcc {

// The end of a half-open key interval: a key, or +infinity.
struct IntervalEnd {
  std::string key;
  bool infinite = false;
};

// <0, 0, >0 as a is before, equal to, after b.
inline int compare_ends(const IntervalEnd& a, const IntervalEnd& b) {
  if (a.infinite || b.infinite) return static_cast<int>(a.infinite) - static_cast<int>(b.infinite);
  return a.key.compare(b.key);
}

// point < end
inline bool before_end(std::string_view point, const IntervalEnd& end) {
  return end.infinite || point < std::string_view(end.key);
}

template <typename V>
class IntervalTree {
 public:
  IntervalTree() = default;
  IntervalTree(const IntervalTree&) = delete;
  IntervalTree& operator=(const IntervalTree&) = delete;
  IntervalTree(IntervalTree&&) noexcept = default;
  IntervalTree& operator=(IntervalTree&&) noexcept = default;
  ~IntervalTree() { clear(); }

  // The value of exactly [begin, end), or nullptr.
  V* find(std::string_view begin, const IntervalEnd& end) {
    Node* n = root_.get();
    while (n != nullptr) {
      int c = cmp(begin, end, *n);
      if (c == 0) return &n->value;
      n = c < 0 ? n->left.get() : n->right.get();
    }
    return nullptr;
  }

  // Inserts [begin, end) (must not be present) and returns its value.
  V* insert(std::string begin, IntervalEnd end) {
    auto node = std::make_unique<Node>();
    node->begin = std::move(begin);
    node->end = std::move(end);
    node->max_end = node->end;
    node->priority = next_priority();
    Node* raw = node.get();
    std::unique_ptr<Node> left, right;
    split(std::move(root_), raw->begin, raw->end, &left, &right);
    root_ = merge(merge(std::move(left), std::move(node)), std::move(right));
    ++size_;
    return &raw->value;
  }

  // Removes [begin, end); false if absent.
  bool erase(std::string_view begin, const IntervalEnd& end) {
    bool found = false;
    root_ = erase_rec(std::move(root_), begin, end, &found);
    if (found) --size_;
    return found;
  }

  // Calls f(value) for every interval containing `point`.
  void stab(std::string_view point, const std::function<void(V&)>& f) {
    stab_rec(root_.get(), point, f);
  }
  // Whether any interval contains `point`.
  bool intersects(std::string_view point) {
    bool any = false;
    stab_rec(root_.get(), point, [&any](V&) { any = true; });
    return any;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  void clear() {
    // Iterative teardown: a degenerate treap must not overflow the stack.
    std::unique_ptr<Node> stack = std::move(root_);
    while (stack) {
      if (stack->left) {
        std::unique_ptr<Node> l = std::move(stack->left);
        stack->left = std::move(l->right);
        l->right = std::move(stack);
        stack = std::move(l);
      } else {
        stack = std::move(stack->right);
      }
    }
    size_ = 0;
  }

 private:
  struct Node {
    std::string begin;
    IntervalEnd end;
    IntervalEnd max_end;  // the largest end in this subtree
    uint64_t priority = 0;
    V value{};
    std::unique_ptr<Node> left, right;
  };

  // Orders (begin, end) pairs.
  static int cmp(std::string_view begin, const IntervalEnd& end, const Node& n) {
    int c = begin.compare(n.begin);
    if (c != 0) return c;
    return compare_ends(end, n.end);
  }

  static void update(Node* n) {
    const IntervalEnd* m = &n->end;
    if (n->left && compare_ends(n->left->max_end, *m) > 0) m = &n->left->max_end;
    if (n->right && compare_ends(n->right->max_end, *m) > 0) m = &n->right->max_end;
    if (m != &n->max_end) n->max_end = *m;
  }

  // Splits t into the nodes before (begin, end) and the rest.
  static void split(std::unique_ptr<Node> t, std::string_view begin, const IntervalEnd& end,
                    std::unique_ptr<Node>* l, std::unique_ptr<Node>* r) {
    if (!t) {
      l->reset();
      r->reset();
      return;
    }
    if (cmp(begin, end, *t) > 0) {
      split(std::move(t->right), begin, end, &t->right, r);
      update(t.get());
      *l = std::move(t);
    } else {
      split(std::move(t->left), begin, end, l, &t->left);
      update(t.get());
      *r = std::move(t);
    }
  }

  static std::unique_ptr<Node> merge(std::unique_ptr<Node> a, std::unique_ptr<Node> b) {
    if (!a) return b;
    if (!b) return a;
    if (a->priority > b->priority) {
      a->right = merge(std::move(a->right), std::move(b));
      update(a.get());
      return a;
    }
    b->left = merge(std::move(a), std::move(b->left));
    update(b.get());
    return b;
  }

  static std::unique_ptr<Node> erase_rec(std::unique_ptr<Node> t, std::string_view begin,
                                         const IntervalEnd& end, bool* found) {
    if (!t) return t;
    int c = cmp(begin, end, *t);
    if (c == 0) {
      *found = true;
      return merge(std::move(t->left), std::move(t->right));
    }
    if (c < 0) {
      t->left = erase_rec(std::move(t->left), begin, end, found);
    } else {
      t->right = erase_rec(std::move(t->right), begin, end, found);
    }
    update(t.get());
    return t;
  }

  static void stab_rec(Node* n, std::string_view point, const std::function<void(V&)>& f) {
    // No interval below n ends after the point.
    if (n == nullptr || !before_end(point, n->max_end)) return;
    stab_rec(n->left.get(), point, f);
    // Every node to the right begins at or after n->begin.
    if (point < std::string_view(n->begin)) return;
    if (before_end(point, n->end)) f(n->value);
    stab_rec(n->right.get(), point, f);
  }

  uint64_t next_priority() { return rng_.next(); }

  std::unique_ptr<Node> root_;
  size_t size_ = 0;
  Rng rng_{0x5EED};  // treap priorities: any fixed seed keeps the tree balanced
};

}  // namespace etcd::mvcc
