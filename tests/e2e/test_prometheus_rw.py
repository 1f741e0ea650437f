"""The `prometheusremotewrite` exporter end to end: the real OpenTelemetry Python SDK sends
metrics to tern, tern remote-writes them into a real Prometheus server (Debian package), and
the tests read them back through Prometheus' HTTP API. Faults and headers are checked with
test servers of our own on top; SigV4 with a botocore-verifying proxy in front of Prometheus."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from opentelemetry.sdk.metrics import (Counter, Histogram, MeterProvider, ObservableGauge,
                                       UpDownCounter)
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2

from ternlib import configs, otlp, prom
from ternlib.ports import free_port
from ternlib.promserver import PrometheusServer, decode_write_request
from ternlib.sigv4verify import ACCESS_KEY, REGION, SECRET_KEY, SigV4VerifyingProxy

FAST_RETRY = {"initial_interval": "50ms", "max_interval": "500ms", "max_elapsed_time": "60s"}


@pytest.fixture
def prometheus(tmp_path):
    p = PrometheusServer(tmp_path).start()
    yield p
    p.stop()


def prw_config(http_port: int, endpoint: str, *, extensions: dict | None = None,
               service_extensions: list[str] | None = None, **extra) -> dict:
    exp = {"endpoint": endpoint, "retry_on_failure": dict(FAST_RETRY)}
    exp.update(extra)
    return configs.build(
        receivers={"otlp": configs.otlp_receiver(http=http_port)},
        exporters={"prometheusremotewrite": exp},
        pipelines={"metrics": configs.pipeline(["otlp"], ["prometheusremotewrite"])},
        extensions=extensions, service_extensions=service_extensions)


def sdk_provider(port: int, *, service: str, delta: bool = False, exp_histograms: bool = True,
                 extra_resource: dict | None = None) -> MeterProvider:
    temporality = {}
    if delta:
        temporality = {Counter: AggregationTemporality.DELTA,
                       Histogram: AggregationTemporality.DELTA}
    exporter = OTLPMetricExporter(endpoint=f"http://127.0.0.1:{port}/v1/metrics", timeout=10,
                                  preferred_temporality=temporality)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    views = []
    if exp_histograms:
        views.append(View(instrument_name="e2e.size",
                          aggregation=ExponentialBucketHistogramAggregation(max_size=160)))
    res = Resource.create({"service.name": service, "service.instance.id": "inst-1",
                           **(extra_resource or {})})
    return MeterProvider(resource=res, metric_readers=[reader], views=views)


def self_metric(t, name: str, **labels) -> float:
    _, samples = prom.scrape(t.metrics_url)
    return sum(s.value for s in prom.find(samples, name, **labels))


def wait_self_metric(t, name: str, expected: float, timeout: float = 20.0, **labels) -> float:
    deadline = time.monotonic() + timeout
    v = self_metric(t, name, **labels)
    while v != expected and time.monotonic() < deadline:
        time.sleep(0.1)
        v = self_metric(t, name, **labels)
    return v


def test_sdk_metrics_land_in_prometheus_with_names_labels_and_values(tern, prometheus):
    port = free_port()
    t = tern(prw_config(port, prometheus.write_url))
    mp = sdk_provider(port, service="e2e-prw", extra_resource={"deployment.environment": "e2e"})
    meter = mp.get_meter("e2e.meter", "1.0")
    requests_c = meter.create_counter("e2e.requests", unit="{request}")
    requests_c.add(5, {"http.method": "GET"})
    requests_c.add(2, {"http.method": "POST"})
    depth = meter.create_up_down_counter("e2e.queue.depth", unit="{item}")
    depth.add(10)
    depth.add(-3)
    meter.create_observable_gauge(
        "e2e.temperature", unit="Cel",
        callbacks=[lambda _o: [__import__("opentelemetry.metrics").metrics.Observation(21.5)]])
    latency = meter.create_histogram("e2e.latency", unit="ms")
    for v in [1, 2, 3, 7, 12, 30, 60, 80, 200]:
        latency.record(v)
    size = meter.create_histogram("e2e.size", unit="By")
    for v in [1, 2, 4, 100, 1000]:
        size.record(v)
    assert mp.force_flush(10_000)
    mp.shutdown()

    sel = 'job="e2e-prw",instance="inst-1"'
    assert prometheus.wait_value(f'e2e_requests_total{{{sel},http_method="GET"}}', 5) == 5
    assert prometheus.value(f'e2e_requests_total{{{sel},http_method="POST"}}') == 2
    assert prometheus.value(f'e2e_queue_depth{{{sel}}}') == 7
    assert prometheus.value(f'e2e_temperature_celsius{{{sel}}}') == 21.5
    assert prometheus.value(f'e2e_latency_milliseconds_count{{{sel}}}') == 9
    assert prometheus.value(f'e2e_latency_milliseconds_sum{{{sel}}}') == 395
    assert prometheus.value(f'e2e_latency_milliseconds_bucket{{{sel},le="+Inf"}}') == 9
    assert prometheus.value(f'e2e_latency_milliseconds_bucket{{{sel},le="10"}}') == 4
    # Ranks 4.5 of 9 falls in (10, 25] holding the 5th value: 10 + 15 * 0.5.
    q = prometheus.value(
        f'histogram_quantile(0.5, sum by (le) (e2e_latency_milliseconds_bucket{{{sel}}}))')
    assert q == pytest.approx(17.5)
    # The exponential histogram arrives as a native histogram.
    assert prometheus.value(f'histogram_count(e2e_size_bytes{{{sel}}})') == 5
    assert prometheus.value(f'histogram_sum(e2e_size_bytes{{{sel}}})') == 1107
    median = prometheus.value(f'histogram_quantile(0.5, e2e_size_bytes{{{sel}}})')
    assert 3.5 <= median <= 4.5, median
    assert prometheus.value(f'histogram_fraction(0, 5, e2e_size_bytes{{{sel}}})') == pytest.approx(0.6, abs=0.01)
    # Scope labels and target_info with the other resource attributes.
    got = prometheus.query(f'e2e_queue_depth{{{sel}}}')[0]["metric"]
    assert got == {"__name__": "e2e_queue_depth", "job": "e2e-prw", "instance": "inst-1",
                   "otel_scope_name": "e2e.meter", "otel_scope_version": "1.0"}
    ti = prometheus.query(f'target_info{{{sel}}}')
    assert len(ti) == 1 and ti[0]["metric"]["deployment_environment"] == "e2e", ti
    assert ti[0]["value"][1] == "1"
    assert self_metric(t, "otelcol_exporter_send_failed_metric_points") == 0
    assert self_metric(t, "otelcol_exporter_prometheusremotewrite_failed_translations") == 0


def test_delta_counters_and_histograms_become_cumulative(tern, prometheus):
    port = free_port()
    tern(prw_config(port, prometheus.write_url))
    mp = sdk_provider(port, service="e2e-delta", delta=True, exp_histograms=False)
    meter = mp.get_meter("e2e.meter")
    c = meter.create_counter("e2e.delta.hits")
    h = meter.create_histogram("e2e.delta.lat", unit="s")
    c.add(3)
    h.record(0.2)
    assert mp.force_flush(10_000)
    assert prometheus.wait_value('e2e_delta_hits_total{job="e2e-delta"}', 3) == 3
    time.sleep(1.1)  # the next point must be newer at millisecond precision
    c.add(4)
    h.record(0.3)
    h.record(7)
    assert mp.force_flush(10_000)
    mp.shutdown()
    assert prometheus.wait_value('e2e_delta_hits_total{job="e2e-delta"}', 7) == 7
    assert prometheus.wait_value('e2e_delta_lat_seconds_count{job="e2e-delta"}', 3) == 3
    assert prometheus.value('e2e_delta_lat_seconds_sum{job="e2e-delta"}') == pytest.approx(7.5)


class RecordingWriteServer:
    """A remote-write endpoint of our own: records each request (headers, decoded body) and
    answers from a script of (status, body, headers) entries, then 204."""

    def __init__(self, script: list[tuple[int, str, dict]] | None = None):
        self.script = list(script or [])
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer.lock:
                    size, series = decode_write_request(body)
                    outer.requests.append({"headers": {k.lower(): v for k, v in self.headers.items()},
                                           "size": size, "series": series, "at": time.monotonic()})
                    status, text, hdrs = outer.script.pop(0) if outer.script else (204, "", {})
                data = text.encode()
                self.send_response(status)
                for k, v in hdrs.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v1/write"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def gauge_request(n: int, *, name: str = "e2e.gauge", t_ns: int | None = None,
                  pad: int = 0) -> metrics_service_pb2.ExportMetricsServiceRequest:
    t = t_ns or otlp.now_ns()
    points = [metrics_pb2.NumberDataPoint(time_unix_nano=t, as_double=float(i),
                                          attributes=otlp.kvs({"i": i, "pad": "x" * pad}))
              for i in range(n)]
    metric = metrics_pb2.Metric(name=name, gauge=metrics_pb2.Gauge(data_points=points))
    return metrics_service_pb2.ExportMetricsServiceRequest(resource_metrics=[
        metrics_pb2.ResourceMetrics(resource=otlp.resource("e2e-raw"), scope_metrics=[
            metrics_pb2.ScopeMetrics(metrics=[metric])])])


def test_headers_body_and_batch_split_under_max_batch_size_bytes(tern):
    srv = RecordingWriteServer()
    try:
        port = free_port()
        tern(prw_config(port, srv.url, headers={"X-Scope-OrgID": "tenant-1"},
                        max_batch_size_bytes=4000, target_info={"enabled": False}))
        r = otlp.post_proto(f"http://127.0.0.1:{port}", gauge_request(300, pad=20))
        assert r.status_code == 200
        deadline = time.monotonic() + 20
        while sum(len(q["series"]) for q in srv.requests) < 300 and time.monotonic() < deadline:
            time.sleep(0.1)
        reqs = list(srv.requests)
        assert sum(len(q["series"]) for q in reqs) == 300
        assert len(reqs) > 1, "300 series of ~80 bytes must not fit in 4000 bytes"
        for q in reqs:
            h = q["headers"]
            assert h["content-encoding"] == "snappy"
            assert h["content-type"] == "application/x-protobuf"
            assert h["x-prometheus-remote-write-version"] == "0.1.0"
            assert h["user-agent"].startswith("tern/")
            assert h["x-scope-orgid"] == "tenant-1"
            assert q["size"] <= 4000, q["size"]
            for s in q["series"]:
                names = [n for n, _ in s["labels"]]
                assert names == sorted(names) and len(set(names)) == len(names)
                assert "__name__" in names and all(v for _, v in s["labels"])
    finally:
        srv.close()


def test_status_handling_5xx_and_429_retry_4xx_is_permanent(tern):
    srv = RecordingWriteServer([
        (500, "try later", {}),
        (429, "slow down", {"Retry-After": "1"}),
        (204, "", {}),
        (400, "out of order sample", {}),
    ])
    try:
        port = free_port()
        t = tern(prw_config(port, srv.url, target_info={"enabled": False}))
        assert otlp.post_proto(f"http://127.0.0.1:{port}", gauge_request(3)).status_code == 200
        assert wait_self_metric(t, "otelcol_exporter_sent_metric_points", 3) == 3
        assert len(srv.requests) == 3
        gap = srv.requests[2]["at"] - srv.requests[1]["at"]
        assert gap >= 0.95, f"Retry-After: 1 not honoured ({gap:.2f}s)"
        # The 4xx answer: dropped, counted, logged with the body, not retried.
        assert otlp.post_proto(f"http://127.0.0.1:{port}", gauge_request(2)).status_code == 200
        assert wait_self_metric(t, "otelcol_exporter_send_failed_metric_points", 2) == 2
        time.sleep(0.5)
        assert len(srv.requests) == 4
        assert "out of order sample" in t.stderr()
        assert self_metric(t, "otelcol_exporter_prometheusremotewrite_sent_batches") == 4
    finally:
        srv.close()


def test_out_of_order_400_from_prometheus_is_permanent(tern, prometheus):
    port = free_port()
    t = tern(prw_config(port, prometheus.write_url, target_info={"enabled": False}))
    now = otlp.now_ns()
    base = f"http://127.0.0.1:{port}"
    assert otlp.post_proto(base, gauge_request(1, name="e2e.ooo", t_ns=now)).status_code == 200
    assert prometheus.wait_value('e2e_ooo{i="0"}', 0) == 0
    assert otlp.post_proto(base, gauge_request(1, name="e2e.ooo",
                                               t_ns=now - 60 * 10**9)).status_code == 200
    assert wait_self_metric(t, "otelcol_exporter_send_failed_metric_points", 1) == 1
    time.sleep(0.5)
    assert self_metric(t, "otelcol_exporter_prometheusremotewrite_sent_batches") == 2
    assert "out of order sample" in t.stderr()


def test_prometheus_down_then_up_loses_nothing(tern, tmp_path):
    prometheus = PrometheusServer(tmp_path)  # port reserved, not started: connection refused
    port = free_port()
    t = tern(prw_config(port, prometheus.write_url, target_info={"enabled": False}))
    base = f"http://127.0.0.1:{port}"
    for k in range(5):
        assert otlp.post_proto(base, gauge_request(20, name=f"e2e.outage{k}")).status_code == 200
    time.sleep(1.5)
    assert self_metric(t, "otelcol_exporter_sent_metric_points") == 0
    prometheus.start()
    try:
        assert wait_self_metric(t, "otelcol_exporter_sent_metric_points", 100, timeout=30) == 100
        for k in range(5):
            assert prometheus.wait_value(f"count(e2e_outage{k})", 20) == 20
        assert self_metric(t, "otelcol_exporter_send_failed_metric_points") == 0
    finally:
        prometheus.stop()


def test_oversized_batches_are_split_and_all_stored(tern, prometheus):
    port = free_port()
    t = tern(prw_config(port, prometheus.write_url, max_batch_size_bytes=2000,
                        target_info={"enabled": False}))
    assert otlp.post_proto(f"http://127.0.0.1:{port}",
                           gauge_request(500, name="e2e.split")).status_code == 200
    assert prometheus.wait_value("count(e2e_split)", 500) == 500
    assert self_metric(t, "otelcol_exporter_prometheusremotewrite_sent_batches") >= 10


@pytest.mark.parametrize("replica_labels", [False, True])
def test_external_labels_per_replica_avoid_out_of_order(tern, prometheus, replica_labels):
    """Two gateways get points of the same series; the one holding the older point sends
    last. Without a replica label Prometheus refuses it (400 out of order); with one each
    gateway writes its own series."""
    ports = [free_port(), free_port()]
    terns = []
    for name, p in zip("ab", ports):
        extra = {"external_labels": {"replica": name}} if replica_labels else {}
        terns.append(tern(prw_config(p, prometheus.write_url, target_info={"enabled": False},
                                     **extra)))
    now = otlp.now_ns()
    assert otlp.post_proto(f"http://127.0.0.1:{ports[0]}",
                           gauge_request(1, name="e2e.gw", t_ns=now)).status_code == 200
    assert prometheus.wait_value("count(e2e_gw)", 1) == 1
    assert otlp.post_proto(f"http://127.0.0.1:{ports[1]}",
                           gauge_request(1, name="e2e.gw", t_ns=now - 30 * 10**9)).status_code == 200
    if replica_labels:
        assert prometheus.wait_value("count(e2e_gw)", 2) == 2
        assert prometheus.value('count(e2e_gw{replica="b"})') == 1
        assert self_metric(terns[1], "otelcol_exporter_send_failed_metric_points") == 0
    else:
        assert wait_self_metric(terns[1], "otelcol_exporter_send_failed_metric_points", 1) == 1
        assert prometheus.value("count(e2e_gw)") == 1


def test_sigv4_signed_writes_through_a_verifying_proxy(tern, prometheus, tmp_path):
    with SigV4VerifyingProxy(upstream=prometheus.url, service="aps", region=REGION,
                             access_key=ACCESS_KEY, secret_key=SECRET_KEY) as proxy:
        port = free_port()
        env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
               "AWS_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true",
               "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
               "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials")}
        cfg = prw_config(port, f"{proxy.url}/api/v1/write",
                         extensions={"sigv4auth": {"region": REGION, "service": "aps"}},
                         service_extensions=["sigv4auth"],
                         auth={"authenticator": "sigv4auth"})
        t = tern(cfg, env=env)
        mp = sdk_provider(port, service="e2e-sigv4", exp_histograms=False)
        mp.get_meter("m").create_counter("e2e.signed").add(9)
        mp.shutdown()  # one export: a single signed remote-write request
        assert prometheus.wait_value('e2e_signed_total{job="e2e-sigv4"}', 9) == 9
        assert proxy.accepted >= 1 and proxy.rejected == 0, [r.verdict for r in proxy.requests]
        assert len(proxy.requests) == 1, [r.verdict for r in proxy.requests]
        rec = proxy.requests[0]
        assert rec.headers.get("Authorization", rec.headers.get("authorization", "")).startswith(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
        # A replay of the same signed request passes; a tampered body does not.
        status, answer = proxy.replay(rec.method, rec.path, rec.headers, rec.body)
        assert status == 204, (status, answer)
        tampered = bytearray(rec.body)
        tampered[-1] ^= 0x01
        status, reason = proxy.replay(rec.method, rec.path, rec.headers, bytes(tampered))
        assert status == 403, (status, reason)
        assert self_metric(t, "otelcol_exporter_send_failed_metric_points") == 0


def test_sigv4auth_without_credentials_fails_start(tern, tmp_path):
    port = free_port()
    env = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_REGION": REGION,
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": str(tmp_path / "none"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    cfg = prw_config(port, "http://127.0.0.1:9/api/v1/write",
                     extensions={"sigv4auth": {"service": "aps"}},
                     service_extensions=["sigv4auth"], auth={"authenticator": "sigv4auth"})
    t = tern(cfg, env=env, ready=False)
    t.stopped_by_test = True
    rc = t.wait(timeout=30)
    assert rc != 0
    assert "sigv4auth" in t.stderr() and "credentials" in t.stderr().lower(), t.stderr()[-2000:]


def test_readme_amp_example_validates(tmp_path):
    from pathlib import Path
    from ternlib.process import run_tern
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    start = readme.index("receivers:\n  otlp: {protocols: {grpc: {}, http: {}}}\nprocessors:")
    snippet = readme[start:readme.index("```", start)]
    assert "sigv4auth" in snippet and "aps-workspaces" in snippet
    cfg = tmp_path / "amp.yaml"
    cfg.write_text(snippet)
    r = run_tern(["validate", "--config", str(cfg)])
    assert r.returncode == 0, r.stderr


def test_persistent_queue_survives_kill_while_prometheus_is_down(tern, tmp_path):
    """remote_write_queue.storage: accepted points are on disk before the 200; after kill -9
    and a restart they reach Prometheus."""
    prometheus = PrometheusServer(tmp_path)  # not started yet: connection refused
    port = free_port()
    storage = tmp_path / "queue"
    cfg = prw_config(port, prometheus.write_url, target_info={"enabled": False},
                     remote_write_queue={"storage": "file_storage"},
                     extensions={"file_storage": {"directory": str(storage), "fsync": True}},
                     service_extensions=["file_storage"])
    t = tern(cfg)
    for k in range(3):
        assert otlp.post_proto(f"http://127.0.0.1:{port}",
                               gauge_request(10, name=f"e2e.persist{k}")).status_code == 200
    time.sleep(0.5)
    t.sigkill()
    prometheus.start()
    try:
        args: list[str] = []
        for p in t.config_paths:
            args += ["--config", str(p)]
        tern(args=args, wait_ports=[("127.0.0.1", port)], health_url=t.health_url)
        for k in range(3):
            assert prometheus.wait_value(f"count(e2e_persist{k})", 10) == 10, k
    finally:
        prometheus.stop()


def test_exemplars_from_sampled_spans_reach_prometheus(tern, prometheus):
    from opentelemetry.sdk.trace import TracerProvider
    port = free_port()
    tern(prw_config(port, prometheus.write_url))
    tp = TracerProvider()
    tracer = tp.get_tracer("e2e")
    mp = sdk_provider(port, service="e2e-exemplars", exp_histograms=False)
    meter = mp.get_meter("e2e.meter")
    hist = meter.create_histogram("e2e.ex.lat", unit="s")
    with tracer.start_as_current_span("op") as span:
        hist.record(0.3)
        ctx = span.get_span_context()
    mp.shutdown()
    tp.shutdown()
    assert prometheus.wait_value('e2e_ex_lat_seconds_count{job="e2e-exemplars"}', 1) == 1
    now = time.time()
    deadline = time.monotonic() + 10
    found = []
    while not found and time.monotonic() < deadline:
        found = prometheus.exemplars('e2e_ex_lat_seconds_bucket{job="e2e-exemplars"}',
                                     now - 300, now + 60)
        time.sleep(0.2)
    assert found, "no exemplar stored"
    ex = found[0]["exemplars"][0]
    assert ex["labels"]["trace_id"] == format(ctx.trace_id, "032x")
    assert ex["labels"]["span_id"] == format(ctx.span_id, "016x")
    assert float(ex["value"]) == 0.3
    # On the first bucket whose bound holds the value (SDK default bounds 0, 5, 10, ...).
    assert found[0]["seriesLabels"]["le"] == "5", found[0]["seriesLabels"]
