#include "v2store/node.h"

namespace etcd::v2store::internal {

Node::~Node() {
  std::vector<std::unique_ptr<Node>> doomed;
  for (auto& [name, child] : children) doomed.push_back(std::move(child));
  children.clear();
  while (!doomed.empty()) {
    std::unique_ptr<Node> n = std::move(doomed.back());
    doomed.pop_back();
    for (auto& [name, child] : n->children) doomed.push_back(std::move(child));
    n->children.clear();
  }  // each n dies here with no children left
}

std::string_view Node::name() const {
  std::string_view p = path;
  size_t slash = p.rfind('/');
  return slash == std::string_view::npos ? p : p.substr(slash + 1);
}

bool Node::hidden() const {
  std::string_view n = name();
  return !n.empty() && n[0] == '_';
}

int64_t Node::ttl_seconds(int64_t now_ns) const {
  if (permanent()) return 0;
  // Go's Time.Sub saturates instead of overflowing.
  int64_t d;
  if (__builtin_sub_overflow(expire_ns, now_ns, &d)) {
    d = expire_ns > now_ns ? std::numeric_limits<int64_t>::max()
                           : std::numeric_limits<int64_t>::min();
  }
  int64_t ttl = d / 1'000'000'000;
  if (d % 1'000'000'000 > 0) ++ttl;
  return ttl;
}

void TtlHeap::swap(size_t i, size_t j) {
  std::swap(array_[i], array_[j]);
  array_[i]->heap_pos = i;
  array_[j]->heap_pos = j;
}

void TtlHeap::up(size_t j) {
  while (j > 0) {
    size_t i = (j - 1) / 2;
    if (!less(j, i)) break;
    swap(i, j);
    j = i;
  }
}

bool TtlHeap::down(size_t i0, size_t n) {
  size_t i = i0;
  for (;;) {
    size_t j1 = 2 * i + 1;
    if (j1 >= n) break;
    size_t j = j1;
    if (size_t j2 = j1 + 1; j2 < n && less(j2, j1)) j = j2;
    if (!less(j, i)) break;
    swap(i, j);
    i = j;
  }
  return i > i0;
}

void TtlHeap::push(Node* n) {
  n->heap_pos = array_.size();
  array_.push_back(n);
  up(array_.size() - 1);
}

Node* TtlHeap::remove_at(size_t i) {
  size_t n = array_.size() - 1;
  if (n != i) {
    swap(i, n);
    if (!down(i, n)) up(i);
  }
  Node* x = array_.back();
  array_.pop_back();
  x->heap_pos = Node::kNotInHeap;
  return x;
}

Node* TtlHeap::pop() {
  if (array_.empty()) return nullptr;
  // Go's heap.Pop: swap the first and the last, sift down, take the last.
  size_t n = array_.size() - 1;
  swap(0, n);
  down(0, n);
  Node* x = array_.back();
  array_.pop_back();
  x->heap_pos = Node::kNotInHeap;
  return x;
}

void TtlHeap::update(Node* n) {
  if (n->heap_pos == Node::kNotInHeap) return;
  remove_at(n->heap_pos);
  push(n);
}

void TtlHeap::remove(Node* n) {
  if (n->heap_pos == Node::kNotInHeap) return;
  remove_at(n->heap_pos);
}

void TtlHeap::clear() {
  for (Node* n : array_) n->heap_pos = Node::kNotInHeap;
  array_.clear();
}

}  // namespace etcd::v2store::internal
