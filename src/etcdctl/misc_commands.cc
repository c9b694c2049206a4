#include "etcdctl/global.h"

namespace etcd::ctl {

void add_misc_commands(Command&) {}

}  // namespace etcd::ctl
