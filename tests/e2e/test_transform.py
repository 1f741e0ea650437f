"""The `transform` processor with the real OpenTelemetry Python SDK: spans go through
`filter` (drops one), `transform` (OTTL statements, flat and grouped) and `batch`, and arrive
at the sink with exactly the names and attributes the statements give them."""

from __future__ import annotations

from ternlib import configs
from ternlib.otlp import attrs
from ternlib.ports import free_port
from ternlib.sdk import SPAN_ATTRS, emit_traces


def test_transform_edits_spans_after_filter(tern, sink):
    http = free_port()
    cfg = configs.build(
        receivers={"otlp": configs.otlp_receiver(http=http)},
        processors={
            "filter": {"traces": {"span": ['name == "child-op"']}},
            "transform/e2e": {
                "error_mode": "ignore",
                "trace_statements": [
                    'set(span.attributes["env"], "e2e") where span.name == "parent-op"',
                    # `$$` is a literal `$` after config expansion: the replacement is `H${1}X`
                    'replace_pattern(span.attributes["attr.str"], "^h(el)", "H$${1}X")',
                    'delete_key(span.attributes, "attr.bool")',
                    # fails (no such index) on every span: ignored, the next ones still run
                    'set(span.attributes["x"], Split(span.name, "-")[5])',
                    'set(spanevent.attributes["seen"], span.name)',
                ],
            },
            "transform/groups": {
                "trace_statements": [
                    {"context": "span", "conditions": ['name == "linked-op"'],
                     "statements": ['set(name, "renamed-op")',
                                    'set(attributes["renamed"], "yes")']},
                    {"context": "resource",
                     "statements": ['set(attributes["deployment.environment"], "test")']},
                ],
            },
            "batch": {"timeout": "50ms"},
        },
        exporters={"otlphttp": configs.otlphttp_to(sink)},
        pipelines={"traces": configs.pipeline(
            ["otlp"], ["otlphttp"], ["filter", "transform/e2e", "transform/groups", "batch"])},
    )
    tern(cfg)
    sent = emit_traces("http", http)
    assert all(r.name == "SUCCESS" for r in sent.export_results), sent.export_results
    got = sink.wait_for_spans(2)
    by_name = {sp.name: (res, sp) for res, _, sp in got}
    assert sorted(by_name) == ["parent-op", "renamed-op"], sorted(by_name)

    res, parent = by_name["parent-op"]
    want = {k: v for k, v in SPAN_ATTRS.items() if k != "attr.bool"}
    want["attr.str"] = "HelXlo"
    want["env"] = "e2e"
    assert attrs(parent.attributes) == want
    assert [ev.name for ev in parent.events] == ["evt-1"]
    assert attrs(parent.events[0].attributes) == {"evt.str": "x", "evt.int": 3,
                                                 "evt.bool": False, "seen": "parent-op"}
    assert attrs(res.attributes)["deployment.environment"] == "test"

    _, linked = by_name["renamed-op"]
    assert attrs(linked.attributes) == {"renamed": "yes"}


def test_transform_config_errors_are_reported_with_their_path(tmp_path):
    from ternlib.process import run_tern, write_config
    cfg = configs.build(
        receivers={"otlp": configs.otlp_receiver(http=free_port())},
        processors={"transform": {"trace_statements": [
            'set(nme, "x")',
            {"context": "span", "statements": ['set(name, "a") where name == ']},
        ]}},
        exporters={"debug": {}},
        pipelines={"traces": configs.pipeline(["otlp"], ["debug"], ["transform"])},
    )
    p = write_config(tmp_path / "c.yaml", cfg)
    r = run_tern(["validate", "--config", str(p)], timeout=20)
    assert r.returncode == 1, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if "processors::transform::trace_statements" in ln]
    assert len(lines) == 2, r.stderr
    assert "trace_statements::0" in lines[0] and "column 5" in lines[0] and "nme" in lines[0], r.stderr
    assert "trace_statements::1::statements::0" in lines[1] and "column" in lines[1], r.stderr
