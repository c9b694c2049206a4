// The process_* and os_fd_* metrics Go's process collector and etcd's
// pkg/runtime export, read from /proc at scrape time (prometheus-cpp has no
// process collector).
#pragma once

#include <prometheus/metric_family.h>

#include <string>
#include <vector>

namespace etcd::metrics {

// Reads `proc` (normally "/proc"; tests point it elsewhere) for the process
// `pid_dir` ("self"). Metrics whose file cannot be read are left out.
std::vector<prometheus::MetricFamily> process_families(const std::string& proc = "/proc",
                                                       const std::string& pid_dir = "self");

}  // namespace etcd::metrics
