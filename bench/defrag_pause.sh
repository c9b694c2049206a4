#!/usr/bin/env bash
# bench/defrag_pause.sh: how long a defrag of a ~1 GB database pauses writes
# (and whether reads are answered meanwhile), our etcd beside the reference
# etcd (/usr/bin/etcd), with the same load tool (build/bin/benchmark,
# subcommand defrag-pause). Results: docs/benchmarks.md.
#
# For each server in turn (one at a time, so they do not compete for the
# disk): a fresh member; FILL_TOTAL puts of FILL_VAL-byte values to distinct
# keys (~1 GB live), then the first half of the keys written again and a
# physical compaction at the current revision, so the file holds ~50% more
# than its live data and the defrag has work; then `benchmark defrag-pause`:
# one writer (WRITE_VAL-byte puts, back to back), one serializable and one
# linearizable reader, and a Defragment after WARMUP seconds. The member and
# its data dir are removed before the next server starts.
#
# Uses bench/compare_lib.sh for building, ports and clean-up; its variables
# apply (BUILD_DIR, SKIP_BUILD, REF_ETCD, KEEP_LOGS). Sizes (defaults in
# brackets): FILL_TOTAL [100000] FILL_VAL [10000] WRITE_VAL [1024] WARMUP [2]
# Needs about 2 x 1.6 GB of free disk under /tmp (one member at a time).
set -euo pipefail
cd "$(dirname "$0")/.."
FILL_TOTAL=${FILL_TOTAL:-100000}
FILL_VAL=${FILL_VAL:-10000}
WRITE_VAL=${WRITE_VAL:-1024}
WARMUP=${WARMUP:-2}
NAME=defrag_pause
TITLE="Defrag pause"
# shellcheck source=bench/compare_lib.sh
. bench/compare_lib.sh

# status_field EP FIELD: a field of `etcdctl endpoint status -w json`.
status_field() {
  ETCDCTL_API=3 /usr/bin/etcdctl --endpoints "$1" endpoint status -w json |
    "$PY" -c "import json,sys; s=json.load(sys.stdin)[0]['Status']; print(eval(sys.argv[1]))" "$2"
}

run_one() {
  local server=$1 bin=$2 ep out pid rev size_before size_after
  # A fresh member; 8 GB of quota keeps the NOSPACE alarm out of a 1.6 GB
  # file (both servers take the flag).
  local cport pport
  cport=$(free_port)
  pport=$(free_port)
  while [ "$pport" = "$cport" ]; do pport=$(free_port); done
  ep=127.0.0.1:$cport
  mkdir -p "$WORK/$server"
  "$bin" --name default --data-dir "$WORK/$server/data" --quota-backend-bytes 8000000000 \
    --listen-client-urls "http://127.0.0.1:$cport" --advertise-client-urls "http://127.0.0.1:$cport" \
    --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "default=http://127.0.0.1:$pport" >"$WORK/$server/server.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  seed "$ep" || { tail -20 "$WORK/$server/server.log" >&2; exit 1; }

  echo "[$server] filling: $FILL_TOTAL x $FILL_VAL B, then $((FILL_TOTAL / 2)) rewritten" >&2
  timeout "$RUN_TIMEOUT" "$BENCH" --endpoints "$ep" --conns 4 --clients 32 --total "$FILL_TOTAL" \
    put --key-size 8 --val-size "$FILL_VAL" --sequential-keys --key-space-size "$FILL_TOTAL" \
    >"$WORK/$server/fill1.out" 2>&1
  timeout "$RUN_TIMEOUT" "$BENCH" --endpoints "$ep" --conns 4 --clients 32 \
    --total $((FILL_TOTAL / 2)) put --key-size 8 --val-size "$FILL_VAL" --sequential-keys \
    --key-space-size $((FILL_TOTAL / 2)) >"$WORK/$server/fill2.out" 2>&1
  rev=$(status_field "$ep" "s['header']['revision']")
  ETCDCTL_API=3 /usr/bin/etcdctl --endpoints "$ep" --command-timeout=600s compact "$rev" \
    --physical >/dev/null
  size_before=$(status_field "$ep" "s['dbSize']")
  echo "[$server] db $size_before bytes (revision $rev); defrag under load" >&2

  out="$WORK/$server/defrag.out"
  timeout "$RUN_TIMEOUT" "$BENCH" --endpoints "$ep" defrag-pause --val-size "$WRITE_VAL" \
    --warmup "$WARMUP" --cooldown 1 >"$out" 2>&1 || { cat "$out" >&2; exit 1; }
  size_after=$(status_field "$ep" "s['dbSize']")
  cat "$out" >&2
  RESULT_LINE[$server]="$(grep '^RESULT' "$out" | cut -d' ' -f2-) db_before=$size_before db_after=$size_after"

  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  rm -rf "$WORK/$server/data"
}

declare -A RESULT_LINE
run_one ours "$OUR_ETCD"
run_one ref "$REF_ETCD"

field() { sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" <<<"${RESULT_LINE[$1]}"; }
echo
echo "$TITLE, $(date -u +%Y-%m-%dT%H:%MZ), fill $FILL_TOTAL x $FILL_VAL B (+ half rewritten)," \
  "writer $WRITE_VAL B; ours=$OUR_ETCD ref=$("$REF_ETCD" --version | head -1)"
printf '%-8s | %10s %10s | %8s | %11s | %13s | %14s | %8s\n' server "db before" "db after" \
  "defrag s" "max put s" "puts ok/fail" "s reads (max)" "l reads (max)"
for s in ours ref; do
  printf '%-8s | %10s %10s | %8s | %11s | %13s | %14s | %8s\n' "$s" "$(field $s db_before)" \
    "$(field $s db_after)" "$(field $s defrag_s)" "$(field $s max_put_s)" \
    "$(field $s puts_during)/$(field $s puts_failed)" "$(field $s s_reads_during) ($(field $s max_s_read_s))" \
    "$(field $s l_reads_during) ($(field $s max_l_read_s))"
done
