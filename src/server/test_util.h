// Helpers shared by the server's unit tests (test code only).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "env/clock.h"
#include "storage/backend/backend.h"

namespace etcd::server::testing_util {

// An empty directory for the running test:
// <TempDir>/<prefix>_<pid>_<test name>.
inline std::filesystem::path fresh_test_dir(const std::string& prefix) {
  auto dir = std::filesystem::path(::testing::TempDir()) /
             (prefix + "_" + std::to_string(::getpid()) + "_" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(dir);
  return dir;
}

// A backend in dir/db that commits synchronously, with a small map.
inline std::unique_ptr<backend::Backend> open_test_backend(const std::filesystem::path& dir,
                                                           env::Clock& clock) {
  backend::Options o;
  o.background_commit = false;
  o.map_size_bytes = uint64_t{64} << 20;
  auto b = backend::Backend::open((dir / "db").string(), o, clock);
  EXPECT_TRUE(b.is_ok()) << b.status().to_string();
  return b.is_ok() ? std::move(b).value() : nullptr;
}

}  // namespace etcd::server::testing_util
