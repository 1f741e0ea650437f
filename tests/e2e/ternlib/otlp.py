"""Build raw OTLP protobuf requests and convert OTLP values back to Python."""

from __future__ import annotations

import gzip
import os
import time
from typing import Any

import grpc
import requests
import zstandard
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

# ---- values ---------------------------------------------------------------------------


def any_value(v: Any) -> common_pb2.AnyValue:
    if isinstance(v, bool):
        return common_pb2.AnyValue(bool_value=v)
    if isinstance(v, int):
        return common_pb2.AnyValue(int_value=v)
    if isinstance(v, float):
        return common_pb2.AnyValue(double_value=v)
    if isinstance(v, str):
        return common_pb2.AnyValue(string_value=v)
    if isinstance(v, bytes):
        return common_pb2.AnyValue(bytes_value=v)
    if isinstance(v, (list, tuple)):
        return common_pb2.AnyValue(array_value=common_pb2.ArrayValue(values=[any_value(x) for x in v]))
    if isinstance(v, dict):
        return common_pb2.AnyValue(kvlist_value=common_pb2.KeyValueList(values=kvs(v)))
    raise TypeError(f"unsupported attribute value {v!r}")


def kvs(d: dict[str, Any]) -> list[common_pb2.KeyValue]:
    return [common_pb2.KeyValue(key=k, value=any_value(v)) for k, v in d.items()]


def from_any(av: common_pb2.AnyValue) -> Any:
    kind = av.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [from_any(x) for x in av.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: from_any(kv.value) for kv in av.kvlist_value.values}
    return getattr(av, kind)


def attrs(repeated_kv) -> dict[str, Any]:
    return {kv.key: from_any(kv.value) for kv in repeated_kv}


# ---- request builders -----------------------------------------------------------------


def new_trace_id() -> bytes:
    return os.urandom(16)


def new_span_id() -> bytes:
    return os.urandom(8)


def now_ns() -> int:
    return time.time_ns()


def resource(service: str = "e2e-raw", **extra: Any) -> resource_pb2.Resource:
    return resource_pb2.Resource(attributes=kvs({"service.name": service, **extra}))


def trace_request(n_spans: int, *, prefix: str = "span", service: str = "e2e-raw",
                  scope: str = "e2e.raw", pad: int = 0,
                  attributes: dict | None = None) -> trace_service_pb2.ExportTraceServiceRequest:
    """One resource, one scope, n spans of one fresh trace. `pad` adds a string attribute
    of that many bytes to each span (to make big messages)."""
    tid = new_trace_id()
    t0 = now_ns()
    spans = []
    for i in range(n_spans):
        a = {"i": i, **(attributes or {})}
        if pad:
            a["pad"] = "x" * pad
        spans.append(trace_pb2.Span(trace_id=tid, span_id=new_span_id(), name=f"{prefix}-{i}",
                                    kind=trace_pb2.Span.SPAN_KIND_INTERNAL,
                                    start_time_unix_nano=t0 + i, end_time_unix_nano=t0 + i + 1000,
                                    attributes=kvs(a)))
    return trace_service_pb2.ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
        resource=resource(service),
        scope_spans=[trace_pb2.ScopeSpans(scope=common_pb2.InstrumentationScope(name=scope),
                                          spans=spans)])])


def metrics_request(n_points: int, *, name: str = "e2e.gauge", service: str = "e2e-raw",
                    scope: str = "e2e.raw") -> metrics_service_pb2.ExportMetricsServiceRequest:
    """One gauge metric with n data points (distinguished by attribute `i`)."""
    t = now_ns()
    points = [metrics_pb2.NumberDataPoint(time_unix_nano=t, as_int=i, attributes=kvs({"i": i}))
              for i in range(n_points)]
    metric = metrics_pb2.Metric(name=name, unit="1", gauge=metrics_pb2.Gauge(data_points=points))
    return metrics_service_pb2.ExportMetricsServiceRequest(resource_metrics=[
        metrics_pb2.ResourceMetrics(resource=resource(service), scope_metrics=[
            metrics_pb2.ScopeMetrics(scope=common_pb2.InstrumentationScope(name=scope),
                                     metrics=[metric])])])


def logs_request(n_records: int, *, prefix: str = "log", service: str = "e2e-raw",
                 scope: str = "e2e.raw") -> logs_service_pb2.ExportLogsServiceRequest:
    t = now_ns()
    recs = [logs_pb2.LogRecord(time_unix_nano=t + i, observed_time_unix_nano=t + i,
                               severity_number=logs_pb2.SEVERITY_NUMBER_INFO, severity_text="INFO",
                               body=any_value(f"{prefix}-{i}"), attributes=kvs({"i": i}))
            for i in range(n_records)]
    return logs_service_pb2.ExportLogsServiceRequest(resource_logs=[logs_pb2.ResourceLogs(
        resource=resource(service),
        scope_logs=[logs_pb2.ScopeLogs(scope=common_pb2.InstrumentationScope(name=scope),
                                       log_records=recs)])])


SIGNAL_OF = {
    trace_service_pb2.ExportTraceServiceRequest: "traces",
    metrics_service_pb2.ExportMetricsServiceRequest: "metrics",
    logs_service_pb2.ExportLogsServiceRequest: "logs",
}

# ---- sending --------------------------------------------------------------------------


def compress(encoding: str | None, body: bytes) -> bytes:
    if not encoding:
        return body
    if encoding == "gzip":
        return gzip.compress(body)
    if encoding == "zstd":
        return zstandard.ZstdCompressor().compress(body)
    raise ValueError(encoding)


def post(base_url: str, path: str, body: bytes, *, content_type: str = PROTOBUF,
         encoding: str | None = None, headers: dict | None = None, method: str = "POST",
         timeout: float = 10.0) -> requests.Response:
    h = {"Content-Type": content_type} if content_type is not None else {}
    if encoding:
        h["Content-Encoding"] = encoding
    h.update(headers or {})
    return requests.request(method, base_url.rstrip("/") + path, data=body, headers=h,
                            timeout=timeout)


def post_proto(base_url: str, message: Any, *, encoding: str | None = None,
               timeout: float = 10.0) -> requests.Response:
    """POST an Export*ServiceRequest as protobuf to /v1/<signal>."""
    signal = SIGNAL_OF[type(message)]
    return post(base_url, f"/v1/{signal}", compress(encoding, message.SerializeToString()),
                encoding=encoding, timeout=timeout)


def grpc_channel(target: str, *, max_send: int = 64 * 1024 * 1024) -> grpc.Channel:
    return grpc.insecure_channel(target, options=[
        ("grpc.max_send_message_length", max_send),
        ("grpc.max_receive_message_length", max_send),
        ("grpc.enable_http_proxy", 0),
    ])


def grpc_export(channel: grpc.Channel, message: Any, *, timeout: float = 10.0,
                compression: grpc.Compression | None = None) -> Any:
    signal = SIGNAL_OF[type(message)]
    stub = {"traces": trace_service_pb2_grpc.TraceServiceStub,
            "metrics": metrics_service_pb2_grpc.MetricsServiceStub,
            "logs": logs_service_pb2_grpc.LogsServiceStub}[signal](channel)
    return stub.Export(message, timeout=timeout, compression=compression)
