// JSON <-> protobuf as etcd's gRPC gateway reads and writes it.
//
// etcd's gateway (grpc-gateway v1 with golang/protobuf's jsonpb,
// OrigName, unknown fields allowed) decodes request bodies with Go's
// encoding/json underneath. Clients see its leniencies (numbers as strings,
// camelCase or proto names, unknown fields ignored, only the first JSON
// value of a body read) and its error texts ("unexpected EOF",
// "invalid character 'x' looking for beginning of value",
// "json: cannot unmarshal number into Go value of type []uint8",
// "illegal base64 data at input byte 0", ...). protobuf's own JSON parser
// differs on both, so the decoding here follows Go's rules and messages
// (docs/gateway.md lists them).
#pragma once

#include "base/go_json_string.h"

#include <google/protobuf/message.h>

#include <string>
#include <string_view>

namespace etcd::rpc::gateway {

enum class DecodeResult {
  kOk,     // a value was decoded into the message
  kEof,    // nothing but white space was left
  kError,  // *error holds Go's text for it
};

// Reads JSON values one after another from a request body, as Go's
// json.Decoder does (a watch body may hold several requests).
class JsonBodyDecoder {
 public:
  explicit JsonBodyDecoder(std::string_view body) : body_(body) {}
  DecodeResult next(google::protobuf::Message* msg, std::string* error);

 private:
  std::string_view body_;
  size_t pos_ = 0;
};

// s as a quoted JSON string as Go writes it: base/go_json_string.h.
using ::etcd::go_json_string;

// The message as JSON the way etcd's gateway writes it: proto field names,
// 64-bit integers as strings, bytes in base64, enums by name, fields left
// at their default value omitted. Empty on a serialization failure.
std::string message_to_json(const google::protobuf::Message& msg);

}  // namespace etcd::rpc::gateway
