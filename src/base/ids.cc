#include "base/ids.h"

#include <cstdio>

namespace etcd {

std::string to_hex(MemberId id) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(id.value()));
  return buf;
}

std::string to_hex(LeaseId id) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%llx",
                static_cast<unsigned long long>(static_cast<uint64_t>(id.value())));
  return buf;
}

}  // namespace etcd
