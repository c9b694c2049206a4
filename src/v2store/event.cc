// Event and NodeExtern: their JSON (Go's encoding/json of etcd's structs)
// and etcd's small helpers on them.
#include "v2store/event_json.h"
#include "v2store/go_json.h"
#include "v2store/store.h"

namespace etcd::v2store {

namespace internal {

// NodeExtern's fields in declaration order with their omitempty rules:
// key, value (a *string: present even when empty), dir, expiration
// (*time.Time), ttl, nodes (left out when empty), modifiedIndex,
// createdIndex.
void append_node_json(std::string* out, const NodeExtern& n) {
  out->push_back('{');
  bool first = true;
  auto field = [&](std::string_view name) {
    if (!first) out->push_back(',');
    first = false;
    out->push_back('"');
    out->append(name);
    *out += "\":";
  };
  if (!n.key.empty()) {
    field("key");
    append_go_json_string(*out, n.key);
  }
  if (n.value) {
    field("value");
    append_go_json_string(*out, *n.value);
  }
  if (n.dir) {
    field("dir");
    *out += "true";
  }
  if (n.expiration_ns) {
    field("expiration");
    out->push_back('"');
    *out += go_time_rfc3339nano(*n.expiration_ns);
    out->push_back('"');
  }
  if (n.ttl != 0) {
    field("ttl");
    *out += std::to_string(n.ttl);
  }
  if (n.nodes && !n.nodes->empty()) {
    field("nodes");
    out->push_back('[');
    for (size_t i = 0; i < n.nodes->size(); ++i) {
      if (i > 0) out->push_back(',');
      append_node_json(out, (*n.nodes)[i]);
    }
    out->push_back(']');
  }
  if (n.modified_index != 0) {
    field("modifiedIndex");
    *out += std::to_string(n.modified_index);
  }
  if (n.created_index != 0) {
    field("createdIndex");
    *out += std::to_string(n.created_index);
  }
  out->push_back('}');
}

void append_event_json(std::string* out, const Event& e) {
  *out += "{\"action\":";
  append_go_json_string(*out, e.action);
  if (e.node) {
    *out += ",\"node\":";
    append_node_json(out, *e.node);
  }
  if (e.prev_node) {
    *out += ",\"prevNode\":";
    append_node_json(out, *e.prev_node);
  }
  if (e.refresh) *out += ",\"refresh\":true";
  out->push_back('}');
}

}  // namespace internal

namespace {

void trim_node(NodeExtern* n, std::string_view prefix) {
  if (n->key.starts_with(prefix)) n->key.erase(0, prefix.size());
  if (n->nodes) {
    for (NodeExtern& child : *n->nodes) trim_node(&child, prefix);
  }
}

}  // namespace

std::string Event::to_json() const {
  std::string out;
  internal::append_event_json(&out, *this);
  return out;
}

Event Event::trim_prefix(std::string_view prefix) const {
  Event e = *this;
  e.refresh = false;
  if (e.node) trim_node(&*e.node, prefix);
  if (e.prev_node) trim_node(&*e.prev_node, prefix);
  return e;
}

bool Event::is_created() const {
  if (action == "create") return true;
  return action == "set" && !prev_node.has_value();
}

}  // namespace etcd::v2store
