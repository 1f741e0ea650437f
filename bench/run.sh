#!/usr/bin/env bash
# Tern vs rotel benchmark: one command, see bench/README.md.
#
#   bench/run.sh
#
# Environment knobs (all optional):
#   BENCH_SECONDS     load duration per protocol and collector (default 20)
#   DIRECT_SECONDS    duration of the loadgen -> sink baseline (default 5; 0 skips it)
#   READY_RUNS        start-to-ready samples per collector (default 10)
#   CONNECTIONS       concurrent in-flight requests of the loadgen (default 32)
#   COLLECTORS        which collectors to run, in order (default "tern rotel")
#   TERN_BIN          use this tern binary instead of building one
#   TERN_ARGS         tern arguments; {config} is replaced (default "--config {config}")
#   ROTEL_VERSION     rotel wheel version from PyPI (default 0.0.1a15)
#   BENCH_TARGET_DIR  cargo target dir for the bench tools (default <repo>/target)
#   SINK_HTTP_PORT / SINK_GRPC_PORT   sink ports (default 14318 / 14317)
#   QUIET_TIMEOUT     max seconds to wait for an idle machine before each phase (default 60)
#
# Exit status: 0 on success, 1 on a setup failure, 2 when spans were lost.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
OUT="$BENCH_DIR/out"
PEER="$BENCH_DIR/.peer"

BENCH_SECONDS="${BENCH_SECONDS:-20}"
DIRECT_SECONDS="${DIRECT_SECONDS:-5}"
READY_RUNS="${READY_RUNS:-10}"
CONNECTIONS="${CONNECTIONS:-32}"
COLLECTORS="${COLLECTORS:-tern rotel}"
TERN_ARGS="${TERN_ARGS:---config {config}}"
ROTEL_VERSION="${ROTEL_VERSION:-0.0.1a15}"
BENCH_TARGET_DIR="${BENCH_TARGET_DIR:-$ROOT/target}"
SINK_HTTP_PORT="${SINK_HTTP_PORT:-14318}"
SINK_GRPC_PORT="${SINK_GRPC_PORT:-14317}"
QUIET_TIMEOUT="${QUIET_TIMEOUT:-60}"

COLLECTOR_CORE=0 # the collector under test, all of its threads
LOAD_CORE=1      # loadgen and sink
OTLP_PORTS=(4317 4318 13133)
SINK_URL="http://127.0.0.1:$SINK_HTTP_PORT"
RESULTS="$OUT/results.jsonl"

log() { printf '\033[1m[bench %(%H:%M:%S)T]\033[0m %s\n' -1 "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}

PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Stops one process we started: SIGTERM, then SIGKILL after 10 s.
stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 200; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid ignored SIGTERM for 10 s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

require_free_ports() {
    local p
    for p in "$@"; do
        if port_in_use "$p"; then
            die "127.0.0.1:$p is already in use (another collector running?); stop it first"
        fi
    done
}

for tool in cargo taskset python3 unzip; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
[[ "$(nproc)" -ge 2 ]] || die "need at least 2 CPU cores (collector on core 0, load on core 1)"
mkdir -p "$OUT" "$PEER"

# --- builds -----------------------------------------------------------------
if [[ " $COLLECTORS " == *" tern "* && -z "${TERN_BIN:-}" ]]; then
    log "building tern (cargo build --release -p tern-sidecar)"
    (cd "$ROOT" && env -u CARGO_TARGET_DIR cargo build --release -p tern-sidecar)
    TERN_BIN="$ROOT/target/release/tern"
fi
log "building bench tools (target dir $BENCH_TARGET_DIR)"
(cd "$ROOT" && CARGO_TARGET_DIR="$BENCH_TARGET_DIR" cargo build --release -p tern-bench)
BIN="$BENCH_TARGET_DIR/release"
LOADGEN="$BIN/loadgen"

# --- peer collector: rotel from its PyPI wheel (cached in bench/.peer) ------
ROTEL_BIN="$PEER/rotel-$ROTEL_VERSION/rotel-agent"
if [[ " $COLLECTORS " == *" rotel "* && ! -x "$ROTEL_BIN" ]]; then
    log "fetching rotel $ROTEL_VERSION wheel from PyPI"
    tmp="$(mktemp -d "$PEER/dl.XXXXXX")"
    python3 -m pip download --quiet --no-deps --only-binary=:all: \
        --platform manylinux_2_34_x86_64 --python-version 3.11 \
        "rotel==$ROTEL_VERSION" -d "$tmp" || die "pip download rotel==$ROTEL_VERSION failed"
    whl="$(find "$tmp" -maxdepth 1 -name 'rotel-*.whl' | head -n 1)"
    [[ -n "$whl" ]] || die "no rotel wheel downloaded"
    unzip -q -o "$whl" -d "$tmp/wheel"
    found="$(find "$tmp/wheel" -type f -path '*rotel/rotel-agent' | head -n 1)"
    [[ -n "$found" ]] || die "rotel/rotel-agent not found inside $(basename "$whl")"
    mkdir -p "$(dirname "$ROTEL_BIN")"
    install -m 0755 "$found" "$ROTEL_BIN"
    rm -rf "$tmp"
fi

# --- sink ---------------------------------------------------------------------
require_free_ports "$SINK_HTTP_PORT" "$SINK_GRPC_PORT"
: >"$RESULTS"
taskset -c "$LOAD_CORE" "$BIN/sink" --http-port "$SINK_HTTP_PORT" --grpc-port "$SINK_GRPC_PORT" \
    >"$OUT/sink.log" 2>&1 &
SINK_PID=$!
PIDS+=("$SINK_PID")
"$LOADGEN" wait --pid "$SINK_PID" --port "$SINK_HTTP_PORT" --health-url "$SINK_URL/count" \
    --timeout 10 >/dev/null || die "sink did not start (see $OUT/sink.log)"

tern_version="none"
if [[ -n "${TERN_BIN:-}" ]]; then
    tern_version="$("$TERN_BIN" --version 2>/dev/null | head -n 1 || true)"
fi
printf '{"type":"meta","date":"%s","git":"%s","cpu":"%s","load_seconds":%s,"connections":%s,"rotel":"%s","tern":"%s"}\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo none)" \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//; s/"//g')" \
    "$BENCH_SECONDS" "$CONNECTIONS" "$ROTEL_VERSION" "${tern_version//\"/}" >>"$RESULTS"

measure() { # label pid protocol endpoint seconds
    "$LOADGEN" quiet --max-busy-pct 5 --timeout "$QUIET_TIMEOUT" >/dev/null
    taskset -c "$LOAD_CORE" "$LOADGEN" measure --label "$1" --pid "$2" --protocol "$3" \
        --endpoint "$4" --duration "$5" --connections "$CONNECTIONS" \
        --sink-url "$SINK_URL" --sink-pid "$SINK_PID" >>"$RESULTS"
}

# --- baseline: loadgen straight into the sink (both on the load core) --------
if [[ "$DIRECT_SECONDS" != 0 ]]; then
    log "baseline: loadgen -> sink directly, ${DIRECT_SECONDS}s per protocol"
    measure sink-direct "$SINK_PID" http "$SINK_URL" "$DIRECT_SECONDS"
    measure sink-direct "$SINK_PID" grpc "http://127.0.0.1:$SINK_GRPC_PORT" "$DIRECT_SECONDS"
fi

# --- collectors -------------------------------------------------------------
run_collector() { # name health-url-or-empty cmd...
    local name=$1 health=$2
    shift 2
    local cmd=("$@") health_args=() pid
    [[ -n "$health" ]] && health_args=(--health-url "$health")
    : >"$OUT/$name.log"

    require_free_ports "${OTLP_PORTS[@]}"
    "$LOADGEN" quiet --max-busy-pct 5 --timeout "$QUIET_TIMEOUT" >/dev/null
    log "$name: start-to-ready, $READY_RUNS runs"
    taskset -c "$LOAD_CORE" "$LOADGEN" ready --label "$name" --port 4318 "${health_args[@]}" \
        --runs "$READY_RUNS" --log "$OUT/$name.log" --core "$COLLECTOR_CORE" \
        --exec "${cmd[@]}" >>"$RESULTS" ||
        die "$name did not become ready (see $OUT/$name.log)"

    require_free_ports "${OTLP_PORTS[@]}"
    log "$name: starting for the load runs"
    taskset -c "$COLLECTOR_CORE" "${cmd[@]}" >>"$OUT/$name.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    taskset -a -cp "$COLLECTOR_CORE" "$pid" >/dev/null
    "$LOADGEN" wait --pid "$pid" --port 4318 "${health_args[@]}" >/dev/null ||
        die "$name did not become ready (see $OUT/$name.log)"
    # Threads created during start-up inherit the mask, but pin again anyway.
    taskset -a -cp "$COLLECTOR_CORE" "$pid" >/dev/null
    sleep 2
    "$LOADGEN" rss --pid "$pid" --label "$name" >>"$RESULTS"

    local proto
    for proto in http grpc; do
        local ep="http://127.0.0.1:4318"
        [[ "$proto" == grpc ]] && ep="http://127.0.0.1:4317"
        log "$name: $proto load for ${BENCH_SECONDS}s"
        kill -0 "$pid" 2>/dev/null || die "$name exited (see $OUT/$name.log)"
        measure "$name" "$pid" "$proto" "$ep" "$BENCH_SECONDS"
    done
    kill -0 "$pid" 2>/dev/null || die "$name exited during the load runs (see $OUT/$name.log)"
    stop_pid "$pid"
}

for c in $COLLECTORS; do
    case "$c" in
    tern)
        [[ -x "$TERN_BIN" ]] || die "tern binary $TERN_BIN not found"
        cfg="$OUT/tern-bench.yaml"
        sed "s#http://127.0.0.1:14318#$SINK_URL#" "$BENCH_DIR/tern-bench.yaml" >"$cfg"
        read -r -a targs <<<"${TERN_ARGS//\{config\}/$cfg}"
        run_collector tern "http://127.0.0.1:13133/" "$TERN_BIN" "${targs[@]}"
        ;;
    rotel)
        # The OTLP exporter compresses with gzip by default; say so anyway.
        run_collector rotel "" "$ROTEL_BIN" start \
            --otlp-grpc-endpoint 127.0.0.1:4317 --otlp-http-endpoint 127.0.0.1:4318 \
            --exporter otlp --otlp-exporter-endpoint "$SINK_URL" \
            --otlp-exporter-protocol http --otlp-exporter-compression gzip \
            --pid-file "$OUT/rotel.pid" --log-file "$OUT/rotel-agent.log"
        ;;
    *) die "unknown collector $c" ;;
    esac
done

stop_pid "$SINK_PID"

"$LOADGEN" report "$RESULTS" >"$OUT/latest.md"
cat "$OUT/latest.md"
log "report written to $OUT/latest.md (raw results: $RESULTS)"
if grep -q 'ZERO-LOSS CHECK FAILED' "$OUT/latest.md"; then
    log "SPANS WERE LOST: see the zero-loss section above"
    exit 2
fi
