"""Lambda extension benchmark: start-up and per-invocation overhead of `tern-extension`.

Runs the release binary in the Lambda environment emulator of the e2e tests
(tests/e2e/ternlib/lambda_emulator.py) with the real awslambdaric runtime and an OTLP sink on
localhost as the backend, and measures:

- exec -> register: from spawning the extension to its `register` call reaching the API;
- exec -> OTLP ready: from spawning to the OTLP/HTTP port accepting connections;
- exec -> init done: from spawning to its first `event/next` (everything started);
- idle RSS after init (VmRSS of the extension, frozen between invocations);
- per-invocation overhead in end-of-invocation mode: from the moment the Telemetry API batch
  holding `platform.runtimeDone` is sent to the extension until the extension calls `/next`
  (that includes flushing the invocation's spans to the backend), and the same measured from
  the runtime's response (adds the Telemetry API's 25 ms buffering, a platform cost).

Usage: .venv/bin/python bench/lambda_bench.py [--bin target/release/tern-extension]
       [--runs 10] [--invocations 200]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from ternlib import configs  # noqa: E402
from ternlib.lambda_emulator import LambdaEmulator  # noqa: E402
from ternlib.ports import free_port, is_listening  # noqa: E402
from ternlib.sink import OtlpSink  # noqa: E402

FUNCTION_SRC = ROOT / "tests" / "e2e" / "fixtures" / "lambda_function"


def config(sink: OtlpSink, port: int) -> dict:
    cfg = configs.build(receivers={"otlp": configs.otlp_receiver(http=port)},
                        processors={"batch": {"timeout": "10m"}},
                        exporters={"otlphttp": configs.otlphttp_to(sink, compression="none")},
                        pipelines={"traces": configs.pipeline(["otlp"], ["otlphttp"], ["batch"])})
    cfg["service"]["telemetry"] = {"metrics": {"level": "none"}, "logs": {"level": "warn"}}
    cfg["lambda"] = {"flush_mode": "end"}
    return cfg


def environment(work: Path, binary: str, sink: OtlpSink) -> LambdaEmulator:
    task = work / "task"
    shutil.copytree(FUNCTION_SRC, task, dirs_exist_ok=True)
    port = free_port()
    (task / "collector.yaml").write_text(yaml.safe_dump(config(sink, port)))
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
           "OTEL_BSP_SCHEDULE_DELAY": "60000", "OTEL_METRICS_EXPORTER": "none",
           "OTEL_LOGS_EXPORTER": "none",
           "OPENTELEMETRY_COLLECTOR_CONFIG_URI": str(task / "collector.yaml")}
    (work / "env").mkdir(exist_ok=True)
    emu = LambdaEmulator(work / "env", function_dir=task, handler="handler.handler", env=env)
    emu.add_extension(binary, "tern")
    emu.otlp_port = port
    return emu


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(ROOT / "target" / "lambda" / "tern-extension"))
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--invocations", type=int, default=200)
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    sink = OtlpSink("bench-sink").start()
    register, ready, init_done, rss = [], [], [], []
    overhead_ext, overhead_rt = [], []
    rss_after: list[int] = []
    try:
        for run in range(args.runs):
            with tempfile.TemporaryDirectory() as d:
                emu = environment(Path(d), binary, sink)
                try:
                    ext = emu.extensions["tern"]
                    # Start only the extension, polling its OTLP port meanwhile.
                    emu._spawn_extension(ext)
                    exec_at = emu.calls_of("tern", "exec")[0].at
                    otlp_at = None
                    deadline = time.monotonic() + 10
                    while otlp_at is None and time.monotonic() < deadline:
                        if is_listening("127.0.0.1", emu.otlp_port, timeout=0.05):
                            otlp_at = time.monotonic()
                        else:
                            time.sleep(0.0005)
                    emu.wait(lambda: ext.waiting, 10, "extension ready")
                    reg_at = emu.calls_of("tern", "register")[0].at
                    next_at = emu.calls_of("tern", "next")[0].at
                    register.append((reg_at - exec_at) * 1000)
                    ready.append((otlp_at - exec_at) * 1000)
                    init_done.append((next_at - exec_at) * 1000)
                    # Finish init with the runtime, then invoke.
                    emu._spawn_runtime()
                    emu.wait(lambda: emu.runtime_waiting, 20, "runtime ready")
                    time.sleep(0.3)
                    rss.append(rss_kib(ext.proc.pid))
                    n = args.invocations if run == 0 else 20
                    for i in range(n):
                        res = emu.invoke({"n": i, "spans": 5})
                        assert res.status == "success"
                        posts = [c.at for c in emu.calls_of("telemetry", "post-start")
                                 if "platform.runtimeDone" in c.detail and c.at >= res.runtime_done]
                        if posts:
                            overhead_ext.append((res.ext_next["tern"] - posts[0]) * 1000)
                        overhead_rt.append((res.ext_next["tern"] - res.runtime_done) * 1000)
                    rss_after.append(rss_kib(ext.proc.pid))
                finally:
                    emu.close()
    finally:
        sink.stop()

    def row(name, values, unit="ms"):
        return (f"| {name} | {statistics.median(values):.2f} {unit} | {pct(values, 90):.2f} {unit} "
                f"| {min(values):.2f} {unit} | {max(values):.2f} {unit} | {len(values)} |")

    print("| measure | median | p90 | min | max | n |")
    print("|---|---|---|---|---|---|")
    print(row("exec → register", register))
    print(row("exec → OTLP/HTTP port accepting", ready))
    print(row("exec → init done (first /next)", init_done))
    print(row("idle RSS after init", [r / 1024 for r in rss], "MiB"))
    print(row("RSS after the run's invocations (frozen)", [r / 1024 for r in rss_after], "MiB"))
    print(row("runtimeDone delivered → /next (flush of 5 spans incl.)", overhead_ext))
    print(row("runtime response → /next (adds Telemetry API buffering)", overhead_rt))
    print(f"\nbinary: {binary} ({os.path.getsize(binary)} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
