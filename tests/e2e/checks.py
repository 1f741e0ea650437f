"""Assertions on what the sink received from the SDK data sets of ternlib.sdk."""

from __future__ import annotations

from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from ternlib import sdk
from ternlib.otlp import attrs, from_any
from ternlib.sink import OtlpSink


def check_resource_and_scope(resource, scope, name: str, version: str) -> None:
    ra = attrs(resource.attributes)
    for k, v in sdk.RESOURCE_ATTRS.items():
        assert ra.get(k) == v, f"resource attribute {k}: expected {v!r}, got {ra.get(k)!r} (all: {ra})"
    assert ra.get("telemetry.sdk.language") == "python", ra
    assert scope.name == name, scope
    assert scope.version == version, scope


def check_sdk_traces(sink: OtlpSink, sent: sdk.SentTraces) -> None:
    spans = sink.wait_for_spans(3)
    by_name = {sp.name: (res, scope, sp) for res, scope, sp in spans}
    assert sorted(by_name) == ["child-op", "linked-op", "parent-op"], sorted(by_name)
    for res, scope, _ in spans:
        check_resource_and_scope(res, scope, sdk.TRACER_NAME, sdk.TRACER_VERSION)

    _, _, parent = by_name["parent-op"]
    _, _, child = by_name["child-op"]
    _, _, linked = by_name["linked-op"]

    assert parent.trace_id == sent.trace_id
    assert parent.span_id == sent.span_ids["parent-op"]
    assert parent.parent_span_id == b""
    assert parent.kind == trace_pb2.Span.SPAN_KIND_SERVER
    assert attrs(parent.attributes) == sdk.SPAN_ATTRS
    assert 0 < parent.start_time_unix_nano <= parent.end_time_unix_nano
    assert len(parent.events) == 1
    ev = parent.events[0]
    assert ev.name == "evt-1"
    assert attrs(ev.attributes) == {"evt.str": "x", "evt.int": 3, "evt.bool": False}
    assert parent.start_time_unix_nano <= ev.time_unix_nano <= parent.end_time_unix_nano
    assert parent.status.code == trace_pb2.Status.STATUS_CODE_UNSET

    assert child.trace_id == sent.trace_id
    assert child.span_id == sent.span_ids["child-op"]
    assert child.parent_span_id == parent.span_id
    assert child.kind == trace_pb2.Span.SPAN_KIND_CLIENT
    assert attrs(child.attributes) == {"child.attr": "c"}
    assert child.status.code == trace_pb2.Status.STATUS_CODE_ERROR
    assert child.status.message == "boom"
    assert len(child.links) == 1
    link = child.links[0]
    assert link.trace_id == sent.linked_trace_id
    assert link.span_id == sent.span_ids["linked-op"]
    assert attrs(link.attributes) == {"link.attr": "l", "link.n": 5}

    assert linked.trace_id == sent.linked_trace_id != sent.trace_id
    assert linked.kind == trace_pb2.Span.SPAN_KIND_INTERNAL


def expected_bucket_counts(bounds, values) -> list[int]:
    counts = [0] * (len(bounds) + 1)
    for v in values:
        i = 0
        while i < len(bounds) and v > bounds[i]:
            i += 1
        counts[i] += 1
    return counts


def check_sdk_metrics(sink: OtlpSink) -> None:
    points = sink.wait_for_points(4)
    by_name = {m.name: (res, scope, m, p) for res, scope, m, p in points}
    assert sorted(by_name) == ["e2e.counter", "e2e.gauge", "e2e.hist", "e2e.updown"], sorted(by_name)
    for res, scope, _, _ in points:
        check_resource_and_scope(res, scope, sdk.METER_NAME, sdk.METER_VERSION)
    cumulative = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE

    _, _, m, p = by_name["e2e.counter"]
    assert m.WhichOneof("data") == "sum"
    assert (m.unit, m.description) == ("{req}", "a counter")
    assert m.sum.is_monotonic and m.sum.aggregation_temporality == cumulative
    assert p.WhichOneof("value") == "as_int" and p.as_int == 8
    assert attrs(p.attributes) == {"route": "/a"}
    assert 0 < p.start_time_unix_nano <= p.time_unix_nano

    _, _, m, p = by_name["e2e.updown"]
    assert m.WhichOneof("data") == "sum"
    assert not m.sum.is_monotonic and m.sum.aggregation_temporality == cumulative
    assert p.as_int == 6 and attrs(p.attributes) == {"q": "x"}

    _, _, m, p = by_name["e2e.hist"]
    assert m.WhichOneof("data") == "histogram"
    assert m.unit == "ms"
    assert m.histogram.aggregation_temporality == cumulative
    assert p.count == 3 and p.sum == 56.0 and p.min == 1.0 and p.max == 50.0
    assert len(p.explicit_bounds) > 0
    assert list(p.bucket_counts) == expected_bucket_counts(list(p.explicit_bounds), [1, 5, 50])
    assert attrs(p.attributes) == {"op": "get"}

    _, _, m, p = by_name["e2e.gauge"]
    assert m.WhichOneof("data") == "gauge"
    assert m.unit == "Cel"
    assert p.WhichOneof("value") == "as_double" and p.as_double == 42.5
    assert attrs(p.attributes) == {"room": "lab"}


def check_sdk_logs(sink: OtlpSink, ctx: dict) -> None:
    recs = sink.wait_for_logs(3)
    for res, scope, _ in recs:
        check_resource_and_scope(res, scope, sdk.LOGGER_NAME, sdk.LOGGER_VERSION)
    by_sev = {lr.severity_text: lr for _, _, lr in recs}
    assert sorted(by_sev) == ["ERROR", "INFO", "WARN"], sorted(by_sev)

    warn = by_sev["WARN"]
    assert warn.severity_number == logs_pb2.SEVERITY_NUMBER_WARN
    assert warn.body.string_value == "hello log"
    assert attrs(warn.attributes) == {"log.str": "s", "log.int": 11, "log.double": 2.5,
                                      "log.bool": True, "log.list": ["p", "q"]}
    assert warn.trace_id == ctx["trace_id"] and warn.span_id == ctx["span_id"]
    assert warn.observed_time_unix_nano > 0

    info = by_sev["INFO"]
    assert info.severity_number == logs_pb2.SEVERITY_NUMBER_INFO
    assert info.body.WhichOneof("value") == "kvlist_value"
    assert from_any(info.body) == {"k": "v", "n": 1, "nested": {"x": [1, 2]}}
    assert info.trace_id == b""

    err = by_sev["ERROR"]
    assert err.severity_number == logs_pb2.SEVERITY_NUMBER_ERROR
    assert err.body.string_value == "with event"
    assert attrs(err.attributes) == {"kind": "event"}
    # last, so that a loss of this newer field does not hide the checks above
    assert err.event_name == "e2e.event", f"event_name lost: {err.event_name!r}"
