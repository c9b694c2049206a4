// Go's JSON of etcd's Event and NodeExtern, shared by Event::to_json and
// the event history of Store::save. Internal to the store.
#pragma once

#include <string>

#include "v2store/store.h"

namespace etcd::v2store::internal {

void append_node_json(std::string* out, const NodeExtern& n);
void append_event_json(std::string* out, const Event& e);

}  // namespace etcd::v2store::internal
