#!/usr/bin/env bash
# bench/bbolt_convert.sh: time and peak memory of moving a large db between
# etcd's format (bbolt) and ours (LMDB), the costs docs/storage-backend.md
# quotes. Results: docs/benchmarks.md.
#
#   1. the reference etcd (/usr/bin/etcd) writes DB_MB of data (values of
#      VAL_SIZE bytes, sequential keys) through build/bin/benchmark, and stops;
#   2. import: `etcdutl snapshot restore --skip-hash-check` of its
#      member/snap/db (bbolt -> LMDB), and `etcd` started on a copy of the
#      data dir (the import at start, until the client port answers);
#   3. export: `etcdutl migrate-to-etcd` of the restored data dir (LMDB ->
#      bbolt), and the reference etcd started on the result.
#
# Peak memory: the maximum resident set size (which counts the pages of a
# memory-mapped db file the process reads) and the peak of its anonymous
# memory (what it allocated), by bench/peak_mem.py; for the server, VmHWM
# and RssAnon once it serves. Everything is made in a temporary directory and
# removed at the end; only processes this script started are stopped.
#
# Environment: DB_MB [1100] VAL_SIZE [4096] KEEP [0: remove the temp dir]
set -euo pipefail
cd "$(dirname "$0")/.."
DB_MB=${DB_MB:-1100}
VAL_SIZE=${VAL_SIZE:-4096}
BIN=$PWD/build/bin
REF=/usr/bin/etcd
for b in "$BIN/etcd" "$BIN/etcdutl" "$BIN/benchmark" "$REF"; do
  [ -x "$b" ] || { echo "bbolt_convert: $b is missing (scripts/build release)" >&2; exit 1; }
done

TMP=$(mktemp -d /tmp/bbolt-convert.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  [ "${KEEP:-0}" = 1 ] || rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_member BIN DATA_DIR -> sets CPORT and PID (appended to PIDS)
start_member() {
  local bin=$1 dir=$2
  CPORT=$(free_port)
  local pport
  pport=$(free_port)
  "$bin" --name m1 --data-dir "$dir" --quota-backend-bytes $((8 << 30)) \
    --listen-client-urls "http://127.0.0.1:$CPORT" --advertise-client-urls "http://127.0.0.1:$CPORT" \
    --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "m1=http://127.0.0.1:$pport" --initial-cluster-state new \
    >"$dir.log" 2>&1 &
  PID=$!
  PIDS+=("$PID")
}

wait_serving() {  # port timeout_s -> prints seconds waited
  local port=$1 limit=$2 start now
  start=$(date +%s.%N)
  for _ in $(seq 1 $((limit * 20))); do
    if curl -fs "http://127.0.0.1:$port/health" 2>/dev/null | grep -q '"health":"true"'; then
      now=$(date +%s.%N)
      echo "$now - $start" | bc
      return 0
    fi
    sleep 0.05
  done
  echo "bbolt_convert: no answer on port $port after ${limit}s" >&2
  return 1
}

key_count() {  # port -> number of keys the member serves
  "$BIN/etcdctl" --endpoints "127.0.0.1:$1" get "" --prefix --count-only -w fields |
    awk -F' : ' '$1 == "\"Count\"" {print $2}'
}

stop_member() {  # pid
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 1 200); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.05; done
  kill -9 "$1" 2>/dev/null || true
}

measure() {  # label cmd... : runs cmd, prints "| label | s | peak RSS MB | peak anonymous MB |"
  local label=$1
  shift
  /usr/bin/python3 bench/peak_mem.py --out "$TMP/time.out" "$@" >"$TMP/cmd.out" 2>&1 ||
    { echo "bbolt_convert: $label failed:" >&2; cat "$TMP/cmd.out" >&2; exit 1; }
  read -r secs rss anon <"$TMP/time.out"
  printf '| %s | %s s | %d MB | %d MB |\n' "$label" "$secs" "$rss" "$anon"
}

# 1. The reference writes the data set.
total=$(((DB_MB << 20) / VAL_SIZE))
start_member "$REF" "$TMP/ref.etcd"
wait_serving "$CPORT" 30 >/dev/null
"$BIN/benchmark" --endpoints "127.0.0.1:$CPORT" --conns 8 --clients 64 --total "$total" \
  put --key-size 16 --val-size "$VAL_SIZE" --sequential-keys --key-space-size "$total" >"$TMP/load.out"
stop_member "$PID"
db=$TMP/ref.etcd/member/snap/db
db_mb=$(($(stat -c %s "$db") >> 20))
echo "data set: $total keys of $VAL_SIZE bytes, bbolt db $db_mb MB"
echo
echo "| step | time | peak RSS | peak anonymous memory |"
echo "|---|---|---|---|"

# 2. Import.
measure "import: etcdutl snapshot restore (bbolt -> LMDB)" \
  "$BIN/etcdutl" snapshot restore "$db" --skip-hash-check --data-dir "$TMP/restored.etcd" \
  --name m1 --initial-cluster m1=http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380
cp -a "$TMP/ref.etcd" "$TMP/ours.etcd"
start_member "$BIN/etcd" "$TMP/ours.etcd"
secs=$(wait_serving "$CPORT" 600)
hwm=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$PID/status")
anon=$(awk '/RssAnon/ {print int($2 / 1024)}' "/proc/$PID/status")
printf '| import: etcd started on the etcd data dir, until /health | %.2f s | %d MB | %d MB (once serving) |\n' "$secs" "$hwm" "$anon"
n=$(key_count "$CPORT")
[ "$n" = "$total" ] || { echo "bbolt_convert: ours serves $n keys, want $total" >&2; exit 1; }
stop_member "$PID"
lmdb_mb=$(($(stat -c %s "$TMP/ours.etcd/member/snap/db") >> 20))

# 3. Export, and the reference on the result.
measure "export: etcdutl migrate-to-etcd (LMDB -> bbolt)" \
  "$BIN/etcdutl" migrate-to-etcd --data-dir "$TMP/ours.etcd"
out_mb=$(($(stat -c %s "$TMP/ours.etcd/member/snap/db") >> 20))
start_member "$REF" "$TMP/ours.etcd"
secs=$(wait_serving "$CPORT" 120)
printf '| the reference etcd serving the exported data dir | %.2f s | | |\n' "$secs"
n=$(key_count "$CPORT")
[ "$n" = "$total" ] || { echo "bbolt_convert: the reference serves $n keys, want $total" >&2; exit 1; }
stop_member "$PID"
echo
echo "sizes: bbolt from etcd $db_mb MB, LMDB after import $lmdb_mb MB, bbolt after export $out_mb MB"
