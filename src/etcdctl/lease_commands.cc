#include "etcdctl/global.h"

namespace etcd::ctl {

void add_lease_commands(Command&) {}

}  // namespace etcd::ctl
