"""A Lambda execution environment on localhost, for the Tern extension's tests.

No emulator implements the Telemetry API (see /work/shared/specs/test-peers.md), so this one is
built from the AWS API documentation:

- Runtime API (2018-06-01): the function's runtime (the real `awslambdaric`) polls
  `/runtime/invocation/next` and posts `/response` or `/error`.
- Extensions API (2020-01-01): `register` (the `Lambda-Extension-Name` header must equal the
  executable's file name, as in Lambda), `event/next` long-polls for INVOKE / SHUTDOWN (with
  `deadlineMs`), `init/error`, `exit/error`.
- Telemetry API (2022-07-01): `PUT /telemetry` subscribes; records (`platform.initStart`,
  `initRuntimeDone`, `initReport`, `start`, `runtimeDone`, `report`, and one `function` record
  per line the runtime prints) are buffered and POSTed in batches to the subscriber's URI every
  `timeoutMs` (`sandbox.localdomain` resolves to 127.0.0.1 here).

Phases follow Lambda: extensions start and register, then the runtime starts; init ends when
the runtime and every extension called `next`. An invocation ends when the runtime answered and
every extension called `next` again; then the environment is *frozen*: the runtime's and the
extensions' processes get SIGSTOP (so nothing of theirs runs until the next event, exactly the
situation that loses data in a real sandbox) and SIGCONT when the next event arrives.

Every API call is recorded with its `time.monotonic()` in `calls`, so tests can compare them
with the times the OTLP sink received data.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .ports import free_port

REGISTER = "/2020-01-01/extension/register"
EXT_NEXT = "/2020-01-01/extension/event/next"
INIT_ERROR = "/2020-01-01/extension/init/error"
EXIT_ERROR = "/2020-01-01/extension/exit/error"
TELEMETRY = "/2022-07-01/telemetry"
RUNTIME = "/2018-06-01/runtime"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Call:
    at: float  # time.monotonic()
    who: str  # extension name, "runtime" or "telemetry"
    what: str  # "register", "next", "init/error", ...
    detail: Any = None


@dataclass
class Extension:
    name: str
    path: Path
    proc: subprocess.Popen | None = None
    ext_id: str | None = None
    events: list[str] = field(default_factory=list)
    queue: list[dict] = field(default_factory=list)
    waiting: bool = False  # blocked in event/next
    next_calls: int = 0
    log: Path | None = None
    gen: int = 0  # bumped at each (re)start: long polls of a dead process end


@dataclass
class Subscription:
    ext_name: str
    uri: str
    types: list[str]
    timeout_ms: int
    max_items: int
    delivered: list[dict] = field(default_factory=list)
    failures: int = 0


@dataclass
class InvokeResult:
    request_id: str
    status: str  # success | error | timeout
    response: Any
    started: float
    runtime_done: float  # when the runtime answered (monotonic)
    ext_next: dict[str, float]  # extension -> when it called next after this invocation
    frozen: float | None


class LambdaEmulator:
    def __init__(self, workdir: Path, *, function_dir: Path, handler: str,
                 function_name: str = "tern-e2e-fn", memory_mb: int = 128,
                 timeout_s: float = 30.0, env: dict[str, str] | None = None,
                 runtime_cmd: list[str] | None = None, freeze: bool = True,
                 telemetry: bool = True, drop_types: tuple[str, ...] = ()):
        self.workdir = Path(workdir)
        self.function_dir = Path(function_dir)
        self.handler = handler
        self.function_name = function_name
        self.memory_mb = memory_mb
        self.timeout_s = timeout_s
        self.extra_env = dict(env or {})
        self.runtime_cmd = runtime_cmd or [sys.executable, "-m", "awslambdaric"]
        self.freeze = freeze
        self.telemetry_enabled = telemetry
        self.drop_types = set(drop_types)  # record types never delivered (fault injection)
        self.port = free_port()
        self.cond = threading.Condition()
        self.calls: list[Call] = []
        self.extensions: dict[str, Extension] = {}
        self.subscriptions: list[Subscription] = []
        self.init_errors: list[tuple[str, str, dict]] = []  # (ext, error type header, body)
        self.exit_errors: list[tuple[str, str, dict]] = []
        self.runtime_init_errors: list[dict] = []
        self.runtime: subprocess.Popen | None = None
        self.runtime_log = self.workdir / "runtime.log"
        self.runtime_waiting = False
        self.runtime_gen = 0
        self.pending_invocation: dict | None = None
        self.results: dict[str, tuple[str, Any]] = {}  # request id -> (status, body)
        self.current_request: str | None = None
        self.frozen = False
        self.cold = True
        self.init_started_iso: str | None = None
        self.init_started: float = 0.0
        self.init_duration_ms: float | None = None
        self._telemetry_buffer: list[dict] = []  # everything emitted (replayed to new subscribers)
        self._sub_cursor: dict[int, int] = {}
        self._stop = threading.Event()
        self.log_group = f"/aws/lambda/{function_name}"
        self.log_stream = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{secrets.token_hex(16)}"
        self.region = "us-east-1"
        self.arn = f"arn:aws:lambda:{self.region}:123456789012:function:{function_name}"
        self._server = _Server(("127.0.0.1", self.port), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True, name="lambda-api").start()
        threading.Thread(target=self._telemetry_loop, daemon=True, name="telemetry").start()

    # ---- environment -------------------------------------------------------------------
    @property
    def runtime_api(self) -> str:
        return f"127.0.0.1:{self.port}"

    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AWS_"))}
        env.update({
            "AWS_LAMBDA_RUNTIME_API": self.runtime_api,
            "AWS_LAMBDA_FUNCTION_NAME": self.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": self.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "LAMBDA_TASK_ROOT": str(self.function_dir),
            "_HANDLER": self.handler,
            "TZ": ":UTC",
            "AWS_EC2_METADATA_DISABLED": "true",
        })
        env.update(self.extra_env)
        return env

    def add_extension(self, binary: str | Path, name: str = "tern") -> Extension:
        """Install `binary` as /opt/extensions/<name> (a copy in the work dir)."""
        ext_dir = self.workdir / "opt" / "extensions"
        ext_dir.mkdir(parents=True, exist_ok=True)
        dest = ext_dir / name
        if not dest.exists():
            try:
                os.link(binary, dest)
            except OSError:
                shutil.copy2(binary, dest)
        ext = Extension(name=name, path=dest, log=self.workdir / f"extension-{name}.log")
        self.extensions[name] = ext
        return ext

    def _record(self, who: str, what: str, detail: Any = None, at: float | None = None) -> None:
        with self.cond:
            call = Call(time.monotonic() if at is None else at, who, what, detail)
            i = len(self.calls)
            while i > 0 and self.calls[i - 1].at > call.at:  # keep the list in time order
                i -= 1
            self.calls.insert(i, call)
            self.cond.notify_all()

    def calls_of(self, who: str | None = None, what: str | None = None) -> list[Call]:
        with self.cond:
            return [c for c in self.calls if (who is None or c.who == who)
                    and (what is None or c.what == what)]

    def wait(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"lambda emulator: timed out after {timeout}s waiting for "
                                         f"{what}\n{self.describe()}")
                self.cond.wait(min(left, 0.05))

    def describe(self) -> str:
        out = []
        for e in self.extensions.values():
            rc = e.proc.poll() if e.proc else None
            out.append(f"--- extension {e.name} (exit {rc}) ---\n{_tail(e.log)}")
        if self.runtime:
            out.append(f"--- runtime (exit {self.runtime.poll()}) ---\n{_tail(self.runtime_log)}")
        return "\n".join(out)

    # ---- telemetry ---------------------------------------------------------------------
    def emit(self, kind: str, record: Any) -> None:
        if kind in self.drop_types:
            return
        with self.cond:
            self._telemetry_buffer.append({"time": now_iso(), "type": kind, "record": record})
            self.cond.notify_all()

    def _telemetry_loop(self) -> None:
        while not self._stop.is_set():
            batches: list[tuple[Subscription, list[dict]]] = []
            with self.cond:
                for i, sub in enumerate(self.subscriptions):
                    cur = self._sub_cursor.get(i, 0)
                    batch: list[dict] = []
                    nxt = len(self._telemetry_buffer)
                    for idx in range(cur, len(self._telemetry_buffer)):
                        e = self._telemetry_buffer[idx]
                        if _category(e["type"]) not in sub.types:
                            continue
                        if len(batch) >= sub.max_items:
                            nxt = idx
                            break
                        batch.append(e)
                    self._sub_cursor[i] = nxt
                    if batch:
                        batches.append((sub, batch))
            for sub, batch in batches:
                self._post(sub, batch)
            time.sleep((min((s.timeout_ms for s in self.subscriptions), default=25)) / 1000.0)

    def _post(self, sub: Subscription, batch: list[dict]) -> None:
        self._record("telemetry", "post-start", [e["type"] for e in batch])
        uri = sub.uri.replace("sandbox.localdomain", "127.0.0.1").replace("sandbox", "127.0.0.1")
        data = json.dumps(batch).encode()
        for attempt in range(3):
            try:
                req = urllib.request.Request(uri, data=data, method="POST",
                                             headers={"Content-Type": "application/json"})
                # A frozen subscriber answers after the thaw: wait as long as that takes.
                with urllib.request.urlopen(req, timeout=120) as resp:
                    resp.read()
                sub.delivered.extend(batch)
                self._record("telemetry", "post", [e["type"] for e in batch])
                return
            except Exception as e:  # noqa: BLE001 - a subscriber that died: record it
                sub.failures += 1
                self._record("telemetry", "post-failed", repr(e))
                time.sleep(0.05 * (attempt + 1))

    # ---- lifecycle ---------------------------------------------------------------------
    def init(self, timeout: float = 20.0, expect_failure: bool = False) -> None:
        """Init phase: start the extensions, wait for them to register, start the runtime,
        wait until everyone called next."""
        self.init_started = time.monotonic()
        self.init_started_iso = now_iso()
        self.emit("platform.initStart", {"initializationType": "on-demand", "phase": "init",
                                         "runtimeVersion": "python:3.11.v1",
                                         "runtimeVersionArn": "arn:aws:lambda:us-east-1::runtime:x"})
        for ext in self.extensions.values():
            ext.ext_id = None
            ext.queue.clear()
            ext.waiting = False
            ext.next_calls = 0
            self._spawn_extension(ext)
        self.wait(lambda: all(e.ext_id or e.proc.poll() is not None for e in self.extensions.values())
                  or bool(self.init_errors), timeout, "extensions to register")
        if expect_failure:
            self.wait(lambda: bool(self.init_errors) or any(
                e.proc.poll() is not None for e in self.extensions.values()), timeout,
                "an init error or an extension exit")
            return
        self._spawn_runtime()
        self.wait(lambda: self.runtime_waiting and all(e.waiting for e in self.extensions.values()),
                  timeout, "the runtime and all extensions to be ready (next)")
        self.emit("platform.initRuntimeDone", {"initializationType": "on-demand", "phase": "init",
                                               "status": "success"})
        self.init_duration_ms = (time.monotonic() - self.init_started) * 1000
        self.emit("platform.initReport", {"initializationType": "on-demand", "phase": "init",
                                          "status": "success",
                                          "metrics": {"durationMs": round(self.init_duration_ms, 3)}})
        self.cold = True
        self._freeze()

    def _spawn_extension(self, ext: Extension) -> None:
        with self.cond:
            ext.gen += 1
            self.cond.notify_all()
        log = open(ext.log, "ab")
        env = self.base_env()
        started = time.monotonic()  # before the fork: the child may register before Popen returns
        ext.proc = subprocess.Popen([str(ext.path)], stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=env, cwd=str(self.workdir))
        self._record(ext.name, "exec", ext.proc.pid, at=started)
        log.close()
        threading.Thread(target=self._watch_extension_logs, args=(ext,), daemon=True).start()

    def _watch_extension_logs(self, ext: Extension) -> None:
        """Extension output becomes `extension` telemetry records, as in Lambda."""
        pos = 0
        proc = ext.proc
        while not self._stop.is_set():
            try:
                with open(ext.log, "rb") as f:
                    f.seek(pos)
                    chunk = f.read()
            except OSError:
                chunk = b""
            if chunk:
                complete = chunk.rfind(b"\n") + 1
                for line in chunk[:complete].decode(errors="replace").splitlines():
                    if line.strip():
                        self.emit("extension", line)
                pos += complete
            if proc.poll() is not None and not chunk:
                return
            time.sleep(0.02)

    def _spawn_runtime(self) -> None:
        with self.cond:
            self.runtime_gen += 1
            self.cond.notify_all()
        env = self.base_env()
        env["PYTHONPATH"] = str(self.function_dir)
        env["PYTHONUNBUFFERED"] = "1"
        self.runtime = subprocess.Popen([*self.runtime_cmd, self.handler],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, env=env,
                                        cwd=str(self.function_dir))
        self._record("runtime", "exec", self.runtime.pid)
        threading.Thread(target=self._pump_runtime, args=(self.runtime,), daemon=True).start()

    def _pump_runtime(self, proc: subprocess.Popen) -> None:
        with open(self.runtime_log, "ab") as log:
            for raw in iter(proc.stdout.readline, b""):
                log.write(raw)
                log.flush()
                line = raw.decode(errors="replace").rstrip("\n")
                if line:
                    self.emit("function", line + "\n")

    def _pids(self) -> list[int]:
        pids = [e.proc.pid for e in self.extensions.values() if e.proc and e.proc.poll() is None]
        if self.runtime and self.runtime.poll() is None:
            pids.append(self.runtime.pid)
        return pids

    def _freeze(self) -> None:
        if not self.freeze or self.frozen:
            return
        for pid in self._pids():
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:
                pass
        self.frozen = True
        self._record("sandbox", "freeze")

    def _thaw(self) -> None:
        if not self.frozen:
            return
        for pid in self._pids():
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        self.frozen = False
        self._record("sandbox", "thaw")

    def invoke(self, payload: Any, timeout: float | None = None,
               trace_header: bool = True) -> InvokeResult:
        timeout = self.timeout_s if timeout is None else timeout
        request_id = str(uuid.uuid4())
        deadline_ms = epoch_ms() + int(timeout * 1000)
        trace = (f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};"
                 f"Parent={secrets.token_hex(8)};Sampled=1") if trace_header else None
        with self.cond:
            self.results.pop(request_id, None)
            self.current_request = request_id
            invoke_exts = [e for e in self.extensions.values() if "INVOKE" in e.events]
            before = {e.name: e.next_calls for e in invoke_exts}
        self._thaw()
        started = time.monotonic()
        start_rec: dict[str, Any] = {"requestId": request_id, "version": "$LATEST"}
        if trace:
            start_rec["tracing"] = {"spanId": secrets.token_hex(8), "type": "X-Amzn-Trace-Id",
                                    "value": trace}
        self.emit("platform.start", start_rec)
        event = {"eventType": "INVOKE", "deadlineMs": deadline_ms, "requestId": request_id,
                 "invokedFunctionArn": self.arn}
        if trace:
            event["tracing"] = {"type": "X-Amzn-Trace-Id", "value": trace}
        with self.cond:
            for e in invoke_exts:
                e.queue.append(event)
            self.pending_invocation = {"id": request_id, "deadline": deadline_ms, "trace": trace,
                                       "body": json.dumps(payload).encode()}
            self.cond.notify_all()
        # The runtime answers (or the invocation times out).
        end = time.monotonic() + timeout
        with self.cond:
            while request_id not in self.results and time.monotonic() < end:
                self.cond.wait(0.02)
            status, body = self.results.get(request_id, ("timeout", None))
        done = time.monotonic()
        duration_ms = (done - started) * 1000
        rd = {"requestId": request_id, "status": status,
              "metrics": {"durationMs": round(duration_ms, 3), "producedBytes": len(body or b"")},
              "spans": [{"name": "responseLatency", "start": now_iso(),
                         "durationMs": round(duration_ms, 3)},
                        {"name": "responseDuration", "start": now_iso(), "durationMs": 0.1}]}
        if status != "success":
            rd["errorType"] = "Sandbox.Timedout" if status == "timeout" else "Runtime.HandlerError"
        if trace:
            rd["tracing"] = start_rec["tracing"]
        self.emit("platform.runtimeDone", rd)
        self._record("runtime", "done", request_id)
        if status == "timeout":
            # Lambda resets the environment after a timeout; the test decides what follows.
            return InvokeResult(request_id, status, None, started, done, {}, None)
        # Invoke phase ends when every extension called next again.
        self.wait(lambda: all(e.next_calls > before[e.name] for e in invoke_exts
                              if e.proc and e.proc.poll() is None) and self.runtime_waiting,
                  max(timeout, 30.0), f"extensions to finish invocation {request_id}")
        ext_next = {}
        with self.cond:
            for e in invoke_exts:
                nexts = [c.at for c in self.calls if c.who == e.name and c.what == "next"
                         and c.at >= started]
                if nexts:
                    ext_next[e.name] = nexts[0]
        report = {"requestId": request_id, "status": status,
                  "metrics": {"durationMs": round(duration_ms, 3),
                              "billedDurationMs": int(duration_ms) + 1,
                              "memorySizeMB": self.memory_mb, "maxMemoryUsedMB": 42}}
        if self.cold and self.init_duration_ms is not None:
            report["metrics"]["initDurationMs"] = round(self.init_duration_ms, 3)
        self.cold = False
        if trace:
            report["tracing"] = start_rec["tracing"]
        self.emit("platform.report", report)
        self._freeze()
        frozen = time.monotonic() if self.freeze else None
        with self.cond:
            self.current_request = None
        return InvokeResult(request_id, status, json.loads(body) if body else None, started,
                            done, ext_next, frozen)

    def shutdown(self, deadline_s: float = 2.0, reason: str = "spindown") -> dict[str, Any]:
        """SHUTDOWN: the runtime is stopped, extensions get the event with deadlineMs and
        must exit before it (else SIGKILL). Returns exit codes and timings."""
        self._thaw()
        if self.runtime and self.runtime.poll() is None:
            self.runtime.kill()
            self.runtime.wait(5)
        deadline_ms = epoch_ms() + int(deadline_s * 1000)
        sent = time.monotonic()
        event = {"eventType": "SHUTDOWN", "shutdownReason": reason, "deadlineMs": deadline_ms}
        with self.cond:
            for e in self.extensions.values():
                if "SHUTDOWN" in e.events:
                    e.queue.append(event)
            self.cond.notify_all()
        out: dict[str, Any] = {"sent": sent, "deadline": sent + deadline_s, "exits": {},
                               "exit_at": {}}
        for e in self.extensions.values():
            if not e.proc:
                continue
            left = max(0.0, sent + deadline_s - time.monotonic())
            try:
                out["exits"][e.name] = e.proc.wait(left)
                out["exit_at"][e.name] = time.monotonic()
            except subprocess.TimeoutExpired:
                e.proc.kill()
                e.proc.wait(5)
                out["exits"][e.name] = "killed at deadline"
                out["exit_at"][e.name] = time.monotonic()
        return out

    def crash_extension(self, name: str = "tern") -> None:
        """kill -9 the extension (as an OOM or a crash would)."""
        self._thaw()
        e = self.extensions[name]
        if e.proc and e.proc.poll() is None:
            e.proc.kill()
            e.proc.wait(5)
        with self.cond:
            e.gen += 1
            e.waiting = False
            self.cond.notify_all()
        self._record(name, "crashed")

    def reset(self) -> None:
        """What Lambda does after a crash or timeout: stop every process of the environment
        (keeping /tmp), then run init again."""
        self._thaw()
        for e in self.extensions.values():
            if e.proc and e.proc.poll() is None:
                e.proc.kill()
                e.proc.wait(5)
        if self.runtime and self.runtime.poll() is None:
            self.runtime.kill()
            self.runtime.wait(5)
        with self.cond:
            self.runtime_waiting = False
            self.pending_invocation = None
            self.subscriptions.clear()
            self._sub_cursor.clear()
            self._telemetry_buffer.clear()
        self.init()

    def close(self) -> None:
        self._thaw()
        self._stop.set()
        for e in self.extensions.values():
            if e.proc and e.proc.poll() is None:
                e.proc.kill()
                e.proc.wait(5)
        if self.runtime and self.runtime.poll() is None:
            self.runtime.kill()
            self.runtime.wait(5)
        self._server.shutdown()
        self._server.server_close()


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A process killed (crash tests, teardown) while its long poll was open: expected.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def _category(kind: str) -> str:
    return "platform" if kind.startswith("platform.") else kind


def _tail(path: Path | None, limit: int = 5000) -> str:
    if not path or not path.exists():
        return ""
    text = path.read_text(errors="replace")
    return text if len(text) <= limit else "...\n" + text[-limit:]


def _handler(emu: LambdaEmulator):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            # Headers and body go out in two writes: without this, Nagle's algorithm and the
            # client's delayed ACK add ~40 ms to answers (Lambda's own API does not).
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format, *args):  # noqa: A002
            pass

        def _body(self) -> bytes:
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def _send(self, status: int, body: Any = b"", headers: dict | None = None) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _ext(self) -> Extension | None:
            ext_id = self.headers.get("Lambda-Extension-Identifier")
            for e in emu.extensions.values():
                if e.ext_id and e.ext_id == ext_id:
                    return e
            return None

        # -- Extensions API ----------------------------------------------------------
        def do_POST(self):  # noqa: N802
            path = self.path
            body = self._body()
            if path == REGISTER:
                name = self.headers.get("Lambda-Extension-Name", "")
                ext = emu.extensions.get(name)
                if ext is None:
                    emu._record(name, "register-rejected")
                    return self._send(403, {"errorMessage": f"extension {name!r} is not installed",
                                            "errorType": "Extension.Forbidden"})
                req = json.loads(body or b"{}")
                with emu.cond:
                    ext.ext_id = str(uuid.uuid4())
                    ext.events = list(req.get("events", []))
                    emu.cond.notify_all()
                emu._record(name, "register", ext.events)
                return self._send(200, {"functionName": emu.function_name,
                                        "functionVersion": "$LATEST", "handler": emu.handler},
                                  {"Lambda-Extension-Identifier": ext.ext_id})
            if path in (INIT_ERROR, EXIT_ERROR):
                ext = self._ext()
                if ext is None:
                    return self._send(403, {"errorMessage": "unknown extension identifier"})
                kind = self.headers.get("Lambda-Extension-Function-Error-Type", "")
                parsed = json.loads(body or b"{}")
                with emu.cond:
                    (emu.init_errors if path == INIT_ERROR else emu.exit_errors).append(
                        (ext.name, kind, parsed))
                    emu.cond.notify_all()
                emu._record(ext.name, "init/error" if path == INIT_ERROR else "exit/error",
                            (kind, parsed))
                return self._send(202, {"status": "OK"})
            # -- Runtime API -------------------------------------------------------------
            if path.startswith(RUNTIME + "/invocation/"):
                parts = path.split("/")
                req_id, verb = parts[-2], parts[-1]
                status = "success" if verb == "response" else "error"
                with emu.cond:
                    emu.results[req_id] = (status, body)
                    emu.cond.notify_all()
                emu._record("runtime", verb, req_id)
                return self._send(202, {"status": "OK"})
            if path == RUNTIME + "/init/error":
                with emu.cond:
                    emu.runtime_init_errors.append(json.loads(body or b"{}"))
                    emu.cond.notify_all()
                emu._record("runtime", "init/error")
                return self._send(202, {"status": "OK"})
            return self._send(404, {"errorMessage": f"no route {path}"})

        def do_PUT(self):  # noqa: N802
            body = self._body()
            if self.path != TELEMETRY:
                return self._send(404, {"errorMessage": "no route"})
            ext = self._ext()
            if ext is None:
                return self._send(403, {"errorMessage": "unknown extension identifier"})
            req = json.loads(body or b"{}")
            if not emu.telemetry_enabled:
                emu._record(ext.name, "subscribe-refused", req)
                return self._send(500, {"errorMessage": "telemetry API not available",
                                        "errorType": "Telemetry.Unavailable"})
            buffering = req.get("buffering", {})
            ok = (req.get("schemaVersion") in ("2022-07-01", "2022-12-13", "2025-01-29")
                  and req.get("destination", {}).get("protocol") == "HTTP"
                  and 25 <= int(buffering.get("timeoutMs", 1000)) <= 30000)
            if not ok:
                emu._record(ext.name, "subscribe-invalid", req)
                return self._send(400, {"errorMessage": "invalid subscription",
                                        "errorType": "ValidationError"})
            sub = Subscription(ext.name, req["destination"]["URI"], list(req.get("types", [])),
                               int(buffering.get("timeoutMs", 1000)),
                               int(buffering.get("maxItems", 1000)))
            with emu.cond:
                emu.subscriptions.append(sub)
                emu.cond.notify_all()
            emu._record(ext.name, "subscribe", req)
            return self._send(200, b"OK")

        def do_GET(self):  # noqa: N802
            if self.path == EXT_NEXT:
                ext = self._ext()
                if ext is None:
                    return self._send(403, {"errorMessage": "unknown extension identifier"})
                emu._record(ext.name, "next")
                with emu.cond:
                    gen = ext.gen
                    ext.waiting = True
                    ext.next_calls += 1
                    emu.cond.notify_all()
                    while not ext.queue and not emu._stop.is_set() and gen == ext.gen:
                        emu.cond.wait(0.05)
                    if emu._stop.is_set() or gen != ext.gen:
                        return
                    event = ext.queue.pop(0)
                    ext.waiting = False
                return self._send(200, event,
                                  {"Lambda-Extension-Event-Identifier": str(uuid.uuid4())})
            if self.path == RUNTIME + "/invocation/next":
                emu._record("runtime", "next")
                with emu.cond:
                    gen = emu.runtime_gen
                    emu.runtime_waiting = True
                    emu.cond.notify_all()
                    while (emu.pending_invocation is None and not emu._stop.is_set()
                           and gen == emu.runtime_gen):
                        emu.cond.wait(0.05)
                    if emu._stop.is_set() or gen != emu.runtime_gen:
                        return
                    inv = emu.pending_invocation
                    emu.pending_invocation = None
                    emu.runtime_waiting = False
                headers = {"Lambda-Runtime-Aws-Request-Id": inv["id"],
                           "Lambda-Runtime-Deadline-Ms": str(inv["deadline"]),
                           "Lambda-Runtime-Invoked-Function-Arn": emu.arn}
                if inv["trace"]:
                    headers["Lambda-Runtime-Trace-Id"] = inv["trace"]
                return self._send(200, inv["body"], headers)
            return self._send(404, {"errorMessage": "no route"})

    return Handler
