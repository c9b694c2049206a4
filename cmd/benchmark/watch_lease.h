// The benchmark's watch and lease subcommands (etcd's tools/benchmark has
// `watch-latency` and `lease-keepalive` with the same purpose):
//
//   watch-latency: opens --streams Watch streams with --watchers-per-stream
//     watchers each on one key (or, with --prefix, on a prefix whose keys the
//     puts spread over), then issues --put-total sequential puts at --put-rate;
//     every watcher's event is timed from the moment its put was sent. The
//     report's latencies are put -> event, its "Requests/sec" events/s.
//   lease-keepalive: --clients clients, each with its own lease and
//     LeaseKeepAlive stream, renew --total times in all, one renewal in
//     flight per client; the report's latencies are one request/response.
#pragma once

#include <cstdint>

#include "common.h"

namespace etcd::bench {

struct WatchLatencyOptions {
  int streams = 10;
  int watchers_per_stream = 100;
  int64_t put_total = 100;
  int put_rate = 100;  // puts per second; 0: back to back
  bool prefix = false;
  int val_size = 32;
};
int run_watch_latency(const GlobalOptions& g, const WatchLatencyOptions& o);

struct LeaseKeepaliveOptions {
  int64_t ttl = 100;  // seconds, of each client's lease
};
int run_lease_keepalive(const GlobalOptions& g, const LeaseKeepaliveOptions& o);

}  // namespace etcd::bench
