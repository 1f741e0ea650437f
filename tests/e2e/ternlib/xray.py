"""X-Ray side of the e2e suite: a moto server (the real X-Ray API implementation), boto3
read-back helpers, a fake PutTraceSegments endpoint for fault injection and a UDP daemon
listener.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

import boto3

from .ports import free_port, is_listening
from .sigv4verify import ACCESS_KEY, REGION, SECRET_KEY

DAEMON_HEADER = b'{"format": "json", "version": 1}\n'


def moto_server_bin() -> str:
    """moto_server from the venv running the tests (never a skip: fail if missing)."""
    cand = Path(sys.executable).parent / "moto_server"
    if cand.exists():
        return str(cand)
    found = shutil.which("moto_server")
    if not found:
        raise AssertionError("moto_server not found: install tests/requirements.txt (moto[server])")
    return found


class MotoServer:
    """`moto_server -H 127.0.0.1 -p PORT` as a child process."""

    def __init__(self, port: int | None = None, log_dir: Path | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = (log_dir or Path("/tmp")) / f"moto-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> "MotoServer":
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([moto_server_bin(), "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"moto_server exited with {self.proc.returncode}:\n"
                                     + self.log_path.read_text(errors="replace")[-3000:])
            if is_listening("127.0.0.1", self.port):
                return self
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"moto_server not listening on {self.port} after {timeout}s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def client(self):
        return boto3.client("xray", endpoint_url=self.url, region_name=REGION,
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)


def aws_env(tmp: Path) -> dict[str, str]:
    """Dummy credentials for tern; no instance metadata, no shared config files."""
    return {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(tmp / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "no-aws-credentials"),
    }


def xray_trace_id(trace_id: bytes) -> str:
    h = trace_id.hex()
    return f"1-{h[:8]}-{h[8:]}"


def documents(client, trace_id: bytes) -> list[dict]:
    """Every segment document stored for the trace (parsed)."""
    resp = client.batch_get_traces(TraceIds=[xray_trace_id(trace_id)])
    docs = []
    for t in resp.get("Traces", []):
        for seg in t.get("Segments", []):
            docs.append(json.loads(seg["Document"]))
    return docs


def wait_documents(client, trace_id: bytes, n: int, timeout: float = 20.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    docs: list[dict] = []
    while time.monotonic() < deadline:
        docs = documents(client, trace_id)
        if len(docs) >= n:
            return docs
        time.sleep(0.2)
    raise AssertionError(f"expected {n} documents for {xray_trace_id(trace_id)}, got {len(docs)}: {docs}")


def summary_ids(client, start: float, end: float) -> set[str]:
    resp = client.get_trace_summaries(StartTime=start, EndTime=end)
    return {s["Id"] for s in resp.get("TraceSummaries", [])}


class FakeXray:
    """A PutTraceSegments endpoint answering from a script: `answer(call_index, docs)` returns
    (status, body dict). Records every call's documents."""

    def __init__(self, answer: Callable[[int, list[dict]], tuple[int, dict]]):
        self.calls: list[list[dict]] = []
        self.paths: list[str] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                docs = [json.loads(d) for d in body.get("TraceSegmentDocuments", [])]
                with fake._lock:
                    idx = len(fake.calls)
                    fake.calls.append(docs)
                    fake.paths.append(self.path)
                status, answer = answer_fn(idx, docs)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                if status != 200 and "__type" in answer:
                    self.send_header("x-amzn-ErrorType", answer["__type"])
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        answer_fn = answer
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def docs_seen(self) -> list[dict]:
        with self._lock:
            return [d for c in self.calls for d in c]

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()


class UdpDaemon:
    """Receives X-Ray daemon datagrams: (header, document) pairs."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"

    def receive(self, n: int, timeout: float = 15.0) -> list[bytes]:
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < n and time.monotonic() < deadline:
            try:
                data, _ = self.sock.recvfrom(70_000)
                got.append(data)
            except socket.timeout:
                pass
        return got

    def close(self):
        self.sock.close()


def clean_env_without_aws() -> dict[str, str]:
    """Blank values for every AWS_* variable of this process (tern must not need them)."""
    return {k: "" for k in os.environ if k.startswith("AWS_")}


class ForwardProxy:
    """A plain-HTTP forward proxy (absolute-form requests), counting what it relays."""

    def __init__(self):
        import http.client
        import urllib.parse
        self.relayed: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                target = urllib.parse.urlsplit(self.path)
                if not target.scheme:
                    self.send_error(400, "not a proxy request")
                    return
                proxy.relayed.append(self.path)
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                hdrs = {k: v for k, v in self.headers.items()
                        if k.lower() not in ("proxy-connection", "connection", "content-length")}
                conn.request("POST", target.path or "/", body=body, headers=hdrs)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
