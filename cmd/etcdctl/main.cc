// etcdctl: the command-line client (src/etcdctl, docs/etcdctl.md).
#include "etcdctl/global.h"

int main(int argc, char** argv) { return etcd::ctl::run_etcdctl(argc, argv); }
