"""The Lambda extension (`tern-extension`) in an emulated Lambda environment.

The function is a real Python handler using the real OpenTelemetry SDK, run by the real AWS
runtime interface client (awslambdaric) against the emulator's Runtime API; the extension is the
real binary, installed as `extensions/tern`. Between invocations the emulator freezes the
sandbox (SIGSTOP), as Lambda does, so anything not exported before `/next` cannot leave.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from ternlib import configs
from ternlib.lambda_emulator import LambdaEmulator
from ternlib.ports import free_port
from ternlib.process import TERN_BIN

EXTENSION_BIN = os.path.abspath(os.environ.get(
    "TERN_EXTENSION_BIN", os.path.join(os.path.dirname(TERN_BIN), "tern-extension")))
FUNCTION_SRC = Path(__file__).parent / "fixtures" / "lambda_function"


@pytest.fixture(scope="module", autouse=True)
def _extension_binary_present():
    if not (os.path.isfile(EXTENSION_BIN) and os.access(EXTENSION_BIN, os.X_OK)):
        pytest.fail(f"tern-extension binary not found at {EXTENSION_BIN} "
                    f"(set TERN_EXTENSION_BIN or run `cargo build --workspace`)", pytrace=False)


def ext_config(sink, port: int, *, telemetryapi: bool = False, lambda_section: dict | None = None,
               storage: str | None = None, flush_timeout: str = "2s") -> dict:
    exporter = configs.otlphttp_to(sink)
    extensions = None
    service_extensions = None
    if storage:
        exporter["sending_queue"] = {"storage": "file_storage"}
        extensions = {"file_storage": {"directory": storage}}
        service_extensions = ["file_storage"]
    receivers = {"otlp": configs.otlp_receiver(http=port)}
    # A batcher whose timer never fires in a test: only the extension's flushes send.
    processors = {"batch": {"timeout": "10m"}}
    pipelines = {"traces": configs.pipeline(["otlp"], ["otlphttp"], ["batch"])}
    if telemetryapi:
        receivers["telemetryapi"] = {}
        pipelines = {s: configs.pipeline(["otlp", "telemetryapi"], ["otlphttp"], ["batch"])
                     for s in ("traces", "metrics", "logs")}
    cfg = configs.build(receivers=receivers, exporters={"otlphttp": exporter}, pipelines=pipelines,
                        processors=processors, extensions=extensions,
                        service_extensions=service_extensions)
    cfg.setdefault("service", {})["telemetry"] = {"metrics": {"level": "none"},
                                                  "logs": {"level": "debug"}}
    cfg["lambda"] = {"flush_mode": "end", "flush_timeout": flush_timeout, **(lambda_section or {})}
    return cfg


@pytest.fixture
def lambda_env(tmp_path):
    """Factory: lambda_env(config, env=..., **emulator options) -> (emulator, otlp port),
    with the extension installed and init done."""
    made: list[LambdaEmulator] = []

    def make(config=None, *, port: int | None = None, env: dict | None = None,
             init: bool = True, **opts) -> LambdaEmulator:
        task = tmp_path / "task"
        if not task.exists():
            shutil.copytree(FUNCTION_SRC, task)
        port = port or free_port()
        full_env = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
                    "OTEL_BSP_SCHEDULE_DELAY": "60000", "OTEL_TRACES_EXPORTER": "otlp",
                    "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none",
                    "RUST_BACKTRACE": "1", **(env or {})}
        if config is not None:
            path = task / "collector.yaml"
            path.write_text(config if isinstance(config, str) else yaml.safe_dump(config))
            full_env.setdefault("OPENTELEMETRY_COLLECTOR_CONFIG_URI", str(path))
        emu = LambdaEmulator(tmp_path / f"env{len(made)}", function_dir=task,
                             handler="handler.handler", env=full_env, **opts)
        (tmp_path / f"env{len(made)}").mkdir(exist_ok=True)
        emu.add_extension(EXTENSION_BIN, "tern")
        emu.otlp_port = port
        made.append(emu)
        if init:
            emu.init()
        return emu

    yield make
    for e in made:
        e.close()


def spans_of(sink, n: int):
    out = []
    for r in sink.requests("traces"):
        for rs in r.message.resource_spans:
            for ss in rs.scope_spans:
                for sp in ss.spans:
                    for a in sp.attributes:
                        if a.key == "test.invocation" and a.value.int_value == n:
                            out.append((r.at, sp))
    return out


def attrs(kvs) -> dict:
    out = {}
    for kv in kvs:
        v = kv.value
        kind = v.WhichOneof("value")
        if kind == "array_value":
            out[kv.key] = [x.string_value for x in v.array_value.values]
        else:
            out[kv.key] = getattr(v, kind) if kind else None
    return out


def test_registration_and_subscription_follow_the_api(make_sink, lambda_env):
    sink = make_sink()
    port = free_port()
    emu = lambda_env(ext_config(sink, port, telemetryapi=True), port=port)
    reg = emu.calls_of("tern", "register")
    assert len(reg) == 1 and reg[0].detail == ["INVOKE", "SHUTDOWN"]
    subs = emu.calls_of("tern", "subscribe")
    assert len(subs) == 1
    req = subs[0].detail
    assert req["schemaVersion"] == "2022-12-13"
    assert sorted(req["types"]) == ["extension", "function", "platform"]
    assert req["buffering"]["timeoutMs"] == 25
    assert req["destination"]["URI"].startswith("http://sandbox.localdomain:")
    # Registration comes first: no other call of the extension happens before it.
    first = [c.what for c in emu.calls if c.who == "tern"][:2]
    assert first == ["exec", "register"], first
    assert not emu.init_errors


def test_after_call_every_span_reaches_the_backend_before_next(make_sink, lambda_env):
    sink = make_sink()
    port = free_port()
    emu = lambda_env(ext_config(sink, port), port=port)
    for n in range(6):
        res = emu.invoke({"n": n, "spans": 3})
        assert res.status == "success", emu.describe()
        assert res.response["n"] == n
        got = spans_of(sink, n)
        assert len(got) == 3, f"invocation {n}: {len(got)} spans at the backend when frozen"
        next_at = res.ext_next["tern"]
        late = [at - next_at for at, _ in got if at > next_at]
        assert not late, f"invocation {n}: spans arrived {late}s after /next"
    assert sink.count("traces") == 18


def test_periodic_mode_loses_nothing_across_50_invocations_and_shutdown(make_sink, lambda_env):
    sink = make_sink()
    port = free_port()
    emu = lambda_env(ext_config(sink, port, lambda_section={
        "flush_mode": "periodic", "periodic_interval": "1h", "backup_interval": "1h"}), port=port)
    for n in range(50):
        res = emu.invoke({"n": n, "spans": 2})
        assert res.status == "success", emu.describe()
    # Periodic mode does not flush at each invocation: the data is held while frozen.
    held = 100 - sink.count("traces")
    assert held > 0, "periodic mode flushed every invocation"
    out = emu.shutdown(deadline_s=3.0)
    assert out["exits"]["tern"] == 0, emu.describe()
    assert out["exit_at"]["tern"] <= out["deadline"]
    assert sink.count("traces") == 100
    for n in range(50):
        assert len(spans_of(sink, n)) == 2, f"invocation {n}"


def test_adaptive_mode_switches_to_periodic_for_frequent_invocations(make_sink, lambda_env):
    sink = make_sink()
    port = free_port()
    emu = lambda_env(ext_config(sink, port, lambda_section={
        "flush_mode": "adaptive", "warmup_invocations": 5, "periodic_interval": "1h",
        "backup_interval": "1h"}), port=port)
    for n in range(12):
        res = emu.invoke({"n": n, "spans": 1})
        assert res.status == "success"
        if n < 5:
            # Still warming up: end-of-invocation flush.
            assert len(spans_of(sink, n)) == 1, f"invocation {n} not flushed before freeze"
    assert sink.count("traces") < 12, "never switched to periodic"
    out = emu.shutdown(deadline_s=3.0)
    assert out["exits"]["tern"] == 0
    assert sink.count("traces") == 12
    log = emu.extensions["tern"].log.read_text()
    assert "Flush strategy changed" in log


def test_shutdown_drains_within_deadline_ms(make_sink, lambda_env):
    sink = make_sink()
    sink.delay = 0.4  # a slow backend
    port = free_port()
    emu = lambda_env(ext_config(sink, port, lambda_section={
        "flush_mode": "periodic", "periodic_interval": "1h", "backup_interval": "1h"}), port=port)
    for n in range(5):
        emu.invoke({"n": n, "spans": 2})
    out = emu.shutdown(deadline_s=2.0)
    assert out["exits"]["tern"] == 0, emu.describe()
    assert out["exit_at"]["tern"] <= out["deadline"], "exited after deadlineMs"
    assert sink.count("traces") == 10


def test_shutdown_with_a_dead_backend_exits_before_the_deadline_and_counts_the_loss(
        make_sink, lambda_env):
    sink = make_sink()
    port = free_port()
    emu = lambda_env(ext_config(sink, port, flush_timeout="300ms", lambda_section={
        "flush_mode": "periodic", "periodic_interval": "1h", "backup_interval": "1h"}), port=port)
    sink.fail_always(503)
    for n in range(3):
        emu.invoke({"n": n, "spans": 2})
    out = emu.shutdown(deadline_s=1.5)
    assert out["exits"]["tern"] == 0, emu.describe()
    assert out["exit_at"]["tern"] <= out["deadline"], "exited after deadlineMs"
    log = emu.extensions["tern"].log.read_text()
    assert "unsent_items=6" in log, log[-3000:]


def test_missing_runtime_done_does_not_hang_beyond_the_fallback(make_sink, lambda_env):
    sink = make_sink()
    port = free_port()
    emu = lambda_env(ext_config(sink, port, lambda_section={"runtime_done_timeout": "1s"}),
                     port=port, drop_types=("platform.runtimeDone",))
    for n in range(2):
        res = emu.invoke({"n": n, "spans": 2})
        assert res.status == "success"
        waited = res.ext_next["tern"] - res.runtime_done
        assert 0.8 <= waited <= 3.0, f"waited {waited:.2f}s for the fallback"
        assert len(spans_of(sink, n)) == 2, "fallback did not flush"
    assert "No platform.runtimeDone" in emu.extensions["tern"].log.read_text()


def test_broken_config_is_reported_through_init_error(lambda_env):
    emu = lambda_env("receivers:\n  otlp: {}\nexporters:\n  nope: {}\nservice:\n  pipelines:\n"
                     "    traces:\n      receivers: [otlp]\n      exporters: [nope]\n",
                     init=False)
    emu.init(expect_failure=True)
    emu.wait(lambda: emu.extensions["tern"].proc.poll() is not None, 10, "the extension to exit")
    assert len(emu.init_errors) == 1, emu.describe()
    name, kind, body = emu.init_errors[0]
    assert name == "tern" and kind == "Extension.ConfigInvalid"
    assert "nope" in body["errorMessage"] and body["errorType"] == "Extension.ConfigInvalid"
    assert emu.extensions["tern"].proc.returncode == 1


def test_unreadable_config_file_and_busy_port_are_init_errors(make_sink, lambda_env, tmp_path):
    emu = lambda_env(None, env={"OPENTELEMETRY_COLLECTOR_CONFIG_URI": str(tmp_path / "none.yaml")},
                     init=False)
    emu.init(expect_failure=True)
    emu.wait(lambda: emu.extensions["tern"].proc.poll() is not None, 10, "exit")
    assert emu.init_errors and "cannot read config file" in emu.init_errors[0][2]["errorMessage"]

    import socket
    sink = make_sink()
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        port = busy.getsockname()[1]
        emu2 = lambda_env(ext_config(sink, port), port=port, init=False)
        emu2.init(expect_failure=True)
        emu2.wait(lambda: emu2.extensions["tern"].proc.poll() is not None, 10, "exit")
        assert emu2.init_errors, emu2.describe()
        assert emu2.init_errors[0][1] == "Extension.StartFailed"
        assert str(port) in emu2.init_errors[0][2]["errorMessage"]
    finally:
        busy.close()


def test_config_over_http(make_sink, lambda_env):
    sink = make_sink()
    port = free_port()
    text = yaml.safe_dump(ext_config(sink, port)).encode()
    fetched: list[float] = []

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):  # noqa: N802
            fetched.append(time.monotonic())
            self.send_response(200)
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}/collector.yaml"
        emu = lambda_env(None, port=port, env={"OPENTELEMETRY_COLLECTOR_CONFIG_URI": url})
        res = emu.invoke({"n": 1, "spans": 2})
        assert len(spans_of(sink, 1)) == 2 and res.status == "success"
        # No network call before registering.
        assert len(fetched) == 1 and emu.calls_of("tern", "register")[0].at < fetched[0]
    finally:
        srv.shutdown()


def test_a_failing_backend_fails_open_and_loses_nothing(make_sink, lambda_env):
    sink = make_sink()
    port = free_port()
    emu = lambda_env(ext_config(sink, port, flush_timeout="500ms"), port=port)
    sink.fail_always(503)
    for n in range(3):
        res = emu.invoke({"n": n, "spans": 2})
        assert res.status == "success" and res.response["n"] == n
        held = res.ext_next["tern"] - res.runtime_done
        assert held < 2.0, f"the extension held the function {held:.2f}s"
    assert "Flush timed out" in emu.extensions["tern"].log.read_text()
    sink.succeed()
    emu.invoke({"n": 3, "spans": 2})
    out = emu.shutdown(deadline_s=5.0)
    assert out["exits"]["tern"] == 0
    for n in range(4):
        assert len(spans_of(sink, n)) == 2, f"invocation {n} lost"


def test_crash_and_restart_sends_the_persisted_queue_first(make_sink, lambda_env, tmp_path):
    sink = make_sink()
    port = free_port()
    storage = tmp_path / "tmp" / "tern"
    storage.mkdir(parents=True)
    emu = lambda_env(ext_config(sink, port, storage=str(storage), flush_timeout="300ms"),
                     port=port)
    sink.fail_always(503)
    emu.invoke({"n": 0, "spans": 3})
    assert sink.count("traces") == 0
    emu.crash_extension()
    sink.succeed()
    restarted = time.monotonic()
    emu.reset()  # Lambda re-inits the environment; /tmp survives
    res = emu.invoke({"n": 1, "spans": 3})
    old = spans_of(sink, 0)
    new = spans_of(sink, 1)
    assert len(old) == 3, f"persisted spans not replayed: {len(old)}\n{emu.describe()}"
    assert len(new) == 3
    assert all(at >= restarted for at, _ in old)
    assert max(at for at, _ in old) <= min(at for at, _ in new), "replay did not go first"
    order = [a.value.int_value for r in sink.requests("traces") for rs in r.message.resource_spans
             for ss in rs.scope_spans for sp in ss.spans for a in sp.attributes
             if a.key == "test.invocation"]
    assert order == [0, 0, 0, 1, 1, 1], f"persisted data not sent first: {order}"
    assert all(at <= res.ext_next["tern"] for at, _ in old + new)


def test_telemetry_records_become_logs_metrics_and_spans(make_sink, lambda_env):
    sink = make_sink()
    port = free_port()
    emu = lambda_env(ext_config(sink, port, telemetryapi=True), port=port)
    r0 = emu.invoke({"n": 0, "spans": 1})
    r1 = emu.invoke({"n": 1, "spans": 1})
    out = emu.shutdown(deadline_s=3.0)
    assert out["exits"]["tern"] == 0, emu.describe()

    # Logs: the function's printed lines, with the invocation ID.
    logs = [(res, lr) for res, _, lr in sink.log_records()
            if lr.body.string_value.startswith("handled invocation")]
    by_body = {lr.body.string_value: lr for _, lr in logs}
    assert set(by_body) == {"handled invocation 0", "handled invocation 1"}, by_body.keys()
    assert attrs(by_body["handled invocation 0"].attributes)["faas.invocation_id"] == r0.request_id
    assert attrs(by_body["handled invocation 1"].attributes)["faas.invocation_id"] == r1.request_id
    assert by_body["handled invocation 0"].time_unix_nano > 0
    resource = attrs(logs[0][0].attributes)
    assert resource["cloud.provider"] == "aws" and resource["cloud.platform"] == "aws_lambda"
    assert resource["cloud.region"] == "us-east-1"
    assert resource["faas.name"] == emu.function_name
    assert resource["faas.version"] == "$LATEST"
    assert resource["faas.instance"] == emu.log_stream
    assert resource["faas.max_memory"] == 128 * 1048576
    assert resource["aws.log.group.names"] == [emu.log_group]

    # Spans: one invocation span per invocation, in the X-Ray trace; an init span on the cold one.
    platform = [sp for _, sc, sp in sink.spans() if sc.name == "tern/telemetryapi"]
    inv = [sp for sp in platform if sp.name == emu.function_name]
    assert len(inv) == 2
    by_id = {attrs(sp.attributes)["faas.invocation_id"]: sp for sp in inv}
    assert attrs(by_id[r0.request_id].attributes)["faas.coldstart"] is True
    assert attrs(by_id[r1.request_id].attributes)["faas.coldstart"] is False
    init = [sp for sp in platform if sp.name == f"init {emu.function_name}"]
    assert len(init) == 1 and init[0].trace_id == by_id[r0.request_id].trace_id
    assert init[0].parent_span_id == by_id[r0.request_id].span_id
    starts = [c.detail for c in emu.calls_of("telemetry", "post")]
    assert starts, "no telemetry delivered"

    # Metrics from platform.report (the second report arrives at the SHUTDOWN thaw).
    points = sink.metric_points()
    names = {m.name for _, _, m, _ in points}
    for want in ("faas.invoke_duration", "aws.lambda.billed_duration", "faas.mem_usage",
                 "faas.init_duration", "faas.coldstarts", "faas.errors", "faas.timeouts",
                 "faas.invocations"):
        assert want in names, f"{want} missing from {names}"
    invocations = sum(p.as_int for _, _, m, p in points if m.name == "faas.invocations")
    coldstarts = sum(p.as_int for _, _, m, p in points if m.name == "faas.coldstarts")
    assert invocations == 2 and coldstarts == 1
    mem = [p for _, _, m, p in points if m.name == "faas.mem_usage"]
    assert mem[0].sum == 42 * 1048576


def test_managed_instances_register_shutdown_only_and_flush_periodically(make_sink, lambda_env):
    sink = make_sink()
    port = free_port()
    emu = lambda_env(ext_config(sink, port, lambda_section={"periodic_interval": "300ms"}),
                     port=port, freeze=False,
                     env={"AWS_LAMBDA_INITIALIZATION_TYPE": "lambda-managed-instances"})
    assert emu.calls_of("tern", "register")[0].detail == ["SHUTDOWN"]
    emu.invoke({"n": 0, "spans": 2})
    sink.wait_until(lambda: len(spans_of(sink, 0)) == 2, 5, "the periodic flush")
    out = emu.shutdown(deadline_s=2.0)
    assert out["exits"]["tern"] == 0


def test_refused_telemetry_subscription_falls_back_to_periodic_flushing(make_sink, lambda_env):
    sink = make_sink()
    port = free_port()
    emu = lambda_env(ext_config(sink, port, lambda_section={"periodic_interval": "1h"}),
                     port=port, telemetry=False)
    assert emu.calls_of("tern", "subscribe-refused")
    for n in range(3):
        res = emu.invoke({"n": n, "spans": 2})
        assert res.status == "success"
        # No runtimeDone will ever come: the extension must not wait for it.
        assert res.ext_next["tern"] - res.started < 1.0
    out = emu.shutdown(deadline_s=2.0)
    assert out["exits"]["tern"] == 0
    assert sink.count("traces") == 6
    assert "subscription failed" in emu.extensions["tern"].log.read_text()


@pytest.fixture
def moto_s3():
    """A real moto server (S3 API) behind the SigV4-verifying proxy (botocore checks every
    signature the extension makes)."""
    import boto3

    from ternlib.ports import wait_listening
    from ternlib.sigv4verify import ACCESS_KEY, REGION, SECRET_KEY, SigV4VerifyingProxy

    port = free_port()
    moto_bin = Path(sys.executable).parent / "moto_server"
    assert moto_bin.is_file(), f"moto_server not installed next to {sys.executable}"
    proc = subprocess.Popen([str(moto_bin), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_listening("127.0.0.1", port, 20), "moto server did not start"
        url = f"http://127.0.0.1:{port}"
        s3 = boto3.client("s3", endpoint_url=url, region_name=REGION,
                          aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
        with SigV4VerifyingProxy(upstream=url, service="s3", region=REGION,
                                 access_key=ACCESS_KEY, secret_key=SECRET_KEY) as proxy:
            yield s3, proxy
    finally:
        proc.terminate()
        proc.wait(10)


def test_config_from_s3_with_the_function_credentials(make_sink, lambda_env, moto_s3, tmp_path):
    from ternlib.sigv4verify import ACCESS_KEY, SECRET_KEY

    s3, proxy = moto_s3
    sink = make_sink()
    port = free_port()
    s3.create_bucket(Bucket="tern-config")
    s3.put_object(Bucket="tern-config", Key="lambda/collector.yaml",
                  Body=yaml.safe_dump(ext_config(sink, port)).encode())
    env = {"OPENTELEMETRY_COLLECTOR_CONFIG_URI": "s3://tern-config/lambda/collector.yaml",
           "AWS_ENDPOINT_URL_S3": proxy.url, "AWS_ACCESS_KEY_ID": ACCESS_KEY,
           "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_CONFIG_FILE": str(tmp_path / "none"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    emu = lambda_env(None, port=port, env=env)
    assert proxy.accepted == 1 and proxy.rejected == 0, proxy.requests
    method, path = proxy.requests[0].method, proxy.requests[0].path
    assert (method, path) == ("GET", "/tern-config/lambda/collector.yaml")
    res = emu.invoke({"n": 1, "spans": 2})
    assert res.status == "success" and len(spans_of(sink, 1)) == 2

    # A missing object is an init error naming the object.
    emu2 = lambda_env(None, port=free_port(), init=False, env={
        **env, "OPENTELEMETRY_COLLECTOR_CONFIG_URI": "s3://tern-config/missing.yaml"})
    emu2.init(expect_failure=True)
    emu2.wait(lambda: emu2.extensions["tern"].proc.poll() is not None, 10, "exit")
    msg = emu2.init_errors[0][2]["errorMessage"]
    assert "missing.yaml" in msg and "404" in msg, msg
