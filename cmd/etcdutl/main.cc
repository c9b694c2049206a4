// etcdutl: the offline administration tool (snapshot status/restore,
// defrag, hashkv). The commands live in src/etcdutl.
#include <iostream>
#include <string>
#include <vector>

#include "etcdutl/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const int code = etcd::utl::run_cli(args, std::cout, std::cerr);
  std::cout.flush();
  return code;
}
