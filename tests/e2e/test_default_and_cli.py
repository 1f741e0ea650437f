"""`tern` with no arguments (embedded default config), `tern healthcheck`,
`tern --version`, and the health_check extension's answers."""

from __future__ import annotations

import datetime as dt
import re
import socket

import pytest
import requests

from ternlib import configs, prom
from ternlib.otlp import post_proto, trace_request
from ternlib.ports import free_port, is_listening
from ternlib.process import run_tern

DEFAULT_PORTS = (4317, 4318, 13133, 8888)
GO_DURATION = re.compile(r"^(\d+h)?(\d+m)?(\d+(\.\d+)?(s|ms|us|µs|ns))?$|^0s$")


def check_health_body(r: requests.Response) -> None:
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    body = r.json()
    assert body.get("status") == "Server available", body
    up = body.get("upSince")
    assert isinstance(up, str) and up, body
    # RFC3339(Nano): 2024-01-02T03:04:05.123456789Z or with an offset
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", up)
    assert m, f"upSince not RFC3339: {up!r}"
    since = dt.datetime.fromisoformat(m.group(1) + (m.group(3) if m.group(3) != "Z" else "+00:00"))
    now = dt.datetime.now(dt.timezone.utc)
    assert abs((now - since).total_seconds()) < 300, f"upSince {up} is not about now ({now})"
    uptime = body.get("uptime")
    assert isinstance(uptime, str) and uptime and GO_DURATION.match(uptime), f"uptime {uptime!r}"


def test_default_config(tern, tmp_path):
    busy = [p for p in DEFAULT_PORTS if is_listening("127.0.0.1", p) or is_listening("localhost", p)]
    assert not busy, (f"default ports {busy} are already in use on this machine (another tern "
                      f"or collector running?): cannot test the embedded default config")
    t = tern(None, cwd=tmp_path, wait_ports=[("localhost", 4317), ("localhost", 4318)],
             health_url="http://localhost:13133/")

    check_health_body(requests.get("http://localhost:13133/", timeout=5))
    for port in (4317, 4318):
        with socket.create_connection(("localhost", port), timeout=2):
            pass

    from ternlib.sdk import emit_traces
    sent = emit_traces("http", 4318, batch=False)
    assert [r.name for r in sent.export_results] == ["SUCCESS"] * 3, sent.export_results
    sent = emit_traces("grpc", 4317, batch=True)
    assert all(r.name == "SUCCESS" for r in sent.export_results), sent.export_results

    # default self-metrics on localhost:8888 count what the default pipeline accepted
    text, s = prom.wait_value("http://localhost:8888/metrics", "otelcol_receiver_accepted_spans", 3,
                              receiver="otlp", transport="http")
    assert prom.value(s, "otelcol_receiver_accepted_spans", receiver="otlp", transport="http") == 3, text
    assert prom.value(s, "otelcol_receiver_accepted_spans", receiver="otlp", transport="grpc") == 3, text

    r = run_tern(["healthcheck"], timeout=15)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    r = run_tern(["healthcheck", "--url", "http://localhost:13133/"], timeout=15)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert t.running()


def test_healthcheck_against_closed_port_exits_1():
    port = free_port()
    r = run_tern(["healthcheck", "--url", f"http://127.0.0.1:{port}/"], timeout=15)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)


def test_healthcheck_against_non_200_exits_1(tern, sink):
    """A server that answers, but not 200 (the OTLP receiver answers 405 to GET)."""
    http = free_port()
    tern(configs.simple(sink, http=http))
    r = run_tern(["healthcheck", "--url", f"http://127.0.0.1:{http}/v1/traces"], timeout=15)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)


def test_health_check_extension_custom_endpoint_and_path(tern, sink):
    http, hport = free_port(), free_port()
    cfg = configs.simple(sink, http=http)
    cfg["extensions"] = {"health_check": {"endpoint": f"127.0.0.1:{hport}", "path": "/health/status"}}
    cfg["service"]["extensions"] = ["health_check"]
    t = tern(cfg)
    assert t.health_url == f"http://127.0.0.1:{hport}/health/status"
    check_health_body(requests.get(t.health_url, timeout=5))
    r = run_tern(["healthcheck", "--url", t.health_url], timeout=15)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)


def test_version():
    r = run_tern(["--version"], timeout=15)
    assert r.returncode == 0, (r.returncode, r.stderr)
    assert re.search(r"\d+\.\d+\.\d+", r.stdout), r.stdout


def test_logs_go_to_stderr(tern, sink):
    http = free_port()
    t = tern(configs.simple(sink, http=http))
    assert post_proto(f"http://127.0.0.1:{http}", trace_request(1)).status_code == 200
    sink.wait_for("traces", 1)
    rc = t.terminate()
    assert rc == 0
    assert t.stderr().strip(), "expected some log output on stderr"
    assert not t.stdout().strip(), f"nothing but the debug exporter should write to stdout:\n{t.stdout()[:2000]}"


@pytest.mark.parametrize("sub", ["validate", "healthcheck"])
def test_subcommand_help_or_usage_does_not_hang(sub):
    r = run_tern([sub, "--help"], timeout=15)
    assert r.returncode == 0, (r.returncode, r.stderr)
