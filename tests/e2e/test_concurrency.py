"""Many concurrent clients over both transports: nothing lost, nothing duplicated, and the
self-metrics counters match exactly."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ternlib import configs, prom
from ternlib.otlp import grpc_channel, grpc_export, post_proto, trace_request
from ternlib.ports import free_port

THREADS, REQUESTS, SPANS = 4, 25, 10


def test_concurrent_clients_exact_delivery_and_counters(tern, sink):
    http, grpc_port = free_port(), free_port()
    t = tern(configs.simple(sink, http=http, grpc=grpc_port, batch={}))
    base = f"http://127.0.0.1:{http}"

    def http_client(k):
        for i in range(REQUESTS):
            r = post_proto(base, trace_request(SPANS, prefix=f"h{k}-{i}"))
            assert r.status_code == 200, (r.status_code, r.text)

    def grpc_client(k):
        ch = grpc_channel(f"127.0.0.1:{grpc_port}")
        for i in range(REQUESTS):
            grpc_export(ch, trace_request(SPANS, prefix=f"g{k}-{i}"))
        ch.close()

    with ThreadPoolExecutor(THREADS * 2) as pool:
        futs = [pool.submit(http_client, k) for k in range(THREADS)]
        futs += [pool.submit(grpc_client, k) for k in range(THREADS)]
        for f in futs:
            f.result(timeout=60)

    per_transport = THREADS * REQUESTS * SPANS
    spans = sink.wait_for_spans(2 * per_transport, timeout=30)
    assert len({sp.span_id for _, _, sp in spans}) == 2 * per_transport, "duplicated spans"
    url = t.metrics_url
    text, s = prom.wait_value(url, "otelcol_exporter_sent_spans", 2 * per_transport, exporter="otlphttp")
    assert prom.value(s, "otelcol_exporter_sent_spans", exporter="otlphttp") == 2 * per_transport, text
    assert prom.value(s, "otelcol_receiver_accepted_spans", receiver="otlp", transport="http") == per_transport
    assert prom.value(s, "otelcol_receiver_accepted_spans", receiver="otlp", transport="grpc") == per_transport
