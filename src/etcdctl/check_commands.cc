#include "etcdctl/global.h"

namespace etcd::ctl {

void add_check_commands(Command&) {}

}  // namespace etcd::ctl
