#include "rpc/gateway/go_json.h"

#include <google/protobuf/descriptor.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <vector>

namespace etcd::rpc::gateway {

namespace pb = google::protobuf;

namespace {

// ---------------------------------------------------------------------------
// Syntax: a recursive-descent check of one JSON value that fails with the
// texts of Go's encoding/json scanner.

struct SyntaxError {
  bool incomplete = false;  // the input ended inside the value
  std::string message;      // else Go's SyntaxError text
};

// Go's quoteChar: the offending byte as Go prints it in a syntax error.
std::string quote_char(unsigned char c) {
  if (c == '\'') return "'\\''";
  if (c == '"') return "'\"'";
  std::string body;
  switch (c) {
    case '\a':
      body = "\\a";
      break;
    case '\b':
      body = "\\b";
      break;
    case '\f':
      body = "\\f";
      break;
    case '\n':
      body = "\\n";
      break;
    case '\r':
      body = "\\r";
      break;
    case '\t':
      body = "\\t";
      break;
    case '\v':
      body = "\\v";
      break;
    case '\\':
      body = "\\\\";
      break;
    default: {
      char buf[16];
      if (c < 0x20 || c == 0x7f) {
        std::snprintf(buf, sizeof buf, "\\x%02x", c);
        body = buf;
      } else if (c < 0x80) {
        body = std::string(1, static_cast<char>(c));
      } else if (c < 0xa1 || c == 0xad) {
        // Go treats the byte as the rune U+00XX; these are not printable.
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        body = buf;
      } else {
        body.push_back(static_cast<char>(0xc0 | (c >> 6)));
        body.push_back(static_cast<char>(0x80 | (c & 0x3f)));
      }
    }
  }
  return "'" + body + "'";
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

class Scanner {
 public:
  explicit Scanner(std::string_view s, size_t pos = 0) : s_(s), pos_(pos) {}

  // Skips white space; false at the end of the input.
  bool skip_space() {
    while (pos_ < s_.size() && is_space(s_[pos_])) ++pos_;
    return pos_ < s_.size();
  }
  size_t pos() const { return pos_; }

  // Checks one value starting at pos() (white space before it skipped).
  std::optional<SyntaxError> value() {
    if (!skip_space()) return incomplete();
    char c = s_[pos_];
    if (c == '{') return object();
    if (c == '[') return array();
    if (c == '"') return string();
    if (c == '-' || is_digit(c)) return number();
    if (c == 't') return literal("true");
    if (c == 'f') return literal("false");
    if (c == 'n') return literal("null");
    return error("looking for beginning of value");
  }

 private:
  static std::optional<SyntaxError> incomplete() { return SyntaxError{true, ""}; }
  std::optional<SyntaxError> error(std::string_view context) {
    return SyntaxError{false, "invalid character " +
                                  quote_char(static_cast<unsigned char>(s_[pos_])) + " " +
                                  std::string(context)};
  }

  std::optional<SyntaxError> object() {
    ++pos_;  // '{'
    if (!skip_space()) return incomplete();
    if (s_[pos_] == '}') {
      ++pos_;
      return std::nullopt;
    }
    while (true) {
      if (!skip_space()) return incomplete();
      if (s_[pos_] != '"') return error("looking for beginning of object key string");
      if (auto e = string()) return e;
      if (!skip_space()) return incomplete();
      if (s_[pos_] != ':') return error("after object key");
      ++pos_;
      if (auto e = value()) return e;
      if (!skip_space()) return incomplete();
      if (s_[pos_] == '}') {
        ++pos_;
        return std::nullopt;
      }
      if (s_[pos_] != ',') return error("after object key:value pair");
      ++pos_;
    }
  }

  std::optional<SyntaxError> array() {
    ++pos_;  // '['
    if (!skip_space()) return incomplete();
    if (s_[pos_] == ']') {
      ++pos_;
      return std::nullopt;
    }
    while (true) {
      if (auto e = value()) return e;
      if (!skip_space()) return incomplete();
      if (s_[pos_] == ']') {
        ++pos_;
        return std::nullopt;
      }
      if (s_[pos_] != ',') return error("after array element");
      ++pos_;
    }
  }

  std::optional<SyntaxError> string() {
    ++pos_;  // '"'
    while (true) {
      if (pos_ >= s_.size()) return incomplete();
      unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        return std::nullopt;
      }
      if (c < 0x20) return error("in string literal");
      if (c != '\\') {
        ++pos_;
        continue;
      }
      ++pos_;
      if (pos_ >= s_.size()) return incomplete();
      char e = s_[pos_];
      if (e == 'u') {
        ++pos_;
        for (int i = 0; i < 4; ++i, ++pos_) {
          if (pos_ >= s_.size()) return incomplete();
          if (!is_hex(s_[pos_])) return error("in \\u hexadecimal character escape");
        }
        continue;
      }
      if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
        return error("in string escape code");
      }
      ++pos_;
    }
  }

  std::optional<SyntaxError> number() {
    if (s_[pos_] == '-') {
      ++pos_;
      if (pos_ >= s_.size()) return incomplete();
      if (!is_digit(s_[pos_])) return error("in numeric literal");
    }
    if (s_[pos_] == '0') {
      ++pos_;
    } else {
      while (pos_ < s_.size() && is_digit(s_[pos_])) ++pos_;
    }
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      if (pos_ >= s_.size()) return incomplete();
      if (!is_digit(s_[pos_])) return error("after decimal point in numeric literal");
      while (pos_ < s_.size() && is_digit(s_[pos_])) ++pos_;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (pos_ >= s_.size()) return incomplete();
      if (!is_digit(s_[pos_])) return error("in exponent of numeric literal");
      while (pos_ < s_.size() && is_digit(s_[pos_])) ++pos_;
    }
    return std::nullopt;
  }

  std::optional<SyntaxError> literal(std::string_view word) {
    ++pos_;
    for (size_t i = 1; i < word.size(); ++i, ++pos_) {
      if (pos_ >= s_.size()) return incomplete();
      if (s_[pos_] != word[i]) {
        return error("in literal " + std::string(word) + " (expecting " +
                     quote_char(static_cast<unsigned char>(word[i])) + ")");
      }
    }
    return std::nullopt;
  }

  std::string_view s_;
  size_t pos_;
};

// Go's json.Unmarshal validity check of a whole input: one value and
// nothing but white space after it.
std::optional<std::string> check_valid(std::string_view s) {
  Scanner sc(s);
  if (auto e = sc.value()) {
    if (e->incomplete) return std::string("unexpected end of JSON input");
    return e->message;
  }
  if (sc.skip_space()) {
    return "invalid character " + quote_char(static_cast<unsigned char>(s[sc.pos()])) +
           " after top-level value";
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// A parsed (already valid) JSON value.

struct Member;

struct Value {
  enum Kind { kNull, kBool, kNumber, kString, kArray, kObject } kind = kNull;
  std::string_view raw;  // the value's text as sent
  bool boolean = false;
  std::string str;  // a string, unescaped
  std::vector<Value> elems;
  std::vector<Member> members;  // an object's, in order
};

struct Member {
  std::string key;  // unescaped
  Value value;
};

const char* kind_name(Value::Kind k) {
  switch (k) {
    case Value::kNull:
      return "null";
    case Value::kBool:
      return "bool";
    case Value::kNumber:
      return "number";
    case Value::kString:
      return "string";
    case Value::kArray:
      return "array";
    case Value::kObject:
      return "object";
  }
  return "?";
}

void append_utf8(std::string* out, uint32_t r) {
  if (r < 0x80) {
    out->push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    out->push_back(static_cast<char>(0xc0 | (r >> 6)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3f)));
  } else if (r < 0x10000) {
    out->push_back(static_cast<char>(0xe0 | (r >> 12)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3f)));
  } else {
    out->push_back(static_cast<char>(0xf0 | (r >> 18)));
    out->push_back(static_cast<char>(0x80 | ((r >> 12) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3f)));
  }
}

constexpr uint32_t kRuneError = 0xfffd;

// Decodes one UTF-8 sequence at s[i]; returns its length, or 0 if invalid.
size_t utf8_len(std::string_view s, size_t i, uint32_t* rune) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) {
    *rune = c;
    return 1;
  }
  size_t n;
  uint32_t r;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    r = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    r = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    r = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
    r = (r << 6) | (b(i + k) & 0x3f);
  }
  if ((n == 3 && r < 0x800) || (n == 4 && (r < 0x10000 || r > 0x10ffff)) ||
      (r >= 0xd800 && r <= 0xdfff)) {
    return 0;
  }
  *rune = r;
  return n;
}

uint32_t hex4(std::string_view s) {
  uint32_t v = 0;
  for (char c : s.substr(0, 4)) {
    v <<= 4;
    if (is_digit(c)) {
      v |= static_cast<uint32_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      v |= static_cast<uint32_t>(c - 'a' + 10);
    } else {
      v |= static_cast<uint32_t>(c - 'A' + 10);
    }
  }
  return v;
}

// Unescapes the text between the quotes of a valid JSON string as Go does
// (bad surrogates and invalid UTF-8 become U+FFFD).
std::string unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    char c = s[i];
    if (c == '\\') {
      char e = s[i + 1];
      i += 2;
      switch (e) {
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          uint32_t r = hex4(s.substr(i));
          i += 4;
          if (r >= 0xd800 && r < 0xdc00) {
            if (i + 6 <= s.size() && s[i] == '\\' && s[i + 1] == 'u') {
              uint32_t lo = hex4(s.substr(i + 2));
              if (lo >= 0xdc00 && lo < 0xe000) {
                i += 6;
                append_utf8(&out, 0x10000 + ((r - 0xd800) << 10) + (lo - 0xdc00));
                break;
              }
            }
            r = kRuneError;
          } else if (r >= 0xdc00 && r < 0xe000) {
            r = kRuneError;
          }
          append_utf8(&out, r);
          break;
        }
        default:
          out.push_back(e);  // '"', '\\', '/'
      }
      continue;
    }
    uint32_t r;
    size_t n = utf8_len(s, i, &r);
    if (n == 0) {
      append_utf8(&out, kRuneError);
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

// Parses a value that check_valid or Scanner accepted.
class Parser {
 public:
  explicit Parser(std::string_view s, size_t pos = 0) : s_(s), pos_(pos) {}
  size_t pos() const { return pos_; }

  Value value() {
    skip();
    Value v;
    size_t begin = pos_;
    char c = s_[pos_];
    if (c == '{') {
      v.kind = Value::kObject;
      ++pos_;
      skip();
      if (s_[pos_] == '}') {
        ++pos_;
      } else {
        while (true) {
          skip();
          std::string key = string_body();
          skip();
          ++pos_;  // ':'
          Value member = value();
          v.members.push_back(Member{std::move(key), std::move(member)});
          skip();
          if (s_[pos_++] == '}') break;  // else ','
        }
      }
    } else if (c == '[') {
      v.kind = Value::kArray;
      ++pos_;
      skip();
      if (s_[pos_] == ']') {
        ++pos_;
      } else {
        while (true) {
          v.elems.push_back(value());
          skip();
          if (s_[pos_++] == ']') break;
        }
      }
    } else if (c == '"') {
      v.kind = Value::kString;
      v.str = string_body();
    } else if (c == 't' || c == 'f' || c == 'n') {
      v.kind = c == 'n' ? Value::kNull : Value::kBool;
      v.boolean = c == 't';
      pos_ += c == 'f' ? 5 : 4;
    } else {
      v.kind = Value::kNumber;
      while (pos_ < s_.size() && (is_digit(s_[pos_]) || s_[pos_] == '-' || s_[pos_] == '+' ||
                                  s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E')) {
        ++pos_;
      }
    }
    v.raw = s_.substr(begin, pos_ - begin);
    return v;
  }

 private:
  void skip() {
    while (pos_ < s_.size() && is_space(s_[pos_])) ++pos_;
  }
  std::string string_body() {
    size_t begin = ++pos_;
    while (s_[pos_] != '"') pos_ += s_[pos_] == '\\' ? 2 : 1;
    return unescape(s_.substr(begin, pos_++ - begin));
  }

  std::string_view s_;
  size_t pos_;
};

// ---------------------------------------------------------------------------
// Go's %q of a byte string (strconv.Quote).

std::string go_quote(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    uint32_t r;
    size_t n = utf8_len(s, i, &r);
    char buf[16];
    if (n == 0) {
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(s[i]));
      out += buf;
      ++i;
      continue;
    }
    if (r == '"' || r == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(r));
    } else if (r == '\n') {
      out += "\\n";
    } else if (r == '\r') {
      out += "\\r";
    } else if (r == '\t') {
      out += "\\t";
    } else if (r < 0x20 || r == 0x7f) {
      std::snprintf(buf, sizeof buf, "\\x%02x", r);
      out += buf;
    } else if (r >= 0x80 && r < 0xa0) {
      std::snprintf(buf, sizeof buf, "\\u%04x", r);
      out += buf;
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  out.push_back('"');
  return out;
}

// ---------------------------------------------------------------------------
// Values into messages, following jsonpb's unmarshalValue.

std::string type_error(std::string_view what, std::string_view go_type) {
  return "json: cannot unmarshal " + std::string(what) + " into Go value of type " +
         std::string(go_type);
}

// The Go type name of a generated enum: "etcdserverpb.RangeRequest_SortOrder".
std::string go_enum_name(const pb::EnumDescriptor* e) {
  const std::string& pkg = e->file()->package();
  std::string rest = e->full_name().substr(pkg.empty() ? 0 : pkg.size() + 1);
  for (char& c : rest) {
    if (c == '.') c = '_';
  }
  return pkg.empty() ? rest : pkg + "." + rest;
}

const char* go_int_name(const pb::FieldDescriptor* f) {
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32:
      return "int32";
    case pb::FieldDescriptor::CPPTYPE_INT64:
      return "int64";
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      return "uint32";
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      return "uint64";
    default:
      return "int32";
  }
}

// strconv.ParseInt/ParseUint of a JSON number's text, range-checked.
bool parse_integer(std::string_view raw, bool is_signed, int bits, int64_t* si, uint64_t* ui) {
  std::string text(raw);
  if (text.empty()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!(is_digit(text[i]) || (i == 0 && text[i] == '-' && is_signed))) return false;
  }
  if (text == "-") return false;
  errno = 0;
  char* end = nullptr;
  if (is_signed) {
    long long v = std::strtoll(text.c_str(), &end, 10);
    if (errno != 0) return false;
    if (bits == 32 &&
        (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())) {
      return false;
    }
    *si = v;
  } else {
    unsigned long long v = std::strtoull(text.c_str(), &end, 10);
    if (errno != 0) return false;
    if (bits == 32 && v > std::numeric_limits<uint32_t>::max()) return false;
    *ui = v;
  }
  return true;
}

// Go's base64.StdEncoding.Decode, with its error offsets.
std::optional<std::string> base64_decode(std::string_view src, std::string* out) {
  auto decode = [](unsigned char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  auto corrupt = [](size_t at) {
    return std::optional<std::string>("illegal base64 data at input byte " + std::to_string(at));
  };
  size_t si = 0;
  while (si < src.size()) {
    int dbuf[4] = {0, 0, 0, 0};
    int dlen = 4;
    std::optional<std::string> err;
    for (int j = 0; j < 4; ++j) {
      if (si == src.size()) {
        if (j == 0) return std::nullopt;
        return corrupt(si - static_cast<size_t>(j));
      }
      unsigned char in = static_cast<unsigned char>(src[si++]);
      int d = decode(in);
      if (d >= 0) {
        dbuf[j] = d;
        continue;
      }
      if (in == '\n' || in == '\r') {
        --j;
        continue;
      }
      if (in != '=') return corrupt(si - 1);
      if (j == 0 || j == 1) return corrupt(si - 1);
      if (j == 2) {
        while (si < src.size() && (src[si] == '\n' || src[si] == '\r')) ++si;
        if (si == src.size()) return corrupt(src.size());
        if (src[si] != '=') return corrupt(si - 1);
        ++si;
      }
      while (si < src.size() && (src[si] == '\n' || src[si] == '\r')) ++si;
      if (si < src.size()) err = corrupt(si);
      dlen = j;
      break;
    }
    uint32_t v = (static_cast<uint32_t>(dbuf[0]) << 18) | (static_cast<uint32_t>(dbuf[1]) << 12) |
                 (static_cast<uint32_t>(dbuf[2]) << 6) | static_cast<uint32_t>(dbuf[3]);
    if (dlen >= 2) out->push_back(static_cast<char>(v >> 16));
    if (dlen >= 3) out->push_back(static_cast<char>((v >> 8) & 0xff));
    if (dlen >= 4) out->push_back(static_cast<char>(v & 0xff));
    if (err) return err;
  }
  return std::nullopt;
}

class MessageReader {
 public:
  // jsonpb's handling of a message value (nested or the whole body).
  std::optional<std::string> message(const Value& v, pb::Message* m) {
    if (v.kind == Value::kNull) return std::nullopt;
    if (v.kind != Value::kObject) {
      return type_error(kind_name(v.kind), "map[string]json.RawMessage");
    }
    // Go reads the object into a map: the last of duplicate keys counts.
    std::map<std::string_view, const Value*> fields;
    for (const auto& [k, val] : v.members) fields[k] = &val;
    auto lookup = [&](const pb::FieldDescriptor* f) -> const Value* {
      // Both names accepted; the lowerCamelCase one wins if both are sent.
      auto camel = fields.find(f->json_name());
      if (camel != fields.end()) return camel->second;
      auto orig = fields.find(f->name());
      return orig == fields.end() ? nullptr : orig->second;
    };
    const pb::Descriptor* d = m->GetDescriptor();
    // Plain fields first, in declaration order, then the oneof members.
    for (int pass = 0; pass < 2; ++pass) {
      for (int i = 0; i < d->field_count(); ++i) {
        const pb::FieldDescriptor* f = d->field(i);
        bool in_oneof = f->real_containing_oneof() != nullptr;
        if (in_oneof != (pass == 1)) continue;
        const Value* fv = lookup(f);
        if (fv == nullptr) continue;
        if (auto e = field(*fv, f, m)) return e;
      }
    }
    return std::nullopt;
  }

 private:
  std::optional<std::string> field(const Value& v, const pb::FieldDescriptor* f, pb::Message* m) {
    if (!f->is_repeated()) return single(v, f, m);
    if (f->is_map()) return std::string("unsupported map field ") + f->name();
    if (v.kind == Value::kNull) return std::nullopt;
    if (v.kind != Value::kArray) return type_error(kind_name(v.kind), "[]json.RawMessage");
    for (const Value& e : v.elems) {
      if (auto err = single(e, f, m)) return err;
    }
    return std::nullopt;
  }

  // One value of field f: set (or appended, for a repeated field) in m.
  std::optional<std::string> single(const Value& v, const pb::FieldDescriptor* f, pb::Message* m) {
    const pb::Reflection* r = m->GetReflection();
    bool rep = f->is_repeated();
    // A oneof member that is present is set even when its value is null.
    bool oneof = f->real_containing_oneof() != nullptr;
    switch (f->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_MESSAGE: {
        if (v.kind == Value::kNull) {
          if (rep) r->AddMessage(m, f);
          if (oneof) r->MutableMessage(m, f);
          return std::nullopt;
        }
        return message(v, rep ? r->AddMessage(m, f) : r->MutableMessage(m, f));
      }
      case pb::FieldDescriptor::CPPTYPE_ENUM: {
        if (v.kind == Value::kString) {
          std::string_view name = v.raw.substr(1, v.raw.size() - 2);
          const pb::EnumValueDescriptor* ev = f->enum_type()->FindValueByName(std::string(name));
          if (ev == nullptr) {
            return "unknown value " + go_quote(name) + " for enum " + go_enum_name(f->enum_type());
          }
          if (rep) {
            r->AddEnumValue(m, f, ev->number());
          } else {
            r->SetEnumValue(m, f, ev->number());
          }
          return std::nullopt;
        }
        int64_t n = 0;
        uint64_t u = 0;
        if (auto e = integer(v, true, 32, go_enum_name(f->enum_type()), &n, &u)) return e;
        if (rep) {
          r->AddEnumValue(m, f, static_cast<int>(n));
        } else {
          r->SetEnumValue(m, f, static_cast<int>(n));
        }
        return std::nullopt;
      }
      case pb::FieldDescriptor::CPPTYPE_INT32:
      case pb::FieldDescriptor::CPPTYPE_INT64:
      case pb::FieldDescriptor::CPPTYPE_UINT32:
      case pb::FieldDescriptor::CPPTYPE_UINT64: {
        bool is_signed = f->cpp_type() == pb::FieldDescriptor::CPPTYPE_INT32 ||
                         f->cpp_type() == pb::FieldDescriptor::CPPTYPE_INT64;
        int bits = (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_INT32 ||
                    f->cpp_type() == pb::FieldDescriptor::CPPTYPE_UINT32)
                       ? 32
                       : 64;
        int64_t n = 0;
        uint64_t u = 0;
        if (v.kind == Value::kString) {
          // jsonpb drops the quotes of a quoted number and parses the rest
          // as JSON.
          std::string_view inner = v.raw.substr(1, v.raw.size() - 2);
          if (auto e = check_valid(inner)) return e;
          Value iv = Parser(inner).value();
          if (auto e = integer(iv, is_signed, bits, go_int_name(f), &n, &u)) return e;
        } else if (auto e = integer(v, is_signed, bits, go_int_name(f), &n, &u)) {
          return e;
        }
        switch (f->cpp_type()) {
          case pb::FieldDescriptor::CPPTYPE_INT32:
            rep ? r->AddInt32(m, f, static_cast<int32_t>(n))
                : r->SetInt32(m, f, static_cast<int32_t>(n));
            break;
          case pb::FieldDescriptor::CPPTYPE_INT64:
            rep ? r->AddInt64(m, f, n) : r->SetInt64(m, f, n);
            break;
          case pb::FieldDescriptor::CPPTYPE_UINT32:
            rep ? r->AddUInt32(m, f, static_cast<uint32_t>(u))
                : r->SetUInt32(m, f, static_cast<uint32_t>(u));
            break;
          default:
            rep ? r->AddUInt64(m, f, u) : r->SetUInt64(m, f, u);
        }
        return std::nullopt;
      }
      case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      case pb::FieldDescriptor::CPPTYPE_FLOAT: {
        bool dbl = f->cpp_type() == pb::FieldDescriptor::CPPTYPE_DOUBLE;
        const char* go_type = dbl ? "float64" : "float32";
        double d = 0;
        std::string_view text = v.raw;
        if (v.kind == Value::kString) {
          if (v.str == "NaN" || v.str == "Infinity" || v.str == "-Infinity") {
            d = v.str == "NaN"        ? std::numeric_limits<double>::quiet_NaN()
                : v.str == "Infinity" ? std::numeric_limits<double>::infinity()
                                      : -std::numeric_limits<double>::infinity();
            text = {};
          } else {
            text = v.raw.substr(1, v.raw.size() - 2);
            if (auto e = check_valid(text)) return e;
          }
        }
        if (!text.empty()) {
          Value nv = Parser(text).value();
          if (nv.kind == Value::kNull) return std::nullopt;
          if (nv.kind != Value::kNumber) return type_error(kind_name(nv.kind), go_type);
          d = std::strtod(std::string(nv.raw).c_str(), nullptr);
        }
        if (dbl) {
          rep ? r->AddDouble(m, f, d) : r->SetDouble(m, f, d);
        } else {
          rep ? r->AddFloat(m, f, static_cast<float>(d)) : r->SetFloat(m, f, static_cast<float>(d));
        }
        return std::nullopt;
      }
      case pb::FieldDescriptor::CPPTYPE_BOOL: {
        if (v.kind == Value::kNull) {
          if (rep || oneof) rep ? r->AddBool(m, f, false) : r->SetBool(m, f, false);
          return std::nullopt;
        }
        if (v.kind != Value::kBool) return type_error(kind_name(v.kind), "bool");
        rep ? r->AddBool(m, f, v.boolean) : r->SetBool(m, f, v.boolean);
        return std::nullopt;
      }
      case pb::FieldDescriptor::CPPTYPE_STRING: {
        std::string out;
        if (f->type() == pb::FieldDescriptor::TYPE_BYTES) {
          if (auto e = bytes(v, &out)) return e;
        } else if (v.kind == Value::kString) {
          out = v.str;
        } else if (v.kind != Value::kNull) {
          return type_error(kind_name(v.kind), "string");
        }
        if (v.kind == Value::kNull && !rep && !oneof) return std::nullopt;
        rep ? r->AddString(m, f, std::move(out)) : r->SetString(m, f, std::move(out));
        return std::nullopt;
      }
    }
    return std::nullopt;
  }

  // encoding/json's integers: a number that parses in range, or null.
  std::optional<std::string> integer(const Value& v, bool is_signed, int bits,
                                     std::string_view go_type, int64_t* n, uint64_t* u) {
    if (v.kind == Value::kNull) return std::nullopt;
    if (v.kind != Value::kNumber) return type_error(kind_name(v.kind), go_type);
    if (!parse_integer(v.raw, is_signed, bits, n, u)) {
      return type_error("number " + std::string(v.raw), go_type);
    }
    return std::nullopt;
  }

  // encoding/json's []byte: base64 in a string, or an array of numbers.
  std::optional<std::string> bytes(const Value& v, std::string* out) {
    switch (v.kind) {
      case Value::kNull:
        return std::nullopt;
      case Value::kString:
        return base64_decode(v.str, out);
      case Value::kArray:
        for (const Value& e : v.elems) {
          if (e.kind == Value::kNull) {
            out->push_back(0);
            continue;
          }
          if (e.kind != Value::kNumber) return type_error(kind_name(e.kind), "uint8");
          int64_t n = 0;
          uint64_t u = 0;
          if (!parse_integer(e.raw, false, 32, &n, &u) || u > 255) {
            return type_error("number " + std::string(e.raw), "uint8");
          }
          out->push_back(static_cast<char>(u));
        }
        return std::nullopt;
      default:
        return type_error(kind_name(v.kind), "[]uint8");
    }
  }
};

// ---------------------------------------------------------------------------
// Messages out, as jsonpb writes them (OrigName, defaults omitted).

const char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(std::string_view s) {
  std::string out;
  out.reserve((s.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= s.size(); i += 3) {
    uint32_t v = (static_cast<uint32_t>(static_cast<unsigned char>(s[i])) << 16) |
                 (static_cast<uint32_t>(static_cast<unsigned char>(s[i + 1])) << 8) |
                 static_cast<unsigned char>(s[i + 2]);
    out.push_back(kBase64[v >> 18]);
    out.push_back(kBase64[(v >> 12) & 63]);
    out.push_back(kBase64[(v >> 6) & 63]);
    out.push_back(kBase64[v & 63]);
  }
  size_t rest = s.size() - i;
  if (rest > 0) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(s[i])) << 16;
    if (rest == 2) v |= static_cast<uint32_t>(static_cast<unsigned char>(s[i + 1])) << 8;
    out.push_back(kBase64[v >> 18]);
    out.push_back(kBase64[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kBase64[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

void write_message(const pb::Message& m, std::string* out);

void write_value(const pb::Message& m, const pb::FieldDescriptor* f, int index, std::string* out) {
  const pb::Reflection* r = m.GetReflection();
  bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32:
      *out += std::to_string(rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
      break;
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      *out += std::to_string(rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
      break;
    case pb::FieldDescriptor::CPPTYPE_INT64:
      *out +=
          "\"" + std::to_string(rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f)) + "\"";
      break;
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      *out += "\"" + std::to_string(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f)) +
              "\"";
      break;
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
    case pb::FieldDescriptor::CPPTYPE_FLOAT: {
      double d = f->cpp_type() == pb::FieldDescriptor::CPPTYPE_DOUBLE
                     ? (rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f))
                     : (rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f));
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.17g", d);
      *out += buf;
      break;
    }
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      *out += (rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false";
      break;
    case pb::FieldDescriptor::CPPTYPE_ENUM: {
      int n = rep ? r->GetRepeatedEnumValue(m, f, index) : r->GetEnumValue(m, f);
      const pb::EnumValueDescriptor* ev = f->enum_type()->FindValueByNumber(n);
      *out += ev != nullptr ? "\"" + ev->name() + "\"" : std::to_string(n);
      break;
    }
    case pb::FieldDescriptor::CPPTYPE_STRING: {
      std::string s = rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
      *out += f->type() == pb::FieldDescriptor::TYPE_BYTES ? "\"" + base64_encode(s) + "\""
                                                           : go_json_string(s);
      break;
    }
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      write_message(rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f), out);
      break;
  }
}

void write_message(const pb::Message& m, std::string* out) {
  const pb::Descriptor* d = m.GetDescriptor();
  const pb::Reflection* r = m.GetReflection();
  out->push_back('{');
  bool first = true;
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    if (f->is_repeated()) {
      if (r->FieldSize(m, f) == 0) continue;
    } else if (f->real_containing_oneof() != nullptr || f->has_presence()) {
      // Messages and oneof members: written when set, even if empty.
      if (!r->HasField(m, f)) continue;
    } else if (!r->HasField(m, f)) {
      continue;  // a proto3 scalar at its default
    }
    if (!first) out->push_back(',');
    first = false;
    *out += "\"" + f->name() + "\":";
    if (f->is_repeated()) {
      out->push_back('[');
      for (int k = 0; k < r->FieldSize(m, f); ++k) {
        if (k > 0) out->push_back(',');
        write_value(m, f, k, out);
      }
      out->push_back(']');
    } else {
      write_value(m, f, -1, out);
    }
  }
  out->push_back('}');
}

}  // namespace

DecodeResult JsonBodyDecoder::next(pb::Message* msg, std::string* error) {
  Scanner sc(body_, pos_);
  if (!sc.skip_space()) {
    pos_ = body_.size();
    return DecodeResult::kEof;
  }
  size_t begin = sc.pos();
  if (auto e = sc.value()) {
    pos_ = body_.size();
    *error = e->incomplete ? "unexpected EOF" : e->message;
    return DecodeResult::kError;
  }
  pos_ = sc.pos();
  Value v = Parser(body_.substr(0, pos_), begin).value();
  if (auto e = MessageReader().message(v, msg)) {
    *error = *e;
    return DecodeResult::kError;
  }
  return DecodeResult::kOk;
}

std::string message_to_json(const pb::Message& msg) {
  std::string out;
  write_message(msg, &out);
  return out;
}

}  // namespace etcd::rpc::gateway
