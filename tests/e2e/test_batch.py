"""batch processor: send_batch_size triggers a send at once, send_batch_max_size splits,
timeout flushes what is left, defaults (8192 / 200ms) coalesce small requests."""

from __future__ import annotations

import time

from ternlib import configs
from ternlib.otlp import post_proto, trace_request
from ternlib.ports import free_port


def start(tern, sink, batch):
    http = free_port()
    t = tern(configs.simple(sink, http=http, signals=("traces",), batch=batch))
    return t, f"http://127.0.0.1:{http}"


def sizes(sink) -> list[int]:
    return [sum(len(ss.spans) for rs in r.message.resource_spans for ss in rs.scope_spans)
            for r in sink.requests("traces")]


def test_send_batch_size_triggers_immediate_send_without_splitting(tern, sink):
    t, base = start(tern, sink, {"send_batch_size": 10, "timeout": "60s"})
    assert post_proto(base, trace_request(25)).status_code == 200
    sink.wait_for("traces", 25, timeout=5)
    assert sizes(sink) == [25], f"send_batch_max_size 0 must not split: {sizes(sink)}"
    # below the threshold data waits for the (60s) timer ...
    assert post_proto(base, trace_request(5)).status_code == 200
    time.sleep(1.0)
    assert sink.count("traces") == 25
    # ... and is flushed on shutdown
    assert t.terminate() == 0
    assert sink.count("traces") == 30


def test_send_batch_max_size_splits(tern, sink):
    t, base = start(tern, sink, {"send_batch_size": 10, "send_batch_max_size": 10, "timeout": "60s"})
    assert post_proto(base, trace_request(25)).status_code == 200
    sink.wait_for("traces", 20, timeout=5)
    assert sorted(sizes(sink)) == [10, 10], sizes(sink)
    assert t.terminate() == 0
    assert sorted(sizes(sink)) == [5, 10, 10], sizes(sink)


def test_timeout_flushes_partial_batch(tern, sink):
    _, base = start(tern, sink, {"send_batch_size": 1000, "timeout": "500ms"})
    started = time.monotonic()
    assert post_proto(base, trace_request(3)).status_code == 200
    sink.wait_for("traces", 3, timeout=5, settle=0)
    took = time.monotonic() - started
    assert 0.3 <= took < 3.0, f"flushed after {took:.2f}s with timeout 500ms"


def test_defaults_coalesce_small_requests(tern, sink):
    _, base = start(tern, sink, {})
    for i in range(10):
        assert post_proto(base, trace_request(1, prefix=f"c{i}")).status_code == 200
    sink.wait_for("traces", 10, timeout=5)
    assert len(sink.requests("traces")) <= 5, f"200ms batching should merge: {sizes(sink)}"


def test_batches_keep_resources_and_scopes_apart(tern, sink):
    _, base = start(tern, sink, {"timeout": "300ms"})
    assert post_proto(base, trace_request(2, service="svc-a", scope="scope-1")).status_code == 200
    assert post_proto(base, trace_request(3, service="svc-b", scope="scope-2")).status_code == 200
    spans = sink.wait_for_spans(5)
    seen = {}
    for res, scope, sp in spans:
        svc = next(kv.value.string_value for kv in res.attributes if kv.key == "service.name")
        seen.setdefault((svc, scope.name), 0)
        seen[(svc, scope.name)] += 1
    assert seen == {("svc-a", "scope-1"): 2, ("svc-b", "scope-2"): 3}, seen
