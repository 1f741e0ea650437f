#!/usr/bin/env python3
"""Generates the malformed-request corpus in this folder and the fuzz seeds in ../../fuzz/corpus.

Run from anywhere with the project venv:

    /work/main/.venv/bin/python tests/corpus/generate.py

Everything is deterministic (fixed seeds, fixed gzip mtime), so re-running rewrites identical
files. `cases.json` lists every case: which file to send, to which receiver and signal, with
which headers, and the HTTP status / gRPC code the receiver must answer. The Rust test
`tests/tests/malformed.rs` replays it against the real binary.

Protobuf is mostly written by hand (the small encoder below) so that malformed encodings can be
produced exactly; valid baselines come from the `opentelemetry-proto` Python classes.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import shutil
import struct
import zlib
from pathlib import Path

import zstandard
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    InstrumentationScope,
    KeyValue,
    KeyValueList,
)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    Exemplar,
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
    Summary,
    SummaryDataPoint,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

HERE = Path(__file__).resolve().parent
FUZZ_CORPUS = HERE.parent.parent / "fuzz" / "corpus"

MIB = 1024 * 1024
# The `small` receiver of the test config has max_request_body_size 1 MiB and
# max_recv_msg_size_mib 1; `default` keeps the defaults (20 MiB HTTP, 4 MiB gRPC).
SMALL_LIMIT = 1 * MIB

PROTO = "application/x-protobuf"
JSON = "application/json"

# gRPC status codes
OK, INVALID_ARGUMENT, RESOURCE_EXHAUSTED, UNIMPLEMENTED, INTERNAL = 0, 3, 8, 12, 13


# --------------------------------------------------------------------------------------------
# A tiny protobuf encoder
# --------------------------------------------------------------------------------------------

def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field: int, wire: int) -> bytes:
    return varint((field << 3) | wire)


def ld(field: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return key(field, 2) + varint(len(payload)) + payload


def vi(field: int, n: int) -> bytes:
    return key(field, 0) + varint(n)


def fixed64(field: int, n: int) -> bytes:
    return key(field, 1) + struct.pack("<Q", n)


def fixed32(field: int, n: int) -> bytes:
    return key(field, 5) + struct.pack("<I", n)


def traces_envelope(span: bytes) -> bytes:
    """ExportTraceServiceRequest{resource_spans{scope_spans{spans: span}}}"""
    return ld(1, ld(2, ld(2, span)))


def logs_envelope(record: bytes) -> bytes:
    return ld(1, ld(2, ld(2, record)))


def metrics_envelope(metric: bytes) -> bytes:
    return ld(1, ld(2, ld(2, metric)))


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def zstd_bytes(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=3).compress(data)


# --------------------------------------------------------------------------------------------
# Valid baselines
# --------------------------------------------------------------------------------------------

def kv(k: str, **value) -> KeyValue:
    return KeyValue(key=k, value=AnyValue(**value))


def valid_traces(n_spans: int = 3, name: str = "GET /") -> ExportTraceServiceRequest:
    spans = []
    for i in range(n_spans):
        spans.append(Span(
            trace_id=bytes(range(1, 17)),
            span_id=struct.pack(">Q", i + 1),
            parent_span_id=bytes([9] * 8) if i else b"",
            name=f"{name} {i}",
            kind=Span.SPAN_KIND_SERVER,
            start_time_unix_nano=1_700_000_000_000_000_000 + i,
            end_time_unix_nano=1_700_000_000_000_001_000 + i,
            attributes=[
                kv("http.method", string_value="GET"),
                kv("retries", int_value=-3),
                kv("ratio", double_value=0.25),
                kv("ok", bool_value=True),
                kv("raw", bytes_value=b"\x00\x01\xff"),
                kv("list", array_value=ArrayValue(values=[AnyValue(string_value="a"),
                                                          AnyValue(int_value=2)])),
                kv("map", kvlist_value=KeyValueList(values=[kv("inner", string_value="x")])),
            ],
            events=[Span.Event(time_unix_nano=5, name="exception",
                               attributes=[kv("exception.type", string_value="E")])],
            links=[Span.Link(trace_id=bytes([7] * 16), span_id=bytes([8] * 8),
                             trace_state="a=b", flags=1)],
            status=Status(code=Status.STATUS_CODE_ERROR, message="boom"),
            flags=0x101,
            trace_state="vendor=1",
        ))
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(
        resource=Resource(attributes=[kv("service.name", string_value="corpus")]),
        scope_spans=[ScopeSpans(scope=InstrumentationScope(name="gen", version="1"),
                                spans=spans, schema_url="https://opentelemetry.io/schemas/1.0")],
    )])


def valid_metrics() -> ExportMetricsServiceRequest:
    attrs = [kv("host", string_value="h1")]
    ex = Exemplar(time_unix_nano=3, as_double=1.5, span_id=bytes([1] * 8),
                  trace_id=bytes([2] * 16), filtered_attributes=attrs)
    metrics = [
        Metric(name="gauge", unit="1", gauge=Gauge(data_points=[
            NumberDataPoint(attributes=attrs, time_unix_nano=10, as_double=1.25, exemplars=[ex]),
            NumberDataPoint(time_unix_nano=11, as_int=-7)])),
        Metric(name="sum", sum=Sum(aggregation_temporality=2, is_monotonic=True, data_points=[
            NumberDataPoint(start_time_unix_nano=1, time_unix_nano=10, as_int=42)])),
        Metric(name="hist", histogram=Histogram(aggregation_temporality=1, data_points=[
            HistogramDataPoint(count=6, sum=12.5, bucket_counts=[1, 2, 3],
                               explicit_bounds=[1.0, 5.0], min=0.5, max=9.0, exemplars=[ex])])),
        Metric(name="exp", exponential_histogram=ExponentialHistogram(
            aggregation_temporality=2, data_points=[ExponentialHistogramDataPoint(
                count=4, sum=3.0, scale=-2, zero_count=1,
                positive=ExponentialHistogramDataPoint.Buckets(offset=-1, bucket_counts=[1, 2]),
                negative=ExponentialHistogramDataPoint.Buckets(offset=3, bucket_counts=[1]),
                zero_threshold=0.001)])),
        Metric(name="summary", summary=Summary(data_points=[SummaryDataPoint(
            count=2, sum=3.0, quantile_values=[
                SummaryDataPoint.ValueAtQuantile(quantile=0.5, value=1.0),
                SummaryDataPoint.ValueAtQuantile(quantile=0.99, value=2.0)])])),
    ]
    return ExportMetricsServiceRequest(resource_metrics=[ResourceMetrics(
        resource=Resource(attributes=attrs),
        scope_metrics=[ScopeMetrics(scope=InstrumentationScope(name="gen"), metrics=metrics)])])


def valid_logs() -> ExportLogsServiceRequest:
    records = [
        LogRecord(time_unix_nano=1, observed_time_unix_nano=2, severity_number=9,
                  severity_text="INFO", body=AnyValue(string_value="hello"),
                  attributes=[kv("k", string_value="v")], flags=1,
                  trace_id=bytes([3] * 16), span_id=bytes([4] * 8), event_name="ev"),
        LogRecord(body=AnyValue(kvlist_value=KeyValueList(values=[
            kv("nested", array_value=ArrayValue(values=[AnyValue(double_value=1.0)]))]))),
    ]
    return ExportLogsServiceRequest(resource_logs=[ResourceLogs(
        resource=Resource(attributes=[kv("service.name", string_value="corpus")]),
        scope_logs=[ScopeLogs(scope=InstrumentationScope(name="gen"), log_records=records)])])


VALID_TRACES_JSON = {
    "resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "corpus"}}]},
        "scopeSpans": [{
            "scope": {"name": "gen", "version": "1"},
            "spans": [{
                "traceId": "0102030405060708090a0b0c0d0e0f10",
                "spanId": "0101010101010101",
                "parentSpanId": "",
                "name": "GET /",
                "kind": 2,
                "startTimeUnixNano": "1700000000000000000",
                "endTimeUnixNano": "1700000000000001000",
                "attributes": [
                    {"key": "http.method", "value": {"stringValue": "GET"}},
                    {"key": "retries", "value": {"intValue": "-3"}},
                    {"key": "ratio", "value": {"doubleValue": 0.25}},
                    {"key": "ok", "value": {"boolValue": True}},
                    {"key": "raw", "value": {"bytesValue": "AAH/"}},
                    {"key": "list", "value": {"arrayValue": {"values": [{"stringValue": "a"}]}}},
                    {"key": "map", "value": {"kvlistValue": {"values": [
                        {"key": "inner", "value": {"intValue": 1}}]}}},
                ],
                "events": [{"timeUnixNano": "5", "name": "exception"}],
                "links": [{"traceId": "07070707070707070707070707070707",
                           "spanId": "0808080808080808"}],
                "status": {"code": 2, "message": "boom"},
            }],
        }],
    }]
}

VALID_METRICS_JSON = {
    "resourceMetrics": [{
        "scopeMetrics": [{
            "metrics": [
                {"name": "gauge", "gauge": {"dataPoints": [
                    {"timeUnixNano": "10", "asDouble": 1.25,
                     "attributes": [{"key": "host", "value": {"stringValue": "h1"}}]}]}},
                {"name": "sum", "sum": {"aggregationTemporality": 2, "isMonotonic": True,
                                        "dataPoints": [{"timeUnixNano": "10", "asInt": "42"}]}},
                {"name": "hist", "histogram": {"aggregationTemporality": 1, "dataPoints": [
                    {"count": "6", "sum": 12.5, "bucketCounts": ["1", "2", "3"],
                     "explicitBounds": [1.0, 5.0]}]}},
                {"name": "exp", "exponentialHistogram": {"aggregationTemporality": 2, "dataPoints": [
                    {"count": "4", "scale": -2, "zeroCount": "1",
                     "positive": {"offset": -1, "bucketCounts": ["1", "2"]}}]}},
                {"name": "summary", "summary": {"dataPoints": [
                    {"count": "2", "sum": 3.0,
                     "quantileValues": [{"quantile": 0.5, "value": 1.0}]}]}},
            ]
        }]
    }]
}

VALID_LOGS_JSON = {
    "resourceLogs": [{
        "scopeLogs": [{
            "logRecords": [
                {"timeUnixNano": "1", "severityNumber": 9, "severityText": "INFO",
                 "body": {"stringValue": "hello"},
                 "attributes": [{"key": "k", "value": {"stringValue": "v"}}],
                 "traceId": "03030303030303030303030303030303", "spanId": "0404040404040404"},
                {"body": {"kvlistValue": {"values": [
                    {"key": "nested", "value": {"arrayValue": {"values": [{"doubleValue": 1}]}}}]}}},
            ]
        }]
    }]
}


def dumps(doc) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


# --------------------------------------------------------------------------------------------
# Malformed content
# --------------------------------------------------------------------------------------------

def deep_array_anyvalue(levels: int) -> bytes:
    """An AnyValue nesting `levels` arrayValues around an int."""
    inner = vi(3, 1)  # AnyValue.int_value = 1
    for _ in range(levels):
        inner = ld(5, ld(1, inner))  # AnyValue.array_value { values: inner }
    return inner


def deep_kvlist_anyvalue(levels: int) -> bytes:
    inner = vi(3, 1)
    for _ in range(levels):
        # AnyValue.kvlist_value { values: KeyValue { key: "k", value: inner } }
        inner = ld(6, ld(1, ld(1, b"k") + ld(2, inner)))
    return inner


def deep_json_anyvalue(levels: int) -> str:
    return ('{"arrayValue":{"values":[' * levels + '{"intValue":"1"}' + "]}}" * levels)


def huge_attrs_span(n: int) -> bytes:
    # KeyValue{key: "a<i>", value: AnyValue{int_value: i}}
    attrs = b"".join(ld(9, ld(1, b"a%d" % i) + ld(2, vi(3, i))) for i in range(n))
    return (ld(1, bytes(range(1, 17))) + ld(2, bytes([1] * 8)) + ld(5, b"huge")
            + fixed64(7, 1) + fixed64(8, 2) + attrs)


def huge_attrs_json(n: int) -> bytes:
    attrs = ",".join('{"key":"a%d","value":{"intValue":"%d"}}' % (i, i) for i in range(n))
    return ('{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10",'
            '"spanId":"0101010101010101","name":"huge","attributes":[' + attrs + ']}]}]}]}').encode()


def zeros_gzip_bomb(total: int) -> bytes:
    """A gzip member inflating to `total` zero bytes. DEFLATE's ratio is capped at ~1032:1."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(MIB)
    out = io.BytesIO()
    left = total
    while left:
        n = min(left, len(chunk))
        out.write(comp.compress(chunk[:n]))
        left -= n
    out.write(comp.flush())
    data = out.getvalue()
    # gzip header: zero the mtime bytes (4..8) for reproducibility; zlib writes 0 already.
    return data


def zeros_deflate_bomb(total: int) -> bytes:
    comp = zlib.compressobj(9, zlib.DEFLATED, 15)  # zlib wrapper: Content-Encoding deflate
    chunk = bytes(MIB)
    out = io.BytesIO()
    left = total
    while left:
        n = min(left, len(chunk))
        out.write(comp.compress(chunk[:n]))
        left -= n
    out.write(comp.flush())
    return out.getvalue()


def zeros_zstd_bomb(total: int) -> bytes:
    """zstd encodes a run of one byte as RLE blocks (4 bytes per 128 KiB): ~32 KB per GiB."""
    cctx = zstandard.ZstdCompressor(level=1, write_content_size=False)
    out = io.BytesIO()
    with cctx.stream_writer(out, closefd=False) as w:
        chunk = bytes(MIB)
        left = total
        while left:
            n = min(left, len(chunk))
            w.write(chunk[:n])
            left -= n
    return out.getvalue()


# --------------------------------------------------------------------------------------------
# The case list
# --------------------------------------------------------------------------------------------

CASES: list[dict] = []
FILES: dict[str, bytes] = {}


def case(name: str, data: bytes | None, *, signal: str = "traces", fmt: str = "proto",
         encoding: str | None = None, http: int, grpc: int | None = None,
         receiver: str = "default", file: str | None = None, method: str = "POST",
         content_type: str | None = None, chunked: bool = False, note: str = "") -> None:
    """Registers a case. `data` is written to `<name>.<fmt>[.gz|.zst|.zz]` unless `file` names
    an existing corpus file to reuse. `grpc` is the expected gRPC status code when the case is
    also replayed over gRPC (protobuf cases only), None to skip it there."""
    if file is None:
        ext = {"gzip": ".gz", "zstd": ".zst", "deflate": ".zz", None: ""}.get(encoding, "")
        file = f"{name}.{fmt}{ext}"
        assert file not in FILES, file
        assert data is not None
        FILES[file] = data
    assert any(c["file"] == file for c in CASES) or file in FILES, file
    if fmt != "proto":
        assert grpc is None, name
    name = f"{name}.{fmt}"
    entry = {
        "name": name,
        "file": file,
        "signal": signal,
        "method": method,
        "content_type": (content_type if content_type is not None
                         else PROTO if fmt == "proto" else JSON),
        "content_encoding": encoding,
        "receiver": receiver,
        "chunked": chunked,
        "http_status": http,
        "grpc_code": grpc,
        "note": note,
    }
    assert not any(c["name"] == name for c in CASES), name
    CASES.append(entry)


def build() -> None:
    traces = valid_traces().SerializeToString()
    metrics = valid_metrics().SerializeToString()
    logs = valid_logs().SerializeToString()

    # ---- controls: valid requests must be accepted ----
    case("valid_traces", traces, http=200, grpc=OK)
    case("valid_metrics", metrics, signal="metrics", http=200, grpc=OK)
    case("valid_logs", logs, signal="logs", http=200, grpc=OK)
    case("valid_traces", dumps(VALID_TRACES_JSON), fmt="json", http=200)
    case("valid_metrics", dumps(VALID_METRICS_JSON), signal="metrics", fmt="json", http=200)
    case("valid_logs", dumps(VALID_LOGS_JSON), signal="logs", fmt="json", http=200)
    case("valid_traces_gzip", gzip_bytes(traces), encoding="gzip", http=200, grpc=OK)
    case("valid_traces_zstd", zstd_bytes(traces), encoding="zstd", http=200, grpc=OK)
    case("valid_traces_deflate", zlib.compress(traces, 6), encoding="deflate", http=200,
         grpc=UNIMPLEMENTED, note="the gRPC receiver accepts gzip and zstd only")
    # Two gzip members back to back: Go's gzip.Reader and flate2's MultiGzDecoder read both.
    half = len(traces) // 2
    case("valid_traces_gzip_multimember", gzip_bytes(traces[:half]) + gzip_bytes(traces[half:]),
         encoding="gzip", http=200, grpc=None,
         note="gRPC compression is single-member gzip (tonic GzDecoder); not replayed there")

    # ---- empty bodies ----
    case("empty_traces", b"", http=200, grpc=OK, note="zero items is a valid request")
    case("empty_metrics", b"", signal="metrics", http=200, grpc=OK)
    case("empty_logs", b"", signal="logs", http=200, grpc=OK)
    case("empty_json", b"", fmt="json", http=400)
    case("empty_gzip_body", b"", encoding="gzip", http=400,
         note="a zero-byte body labelled gzip is not a gzip stream")

    # ---- truncation: one top-level entry, so every proper prefix is invalid ----
    for cut in (1, 2, 5, 17, len(traces) // 2, len(traces) - 1):
        case(f"truncated_traces_at_{cut}", traces[:cut], http=400, grpc=INVALID_ARGUMENT)
    case("truncated_metrics_half", metrics[: len(metrics) // 2], signal="metrics", http=400,
         grpc=INVALID_ARGUMENT)
    case("truncated_logs_minus_1", logs[:-1], signal="logs", http=400, grpc=INVALID_ARGUMENT)
    case("truncated_json", dumps(VALID_TRACES_JSON)[:-7], fmt="json", http=400)

    # ---- garbage ----
    rng = random.Random(0x7E54)
    case("garbage_random_4k", bytes(rng.getrandbits(8) for _ in range(4096)), http=400,
         grpc=INVALID_ARGUMENT)
    case("garbage_random_4k_logs", bytes(rng.getrandbits(8) for _ in range(4096)),
         signal="logs", http=400, grpc=INVALID_ARGUMENT)
    case("garbage_text_as_proto", b"hello, this is not protobuf\n", http=400,
         grpc=INVALID_ARGUMENT)
    case("json_sent_as_proto", dumps(VALID_TRACES_JSON), http=400, grpc=INVALID_ARGUMENT)
    case("proto_sent_as_json", traces, fmt="json", http=400)
    case("garbage_random_json", bytes(rng.getrandbits(8) for _ in range(4096)), fmt="json",
         http=400)

    # ---- wire-level errors ----
    case("wire_type_resource_spans_varint", vi(1, 5), http=400, grpc=INVALID_ARGUMENT)
    case("wire_type_span_name_fixed32", traces_envelope(fixed32(5, 7)), http=400,
         grpc=INVALID_ARGUMENT)
    case("wire_type_span_start_time_len", traces_envelope(ld(7, b"12345678")), http=400,
         grpc=INVALID_ARGUMENT)
    case("wire_type_span_kind_fixed64", traces_envelope(fixed64(6, 1)), http=400,
         grpc=INVALID_ARGUMENT)
    case("wire_type_metric_gauge_varint", metrics_envelope(ld(1, b"m") + vi(5, 1)),
         signal="metrics", http=400, grpc=INVALID_ARGUMENT)
    case("wire_type_log_body_fixed32", logs_envelope(fixed32(5, 1)), signal="logs", http=400,
         grpc=INVALID_ARGUMENT)
    case("wire_type_group_start", key(1, 3) + key(1, 4), http=400, grpc=INVALID_ARGUMENT)
    case("wire_type_7", key(2, 7), http=400, grpc=INVALID_ARGUMENT)
    case("field_number_zero", key(0, 0) + b"\x01", http=400, grpc=INVALID_ARGUMENT)
    case("varint_11_bytes", key(15, 0) + b"\xff" * 10 + b"\x01", http=400, grpc=INVALID_ARGUMENT)
    case("length_prefix_2_pow_63", key(1, 2) + varint(1 << 63) + b"abc", http=400,
         grpc=INVALID_ARGUMENT)
    case("length_prefix_past_end", key(1, 2) + varint(1000) + traces, http=400,
         grpc=INVALID_ARGUMENT)
    case("nested_length_past_parent", ld(1, ld(2, key(2, 2) + varint(50) + b"x" * 10)),
         http=400, grpc=INVALID_ARGUMENT)
    case("histogram_packed_bounds_not_multiple_of_8",
         metrics_envelope(ld(1, b"h") + ld(9, ld(1, ld(7, b"\x00" * 12)))), signal="metrics",
         http=400, grpc=INVALID_ARGUMENT)
    case("exp_histogram_packed_counts_truncated_varint",
         metrics_envelope(ld(1, b"e") + ld(10, ld(1, ld(8, ld(2, b"\x01\x80"))))),
         signal="metrics", http=400, grpc=INVALID_ARGUMENT)
    # Unknown fields of every wire type are skipped, as prost and Go do.
    unknown = vi(100, 1) + fixed64(101, 2) + ld(102, b"\xff\xfe") + fixed32(103, 3)
    case("unknown_fields_everywhere", unknown + ld(1, unknown + ld(2, unknown + ld(
        2, unknown + ld(5, b"n")))), http=200, grpc=OK)

    # ---- invalid UTF-8 in string fields ----
    case("utf8_invalid_span_name", traces_envelope(ld(5, b"bad\xff\xfename")), http=400,
         grpc=INVALID_ARGUMENT)
    case("utf8_invalid_attribute_key", traces_envelope(ld(9, ld(1, b"k\xc3") + ld(2, vi(3, 1)))),
         http=400, grpc=INVALID_ARGUMENT)
    case("utf8_overlong_nul_in_attribute_value",
         traces_envelope(ld(9, ld(1, b"k") + ld(2, ld(1, b"\xc0\x80")))), http=400,
         grpc=INVALID_ARGUMENT)
    case("utf8_surrogate_in_log_body", logs_envelope(ld(5, ld(1, b"\xed\xa0\x80"))),
         signal="logs", http=400, grpc=INVALID_ARGUMENT)
    case("utf8_invalid_metric_name", metrics_envelope(ld(1, b"\x80metric")), signal="metrics",
         http=400, grpc=INVALID_ARGUMENT)
    case("utf8_invalid_scope_name", ld(1, ld(2, ld(1, ld(1, b"\xf8scope")))), http=400,
         grpc=INVALID_ARGUMENT)
    # bytes fields may hold anything
    case("non_utf8_in_bytes_value", traces_envelope(ld(9, ld(1, b"k") + ld(2, ld(7, b"\xff")))),
         http=200, grpc=OK)
    good = dumps(VALID_TRACES_JSON)
    case("json_utf8_invalid_in_string", good.replace(b'"GET /"', b'"GET \xff/"'), fmt="json",
         http=400)
    case("json_utf8_invalid_in_key", good.replace(b'"name":"GET /"', b'"na\xc3me":"GET /"'),
         fmt="json", http=400)
    case("json_utf8_overlong", good.replace(b'"GET /"', b'"GET \xc0\xaf"'), fmt="json",
         http=400)
    case("json_lone_surrogate_escape", good.replace(b'"GET /"', b'"GET \\ud800 /"'), fmt="json",
         http=200, note="an unpaired surrogate escape becomes U+FFFD, as in Go")

    # ---- deep nesting ----
    case("deep_array_anyvalue_10000_log_body", logs_envelope(ld(5, deep_array_anyvalue(10_000))),
         signal="logs", http=400, grpc=INVALID_ARGUMENT)
    case("deep_array_anyvalue_10000_span_attr",
         traces_envelope(ld(9, ld(1, b"k") + ld(2, deep_array_anyvalue(10_000)))), http=400,
         grpc=INVALID_ARGUMENT)
    case("deep_kvlist_anyvalue_10000_metric_attr",
         metrics_envelope(ld(1, b"g") + ld(5, ld(1, ld(7, ld(1, b"k") + ld(
             2, deep_kvlist_anyvalue(10_000)))))), signal="metrics", http=400,
         grpc=INVALID_ARGUMENT)
    # Scanner depth: ExportLogs(0) ResourceLogs(1) ScopeLogs(2) LogRecord(3) AnyValue(4), then
    # two messages per array level; MAX_DEPTH is 64. 29 levels reach depth 62, 30 reach 64.
    case("deep_array_anyvalue_29_log_body", logs_envelope(ld(5, deep_array_anyvalue(29))),
         signal="logs", http=200, grpc=OK)
    case("deep_array_anyvalue_30_log_body", logs_envelope(ld(5, deep_array_anyvalue(30))),
         signal="logs", http=400, grpc=INVALID_ARGUMENT,
         note="prost would decode this (limit 100); tern's scanner stops at depth 64 by design")
    case("json_deep_array_anyvalue_10000",
         ('{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":'
          + deep_json_anyvalue(10_000) + "}]}]}]}").encode(), signal="logs", fmt="json", http=400)
    # JSON caps AnyValue nesting at 16 levels (a scalar is level 1), so whatever JSON tern
    # accepts re-encodes to protobuf that its own scanner (depth 64) and prost (100) accept.
    for levels, status in ((15, 200), (16, 400)):
        case(f"json_deep_array_anyvalue_{levels}",
             ('{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":'
              + deep_json_anyvalue(levels) + "}]}]}]}").encode(), signal="logs", fmt="json",
             http=status, note="boundary of the JSON AnyValue depth limit")
    case("json_deep_plain_arrays_100000_unknown_field",
         ('{"foo":' + "[" * 100_000 + "]" * 100_000 + "}").encode(), fmt="json", http=400)
    case("json_deep_objects_10000_unknown_field",
         ('{"foo":' + '{"a":' * 10_000 + "1" + "}" * 10_000 + "}").encode(), fmt="json", http=400)
    case("json_deep_unclosed_arrays_100000", ("[" * 100_000).encode(), fmt="json", http=400)

    # ---- huge counts (accepted: they are valid and fit in the limits) ----
    span = huge_attrs_span(200_000)
    case("huge_attrs_200k", gzip_bytes(traces_envelope(span)), encoding="gzip", http=200,
         grpc=OK, note=f"{len(traces_envelope(span))} bytes decompressed")
    case("huge_attrs_200k", gzip_bytes(huge_attrs_json(200_000)), fmt="json", encoding="gzip",
         http=200, note=f"{len(huge_attrs_json(200_000))} bytes decompressed")
    empty_spans = b"\x12\x00" * 200_000  # ScopeSpans.spans = {} repeated
    many = ld(1, ld(2, empty_spans))
    case("many_empty_spans_200k", gzip_bytes(many), encoding="gzip", http=200, grpc=OK,
         note="200k items in 400 KB")
    case("many_empty_spans_200k", gzip_bytes(
        b'{"resourceSpans":[{"scopeSpans":[{"spans":[' + b",".join([b"{}"] * 200_000)
        + b"]}]}]}"), fmt="json", encoding="gzip", http=200)

    # ---- wrong JSON types and values ----
    def jcase(name, doc, status=400, signal="traces", note=""):
        body = doc if isinstance(doc, bytes) else dumps(doc)
        case(name, body, fmt="json", signal=signal, http=status, note=note)

    jcase("json_null", b"null", status=400,
          note="tern requires an object; the Go collector (jsoniter ReadObjectCB) reads a "
               "top-level null as an empty request and answers 200")
    jcase("json_empty_object", b"{}", status=200)
    jcase("json_top_level_array", b"[]")
    jcase("json_top_level_string", b'"resourceSpans"')
    jcase("json_resource_spans_string", {"resourceSpans": "oops"})
    jcase("json_resource_spans_object", {"resourceSpans": {"scopeSpans": []}})
    jcase("json_spans_number", {"resourceSpans": [{"scopeSpans": [{"spans": 5}]}]})
    jcase("json_span_name_object", {"resourceSpans": [{"scopeSpans": [{"spans": [{"name": {}}]}]}]})
    jcase("json_span_kind_bogus_name",
          {"resourceSpans": [{"scopeSpans": [{"spans": [{"kind": "SPAN_KIND_BOGUS"}]}]}]})
    jcase("json_attributes_object", {"resourceSpans": [{"resource": {"attributes": {"k": "v"}}}]})
    jcase("json_int_value_overflow", {"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"body": {"intValue": "99999999999999999999"}}]}]}]}, signal="logs")
    jcase("json_int_value_float", {"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"body": {"intValue": 1.5}}]}]}]}, signal="logs")
    jcase("json_time_negative", {"resourceSpans": [{"scopeSpans": [{"spans": [
        {"startTimeUnixNano": "-1"}]}]}]})
    jcase("json_two_oneof_members", {"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"body": {"stringValue": "a", "intValue": "1"}}]}]}]}, signal="logs")
    jcase("json_metric_two_data_kinds", {"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "m", "gauge": {"dataPoints": []}, "sum": {"dataPoints": []}}]}]}]},
        signal="metrics")
    jcase("json_bucket_counts_strings_not_numbers", {"resourceMetrics": [{"scopeMetrics": [{
        "metrics": [{"name": "h", "histogram": {"dataPoints": [
            {"bucketCounts": ["x"]}]}}]}]}]}, signal="metrics")
    jcase("json_bytes_value_not_base64", {"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"body": {"bytesValue": "***"}}]}]}]}, signal="logs")
    jcase("json_trailing_garbage", good + b"}x")
    jcase("json_two_documents", good + good)
    jcase("json_nan_literal", b'{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"g",'
          b'"gauge":{"dataPoints":[{"asDouble":NaN}]}}]}]}]}', signal="metrics")
    jcase("json_huge_exponent_double", b'{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name"'
          b':"g","gauge":{"dataPoints":[{"asDouble":1e999999}]}}]}]}]}', signal="metrics",
          note="out of range for f64")
    jcase("json_very_long_number", b'{"resourceSpans":[],"x":' + b"1" * 100_000 + b"}",
          status=200, note="unknown member holding a 100k-digit number is skipped")

    # ---- hex ids of the wrong length / alphabet (JSON) ----
    def span_with(**fields):
        return {"resourceSpans": [{"scopeSpans": [{"spans": [dict(name="s", **fields)]}]}]}

    jcase("json_trace_id_15_bytes", span_with(traceId="0102030405060708090a0b0c0d0e0f"))
    jcase("json_trace_id_17_bytes", span_with(traceId="0102030405060708090a0b0c0d0e0f1011"))
    jcase("json_trace_id_odd_length", span_with(traceId="0102030405060708090a0b0c0d0e0f1"))
    jcase("json_trace_id_not_hex", span_with(traceId="zz02030405060708090a0b0c0d0e0f10"))
    jcase("json_trace_id_base64", span_with(traceId="AQIDBAUGBwgJCgsMDQ4PEA=="),
          note="protojson would use base64; OTLP/JSON uses hex")
    jcase("json_span_id_7_bytes", span_with(spanId="01010101010101"))
    jcase("json_parent_span_id_9_bytes", span_with(parentSpanId="010101010101010101"))
    jcase("json_link_trace_id_short", span_with(links=[{"traceId": "07", "spanId": "08"}]))
    jcase("json_log_trace_id_short", {"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"traceId": "0303"}]}]}]}, signal="logs")
    jcase("json_exemplar_span_id_long", {"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "g", "gauge": {"dataPoints": [{"asInt": "1", "exemplars": [
            {"spanId": "010101010101010101", "asInt": "1"}]}]}}]}]}]}, signal="metrics")
    jcase("json_trace_id_number", span_with(traceId=12345))
    # Protobuf bytes fields have no length rule in prost; the Go collector's pdata refuses
    # trace ids that are neither empty nor 16 bytes. Tern forwards what prost decodes.
    case("proto_trace_id_3_bytes", traces_envelope(ld(1, b"\x01\x02\x03") + ld(5, b"s")),
         http=200, grpc=OK,
         note="the Go collector answers 400 (pdata checks id length); tern accepts")

    # ---- compression bombs and broken streams ----
    bomb_1g = zeros_gzip_bomb(1024 * MIB)
    case("gzip_bomb_1gib", bomb_1g, encoding="gzip", http=413, grpc=RESOURCE_EXHAUSTED,
         note=f"{len(bomb_1g)} bytes inflating to 1 GiB (DEFLATE cannot exceed ~1032:1)")
    small_bomb = zeros_gzip_bomb(64 * MIB)
    case("gzip_bomb_64mib", small_bomb, encoding="gzip", fmt="json", http=413,
         note=f"{len(small_bomb)} bytes inflating to 64 MiB, labelled JSON")
    zbomb = zeros_zstd_bomb(4096 * MIB)
    case("zstd_bomb_4gib", zbomb, encoding="zstd", http=413, grpc=RESOURCE_EXHAUSTED,
         note=f"{len(zbomb)} bytes inflating to 4 GiB")
    dbomb = zeros_deflate_bomb(256 * MIB)
    case("deflate_bomb_256mib", dbomb, encoding="deflate", http=413, grpc=UNIMPLEMENTED,
         note=f"{len(dbomb)} bytes inflating to 256 MiB")
    gz = gzip_bytes(traces)
    case("gzip_truncated_half", gz[: len(gz) // 2], encoding="gzip", http=400, grpc=INTERNAL,
         note="gRPC: tonic reports decompression errors as INTERNAL, like grpc-go")
    case("gzip_truncated_no_trailer", gz[:-8], encoding="gzip", http=400, grpc=INTERNAL)
    bad_crc = bytearray(gz)
    bad_crc[-8] ^= 0xFF
    case("gzip_bad_crc", bytes(bad_crc), encoding="gzip", http=400, grpc=INTERNAL)
    case("gzip_header_only", gz[:10], encoding="gzip", http=400, grpc=INTERNAL)
    case("gzip_label_on_plain_proto", traces, encoding="gzip", http=400, grpc=INTERNAL)
    case("gzip_of_garbage", gzip_bytes(b"\x00\xff" * 100), encoding="gzip", http=400,
         grpc=INVALID_ARGUMENT)
    zs = zstd_bytes(traces)
    case("zstd_truncated", zs[: len(zs) // 2], encoding="zstd", http=400, grpc=INTERNAL)
    case("zstd_garbage", b"\x28\xb5\x2f\xfd" + bytes(rng.getrandbits(8) for _ in range(200)),
         encoding="zstd", http=400, grpc=INTERNAL)
    case("gzip_label_on_zstd", zs, encoding="gzip", http=400, grpc=INTERNAL)
    case("deflate_truncated", zlib.compress(traces)[:20], encoding="deflate", http=400,
         grpc=UNIMPLEMENTED)
    case("json_gzip_truncated", gzip_bytes(good)[:40], fmt="json", encoding="gzip", http=400)

    # ---- header-level cases reusing corpus files ----
    case("unknown_content_encoding_br", None, file="valid_traces.proto", encoding="br",
         http=400, grpc=UNIMPLEMENTED)
    case("method_get", None, file="valid_traces.proto", method="GET", http=405)
    case("method_put", None, file="valid_traces.proto", method="PUT", http=405)
    case("content_type_text_plain", None, file="valid_traces.proto", content_type="text/plain",
         http=415)
    case("content_type_missing", None, file="valid_traces.proto", content_type="", http=415)
    case("content_type_protobuf_json_body", None, file="valid_traces.json",
         content_type=PROTO, http=400)

    # ---- body over the limit (the `small` receiver: 1 MiB) ----
    big = valid_traces(n_spans=3400).SerializeToString()
    assert len(big) > SMALL_LIMIT, len(big)
    case("over_limit_identity", big, receiver="small", http=413, grpc=RESOURCE_EXHAUSTED,
         note=f"{len(big)} bytes of valid traces, limit {SMALL_LIMIT}")
    case("over_limit_identity_chunked", None, file="over_limit_identity.proto", receiver="small",
         chunked=True, http=413, note="no Content-Length: the limit applies while reading")
    case("over_limit_decompressed", gzip_bytes(big), encoding="gzip", receiver="small",
         http=413, grpc=RESOURCE_EXHAUSTED,
         note=f"{len(gzip_bytes(big))} bytes gzip, {len(big)} decompressed")
    case("under_limit_control", valid_traces(n_spans=100).SerializeToString(), receiver="small",
         http=200, grpc=OK)


def write_fuzz_seeds() -> None:
    """Seeds for the cargo-fuzz targets: small uncompressed files per decoder, small
    compressed files (first byte selects the codec) for `decompress`."""
    if FUZZ_CORPUS.exists():
        shutil.rmtree(FUZZ_CORPUS)
    targets = {
        ("proto", "traces"): "scan_traces", ("proto", "metrics"): "scan_metrics",
        ("proto", "logs"): "scan_logs", ("json", "traces"): "json_traces",
        ("json", "metrics"): "json_metrics", ("json", "logs"): "json_logs",
    }
    selector = {"gzip": 0, "zstd": 1, "deflate": 2}
    for c in CASES:
        data = FILES.get(c["file"])
        if data is None or len(data) > 64 * 1024:
            continue
        fmt = "json" if c["content_type"] == JSON else "proto"
        enc = c["content_encoding"]
        if enc in selector:
            d = FUZZ_CORPUS / "decompress"
            d.mkdir(parents=True, exist_ok=True)
            (d / c["name"]).write_bytes(bytes([selector[enc]]) + data)
            continue
        if enc is not None:
            continue
        d = FUZZ_CORPUS / targets[(fmt, c["signal"])]
        d.mkdir(parents=True, exist_ok=True)
        (d / c["name"]).write_bytes(data)


def main() -> None:
    build()
    for old in HERE.iterdir():
        if old.name not in ("generate.py", "README.md") and old.is_file():
            old.unlink()
    for name, data in FILES.items():
        (HERE / name).write_bytes(data)
    manifest = {
        "about": "Malformed OTLP requests; generated by generate.py, replayed by "
                 "tests/tests/malformed.rs. Receivers: `default` (max_request_body_size 20 MiB,"
                 " gRPC max_recv_msg_size_mib 4) and `small` (1 MiB / 1 MiB).",
        "cases": CASES,
    }
    (HERE / "cases.json").write_text(json.dumps(manifest, indent=1) + "\n")
    write_fuzz_seeds()
    total = sum(len(d) for d in FILES.values())
    print(f"{len(CASES)} cases, {len(FILES)} files, {total} bytes")


if __name__ == "__main__":
    main()
