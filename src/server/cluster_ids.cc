#include "server/cluster_ids.h"

#include <openssl/sha.h>

#include <algorithm>

#include "base/encoding.h"

namespace etcd::server {
namespace {

uint64_t sha1_prefix(const std::string& bytes) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return get_u64_be(digest);
}

}  // namespace

MemberId compute_member_id(std::vector<std::string> peer_urls, std::string_view token,
                           std::optional<int64_t> unix_time) {
  std::sort(peer_urls.begin(), peer_urls.end());
  std::string b;
  for (const auto& u : peer_urls) b += u;
  b += token;
  if (unix_time) b += std::to_string(*unix_time);
  return MemberId(sha1_prefix(b));
}

uint64_t compute_cluster_id(std::vector<MemberId> ids) {
  std::sort(ids.begin(), ids.end());
  std::string b;
  for (MemberId id : ids) append_u64_be(&b, id.value());
  return sha1_prefix(b);
}

Result<std::map<std::string, std::vector<std::string>>> parse_initial_cluster(
    std::string_view text) {
  std::map<std::string, std::vector<std::string>> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string_view item = text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    auto eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == item.size()) {
      return invalid_argument("invalid value \"" + std::string(item) +
                              "\" in --initial-cluster: expected name=peer-url");
    }
    out[std::string(item.substr(0, eq))].emplace_back(item.substr(eq + 1));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace etcd::server
