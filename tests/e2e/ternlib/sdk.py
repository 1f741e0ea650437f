"""Drive tern with the real OpenTelemetry Python SDK and describe what it sent.

Each `emit_*` function builds its own provider (never the global one), sends a fixed,
known data set through an OTLP exporter (gRPC or HTTP/protobuf) to tern, flushes, shuts the
provider down and returns what a test needs to check the other end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from opentelemetry import trace as trace_api
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

RESOURCE_ATTRS = {
    "service.name": "e2e-sdk",
    "deployment.environment": "e2e",
    "res.int": 7,
    "res.bool": True,
}

SPAN_ATTRS = {
    "attr.str": "hello",
    "attr.int": 42,
    "attr.neg": -9_007_199_254_740_993,  # beyond 2^53: must survive as an exact int64
    "attr.double": 3.25,
    "attr.bool": True,
    "attr.str_list": ["a", "b", "c"],
    "attr.int_list": [1, 2, 3],
    "attr.double_list": [0.5, 1.5],
    "attr.bool_list": [True, False],
}

TRACER_NAME, TRACER_VERSION = "e2e.tracer", "1.2.3"
METER_NAME, METER_VERSION = "e2e.meter", "4.5.6"
LOGGER_NAME, LOGGER_VERSION = "e2e.logger", "7.8.9"


def resource() -> Resource:
    return Resource.create(RESOURCE_ATTRS)


def _exporters(transport: str, port: int):
    if transport == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        ep = f"http://127.0.0.1:{port}"
        return (lambda: OTLPSpanExporter(endpoint=ep, insecure=True, timeout=10),
                lambda: OTLPMetricExporter(endpoint=ep, insecure=True, timeout=10),
                lambda: OTLPLogExporter(endpoint=ep, insecure=True, timeout=10))
    if transport == "http":
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        base = f"http://127.0.0.1:{port}"
        return (lambda: OTLPSpanExporter(endpoint=f"{base}/v1/traces", timeout=10),
                lambda: OTLPMetricExporter(endpoint=f"{base}/v1/metrics", timeout=10),
                lambda: OTLPLogExporter(endpoint=f"{base}/v1/logs", timeout=10))
    raise ValueError(transport)


class _RecordingSpanExporter:
    """Wraps an exporter to remember the SDK's own export results."""

    def __init__(self, inner):
        self.inner = inner
        self.results = []

    def export(self, batch):
        r = self.inner.export(batch)
        self.results.append(r)
        return r

    def shutdown(self):
        return self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000):
        return self.inner.force_flush(timeout_millis)


@dataclass
class SentTraces:
    trace_id: bytes
    linked_trace_id: bytes
    span_ids: dict[str, bytes]  # name -> span id
    export_results: list = field(default_factory=list)


def emit_traces(transport: str, port: int, *, batch: bool = True) -> SentTraces:
    span_exp, _, _ = _exporters(transport, port)
    exporter = _RecordingSpanExporter(span_exp())
    provider = TracerProvider(resource=resource())
    provider.add_span_processor(BatchSpanProcessor(exporter) if batch
                                else SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer(TRACER_NAME, TRACER_VERSION)
    ids = {}
    with tracer.start_as_current_span("linked-op", context=trace_api.set_span_in_context(
            trace_api.INVALID_SPAN)) as linked:
        pass
    link_ctx = linked.get_span_context()
    with tracer.start_as_current_span("parent-op", kind=SpanKind.SERVER,
                                      attributes=SPAN_ATTRS) as parent:
        parent.add_event("evt-1", {"evt.str": "x", "evt.int": 3, "evt.bool": False})
        with tracer.start_as_current_span("child-op", kind=SpanKind.CLIENT,
                                          links=[Link(link_ctx, {"link.attr": "l", "link.n": 5})]) as child:
            child.set_attribute("child.attr", "c")
            child.set_status(Status(StatusCode.ERROR, "boom"))
    for s in (linked, parent, child):
        ids[s.name] = s.get_span_context().span_id.to_bytes(8, "big")
    assert provider.force_flush(15000), "SDK could not flush spans"
    provider.shutdown()
    return SentTraces(trace_id=parent.get_span_context().trace_id.to_bytes(16, "big"),
                      linked_trace_id=link_ctx.trace_id.to_bytes(16, "big"),
                      span_ids=ids, export_results=exporter.results)


def emit_metrics(transport: str, port: int) -> MeterProvider:
    _, metric_exp, _ = _exporters(transport, port)
    reader = PeriodicExportingMetricReader(metric_exp(), export_interval_millis=math.inf)
    provider = MeterProvider(resource=resource(), metric_readers=[reader])
    meter = provider.get_meter(METER_NAME, METER_VERSION)
    counter = meter.create_counter("e2e.counter", unit="{req}", description="a counter")
    counter.add(5, {"route": "/a"})
    counter.add(3, {"route": "/a"})
    updown = meter.create_up_down_counter("e2e.updown", unit="{item}", description="an updown")
    updown.add(10, {"q": "x"})
    updown.add(-4, {"q": "x"})
    hist = meter.create_histogram("e2e.hist", unit="ms", description="a histogram")
    for v in (1, 5, 50):
        hist.record(v, {"op": "get"})
    gauge = meter.create_gauge("e2e.gauge", unit="Cel", description="a gauge")
    gauge.set(42.5, {"room": "lab"})
    # one collection -> one export of 4 points; shutdown is left to the caller's test so
    # that a second (identical cumulative) export does not happen before assertions.
    assert provider.force_flush(15000), "SDK could not flush metrics"
    return provider


def emit_logs(transport: str, port: int, *, batch: bool = True) -> dict:
    _, _, log_exp = _exporters(transport, port)
    provider = LoggerProvider(resource=resource())
    exp = log_exp()
    provider.add_log_record_processor(BatchLogRecordProcessor(exp) if batch
                                      else SimpleLogRecordProcessor(exp))
    logger = provider.get_logger(LOGGER_NAME, LOGGER_VERSION)
    tp = TracerProvider(resource=resource())  # no processor: only for ids in context
    tracer = tp.get_tracer("e2e.log-context")
    with tracer.start_as_current_span("log-parent") as span:
        logger.emit(severity_number=SeverityNumber.WARN, severity_text="WARN", body="hello log",
                    attributes={"log.str": "s", "log.int": 11, "log.double": 2.5,
                                "log.bool": True, "log.list": ["p", "q"]})
        sc = span.get_span_context()
    logger.emit(severity_number=SeverityNumber.INFO, severity_text="INFO",
                body={"k": "v", "n": 1, "nested": {"x": [1, 2]}}, attributes={"kind": "map"})
    logger.emit(severity_number=SeverityNumber.ERROR, severity_text="ERROR", body="with event",
                event_name="e2e.event", attributes={"kind": "event"})
    assert provider.force_flush(15000), "SDK could not flush logs"
    provider.shutdown()
    return {"trace_id": sc.trace_id.to_bytes(16, "big"), "span_id": sc.span_id.to_bytes(8, "big")}
