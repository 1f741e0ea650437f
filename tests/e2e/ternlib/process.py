"""Start, watch and stop the `tern` binary."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

import requests
import yaml

from .ports import is_listening, split_hostport

# The checkout these tests belong to (tests/e2e/ternlib/ -> repo root).
REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_BIN = str(REPO_ROOT / "target" / "debug" / "tern")
# Resolved once, relative to the directory pytest was started from, so that tests which
# run tern with another cwd still find it.
TERN_BIN = os.path.abspath(os.environ.get("TERN_BIN", DEFAULT_BIN))

STARTUP_TIMEOUT = 20.0
STOP_TIMEOUT = 20.0


class TernError(AssertionError):
    """Tern misbehaved at the process level (died, hung, bad exit code)."""


def _tail(text: str, limit: int = 6000) -> str:
    return text if len(text) <= limit else "...[cut]...\n" + text[-limit:]


def run_tern(args: list[str], *, timeout: float = 30.0, cwd: str | os.PathLike | None = None,
             env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run a one-shot tern command (validate, healthcheck, --version) and capture output."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run([TERN_BIN, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, env=full_env, stdin=subprocess.DEVNULL)


def write_config(path: Path, config: Any) -> Path:
    """Write a config given as a dict (dumped as YAML) or a ready YAML string."""
    if isinstance(config, str):
        path.write_text(config)
    else:
        path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def readiness_from_config(config: Any) -> tuple[list[tuple[str, int]], str | None]:
    """Work out which ports a dict config makes tern listen on, and its health URL."""
    ports: list[tuple[str, int]] = []
    health_url = None
    if not isinstance(config, dict):
        return ports, health_url
    for rid, rcfg in (config.get("receivers") or {}).items():
        if not rid.split("/")[0] == "otlp" or not isinstance(rcfg, dict):
            continue
        for proto in ("grpc", "http"):
            pcfg = (rcfg.get("protocols") or {}).get(proto)
            if isinstance(pcfg, dict) and pcfg.get("endpoint"):
                ports.append(split_hostport(str(pcfg["endpoint"])))
    service_exts = ((config.get("service") or {}).get("extensions")) or []
    for eid in service_exts:
        if eid.split("/")[0] != "health_check":
            continue
        ecfg = (config.get("extensions") or {}).get(eid) or {}
        ep = ecfg.get("endpoint", "localhost:13133")
        host, port = split_hostport(str(ep))
        path = ecfg.get("path", "/")
        health_url = f"http://{host}:{port}{path}"
    return ports, health_url


class TernProcess:
    def __init__(self, args: list[str], workdir: Path, *, env: Mapping[str, str] | None = None,
                 cwd: str | os.PathLike | None = None, name: str = "tern"):
        self.args = args
        self.workdir = workdir
        self.stdout_path = workdir / f"{name}.stdout.log"
        self.stderr_path = workdir / f"{name}.stderr.log"
        full_env = dict(os.environ)
        full_env.setdefault("RUST_BACKTRACE", "1")
        if env:
            full_env.update(env)
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen([TERN_BIN, *args], stdout=self._out, stderr=self._err,
                                     stdin=subprocess.DEVNULL, env=full_env, cwd=cwd)
        self.exit_code: int | None = None
        self.stopped_by_test = False

    # ---- output -------------------------------------------------------------------------
    def stderr(self) -> str:
        if not self._err.closed:
            self._err.flush()
        return self.stderr_path.read_text(errors="replace")

    def stdout(self) -> str:
        if not self._out.closed:
            self._out.flush()
        return self.stdout_path.read_text(errors="replace")

    def describe(self) -> str:
        return (f"tern {' '.join(self.args)} (pid {self.proc.pid}, exit {self.proc.poll()})\n"
                f"--- stderr ---\n{_tail(self.stderr())}\n--- stdout ---\n{_tail(self.stdout(), 2000)}")

    # ---- lifecycle ----------------------------------------------------------------------
    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def wait_ready(self, ports: Iterable[tuple[str, int]] = (), health_url: str | None = None,
                   timeout: float = STARTUP_TIMEOUT) -> None:
        pending = list(ports)
        deadline = time.monotonic() + timeout
        health_ok = health_url is None
        last_health = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise TernError(f"tern exited during startup with code {self.proc.returncode}\n"
                                + self.describe())
            pending = [p for p in pending if not is_listening(*p)]
            if not health_ok:
                try:
                    r = requests.get(health_url, timeout=0.5)
                    last_health = r.status_code
                    health_ok = r.status_code == 200
                except requests.RequestException as e:
                    last_health = repr(e)
            if not pending and health_ok:
                return
            time.sleep(0.05)
        raise TernError(f"tern not ready after {timeout}s: ports not listening {pending}, "
                        f"health {health_url} -> {last_health}\n" + self.describe())

    def signal(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout: float = STOP_TIMEOUT) -> int:
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self._close()
            raise TernError(f"tern did not exit within {timeout}s after SIGTERM; killed\n"
                            + self.describe())
        self.exit_code = rc
        self._close()
        return rc

    def terminate(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM and wait for exit; returns the exit code."""
        self.stopped_by_test = True
        self.signal(signal.SIGTERM)
        return self.wait(timeout)

    def sigkill(self) -> int:
        """kill -9 on purpose (a crash): the fixture's teardown does not count it as a
        failure. Returns the exit status (-9)."""
        self.stopped_by_test = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        rc = self.proc.wait(timeout=10)
        self.exit_code = rc
        self._close()
        return rc

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._close()

    def _close(self) -> None:
        for f in (self._out, self._err):
            try:
                f.close()
            except OSError:
                pass
