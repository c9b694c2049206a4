// A JSON string exactly as Go's encoding/json writes it (json.Marshal, HTML
// escaping on): etcd's JSON output (etcdctl -w json, the gateway, the v2
// store's snapshot, membership entries) goes through this one function.
//
// Thread-safe: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace etcd {

// Appends s quoted: '"', '\\', \n, \r and \t escaped by name; other control
// bytes, '<', '>' and '&' as \u00XX; U+2028 and U+2029 as \u2028 and
// \u2029; each byte of invalid UTF-8 as \ufffd (Go's RuneError, width 1);
// everything else as is.
void append_go_json_string(std::string& out, std::string_view s);
std::string go_json_string(std::string_view s);

}  // namespace etcd
