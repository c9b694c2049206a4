// Helpers shared by the backend's unit tests.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>

#include <filesystem>
#include <memory>
#include <string>

#include "env/clock.h"
#include "storage/backend/backend.h"

namespace etcd::backend::testing {

// A fresh directory under $TMPDIR (or /tmp), removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/backend_test.XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp " << tmpl;
      std::abort();
    }
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Deterministic options: no committer thread, a manual clock decides intervals.
inline Options manual_options() {
  Options o;
  o.background_commit = false;
  o.map_size_bytes = uint64_t{64} << 20;
  return o;
}

inline std::unique_ptr<Backend> must_open(const std::string& path, const Options& options,
                                          env::Clock& clock) {
  auto b = Backend::open(path, options, clock);
  EXPECT_TRUE(b.is_ok()) << b.status().to_string();
  return b.is_ok() ? std::move(b).value() : nullptr;
}

}  // namespace etcd::backend::testing
