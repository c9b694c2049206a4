#include "server/data_dir_check.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "env/posix_file_system.h"

namespace etcd::server {
namespace {

TEST(DataDirCheck, GoFileModeText) {
  EXPECT_EQ(go_file_mode(0755, true), "drwxr-xr-x");
  EXPECT_EQ(go_file_mode(0700, false), "-rwx------");
  EXPECT_EQ(go_file_mode(0644, false), "-rw-r--r--");
}

TEST(DataDirCheck, WarnsAboutWhatOthersCanReadAndNothingElse) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("ddcheck-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  std::ostringstream out;
  log::Logger logger(log::Level::kInfo, {std::make_shared<spdlog::sinks::ostream_sink_mt>(out)},
                     [] { return int64_t{0}; });
  env::PosixFileSystem pfs;
  // Not there yet: nothing to say.
  EXPECT_TRUE(warn_loose_permissions(pfs, dir.string(), logger).empty());
  fs::create_directories(dir / "member" / "snap");
  ::chmod(dir.c_str(), 0700);
  ::chmod((dir / "member").c_str(), 0700);
  ::chmod((dir / "member" / "snap").c_str(), 0700);
  std::ofstream(dir / "member" / "snap" / "db") << "x";
  ::chmod((dir / "member" / "snap" / "db").c_str(), 0600);
  EXPECT_TRUE(warn_loose_permissions(pfs, dir.string(), logger).empty());
  EXPECT_EQ(out.str(), "");

  ::chmod(dir.c_str(), 0755);
  ::chmod((dir / "member" / "snap" / "db").c_str(), 0644);
  auto warned = warn_loose_permissions(pfs, dir.string(), logger);
  EXPECT_EQ(warned, (std::vector<std::string>{dir.string(), (dir / "member/snap/db").string()}));
  const std::string text = out.str();
  EXPECT_NE(text.find("check file permission"), std::string::npos);
  EXPECT_NE(text.find("directory \\\"" + dir.string() +
                      "\\\" exist, but the permission is \\\"drwxr-xr-x\\\". The recommended "
                      "permission is \\\"-rwx------\\\""),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("the permission is \\\"-rw-r--r--\\\". The recommended permission is "
                      "\\\"-rw-------\\\""),
            std::string::npos)
      << text;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace etcd::server
