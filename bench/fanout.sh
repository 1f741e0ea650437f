#!/usr/bin/env bash
# Fan-out (issue "Component model, second edition", item 4): one pipeline delivering to
# one vs two otlphttp exporters.
#
#   bench/fanout.sh            # writes bench/out/fanout.md
#
# 1. `fanout` microbench (Batch level, one thread, pinned to core 0): bytes allocated per
#    batch for 1/2/4 consumers, pass-through (encoded) and decoded batches, with and
#    without a write-ahead-log append. The byte counts are deterministic; time is not.
# 2. End to end: loadgen (protobuf, core 1) -> tern (core 0, batch) -> one or two
#    otlphttp exporters -> the counting sink (core 1). spans/s accepted, spans the sink
#    got (twice the accepted with two exporters), tern CPU seconds per million spans.
#    The loadgen sends protobuf, so this pipeline is pass-through (never decoded);
#    decoded fan-out is covered by part 1.
#
# Knobs: SECONDS_PER_RUN (default 10), CONNECTIONS (default 16), COMPRESSION (gzip|none,
# default gzip), TERN_BIN, SKIP_E2E=1, MICRO_SECONDS (default 2).
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
OUT="$BENCH_DIR/out"; mkdir -p "$OUT"
SECS="${SECONDS_PER_RUN:-10}"
CONN="${CONNECTIONS:-16}"
COMP="${COMPRESSION:-gzip}"
WORK="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

(cd "$ROOT" && cargo build --release -q -p tern-bench)
if [ -z "${TERN_BIN:-}" ] && [ -z "${SKIP_E2E:-}" ]; then
    (cd "$ROOT" && cargo build --release -q -p tern-sidecar)
    TERN_BIN="$ROOT/target/release/tern"
fi
LOADGEN="$ROOT/target/release/loadgen"; SINK="$ROOT/target/release/sink"; FANOUT="$ROOT/target/release/fanout"

REPORT="$OUT/fanout.md"
{
echo "# Fan-out ($(date -u +%Y-%m-%dT%H:%M:%SZ), git $(cd "$ROOT" && git rev-parse --short HEAD))"
echo
echo "## Batch level (\`fanout\`, one thread on core 0)"
echo
taskset -c 0 "$FANOUT" --markdown --seconds "${MICRO_SECONDS:-2}"
} > "$REPORT"

if [ -z "${SKIP_E2E:-}" ]; then
HTTP=47318; SINK_HTTP=47999; SINK_GRPC=47998; METRICS=47888
json() { python3 -c "import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print($1)"; }
count() { curl -s "127.0.0.1:$SINK_HTTP/count" | json "d['spans']"; }
cpu_s() { awk -v t="$(getconf CLK_TCK)" '{print ($14 + $15) / t}' "/proc/$1/stat"; }
start_sink() { taskset -c 1 "$SINK" --http-port $SINK_HTTP --grpc-port $SINK_GRPC >/dev/null 2>&1 & SINK_PID=$!; PIDS+=($SINK_PID); sleep 0.3; }
start_tern() {
    taskset -c 0 "$TERN_BIN" --config "$1" 2>"$WORK/tern.log" & TERN_PID=$!; PIDS+=($TERN_PID)
    for _ in $(seq 100); do curl -sf -o /dev/null "127.0.0.1:$METRICS/metrics" && break; sleep 0.05; done
    taskset -a -cp 0 $TERN_PID >/dev/null
}
stop() { kill "$@" 2>/dev/null || true; wait "$@" 2>/dev/null || true; sleep 0.5; }
config() { # $1 = number of otlphttp exporters
    local names="" defs=""
    for i in $(seq "$1"); do
        local id="otlphttp/$i"
        names="$names${names:+, }$id"
        defs="$defs  $id: {endpoint: http://127.0.0.1:$SINK_HTTP, compression: $COMP}
"
    done
cat > "$WORK/tern.yaml" <<YAML
receivers: {otlp: {protocols: {http: {endpoint: 127.0.0.1:$HTTP}}}}
processors:
  batch: {}
exporters:
$defs
service:
  telemetry: {metrics: {address: 127.0.0.1:$METRICS}}
  pipelines:
    traces: {receivers: [otlp], processors: [batch], exporters: [$names]}
YAML
}
{
echo
echo "## End to end (OTLP/HTTP protobuf in, batch, otlphttp + $COMP out; tern pinned to core 0; ${SECS}s, $CONN connections)"
echo
echo "| exporters | spans/s accepted | spans accepted | spans at the sink | expected | tern CPU-s per M spans |"
echo "|---:|---:|---:|---:|---:|---:|"
} >> "$REPORT"
for n in 1 2; do
    config "$n"
    start_sink; start_tern "$WORK/tern.yaml"
    cpu0=$(cpu_s $TERN_PID)
    res=$(taskset -c 1 "$LOADGEN" run --endpoint "http://127.0.0.1:$HTTP" --duration "$SECS" --connections "$CONN" 2>/dev/null)
    rate=$(echo "$res" | json "int(d['spans_per_sec'])"); ok=$(echo "$res" | json "d['spans_ok']")
    for _ in $(seq 40); do [ "$(count)" -ge $((ok * n)) ] && break; sleep 0.25; done
    cpu1=$(cpu_s $TERN_PID); got=$(count)
    stop $TERN_PID $SINK_PID
    per_m=$(python3 -c "print(f'{($cpu1 - $cpu0) / max($ok, 1) * 1e6:.2f}')")
    echo "| $n | $rate | $ok | $got | $((ok * n)) | $per_m |" >> "$REPORT"
done
fi
cat "$REPORT"
