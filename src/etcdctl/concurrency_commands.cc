#include "etcdctl/global.h"

namespace etcd::ctl {

void add_concurrency_commands(Command&) {}

}  // namespace etcd::ctl
