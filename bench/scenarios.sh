#!/usr/bin/env bash
# Reliability scenarios (issue 3): cost of the persistent queue, and overload under
# memory_limiter. Same pinning as run.sh: tern on core 0, loadgen and sink on core 1.
#
#   bench/scenarios.sh            # writes bench/out/scenarios.md
#
# Knobs: SECONDS_PER_RUN (default 10), CONNECTIONS (default 16), TERN_BIN.
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
OUT="$BENCH_DIR/out"; mkdir -p "$OUT"
SECS="${SECONDS_PER_RUN:-10}"
CONN="${CONNECTIONS:-16}"
WORK="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

if [ -z "${TERN_BIN:-}" ]; then
    (cd "$ROOT" && cargo build --release -q -p tern-sidecar -p tern-bench)
    TERN_BIN="$ROOT/target/release/tern"
fi
LOADGEN="$ROOT/target/release/loadgen"; SINK="$ROOT/target/release/sink"
[ -x "$LOADGEN" ] || (cd "$ROOT" && cargo build --release -q -p tern-bench)

HTTP=47318; SINK_HTTP=47999; SINK_GRPC=47998; METRICS=47888
json() { python3 -c "import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print($1)"; }
count() { curl -s "127.0.0.1:$SINK_HTTP/count" | json "d['spans']"; }
start_sink() { taskset -c 1 "$SINK" --http-port $SINK_HTTP --grpc-port $SINK_GRPC "$@" >/dev/null 2>&1 & SINK_PID=$!; PIDS+=($SINK_PID); sleep 0.3; }
start_tern() {
    "$TERN_BIN" --config "$1" 2>"$WORK/tern.log" & TERN_PID=$!; PIDS+=($TERN_PID)
    for _ in $(seq 100); do curl -sf -o /dev/null "127.0.0.1:$METRICS/metrics" && break; sleep 0.05; done
    taskset -a -cp 0 $TERN_PID >/dev/null
}
stop() { kill "$@" 2>/dev/null || true; wait "$@" 2>/dev/null || true; sleep 0.5; }

config() { # $1 = queue extra, $2 = fsync, $3 = processors, $4 = limiter block
cat > "$WORK/tern.yaml" <<YAML
receivers: {otlp: {protocols: {http: {endpoint: 127.0.0.1:$HTTP}}}}
processors:
  batch: {}
$4
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:$SINK_HTTP
    retry_on_failure: {initial_interval: 100ms, max_interval: 1s}
    sending_queue: {$1}
extensions:
  file_storage: {directory: $WORK/queue, fsync: $2}
service:
  extensions: [file_storage]
  telemetry: {metrics: {address: 127.0.0.1:$METRICS}}
  pipelines:
    traces: {receivers: [otlp], processors: [$3], exporters: [otlphttp]}
YAML
}

REPORT="$OUT/scenarios.md"
{
echo "# Reliability scenarios ($(date -u +%Y-%m-%dT%H:%M:%SZ), git $(cd "$ROOT" && git rev-parse --short HEAD))"
echo
echo "## Persistent queue cost (OTLP/HTTP in, batch, otlphttp out; tern pinned to one core; ${SECS}s, $CONN connections)"
echo
echo "| queue | spans/s accepted | spans delivered | lost | relative |"
echo "|---|---:|---:|---:|---:|"
} > "$REPORT"
base=""
for mode in memory file_storage file_storage+fsync; do
    rm -rf "$WORK/queue"
    case $mode in
        memory) config "" false "batch" "";;
        file_storage) config "storage: file_storage" false "batch" "";;
        file_storage+fsync) config "storage: file_storage" true "batch" "";;
    esac
    start_sink; start_tern "$WORK/tern.yaml"
    res=$(taskset -c 1 "$LOADGEN" run --endpoint "http://127.0.0.1:$HTTP" --duration "$SECS" --connections "$CONN" 2>/dev/null)
    rate=$(echo "$res" | json "int(d['spans_per_sec'])"); ok=$(echo "$res" | json "d['spans_ok']")
    sleep 2; got=$(count)
    stop $TERN_PID $SINK_PID
    [ -z "$base" ] && base=$rate
    rel=$(python3 -c "print(f'{$rate/$base:.2f}')")
    echo "| $mode | $rate | $got | $((ok - got)) | $rel |" >> "$REPORT"
done

# Overload: the backend refuses (503) for the first half, data piles up, the limiter
# must hold RSS; then the backend recovers and everything accepted must arrive.
LIMIT=64
config "" false "memory_limiter, batch" "  memory_limiter: {check_interval: 100ms, limit_mib: $LIMIT}"
start_sink --fail-status 503
start_tern "$WORK/tern.yaml"
( peak=0; : > "$WORK/rss"; for _ in $(seq $((SECS * 10))); do r=$(awk '/VmRSS/{print $2}' /proc/$TERN_PID/status); echo "$r" >> "$WORK/rss"; sleep 0.1; done ) &
SAMPLER=$!
( sleep $((SECS / 2)); kill $SINK_PID; sleep 0.3; taskset -c 1 "$SINK" --http-port $SINK_HTTP --grpc-port $SINK_GRPC >/dev/null 2>&1 & echo $! > "$WORK/sink2" ) &
res=$(taskset -c 1 "$LOADGEN" run --endpoint "http://127.0.0.1:$HTTP" --duration "$SECS" --connections "$CONN" 2>/dev/null)
wait $SAMPLER
sleep 5
ok=$(echo "$res" | json "d['spans_ok']"); refused=$(echo "$res" | json "d['refused']")
got=$(count); SINK2=$(cat "$WORK/sink2"); PIDS+=($SINK2)
peak_kib=$(sort -n "$WORK/rss" | tail -1)
timeline=$(awk '{m=(NR-1)%10==0?$1:(m>$1?m:$1)} NR%10==0{printf "%d ", m/1024}' "$WORK/rss")
alive=yes; kill -0 $TERN_PID 2>/dev/null || alive=no
stop $TERN_PID $SINK2
{
echo
echo "## Overload (memory_limiter limit_mib $LIMIT, backend 503 for the first $((SECS / 2))s, then up; ${SECS}s, $CONN connections)"
echo
echo "| peak RSS MiB | vs limit | refused requests | spans accepted | spans delivered | lost | alive |"
echo "|---:|---:|---:|---:|---:|---:|---|"
echo "| $((peak_kib / 1024)) | $(python3 -c "print(f'{$peak_kib/1024/$LIMIT:.2f}')") | $refused | $ok | $got | $((ok - got)) | $alive |"
echo
echo "RSS per second (max MiB): $timeline"
} >> "$REPORT"
cat "$REPORT"
