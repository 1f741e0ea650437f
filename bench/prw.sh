#!/usr/bin/env bash
# Remote-write benchmark: (1) translate+encode+compress data points/s on one core;
# (2) end to end: OTLP/HTTP load -> tern (pinned to core 0) -> prometheusremotewrite ->
# a local Prometheus (Debian package), counting the samples Prometheus appended.
# Knobs: SECONDS_TRANSLATE (10), SECONDS_E2E (20), CONNECTIONS (8), POINTS (1000), PROM_PORT (19090).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SECONDS_TRANSLATE="${SECONDS_TRANSLATE:-10}"
SECONDS_E2E="${SECONDS_E2E:-20}"
CONNECTIONS="${CONNECTIONS:-8}"
POINTS="${POINTS:-1000}"
export PROM_PORT="${PROM_PORT:-19090}"
command -v prometheus >/dev/null || { echo "prometheus not found (apt-get install prometheus)" >&2; exit 1; }
cargo build --release -p tern-sidecar -p tern-bench --bin prwbench
TERN_BIN="${TERN_BIN:-target/release/tern}"
mkdir -p bench/out
work="$(mktemp -d)"
cleanup() {
    [ -n "${tern_pid:-}" ] && kill "$tern_pid" 2>/dev/null || true
    [ -n "${prom_pid:-}" ] && kill "$prom_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "== translate + encode + compress, one thread on core 0"
taskset -c 0 target/release/prwbench translate --seconds "$SECONDS_TRANSLATE" | tee -a bench/out/prw.jsonl

echo "== end to end into Prometheus"
printf 'global: {scrape_interval: 1h}\n' > "$work/prometheus.yml"
taskset -c 1 prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" --web.enable-remote-write-receiver \
    --enable-feature=native-histograms >"$work/prometheus.log" 2>&1 &
prom_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PROM_PORT/-/ready" >/dev/null && break; sleep 0.1; done
taskset -c 0 "$TERN_BIN" --config bench/tern-prw.yaml >"$work/tern.log" 2>&1 &
tern_pid=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:13133/ >/dev/null && break; sleep 0.1; done
taskset -a -cp 0 "$tern_pid" >/dev/null
t0=$(awk '{print $14+$15}' "/proc/$tern_pid/stat")
taskset -c 1 target/release/prwbench e2e --prom "http://127.0.0.1:$PROM_PORT" \
    --seconds "$SECONDS_E2E" --connections "$CONNECTIONS" --points "$POINTS" | tee "$work/e2e.json"
t1=$(awk '{print $14+$15}' "/proc/$tern_pid/stat")
hz=$(getconf CLK_TCK)
python3 - "$work/e2e.json" "$t0" "$t1" "$hz" <<'PY' | tee -a bench/out/prw.jsonl
import json, sys
r = json.load(open(sys.argv[1]))
cpu = (int(sys.argv[3]) - int(sys.argv[2])) / int(sys.argv[4])
r["tern_cpu_seconds"] = cpu
r["tern_cpu_s_per_m_points"] = cpu / max(r["points_accepted"], 1) * 1e6
print(json.dumps(r))
PY
