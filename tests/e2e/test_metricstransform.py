"""`metricstransform` end to end: metrics from the real OpenTelemetry Python SDK are renamed
with regex capture groups, labelled and aggregated by tern before they reach the sink."""

from __future__ import annotations

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from ternlib import configs, sdk
from ternlib.otlp import attrs
from ternlib.ports import free_port

TRANSFORMS = {"transforms": [
    {"include": "^app_([0-9]+)_driver_(.*)$", "match_type": "regexp", "action": "update",
     "new_name": "$${2}",  # `$$` is a literal `$` after config expansion
     "operations": [{"action": "add_label", "new_label": "cluster", "new_value": "prod"}]},
    {"include": "requests", "action": "update",
     "operations": [{"action": "aggregate_labels", "label_set": ["route"],
                     "aggregation_type": "sum"}]},
    {"include": "requests", "action": "insert", "new_name": "requests_by_kind",
     "operations": [{"action": "update_label", "label": "route", "new_label": "kind",
                     "value_actions": [{"value": "/a", "new_value": "A"}]}]},
]}


def test_sdk_metrics_are_renamed_labelled_and_aggregated(tern, sink):
    http = free_port()
    tern(configs.build(
        receivers={"otlp": configs.otlp_receiver(http=http)},
        processors={"metricstransform": TRANSFORMS},
        exporters={"otlphttp": configs.otlphttp_to(sink)},
        pipelines={"metrics": configs.pipeline(["otlp"], ["otlphttp"], ["metricstransform"])},
    ))
    _, metric_exp, _ = sdk._exporters("http", http)
    provider = MeterProvider(resource=Resource({"service.name": "e2e-mt"}),
                             metric_readers=[PeriodicExportingMetricReader(
                                 metric_exp(), export_interval_millis=3_600_000)])
    meter = provider.get_meter("e2e.mt")
    meter.create_gauge("app_7_driver_jvm_heap").set(12.5, {"host": "h1"})
    counter = meter.create_counter("requests")
    counter.add(2, {"route": "/a", "code": "200"})
    counter.add(3, {"route": "/a", "code": "500"})
    counter.add(4, {"route": "/b", "code": "200"})
    assert provider.force_flush(15000)
    try:
        points = sink.wait_for_points(5)
        got = sorted((m.name, tuple(sorted(attrs(p.attributes).items())),
                      p.as_double if p.HasField("as_double") else p.as_int)
                     for _, _, m, p in points)
        assert got == [
            ("jvm_heap", (("cluster", "prod"), ("host", "h1")), 12.5),
            ("requests", (("route", "/a"),), 5),
            ("requests", (("route", "/b"),), 4),
            ("requests_by_kind", (("kind", "/b"),), 4),
            ("requests_by_kind", (("kind", "A"),), 5),
        ], got
    finally:
        provider.shutdown()
