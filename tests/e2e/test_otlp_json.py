"""OTLP/JSON into tern's HTTP receiver: hand-written fixtures (hex ids, int64 as strings
and as numbers, enum names and ints, camelCase and snake_case) must come out of the
`otlphttp` exporter as exactly the protobuf they describe."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest
from google.protobuf import text_format
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from ternlib import configs
from ternlib.otlp import JSON, any_value, kvs, post
from ternlib.ports import free_port

FIXTURES = Path(__file__).parent / "fixtures"
H = bytes.fromhex
TRACE_ID = H("5b8efff798038103d269b633813fc60c")
LINK_TRACE_ID = H("0af7651916cd43dd8448eb211c80319c")


def kv(key, av):
    return common_pb2.KeyValue(key=key, value=av)


def expected_traces() -> trace_service_pb2.ExportTraceServiceRequest:
    span1 = trace_pb2.Span(
        trace_id=TRACE_ID, span_id=H("eee19b7ec3c1b174"), parent_span_id=H("eee19b7ec3c1b173"),
        trace_state="vendor=value", name="json-server-span", kind=trace_pb2.Span.SPAN_KIND_SERVER,
        start_time_unix_nano=1544712660000000000, end_time_unix_nano=1544712661000000000,
        attributes=[
            kv("str", any_value("v")),
            kv("int.string", any_value(9007199254740993)),
            kv("int.number", any_value(42)),
            kv("int.negative", any_value(-7)),
            kv("int.max", any_value(9223372036854775807)),
            kv("dbl", any_value(1.5)),
            kv("dbl.int", common_pb2.AnyValue(double_value=2.0)),
            kv("bool", any_value(True)),
            kv("bytes", any_value(b"\xde\xad\xbe\xef")),
            kv("arr", any_value(["a", 2, False])),
            kv("kv", any_value({"inner": 0.5})),
        ],
        dropped_attributes_count=1,
        events=[trace_pb2.Span.Event(time_unix_nano=1544712660500000000, name="json-event",
                                     attributes=kvs({"ev.int": 5}), dropped_attributes_count=2)],
        dropped_events_count=3,
        links=[trace_pb2.Span.Link(trace_id=LINK_TRACE_ID, span_id=H("b7ad6b7169203331"),
                                   trace_state="a=b", attributes=kvs({"link.str": "l"}))],
        dropped_links_count=4,
        status=trace_pb2.Status(code=trace_pb2.Status.STATUS_CODE_ERROR, message="bad thing"),
        flags=257,
    )
    span2 = trace_pb2.Span(
        trace_id=TRACE_ID, span_id=H("0000000000000001"), name="json-client-span",
        kind=trace_pb2.Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=1544712660100000000, end_time_unix_nano=1544712660200000000,
        status=trace_pb2.Status(code=trace_pb2.Status.STATUS_CODE_OK),
    )
    return trace_service_pb2.ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
        resource=resource_pb2.Resource(attributes=kvs({"service.name": "json-svc", "res.int": 123})),
        schema_url="https://opentelemetry.io/schemas/1.24.0",
        scope_spans=[trace_pb2.ScopeSpans(
            scope=common_pb2.InstrumentationScope(name="json.scope", version="0.0.1",
                                                  attributes=kvs({"scope.attr": True})),
            schema_url="https://opentelemetry.io/schemas/1.21.0",
            spans=[span1, span2])])])


def expected_traces_snake() -> trace_service_pb2.ExportTraceServiceRequest:
    span = trace_pb2.Span(
        trace_id=TRACE_ID, span_id=H("eee19b7ec3c1b174"), parent_span_id=H("eee19b7ec3c1b173"),
        trace_state="vendor=value", name="snake-span", kind=trace_pb2.Span.SPAN_KIND_PRODUCER,
        start_time_unix_nano=1544712660000000000, end_time_unix_nano=1544712661000000000,
        attributes=[
            kv("int.string", any_value(9007199254740993)),
            kv("dbl", any_value(1.5)),
            kv("arr", any_value(["a"])),
            kv("kv", any_value({"inner": True})),
            kv("bytes", any_value(b"\xde\xad\xbe\xef")),
        ],
        dropped_attributes_count=1,
        events=[trace_pb2.Span.Event(time_unix_nano=1544712660500000000, name="snake-event",
                                     attributes=kvs({"ev.int": 5}))],
        links=[trace_pb2.Span.Link(trace_id=LINK_TRACE_ID, span_id=H("b7ad6b7169203331"),
                                   trace_state="a=b")],
        status=trace_pb2.Status(code=trace_pb2.Status.STATUS_CODE_OK, message="fine"),
    )
    return trace_service_pb2.ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
        resource=resource_pb2.Resource(attributes=kvs({"service.name": "json-svc", "res.int": 123})),
        schema_url="https://opentelemetry.io/schemas/1.24.0",
        scope_spans=[trace_pb2.ScopeSpans(
            scope=common_pb2.InstrumentationScope(name="json.scope", version="0.0.1"),
            spans=[span])])])


def expected_metrics() -> metrics_service_pb2.ExportMetricsServiceRequest:
    m = metrics_pb2
    start, t = 1700000000000000000, 1700000001000000000
    metrics = [
        m.Metric(name="json.sum", description="a monotonic cumulative sum", unit="{req}",
                 sum=m.Sum(aggregation_temporality=m.AGGREGATION_TEMPORALITY_CUMULATIVE,
                           is_monotonic=True,
                           data_points=[m.NumberDataPoint(
                               attributes=kvs({"route": "/x"}), start_time_unix_nano=start,
                               time_unix_nano=t, as_int=9007199254740993,
                               exemplars=[m.Exemplar(filtered_attributes=kvs({"ex": 1}),
                                                     time_unix_nano=1700000000500000000,
                                                     as_double=7.5, trace_id=LINK_TRACE_ID,
                                                     span_id=H("b7ad6b7169203331"))])])),
        m.Metric(name="json.gauge", unit="1",
                 gauge=m.Gauge(data_points=[m.NumberDataPoint(
                     time_unix_nano=t, as_double=0.25, attributes=kvs({"host": "h1"}))])),
        m.Metric(name="json.histogram", unit="ms",
                 histogram=m.Histogram(
                     aggregation_temporality=m.AGGREGATION_TEMPORALITY_DELTA,
                     data_points=[m.HistogramDataPoint(
                         start_time_unix_nano=start, time_unix_nano=t, count=3, sum=6.5,
                         bucket_counts=[1, 2, 0], explicit_bounds=[1.0, 5.0], min=0.5, max=4.0)])),
        m.Metric(name="json.exphistogram", unit="s",
                 exponential_histogram=m.ExponentialHistogram(
                     aggregation_temporality=m.AGGREGATION_TEMPORALITY_DELTA,
                     data_points=[m.ExponentialHistogramDataPoint(
                         start_time_unix_nano=start, time_unix_nano=t, count=4, sum=10.0, scale=1,
                         zero_count=1,
                         positive=m.ExponentialHistogramDataPoint.Buckets(offset=2, bucket_counts=[1, 2]),
                         negative=m.ExponentialHistogramDataPoint.Buckets(offset=-1))])),
        m.Metric(name="json.summary",
                 summary=m.Summary(data_points=[m.SummaryDataPoint(
                     time_unix_nano=t, count=2, sum=3.0,
                     quantile_values=[m.SummaryDataPoint.ValueAtQuantile(quantile=0.5, value=1.0),
                                      m.SummaryDataPoint.ValueAtQuantile(quantile=1.0, value=2.0)])])),
    ]
    return metrics_service_pb2.ExportMetricsServiceRequest(resource_metrics=[m.ResourceMetrics(
        resource=resource_pb2.Resource(attributes=kvs({"service.name": "json-metrics"})),
        scope_metrics=[m.ScopeMetrics(scope=common_pb2.InstrumentationScope(name="json.meter", version="1.0"),
                                      metrics=metrics)])])


def expected_logs() -> logs_service_pb2.ExportLogsServiceRequest:
    recs = [
        logs_pb2.LogRecord(time_unix_nano=1700000000000000001, observed_time_unix_nano=1700000000000000002,
                           severity_number=logs_pb2.SEVERITY_NUMBER_WARN, severity_text="Warning",
                           body=any_value("json log line"), attributes=kvs({"int": -42, "flag": False}),
                           dropped_attributes_count=2, flags=1, trace_id=TRACE_ID,
                           span_id=H("eee19b7ec3c1b174")),
        logs_pb2.LogRecord(time_unix_nano=1700000000000000003,
                           severity_number=logs_pb2.SEVERITY_NUMBER_ERROR, severity_text="ERROR",
                           body=any_value({"msg": "structured", "code": 500}), event_name="json.event"),
    ]
    return logs_service_pb2.ExportLogsServiceRequest(resource_logs=[logs_pb2.ResourceLogs(
        resource=resource_pb2.Resource(attributes=kvs({"service.name": "json-logs"})),
        scope_logs=[logs_pb2.ScopeLogs(scope=common_pb2.InstrumentationScope(name="json.logger"),
                                       log_records=recs)])])


CASES = {
    "traces.json": ("traces", expected_traces, 2),
    "traces_snake.json": ("traces", expected_traces_snake, 1),
    "metrics.json": ("metrics", expected_metrics, 5),
    "logs.json": ("logs", expected_logs, 2),
}


def assert_same_message(got, want) -> None:
    if got != want:
        diff = "\n".join(difflib.unified_diff(text_format.MessageToString(want).splitlines(),
                                              text_format.MessageToString(got).splitlines(),
                                              "expected (decoded from fixture by hand)",
                                              "received by sink", lineterm=""))
        pytest.fail("tern did not forward the exact decoded values:\n" + diff, pytrace=False)


@pytest.fixture
def json_tern(tern, sink):
    http = free_port()
    tern(configs.simple(sink, http=http))
    return f"http://127.0.0.1:{http}"


@pytest.mark.parametrize("fixture", sorted(CASES))
def test_json_fixture_forwarded_exactly(json_tern, sink, fixture):
    signal, expected, n = CASES[fixture]
    body = (FIXTURES / fixture).read_bytes()
    r = post(json_tern, f"/v1/{signal}", body, content_type=JSON)
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.headers.get("Content-Type", "").split(";")[0] == "application/json", r.headers
    assert r.json() == {}, r.text
    sink.wait_for(signal, n)
    reqs = sink.requests(signal)
    assert len(reqs) == 1, f"expected one exported request, got {len(reqs)}"
    assert_same_message(reqs[0].message, expected())


def test_json_with_charset_parameter(json_tern, sink):
    body = (FIXTURES / "logs.json").read_bytes()
    r = post(json_tern, "/v1/logs", body, content_type="application/json; charset=utf-8")
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.json() == {}
    sink.wait_for("logs", 2)


def test_json_unknown_fields_are_ignored(json_tern, sink):
    doc = json.loads((FIXTURES / "traces_snake.json").read_text())
    doc["someFutureField"] = {"x": 1}
    doc["resource_spans"][0]["scope_spans"][0]["spans"][0]["notAField"] = "ignored"
    r = post(json_tern, "/v1/traces", json.dumps(doc).encode(), content_type=JSON)
    assert r.status_code == 200, (r.status_code, r.text)
    sink.wait_for("traces", 1)
    assert_same_message(sink.requests("traces")[0].message, expected_traces_snake())


def _span_doc(**span_fields) -> bytes:
    span = {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
            "name": "x", "startTimeUnixNano": "1", "endTimeUnixNano": "2"}
    span.update(span_fields)
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}).encode()


@pytest.mark.parametrize("case,fields", [
    ("unknown-enum-name", {"kind": "SPAN_KIND_BOGUS"}),
    ("short-trace-id", {"traceId": "abcd"}),
    ("base64-trace-id", {"traceId": "W47/95gDgQPSabYzgT/GDA=="}),
    ("span-id-16-bytes", {"spanId": "5b8efff798038103d269b633813fc60c"}),
    ("int64-not-a-number", {"startTimeUnixNano": "soon"}),
])
def test_json_invalid_values_rejected_with_400(json_tern, sink, case, fields):
    r = post(json_tern, "/v1/traces", _span_doc(**fields), content_type=JSON)
    assert r.status_code == 400, (case, r.status_code, r.text)
    assert r.headers.get("Content-Type", "").split(";")[0] == "application/json"
    st = r.json()
    assert st.get("code") == 3 and st.get("message"), st
    assert sink.count("traces") == 0


def test_json_uppercase_hex_ids_accepted(json_tern, sink):
    r = post(json_tern, "/v1/traces",
             _span_doc(traceId="5B8EFFF798038103D269B633813FC60C", spanId="EEE19B7EC3C1B174"),
             content_type=JSON)
    assert r.status_code == 200, (r.status_code, r.text)
    (_, _, span), = sink.wait_for_spans(1)
    assert span.trace_id == TRACE_ID and span.span_id == H("eee19b7ec3c1b174")
