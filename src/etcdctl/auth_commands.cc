#include "etcdctl/global.h"

namespace etcd::ctl {

void add_auth_commands(Command&) {}

}  // namespace etcd::ctl
