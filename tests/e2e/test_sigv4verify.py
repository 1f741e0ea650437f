"""The SigV4-verifying proxy used by the AWS exporter tests must itself be right: it accepts
the AWS test vector and botocore-signed requests, and rejects every kind of tampering."""

import datetime as dt

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ternlib.sigv4verify import ACCESS_KEY, SECRET_KEY, SigV4VerifyingProxy, verify


def test_get_vanilla_vector():
    headers = {
        "Host": "example.amazonaws.com",
        "X-Amz-Date": "20150830T123600Z",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                         "aws4_request, SignedHeaders=host;x-amz-date, Signature="
                         "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    }
    now = dt.datetime(2015, 8, 30, 12, 36, tzinfo=dt.timezone.utc)
    kw = dict(service="service", region="us-east-1", access_key=ACCESS_KEY,
              secret_key=SECRET_KEY, now=now)
    assert verify("GET", "example.amazonaws.com", "/", headers, b"", **kw) == "ok"
    assert verify("GET", "example.amazonaws.com", "/other", headers, b"", **kw) != "ok"


def _signed(url, body, *, secret=SECRET_KEY, service="aps", token=None, extra=None):
    req = AWSRequest(method="POST", url=url, data=body,
                     headers={"Content-Type": "application/x-protobuf", **(extra or {})})
    SigV4Auth(Credentials(ACCESS_KEY, secret, token), service, "us-east-1").add_auth(req)
    return dict(req.headers.items())


@pytest.fixture
def proxy():
    with SigV4VerifyingProxy(upstream=None, service="aps") as p:
        yield p


def test_accepts_botocore_signature_and_unsigned_extra_header(proxy):
    url = proxy.url + "/api/v1/write"
    h = _signed(url, b"payload")
    assert proxy.replay("POST", "/api/v1/write", h, b"payload")[0] == 200
    h["X-Unsigned-Extra"] = "1"
    assert proxy.replay("POST", "/api/v1/write", h, b"payload")[0] == 200
    assert proxy.accepted == 2 and proxy.rejected == 0


@pytest.mark.parametrize("case", ["secret", "body", "signed_header", "service", "skew", "token"])
def test_rejects_tampering(proxy, case):
    url = proxy.url + "/api/v1/write"
    body = b"payload"
    if case == "secret":
        h = _signed(url, body, secret="wrong")
    elif case == "service":
        h = _signed(url, body, service="xray")
    elif case == "token":
        proxy.token = "good-token"
        h = _signed(url, body, token="bad-token")
    else:
        h = _signed(url, body)
    if case == "body":
        body = b"payload!"
    elif case == "signed_header":
        h["Content-Type"] = "text/plain"
    elif case == "skew":
        old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=10))
        req = AWSRequest(method="POST", url=url, data=body, headers={})
        req.context["timestamp"] = old.strftime("%Y%m%dT%H%M%SZ")
        auth = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "aps", "us-east-1")
        req.headers["X-Amz-Date"] = req.context["timestamp"]
        req.headers["host"] = url.split("/")[2]
        sig = auth.signature(auth.string_to_sign(req, auth.canonical_request(req)), req)
        h = dict(req.headers.items())
        h["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/"
                              f"{req.context['timestamp'][:8]}/us-east-1/aps/aws4_request, "
                              f"SignedHeaders={auth.signed_headers(auth.headers_to_sign(req))}, "
                              f"Signature={sig}")
    status, answer = proxy.replay("POST", "/api/v1/write", h, body)
    assert status == 403, answer
    assert proxy.rejected == 1
    reason = {"secret": "signature", "body": "signature", "signed_header": "signature",
              "service": "wrong service", "skew": "skewed", "token": "token"}[case]
    assert reason in proxy.requests[-1].verdict


def test_forwards_to_upstream():
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    import threading

    class H(BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers["Content-Length"])
            data = self.rfile.read(n)
            self.send_response(204 if data == b"x" else 400)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    up = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=up.serve_forever, daemon=True).start()
    try:
        with SigV4VerifyingProxy(upstream=f"http://127.0.0.1:{up.server_address[1]}",
                                 service="aps") as p:
            url = p.url + "/api/v1/write"
            r = requests.post(url, data=b"x", headers=_signed(url, b"x"))
            assert r.status_code == 204
    finally:
        up.shutdown()
