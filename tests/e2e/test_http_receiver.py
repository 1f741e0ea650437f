"""OTLP/HTTP receiver answers: success bodies, 405, 415, 400 (protobuf and JSON
google.rpc.Status bodies), 413, 404, Content-Encoding handling."""

from __future__ import annotations

import gzip
import http.client
import json

import pytest
from google.rpc import status_pb2

from ternlib import configs
from ternlib.otlp import JSON, PROTOBUF, compress, logs_request, metrics_request, post, post_proto, trace_request
from ternlib.ports import free_port

MSG_405 = "405 method not allowed, supported: [POST]"
MSG_415 = "415 unsupported media type, supported: [application/json, application/x-protobuf]"


def ctype(r) -> str:
    return r.headers.get("Content-Type", "").split(";")[0].strip().lower()


@pytest.fixture
def rx(tern, sink):
    http = free_port()
    tern(configs.simple(sink, http=http))
    return f"http://127.0.0.1:{http}"


@pytest.mark.parametrize("signal,make,n", [
    ("traces", lambda: trace_request(3), 3),
    ("metrics", lambda: metrics_request(4), 4),
    ("logs", lambda: logs_request(2), 2),
])
def test_protobuf_success_is_200_with_empty_protobuf_body(rx, sink, signal, make, n):
    r = post_proto(rx, make())
    assert r.status_code == 200, (r.status_code, r.text)
    assert ctype(r) == PROTOBUF, r.headers
    assert r.content == b"", r.content
    sink.wait_for(signal, n)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_non_post_is_405(rx, sink, method):
    body = b"" if method in ("GET", "DELETE") else trace_request(1).SerializeToString()
    r = post(rx, "/v1/traces", body, method=method)
    assert r.status_code == 405, (r.status_code, r.text)
    assert ctype(r) == "text/plain", r.headers
    assert r.text.strip() == MSG_405
    assert sink.count("traces") == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/octet-stream",
                                          "application/grpc", None])
def test_other_content_type_is_415(rx, sink, content_type):
    r = post(rx, "/v1/traces", trace_request(1).SerializeToString(), content_type=content_type)
    assert r.status_code == 415, (content_type, r.status_code, r.text)
    assert ctype(r) == "text/plain", r.headers
    assert r.text.strip() == MSG_415
    assert sink.count("traces") == 0


def test_content_type_parameters_are_accepted(rx, sink):
    r = post(rx, "/v1/traces", trace_request(2).SerializeToString(),
             content_type="application/x-protobuf; charset=utf-8")
    assert r.status_code == 200, (r.status_code, r.text)
    sink.wait_for("traces", 2)


@pytest.mark.parametrize("signal", ["traces", "metrics", "logs"])
def test_undecodable_protobuf_is_400_with_protobuf_status(rx, sink, signal):
    # field 1 (resource_*), length-delimited, claims 5 bytes but only 3 follow
    r = post(rx, f"/v1/{signal}", b"\x0a\x05abc", content_type=PROTOBUF)
    assert r.status_code == 400, (r.status_code, r.content)
    assert ctype(r) == PROTOBUF, r.headers
    st = status_pb2.Status()
    st.ParseFromString(r.content)  # must be a google.rpc.Status
    assert st.code == 3, st  # INVALID_ARGUMENT
    assert st.message, "Status.message should say what was wrong"
    assert sink.count(signal) == 0


@pytest.mark.parametrize("body", [b"{not json", b'{"resourceSpans": "nope"}', b"[1, 2, 3]"],
                         ids=["syntax", "wrong-type", "array"])
def test_undecodable_json_is_400_with_json_status(rx, sink, body):
    r = post(rx, "/v1/traces", body, content_type=JSON)
    assert r.status_code == 400, (r.status_code, r.text)
    assert ctype(r) == JSON, r.headers
    st = json.loads(r.text)
    assert st.get("code") == 3, st
    assert isinstance(st.get("message"), str) and st["message"], st
    assert sink.count("traces") == 0


@pytest.mark.parametrize("path", ["/v1/unknown", "/v2/traces", "/", "/v1/traces/extra"])
def test_unknown_path_is_404(rx, path):
    r = post(rx, path, trace_request(1).SerializeToString())
    assert r.status_code == 404, (path, r.status_code, r.text)
    r = post(rx, path, b"", method="GET")
    assert r.status_code == 404, ("GET", path, r.status_code, r.text)


def test_chunked_request_body_accepted(rx, sink):
    import requests
    body = trace_request(4).SerializeToString()
    chunks = (body[i:i + 100] for i in range(0, len(body), 100))  # a generator: sent chunked
    r = requests.post(rx + "/v1/traces", data=chunks, headers={"Content-Type": PROTOBUF}, timeout=10)
    assert r.status_code == 200, (r.status_code, r.text)
    sink.wait_for("traces", 4)


def test_custom_url_paths(tern, sink):
    http = free_port()
    tern(configs.simple(sink, http=http, http_extra={
        "traces_url_path": "/custom/traces", "metrics_url_path": "custom/metrics",
        "logs_url_path": "/custom/logs"}))
    base = f"http://127.0.0.1:{http}"
    assert post(base, "/custom/traces", trace_request(1).SerializeToString()).status_code == 200
    # a path without a leading slash gets one prepended
    assert post(base, "/custom/metrics", metrics_request(2).SerializeToString()).status_code == 200
    assert post(base, "/custom/logs", logs_request(3).SerializeToString()).status_code == 200
    assert post(base, "/v1/traces", trace_request(1).SerializeToString()).status_code == 404
    sink.wait_for("traces", 1)
    sink.wait_for("metrics", 2)
    sink.wait_for("logs", 3)


@pytest.mark.parametrize("encoding", ["gzip", "zstd"])
@pytest.mark.parametrize("content_type", [PROTOBUF, JSON])
def test_compressed_request_bodies_accepted(rx, sink, encoding, content_type):
    if content_type == PROTOBUF:
        raw = trace_request(3, prefix=f"{encoding}-pb").SerializeToString()
    else:
        raw = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [
            {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": f"00000000000000{i:02x}",
             "name": f"{encoding}-json-{i}", "startTimeUnixNano": "1", "endTimeUnixNano": "2"}
            for i in range(1, 4)]}]}]}).encode()
    r = post(rx, "/v1/traces", compress(encoding, raw), content_type=content_type, encoding=encoding)
    assert r.status_code == 200, (r.status_code, r.text)
    spans = sink.wait_for_spans(3)
    assert sorted(sp.name for _, _, sp in spans)[0].startswith(encoding)


@pytest.mark.parametrize("encoding", ["br", "x-unknown"])
def test_unsupported_content_encoding_is_400(rx, sink, encoding):
    r = post(rx, "/v1/traces", trace_request(1).SerializeToString(), encoding=encoding)
    assert r.status_code == 400, (encoding, r.status_code, r.text)
    assert sink.count("traces") == 0


def test_corrupt_gzip_body_is_400(rx, sink):
    r = post(rx, "/v1/traces", b"this is not gzip at all", encoding="gzip")
    assert r.status_code == 400, (r.status_code, r.text)
    assert sink.count("traces") == 0


@pytest.mark.parametrize("content_type,body,expected_body", [
    (PROTOBUF, b"", b""),
    (JSON, b"{}", b"{}"),
], ids=["protobuf", "json"])
def test_empty_request_is_success_and_forwards_nothing(rx, sink, content_type, body, expected_body):
    r = post(rx, "/v1/logs", body, content_type=content_type)
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.content.strip() == expected_body, r.content
    # a real request afterwards is the only thing exported
    assert post_proto(rx, trace_request(1)).status_code == 200
    sink.wait_for("traces", 1)
    assert sink.requests("logs") == []


# ---- request size limits -------------------------------------------------------------------

def _post_streaming(url_host: str, port: int, path: str, body: bytes, headers: dict) -> tuple[int, bytes]:
    """POST a body that the server may refuse before reading it all: stop writing on a
    broken pipe and still read the answer the server sent."""
    conn = http.client.HTTPConnection(url_host, port, timeout=30)
    conn.putrequest("POST", path)
    for k, v in {**headers, "Content-Length": str(len(body))}.items():
        conn.putheader(k, v)
    conn.endheaders()
    try:
        view = memoryview(body)
        for i in range(0, len(body), 256 * 1024):
            conn.send(view[i:i + 256 * 1024])
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_body_over_configured_limit_is_413(tern, sink):
    http = free_port()
    tern(configs.simple(sink, http=http, http_extra={"max_request_body_size": 4096}))
    base = f"http://127.0.0.1:{http}"
    small = trace_request(2, pad=100)
    assert len(small.SerializeToString()) < 4096
    assert post_proto(base, small).status_code == 200
    big = trace_request(4, pad=3000)
    assert len(big.SerializeToString()) > 4096
    r = post_proto(base, big)
    assert r.status_code == 413, (r.status_code, r.text)
    sink.wait_for("traces", 2)


def test_compressed_body_inflating_over_limit_is_rejected(tern, sink):
    """A small gzip body that inflates past max_request_body_size must not be accepted
    (decompression-bomb guard); upstream answers 400, the tern contract 413."""
    http = free_port()
    tern(configs.simple(sink, http=http, http_extra={"max_request_body_size": 4096}))
    raw = trace_request(1, pad=200_000).SerializeToString()
    packed = gzip.compress(raw)
    assert len(packed) < 4096
    r = post(f"http://127.0.0.1:{http}", "/v1/traces", packed, encoding="gzip")
    assert r.status_code in (400, 413), (r.status_code, r.text)
    assert sink.count("traces") == 0


def test_body_over_default_20mib_limit_is_413(rx, sink):
    port = int(rx.rsplit(":", 1)[1])
    just_under = trace_request(1, pad=19 * 1024 * 1024)
    status, body = _post_streaming("127.0.0.1", port, "/v1/traces", just_under.SerializeToString(),
                                   {"Content-Type": PROTOBUF})
    assert status == 200, (status, body[:200])
    over = b"\x00" * (20 * 1024 * 1024 + 1)
    status, body = _post_streaming("127.0.0.1", port, "/v1/traces", over, {"Content-Type": PROTOBUF})
    assert status == 413, (status, body[:200])
    sink.wait_for("traces", 1, timeout=30)
