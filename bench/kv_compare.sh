#!/usr/bin/env bash
# bench/kv_compare.sh: KV throughput and latency of our etcd against the reference
# etcd (/usr/bin/etcd), measured in the same run with the same load tool
# (build/bin/benchmark, cmd/benchmark). Results: docs/benchmarks.md.
#
# The harness (build, servers, rounds, table) is bench/compare_lib.sh; its
# environment variables apply. Case sizes (defaults in brackets):
#   PUT_SEQ_TOTAL [2000] PUT_CONC_TOTAL [20000] GET_1_TOTAL [10000] GET_64_TOTAL [50000]
set -euo pipefail
cd "$(dirname "$0")/.."
PUT_SEQ_TOTAL=${PUT_SEQ_TOTAL:-2000}
PUT_CONC_TOTAL=${PUT_CONC_TOTAL:-20000}
GET_1_TOTAL=${GET_1_TOTAL:-10000}
GET_64_TOTAL=${GET_64_TOTAL:-50000}
NAME=kv_compare
TITLE="KV comparison"
# Cases: label | total | global flags | subcommand and its flags.
CASES=(
  "put, seq keys, 1 client|$PUT_SEQ_TOTAL|--conns 1 --clients 1|put --key-size 8 --val-size 256 --sequential-keys --key-space-size $PUT_SEQ_TOTAL"
  "put, 64 clients, 8 conns|$PUT_CONC_TOTAL|--conns 8 --clients 64|put --key-size 8 --val-size 256 --key-space-size 100000"
  "get s, 1 client|$GET_1_TOTAL|--conns 1 --clients 1|range foo --consistency s"
  "get s, 64 clients, 8 conns|$GET_64_TOTAL|--conns 8 --clients 64|range foo --consistency s"
  "get l, 64 clients, 8 conns|$GET_64_TOTAL|--conns 8 --clients 64|range foo --consistency l"
)

# shellcheck source=bench/compare_lib.sh
. bench/compare_lib.sh
compare_main
