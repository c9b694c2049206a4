// The JSON etcdctl prints with `-w json`: Go's encoding/json.Marshal applied
// to the gogo-protobuf generated Go structs of etcd's API messages.
//
// The rules, checked against etcd 3.4.23's generated code and etcdctl output:
// - fields in declaration order, named by the proto field name (every
//   generated tag is `json:"<proto name>,omitempty"`; none is customised);
// - omitempty: 0, false, "", empty bytes, unset messages and empty repeated
//   fields are left out; a set but empty message prints `{}`;
// - 64-bit integers and enums are bare numbers; bytes are standard base64
//   with padding;
// - a oneof is one Go interface field without a json tag, so it is always
//   present, under the CamelCase oneof name, at the position of its first
//   member: `null` when unset, else an object with the member's CamelCase Go
//   field name, which is never omitted:
//     {"Response":{"ResponsePut":{"header":{"revision":5}}}}
//     {"TargetUnion":{"Version":0}}
// - strings are escaped as Go does with HTML escaping on (see go_json_string).
// Maps and floats do not occur in etcd's API; floats print in Go's shortest
// form, maps are not supported (ASSERT). The rules hold for the proto3
// client API (etcdserverpb rpc.proto, mvccpb, authpb, v3lockpb,
// v3electionpb), not for the proto2 internals such as etcdserver.proto's
// Request, whose Go tags carry no omitempty; etcdctl prints none of those.
#pragma once

#include "base/go_json_string.h"

#include <google/protobuf/message.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace etcd::ctl {

// `msg` as Go's json.Marshal writes its generated struct (no trailing newline).
std::string go_json(const google::protobuf::Message& msg);

// A JSON string literal as Go writes it: base/go_json_string.h.
using ::etcd::go_json_string;

// A Go []byte value: a JSON string of its standard base64 (with padding).
std::string go_json_bytes(std::string_view bytes);

// Standard base64 with padding (Go's base64.StdEncoding).
std::string base64_std(std::string_view bytes);

// Builds a JSON object field by field, for the etcdctl results that are
// plain Go structs rather than messages (clientv3.LeaseGrantResponse, the
// endpoint status list, ...). Values are written as given: the caller
// decides omitempty, as the Go struct tags do.
class GoJsonObject {
 public:
  // `json` must already be valid JSON (an object, array, number, `null`).
  GoJsonObject& raw(std::string_view name, std::string_view json);
  GoJsonObject& string(std::string_view name, std::string_view value);
  GoJsonObject& bytes(std::string_view name, std::string_view value);
  GoJsonObject& int64(std::string_view name, int64_t value);
  GoJsonObject& uint64(std::string_view name, uint64_t value);
  GoJsonObject& boolean(std::string_view name, bool value);
  GoJsonObject& message(std::string_view name, const google::protobuf::Message& msg);
  // The fields of an embedded struct pointer (Go promotes them into the
  // outer object): `msg`'s fields, omitempty as go_json writes them, e.g.
  // the *pb.ResponseHeader embedded in clientv3.LeaseGrantResponse.
  GoJsonObject& embed(const google::protobuf::Message& msg);

  // The object, braces included.
  std::string str() const { return out_ + "}"; }

 private:
  void key(std::string_view name);

  std::string out_ = "{";
  bool first_ = true;
};

}  // namespace etcd::ctl
