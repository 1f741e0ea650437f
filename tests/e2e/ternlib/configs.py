"""Builders for tern configs (plain dicts, dumped to YAML by the `tern` fixture)."""

from __future__ import annotations

import copy
from typing import Any

from .ports import free_port
from .sink import OtlpSink


def otlp_receiver(*, http: int | None = None, grpc: int | None = None,
                  http_extra: dict | None = None, grpc_extra: dict | None = None) -> dict:
    protocols: dict[str, Any] = {}
    if grpc is not None:
        protocols["grpc"] = {"endpoint": f"127.0.0.1:{grpc}", **(grpc_extra or {})}
    if http is not None:
        protocols["http"] = {"endpoint": f"127.0.0.1:{http}", **(http_extra or {})}
    return {"protocols": protocols}


def otlphttp_to(sink: OtlpSink, **extra: Any) -> dict:
    """`otlphttp` exporter config sending to the sink; retries fast so tests stay short."""
    cfg = {"endpoint": sink.http_endpoint,
           "retry_on_failure": {"enabled": True, "initial_interval": "100ms",
                                "max_interval": "500ms", "max_elapsed_time": "10s"}}
    cfg.update(extra)
    return cfg


def otlp_to(sink: OtlpSink, **extra: Any) -> dict:
    """`otlp` (gRPC) exporter config sending to the sink in plaintext."""
    cfg = {"endpoint": sink.grpc_endpoint, "tls": {"insecure": True},
           "retry_on_failure": {"enabled": True, "initial_interval": "100ms",
                                "max_interval": "500ms", "max_elapsed_time": "10s"}}
    cfg.update(extra)
    return cfg


def pipeline(receivers: list[str], exporters: list[str],
             processors: list[str] | None = None) -> dict:
    p: dict[str, Any] = {"receivers": list(receivers)}
    if processors:
        p["processors"] = list(processors)
    p["exporters"] = list(exporters)
    return p


def build(*, receivers: dict, exporters: dict, pipelines: dict,
          processors: dict | None = None, extensions: dict | None = None,
          service_extensions: list[str] | None = None, telemetry: dict | None = None) -> dict:
    cfg: dict[str, Any] = {"receivers": receivers}
    if processors:
        cfg["processors"] = processors
    cfg["exporters"] = exporters
    if extensions:
        cfg["extensions"] = extensions
    service: dict[str, Any] = {}
    if service_extensions:
        service["extensions"] = service_extensions
    service["pipelines"] = pipelines
    if telemetry is not None:
        service["telemetry"] = telemetry
    cfg["service"] = service
    return cfg


def simple(sink: OtlpSink, *, http: int | None = None, grpc: int | None = None,
           exporter: str = "otlphttp", signals=("traces", "metrics", "logs"),
           batch: dict | None = None, exporter_extra: dict | None = None,
           http_extra: dict | None = None, grpc_extra: dict | None = None) -> dict:
    """otlp receiver -> [batch] -> one exporter to `sink`, for the given signals."""
    exp_type = exporter.split("/")[0]
    exp_cfg = (otlphttp_to if exp_type == "otlphttp" else otlp_to)(sink, **(exporter_extra or {}))
    processors = None
    procs = None
    if batch is not None:
        processors = {"batch": batch}
        procs = ["batch"]
    return build(
        receivers={"otlp": otlp_receiver(http=http, grpc=grpc, http_extra=http_extra,
                                         grpc_extra=grpc_extra)},
        processors=processors,
        exporters={exporter: exp_cfg},
        pipelines={s: pipeline(["otlp"], [exporter], procs) for s in signals},
    )


def with_health_and_metrics(config: dict) -> tuple[dict, str | None, str | None]:
    """Return a copy of `config` with a health_check extension and a self-metrics reader on
    free ports added when the config has none (so tests never depend on the fixed default
    ports 13133/8888), plus the health URL and the /metrics URL (None if disabled)."""
    cfg = copy.deepcopy(config)
    service = cfg.setdefault("service", {})
    exts = cfg.get("extensions") or {}
    health_url = None
    if not any(e.split("/")[0] == "health_check" for e in service.get("extensions") or []):
        hp = free_port()
        exts = dict(exts)
        exts["health_check"] = {"endpoint": f"127.0.0.1:{hp}"}
        cfg["extensions"] = exts
        service["extensions"] = list(service.get("extensions") or []) + ["health_check"]
    telemetry = service.setdefault("telemetry", {})
    metrics = telemetry.setdefault("metrics", {})
    metrics_url = None
    if metrics.get("level") != "none":
        if "readers" not in metrics and "address" not in metrics:
            mp = free_port()
            metrics["readers"] = [{"pull": {"exporter": {"prometheus": {
                "host": "127.0.0.1", "port": mp}}}}]
        if "readers" in metrics:
            prom = metrics["readers"][0]["pull"]["exporter"]["prometheus"]
            metrics_url = f"http://{prom.get('host', 'localhost')}:{prom.get('port', 8888)}/metrics"
        elif "address" in metrics:
            metrics_url = f"http://{metrics['address']}/metrics"
    for eid in service["extensions"]:
        if eid.split("/")[0] == "health_check":
            e = (cfg.get("extensions") or {}).get(eid) or {}
            ep = e.get("endpoint", "localhost:13133")
            health_url = f"http://{ep}{e.get('path', '/')}"
    return cfg, health_url, metrics_url
