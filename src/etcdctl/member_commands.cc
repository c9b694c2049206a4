#include "etcdctl/global.h"

namespace etcd::ctl {

void add_member_commands(Command&) {}

}  // namespace etcd::ctl
