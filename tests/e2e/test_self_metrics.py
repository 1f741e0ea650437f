"""Self-telemetry on the Prometheus endpoint: upstream names without `_total`, exact
receiver/exporter counters, queue gauges, process metrics, target_info; `level: none`."""

from __future__ import annotations

import time

import requests

from ternlib import configs, prom
from ternlib.otlp import grpc_channel, grpc_export, logs_request, metrics_request, post_proto, trace_request
from ternlib.ports import free_port, is_listening


def start(tern, sink, telemetry=None):
    http, grpc_port = free_port(), free_port()
    cfg = configs.simple(sink, http=http, grpc=grpc_port, batch={})
    if telemetry is not None:
        cfg["service"]["telemetry"] = telemetry
    t = tern(cfg)
    return t, f"http://127.0.0.1:{http}", grpc_channel(f"127.0.0.1:{grpc_port}")


def test_counters_are_exact_and_named_like_upstream(tern, sink):
    t, base, ch = start(tern, sink)
    for n in (2, 3, 5):  # 10 spans over HTTP in three requests
        assert post_proto(base, trace_request(n)).status_code == 200
    grpc_export(ch, trace_request(4))  # 4 spans over gRPC
    assert post_proto(base, metrics_request(6)).status_code == 200
    assert post_proto(base, logs_request(7)).status_code == 200
    grpc_export(ch, logs_request(1))
    sink.wait_for("traces", 14)
    sink.wait_for("metrics", 6)
    sink.wait_for("logs", 8)

    url = t.metrics_url
    text, s = prom.wait_value(url, "otelcol_exporter_sent_log_records", 8, exporter="otlphttp")
    expect = [
        ("otelcol_receiver_accepted_spans", {"receiver": "otlp", "transport": "http"}, 10),
        ("otelcol_receiver_accepted_spans", {"receiver": "otlp", "transport": "grpc"}, 4),
        ("otelcol_receiver_accepted_metric_points", {"receiver": "otlp", "transport": "http"}, 6),
        ("otelcol_receiver_accepted_log_records", {"receiver": "otlp", "transport": "http"}, 7),
        ("otelcol_receiver_accepted_log_records", {"receiver": "otlp", "transport": "grpc"}, 1),
        ("otelcol_exporter_sent_spans", {"exporter": "otlphttp"}, 14),
        ("otelcol_exporter_sent_metric_points", {"exporter": "otlphttp"}, 6),
        ("otelcol_exporter_sent_log_records", {"exporter": "otlphttp"}, 8),
    ]
    for name, labels, want in expect:
        text, s = prom.wait_value(url, name, want, timeout=5, **labels)
        got = prom.value(s, name, **labels)
        assert got == want, f"{name}{labels}: expected {want}, got {got}\n{text}"

    for name, labels in [
        ("otelcol_receiver_refused_spans", {"receiver": "otlp", "transport": "http"}),
        ("otelcol_exporter_send_failed_spans", {"exporter": "otlphttp"}),
    ]:
        got = prom.value(s, name, **labels)
        assert got in (0, None), f"{name}{labels} should be 0, got {got}"

    names = {x.name for x in s}
    total = sorted(n for n in names if n.endswith("_total") and n.startswith("otelcol_"))
    assert not total, f"upstream names have no _total suffix: {total}"
    assert "target_info" in names, sorted(names)
    assert prom.value(s, "otelcol_process_uptime") and prom.value(s, "otelcol_process_uptime") > 0
    assert prom.value(s, "otelcol_process_memory_rss") and prom.value(s, "otelcol_process_memory_rss") > 1e6

    for dt in ("traces", "metrics", "logs"):
        cap = prom.value(s, "otelcol_exporter_queue_capacity", exporter="otlphttp", data_type=dt)
        size = prom.value(s, "otelcol_exporter_queue_size", exporter="otlphttp", data_type=dt)
        assert cap == 1000, f"queue_capacity{{data_type={dt}}} = {cap} (default queue_size 1000)"
        assert size == 0, f"queue_size{{data_type={dt}}} = {size} after delivery"

    # resource attributes only on target_info, not on every series
    ti = prom.find(s, "target_info")
    assert ti and ti[0].labels.get("service_name"), f"target_info labels: {ti}"
    acc = prom.find(s, "otelcol_receiver_accepted_spans")[0]
    assert "service_name" not in acc.labels, acc


def test_counters_do_not_move_without_traffic(tern, sink):
    t, base, _ = start(tern, sink)
    assert post_proto(base, trace_request(3)).status_code == 200
    sink.wait_for("traces", 3)
    text, s1 = prom.wait_value(t.metrics_url, "otelcol_exporter_sent_spans", 3, exporter="otlphttp")
    time.sleep(0.5)
    _, s2 = prom.scrape(t.metrics_url)
    for name, labels in [("otelcol_receiver_accepted_spans", {"receiver": "otlp", "transport": "http"}),
                         ("otelcol_exporter_sent_spans", {"exporter": "otlphttp"})]:
        assert prom.value(s1, name, **labels) == prom.value(s2, name, **labels) == 3, text


def test_exposition_is_prometheus_text_format(tern, sink):
    t, base, _ = start(tern, sink)
    assert post_proto(base, trace_request(1)).status_code == 200
    sink.wait_for("traces", 1)
    prom.wait_value(t.metrics_url, "otelcol_exporter_sent_spans", 1, exporter="otlphttp")
    r = requests.get(t.metrics_url, timeout=5)
    assert r.status_code == 200
    assert r.headers.get("Content-Type", "").startswith("text/plain"), r.headers
    declared = prom.types(r.text)
    assert declared.get("otelcol_receiver_accepted_spans") == "counter", declared
    assert declared.get("otelcol_exporter_sent_spans") == "counter", declared
    assert declared.get("otelcol_exporter_queue_size") == "gauge", declared
    prom.parse(r.text)  # every line parses


def test_legacy_address_form(tern, sink):
    port = free_port()
    t, base, _ = start(tern, sink, telemetry={"metrics": {"address": f"127.0.0.1:{port}"}})
    assert post_proto(base, trace_request(2)).status_code == 200
    sink.wait_for("traces", 2)
    url = f"http://127.0.0.1:{port}/metrics"
    text, s = prom.wait_value(url, "otelcol_receiver_accepted_spans", 2, receiver="otlp", transport="http")
    assert prom.value(s, "otelcol_receiver_accepted_spans", receiver="otlp", transport="http") == 2, text


def test_level_none_disables_the_endpoint(tern, sink):
    port = free_port()
    t, base, _ = start(tern, sink, telemetry={"metrics": {"level": "none", "readers": [
        {"pull": {"exporter": {"prometheus": {"host": "127.0.0.1", "port": port}}}}]}})
    assert t.metrics_url is None
    assert post_proto(base, trace_request(1)).status_code == 200
    sink.wait_for("traces", 1)
    assert not is_listening("127.0.0.1", port), "self-metrics port listens despite level: none"
