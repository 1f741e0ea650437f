"""Fake AWS metadata services for tests, shaped like the documented ones:

* IMDSv2: `PUT /latest/api/token` needs `X-aws-ec2-metadata-token-ttl-seconds` (1..21600) and
  returns a token; every GET needs a live `X-aws-ec2-metadata-token`, else `401`.
* ECS task metadata v4: `GET ${ECS_CONTAINER_METADATA_URI_V4}` (this container) and `.../task`.

Payloads are the documented-shape fixtures the Rust tests use (`core/src/aws/testdata/`).
Each server runs in a thread on a free port; point Tern at it with the standard variables."""

from __future__ import annotations

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TESTDATA = Path(__file__).resolve().parents[3] / "core" / "src" / "aws" / "testdata"
ECS_CONTAINER_ID = "e9028f8d5d8e4f258373e7b93ce9a3c3-1111111111"


def payload(name: str) -> str:
    return (TESTDATA / name).read_text()


def payload_json(name: str) -> dict:
    return json.loads(payload(name))


class _Server:
    def __init__(self, handler_cls):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
        self.httpd.daemon_threads = True
        self.httpd.fake = self
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self):
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def answer(self, status: int, body: str = "", ctype: str = "text/plain") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _ImdsHandler(_Handler):
    def do_PUT(self):
        fake: FakeImds = self.server.fake
        fake.puts += 1
        if self.path != "/latest/api/token":
            return self.answer(404, "Not Found")
        try:
            ttl = int(self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", ""))
        except ValueError:
            ttl = 0
        if not 1 <= ttl <= 21600:
            return self.answer(400, "missing or invalid TTL")
        token = secrets.token_urlsafe(24)
        fake.tokens[token] = time.monotonic() + ttl
        self.answer(200, token)

    def do_GET(self):
        fake: FakeImds = self.server.fake
        fake.gets += 1
        token = self.headers.get("X-aws-ec2-metadata-token")
        if token is None or fake.tokens.get(token, 0) < time.monotonic():
            return self.answer(401, "")
        doc = payload_json("imds_identity.json")
        routes = {
            "/latest/meta-data/instance-id": doc["instanceId"],
            "/latest/meta-data/hostname": FakeImds.HOSTNAME,
            "/latest/dynamic/instance-identity/document": payload("imds_identity.json"),
        }
        if self.path not in routes:
            return self.answer(404, "Not Found")
        self.answer(200, routes[self.path])


class FakeImds(_Server):
    HOSTNAME = "ip-172-31-7-2.us-west-2.compute.internal"

    def __init__(self):
        super().__init__(_ImdsHandler)
        self.tokens: dict[str, float] = {}
        self.puts = 0
        self.gets = 0


class _EcsHandler(_Handler):
    def do_GET(self):
        fake: FakeEcs = self.server.fake
        prefix = f"/v4/{ECS_CONTAINER_ID}"
        if self.path == prefix:
            return self.answer(200, payload("ecs_container_fargate.json"), "application/json")
        if self.path == prefix + "/task":
            if fake.task_status != 200:
                return self.answer(fake.task_status, "agent error")
            return self.answer(200, payload("ecs_task_fargate.json"), "application/json")
        self.answer(404, "404 page not found")


class FakeEcs(_Server):
    def __init__(self, task_status: int = 200):
        super().__init__(_EcsHandler)
        self.task_status = task_status

    @property
    def uri_v4(self) -> str:
        return f"{self.base}/v4/{ECS_CONTAINER_ID}"
