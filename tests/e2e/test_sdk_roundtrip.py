"""The real OpenTelemetry Python SDK -> tern (OTLP gRPC or HTTP/protobuf) -> exporter
(`otlphttp` or `otlp`) -> sink: every span, point and record arrives intact."""

from __future__ import annotations

import pytest

from checks import check_sdk_logs, check_sdk_metrics, check_sdk_traces
from ternlib import configs, sdk
from ternlib.ports import free_port
from ternlib.sdk import emit_logs, emit_metrics, emit_traces

COMBOS = [("grpc", "otlphttp"), ("http", "otlphttp"), ("grpc", "otlp"), ("http", "otlp")]
IDS = [f"{rx}-in-{ex}-out" for rx, ex in COMBOS]


def start(tern, sink, exporter: str):
    http, grpc = free_port(), free_port()
    cfg = configs.simple(sink, http=http, grpc=grpc, exporter=exporter, batch={})
    tern(cfg)
    return {"http": http, "grpc": grpc}


def _received_via(sink, exporter: str, signal: str) -> None:
    want = "http" if exporter == "otlphttp" else "grpc"
    got = {r.transport for r in sink.requests(signal)}
    assert got == {want}, f"{exporter} exporter should reach the sink over {want}, got {got}"


@pytest.mark.parametrize("receiver,exporter", COMBOS, ids=IDS)
def test_sdk_traces(tern, sink, receiver, exporter):
    ports = start(tern, sink, exporter)
    sent = emit_traces(receiver, ports[receiver], batch=(receiver == "grpc"))
    assert all(r.name == "SUCCESS" for r in sent.export_results), sent.export_results
    check_sdk_traces(sink, sent)
    _received_via(sink, exporter, "traces")


@pytest.mark.parametrize("receiver,exporter", COMBOS, ids=IDS)
def test_sdk_metrics(tern, sink, receiver, exporter):
    ports = start(tern, sink, exporter)
    provider = emit_metrics(receiver, ports[receiver])
    try:
        check_sdk_metrics(sink)
        _received_via(sink, exporter, "metrics")
    finally:
        provider.shutdown()


@pytest.mark.parametrize("receiver,exporter", COMBOS, ids=IDS)
def test_sdk_logs(tern, sink, receiver, exporter):
    ports = start(tern, sink, exporter)
    ctx = emit_logs(receiver, ports[receiver], batch=(receiver == "http"))
    check_sdk_logs(sink, ctx)
    _received_via(sink, exporter, "logs")


@pytest.mark.parametrize("layout", ["two-pipelines", "one-pipeline-two-exporters"])
def test_fan_out_to_two_exporters(tern, make_sink, layout):
    a, b = make_sink("sink-a"), make_sink("sink-b")
    http, grpc = free_port(), free_port()
    exporters = {"otlphttp/a": configs.otlphttp_to(a), "otlp/b": configs.otlp_to(b)}
    if layout == "two-pipelines":
        pipelines = {}
        for s in ("traces", "metrics", "logs"):
            pipelines[f"{s}/a"] = configs.pipeline(["otlp"], ["otlphttp/a"], ["batch"])
            pipelines[f"{s}/b"] = configs.pipeline(["otlp"], ["otlp/b"], ["batch"])
    else:
        pipelines = {s: configs.pipeline(["otlp"], ["otlphttp/a", "otlp/b"], ["batch"])
                     for s in ("traces", "metrics", "logs")}
    cfg = configs.build(receivers={"otlp": configs.otlp_receiver(http=http, grpc=grpc)},
                        processors={"batch": {}}, exporters=exporters, pipelines=pipelines)
    tern(cfg)
    sent = emit_traces("http", http)
    provider = emit_metrics("grpc", grpc)
    ctx = emit_logs("http", http)
    try:
        for s in (a, b):
            check_sdk_traces(s, sent)
            check_sdk_metrics(s)
            check_sdk_logs(s, ctx)
    finally:
        provider.shutdown()
    assert {r.transport for r in a.received} == {"http"}
    assert {r.transport for r in b.received} == {"grpc"}


def test_sdk_resource_constant_is_what_sdk_sends():
    """Guard for the checks above: the SDK really puts our resource attributes in."""
    res = sdk.resource()
    for k, v in sdk.RESOURCE_ATTRS.items():
        assert res.attributes[k] == v
