"""OTLP/gRPC receiver: message size limits, compression, empty requests, unknown methods."""

from __future__ import annotations

import grpc
import pytest

from ternlib import configs
from ternlib.otlp import grpc_channel, grpc_export, logs_request, metrics_request, trace_request
from ternlib.ports import free_port

MIB = 1024 * 1024


def start(tern, sink, **grpc_extra):
    port = free_port()
    tern(configs.simple(sink, grpc=port, grpc_extra=grpc_extra or None))
    return grpc_channel(f"127.0.0.1:{port}")


@pytest.mark.parametrize("signal,make,n", [
    ("traces", lambda: trace_request(3), 3),
    ("metrics", lambda: metrics_request(4), 4),
    ("logs", lambda: logs_request(2), 2),
])
def test_grpc_export_each_signal(tern, sink, signal, make, n):
    ch = start(tern, sink)
    resp = grpc_export(ch, make())
    assert not resp.HasField("partial_success") or resp.partial_success.ByteSize() == 0
    sink.wait_for(signal, n)


def test_oversize_message_with_limit_1mib_is_resource_exhausted(tern, sink):
    ch = start(tern, sink, max_recv_msg_size_mib=1)
    ok = trace_request(1, pad=MIB // 2)
    grpc_export(ch, ok)
    big = trace_request(1, pad=MIB + MIB // 2)
    with pytest.raises(grpc.RpcError) as ei:
        grpc_export(ch, big)
    assert ei.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, ei.value
    sink.wait_for("traces", 1)


def test_default_limit_is_4mib(tern, sink):
    ch = start(tern, sink)
    grpc_export(ch, trace_request(1, pad=3 * MIB))
    with pytest.raises(grpc.RpcError) as ei:
        grpc_export(ch, trace_request(1, pad=4 * MIB + MIB // 2))
    assert ei.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, ei.value
    sink.wait_for("traces", 1, timeout=20)


def test_gzip_compressed_request_accepted(tern, sink):
    ch = start(tern, sink)
    grpc_export(ch, trace_request(5, pad=1000), compression=grpc.Compression.Gzip)
    spans = sink.wait_for_spans(5)
    assert all(len(dict((kv.key, kv.value.string_value) for kv in sp.attributes)["pad"]) == 1000
               for _, _, sp in spans)


def test_empty_request_succeeds_and_forwards_nothing(tern, sink):
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
    ch = start(tern, sink)
    grpc_export(ch, trace_service_pb2.ExportTraceServiceRequest())
    grpc_export(ch, trace_request(1))
    sink.wait_for("traces", 1)
    assert len(sink.requests("traces")) == 1


def test_unknown_method_is_unimplemented(tern, sink):
    ch = start(tern, sink)
    call = ch.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Nope",
                          request_serializer=lambda b: b, response_deserializer=lambda b: b)
    with pytest.raises(grpc.RpcError) as ei:
        call(b"", timeout=5)
    assert ei.value.code() == grpc.StatusCode.UNIMPLEMENTED, ei.value


def test_undecodable_message_is_invalid_argument(tern, sink):
    ch = start(tern, sink)
    call = ch.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                          request_serializer=lambda b: b, response_deserializer=lambda b: b)
    with pytest.raises(grpc.RpcError) as ei:
        call(b"\x0a\x05abc", timeout=5)
    # grpc-go reports a request that fails to unmarshal as INTERNAL
    assert ei.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.INTERNAL), ei.value
    assert sink.count("traces") == 0


def _h2_open(port):
    """A raw HTTP/2 connection that sends the preface and an empty SETTINGS frame."""
    import socket
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
    return s


def _seconds_until_closed(s, limit):
    import time
    s.settimeout(0.2)
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        try:
            if s.recv(4096) == b"":
                return time.monotonic() - t0
        except TimeoutError:
            continue
        except OSError:
            return time.monotonic() - t0
    return None


def test_keepalive_max_connection_idle_closes_idle_connections(tern, sink):
    port = free_port()
    tern(configs.simple(sink, grpc=port, grpc_extra={
        "keepalive": {"server_parameters": {"max_connection_idle": "1s"},
                      "enforcement_policy": {"min_time": "5s"}}}))
    # A real client keeps working: its idle connection is closed, it reconnects.
    ch = grpc_channel(f"127.0.0.1:{port}")
    grpc_export(ch, trace_request(1))
    s = _h2_open(port)
    closed = _seconds_until_closed(s, 6)
    assert closed is not None and 0.8 <= closed < 4, closed
    import time
    time.sleep(1.5)
    grpc_export(ch, trace_request(1))
    sink.wait_for("traces", 2)


def test_idle_connections_stay_open_without_max_connection_idle(tern, sink):
    port = free_port()
    tern(configs.simple(sink, grpc=port))
    s = _h2_open(port)
    assert _seconds_until_closed(s, 3) is None
