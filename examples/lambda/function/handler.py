"""Example function for the Tern layer: the OpenTelemetry SDK exports OTLP/HTTP to the
extension on localhost:4318; spans go to X-Ray and metrics to Amazon Managed Prometheus.
Requirements (requirements.txt): opentelemetry-sdk, opentelemetry-exporter-otlp-proto-http."""

from opentelemetry import metrics, trace
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

tracer_provider = TracerProvider()
tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
trace.set_tracer_provider(tracer_provider)
meter_provider = MeterProvider(
    metric_readers=[PeriodicExportingMetricReader(OTLPMetricExporter(), export_interval_millis=60000)])
metrics.set_meter_provider(meter_provider)

tracer = trace.get_tracer("tern-example")
orders = metrics.get_meter("tern-example").create_counter("orders", unit="{order}")


def handler(event, context):
    with tracer.start_as_current_span("handle-order") as span:
        span.set_attribute("faas.invocation_id", context.aws_request_id)
        orders.add(1, {"kind": str(event.get("kind", "default"))})
    # Hand everything to the extension before returning; the extension exports it before the
    # sandbox freezes.
    tracer_provider.force_flush()
    meter_provider.force_flush()
    return {"statusCode": 200, "body": "ok"}
