"""The `filter` processor with the real OpenTelemetry Python SDK: spans matching an OTTL
condition are dropped before `batch`, the rest arrive intact, and the drop is counted (not
lost data): `otelcol_processor_filter_spans_filtered` and the pipeline's per-processor counts."""

from __future__ import annotations

from ternlib import configs, prom
from ternlib.ports import free_port
from ternlib.sdk import emit_traces


def test_filter_drops_matching_spans_and_counts_them(tern, sink):
    http = free_port()
    cfg = configs.build(
        receivers={"otlp": configs.otlp_receiver(http=http)},
        processors={"filter/health": {"error_mode": "ignore",
                                      "traces": {"span": ['name == "child-op"',
                                                          'attributes["never"] == true']}},
                    "batch": {"timeout": "50ms"}},
        exporters={"otlphttp": configs.otlphttp_to(sink)},
        pipelines={"traces": configs.pipeline(["otlp"], ["otlphttp"], ["filter/health", "batch"])},
    )
    t = tern(cfg)
    sent = emit_traces("http", http)
    assert all(r.name == "SUCCESS" for r in sent.export_results), sent.export_results
    sink.wait_for_spans(2)
    names = sorted(sp.name for _, _, sp in sink.spans())
    assert names == ["linked-op", "parent-op"], names
    text, s = prom.wait_value(t.metrics_url, "otelcol_processor_filter_spans_filtered", 1,
                              processor="filter/health")
    assert prom.value(s, "otelcol_processor_incoming_items", processor="filter/health",
                      otel_signal="traces") == 3, text
    assert prom.value(s, "otelcol_processor_outgoing_items", processor="filter/health",
                      otel_signal="traces") == 2, text
    assert prom.value(s, "otelcol_processor_dropped_spans", processor="filter/health") == 1, text


def test_filter_config_errors_are_reported_with_their_path(tmp_path):
    from ternlib.process import run_tern, write_config
    cfg = configs.build(
        receivers={"otlp": configs.otlp_receiver(http=free_port())},
        processors={"filter": {"traces": {"span": ['nme == "x"', 'name == ']}}},
        exporters={"debug": {}},
        pipelines={"traces": configs.pipeline(["otlp"], ["debug"], ["filter"])},
    )
    p = write_config(tmp_path / "c.yaml", cfg)
    r = run_tern(["validate", "--config", str(p)], timeout=20)
    assert r.returncode == 1, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if "processors::filter::traces::span" in ln]
    assert len(lines) == 2, r.stderr
    assert "column" in lines[0] and "nme" in lines[0], r.stderr
