"""A full exporter queue pushes back: OTLP/HTTP answers 503 with Retry-After and a
google.rpc.Status UNAVAILABLE body, OTLP/gRPC answers UNAVAILABLE; everything that was
accepted is delivered once the backend recovers, nothing that was refused is."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import status_pb2

from ternlib import configs, prom
from ternlib.otlp import PROTOBUF, grpc_channel, grpc_export, post_proto, trace_request
from ternlib.ports import free_port

SPANS_PER_REQUEST = 3
# tern merges queued requests into one queue slot, so it takes more than queue_size+2
# requests to fill it; the bound keeps the loop short either way.
MAX_REQUESTS = 300


def tiny_queue_config(sink, *, http=None, grpc_port=None):
    """No batch processor (it would swallow errors); one consumer, a queue of one request,
    no retries, long timeout: with the sink holding requests the queue fills at once."""
    return configs.simple(sink, http=http, grpc=grpc_port, signals=("traces",), exporter_extra={
        "sending_queue": {"enabled": True, "num_consumers": 1, "queue_size": 1},
        "retry_on_failure": {"enabled": False},
        "timeout": "30s",
    })


def test_http_503_with_retry_after_when_queue_full(tern, sink):
    http = free_port()
    t = tern(tiny_queue_config(sink, http=http))
    base = f"http://127.0.0.1:{http}"
    sink.hold()
    statuses, refused = [], None
    try:
        for i in range(MAX_REQUESTS):
            r = post_proto(base, trace_request(SPANS_PER_REQUEST, prefix=f"req{i}"))
            statuses.append(r.status_code)
            if r.status_code != 200:
                refused = r
                break
        assert refused is not None, f"queue never filled; statuses {statuses}"
        assert refused.status_code == 503, (statuses, refused.text)
        assert refused.headers.get("Content-Type", "").split(";")[0] == PROTOBUF, refused.headers
        st = status_pb2.Status()
        st.ParseFromString(refused.content)
        assert st.code == 14, st  # UNAVAILABLE
        ra = refused.headers.get("Retry-After")
        assert ra is not None and ra.strip().isdigit(), f"Retry-After header: {ra!r}"

        # while the backend is stuck, the queue gauges show it
        _, samples = prom.scrape(t.metrics_url)
        cap = prom.value(samples, "otelcol_exporter_queue_capacity", exporter="otlphttp",
                         data_type="traces")
        size = prom.value(samples, "otelcol_exporter_queue_size", exporter="otlphttp",
                          data_type="traces")
        assert cap == 1, f"queue_capacity {cap}"
        assert size is not None and size >= 1, f"queue_size {size}"
    finally:
        sink.release()

    accepted = statuses.count(200)
    assert accepted >= 1, statuses
    spans = sink.wait_for_spans(accepted * SPANS_PER_REQUEST, timeout=20)
    refused_prefix = f"req{len(statuses) - 1}-"
    assert not [sp for _, _, sp in spans if sp.name.startswith(refused_prefix)]

    text, samples = prom.wait_value(t.metrics_url, "otelcol_exporter_queue_size", 0,
                                    exporter="otlphttp", data_type="traces")
    assert prom.value(samples, "otelcol_exporter_queue_size", exporter="otlphttp",
                      data_type="traces") == 0
    text, samples = prom.wait_value(t.metrics_url, "otelcol_receiver_refused_spans",
                                    SPANS_PER_REQUEST, receiver="otlp", transport="http")
    assert prom.value(samples, "otelcol_receiver_refused_spans", receiver="otlp",
                      transport="http") == SPANS_PER_REQUEST, text
    assert prom.value(samples, "otelcol_receiver_accepted_spans", receiver="otlp",
                      transport="http") == accepted * SPANS_PER_REQUEST, text


def test_grpc_unavailable_when_queue_full(tern, sink):
    port = free_port()
    tern(tiny_queue_config(sink, grpc_port=port))
    ch = grpc_channel(f"127.0.0.1:{port}")
    sink.hold()
    accepted, code = 0, None
    try:
        for i in range(MAX_REQUESTS):
            try:
                grpc_export(ch, trace_request(SPANS_PER_REQUEST, prefix=f"req{i}"))
                accepted += 1
            except grpc.RpcError as e:
                code = e.code()
                break
        assert code is not None, "queue never filled"
        assert code == grpc.StatusCode.UNAVAILABLE, code
    finally:
        sink.release()
    assert accepted >= 1
    sink.wait_for_spans(accepted * SPANS_PER_REQUEST, timeout=20)


@pytest.mark.parametrize("exporter", ["otlphttp", "otlp"])
def test_backend_errors_are_not_visible_to_client_with_default_queue(tern, sink, exporter):
    """With the default sending queue the receiver answers 200 even while the backend
    fails; retries then deliver everything exactly once."""
    http = free_port()
    tern(configs.simple(sink, http=http, exporter=exporter, signals=("traces",)))
    sink.fail_next(2, http_status=503, grpc_code=grpc.StatusCode.UNAVAILABLE)
    r = post_proto(f"http://127.0.0.1:{http}", trace_request(4))
    assert r.status_code == 200, (r.status_code, r.text)
    sink.wait_for_spans(4, timeout=20)
    assert len(sink.rejected) == 2


def test_queue_size_counts_requests_like_upstream(tern, sink):
    """Upstream's default sizer is `requests`: with queue_size 1, one consumer and a stuck
    backend, one request is in flight, one waits in the queue, and the next is refused."""
    http = free_port()
    tern(tiny_queue_config(sink, http=http))
    base = f"http://127.0.0.1:{http}"
    sink.hold()
    try:
        assert post_proto(base, trace_request(SPANS_PER_REQUEST, prefix="inflight")).status_code == 200
        sink.wait_until(lambda: sink.http_requests >= 1, 10, "the first request to be in flight")
        statuses = [post_proto(base, trace_request(SPANS_PER_REQUEST, prefix=f"more{i}")).status_code
                    for i in range(5)]
    finally:
        sink.release()
    assert statuses[0] == 200, statuses
    assert 503 in statuses[1:3], (f"with queue_size: 1 (sizer requests) the third request should be "
                                  f"refused; statuses after the in-flight one: {statuses}")


def test_block_on_overflow_waits_for_room_instead_of_refusing(tern, sink):
    """`block_on_overflow: true`: a sender that finds the queue full waits (up to 5 s) and is
    answered 200 once the backend drains; with the default it is refused within ~50 ms."""
    import threading
    import time

    http = free_port()
    cfg = tiny_queue_config(sink, http=http)
    cfg["exporters"]["otlphttp"]["sending_queue"]["block_on_overflow"] = True
    tern(cfg)
    base = f"http://127.0.0.1:{http}"
    sink.hold()
    try:
        # Fill: one request in flight, one queued; the next one has to wait.
        sent = 0
        for i in range(2):
            assert post_proto(base, trace_request(1, prefix=f"fill{i}")).status_code == 200
            sent += 1
            time.sleep(0.2)
        threading.Timer(1.5, sink.release).start()
        t0 = time.monotonic()
        r = post_proto(base, trace_request(1, prefix="blocked"))
        waited = time.monotonic() - t0
    finally:
        sink.release()
    assert r.status_code == 200, (r.status_code, r.text)
    assert 1.0 <= waited < 5.0, waited
    spans = sink.wait_for_spans(sent + 1, timeout=20)
    assert any(sp.name.startswith("blocked") for _, _, sp in spans)


def test_block_on_overflow_still_refuses_after_its_bound(tern, sink):
    import time

    http = free_port()
    cfg = tiny_queue_config(sink, http=http)
    cfg["exporters"]["otlphttp"]["sending_queue"]["block_on_overflow"] = True
    tern(cfg)
    base = f"http://127.0.0.1:{http}"
    sink.hold()
    try:
        for i in range(2):
            assert post_proto(base, trace_request(1, prefix=f"fill{i}")).status_code == 200
            time.sleep(0.2)
        t0 = time.monotonic()
        r = post_proto(base, trace_request(1, prefix="refused"))
        waited = time.monotonic() - t0
    finally:
        sink.release()
    assert r.status_code == 503 and r.headers.get("Retry-After"), r.status_code
    assert 4.5 <= waited < 8, waited
