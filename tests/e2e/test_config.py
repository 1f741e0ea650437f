"""Config format: ${env:X}, ${env:X:-default}, ${X}, $$ escapes; several --config files
deep-merged (maps merge, lists replace)."""

from __future__ import annotations

import pytest

from ternlib import configs
from ternlib.otlp import grpc_channel, grpc_export, post_proto, trace_request
from ternlib.ports import free_port

EXPANSION_YAML = """
receivers:
  otlp:
    protocols:
      http:
        endpoint: ${env:TERN_E2E_HTTP_ENDPOINT}
      grpc:
        endpoint: 127.0.0.1:${TERN_E2E_GRPC_PORT}
exporters:
  otlphttp:
    endpoint: ${env:TERN_E2E_SURELY_UNSET_VAR:-http://127.0.0.1:SINKPORT}
    compression: ${env:TERN_E2E_COMPRESSION}
    headers:
      x-price: "$$5"
      x-literal: "a$${env:HOME}b"
      x-inline: "pre-${env:TERN_E2E_TOKEN}-post"
      x-set-empty: "[${env:TERN_E2E_EMPTY:-dflt}]"
      x-default-used: "${env:TERN_E2E_SURELY_UNSET_VAR:-fallback}"
extensions:
  health_check:
    endpoint: 127.0.0.1:${env:TERN_E2E_HEALTH_PORT}
service:
  extensions: [health_check]
  telemetry:
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: ${env:TERN_E2E_METRICS_PORT}
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlphttp]
"""


def test_env_expansion_defaults_and_escapes(tern, sink):
    http, grpc_port, health, metrics = free_port(), free_port(), free_port(), free_port()
    env = {
        "TERN_E2E_HTTP_ENDPOINT": f"127.0.0.1:{http}",
        "TERN_E2E_GRPC_PORT": str(grpc_port),
        "TERN_E2E_TOKEN": "tok123",
        "TERN_E2E_EMPTY": "",
        "TERN_E2E_COMPRESSION": "none",
        "TERN_E2E_HEALTH_PORT": str(health),
        "TERN_E2E_METRICS_PORT": str(metrics),
    }
    yaml_text = EXPANSION_YAML.replace("SINKPORT", str(sink.http_port))
    tern(yaml_text, env=env, wait_ports=[("127.0.0.1", http), ("127.0.0.1", grpc_port),
                                         ("127.0.0.1", metrics)],
         health_url=f"http://127.0.0.1:{health}/")
    assert post_proto(f"http://127.0.0.1:{http}", trace_request(1)).status_code == 200
    grpc_export(grpc_channel(f"127.0.0.1:{grpc_port}"), trace_request(1))
    sink.wait_for("traces", 2)
    h = sink.requests("traces")[0].headers
    assert h.get("x-price") == "$5", h
    assert h.get("x-literal") == "a${env:HOME}b", h
    assert h.get("x-inline") == "pre-tok123-post", h
    assert h.get("x-set-empty") == "[]", h
    assert h.get("x-default-used") == "fallback", h
    assert sink.requests("traces")[0].content_encoding in (None, ""), "compression: ${env:..} = none"


def test_two_config_files_are_deep_merged(tern, sink):
    a, b = free_port(), free_port()
    first = configs.build(
        receivers={"otlp": configs.otlp_receiver(http=a)},
        processors={"batch": {"timeout": "60s", "send_batch_size": 100000}},
        exporters={"otlphttp": {"endpoint": sink.http_endpoint,
                                "headers": {"x-from": "file1", "x-keep": "kept"}}},
        pipelines={"traces": configs.pipeline(["otlp"], ["otlphttp"], ["batch"])})
    second = {
        "receivers": {"otlp/second": configs.otlp_receiver(http=b)},
        "exporters": {"otlphttp": {"headers": {"x-from": "file2"}}},
        # lists replace: the receivers list now names both, and the processors list is
        # emptied, so the 60s batch from file 1 must be gone
        "service": {"pipelines": {"traces": {"receivers": ["otlp", "otlp/second"],
                                             "processors": []}}},
    }
    tern(first, second)
    assert post_proto(f"http://127.0.0.1:{a}", trace_request(1, prefix="from-a")).status_code == 200
    assert post_proto(f"http://127.0.0.1:{b}", trace_request(1, prefix="from-b")).status_code == 200
    spans = sink.wait_for_spans(2, timeout=10)
    assert sorted(sp.name for _, _, sp in spans) == ["from-a-0", "from-b-0"]
    for r in sink.requests("traces"):
        assert r.headers.get("x-from") == "file2", r.headers
        assert r.headers.get("x-keep") == "kept", r.headers


def test_later_file_overrides_scalar_values(tern, sink, make_sink):
    other = make_sink("other")
    http = free_port()
    first = configs.simple(sink, http=http, signals=("traces",))
    second = {"exporters": {"otlphttp": {"endpoint": other.http_endpoint}}}
    tern(first, second)
    assert post_proto(f"http://127.0.0.1:{http}", trace_request(3)).status_code == 200
    other.wait_for("traces", 3)
    assert sink.count("traces") == 0


@pytest.mark.parametrize("empty_body", ["null", "{}", ""])
def test_empty_component_body_means_defaults(tern, sink, empty_body):
    http = free_port()
    health = free_port()
    text = f"""
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{http}
processors:
  batch: {empty_body}
exporters:
  otlphttp:
    endpoint: {sink.http_endpoint}
extensions:
  health_check:
    endpoint: 127.0.0.1:{health}
service:
  extensions: [health_check]
  telemetry: {{metrics: {{level: none}}}}
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlphttp]
"""
    tern(text, wait_ports=[("127.0.0.1", http)], health_url=f"http://127.0.0.1:{health}/")
    assert post_proto(f"http://127.0.0.1:{http}", trace_request(2)).status_code == 200
    sink.wait_for("traces", 2)
