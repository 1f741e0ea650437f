"""`resource` and `attributes` processors end to end: the real OpenTelemetry Python SDK ->
tern (resource -> attributes -> batch) -> otlphttp -> decoding sink, with the exact
attributes asserted after the pipeline; and `tern validate` reporting their config errors."""

from __future__ import annotations

import hashlib

from ternlib import configs, sdk
from ternlib.otlp import attrs
from ternlib.ports import free_port
from ternlib.process import run_tern, write_config
from ternlib.sdk import emit_logs, emit_metrics, emit_traces

RESOURCE = {
    "attributes": [
        {"key": "cloud.provider", "value": "aws", "action": "upsert"},
        {"key": "deployment.environment", "value": "prod", "action": "insert"},  # present: kept
        {"key": "res.int", "action": "delete"},
        {"key": "team", "from_attribute": "service.name", "action": "upsert"},
    ]
}


def expected_resource() -> dict:
    want = dict(sdk.resource().attributes)
    del want["res.int"]
    want["cloud.provider"] = "aws"
    want["team"] = "e2e-sdk"
    return want


def start(tern, sink, signal: str, attributes: dict) -> int:
    http = free_port()
    cfg = configs.build(
        receivers={"otlp": configs.otlp_receiver(http=http)},
        processors={"resource": RESOURCE, "attributes/x": attributes, "batch": {}},
        exporters={"otlphttp": configs.otlphttp_to(sink)},
        # include/exclude selectors belong to one signal: one pipeline.
        pipelines={signal: configs.pipeline(["otlp"], ["otlphttp"],
                                            ["resource", "attributes/x", "batch"])},
    )
    tern(cfg)
    return http


def test_traces_resource_then_attributes(tern, sink):
    http = start(tern, sink, "traces", {
        "include": {"match_type": "regexp", "services": ["^e2e-"], "span_names": ["-op$"],
                    "span_kinds": ["SERVER|CLIENT"]},
        "exclude": {"match_type": "strict", "attributes": [{"key": "never"}]},
        "actions": [
            {"key": "attr.neg", "action": "delete"},
            {"key": "attr.str", "action": "hash"},
            {"key": "attr.int", "action": "convert", "converted_type": "string"},
            {"key": "attr.double", "action": "convert", "converted_type": "int"},
            {"key": "copied", "from_attribute": "attr.bool", "action": "insert"},
            {"key": "child.attr", "value": {"m": [1, "two"]}, "action": "update"},
            {"key": "marked", "value": 1.5, "action": "upsert"},
            {"pattern": "_list$", "action": "delete"},
        ],
    })
    sent = emit_traces("http", http)
    assert all(r.name == "SUCCESS" for r in sent.export_results), sent.export_results
    spans = sink.wait_for_spans(3)
    by_name = {sp.name: (res, sp) for res, _, sp in spans}
    assert sorted(by_name) == ["child-op", "linked-op", "parent-op"]
    for res, _ in by_name.values():
        assert attrs(res.attributes) == expected_resource()
    parent, child, linked = (by_name[n][1] for n in ("parent-op", "child-op", "linked-op"))
    assert attrs(parent.attributes) == {
        "attr.str": hashlib.sha256(b"hello").hexdigest(),
        "attr.int": "42",
        "attr.double": 3,
        "attr.bool": True,
        "copied": True,
        "marked": 1.5,
    }
    assert attrs(child.attributes) == {"child.attr": {"m": [1, "two"]}, "marked": 1.5}
    # INTERNAL: not included.
    assert attrs(linked.attributes) == {}
    # Events and links are not touched.
    assert attrs(parent.events[0].attributes) == {"evt.str": "x", "evt.int": 3, "evt.bool": False}
    assert attrs(child.links[0].attributes) == {"link.attr": "l", "link.n": 5}


def test_logs_resource_then_attributes(tern, sink):
    http = start(tern, sink, "logs", {
        "include": {"match_type": "strict", "log_severity_number": {"min": "WARN"},
                    "libraries": [{"name": sdk.LOGGER_NAME}]},
        "actions": [
            {"key": "alert", "value": True, "action": "upsert"},
            {"key": "log.list", "action": "delete"},
            {"key": "log.str", "pattern": "^(?P<first>[a-z])", "action": "extract"},
        ],
    })
    emit_logs("http", http)
    records = sink.wait_for_logs(3)
    by_sev = {lr.severity_text: (res, lr) for res, _, lr in records}
    for res, _ in by_sev.values():
        assert attrs(res.attributes) == expected_resource()
    assert attrs(by_sev["WARN"][1].attributes) == {
        "log.str": "s", "log.int": 11, "log.double": 2.5, "log.bool": True, "alert": True,
        "first": "s"}
    assert attrs(by_sev["INFO"][1].attributes) == {"kind": "map"}
    assert attrs(by_sev["ERROR"][1].attributes) == {"kind": "event", "alert": True}


def test_metrics_data_points_of_selected_metrics(tern, sink):
    http = start(tern, sink, "metrics", {
        "include": {"match_type": "strict", "metric_names": ["e2e.counter", "e2e.hist"]},
        "actions": [{"key": "route", "action": "hash"}, {"key": "op", "value": "put", "action": "update"}],
    })
    provider = emit_metrics("http", http)
    try:
        points = sink.wait_for_points(4)
        by_metric = {m.name: (res, p) for res, _, m, p in points}
        for res, _ in by_metric.values():
            assert attrs(res.attributes) == expected_resource()
        assert attrs(by_metric["e2e.counter"][1].attributes) == {
            "route": hashlib.sha256(b"/a").hexdigest()}
        assert attrs(by_metric["e2e.hist"][1].attributes) == {"op": "put"}
        assert attrs(by_metric["e2e.updown"][1].attributes) == {"q": "x"}
        assert attrs(by_metric["e2e.gauge"][1].attributes) == {"room": "lab"}
    finally:
        provider.shutdown()


def test_validate_reports_every_processor_error(tmp_path):
    cfg = configs.build(
        receivers={"otlp": configs.otlp_receiver(http=free_port())},
        processors={
            "resource": {"attributes": [{"key": "a", "action": "upsert", "from_context": "metadata.x"}]},
            "attributes": {
                "include": {"match_type": "regexp", "span_names": ["("]},
                "actions": [{"key": "a", "action": "extract", "pattern": "(x)"},
                            {"key": "b", "action": "convert", "converted_type": "bool"}],
            },
        },
        exporters={"debug": {}},
        pipelines={"traces": configs.pipeline(["otlp"], ["debug"], ["resource", "attributes"])},
    )
    p = write_config(tmp_path / "config.yaml", cfg)
    r = run_tern(["validate", "--config", str(p)], timeout=20)
    assert r.returncode == 1, r.stderr
    for needle in ["resource::attributes[0]::from_context: from_context is not supported",
                   "attributes::actions[0]::pattern: every capture group",
                   "attributes::actions[1]::converted_type: unknown converted_type \"bool\"",
                   "attributes::include::span_names[0]: invalid regular expression"]:
        assert needle in r.stderr, f"{needle!r} missing from\n{r.stderr}"
