"""Helpers for fault-injection tests.

- TraceSender:  clients that send trace requests with fresh span ids and remember, per
                request, whether tern answered 200, refused it, or the call failed
- RssSampler:   samples a process's VmRSS every 100 ms (and reads the kernel's VmHWM)
- WAL helpers:  read the persistent queue's segment files (`[len u32 LE][crc32 u32 LE]
                [seq u64 LE][payload]`, crc over seq bytes + payload)
- logs:         tern's stderr as JSON events (`service.telemetry.logs.encoding: json`)
- loadgen:      run the `loadgen` binary of tern-bench and parse its JSON result line
- metrics:      scrape sums over Prometheus series
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import requests
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from . import prom
from .otlp import PROTOBUF, trace_request
from .sink import OtlpSink

LOADGEN_BIN = os.path.abspath(os.environ.get(
    "LOADGEN_BIN", str(Path(__file__).resolve().parents[3] / "target" / "debug" / "loadgen")))

# ---- senders ----------------------------------------------------------------------------


@dataclass
class Sent:
    """One request sent to tern: its spans and what became of it."""
    index: int
    span_ids: list[bytes]
    status: int | None = None  # HTTP status, None when the call itself failed
    error: str | None = None
    retry_after: str | None = None
    started: float = 0.0
    finished: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == 200


def send_traces(base_url: str, n_spans: int, *, index: int = 0, prefix: str = "req",
                timeout: float = 10.0, session: requests.Session | None = None) -> Sent:
    """POST one trace request with `n_spans` fresh spans; never raises for transport
    errors (they are recorded on the result)."""
    msg = trace_request(n_spans, prefix=f"{prefix}{index}")
    ids = [sp.span_id for rs in msg.resource_spans for ss in rs.scope_spans for sp in ss.spans]
    rec = Sent(index=index, span_ids=ids, started=time.monotonic())
    http = session or requests
    try:
        r = http.post(base_url.rstrip("/") + "/v1/traces", data=msg.SerializeToString(),
                      headers={"Content-Type": PROTOBUF}, timeout=timeout)
        rec.status = r.status_code
        rec.retry_after = r.headers.get("Retry-After")
    except requests.RequestException as e:
        rec.error = repr(e)
    rec.finished = time.monotonic()
    return rec


def send_sequential(base_url: str, n_requests: int, n_spans: int, *, prefix: str = "req",
                    pause: float = 0.0) -> list[Sent]:
    out = []
    for i in range(n_requests):
        out.append(send_traces(base_url, n_spans, index=i, prefix=prefix))
        if pause:
            time.sleep(pause)
    return out


class TraceSender:
    """`threads` clients, each sending requests of `spans` spans (or `spans(index)` for
    varying sizes) back to back (optionally pausing) until stop(); every request's outcome is
    kept in `.sent`."""

    def __init__(self, base_url: str, *, spans: int | Callable[[int], int] = 5, threads: int = 2, pause: float = 0.0,
                 timeout: float = 10.0, prefix: str = "load"):
        self.base_url = base_url
        self.spans = spans
        self.pause = pause
        self.timeout = timeout
        self.prefix = prefix
        self.sent: list[Sent] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._counter = iter(range(10**9))
        self._threads = [threading.Thread(target=self._run, name=f"sender-{i}", daemon=True)
                         for i in range(threads)]

    def _next(self) -> int:
        with self._lock:
            return next(self._counter)

    def _run(self) -> None:
        with requests.Session() as s:
            while not self._stop.is_set():
                index = self._next()
                n = self.spans(index) if callable(self.spans) else self.spans
                rec = send_traces(self.base_url, n, index=index,
                                  prefix=self.prefix, timeout=self.timeout, session=s)
                with self._lock:
                    self.sent.append(rec)
                if rec.error:
                    # tern is gone or restarting: do not spin
                    time.sleep(0.05)
                elif self.pause:
                    time.sleep(self.pause)

    def start(self) -> "TraceSender":
        for t in self._threads:
            t.start()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout)

    def snapshot(self) -> list[Sent]:
        with self._lock:
            return list(self.sent)

    def count_ok(self) -> int:
        with self._lock:
            return sum(1 for r in self.sent if r.ok)


def ids_of(sent: list[Sent], pred: Callable[[Sent], bool] = lambda r: True) -> set[bytes]:
    return {sid for r in sent if pred(r) for sid in r.span_ids}


def received_span_ids(sink: OtlpSink) -> Counter:
    """How many times the sink received (and answered 200 for) each span id."""
    return Counter(sp.span_id for _, _, sp in sink.spans())


def wait_span_ids(sink: OtlpSink, wanted: set[bytes], timeout: float, what: str) -> None:
    """Poll (outside the sink's lock, so delivery is not slowed down) until every id in
    `wanted` was received; on timeout fail saying how many are missing."""
    deadline = time.monotonic() + timeout
    seen: set[bytes] = set()
    done = 0  # requests already looked at
    while True:
        reqs = sink.requests("traces")
        for r in reqs[done:]:
            for rs in r.message.resource_spans:
                for ss in rs.scope_spans:
                    seen.update(sp.span_id for sp in ss.spans)
        done = len(reqs)
        missing = wanted - seen
        if not missing:
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{sink.name}: timed out after {timeout}s waiting for {what}: {len(missing)} of "
                f"{len(wanted)} span ids missing (e.g. {[m.hex() for m in list(missing)[:3]]}); "
                f"received {len(seen)} distinct spans in {done} requests")
        time.sleep(0.1)


# ---- memory -----------------------------------------------------------------------------


def proc_status_kib(pid: int, field_name: str) -> int | None:
    """A `kB` field of /proc/PID/status (VmRSS, VmHWM, ...), None once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return None
    return None


class RssSampler(threading.Thread):
    """Samples VmRSS of `pid` every `interval` seconds until stop()."""

    def __init__(self, pid: int, interval: float = 0.1):
        super().__init__(name=f"rss-{pid}", daemon=True)
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, int]] = []  # (monotonic, KiB)
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            kib = proc_status_kib(self.pid, "VmRSS")
            if kib is None:
                return
            self.samples.append((time.monotonic(), kib))
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join(5)

    @property
    def peak_kib(self) -> int:
        return max((k for _, k in self.samples), default=0)

    def hwm_kib(self) -> int | None:
        return proc_status_kib(self.pid, "VmHWM")


MIB = 1024 * 1024

# ---- persistent queue files ---------------------------------------------------------------

WAL_HEADER = struct.Struct("<IIQ")  # len, crc32, seq


@dataclass
class WalRecord:
    offset: int
    length: int
    crc: int
    seq: int
    payload: bytes
    crc_ok: bool

    @property
    def end(self) -> int:
        return self.offset + WAL_HEADER.size + self.length

    def span_ids(self) -> list[bytes]:
        req = trace_service_pb2.ExportTraceServiceRequest()
        req.ParseFromString(self.payload)
        return [sp.span_id for rs in req.resource_spans for ss in rs.scope_spans for sp in ss.spans]


def wal_dir(directory: str | os.PathLike, pipeline_id: str) -> Path:
    """Where tern keeps the log of a pipeline: non-alphanumerics of its id become `_`."""
    name = "".join(c if (c.isascii() and c.isalnum()) or c == "-" else "_" for c in pipeline_id)
    return Path(directory) / name


def wal_segments(d: Path) -> list[Path]:
    return sorted(p for p in d.glob("seg-*.wal")
                  if re.fullmatch(r"seg-\d{20}\.wal", p.name))


def read_wal_segment(path: Path) -> tuple[list[WalRecord], int]:
    """Records of one segment and the number of bytes after its data that are neither the
    zero end header nor old contents behind it (i.e. a record cut short)."""
    data = path.read_bytes()
    out, pos = [], 0
    while len(data) - pos >= WAL_HEADER.size:
        length, crc, seq = WAL_HEADER.unpack_from(data, pos)
        if (length, crc, seq) == (0, 0, 0):
            # The end of the data; a reused segment file holds old bytes after it.
            return out, 0
        start = pos + WAL_HEADER.size
        if start + length > len(data):
            break
        payload = data[start:start + length]
        ok = zlib.crc32(data[pos + 8:start] + payload) & 0xFFFFFFFF == crc
        out.append(WalRecord(pos, length, crc, seq, payload, ok))
        pos = start + length
    return out, len(data) - pos


# ---- logs -------------------------------------------------------------------------------

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def log_events(stderr: str) -> list[dict[str, Any]]:
    """tern's stderr as events: JSON lines parsed, other lines as {"message": line}."""
    out = []
    for line in stderr.splitlines():
        line = ANSI.sub("", line).strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
                continue
            except ValueError:
                pass
        out.append({"message": line, "_raw": True})
    return out


def events_matching(stderr: str, text: str) -> list[dict[str, Any]]:
    return [e for e in log_events(stderr) if text in str(e.get("message", ""))]


JSON_LOGS = {"logs": {"encoding": "json"}}

# ---- metrics ------------------------------------------------------------------------------


def metric_sum(url: str, name: str, **labels: str) -> float:
    """Sum of every series `name` matching `labels` (0 when none)."""
    _, samples = prom.scrape(url)
    return sum(s.value for s in prom.find(samples, name, **labels))


def wait_metric(url: str, name: str, pred: Callable[[float], bool], timeout: float = 10.0,
                **labels: str) -> float:
    deadline = time.monotonic() + timeout
    while True:
        v = metric_sum(url, name, **labels)
        if pred(v) or time.monotonic() > deadline:
            return v
        time.sleep(0.2)


# ---- load generator -----------------------------------------------------------------------


@dataclass
class LoadResult:
    raw: dict[str, Any]
    stderr: str = ""
    took: float = 0.0

    def __getitem__(self, k: str) -> Any:
        return self.raw[k]


def start_loadgen(endpoint: str, *, duration: float, connections: int = 8,
                  spans_per_request: int = 100, extra: list[str] | None = None
                  ) -> subprocess.Popen:
    args = [LOADGEN_BIN, "run", "--endpoint", endpoint, "--duration", str(duration),
            "--connections", str(connections), "--spans-per-request", str(spans_per_request),
            *(extra or [])]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)


def finish_loadgen(p: subprocess.Popen, timeout: float = 60.0) -> LoadResult:
    t0 = time.monotonic()
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise AssertionError(f"loadgen did not finish within {timeout}s\n{err[-2000:]}")
    assert p.returncode == 0, f"loadgen exited {p.returncode}\n{out[-2000:]}\n{err[-2000:]}"
    lines = [ln for ln in out.splitlines() if ln.strip().startswith("{")]
    assert lines, f"loadgen printed no JSON line\n{out[-2000:]}\n{err[-2000:]}"
    return LoadResult(json.loads(lines[-1]), err, time.monotonic() - t0)
