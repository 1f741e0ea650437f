"""Self-checks of the test harness itself (no tern involved): the SDK data sets, the
checks and the sink agree when the SDK talks to the sink directly, so a failure elsewhere
points at tern and not at the harness."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import status_pb2

from checks import check_sdk_logs, check_sdk_metrics, check_sdk_traces
from ternlib import prom
from ternlib.otlp import compress, grpc_channel, grpc_export, post, post_proto, trace_request
from ternlib.sdk import emit_logs, emit_metrics, emit_traces


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_sdk_straight_into_sink(sink, transport):
    port = sink.http_port if transport == "http" else sink.grpc_port
    sent = emit_traces(transport, port)
    check_sdk_traces(sink, sent)
    provider = emit_metrics(transport, port)
    try:
        check_sdk_metrics(sink)
    finally:
        provider.shutdown()
    check_sdk_logs(sink, emit_logs(transport, port))


@pytest.mark.parametrize("encoding", [None, "gzip", "zstd"])
def test_sink_decodes_content_encodings(sink, encoding):
    r = post_proto(sink.http_endpoint, trace_request(3), encoding=encoding)
    assert r.status_code == 200
    sink.wait_for("traces", 3, settle=0)
    assert sink.requests("traces")[0].content_encoding == encoding


def test_sink_zstd_without_content_size(sink):
    import zstandard
    raw = trace_request(2).SerializeToString()
    cobj = zstandard.ZstdCompressor().compressobj()  # streaming: no content size in header
    body = cobj.compress(raw) + cobj.flush()
    r = post(sink.http_endpoint, "/v1/traces", body, encoding="zstd")
    assert r.status_code == 200
    sink.wait_for("traces", 2, settle=0)


def test_sink_planned_failures(sink):
    sink.fail_next(1, http_status=503, retry_after=2)
    r = post_proto(sink.http_endpoint, trace_request(1))
    assert r.status_code == 503 and r.headers["Retry-After"] == "2"
    st = status_pb2.Status()
    st.ParseFromString(r.content)
    assert st.code == 14
    assert post_proto(sink.http_endpoint, trace_request(1)).status_code == 200
    sink.fail_next(1, grpc_code=grpc.StatusCode.INVALID_ARGUMENT)
    with pytest.raises(grpc.RpcError) as ei:
        grpc_export(grpc_channel(sink.grpc_endpoint), trace_request(1))
    assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert len(sink.rejected) == 2 and sink.count("traces") == 1


def test_sink_records_unexpected_requests_as_errors(make_sink):
    s = make_sink("probe")
    r = post(s.http_endpoint, "/v1/nope", b"")
    assert r.status_code == 404
    r = post(s.http_endpoint, "/v1/traces", compress("gzip", b"x")[:5], encoding="gzip")
    assert r.status_code == 400
    assert len(s.errors) == 2
    s.errors.clear()  # expected here


def test_prom_parser():
    text = ('# HELP a_b x\n# TYPE a_b counter\na_b{receiver="otlp",transport="http"} 10\n'
            'target_info{service_name="tern",x="q\\"uote"} 1\nplain 2.5e3\n')
    s = prom.parse(text)
    assert prom.value(s, "a_b", receiver="otlp") == 10
    assert prom.find(s, "target_info")[0].labels["x"] == 'q"uote'
    assert prom.value(s, "plain") == 2500
    assert prom.types(text) == {"a_b": "counter"}


ID_FIELDS = {"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"}


def _hex_ids_to_base64(node):
    """OTLP/JSON ids are hex; protobuf's generic JSON mapping wants base64."""
    import base64
    if isinstance(node, dict):
        return {k: (base64.b64encode(bytes.fromhex(v)).decode()
                    if k in ID_FIELDS and isinstance(v, str) else _hex_ids_to_base64(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_hex_ids_to_base64(x) for x in node]
    return node


@pytest.mark.parametrize("fixture", ["traces.json", "traces_snake.json", "metrics.json", "logs.json"])
def test_json_fixtures_match_expected_messages(fixture):
    """Cross-check the hand-built expectations of test_otlp_json against protobuf's own JSON
    parser (after turning hex ids into base64), independently of tern."""
    import json
    from google.protobuf import json_format
    import test_otlp_json as t
    signal, expected, _ = t.CASES[fixture]
    doc = _hex_ids_to_base64(json.loads((t.FIXTURES / fixture).read_text()))
    want = expected()
    got = json_format.ParseDict(doc, type(want)())
    t.assert_same_message(got, want)
