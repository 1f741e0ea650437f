"""An in-process OTLP backend ("sink") for Tern's exporters to send to.

It runs an OTLP/HTTP server (POST /v1/traces|metrics|logs, protobuf, with gzip/zstd
Content-Encoding) and an OTLP/gRPC server (Trace/Metrics/LogsService) in background
threads, records every decoded request with the headers/metadata it came with, and can
be told to answer with an error status, to delay, or to hold requests until released.
"""

from __future__ import annotations

import gzip
import sys
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import grpc
import zstandard
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from .ports import free_port

SIGNALS = ("traces", "metrics", "logs")

REQUEST_TYPES = {
    "traces": trace_service_pb2.ExportTraceServiceRequest,
    "metrics": metrics_service_pb2.ExportMetricsServiceRequest,
    "logs": logs_service_pb2.ExportLogsServiceRequest,
}
RESPONSE_TYPES = {
    "traces": trace_service_pb2.ExportTraceServiceResponse,
    "metrics": metrics_service_pb2.ExportMetricsServiceResponse,
    "logs": logs_service_pb2.ExportLogsServiceResponse,
}

HOLD_LIMIT = 60.0  # a held request is never kept longer than this


@dataclass
class Received:
    signal: str
    transport: str  # "http" | "grpc"
    path: str
    headers: dict[str, str]  # lower-cased names (HTTP headers or gRPC metadata)
    content_encoding: str | None
    body_size: int  # bytes on the wire (after compression)
    message: Any
    at: float = field(default_factory=time.monotonic)


@dataclass
class Failure:
    http_status: int
    grpc_code: grpc.StatusCode
    message: str = "sink told to fail"
    retry_after: int | None = None


def count_items(signal: str, message: Any) -> int:
    if signal == "traces":
        return sum(len(ss.spans) for rs in message.resource_spans for ss in rs.scope_spans)
    if signal == "logs":
        return sum(len(sl.log_records) for rl in message.resource_logs for sl in rl.scope_logs)
    n = 0
    for rm in message.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                kind = m.WhichOneof("data")
                if kind:
                    n += len(getattr(m, kind).data_points)
    return n


def decompress(encoding: str | None, body: bytes) -> bytes:
    enc = (encoding or "").strip().lower()
    if enc in ("", "identity"):
        return body
    if enc == "gzip":
        return gzip.decompress(body)
    if enc == "zstd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(body)
    raise ValueError(f"unsupported content-encoding {encoding!r}")


class _HTTPServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A client that goes away mid-answer (tern killed or shut down while the sink was
        # holding its request) is expected in fault tests: no traceback for that.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class OtlpSink:
    def __init__(self, name: str = "sink"):
        self.name = name
        self.http_port = free_port()
        self.grpc_port = free_port()
        self._cond = threading.Condition()
        self.received: list[Received] = []
        self.rejected: list[Received] = []  # requests answered with a planned failure
        self.errors: list[str] = []  # unexpected things (bad path, undecodable body, ...)
        self._failures: list[Failure] = []  # planned answers, consumed one per request
        self._fail_always: Failure | None = None
        self.delay = 0.0
        self._hold = threading.Event()
        self._hold.set()
        self.extra_paths: dict[str, str] = {}  # path -> signal, for custom *_endpoint tests
        self.http_requests = 0
        self.grpc_requests = 0
        # Items in requests answered with success, per signal (kept even when
        # keep_messages is False; for high-volume load tests).
        self.items_ok = {s: 0 for s in SIGNALS}
        self.keep_messages = True
        self._http: ThreadingHTTPServer | None = None
        self._grpc: grpc.Server | None = None

    # ---- endpoints --------------------------------------------------------------------
    @property
    def http_endpoint(self) -> str:
        """Base URL for an `otlphttp` exporter."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_endpoint(self) -> str:
        """host:port for an `otlp` exporter."""
        return f"127.0.0.1:{self.grpc_port}"

    # ---- control ----------------------------------------------------------------------
    def fail_next(self, n: int, http_status: int = 503,
                  grpc_code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE,
                  retry_after: int | None = None, message: str = "sink told to fail") -> None:
        with self._cond:
            self._failures.extend(Failure(http_status, grpc_code, message, retry_after)
                                  for _ in range(n))

    def fail_always(self, http_status: int = 503,
                    grpc_code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE,
                    message: str = "sink told to fail") -> None:
        with self._cond:
            self._fail_always = Failure(http_status, grpc_code, message)

    def succeed(self) -> None:
        with self._cond:
            self._failures.clear()
            self._fail_always = None

    def hold(self) -> None:
        """Block every incoming request (before answering) until release()."""
        self._hold.clear()

    def release(self) -> None:
        self._hold.set()

    def _next_failure(self) -> Failure | None:
        with self._cond:
            if self._failures:
                return self._failures.pop(0)
            return self._fail_always

    def _record(self, rec: Received, failure: Failure | None) -> None:
        with self._cond:
            if not failure:
                self.items_ok[rec.signal] += count_items(rec.signal, rec.message)
                if not self.keep_messages:
                    rec.message = None
            (self.rejected if failure else self.received).append(rec)
            self._cond.notify_all()

    def _error(self, text: str) -> None:
        with self._cond:
            self.errors.append(text)
            self._cond.notify_all()

    def _before_answer(self) -> None:
        if self.delay:
            time.sleep(self.delay)
        self._hold.wait(HOLD_LIMIT)

    # ---- views ------------------------------------------------------------------------
    def requests(self, signal: str | None = None, transport: str | None = None) -> list[Received]:
        with self._cond:
            return [r for r in self.received
                    if (signal is None or r.signal == signal)
                    and (transport is None or r.transport == transport)]

    def count(self, signal: str) -> int:
        with self._cond:
            return self.items_ok[signal]

    def spans(self) -> list[tuple[Any, Any, Any]]:
        """[(resource, scope, span)] over all received trace requests."""
        out = []
        for r in self.requests("traces"):
            for rs in r.message.resource_spans:
                for ss in rs.scope_spans:
                    for sp in ss.spans:
                        out.append((rs.resource, ss.scope, sp))
        return out

    def metric_points(self) -> list[tuple[Any, Any, Any, Any]]:
        """[(resource, scope, metric, point)] over all received metric requests."""
        out = []
        for r in self.requests("metrics"):
            for rm in r.message.resource_metrics:
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        kind = m.WhichOneof("data")
                        if not kind:
                            continue
                        for p in getattr(m, kind).data_points:
                            out.append((rm.resource, sm.scope, m, p))
        return out

    def log_records(self) -> list[tuple[Any, Any, Any]]:
        out = []
        for r in self.requests("logs"):
            for rl in r.message.resource_logs:
                for sl in rl.scope_logs:
                    for lr in sl.log_records:
                        out.append((rl.resource, sl.scope, lr))
        return out

    def wait_until(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:  # an RLock: the views below may re-enter it
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.1))
            else:
                return
        raise AssertionError(f"{self.name}: timed out after {timeout}s waiting for {what}; "
                             f"have traces={self.count('traces')} metrics={self.count('metrics')} "
                             f"logs={self.count('logs')} requests={len(self.received)} "
                             f"rejected={len(self.rejected)} errors={self.errors}")

    def wait_for(self, signal: str, n: int, timeout: float = 15.0, settle: float = 0.3) -> int:
        """Wait (bounded) until at least n items of `signal` arrived, then let `settle`
        seconds pass and assert that exactly n arrived (no duplicates)."""
        self.wait_until(lambda: self.count(signal) >= n, timeout, f"{n} {signal} items")
        if settle:
            time.sleep(settle)
        got = self.count(signal)
        assert got == n, f"{self.name}: expected exactly {n} {signal} items, got {got}"
        return got

    def wait_for_spans(self, n: int, timeout: float = 15.0, settle: float = 0.3):
        self.wait_for("traces", n, timeout, settle)
        return self.spans()

    def wait_for_points(self, n: int, timeout: float = 15.0, settle: float = 0.3):
        self.wait_for("metrics", n, timeout, settle)
        return self.metric_points()

    def wait_for_logs(self, n: int, timeout: float = 15.0, settle: float = 0.3):
        self.wait_for("logs", n, timeout, settle)
        return self.log_records()

    # ---- servers ----------------------------------------------------------------------
    def start(self) -> "OtlpSink":
        self._http = _HTTPServer(("127.0.0.1", self.http_port), _make_http_handler(self))
        self._http.daemon_threads = True
        threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.1},
                         name=f"{self.name}-http", daemon=True).start()

        server = grpc.server(futures.ThreadPoolExecutor(max_workers=16),
                             options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)])
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceServicer(self), server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_MetricsServicer(self), server)
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_LogsServicer(self), server)
        bound = server.add_insecure_port(f"127.0.0.1:{self.grpc_port}")
        if bound != self.grpc_port:
            raise RuntimeError(f"gRPC sink could not bind 127.0.0.1:{self.grpc_port}")
        server.start()
        self._grpc = server
        return self

    def stop(self) -> None:
        self.release()
        if self._http:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._grpc:
            self._grpc.stop(grace=1).wait(5)
            self._grpc = None

    # ---- gRPC handling ----------------------------------------------------------------
    def _grpc_export(self, signal: str, request: Any, context: grpc.ServicerContext) -> Any:
        with self._cond:
            self.grpc_requests += 1
        md = {k.lower(): v for k, v in context.invocation_metadata()
              if isinstance(v, str)}
        rec = Received(signal=signal, transport="grpc",
                       path=f"/opentelemetry.proto.collector.{signal}.v1/Export",
                       headers=md, content_encoding=md.get("grpc-encoding"),
                       body_size=request.ByteSize(), message=request)
        self._before_answer()
        failure = self._next_failure()
        self._record(rec, failure)
        if failure:
            context.abort(failure.grpc_code, failure.message)
        return RESPONSE_TYPES[signal]()


class _TraceServicer(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, sink: OtlpSink):
        self.sink = sink

    def Export(self, request, context):  # noqa: N802 (grpc naming)
        return self.sink._grpc_export("traces", request, context)


class _MetricsServicer(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, sink: OtlpSink):
        self.sink = sink

    def Export(self, request, context):  # noqa: N802
        return self.sink._grpc_export("metrics", request, context)


class _LogsServicer(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self, sink: OtlpSink):
        self.sink = sink

    def Export(self, request, context):  # noqa: N802
        return self.sink._grpc_export("logs", request, context)


# ---- HTTP handling ----------------------------------------------------------------------
def _make_http_handler(sink: OtlpSink):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # silence default stderr logging
            pass

        def _send(self, status: int, body: bytes, ctype: str, extra: dict | None = None):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _read_body(self) -> bytes:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                chunks = []
                while True:
                    line = self.rfile.readline().strip()
                    size = int(line.split(b";")[0], 16)
                    if size == 0:
                        # trailers until blank line
                        while self.rfile.readline().strip():
                            pass
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                return b"".join(chunks)
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def do_GET(self):  # noqa: N802
            self._send(405, b"method not allowed", "text/plain")

        def do_POST(self):  # noqa: N802
            with sink._cond:
                sink.http_requests += 1
            raw = self._read_body()
            path = self.path.split("?", 1)[0]
            signal = None
            for s in SIGNALS:
                if path == f"/v1/{s}":
                    signal = s
            signal = sink.extra_paths.get(path, signal)
            headers = {k.lower(): v for k, v in self.headers.items()}
            if signal is None:
                sink._error(f"HTTP POST to unexpected path {self.path}")
                self._send(404, b"404 page not found", "text/plain")
                return
            ctype = (headers.get("content-type") or "").split(";")[0].strip().lower()
            if ctype != "application/x-protobuf":
                sink._error(f"HTTP POST {path} with content-type {ctype!r} (expected protobuf)")
                self._send(415, b"unsupported media type", "text/plain")
                return
            enc = headers.get("content-encoding")
            try:
                body = decompress(enc, raw)
                msg = REQUEST_TYPES[signal]()
                msg.ParseFromString(body)
            except Exception as e:  # noqa: BLE001
                sink._error(f"HTTP POST {path}: cannot decode body (encoding {enc!r}): {e!r}")
                st = status_pb2.Status(code=3, message=f"cannot decode: {e}")
                self._send(400, st.SerializeToString(), "application/x-protobuf")
                return
            rec = Received(signal=signal, transport="http", path=path, headers=headers,
                           content_encoding=enc, body_size=len(raw), message=msg)
            sink._before_answer()
            failure = sink._next_failure()
            sink._record(rec, failure)
            if failure:
                st = status_pb2.Status(code=failure.grpc_code.value[0], message=failure.message)
                extra = {"Retry-After": str(failure.retry_after)} if failure.retry_after else None
                self._send(failure.http_status, st.SerializeToString(),
                           "application/x-protobuf", extra)
                return
            self._send(200, RESPONSE_TYPES[signal]().SerializeToString(),
                       "application/x-protobuf")

    return Handler
