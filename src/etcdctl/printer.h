// Printing pieces that several etcdctl command groups share: the lines of
// etcdctl's simple and fields printers for a key-value and a response header,
// and the whole-message json and protobuf printers (docs/etcdctl.md).
//
// Everything writes to std::cout. Which printer a command uses for which
// output format is the command's business; etcdctl answers a format it does
// not support for a result with unsupported_format (cluster_util.h).
#pragma once

#include <google/protobuf/message.h>

#include <string>
#include <string_view>

#include "etcdctl/global.h"
#include "etcdserverpb/rpc.pb.h"
#include "mvccpb/kv.pb.h"

namespace etcd::ctl {

// ---- simple ----

// A key or value as the simple printer writes it: the bytes themselves, or
// with --hex every byte as \xNN.
std::string display_bytes(const Display& d, std::string_view bytes);

// The key line (left out with `value_only`) and the value line.
void print_kv(const Display& d, const mvccpb::KeyValue& kv, bool value_only = false);

// ---- fields ----

// "ClusterID" : 1  /  "MemberID" : 2  /  "Revision" : 3  /  "RaftTerm" : 4
void print_header_fields(const etcdserverpb::ResponseHeader& h);

// "<prefix>Key" : "foo" ... "<prefix>Lease" : 0; strings in Go's %q, with or
// without --hex.
void print_kv_fields(std::string_view prefix, const mvccpb::KeyValue& kv);

// ---- json, protobuf ----

// go_json(msg) and a newline (etcdctl -w json).
void print_json(const google::protobuf::Message& msg);
// The serialized message, no newline (etcdctl -w protobuf).
void print_protobuf(const google::protobuf::Message& msg);

// etcdctl prints most RPC responses whole in json and protobuf, and has no
// table for them. For those three formats this prints `resp` (or exits with
// "Error: table not supported as output format", exit 4) and returns true;
// for simple and fields it returns false: the caller prints.
bool print_whole_response(const Display& d, const google::protobuf::Message& resp);

// etcdctl's display.Get, every format: simple (with --print-value-only just
// the values), fields, json, protobuf; table exits 4. Flushes std::cout.
void print_get(const Display& d, const etcdserverpb::RangeResponse& r, bool value_only = false);

}  // namespace etcd::ctl
