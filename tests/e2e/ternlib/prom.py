"""A small parser for the Prometheus text exposition format (0.0.4)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import requests

_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?\s*$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


@dataclass
class Sample:
    name: str
    labels: dict[str, str]
    value: float

    def __str__(self) -> str:
        lab = ",".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()))
        return f"{self.name}{{{lab}}} {self.value}"


def _unescape(s: str) -> str:
    return s.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")


def parse(text: str) -> list[Sample]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            raise ValueError(f"unparseable exposition line: {line!r}")
        labels = {}
        body = m.group(3) or ""
        pos = 0
        while pos < len(body):
            lm = _LABEL.match(body, pos)
            if not lm:
                raise ValueError(f"unparseable labels in line: {line!r}")
            labels[lm.group(1)] = _unescape(lm.group(2))
            pos = lm.end()
        out.append(Sample(m.group(1), labels, float(m.group(4))))
    return out


def types(text: str) -> dict[str, str]:
    """metric family name -> declared TYPE."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0] == "#" and parts[1] == "TYPE":
            out[parts[2]] = parts[3]
    return out


def find(samples: list[Sample], name: str, **labels: str) -> list[Sample]:
    return [s for s in samples if s.name == name
            and all(s.labels.get(k) == v for k, v in labels.items())]


def value(samples: list[Sample], name: str, **labels: str) -> float | None:
    """Value of the single series matching name+labels (None if absent)."""
    found = find(samples, name, **labels)
    if not found:
        return None
    assert len(found) == 1, f"several series match {name}{labels}: {[str(s) for s in found]}"
    return found[0].value


def scrape(url: str, timeout: float = 5.0) -> tuple[str, list[Sample]]:
    r = requests.get(url, timeout=timeout)
    assert r.status_code == 200, f"GET {url} -> {r.status_code} {r.text[:300]!r}"
    return r.text, parse(r.text)


def wait_value(url: str, name: str, expected: float, timeout: float = 10.0,
               **labels: str) -> tuple[str, list[Sample]]:
    """Scrape until the series name{labels} equals `expected` (bounded); returns the last
    scrape either way so the caller can assert with a full message."""
    deadline = time.monotonic() + timeout
    while True:
        text, samples = scrape(url)
        if value(samples, name, **labels) == expected or time.monotonic() > deadline:
            return text, samples
        time.sleep(0.2)
