#include "etcdctl/global.h"

namespace etcd::ctl {

void add_endpoint_commands(Command&) {}

}  // namespace etcd::ctl
