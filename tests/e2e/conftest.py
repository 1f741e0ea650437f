"""Fixtures for Tern's black-box end-to-end tests.

- `tern(config, ...)`  writes the config to a temp dir, starts the binary, waits until it is
  ready (health check 200 and receiver ports listening) and, at teardown, stops it with
  SIGTERM and asserts exit code 0. Dies during startup -> the test fails with tern's stderr.
- `sink` / `make_sink()` an in-process OTLP backend (HTTP + gRPC) recording what it gets.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Iterable

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from ternlib import configs  # noqa: E402
from ternlib.process import TERN_BIN, TernError, TernProcess, readiness_from_config, write_config  # noqa: E402
from ternlib.sink import OtlpSink  # noqa: E402

# All test traffic is loopback: never let a proxy setting of the machine get in the way.
for _var in ("no_proxy", "NO_PROXY"):
    os.environ[_var] = ",".join(filter(None, [os.environ.get(_var), "127.0.0.1", "localhost", "::1"]))

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session", autouse=True)
def _tern_binary_present():
    """A missing binary is a failure of every test, never a skip."""
    if not (os.path.isfile(TERN_BIN) and os.access(TERN_BIN, os.X_OK)):
        pytest.fail(f"tern binary not found or not executable at {TERN_BIN} "
                    f"(set TERN_BIN or run `cargo build --workspace`)", pytrace=False)


@pytest.fixture
def make_sink():
    sinks: list[OtlpSink] = []

    def make(name: str = "sink", start: bool = True) -> OtlpSink:
        """start=False reserves the sink's ports without listening (a backend that is
        down: connection refused) until the test calls .start()."""
        s = OtlpSink(name)
        if start:
            s.start()
        sinks.append(s)
        return s

    yield make
    for s in sinks:
        s.stop()
    unexpected = [f"{s.name}: {e}" for s in sinks for e in s.errors]
    assert not unexpected, "sink saw unexpected requests:\n" + "\n".join(unexpected)


@pytest.fixture
def sink(make_sink) -> OtlpSink:
    return make_sink("sink")


class TernHandle(TernProcess):
    health_url: str | None = None
    metrics_url: str | None = None
    config_paths: list[Path]


@pytest.fixture
def tern(tmp_path):
    """Factory: tern(config, *more_configs, env=..., cwd=..., wait_ports=..., ready=True,
    add_defaults=True, args=None) -> running TernHandle."""
    procs: list[TernHandle] = []
    counter = [0]

    def start(config: Any = None, *more_configs: Any, env: dict | None = None,
              cwd: str | os.PathLike | None = None,
              wait_ports: Iterable[tuple[str, int]] | None = None,
              health_url: str | None = None, ready: bool = True, add_defaults: bool = True,
              args: list[str] | None = None, startup_timeout: float = 20.0) -> TernHandle:
        counter[0] += 1
        n = counter[0]
        metrics_url = None
        paths: list[Path] = []
        auto_ports: list[tuple[str, int]] = []
        if config is not None:
            if isinstance(config, dict) and add_defaults:
                config, health_url_auto, metrics_url = configs.with_health_and_metrics(config)
                health_url = health_url or health_url_auto
            for i, c in enumerate((config, *more_configs)):
                p = write_config(tmp_path / f"tern-{n}-config-{i}.yaml", c)
                paths.append(p)
                ports, h = readiness_from_config(c)
                auto_ports += ports
                health_url = health_url or h
        cmd = list(args) if args is not None else []
        for p in paths:
            cmd += ["--config", str(p)]
        proc = TernHandle(cmd, tmp_path, env=env, cwd=cwd, name=f"tern-{n}")
        proc.health_url = health_url
        proc.metrics_url = metrics_url
        proc.config_paths = paths
        procs.append(proc)
        if ready:
            proc.wait_ready(list(wait_ports) if wait_ports is not None else auto_ports,
                            health_url, timeout=startup_timeout)
        return proc

    yield start

    problems = []
    for p in procs:
        if p.proc.poll() is not None and not p.stopped_by_test:
            problems.append(f"tern exited by itself with {p.proc.returncode} before teardown\n"
                            + p.describe())
        elif p.proc.poll() is None:
            try:
                rc = p.terminate()
            except TernError as e:
                problems.append(str(e))
                continue
            if rc != 0:
                problems.append(f"tern exited with {rc} after SIGTERM (expected 0)\n" + p.describe())
        p.kill()
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)
