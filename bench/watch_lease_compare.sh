#!/usr/bin/env bash
# bench/watch_lease_compare.sh: watch latency (put -> event), event fan-out to
# 1,000 watchers (on one key, and on a prefix) and lease keep-alive
# throughput of our etcd against the reference etcd (/usr/bin/etcd), in the
# same run with the same load tool (build/bin/benchmark watch-latency and
# lease-keepalive, cmd/benchmark/watch_lease.h). Results: docs/benchmarks.md.
#
# The harness (build, servers, rounds, table) is bench/compare_lib.sh; its
# environment variables apply. For watch cases the table's "r/s" column is
# events delivered per second and the latencies are put -> event.
# Case sizes (defaults in brackets):
#   LATENCY_PUTS [1000] FANOUT_PUTS [200] KEEPALIVE_TOTAL [50000]
set -euo pipefail
cd "$(dirname "$0")/.."
LATENCY_PUTS=${LATENCY_PUTS:-1000}
FANOUT_PUTS=${FANOUT_PUTS:-200}
KEEPALIVE_TOTAL=${KEEPALIVE_TOTAL:-50000}
NAME=watch_lease_compare
TITLE="Watch and lease comparison"
# Cases: label | total | global flags | subcommand and its flags.
CASES=(
  "watch, 1 watcher, 200 puts/s|$LATENCY_PUTS|--conns 1|watch-latency --streams 1 --watchers-per-stream 1 --put-total $LATENCY_PUTS --put-rate 200"
  "watch, 1000 on a key, 100 p/s|$FANOUT_PUTS|--conns 1|watch-latency --streams 10 --watchers-per-stream 100 --put-total $FANOUT_PUTS --put-rate 100"
  "watch, 1000 on prefix, 100 p/s|$FANOUT_PUTS|--conns 1|watch-latency --streams 10 --watchers-per-stream 100 --put-total $FANOUT_PUTS --put-rate 100 --prefix"
  "watch, 1000 on a key, max rate|$FANOUT_PUTS|--conns 1|watch-latency --streams 10 --watchers-per-stream 100 --put-total $FANOUT_PUTS --put-rate 0"
  "keep-alive, 16 clients, 4 conns|$KEEPALIVE_TOTAL|--conns 4 --clients 16|lease-keepalive"
)

# shellcheck source=bench/compare_lib.sh
. bench/compare_lib.sh
compare_main
