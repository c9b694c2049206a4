// The benchmark's defrag-pause subcommand (not in etcd's tools/benchmark):
// how long a Maintenance.Defragment stops the service.
//
//   defrag-pause: one writer puts --val-size values to fresh keys back to
//     back, one serializable and one linearizable reader range one key in a
//     loop; after --warmup seconds it calls Defragment on the (first)
//     endpoint and reports the defrag's duration, the longest put latency
//     overlapping it (the write pause), the puts completed during it, and
//     for each read kind the reads answered entirely during it and the
//     longest read latency overlapping it.
#pragma once

#include "common.h"

namespace etcd::bench {

struct DefragPauseOptions {
  int val_size = 1024;
  double warmup_s = 1.0;
  double cooldown_s = 1.0;
};
int run_defrag_pause(const GlobalOptions& g, const DefragPauseOptions& o);

}  // namespace etcd::bench
