// The entry point shared, for now, by etcdctl (the command-line client) and
// etcdutl (the offline administration tool), compiled once per tool with
// ETCD_TOOL_NAME and ETCD_TOOL_SUMMARY defined. Each knows its version and
// help; the commands arrive with the server and storage issues, which give
// each tool its own main.
#include <iostream>
#include <string>

#include "base/version.h"

namespace {

constexpr const char* kTool = ETCD_TOOL_NAME;

void print_help() {
  std::cout << "NAME:\n\t" << kTool << " - " << ETCD_TOOL_SUMMARY << "\n\n"
            << "USAGE:\n\t" << kTool << " [flags]\n\n"
            << "VERSION:\n\t" << etcd::kEtcdVersion << "\n\n"
            << "API VERSION:\n\t" << etcd::kApiVersion << "\n\n"
            << "COMMANDS:\n"
            << "\thelp\tHelp about any command\n"
            << "\tversion\tPrints the version of " << kTool << "\n\n"
            << "OPTIONS:\n"
            << "  -h, --help\thelp for " << kTool << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd.empty() || cmd == "help" || cmd == "-h" || cmd == "--help") {
    print_help();
    return 0;
  }
  if (cmd == "version" || cmd == "--version") {
    std::cout << kTool << " version: " << etcd::kEtcdVersion << "\n"
              << "API version: " << etcd::kApiVersion << "\n";
    return 0;
  }
  std::cerr << "Error: unknown command \"" << cmd << "\" for \"" << kTool << "\"\n"
            << "Run '" << kTool << " --help' for usage.\n";
  return 1;
}
