#include "etcdctl/global.h"

namespace etcd::ctl {

void add_watch_command(Command&) {}

}  // namespace etcd::ctl
