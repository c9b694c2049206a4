#include "etcdctl/global.h"

namespace etcd::ctl {

void add_mirror_command(Command&) {}

}  // namespace etcd::ctl
