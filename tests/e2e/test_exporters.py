"""Exporter settings: otlphttp endpoint/paths/compression/headers, otlp (gRPC) endpoint
forms and headers, retry on transient errors, drop on permanent errors, debug output."""

from __future__ import annotations

import time

import grpc
import pytest

from ternlib import configs, prom
from ternlib.otlp import logs_request, metrics_request, post_proto, trace_request
from ternlib.ports import free_port


def start(tern, sink, exporter="otlphttp", **exporter_extra):
    http = free_port()
    t = tern(configs.simple(sink, http=http, exporter=exporter, exporter_extra=exporter_extra))
    return t, f"http://127.0.0.1:{http}"


def send_all(base):
    assert post_proto(base, trace_request(2)).status_code == 200
    assert post_proto(base, metrics_request(3)).status_code == 200
    assert post_proto(base, logs_request(4)).status_code == 200


def test_otlphttp_appends_signal_paths_and_gzips_by_default(tern, sink):
    _, base = start(tern, sink)
    send_all(base)
    sink.wait_for("traces", 2)
    sink.wait_for("metrics", 3)
    sink.wait_for("logs", 4)
    assert {r.path for r in sink.received} == {"/v1/traces", "/v1/metrics", "/v1/logs"}
    for r in sink.received:
        assert r.headers.get("content-type", "").startswith("application/x-protobuf"), r.headers
        assert r.content_encoding == "gzip", f"default compression should be gzip: {r.headers}"


@pytest.mark.parametrize("compression,expected", [("none", None), ("gzip", "gzip"), ("zstd", "zstd")])
def test_otlphttp_compression_setting(tern, sink, compression, expected):
    _, base = start(tern, sink, compression=compression)
    assert post_proto(base, trace_request(3)).status_code == 200
    sink.wait_for("traces", 3)
    got = sink.requests("traces")[0].content_encoding
    assert (got or None) == expected, f"compression {compression}: Content-Encoding {got!r}"


def test_otlphttp_endpoint_with_trailing_slash(tern, sink):
    _, base = start(tern, sink, endpoint=sink.http_endpoint + "/")
    assert post_proto(base, trace_request(1)).status_code == 200
    sink.wait_for("traces", 1)
    assert sink.requests("traces")[0].path == "/v1/traces"


def test_otlphttp_per_signal_endpoint_overrides(tern, sink):
    sink.extra_paths.update({"/custom/t": "traces", "/custom/m": "metrics", "/custom/l": "logs"})
    _, base = start(tern, sink,
                    traces_endpoint=f"{sink.http_endpoint}/custom/t",
                    metrics_endpoint=f"{sink.http_endpoint}/custom/m",
                    logs_endpoint=f"{sink.http_endpoint}/custom/l")
    send_all(base)
    sink.wait_for("traces", 2)
    sink.wait_for("metrics", 3)
    sink.wait_for("logs", 4)
    assert {r.signal: r.path for r in sink.received} == {
        "traces": "/custom/t", "metrics": "/custom/m", "logs": "/custom/l"}


def test_otlphttp_only_traces_endpoint_set_without_endpoint(tern, sink):
    sink.extra_paths["/only/traces"] = "traces"
    http = free_port()
    cfg = configs.simple(sink, http=http, signals=("traces",))
    cfg["exporters"]["otlphttp"] = {"traces_endpoint": f"{sink.http_endpoint}/only/traces"}
    tern(cfg)
    assert post_proto(f"http://127.0.0.1:{http}", trace_request(2)).status_code == 200
    sink.wait_for("traces", 2)
    assert sink.requests("traces")[0].path == "/only/traces"


@pytest.mark.parametrize("exporter", ["otlphttp", "otlp"])
def test_configured_headers_are_sent(tern, sink, exporter):
    _, base = start(tern, sink, exporter=exporter,
                    headers={"x-tenant": "e2e-tenant", "authorization": "Bearer abc123"})
    send_all(base)
    sink.wait_for("traces", 2)
    sink.wait_for("metrics", 3)
    sink.wait_for("logs", 4)
    for r in sink.received:
        assert r.headers.get("x-tenant") == "e2e-tenant", (r.signal, r.headers)
        assert r.headers.get("authorization") == "Bearer abc123", (r.signal, r.headers)


@pytest.mark.parametrize("endpoint_form", ["host:port", "http://host:port", "http://host:port-no-tls-block"])
def test_otlp_exporter_endpoint_forms(tern, sink, endpoint_form):
    ep = sink.grpc_endpoint if endpoint_form == "host:port" else f"http://{sink.grpc_endpoint}"
    extra = {"endpoint": ep}
    if endpoint_form.endswith("no-tls-block"):
        extra["tls"] = {}  # upstream: an http:// scheme alone means plaintext
    _, base = start(tern, sink, exporter="otlp", **extra)
    send_all(base)
    sink.wait_for("traces", 2)
    sink.wait_for("metrics", 3)
    sink.wait_for("logs", 4)
    assert {r.transport for r in sink.received} == {"grpc"}


@pytest.mark.parametrize("compression", ["gzip", "none"])
def test_otlp_exporter_compression_setting_delivers(tern, sink, compression):
    _, base = start(tern, sink, exporter="otlp", compression=compression)
    assert post_proto(base, trace_request(3, pad=2000)).status_code == 200
    sink.wait_for("traces", 3)


@pytest.mark.parametrize("exporter", ["otlphttp", "otlp"])
def test_transient_errors_are_retried_and_counted_once(tern, sink, exporter):
    t, base = start(tern, sink, exporter=exporter)
    sink.fail_next(3, http_status=503, grpc_code=grpc.StatusCode.UNAVAILABLE)
    assert post_proto(base, trace_request(5)).status_code == 200
    sink.wait_for_spans(5, timeout=20)
    assert len(sink.rejected) == 3
    text, samples = prom.wait_value(t.metrics_url, "otelcol_exporter_sent_spans", 5, exporter=exporter)
    assert prom.value(samples, "otelcol_exporter_sent_spans", exporter=exporter) == 5, text
    assert prom.value(samples, "otelcol_exporter_send_failed_spans", exporter=exporter) in (0, None), text


@pytest.mark.parametrize("exporter,http_status,grpc_code", [
    ("otlphttp", 400, grpc.StatusCode.INVALID_ARGUMENT),
    ("otlp", 400, grpc.StatusCode.INVALID_ARGUMENT),
])
def test_permanent_errors_are_not_retried_and_counted_failed(tern, sink, exporter, http_status, grpc_code):
    t, base = start(tern, sink, exporter=exporter)
    sink.fail_always(http_status=http_status, grpc_code=grpc_code, message="bad data")
    assert post_proto(base, trace_request(4)).status_code == 200
    sink.wait_until(lambda: len(sink.rejected) >= 1, 10, "the first (rejected) export")
    text, samples = prom.wait_value(t.metrics_url, "otelcol_exporter_send_failed_spans", 4,
                                    exporter=exporter)
    assert prom.value(samples, "otelcol_exporter_send_failed_spans", exporter=exporter) == 4, text
    assert prom.value(samples, "otelcol_exporter_sent_spans", exporter=exporter) in (0, None), text
    time.sleep(1.0)  # retry initial_interval is 100ms: a retry would have happened by now
    assert len(sink.rejected) == 1, f"permanent error was retried {len(sink.rejected) - 1} times"
    assert sink.count("traces") == 0


def test_retry_gives_up_after_max_elapsed_time(tern, sink):
    t, base = start(tern, sink, retry_on_failure={
        "enabled": True, "initial_interval": "100ms", "max_interval": "200ms",
        "max_elapsed_time": "1s"})
    sink.fail_always(http_status=503, grpc_code=grpc.StatusCode.UNAVAILABLE)
    assert post_proto(base, trace_request(2)).status_code == 200
    text, samples = prom.wait_value(t.metrics_url, "otelcol_exporter_send_failed_spans", 2,
                                    exporter="otlphttp", timeout=10)
    assert prom.value(samples, "otelcol_exporter_send_failed_spans", exporter="otlphttp") == 2, text
    tries = len(sink.rejected)
    assert 2 <= tries <= 15, f"{tries} attempts in 1s of retrying"
    time.sleep(0.8)
    assert len(sink.rejected) == tries, "kept retrying after max_elapsed_time"


@pytest.mark.parametrize("verbosity", ["basic", "normal", "detailed"])
def test_debug_exporter(tern, verbosity):
    http = free_port()
    cfg = configs.build(receivers={"otlp": configs.otlp_receiver(http=http)},
                        exporters={"debug": {"verbosity": verbosity}},
                        pipelines={"traces": configs.pipeline(["otlp"], ["debug"])})
    t = tern(cfg)
    o0, e0 = len(t.stdout()), len(t.stderr())

    def new_output() -> str:
        return t.stdout()[o0:] + t.stderr()[e0:]

    r = post_proto(f"http://127.0.0.1:{http}", trace_request(3, prefix="debug-visible-span"))
    assert r.status_code == 200

    def seen(out: str) -> bool:
        if verbosity == "detailed":
            return "debug-visible-span-0" in out and "debug-visible-span-2" in out
        # basic/normal: a summary line with the span count
        return any("span" in line.lower() and "3" in line for line in out.splitlines())

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not seen(new_output()):
        time.sleep(0.1)
    out = new_output()
    assert seen(out), f"debug exporter ({verbosity}) output not found:\n{out[-3000:]}"


def test_exporter_timeout_fails_slow_attempts(tern, sink):
    """`timeout` bounds each attempt: a backend slower than it counts as a failed send."""
    t, base = start(tern, sink, timeout="300ms", retry_on_failure={"enabled": False})
    sink.delay = 1.5
    assert post_proto(base, trace_request(3)).status_code == 200
    text, samples = prom.wait_value(t.metrics_url, "otelcol_exporter_send_failed_spans", 3,
                                    exporter="otlphttp", timeout=5)
    assert prom.value(samples, "otelcol_exporter_send_failed_spans", exporter="otlphttp") == 3, text
    assert prom.value(samples, "otelcol_exporter_sent_spans", exporter="otlphttp") in (0, None), text
    sink.delay = 0
