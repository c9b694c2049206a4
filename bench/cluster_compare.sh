#!/usr/bin/env bash
# bench/cluster_compare.sh: KV throughput and latency of a 3-member cluster
# of ours against a 3-member cluster of the reference etcd (/usr/bin/etcd),
# all six members on this machine's loopback, the load tool's connections
# spread over the three members (writes on followers are forwarded by Raft,
# linearizable reads go through the leader's ReadIndex). Results:
# docs/benchmarks.md. The harness is bench/compare_lib.sh (MEMBERS=3).
#   PUT_SEQ_TOTAL [1000] PUT_CONC_TOTAL [10000] GET_64_TOTAL [30000]
set -euo pipefail
cd "$(dirname "$0")/.."
PUT_SEQ_TOTAL=${PUT_SEQ_TOTAL:-1000}
PUT_CONC_TOTAL=${PUT_CONC_TOTAL:-10000}
GET_64_TOTAL=${GET_64_TOTAL:-30000}
NAME=cluster_compare
TITLE="3-member cluster comparison"
export MEMBERS=3
CASES=(
  "put, 1 client|$PUT_SEQ_TOTAL|--conns 1 --clients 1|put --key-size 8 --val-size 256 --sequential-keys --key-space-size $PUT_SEQ_TOTAL"
  "put, 64 clients, 8 conns|$PUT_CONC_TOTAL|--conns 8 --clients 64|put --key-size 8 --val-size 256 --key-space-size 100000"
  "get s, 64 clients, 8 conns|$GET_64_TOTAL|--conns 8 --clients 64|range foo --consistency s"
  "get l, 64 clients, 8 conns|$GET_64_TOTAL|--conns 8 --clients 64|range foo --consistency l"
)

# shellcheck source=bench/compare_lib.sh
. bench/compare_lib.sh
compare_main
