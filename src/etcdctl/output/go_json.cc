#include "etcdctl/output/go_json.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <system_error>

#include "base/assert.h"
#include "etcdctl/output/unicode_tables.h"

namespace etcd::ctl {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::OneofDescriptor;
using google::protobuf::Reflection;

void append_int(std::string& out, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, end);
}

void append_uint(std::string& out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, end);
}

// encoding/json's float format: shortest round-trip digits, plain notation
// for 1e-6 <= |v| < 1e21, otherwise exponent notation without a leading
// zero in a negative exponent ("1e-7", "1e+21").
template <typename F>
void append_float(std::string& out, F v) {
  if (!std::isfinite(v)) {
    out += "null";  // Go refuses to marshal these; never in etcd's API
    return;
  }
  const F abs = std::fabs(v);
  const bool exp = abs != 0 && (abs < F(1e-6) || abs >= F(1e21));
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v,
                                 exp ? std::chars_format::scientific : std::chars_format::fixed);
  std::string s(buf, end);
  const size_t n = s.size();
  if (exp && n >= 4 && s[n - 4] == 'e' && s[n - 3] == '-' && s[n - 2] == '0') {
    s.erase(n - 2, 1);
  }
  out += s;
}

// The Go identifier protoc-gen-gogo derives from a proto name: the first
// letter and every letter after '_' upper-cased, an underscore dropped when
// a lower-case letter follows it, a letter after a digit upper-cased.
std::string go_camel_case(std::string_view name) {
  std::string out;
  size_t i = 0;
  if (!name.empty() && name[0] == '_') {
    out += 'X';
    i = 1;
  }
  auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  for (; i < name.size(); ++i) {
    char c = name[i];
    if (c == '_' && i + 1 < name.size() && lower(name[i + 1])) continue;
    if (digit(c)) {
      out += c;
      continue;
    }
    if (lower(c)) c = static_cast<char>(c - 'a' + 'A');
    out += c;
    while (i + 1 < name.size() && lower(name[i + 1])) out += name[++i];
  }
  return out;
}

void write_message(const Message& msg, std::string& out);

// One value of `field`: element `index` of a repeated field, or the
// singular value when index < 0.
void write_value(const Message& msg, const FieldDescriptor* field, int index, std::string& out) {
  const Reflection* r = msg.GetReflection();
  const bool rep = index >= 0;
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      append_int(out, rep ? r->GetRepeatedInt32(msg, field, index) : r->GetInt32(msg, field));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      append_int(out, rep ? r->GetRepeatedInt64(msg, field, index) : r->GetInt64(msg, field));
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      append_uint(out, rep ? r->GetRepeatedUInt32(msg, field, index) : r->GetUInt32(msg, field));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      append_uint(out, rep ? r->GetRepeatedUInt64(msg, field, index) : r->GetUInt64(msg, field));
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      append_float(out, rep ? r->GetRepeatedDouble(msg, field, index) : r->GetDouble(msg, field));
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      append_float(out, rep ? r->GetRepeatedFloat(msg, field, index) : r->GetFloat(msg, field));
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      out +=
          (rep ? r->GetRepeatedBool(msg, field, index) : r->GetBool(msg, field)) ? "true" : "false";
      break;
    case FieldDescriptor::CPPTYPE_ENUM:
      append_int(out,
                 rep ? r->GetRepeatedEnumValue(msg, field, index) : r->GetEnumValue(msg, field));
      break;
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      const std::string& s = rep ? r->GetRepeatedStringReference(msg, field, index, &scratch)
                                 : r->GetStringReference(msg, field, &scratch);
      out += field->type() == FieldDescriptor::TYPE_BYTES ? go_json_bytes(s) : go_json_string(s);
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      write_message(rep ? r->GetRepeatedMessage(msg, field, index) : r->GetMessage(msg, field),
                    out);
      break;
  }
}

// Go's omitempty test for a singular, non-oneof field.
bool is_empty(const Message& msg, const FieldDescriptor* field) {
  const Reflection* r = msg.GetReflection();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return r->GetInt32(msg, field) == 0;
    case FieldDescriptor::CPPTYPE_INT64:
      return r->GetInt64(msg, field) == 0;
    case FieldDescriptor::CPPTYPE_UINT32:
      return r->GetUInt32(msg, field) == 0;
    case FieldDescriptor::CPPTYPE_UINT64:
      return r->GetUInt64(msg, field) == 0;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return r->GetDouble(msg, field) == 0;
    case FieldDescriptor::CPPTYPE_FLOAT:
      return r->GetFloat(msg, field) == 0;
    case FieldDescriptor::CPPTYPE_BOOL:
      return !r->GetBool(msg, field);
    case FieldDescriptor::CPPTYPE_ENUM:
      return r->GetEnumValue(msg, field) == 0;
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      return r->GetStringReference(msg, field, &scratch).empty();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return !r->HasField(msg, field);  // a nil pointer
  }
  return true;
}

void write_key(std::string_view name, bool& first, std::string& out) {
  if (!first) out += ',';
  first = false;
  out += go_json_string(name);
  out += ':';
}

// Writes msg's fields (without braces) after any already written.
void write_fields(const Message& msg, bool& first, std::string& out) {
  const auto* desc = msg.GetDescriptor();
  const Reflection* r = msg.GetReflection();
  for (int i = 0; i < desc->field_count(); ++i) {
    const FieldDescriptor* field = desc->field(i);
    ASSERT(!field->is_map(), "go_json: map fields are not supported");
    if (const OneofDescriptor* oneof = field->real_containing_oneof()) {
      if (oneof->field(0) != field) continue;  // written at its first member
      write_key(go_camel_case(oneof->name()), first, out);
      const FieldDescriptor* set = r->GetOneofFieldDescriptor(msg, oneof);
      if (set == nullptr) {
        out += "null";
        continue;
      }
      out += '{';
      out += go_json_string(go_camel_case(set->name()));
      out += ':';
      write_value(msg, set, -1, out);
      out += '}';
      continue;
    }
    if (field->is_repeated()) {
      const int n = r->FieldSize(msg, field);
      if (n == 0) continue;
      write_key(field->name(), first, out);
      out += '[';
      for (int j = 0; j < n; ++j) {
        if (j > 0) out += ',';
        write_value(msg, field, j, out);
      }
      out += ']';
      continue;
    }
    if (is_empty(msg, field)) continue;
    write_key(field->name(), first, out);
    write_value(msg, field, -1, out);
  }
}

void write_message(const Message& msg, std::string& out) {
  out += '{';
  bool first = true;
  write_fields(msg, first, out);
  out += '}';
}

}  // namespace

std::string go_json(const Message& msg) {
  std::string out;
  write_message(msg, out);
  return out;
}

std::string base64_std(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(in[k])); };
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const size_t rest = in.size() - i;
  if (rest > 0) {
    uint32_t v = byte(i) << 16;
    if (rest == 2) v |= byte(i + 1) << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string go_json_bytes(std::string_view bytes) { return "\"" + base64_std(bytes) + "\""; }

void GoJsonObject::key(std::string_view name) { write_key(name, first_, out_); }

GoJsonObject& GoJsonObject::raw(std::string_view name, std::string_view json) {
  key(name);
  out_ += json;
  return *this;
}

GoJsonObject& GoJsonObject::string(std::string_view name, std::string_view value) {
  return raw(name, go_json_string(value));
}

GoJsonObject& GoJsonObject::bytes(std::string_view name, std::string_view value) {
  return raw(name, go_json_bytes(value));
}

GoJsonObject& GoJsonObject::int64(std::string_view name, int64_t value) {
  key(name);
  append_int(out_, value);
  return *this;
}

GoJsonObject& GoJsonObject::uint64(std::string_view name, uint64_t value) {
  key(name);
  append_uint(out_, value);
  return *this;
}

GoJsonObject& GoJsonObject::boolean(std::string_view name, bool value) {
  return raw(name, value ? "true" : "false");
}

GoJsonObject& GoJsonObject::message(std::string_view name, const Message& msg) {
  key(name);
  write_message(msg, out_);
  return *this;
}

GoJsonObject& GoJsonObject::embed(const Message& msg) {
  write_fields(msg, first_, out_);
  return *this;
}

}  // namespace etcd::ctl
