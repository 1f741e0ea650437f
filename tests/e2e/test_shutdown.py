"""SIGTERM: receivers stop, batches flush, queues drain, exit code 0 — nothing accepted
before the signal is lost while the backend is up."""

from __future__ import annotations

import time

import pytest

from ternlib import configs
from ternlib.otlp import grpc_channel, grpc_export, logs_request, metrics_request, post_proto, trace_request
from ternlib.ports import free_port, is_listening

LONG_BATCH = {"timeout": "60s", "send_batch_size": 100000}


@pytest.mark.parametrize("exporter", ["otlphttp", "otlp"])
def test_sigterm_flushes_data_held_in_batch_processor(tern, sink, exporter):
    http, grpc_port = free_port(), free_port()
    t = tern(configs.simple(sink, http=http, grpc=grpc_port, exporter=exporter, batch=LONG_BATCH))
    base = f"http://127.0.0.1:{http}"
    n_spans = 0
    for i in range(5):
        r = post_proto(base, trace_request(10, prefix=f"drain{i}"))
        assert r.status_code == 200, (r.status_code, r.text)
        n_spans += 10
    grpc_export(grpc_channel(f"127.0.0.1:{grpc_port}"), trace_request(7, prefix="drain-grpc"))
    n_spans += 7
    assert post_proto(base, metrics_request(6)).status_code == 200
    assert post_proto(base, logs_request(5)).status_code == 200
    time.sleep(0.5)
    assert sink.count("traces") == 0, "batch with a 60s timeout flushed early: test premise broken"

    started = time.monotonic()
    rc = t.terminate(timeout=20)
    took = time.monotonic() - started
    assert rc == 0, f"exit code {rc}\n{t.stderr()[-3000:]}"
    assert took < 15, f"shutdown took {took:.1f}s"
    # tern has exited: everything must already be at the sink
    assert sink.count("traces") == n_spans
    assert sink.count("metrics") == 6
    assert sink.count("logs") == 5
    names = sorted(sp.name for _, _, sp in sink.spans())
    assert names == sorted([f"drain{i}-{j}" for i in range(5) for j in range(10)]
                           + [f"drain-grpc-{j}" for j in range(7)])
    assert len(sink.spans()) == len({sp.span_id for _, _, sp in sink.spans()}), "duplicate spans"


def test_sigterm_drains_sending_queue_to_slow_backend(tern, sink):
    http = free_port()
    t = tern(configs.simple(sink, http=http, signals=("traces",), exporter_extra={
        "sending_queue": {"enabled": True, "num_consumers": 1, "queue_size": 100}}))
    sink.delay = 0.25  # each export takes a while: requests pile up in the queue
    base = f"http://127.0.0.1:{http}"
    for i in range(12):
        r = post_proto(base, trace_request(2, prefix=f"q{i}"))
        assert r.status_code == 200, (r.status_code, r.text)
    assert sink.count("traces") < 24, "backend was not slow enough to build a queue"
    rc = t.terminate(timeout=20)
    assert rc == 0, f"exit code {rc}\n{t.stderr()[-3000:]}"
    assert sink.count("traces") == 24


def test_sigterm_stops_receivers_and_exits_quickly_when_idle(tern, sink):
    http, grpc_port = free_port(), free_port()
    t = tern(configs.simple(sink, http=http, grpc=grpc_port))
    started = time.monotonic()
    rc = t.terminate(timeout=15)
    assert rc == 0, f"exit code {rc}\n{t.stderr()[-3000:]}"
    assert time.monotonic() - started < 5
    assert not is_listening("127.0.0.1", http) and not is_listening("127.0.0.1", grpc_port)


def test_sigterm_with_backend_down_still_exits(tern, make_sink):
    """Backend unreachable: shutdown is bounded (tern's --shutdown-timeout, here 3s via
    TERN_SHUTDOWN_TIMEOUT) and still exits 0; upstream interrupts retry waits at once."""
    sink = make_sink("down")
    http = free_port()
    cfg = configs.simple(sink, http=http, signals=("traces",), exporter_extra={
        "retry_on_failure": {"enabled": True, "initial_interval": "100ms",
                             "max_interval": "1s", "max_elapsed_time": "300s"}})
    sink.stop()  # nothing listens on its ports any more
    t = tern(cfg, env={"TERN_SHUTDOWN_TIMEOUT": "3s"})
    assert post_proto(f"http://127.0.0.1:{http}", trace_request(2)).status_code == 200
    time.sleep(0.3)
    started = time.monotonic()
    rc = t.terminate(timeout=40)
    took = time.monotonic() - started
    assert rc == 0, f"exit code {rc} after {took:.1f}s\n{t.stderr()[-3000:]}"
    assert took < 10, f"shutdown with the backend down took {took:.1f}s"
