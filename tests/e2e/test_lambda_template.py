"""template.yaml (SAM): cfn-lint, plus the value checks cfn-lint does not make (runtime names,
timeout and memory bounds, architectures matching the layer zip, the config file the function
points at, IAM actions)."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

# Lambda runtimes that can be used for new functions (the layer needs glibc >= 2.34: AL2023).
AL2023_RUNTIMES = {"python3.12", "python3.13", "python3.14", "nodejs20.x", "nodejs22.x",
                   "nodejs24.x", "java21", "java25", "dotnet8", "dotnet10", "ruby3.3", "ruby3.4",
                   "provided.al2023"}
ARCHS = {"x86_64", "arm64"}


class CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    return {name: value}


CfnLoader.add_multi_constructor("!", _tag)


def load_template() -> dict:
    return yaml.load(TEMPLATE.read_text(), Loader=CfnLoader)


def check_template(doc: dict) -> list[str]:
    """Value checks; returns the problems found."""
    problems = []
    res = doc.get("Resources", {})
    layers = {k: v for k, v in res.items() if v.get("Type") == "AWS::Serverless::LayerVersion"}
    funcs = {k: v for k, v in res.items() if v.get("Type") == "AWS::Serverless::Function"}
    if "TernLayer" not in layers:
        problems.append("no TernLayer layer")
    for name, layer in layers.items():
        p = layer.get("Properties", {})
        archs = p.get("CompatibleArchitectures", [])
        if not archs or not set(archs) <= ARCHS or len(archs) != 1:
            problems.append(f"{name}: CompatibleArchitectures {archs!r}")
        uri = str(p.get("ContentUri", ""))
        if archs and uri != f"dist/tern-layer-{archs[0]}.zip":
            problems.append(f"{name}: ContentUri {uri!r} does not match {archs}")
        bad = [r for r in p.get("CompatibleRuntimes", []) if r not in AL2023_RUNTIMES]
        if bad or not p.get("CompatibleRuntimes"):
            problems.append(f"{name}: runtimes {bad or 'missing'}")
    if not funcs:
        problems.append("no example function")
    for name, fn in funcs.items():
        p = fn.get("Properties", {})
        if p.get("Runtime") not in AL2023_RUNTIMES:
            problems.append(f"{name}: Runtime {p.get('Runtime')!r}")
        if not (1 <= int(p.get("Timeout", 3)) <= 900):
            problems.append(f"{name}: Timeout {p.get('Timeout')}")
        if not (128 <= int(p.get("MemorySize", 128)) <= 10240):
            problems.append(f"{name}: MemorySize {p.get('MemorySize')}")
        fn_archs = p.get("Architectures", ["x86_64"])
        if not set(fn_archs) <= ARCHS:
            problems.append(f"{name}: Architectures {fn_archs}")
        refs = [l.get("Ref") for l in p.get("Layers", []) if isinstance(l, dict)]
        if "TernLayer" not in refs:
            problems.append(f"{name}: does not use TernLayer")
        else:
            layer_arch = layers["TernLayer"]["Properties"]["CompatibleArchitectures"]
            if fn_archs != layer_arch:
                problems.append(f"{name}: architecture {fn_archs} vs layer {layer_arch}")
        code = ROOT / str(p.get("CodeUri", ""))
        module = str(p.get("Handler", "")).rsplit(".", 1)[0]
        if not (code / f"{module}.py").is_file():
            problems.append(f"{name}: handler module {module}.py not in {code}")
        env = p.get("Environment", {}).get("Variables", {})
        uri = env.get("OPENTELEMETRY_COLLECTOR_CONFIG_URI", "")
        if not uri.startswith("/var/task/"):
            problems.append(f"{name}: config URI {uri!r} is not in the function package")
        elif not (code / uri.removeprefix("/var/task/")).is_file():
            problems.append(f"{name}: {uri} is not shipped in {code}")
        actions = set()
        for pol in p.get("Policies", []):
            for st in (pol.get("Statement", []) if isinstance(pol, dict) else []):
                if st.get("Effect") == "Allow":
                    a = st.get("Action", [])
                    actions.update([a] if isinstance(a, str) else a)
        for need in ("xray:PutTraceSegments", "aps:RemoteWrite"):
            if need not in actions:
                problems.append(f"{name}: IAM action {need} missing")
    params = doc.get("Parameters", {})
    if "AmpRemoteWriteEndpoint" not in params:
        problems.append("no AmpRemoteWriteEndpoint parameter")
    outs = doc.get("Outputs", {})
    if not any(o.get("Value") == {"Ref": "TernLayer"} for o in outs.values()):
        problems.append("no output with the layer ARN")
    return problems


def test_cfn_lint_passes_and_catches_a_broken_reference(tmp_path):
    # The venv's cfn-lint (next to this interpreter); missing is a failure, never a skip.
    exe = Path(sys.executable).parent / "cfn-lint"
    assert exe.is_file(), f"cfn-lint not installed in {exe.parent} (tests/requirements.txt)"
    run = [str(exe)]
    ok = subprocess.run([*run, str(TEMPLATE)], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    broken = tmp_path / "template.yaml"
    broken.write_text(TEMPLATE.read_text().replace("- !Ref TernLayer", "- !Ref NoSuchLayer"))
    bad = subprocess.run([*run, str(broken)], capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "NoSuchLayer" in bad.stdout, bad.stdout


def test_template_values():
    assert check_template(load_template()) == []


def test_value_checks_catch_what_cfn_lint_misses():
    base = load_template()
    cases = {
        "Timeout": lambda d: d["Resources"]["ExampleFunction"]["Properties"].update(Timeout=1000),
        "Runtime": lambda d: d["Resources"]["ExampleFunction"]["Properties"].update(
            Runtime="python3.99"),
        "CompatibleArchitectures": lambda d: d["Resources"]["TernLayer"]["Properties"].update(
            CompatibleArchitectures=["arm65"]),
        "config URI": lambda d: d["Resources"]["ExampleFunction"]["Properties"]["Environment"][
            "Variables"].update(OPENTELEMETRY_COLLECTOR_CONFIG_URI="/var/task/missing.yaml"),
        "aps:RemoteWrite": lambda d: d["Resources"]["ExampleFunction"]["Properties"][
            "Policies"][0]["Statement"].pop(),
    }
    for what, mutate in cases.items():
        doc = copy.deepcopy(base)
        mutate(doc)
        problems = check_template(doc)
        assert problems, f"mutation of {what} not caught"


def test_example_collector_config_routes_to_xray_and_amp():
    fn = load_template()["Resources"]["ExampleFunction"]["Properties"]
    uri = fn["Environment"]["Variables"]["OPENTELEMETRY_COLLECTOR_CONFIG_URI"]
    cfg = yaml.safe_load((ROOT / fn["CodeUri"] / uri.removeprefix("/var/task/")).read_text())
    pipes = cfg["service"]["pipelines"]
    assert pipes["traces"]["exporters"] == ["awsxray"]
    assert pipes["metrics"]["exporters"] == ["prometheusremotewrite"]
    prw = cfg["exporters"]["prometheusremotewrite"]
    assert prw["endpoint"] == "${env:AMP_REMOTE_WRITE_ENDPOINT}"
    assert "AMP_REMOTE_WRITE_ENDPOINT" in fn["Environment"]["Variables"]
    assert prw["auth"]["authenticator"] in cfg["service"]["extensions"]
    assert cfg["receivers"]["otlp"]["protocols"]["http"]["endpoint"] == "localhost:4318"
    assert "telemetryapi" in pipes["traces"]["receivers"]
    assert "telemetryapi" in pipes["metrics"]["receivers"]
    # debug prints to the extension's log, which telemetryapi would feed back.
    assert "telemetryapi" not in pipes["logs"]["receivers"]
