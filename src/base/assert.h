// ASSERT for broken invariants, PANIC for states the process must not
// continue from (fsync failure, on-disk corruption). Both print where they
// fired and abort; neither is ever compiled out.
#pragma once

#include <source_location>
#include <string_view>

namespace etcd::detail {
[[noreturn]] void assert_failed(std::string_view kind, std::string_view expr,
                                std::string_view message, std::source_location loc);
}  // namespace etcd::detail

#define ASSERT(cond, ...)                                                                       \
  do {                                                                                          \
    if (!(cond)) [[unlikely]] {                                                                 \
      ::etcd::detail::assert_failed("assertion failed", #cond, ::std::string_view{__VA_ARGS__}, \
                                    ::std::source_location::current());                         \
    }                                                                                           \
  } while (0)

#define PANIC(message) \
  ::etcd::detail::assert_failed("panic", "", (message), ::std::source_location::current())
