# bench/compare_lib.sh: the harness of the *_compare.sh scripts, sourced by
# them. Builds our etcd and the load tool (build/bin/benchmark), starts our
# server and the reference etcd side by side on fresh data dirs and free
# loopback ports, runs every case against each server back to back (ours,
# then the reference, ROUNDS times each, so background load drifts over both
# alike), prints a table with the median round per server and stops and
# removes everything it started.
#
# The sourcing script sets NAME, TITLE and CASES ("label|total|global
# flags|subcommand and its flags") and then calls compare_main.
#
# Environment (defaults in brackets):
#   BUILD_DIR [/tmp/benchbuild]  SKIP_BUILD [0]  REF_ETCD [/usr/bin/etcd]
#   ROUNDS [3]  RUN_TIMEOUT [600] (seconds, per benchmark invocation)
#   KEEP_LOGS [0] (keep the work dir with server logs and raw outputs)
#   MEMBERS [1] (members per server: 3 starts a 3-member cluster of each,
#                and the load tool spreads its connections over all three)

BUILD_DIR=${BUILD_DIR:-/tmp/benchbuild}
REF_ETCD=${REF_ETCD:-/usr/bin/etcd}
ROUNDS=${ROUNDS:-3}
RUN_TIMEOUT=${RUN_TIMEOUT:-600}
PY=/usr/bin/python3

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C "$BUILD_DIR" etcd benchmark >/dev/null
fi
OUR_ETCD=$BUILD_DIR/bin/etcd
BENCH=$BUILD_DIR/bin/benchmark
for b in "$OUR_ETCD" "$BENCH" "$REF_ETCD"; do
  [ -x "$b" ] || { echo "$NAME: missing $b" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/$NAME.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [ "${KEEP_LOGS:-0}" = 1 ]; then
    echo "$NAME: logs and raw outputs kept in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_server NAME BINARY: starts a fresh single member (or MEMBERS
# members of one cluster); sets LAST_EP (comma-separated) and LAST_PID (the
# first member's).
start_server() {
  local name=$1 bin=$2 n=${MEMBERS:-1} i cports=() pports=() cluster="" eps=""
  for i in $(seq "$n"); do
    cports+=("$(free_port)")
    pports+=("$(free_port)")
  done
  for i in $(seq 0 $((n - 1))); do
    cluster+="${cluster:+,}m$i=http://127.0.0.1:${pports[$i]}"
    eps+="${eps:+,}127.0.0.1:${cports[$i]}"
  done
  mkdir -p "$WORK/$name"
  for i in $(seq 0 $((n - 1))); do
    "$bin" --name "m$i" --data-dir "$WORK/$name/data$i" \
      --listen-client-urls "http://127.0.0.1:${cports[$i]}" \
      --advertise-client-urls "http://127.0.0.1:${cports[$i]}" \
      --listen-peer-urls "http://127.0.0.1:${pports[$i]}" \
      --initial-advertise-peer-urls "http://127.0.0.1:${pports[$i]}" \
      --initial-cluster "$cluster" \
      >"$WORK/$name/server$i.log" 2>&1 &
    PIDS+=($!)
    [ "$i" = 0 ] && LAST_PID=$!
  done
  LAST_EP=$eps
}

# seed EP: writes the key the range cases read ("foo", 256 B value) with the
# reference etcdctl; retries until the member serves writes (up to 30 s).
seed() {
  local ep=$1 value
  value=$(head -c 256 /dev/zero | tr '\0' v)
  for _ in $(seq 60); do
    ETCDCTL_API=3 timeout 10 /usr/bin/etcdctl --endpoints "$ep" put foo "$value" \
      >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "$NAME: server at $ep did not become ready" >&2
  return 1
}

# metrics FILE: "req/s p50_ms p99_ms errors" from one benchmark output.
metrics() {
  awk '/Requests\/sec:/ {rps=$2}
       /^  50% in/ {p50=$3*1000}
       /^  99% in/ {p99=$3*1000}
       /^  \[[0-9]+\]\t/ && err_section {gsub(/[\[\]]/, "", $1); err+=$1}
       /^Error distribution:/ {err_section=1}
       END {printf "%.1f %.2f %.2f %d\n", rps, p50, p99, err+0}' "$1"
}

compare_main() {
  start_server ours "$OUR_ETCD"
  ours_EP=$LAST_EP
  ours_PID=$LAST_PID
  start_server ref "$REF_ETCD"
  ref_EP=$LAST_EP
  ref_PID=$LAST_PID
  seed "$ours_EP" || { tail -20 "$WORK/ours/server0.log" >&2; exit 1; }
  seed "$ref_EP" || { tail -20 "$WORK/ref/server0.log" >&2; exit 1; }

  declare -A RESULT
  i=0
  for c in "${CASES[@]}"; do
    IFS='|' read -r label total gflags sub <<<"$c"
    for server in ours ref; do
      ep_var="${server}_EP"
      runs=()
      for r in $(seq "$ROUNDS"); do
        out="$WORK/case$i.$server.$r.out"
        # shellcheck disable=SC2086  # flags are word lists on purpose
        if ! timeout "$RUN_TIMEOUT" "$BENCH" --endpoints "${!ep_var}" $gflags --total "$total" --precise \
          $sub >"$out" 2>&1; then
          echo "$NAME: [$server] $label: benchmark failed or timed out" >&2
          tail -5 "$out" >&2
        fi
        runs+=("$(metrics "$out")")
        echo "[$server] $label (round $r): ${runs[-1]}" >&2
      done
      # The round with the median requests/s.
      RESULT[$i.$server]=$(printf '%s\n' "${runs[@]}" | sort -n -k1,1 | sed -n "$(((ROUNDS + 1) / 2))p")
    done
    i=$((i + 1))
  done

  echo
  echo "$TITLE, $(date -u +%Y-%m-%dT%H:%MZ), ours=$OUR_ETCD ref=$("$REF_ETCD" --version | head -1)"
  printf '%-32s | %10s %10s %6s | %8s %8s | %8s %8s | %s\n' \
    case "ours r/s" "ref r/s" ratio "ours p50" "ref p50" "ours p99" "ref p99" "errors o/r"
  i=0
  for c in "${CASES[@]}"; do
    IFS='|' read -r label _ _ _ <<<"$c"
    read -r o_rps o_p50 o_p99 o_err <<<"${RESULT[$i.ours]}"
    read -r r_rps r_p50 r_p99 r_err <<<"${RESULT[$i.ref]}"
    ratio=$(awk -v a="$o_rps" -v b="$r_rps" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}')
    printf '%-32s | %10s %10s %6s | %6sms %6sms | %6sms %6sms | %s/%s\n' \
      "$label" "$o_rps" "$r_rps" "$ratio" "$o_p50" "$r_p50" "$o_p99" "$r_p99" "$o_err" "$r_err"
    i=$((i + 1))
  done
  # Peak resident memory of each server over the whole run (VmHWM).
  printf 'peak RSS: ours %s MB, ref %s MB\n' "$(peak_rss_mb "$ours_PID")" "$(peak_rss_mb "$ref_PID")"
}

# peak_rss_mb PID: the process's peak resident set size in MB ("-" if gone).
peak_rss_mb() {
  if [ -r "/proc/$1/status" ]; then
    awk '/^VmHWM:/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"
  else
    echo -
  fi
}
