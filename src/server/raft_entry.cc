#include "server/raft_entry.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format.h>
#include <google/protobuf/wire_format_lite.h>

#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>

#include "base/go_json_string.h"
#include "serverpb/raft_internal.pb.h"

namespace etcd::server {

namespace {

using google::protobuf::internal::WireFormat;
using google::protobuf::internal::WireFormatLite;

constexpr int kHeaderField = 100;
constexpr int kV2Field = 2;

// A v2 method name: "GET", "PUT", "POST", "DELETE", "QGET", "SYNC", ...
// An encoded Request starts with a tag byte (0x08, 0x12, ...), never with
// an upper-case letter.
bool is_v2_method(std::string_view s) {
  if (s.empty() || s.size() > 16) return false;
  for (char c : s) {
    if (c < 'A' || c > 'Z') return false;
  }
  return true;
}

}  // namespace

EntryKind classify_entry(std::string_view data) {
  if (data.empty()) return EntryKind::kEmpty;
  const google::protobuf::Descriptor* d = serverpb::InternalRaftRequest::descriptor();
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(data.data()),
                                            static_cast<int>(data.size()));
  bool header = false;
  bool wrong_wire_type = false;
  bool method = false;
  while (in.CurrentPosition() < static_cast<int>(data.size())) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return EntryKind::kMalformed;  // cut short, or a tag that cannot be
    const int field = static_cast<int>(WireFormatLite::GetTagFieldNumber(tag));
    if (field == 0) return EntryKind::kMalformed;
    const auto wire = WireFormatLite::GetTagWireType(tag);
    if (field == kHeaderField) header = true;
    if (const auto* f = d->FindFieldByNumber(field); f && WireFormat::WireTypeForField(f) != wire) {
      wrong_wire_type = true;
    }
    if (field == kV2Field && wire == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      uint32_t len = 0;
      std::string s;
      if (!in.ReadVarint32(&len) || !in.ReadString(&s, static_cast<int>(len))) {
        return EntryKind::kMalformed;
      }
      if (is_v2_method(s)) method = true;
      continue;
    }
    if (!WireFormatLite::SkipField(&in, tag)) return EntryKind::kMalformed;
  }
  if (!header && (wrong_wire_type || method)) return EntryKind::kV2;
  return EntryKind::kInternal;
}

etcdserverpb::Request v2_request(uint64_t id, std::string method, std::string path,
                                 std::string val) {
  etcdserverpb::Request r;
  r.set_id(id);
  r.set_method(std::move(method));
  r.set_path(std::move(path));
  r.set_val(std::move(val));
  r.set_dir(false);
  r.set_prev_value("");
  r.set_prev_index(0);
  r.set_expiration(0);
  r.set_wait(false);
  r.set_since(0);
  r.set_recursive(false);
  r.set_sorted(false);
  r.set_quorum(false);
  r.set_time(0);
  r.set_stream(false);
  return r;
}

etcdserverpb::Request v2_sync_request(uint64_t id, int64_t time_ns) {
  etcdserverpb::Request r = v2_request(id, "SYNC");
  r.set_time(time_ns);
  return r;
}

std::string member_attributes_path(MemberId id) { return member_store_path(id) + "/attributes"; }

std::string member_store_path(MemberId id) { return "/0/members/" + to_hex(id); }

std::string member_raft_attributes_path(MemberId id) {
  return member_store_path(id) + "/raftAttributes";
}

std::string removed_member_store_path(MemberId id) { return "/0/removed_members/" + to_hex(id); }

std::optional<MemberId> member_of_attributes_path(std::string_view path) {
  constexpr std::string_view kPrefix = "/0/members/";
  constexpr std::string_view kSuffix = "/attributes";
  if (path.size() <= kPrefix.size() + kSuffix.size() || !path.starts_with(kPrefix) ||
      !path.ends_with(kSuffix)) {
    return std::nullopt;
  }
  const std::string_view hex =
      path.substr(kPrefix.size(), path.size() - kPrefix.size() - kSuffix.size());
  if (hex.size() > 16) return std::nullopt;
  uint64_t id = 0;
  auto [end, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), id, 16);
  if (ec != std::errc() || end != hex.data() + hex.size()) return std::nullopt;
  return MemberId(id);
}

namespace {

bool key_is(std::string_view key, std::string_view want) {
  // Go matches object keys to struct fields case-insensitively.
  if (key.size() != want.size()) return false;
  for (size_t i = 0; i < key.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(key[i])) !=
        std::tolower(static_cast<unsigned char>(want[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string attributes_json(const std::string& name, const std::vector<std::string>& client_urls) {
  std::string out = "{";
  if (!name.empty()) {
    out += "\"name\":";
    append_go_json_string(out, name);
  }
  if (!client_urls.empty()) {
    if (out.size() > 1) out += ',';
    out += "\"clientURLs\":[";
    for (size_t i = 0; i < client_urls.size(); ++i) {
      if (i) out += ',';
      append_go_json_string(out, client_urls[i]);
    }
    out += ']';
  }
  out += '}';
  return out;
}

std::string raft_attributes_json(const std::vector<std::string>& peer_urls, bool is_learner) {
  // Go's nil slice is null; etcd's members always have peer URLs.
  std::string out = "{\"peerURLs\":";
  if (peer_urls.empty()) {
    out += "null";
  } else {
    out += '[';
    for (size_t i = 0; i < peer_urls.size(); ++i) {
      if (i) out += ',';
      append_go_json_string(out, peer_urls[i]);
    }
    out += ']';
  }
  if (is_learner) out += ",\"isLearner\":true";
  out += '}';
  return out;
}

Result<membershippb::Attributes> parse_attributes_json(std::string_view json) {
  auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return invalid_argument("member attributes are not a JSON object");
  }
  membershippb::Attributes a;
  for (const auto& [key, v] : j.items()) {
    if (key_is(key, "name")) {
      if (v.is_null()) continue;
      if (!v.is_string()) return invalid_argument("member name is not a string");
      a.set_name(v.get<std::string>());
    } else if (key_is(key, "clientURLs")) {
      if (v.is_null()) continue;
      if (!v.is_array()) return invalid_argument("member clientURLs are not a list");
      for (const auto& u : v) {
        if (!u.is_string()) return invalid_argument("a member client URL is not a string");
        a.add_client_urls(u.get<std::string>());
      }
    }
  }
  return a;
}

bool is_cluster_version(std::string_view v) {
  int dots = 0;
  size_t digits = 0;
  for (char c : v) {
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (c == '.' && digits > 0 && dots < 2) {
      ++dots;
      digits = 0;
    } else {
      return false;
    }
  }
  return dots == 2 && digits > 0;
}

bool version_below(std::string_view v, int major, int minor) {
  int ma = 0;
  int mi = 0;
  const char* p = v.data();
  const char* end = v.data() + v.size();
  auto r = std::from_chars(p, end, ma);
  if (r.ec != std::errc() || r.ptr == end || *r.ptr != '.') return false;
  r = std::from_chars(r.ptr + 1, end, mi);
  if (r.ec != std::errc()) return false;
  return ma < major || (ma == major && mi < minor);
}

}  // namespace etcd::server
