#include "etcdutl/defrag.h"

#include <chrono>

#include "base/duration.h"
#include "env/clock.h"
#include "env/file_system.h"
#include "etcdutl/db_reader.h"
#include "etcdutl/printer.h"
#include "storage/backend/backend.h"

namespace etcd::utl {
namespace {

std::string human(int64_t n) { return humanize_bytes(static_cast<uint64_t>(n)); }

}  // namespace

Result<DefragStats> defrag_data_dir(const std::string& data_dir, log::Logger* logger) {
  const std::string db =
      env::join_path(env::join_path(env::join_path(data_dir, "member"), "snap"), "db");
  // Backend::open would create a missing db: check first.
  RETURN_IF_ERROR(check_db_file(db));
  env::RealClock clock;
  backend::Options bo;
  bo.background_commit = false;
  bo.sync_mode = backend::SyncMode::kSync;
  auto opened = backend::Backend::open(db, bo, clock);
  if (!opened.is_ok()) return opened.status();
  std::unique_ptr<backend::Backend> be = std::move(opened).value();
  const int64_t size = be->size();
  const int64_t in_use = be->size_in_use();
  if (logger != nullptr) {
    logger->info("defragmenting", {{"path", db},
                                   {"current-db-size-bytes", size},
                                   {"current-db-size", human(size)},
                                   {"current-db-size-in-use-bytes", in_use},
                                   {"current-db-size-in-use", human(in_use)}});
  }
  const auto start = std::chrono::steady_clock::now();
  auto r = be->defrag();
  be->close();
  if (!r.is_ok()) return r.status();
  if (logger != nullptr) {
    logger->info("finished defragmenting directory",
                 {{"path", db},
                  {"current-db-size-bytes-diff", r->size_after - r->size_before},
                  {"current-db-size-bytes", r->size_after},
                  {"current-db-size", human(r->size_after)},
                  {"current-db-size-in-use-bytes", r->size_in_use_after},
                  {"current-db-size-in-use", human(r->size_in_use_after)},
                  {"took", format_go_duration(std::chrono::steady_clock::now() - start)}});
  }
  return DefragStats{r->size_before, r->size_after};
}

}  // namespace etcd::utl
