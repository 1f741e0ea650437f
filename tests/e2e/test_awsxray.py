"""The `awsxray` exporter end to end: the real OpenTelemetry Python SDK sends spans to tern,
tern exports them to moto's X-Ray API (the real implementation, started here), and boto3 reads
them back. SigV4 is checked independently by a botocore-verifying proxy; the daemon (UDP) mode
by a UDP listener; faults with an unreachable moto and a scripted fake endpoint.
"""

from __future__ import annotations

import time

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from ternlib import configs, otlp
from ternlib.faults import metric_sum, wait_metric
from ternlib.ports import free_port
from ternlib.process import run_tern, write_config
from ternlib.sigv4verify import SigV4VerifyingProxy
from ternlib.xray import (DAEMON_HEADER, FakeXray, ForwardProxy, MotoServer, UdpDaemon, aws_env,
                          clean_env_without_aws, summary_ids, wait_documents, xray_trace_id)

FAST_RETRY = {"enabled": True, "initial_interval": "200ms", "max_interval": "1s",
              "max_elapsed_time": "60s"}


@pytest.fixture(scope="session")
def moto(tmp_path_factory):
    server = MotoServer(log_dir=tmp_path_factory.mktemp("moto")).start()
    yield server
    server.stop()


def xray_config(http_port: int, **exporter: object) -> dict:
    exp = {"region": "us-east-1", "max_retries": 1, "request_timeout_seconds": 5,
           "retry_on_failure": FAST_RETRY}
    exp.update(exporter)
    return configs.build(
        receivers={"otlp": configs.otlp_receiver(http=http_port)},
        processors={"batch": {"timeout": "200ms"}},
        exporters={"awsxray": exp},
        pipelines={"traces": configs.pipeline(["otlp"], ["awsxray"], ["batch"])},
    )


def emit_shop_trace(port: int) -> dict[str, int | bytes]:
    """A server span, an HTTP client child answered 503 and a child recording a Python
    exception, through the real SDK. Returns trace id and span ids."""
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    provider.add_span_processor(SimpleSpanProcessor(
        OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces", timeout=10)))
    tracer = provider.get_tracer("e2e.xray")
    with tracer.start_as_current_span("GET /orders", kind=SpanKind.SERVER, attributes={
            "http.request.method": "GET", "url.scheme": "http", "server.address": "shop.local",
            "url.path": "/orders", "http.response.status_code": 200,
            "app.order_id": "o-1", "app.note": "kept as metadata"}) as server:
        with tracer.start_as_current_span("charge", kind=SpanKind.CLIENT, attributes={
                "http.request.method": "POST", "url.full": "http://pay.local/charge",
                "http.response.status_code": 503}) as client:
            client.set_status(Status(StatusCode.ERROR))
        with tracer.start_as_current_span("validate") as validate:
            try:
                raise ValueError("bad order")
            except ValueError as e:
                validate.record_exception(e)
                validate.set_status(Status(StatusCode.ERROR, "bad order"))
    assert provider.force_flush(15000)
    provider.shutdown()
    hexid = lambda s: format(s.get_span_context().span_id, "016x")  # noqa: E731
    return {"trace_id": server.get_span_context().trace_id.to_bytes(16, "big"),
            "server": hexid(server), "client": hexid(client), "validate": hexid(validate)}


def test_sdk_spans_land_in_moto_as_segments(tern, moto, tmp_path):
    port = free_port()
    t = tern(xray_config(port, endpoint=moto.url, indexed_attributes=["app.order_id"]),
             env=aws_env(tmp_path))
    started = time.time()
    sent = emit_shop_trace(port)
    xray = moto.client()
    docs = wait_documents(xray, sent["trace_id"], 3)
    by_id = {d["id"]: d for d in docs}
    assert set(by_id) == {sent["server"], sent["client"], sent["validate"]}
    tid = xray_trace_id(sent["trace_id"])
    assert all(d["trace_id"] == tid for d in docs)

    server = by_id[sent["server"]]
    assert server["name"] == "shop"
    assert "type" not in server and "parent_id" not in server
    assert server["http"]["request"] == {"method": "GET", "url": "http://shop.local/orders"}
    assert server["http"]["response"]["status"] == 200
    assert (server["fault"], server["error"], server["throttle"]) == (False, False, False)
    assert server["annotations"] == {"app.order_id": "o-1"}
    assert server["metadata"]["default"]["app.note"] == "kept as metadata"
    assert server["metadata"]["default"]["otel.resource.service.name"] == "shop"
    assert server["aws"]["xray"]["sdk"] == "opentelemetry for python"
    assert server["start_time"] <= server["end_time"]

    client = by_id[sent["client"]]
    assert client["type"] == "subsegment" and client["parent_id"] == sent["server"]
    assert client["name"] == "charge" and client["namespace"] == "remote"
    assert client["http"]["request"] == {"method": "POST", "url": "http://pay.local/charge"}
    assert client["http"]["response"]["status"] == 503
    assert (client["fault"], client["error"]) == (True, False)
    assert "metadata" not in client, "resource attributes only on segments"

    validate = by_id[sent["validate"]]
    assert validate["parent_id"] == sent["server"] and validate["fault"] is True
    exc = validate["cause"]["exceptions"][0]
    assert exc["type"] == "ValueError" and exc["message"] == "bad order"
    assert any(f["path"].endswith("test_awsxray.py") and f["label"] == "emit_shop_trace"
               for f in exc["stack"]), exc["stack"]

    assert tid in summary_ids(xray, started - 600, time.time() + 600)
    assert wait_metric(t.metrics_url, "otelcol_exporter_sent_spans", lambda v: v >= 3,
                       exporter="awsxray") == 3
    assert metric_sum(t.metrics_url, "otelcol_exporter_send_failed_spans",
                      exporter="awsxray") == 0


def test_sigv4_signature_verified_independently(tern, moto, tmp_path):
    port = free_port()
    with SigV4VerifyingProxy(upstream=moto.url, service="xray") as proxy:
        tern(xray_config(port, endpoint=proxy.url), env=aws_env(tmp_path))
        req = otlp.trace_request(4, prefix="signed")
        trace_id = req.resource_spans[0].scope_spans[0].spans[0].trace_id
        assert otlp.post_proto(f"http://127.0.0.1:{port}", req).status_code == 200
        docs = wait_documents(moto.client(), trace_id, 4)
        assert sorted(d["name"] for d in docs) == [f"signed-{i}" for i in range(4)]
        assert proxy.accepted >= 1 and proxy.rejected == 0, [r.verdict for r in proxy.requests]
        rec = next(r for r in proxy.requests if r.verdict == "ok")
        assert rec.method == "POST" and rec.path == "/TraceSegments"
        auth = {k.lower(): v for k, v in rec.headers.items()}.get("authorization", "")
        assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"), rec.headers
        assert "/us-east-1/xray/aws4_request" in auth
        # The same signed request with one byte of the body changed must be refused.
        tampered = rec.body.replace(b"signed-0", b"signed-X")
        assert tampered != rec.body
        status, body = proxy.replay(rec.method, rec.path, rec.headers, tampered)
        assert status == 403, body
        # And the untouched replay still passes (the check is about the body, not replays).
        status, _ = proxy.replay(rec.method, rec.path, rec.headers, rec.body)
        assert status == 200


def test_proxy_address_relays_api_calls(tern, moto, tmp_path):
    port = free_port()
    with ForwardProxy() as proxy:
        tern(xray_config(port, endpoint=moto.url, proxy_address=proxy.url), env=aws_env(tmp_path))
        req = otlp.trace_request(2, prefix="proxied")
        trace_id = req.resource_spans[0].scope_spans[0].spans[0].trace_id
        assert otlp.post_proto(f"http://127.0.0.1:{port}", req).status_code == 200
        assert len(wait_documents(moto.client(), trace_id, 2)) == 2
        assert proxy.relayed and all(p == f"{moto.url}/TraceSegments" for p in proxy.relayed)


def test_daemon_mode_sends_one_datagram_per_document(tern, tmp_path):
    port = free_port()
    daemon = UdpDaemon()
    try:
        env = clean_env_without_aws()
        env["AWS_XRAY_DAEMON_ADDRESS"] = daemon.address
        cfg = xray_config(port, transport="udp")
        del cfg["exporters"]["awsxray"]["region"]
        t = tern(cfg, env=env)
        req = otlp.trace_request(3, prefix="udp")
        trace_id = req.resource_spans[0].scope_spans[0].spans[0].trace_id
        assert otlp.post_proto(f"http://127.0.0.1:{port}", req).status_code == 200
        got = daemon.receive(3)
        assert len(got) == 3, got
        import json
        names = set()
        for dgram in got:
            assert dgram.startswith(DAEMON_HEADER), dgram[:60]
            doc = json.loads(dgram[len(DAEMON_HEADER):])
            assert doc["trace_id"] == xray_trace_id(trace_id)
            names.add(doc["name"])
        assert names == {"udp-0", "udp-1", "udp-2"}
        assert wait_metric(t.metrics_url, "otelcol_exporter_sent_spans", lambda v: v >= 3,
                           exporter="awsxray") == 3
    finally:
        daemon.close()


def test_moto_unreachable_then_reachable_delivers_everything(tern, tmp_path):
    port = free_port()
    late = MotoServer(log_dir=tmp_path)  # port reserved, nothing listening yet
    t = tern(xray_config(port, endpoint=late.url), env=aws_env(tmp_path))
    reqs = [otlp.trace_request(5, prefix=f"late{i}") for i in range(3)]
    for r in reqs:
        assert otlp.post_proto(f"http://127.0.0.1:{port}", r).status_code == 200
    time.sleep(1.5)
    assert metric_sum(t.metrics_url, "otelcol_exporter_sent_spans", exporter="awsxray") == 0
    late.start()
    try:
        client = late.client()
        for r in reqs:
            tid = r.resource_spans[0].scope_spans[0].spans[0].trace_id
            assert len(wait_documents(client, tid, 5, timeout=30)) == 5
        assert wait_metric(t.metrics_url, "otelcol_exporter_sent_spans", lambda v: v >= 15,
                           exporter="awsxray") == 15
        assert metric_sum(t.metrics_url, "otelcol_exporter_send_failed_spans",
                          exporter="awsxray") == 0
    finally:
        late.stop()


def test_persistent_queue_survives_kill9_before_xray_is_reachable(tern, tmp_path):
    """Spans acknowledged while X-Ray is down are on disk; after kill -9 and a restart they
    reach X-Ray (the exporter sits behind the core's persistent sending queue)."""
    port = free_port()
    late = MotoServer(log_dir=tmp_path)
    cfg = xray_config(port, endpoint=late.url,
                      sending_queue={"enabled": True, "storage": "file_storage"})
    cfg["extensions"] = {"file_storage": {"directory": str(tmp_path / "queue"), "fsync": True}}
    cfg["service"]["extensions"] = ["file_storage"]
    t = tern(cfg, env=aws_env(tmp_path))
    reqs = [otlp.trace_request(3, prefix=f"disk{i}") for i in range(3)]
    for r in reqs:
        assert otlp.post_proto(f"http://127.0.0.1:{port}", r).status_code == 200
    assert t.sigkill() == -9
    late.start()
    try:
        args: list[str] = []
        for p in t.config_paths:
            args += ["--config", str(p)]
        tern(args=args, env=aws_env(tmp_path), wait_ports=[("127.0.0.1", port)],
             health_url=t.health_url)
        client = late.client()
        for r in reqs:
            tid = r.resource_spans[0].scope_spans[0].spans[0].trace_id
            docs = wait_documents(client, tid, 3, timeout=30)
            assert len({d["id"] for d in docs}) == 3
    finally:
        late.stop()


def test_throttling_429_is_retried(tern, tmp_path):
    def answer(i, docs):
        if i == 0:
            return 429, {"__type": "ThrottledException", "message": "Rate exceeded"}
        return 200, {"UnprocessedTraceSegments": []}

    port = free_port()
    with FakeXray(answer) as fake:
        t = tern(xray_config(port, endpoint=fake.url, max_retries=1), env=aws_env(tmp_path))
        assert otlp.post_proto(f"http://127.0.0.1:{port}",
                               otlp.trace_request(7, prefix="thr")).status_code == 200
        assert wait_metric(t.metrics_url, "otelcol_exporter_sent_spans", lambda v: v >= 7,
                           exporter="awsxray", timeout=20) == 7
        assert len(fake.calls) == 2, [len(c) for c in fake.calls]
        assert [d["name"] for d in fake.calls[0]] == [d["name"] for d in fake.calls[1]]
        assert fake.paths == ["/TraceSegments", "/TraceSegments"]
        assert metric_sum(t.metrics_url, "otelcol_exporter_send_failed_spans",
                          exporter="awsxray") == 0


def test_unprocessed_segments_retried_once_then_counted_failed(tern, tmp_path):
    def answer(i, docs):
        # Everything but the first document is always reported unprocessed.
        return 200, {"UnprocessedTraceSegments": [
            {"Id": d["id"], "ErrorCode": "InternalFailure", "Message": "try later"}
            for d in docs if d["name"] != "unp-0"]}

    port = free_port()
    with FakeXray(answer) as fake:
        t = tern(xray_config(port, endpoint=fake.url), env=aws_env(tmp_path))
        assert otlp.post_proto(f"http://127.0.0.1:{port}",
                               otlp.trace_request(4, prefix="unp")).status_code == 200
        failed = wait_metric(t.metrics_url, "otelcol_exporter_send_failed_spans",
                             lambda v: v >= 3, exporter="awsxray", timeout=20)
        assert failed == 3
        assert metric_sum(t.metrics_url, "otelcol_exporter_sent_spans", exporter="awsxray") == 1
        time.sleep(1.0)
        # The original call plus exactly one retry of the three unprocessed documents.
        assert [sorted(d["name"] for d in c) for c in fake.calls] == [
            ["unp-0", "unp-1", "unp-2", "unp-3"], ["unp-1", "unp-2", "unp-3"]]
        assert "unprocessed trace segments" in t.stderr()


def test_missing_region_in_local_mode_fails_at_start(tmp_path):
    port = free_port()
    cfg = xray_config(port, local_mode=True)
    del cfg["exporters"]["awsxray"]["region"]
    path = write_config(tmp_path / "c.yaml", cfg)
    env = clean_env_without_aws()
    r = run_tern(["--config", str(path)], env=env, timeout=20)
    assert r.returncode != 0
    assert "no AWS region" in r.stderr, r.stderr[-2000:]


def test_validate_reports_bad_awsxray_keys(tmp_path):
    cfg = xray_config(free_port(), transport="tcp", num_workers=0, no_verify_ssl=True)
    path = write_config(tmp_path / "c.yaml", cfg)
    r = run_tern(["validate", "--config", str(path)])
    assert r.returncode != 0
    out = r.stdout + r.stderr
    for key in ("exporters::awsxray::transport", "exporters::awsxray::num_workers",
                "exporters::awsxray::no_verify_ssl"):
        assert key in out, out
