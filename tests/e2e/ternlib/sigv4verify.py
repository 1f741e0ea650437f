"""A SigV4-verifying reverse proxy: checks every request's signature with botocore (an
implementation independent of the signer under test), answers 403 with the reason when it
does not hold, otherwise forwards the request to an upstream (Prometheus, moto) and relays the
answer. This is how AMP and the X-Ray API behave towards a badly signed request.

Checks: algorithm and scope (access key, date, region, service), clock skew (5 minutes),
session token, `x-amz-content-sha256` equal to the body's hash (botocore trusts the header,
so the proxy checks it itself), and the signature over the headers the client says it signed.
An extra unsigned header is allowed, as AWS allows it.

    with SigV4VerifyingProxy(upstream="http://127.0.0.1:9090", service="aps",
                             region="us-east-1", access_key=AK, secret_key=SK) as proxy:
        ... point the client at proxy.url ...
        assert proxy.accepted and not proxy.rejected
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import http.client
import threading
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
REGION = "us-east-1"
MAX_SKEW = _dt.timedelta(minutes=5)

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
               "trailers", "transfer-encoding", "upgrade", "host", "content-length"}


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    verdict: str  # "ok" or the rejection reason


def _parse_authorization(value: str) -> dict[str, str]:
    algo, _, rest = value.partition(" ")
    if algo != "AWS4-HMAC-SHA256":
        raise ValueError(f"unsupported algorithm {algo!r}")
    fields = {}
    for part in rest.split(","):
        k, _, v = part.strip().partition("=")
        fields[k] = v
    for k in ("Credential", "SignedHeaders", "Signature"):
        if not fields.get(k):
            raise ValueError(f"Authorization lacks {k}")
    return fields


def verify(method: str, host: str, path: str, headers: dict[str, str], body: bytes, *,
           service: str, region: str, access_key: str, secret_key: str,
           token: str | None = None, now: _dt.datetime | None = None) -> str:
    """Returns "ok" or the reason the request's signature does not hold."""
    lower = {k.lower(): v for k, v in headers.items()}
    auth = lower.get("authorization")
    if not auth:
        return "missing Authorization"
    try:
        fields = _parse_authorization(auth)
    except ValueError as e:
        return str(e)
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        return f"malformed credential scope {fields['Credential']!r}"
    ak, date, sregion, sservice, _ = scope
    if ak != access_key:
        return f"unknown access key {ak!r}"
    if sregion != region:
        return f"wrong region {sregion!r}"
    if sservice != service:
        return f"wrong service {sservice!r}"
    amz_date = lower.get("x-amz-date")
    if not amz_date:
        return "missing X-Amz-Date"
    try:
        t = _dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=_dt.timezone.utc)
    except ValueError:
        return f"bad X-Amz-Date {amz_date!r}"
    if not amz_date.startswith(date):
        return "X-Amz-Date does not match the credential scope date"
    now = now or _dt.datetime.now(_dt.timezone.utc)
    if abs(now - t) > MAX_SKEW:
        return "request time too skewed"
    if token is not None and lower.get("x-amz-security-token") != token:
        return "bad or missing security token"
    declared = lower.get("x-amz-content-sha256")
    if declared is not None and declared != "UNSIGNED-PAYLOAD" \
            and declared != hashlib.sha256(body).hexdigest():
        return "x-amz-content-sha256 does not match the body"
    signed = fields["SignedHeaders"].split(";")
    if "host" not in signed:
        return "host is not signed"
    sign_headers = {}
    for name in signed:
        if name == "host":
            sign_headers["host"] = lower.get("host", host)
        elif name in lower:
            sign_headers[name] = lower[name]
        else:
            return f"signed header {name!r} is missing"
    req = AWSRequest(method=method, url=f"http://{sign_headers['host']}{path}",
                     data=body, headers=sign_headers)
    req.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(access_key, secret_key, token), service, region)
    canonical = signer.canonical_request(req)
    string_to_sign = signer.string_to_sign(req, canonical)
    expected = signer.signature(string_to_sign, req)
    if not hmac.compare_digest(expected, fields["Signature"]):
        return "signature does not match"
    return "ok"


class SigV4VerifyingProxy:
    def __init__(self, upstream: str | None, service: str, region: str = REGION,
                 access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY,
                 token: str | None = None, host: str = "127.0.0.1", port: int = 0):
        self.upstream = urllib.parse.urlsplit(upstream) if upstream else None
        self.service, self.region = service, region
        self.access_key, self.secret_key, self.token = access_key, secret_key, token
        self.accepted = 0
        self.rejected = 0
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items()}
                status, rheaders, rbody = proxy._process(self.command, self.path, headers, body)
                self.send_response(status)
                for k, v in rheaders:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(rbody)))
                self.end_headers()
                self.wfile.write(rbody)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _process(self, method: str, path: str, headers: dict[str, str], body: bytes):
        host = self.url.split("://", 1)[1]
        verdict = verify(method, host, path, headers, body, service=self.service,
                         region=self.region, access_key=self.access_key,
                         secret_key=self.secret_key, token=self.token)
        with self._lock:
            self.requests.append(Recorded(method, path, headers, body, verdict))
            if verdict == "ok":
                self.accepted += 1
            else:
                self.rejected += 1
        if verdict != "ok":
            msg = f'{{"message": "SigV4 verification failed: {verdict}"}}'.encode()
            return 403, [("Content-Type", "application/json")], msg
        if self.upstream is None:
            return 200, [("Content-Type", "application/json")], b"{}"
        return self._forward(method, path, headers, body)

    def _forward(self, method, path, headers, body):
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=30)
        try:
            fwd = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}
            fwd["Content-Length"] = str(len(body))
            conn.request(method, path, body=body, headers=fwd)
            resp = conn.getresponse()
            rbody = resp.read()
            rheaders = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP_BY_HOP]
            return resp.status, rheaders, rbody
        except OSError as e:
            return 502, [("Content-Type", "text/plain")], f"upstream unreachable: {e}".encode()
        finally:
            conn.close()

    def replay(self, method: str, path: str, headers: dict[str, str], body: bytes):
        """Sends a (possibly tampered) request through the proxy; returns (status, body)."""
        u = urllib.parse.urlsplit(self.url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        try:
            hdrs = {k: v for k, v in headers.items() if k.lower() != "content-length"}
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
