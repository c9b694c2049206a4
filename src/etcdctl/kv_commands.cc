#include "etcdctl/global.h"

namespace etcd::ctl {

void add_kv_commands(Command&) {}

}  // namespace etcd::ctl
