"""`redaction` processor end to end: the real OpenTelemetry Python SDK -> tern (redaction)
-> sink. Span, data-point and log attributes and a map log body arrive with exactly the
documented deletions, masks and `redaction.*` summary attributes."""

from __future__ import annotations

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from ternlib import configs, sdk
from ternlib.otlp import attrs, from_any
from ternlib.ports import free_port
from ternlib.process import run_tern, write_config

REDACTION = {
    "allowed_keys": ["service.name", "note", "db.password", "card.int", "user.id",
                     "user", "email", "msg"],
    "blocked_key_patterns": ["(?i)password"],
    "blocked_values": [
        r"\b4[0-9]{12}(?:[0-9]{3})?\b",
        r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
        r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b",
    ],
    "redact_all_types": True,
    "summary": "debug",
}

RESOURCE = {"service.name": "e2e-redaction"}


def start(tern, sink) -> int:
    http = free_port()
    cfg = configs.build(
        receivers={"otlp": configs.otlp_receiver(http=http)},
        processors={"redaction": REDACTION},
        exporters={"otlphttp": configs.otlphttp_to(sink)},
        pipelines={s: configs.pipeline(["otlp"], ["otlphttp"], ["redaction"])
                   for s in ("traces", "metrics", "logs")},
    )
    tern(cfg)
    return http


def test_span_attributes_are_deleted_masked_and_summarised(tern, sink):
    port = start(tern, sink)
    span_exp, _, _ = sdk._exporters("http", port)
    provider = TracerProvider(resource=Resource(RESOURCE))
    provider.add_span_processor(SimpleSpanProcessor(span_exp()))
    tracer = provider.get_tracer("e2e.redaction")
    with tracer.start_as_current_span("pay", attributes={
        "note": "paid with 4111111111111111 by jane@example.com",
        "db.password": "hunter2",
        "card.int": 4111111111111111,
        "user.id": "u1",
        "ssn": "123-45-6789",
    }) as span:
        span.add_event("key-used", {"user.id": "AKIAIOSFODNN7EXAMPLE", "extra": 1})
    provider.shutdown()

    [(res, _, sp)] = sink.wait_for_spans(1)
    assert attrs(res.attributes) == RESOURCE
    assert attrs(sp.attributes) == {
        "note": "paid with **** by ****",
        "db.password": "****",
        "card.int": "****",
        "user.id": "u1",
        "redaction.redacted.keys": "ssn",
        "redaction.redacted.count": 1,
        "redaction.masked.keys": "card.int,db.password,note",
        "redaction.masked.count": 3,
    }
    assert attrs(sp.events[0].attributes) == {
        "user.id": "****",
        "redaction.redacted.keys": "extra",
        "redaction.redacted.count": 1,
        "redaction.masked.keys": "user.id",
        "redaction.masked.count": 1,
    }


def test_data_point_attributes_are_redacted(tern, sink):
    port = start(tern, sink)
    _, metric_exp, _ = sdk._exporters("http", port)
    provider = MeterProvider(resource=Resource(RESOURCE),
                             metric_readers=[PeriodicExportingMetricReader(
                                 metric_exp(), export_interval_millis=3_600_000)])
    counter = provider.get_meter("e2e.redaction").create_counter("logins")
    counter.add(2, {"user.id": "bob@example.com", "tenant": "t1"})
    assert provider.force_flush(15000)
    try:
        [(res, _, metric, point)] = sink.wait_for_points(1)
        assert metric.name == "logins"
        assert point.as_int == 2
        assert attrs(res.attributes) == RESOURCE
        assert attrs(point.attributes) == {
            "user.id": "****",
            "redaction.redacted.keys": "tenant",
            "redaction.redacted.count": 1,
            "redaction.masked.keys": "user.id",
            "redaction.masked.count": 1,
        }
    finally:
        provider.shutdown()


def test_log_attributes_and_map_body_are_redacted(tern, sink):
    port = start(tern, sink)
    _, _, log_exp = sdk._exporters("http", port)
    provider = LoggerProvider(resource=Resource(RESOURCE))
    provider.add_log_record_processor(SimpleLogRecordProcessor(log_exp()))
    logger = provider.get_logger("e2e.redaction")
    logger.emit(body={"user": {"email": "ann@example.com", "ssn": "x"}, "msg": "ok"},
                attributes={"user.id": "u2", "session": "s"})
    logger.emit(body="token AKIAIOSFODNN7EXAMPLE leaked", attributes={"user.id": "u3"})
    provider.shutdown()

    records = [lr for _, _, lr in sink.wait_for_logs(2)]
    by_user = {attrs(lr.attributes)["user.id"]: lr for lr in records}
    first, second = by_user["u2"], by_user["u3"]
    assert from_any(first.body) == {"user": {"email": "****"}, "msg": "ok"}
    assert attrs(first.attributes) == {
        "user.id": "u2",
        "redaction.redacted.keys": "session",
        "redaction.redacted.count": 1,
        "redaction.body.redacted.keys": "user.ssn",
        "redaction.body.redacted.count": 1,
        "redaction.body.masked.keys": "user.email",
        "redaction.body.masked.count": 1,
    }
    assert from_any(second.body) == "token **** leaked"
    assert attrs(second.attributes) == {
        "user.id": "u3",
        "redaction.body.masked.keys": "body",
        "redaction.body.masked.count": 1,
    }


def test_validate_reports_every_redaction_problem(tmp_path):
    cfg = {
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": "127.0.0.1:4318"}}}},
        "processors": {"redaction": {"blocked_values": ["ok", "(unclosed"],
                                     "hash_function": "md5", "summary": "loud"}},
        "exporters": {"debug": {}},
        "service": {"pipelines": {"traces": {"receivers": ["otlp"], "processors": ["redaction"],
                                             "exporters": ["debug"]}}},
    }
    r = run_tern(["validate", "--config", str(write_config(tmp_path / "c.yaml", cfg))],
                 timeout=20)
    assert r.returncode == 1, r.stderr
    for needle in ("processors::redaction::blocked_values::1", "invalid regex",
                   "processors::redaction::hash_function", "hmac-sha256",
                   "processors::redaction::summary"):
        assert needle in r.stderr, r.stderr
