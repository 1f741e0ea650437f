"""Free-port allocation on the loopback interface."""

from __future__ import annotations

import socket
import threading
import time

_lock = threading.Lock()
_handed_out: set[int] = set()


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free now and was not handed out before
    by this process (so two allocations in one test never collide)."""
    with _lock:
        for _ in range(200):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise RuntimeError("could not find a free port")


def is_listening(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_listening(host: str, port: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_listening(host, port):
            return True
        time.sleep(0.05)
    return False


def split_hostport(endpoint: str) -> tuple[str, int]:
    """'127.0.0.1:4318' or 'http://127.0.0.1:4318/x' -> ('127.0.0.1', 4318)."""
    ep = endpoint
    if "://" in ep:
        ep = ep.split("://", 1)[1]
    ep = ep.split("/", 1)[0]
    host, _, port = ep.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return host, int(port)
