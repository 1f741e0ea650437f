"""A real Prometheus server (Debian package `prometheus`) as the remote-write backend, and a
minimal remote-write decoder for test servers of our own.

`PrometheusServer(tmp)` runs `prometheus` on a free loopback port with a temporary storage dir
and the remote-write receiver, native histograms and exemplar storage enabled. A missing
binary is an error (the tests fail, they never skip)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import cramjam
import requests

from .ports import free_port


class PrometheusServer:
    def __init__(self, workdir: Path, port: int | None = None):
        self.bin = shutil.which("prometheus")
        if not self.bin:
            raise AssertionError("prometheus binary not found on PATH "
                                 "(apt-get install --no-install-recommends prometheus)")
        self.workdir = workdir
        self.port = port or free_port()
        self.storage = workdir / "prom-data"
        self.config = workdir / "prometheus.yml"
        self.config.write_text("global:\n  scrape_interval: 1h\n")
        self.log = workdir / "prometheus.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def write_url(self) -> str:
        return f"{self.url}/api/v1/write"

    def start(self, timeout: float = 20.0) -> "PrometheusServer":
        log = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [self.bin, f"--config.file={self.config}", f"--storage.tsdb.path={self.storage}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-remote-write-receiver",
             "--enable-feature=native-histograms,exemplar-storage"],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"prometheus exited with {self.proc.returncode}:\n"
                                     + self.log.read_text(errors="replace")[-3000:])
            try:
                if requests.get(f"{self.url}/-/ready", timeout=0.5).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise AssertionError("prometheus not ready:\n" + self.log.read_text(errors="replace")[-3000:])

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def query(self, expr: str) -> list[dict]:
        r = requests.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        assert r.status_code == 200, f"{expr}: {r.status_code} {r.text[:500]}"
        body = r.json()
        assert body["status"] == "success", body
        return body["data"]["result"]

    def value(self, expr: str) -> float | None:
        res = self.query(expr)
        if not res:
            return None
        assert len(res) == 1, f"{expr}: several results {res}"
        return float(res[0]["value"][1])

    def wait_value(self, expr: str, expected: float | None = None, timeout: float = 20.0,
                   tolerance: float = 1e-9) -> float | None:
        """Polls until `expr` has a value (equal to `expected` when given)."""
        deadline = time.monotonic() + timeout
        v = None
        while time.monotonic() < deadline:
            v = self.value(expr)
            if v is not None and (expected is None or abs(v - expected) <= tolerance):
                return v
            time.sleep(0.2)
        return v

    def exemplars(self, expr: str, start: float, end: float) -> list[dict]:
        r = requests.get(f"{self.url}/api/v1/query_exemplars",
                         params={"query": expr, "start": start, "end": end}, timeout=10)
        assert r.status_code == 200, r.text[:500]
        return r.json()["data"]


# ---- remote-write decoding (for our own test servers) ---------------------------------------

def _varint(b: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        c = b[i]
        i += 1
        result |= (c & 0x7F) << shift
        if not c & 0x80:
            return result, i
        shift += 7


def _fields(b: bytes):
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        field, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 2:
            n, i = _varint(b, i)
            v, i = b[i:i + n], i + n
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wt}")
        yield field, v


def decode_write_request(snappy_body: bytes) -> tuple[int, list[dict]]:
    """(uncompressed size, [{"labels": [(name, value)...], "samples": [(ts, value)...],
    "histograms": n}]) of a snappy block-compressed prometheus.WriteRequest."""
    import struct
    raw = bytes(cramjam.snappy.decompress_raw(snappy_body))
    series = []
    for f, ts in _fields(raw):
        if f != 1:
            continue
        s = {"labels": [], "samples": [], "histograms": 0}
        for g, v in _fields(ts):
            if g == 1:
                lab = dict(_fields(v))
                s["labels"].append((lab.get(1, b"").decode(), lab.get(2, b"").decode()))
            elif g == 2:
                smp = dict(_fields(v))
                val = struct.unpack("<d", smp[1])[0] if 1 in smp else 0.0
                s["samples"].append((smp.get(2, 0), val))
            elif g == 4:
                s["histograms"] += 1
        series.append(s)
    return len(raw), series
