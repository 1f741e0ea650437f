"""`tern validate --config FILE`: exit 0 when valid; exit 1 with every error on stderr,
one per line, each naming the YAML path and the problem in upstream's words."""

from __future__ import annotations

import copy

import pytest

from ternlib.process import run_tern, write_config


def valid_config() -> dict:
    return {
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": "127.0.0.1:4318"},
                                             "grpc": {"endpoint": "127.0.0.1:4317"}}}},
        "processors": {"batch": {}},
        "exporters": {"otlphttp": {"endpoint": "http://127.0.0.1:9"},
                      "otlp": {"endpoint": "127.0.0.1:9", "tls": {"insecure": True}},
                      "debug": {"verbosity": "basic"}},
        "extensions": {"health_check": {"endpoint": "127.0.0.1:13133"}},
        "service": {
            "extensions": ["health_check"],
            "pipelines": {
                "traces": {"receivers": ["otlp"], "processors": ["batch"], "exporters": ["otlphttp"]},
                "metrics": {"receivers": ["otlp"], "exporters": ["otlp"]},
                "logs": {"receivers": ["otlp"], "exporters": ["debug"]},
            },
        },
    }


def validate(tmp_path, cfg, name="config.yaml"):
    p = write_config(tmp_path / name, cfg)
    return run_tern(["validate", "--config", str(p)], timeout=20)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def find_line(lines: list[str], *needles: str) -> str | None:
    """The first line containing every needle (case-insensitive for words like 'unknown')."""
    for line in lines:
        low = line.lower()
        if all(n.lower() in low for n in needles):
            return line
    return None


def assert_errors(result, *expected: tuple[str, ...]) -> None:
    assert result.returncode == 1, (f"exit {result.returncode}, expected 1\n"
                                    f"stderr:\n{result.stderr}\nstdout:\n{result.stdout}")
    lines = error_lines(result.stderr)
    used: set[str] = set()
    for needles in expected:
        candidates = [ln for ln in lines if ln not in used]
        line = find_line(candidates, *needles)
        assert line is not None, (f"no stderr line contains all of {needles}\n"
                                  f"stderr:\n{result.stderr}")
        used.add(line)


def mutate(fn):
    cfg = valid_config()
    fn(cfg)
    return cfg


def test_valid_config_exits_0(tmp_path):
    r = validate(tmp_path, valid_config())
    assert r.returncode == 0, f"stderr:\n{r.stderr}\nstdout:\n{r.stdout}"


def test_validate_does_not_start_anything(tmp_path):
    """validate must not bind the configured ports (it returns promptly, too)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        cfg = valid_config()
        cfg["receivers"]["otlp"]["protocols"]["http"]["endpoint"] = f"127.0.0.1:{port}"
        r = validate(tmp_path, cfg)
    assert r.returncode == 0, r.stderr


CASES = {
    "exporter-not-configured": (
        lambda c: c["service"]["pipelines"]["traces"].update(exporters=["otlphttp/x"]),
        [("service::pipelines::traces", '"otlphttp/x"', "not configured")]),
    "receiver-not-configured": (
        lambda c: c["service"]["pipelines"]["metrics"].update(receivers=["otlp/nope"]),
        [("service::pipelines::metrics", '"otlp/nope"', "not configured")]),
    "processor-not-configured": (
        lambda c: c["service"]["pipelines"]["traces"].update(processors=["batch/nope"]),
        [("service::pipelines::traces", '"batch/nope"', "not configured")]),
    "extension-not-configured": (
        lambda c: c["service"].update(extensions=["health_check/nope"]),
        [("service::extensions", '"health_check/nope"', "not configured")]),
    "pipeline-without-receivers": (
        lambda c: c["service"]["pipelines"]["traces"].update(receivers=[]),
        [("service::pipelines::traces", "must have at least one receiver")]),
    "pipeline-without-exporters": (
        lambda c: c["service"]["pipelines"]["logs"].update(exporters=[]),
        [("service::pipelines::logs", "must have at least one exporter")]),
    "no-receivers-section": (
        lambda c: c.pop("receivers"),
        [("no receiver configuration specified in config",)]),
    "no-pipelines": (
        lambda c: c["service"].update(pipelines={}),
        [("service must have at least one pipeline",)]),
    "unknown-receiver-type": (
        lambda c: (c["receivers"].update(nosuchreceiver={}),
                   c["service"]["pipelines"]["traces"]["receivers"].append("nosuchreceiver")),
        [("nosuchreceiver", "unknown", "otlp")]),
    "unknown-exporter-type": (
        lambda c: (c["exporters"].update({"nosuchexporter/named": {}}),
                   c["service"]["pipelines"]["logs"]["exporters"].append("nosuchexporter/named")),
        [("nosuchexporter", "unknown", "otlphttp")]),
    "unknown-key-in-exporter": (
        lambda c: c["exporters"]["otlphttp"].update(bogus_key=1),
        [("exporters::otlphttp", "bogus_key")]),
    "unknown-nested-key-in-receiver": (
        lambda c: c["receivers"]["otlp"]["protocols"]["http"].update(bogus_nested="x"),
        [("receivers::otlp", "bogus_nested")]),
    "unknown-key-in-processor": (
        lambda c: c["processors"]["batch"].update(send_batch_sizee=10),
        [("processors::batch", "send_batch_sizee")]),
    "unknown-key-in-extension": (
        lambda c: c["extensions"]["health_check"].update(endpiont="x"),
        [("extensions::health_check", "endpiont")]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_single_validation_error(tmp_path, case):
    fn, expected = CASES[case]
    r = validate(tmp_path, mutate(fn))
    assert_errors(r, *expected)


def test_all_errors_of_a_multi_error_file_are_printed(tmp_path):
    def break_many(c):
        c["service"]["pipelines"]["traces"]["exporters"] = ["otlphttp/x"]
        c["service"]["pipelines"]["traces"]["processors"] = ["batch/nope"]
        c["service"]["pipelines"]["logs"]["exporters"] = []
        c["exporters"]["otlphttp"]["bogus_key"] = 1
        c["receivers"]["otlp"]["protocols"]["http"]["bogus_nested"] = "x"

    r = validate(tmp_path, mutate(break_many))
    assert_errors(r,
                  ("service::pipelines::traces", '"otlphttp/x"', "not configured"),
                  ("service::pipelines::traces", '"batch/nope"', "not configured"),
                  ("service::pipelines::logs", "must have at least one exporter"),
                  ("exporters::otlphttp", "bogus_key"),
                  ("receivers::otlp", "bogus_nested"))


def test_multiple_files_are_merged_before_validation(tmp_path):
    first = valid_config()
    first["service"]["pipelines"]["traces"]["exporters"] = ["otlphttp/later"]
    p1 = write_config(tmp_path / "a.yaml", first)
    r = run_tern(["validate", "--config", str(p1)])
    assert_errors(r, ("service::pipelines::traces", '"otlphttp/later"', "not configured"))
    p2 = write_config(tmp_path / "b.yaml", {"exporters": {"otlphttp/later": {"endpoint": "http://127.0.0.1:9"}}})
    r = run_tern(["validate", "--config", str(p1), "--config", str(p2)])
    assert r.returncode == 0, r.stderr


def test_yaml_syntax_error_exits_1(tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text("receivers:\n  otlp: [unclosed\n")
    r = run_tern(["validate", "--config", str(p)])
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert r.stderr.strip(), "an error message is expected on stderr"


def test_missing_file_exits_1(tmp_path):
    missing = tmp_path / "does-not-exist.yaml"
    r = run_tern(["validate", "--config", str(missing)])
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "does-not-exist.yaml" in r.stderr, r.stderr


def test_running_with_invalid_config_fails_fast_with_the_same_errors(tmp_path):
    cfg = copy.deepcopy(valid_config())
    cfg["service"]["pipelines"]["traces"]["exporters"] = ["otlphttp/x"]
    p = write_config(tmp_path / "bad.yaml", cfg)
    r = run_tern(["--config", str(p)], timeout=20)
    assert r.returncode != 0, r.stderr
    assert find_line(error_lines(r.stderr), "service::pipelines::traces", '"otlphttp/x"', "not configured"), r.stderr


def test_invalid_component_is_not_also_reported_as_not_configured(tmp_path):
    """An unknown key inside receivers::otlp is one error; the pipeline that uses `otlp`
    must not get a second, false 'references receiver "otlp" which is not configured'."""
    r = validate(tmp_path, mutate(
        lambda c: c["receivers"]["otlp"]["protocols"]["http"].update(bogus_nested="x")))
    assert_errors(r, ("receivers::otlp", "bogus_nested"))
    false_lines = [ln for ln in error_lines(r.stderr) if '"otlp"' in ln and "not configured" in ln]
    assert not false_lines, f"spurious errors for a configured receiver: {false_lines}"


def test_a_refusing_processor_after_batch_is_refused_with_the_fix(tmp_path):
    """`memory_limiter` after `batch` could only drop data that `batch` holds (it was
    acknowledged already): validation refuses the order and says how to fix it."""
    cfg = valid_config()
    cfg["processors"]["memory_limiter"] = {"check_interval": "1s", "limit_mib": 100}
    cfg["service"]["pipelines"]["traces"]["processors"] = ["batch", "memory_limiter"]
    r = validate(tmp_path, cfg)
    assert_errors(r, ("service::pipelines::traces", "memory_limiter", "after \"batch\"",
                      "processors: [memory_limiter, batch]"))
    # The documented order is valid.
    cfg["service"]["pipelines"]["traces"]["processors"] = ["memory_limiter", "batch"]
    ok = validate(tmp_path, cfg, "ok.yaml")
    assert ok.returncode == 0, ok.stderr
