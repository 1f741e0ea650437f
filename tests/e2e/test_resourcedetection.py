"""`resourcedetection [env, ecs, ec2]` against fake IMDSv2 and ECS task metadata v4 servers
(pointed at with the standard environment variables): the Python SDK's spans reach the
decoding sink with exactly the detected resource attributes merged in."""

from __future__ import annotations

import pytest

from ternlib import configs
from ternlib.metadata import FakeEcs, FakeImds, payload_json
from ternlib.ports import free_port
from ternlib.sdk import RESOURCE_ATTRS, emit_traces
from ternlib.sdk import resource as sdk_resource


@pytest.fixture
def imds():
    s = FakeImds().start()
    yield s
    s.stop()


def _value(v):
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind)


def _config(sink, http: int, processor: dict) -> dict:
    return configs.build(
        receivers={"otlp": configs.otlp_receiver(http=http)},
        processors={"resourcedetection": processor},
        exporters={"otlphttp": configs.otlphttp_to(sink)},
        pipelines={"traces": configs.pipeline(["otlp"], ["otlphttp"], ["resourcedetection"])},
    )


def _env(imds_base: str, ecs_uri: str) -> dict:
    return {
        "OTEL_RESOURCE_ATTRIBUTES": "cloud.region=from-env,team=pay%2Cments",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds_base,
        "AWS_EC2_METADATA_DISABLED": "false",
        "ECS_CONTAINER_METADATA_URI_V4": ecs_uri,
        "AWS_LAMBDA_FUNCTION_NAME": "",
    }


def test_detected_resource_reaches_the_sink(tern, sink, imds):
    ecs = FakeEcs().start()
    try:
        http = free_port()
        tern(_config(sink, http, {"detectors": ["env", "ecs", "ec2"], "timeout": "3s"}),
             env=_env(imds.base, ecs.uri_v4))
        emit_traces("http", http)
        sink.wait_for_spans(3)
    finally:
        ecs.stop()

    task = payload_json("ecs_task_fargate.json")
    doc = payload_json("imds_identity.json")
    arn = task["TaskARN"]
    group_arn = "arn:aws:logs:us-west-2:123456789012:log-group:/ecs/checkout"
    stream = "ecs/app/e9028f8d5d8e4f258373e7b93ce9a3c3"
    detected = {
        # env
        "cloud.region": "from-env",
        "team": "pay,ments",
        # ecs (first platform detector: wins cloud.* and the zone)
        "cloud.provider": "aws",
        "cloud.platform": "aws_ecs",
        "cloud.account.id": "123456789012",
        "cloud.availability_zone": task["AvailabilityZone"],
        "aws.ecs.cluster.arn": task["Cluster"],
        "aws.ecs.task.arn": arn,
        "aws.ecs.task.family": task["Family"],
        "aws.ecs.task.id": arn.rsplit("/", 1)[1],
        "aws.ecs.task.revision": task["Revision"],
        "aws.ecs.launchtype": "fargate",
        "aws.log.group.names": ["/ecs/checkout"],
        "aws.log.group.arns": [group_arn],
        "aws.log.stream.names": [stream],
        "aws.log.stream.arns": [f"{group_arn}:log-stream:{stream}"],
        # ec2 (only the keys nobody set before)
        "host.id": doc["instanceId"],
        "host.image.id": doc["imageId"],
        "host.type": doc["instanceType"],
        "host.name": FakeImds.HOSTNAME,
    }
    resources = {id(r): r for r, _, _ in sink.spans()}
    assert resources
    for r in resources.values():
        got = {kv.key: _value(kv.value) for kv in r.attributes}
        from_sdk = {k: v for k, v in got.items() if k not in detected}
        assert {k: got[k] for k in detected if k in got} == detected, got
        # Everything else is what the SDK sent, untouched.
        for k, v in RESOURCE_ATTRS.items():
            assert from_sdk.get(k) == v, (k, got)
        assert set(from_sdk) == set(sdk_resource().attributes), got
    assert imds.puts >= 1, "IMDSv2 token was requested"


def test_override_false_keeps_what_the_sdk_set(tern, sink, imds):
    http = free_port()
    env = _env(imds.base, "")
    env["OTEL_RESOURCE_ATTRIBUTES"] = "service.name=detected-name,deployment.environment=prod"
    tern(_config(sink, http, {"detectors": ["env", "ec2"], "override": False}), env=env)
    emit_traces("http", http)
    sink.wait_for_spans(3)
    for r, _, _ in sink.spans():
        got = {kv.key: _value(kv.value) for kv in r.attributes}
        assert got["service.name"] == RESOURCE_ATTRS["service.name"]
        assert got["deployment.environment"] == "e2e"
        assert got["cloud.platform"] == "aws_ec2" and got["host.name"] == FakeImds.HOSTNAME


def test_failing_task_metadata_endpoint_stops_the_start(tern, sink, imds):
    ecs = FakeEcs(task_status=500).start()
    try:
        t = tern(_config(sink, free_port(), {"detectors": ["ecs"], "timeout": "1s"}),
                 env=_env(imds.base, ecs.uri_v4), ready=False)
        t.stopped_by_test = True
        assert t.wait(timeout=30) != 0
    finally:
        ecs.stop()
    err = t.stderr()
    assert "resourcedetection" in err and f"{ecs.uri_v4}/task" in err and "500" in err, err[-2000:]


def test_unsupported_detector_is_a_config_error(tern, sink):
    t = tern(_config(sink, free_port(), {"detectors": ["env", "eks"]}), ready=False)
    t.stopped_by_test = True
    assert t.wait(timeout=30) != 0
    assert "detector `eks` is not supported" in t.stderr(), t.stderr()[-2000:]
