#include "base/assert.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace etcd::detail {

void assert_failed(std::string_view kind, std::string_view expr, std::string_view message,
                   std::source_location loc) {
  std::string line = std::string(kind) + " at " + loc.file_name() + ":" +
                     std::to_string(loc.line()) + " in " + loc.function_name();
  if (!expr.empty()) line += ": " + std::string(expr);
  if (!message.empty()) line += ": " + std::string(message);
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace etcd::detail
