#include "etcdctl/global.h"

namespace etcd::ctl {

void add_maintenance_commands(Command&) {}

}  // namespace etcd::ctl
