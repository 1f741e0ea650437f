#!/usr/bin/env bash
# awsxray benchmark (issue 4):
#  1. translation: spans/s turned into X-Ray segment documents on one core
#     (`xray_translate`, the loadgen's 100-span bodies, with and without protobuf decode);
#  2. end to end: loadgen (OTLP/HTTP) -> collector pinned to core 0 -> PutTraceSegments into the
#     bench sink's /TraceSegments route (a local X-Ray endpoint: counts documents, checks the
#     50-per-call and 64 KiB limits, answers no unprocessed segments). moto is far too slow to
#     measure a collector against (it is the correctness peer in tests/e2e/test_awsxray.py).
#     tern and rotel's aws-xray exporter in the same run, same endpoint.
#
#   bench/xray.sh        # writes bench/out/xray.md
#
# Knobs: SECONDS_PER_RUN (default 10), CONNECTIONS (default 16), TERN_BIN, COLLECTORS
# ("tern rotel"), ROTEL_VERSION (0.0.1a15), XRAY_HTTP_PORT (48318, collector OTLP/HTTP; +1 for
# rotel's gRPC), XRAY_SINK_PORT (48419; +1 for its gRPC).
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
OUT="$BENCH_DIR/out"; mkdir -p "$OUT"
PEER="$BENCH_DIR/.peer"
SECS="${SECONDS_PER_RUN:-10}"
CONN="${CONNECTIONS:-16}"
COLLECTORS="${COLLECTORS:-tern rotel}"
ROTEL_VERSION="${ROTEL_VERSION:-0.0.1a15}"
WORK="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

if [ -z "${TERN_BIN:-}" ]; then
    (cd "$ROOT" && cargo build --release -q -p tern-sidecar -p tern-bench)
    TERN_BIN="$ROOT/target/release/tern"
fi
BIN="$ROOT/target/release"
[ -x "$BIN/xray_translate" ] || (cd "$ROOT" && cargo build --release -q -p tern-bench)

ROTEL_BIN="$PEER/rotel-$ROTEL_VERSION/rotel-agent"
if [[ " $COLLECTORS " == *" rotel "* && ! -x "$ROTEL_BIN" ]]; then
    mkdir -p "$PEER"; tmp="$(mktemp -d "$PEER/dl.XXXXXX")"
    python3 -m pip download --quiet --no-deps --only-binary=:all: \
        --platform manylinux_2_34_x86_64 --python-version 3.11 "rotel==$ROTEL_VERSION" -d "$tmp"
    whl="$(find "$tmp" -maxdepth 1 -name 'rotel-*.whl' | head -n 1)"
    python3 -m zipfile -e "$whl" "$tmp/wheel"
    found="$(find "$tmp/wheel" -type f -path '*rotel/rotel-agent' | head -n 1)"
    mkdir -p "$(dirname "$ROTEL_BIN")"; install -m 0755 "$found" "$ROTEL_BIN"; rm -rf "$tmp"
fi

HTTP=${XRAY_HTTP_PORT:-48318}; SINK_HTTP=${XRAY_SINK_PORT:-48419}; SINK_GRPC=$((SINK_HTTP + 1)); ROTEL_GRPC=$((HTTP + 1))
for p in $HTTP $SINK_HTTP $SINK_GRPC $ROTEL_GRPC; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "port $p is in use" >&2; exit 1; fi
done
export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
json() { python3 -c "import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print($1)"; }

REPORT="$OUT/xray.md"
{
echo "# awsxray benchmark ($(date -u +%Y-%m-%dT%H:%M:%SZ), git $(cd "$ROOT" && git rev-parse --short HEAD))"
echo
echo "## Translation, one core (\`taskset -c 0 xray_translate --seconds 5\`)"
echo
} > "$REPORT"
tr=$(taskset -c 0 "$BIN/xray_translate" --seconds 5)
echo "$tr" > "$OUT/xray_translate.json"
{
echo "| spans/s decode + translate | spans/s translate only | documents/span | avg document bytes | JSON MB/s |"
echo "|---:|---:|---:|---:|---:|"
echo "$tr" | json "'| {:,} | {:,} | {} | {} | {} |'.format(int(d['spans_per_sec_decode_and_translate']), int(d['spans_per_sec_translate_only']), d['docs_per_span'], int(d['avg_doc_bytes']), d['json_mb_per_sec'])"
echo
echo "## End to end into a local PutTraceSegments endpoint (${SECS}s, $CONN connections, collector on core 0)"
echo
echo "| collector | spans/s accepted | documents/s delivered | CPU-s per M spans | peak RSS MiB | lost | sink bad requests |"
echo "|---|---:|---:|---:|---:|---:|---:|"
} >> "$REPORT"

cat > "$WORK/tern.yaml" <<YAML
receivers: {otlp: {protocols: {http: {endpoint: 127.0.0.1:$HTTP}}}}
processors: {batch: {}}
exporters:
  awsxray:
    endpoint: http://127.0.0.1:$SINK_HTTP
    region: us-east-1
    retry_on_failure: {initial_interval: 100ms, max_interval: 1s}
service:
  telemetry: {metrics: {level: none}}
  pipelines:
    traces: {receivers: [otlp], processors: [batch], exporters: [awsxray]}
YAML

for c in $COLLECTORS; do
    taskset -c 1 "$BIN/sink" --http-port $SINK_HTTP --grpc-port $SINK_GRPC >"$OUT/xray-sink.log" 2>&1 &
    SINK_PID=$!; PIDS+=($SINK_PID); sleep 0.3
    case $c in
        tern) taskset -c 0 "$TERN_BIN" --config "$WORK/tern.yaml" >"$OUT/xray-tern.log" 2>&1 & ;;
        rotel) taskset -c 0 "$ROTEL_BIN" start --otlp-http-endpoint 127.0.0.1:$HTTP \
                   --otlp-grpc-endpoint 127.0.0.1:$ROTEL_GRPC --exporter aws-xray \
                   --xray-exporter-region us-east-1 \
                   --xray-exporter-custom-endpoint "http://127.0.0.1:$SINK_HTTP" \
                   --pid-file "$WORK/rotel.pid" --log-file "$OUT/xray-rotel-agent.log" \
                   >"$OUT/xray-rotel.log" 2>&1 & ;;
    esac
    PID=$!; PIDS+=($PID)
    "$BIN/loadgen" wait --port $HTTP >/dev/null
    [ "$c" = rotel ] && [ -s "$WORK/rotel.pid" ] && PID=$(cat "$WORK/rotel.pid")
    taskset -a -cp 0 "$PID" >/dev/null
    res=$(taskset -c 1 "$BIN/loadgen" measure --pid "$PID" --sink-url "http://127.0.0.1:$SINK_HTTP" \
          --sink-pid $SINK_PID --label "$c" --endpoint "http://127.0.0.1:$HTTP" \
          --duration "$SECS" --connections "$CONN" --settle 5 --drain-timeout 60 2>>"$OUT/xray-loadgen.log")
    echo "$res" >> "$OUT/xray-results.jsonl"
    bad=$(curl -s "127.0.0.1:$SINK_HTTP/count" | json "d['bad_requests']")
    echo "$res" | json "'| $c | {:,} | {:,} | {:.2f} | {:.1f} | {} | $bad |'.format(int(d['load']['spans_per_sec']), int(d['delivered_per_sec']), d['cpu_s_per_million_spans'], d['peak_rss_kib']/1024, d['lost_spans'])" >> "$REPORT"
    kill $PID $SINK_PID 2>/dev/null || true; wait $PID $SINK_PID 2>/dev/null || true; sleep 0.5
done
cat "$REPORT"
