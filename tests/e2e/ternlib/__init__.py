"""Helpers for Tern's black-box end-to-end tests.

- ports:   free TCP port allocation on 127.0.0.1
- process: start/stop the `tern` binary with a config
- sink:    an in-process OTLP backend (HTTP + gRPC) that records what it receives
- otlp:    builders for OTLP protobuf requests and value conversion helpers
- prom:    a small Prometheus text-format parser for /metrics scrapes
"""
