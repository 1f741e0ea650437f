//! Detectors against fake metadata servers, merge order, switches, failures,
//! and the processor over a batch.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

use super::client::{detect_all, Sources};
use super::detect::{self, AttrValue, Attributes};
use super::*;
use crate::aws::ecs_metadata::{ContainerMetadata, TaskMetadata};
use crate::aws::fakes::{self, EcsMode, ImdsMode};
use crate::component::{parse_config, Validate};
use crate::otlp::Traces;

fn cfg(yaml: &str) -> ResourceDetectionConfig {
    parse_config::<ResourceDetectionConfig>(
        "processors::resourcedetection",
        &serde_yaml_ng::from_str(yaml).unwrap(),
    )
    .unwrap()
}

fn issues(yaml: &str) -> Vec<String> {
    match parse_config::<ResourceDetectionConfig>(
        "processors::resourcedetection",
        &serde_yaml_ng::from_str(yaml).unwrap(),
    ) {
        Ok(_) => Vec::new(),
        Err(v) => v
            .into_iter()
            .map(|i| format!("{}: {}", i.path, i.message))
            .collect(),
    }
}

fn sources(vars: &[(&str, &str)]) -> Sources {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Sources {
        env: Arc::new(move |k| map.get(k).cloned()),
        beanstalk_file: PathBuf::from("/nonexistent/environment.conf"),
        hostname_file: PathBuf::from("/proc/sys/kernel/hostname"),
        machine_id_file: PathBuf::from("/nonexistent/machine-id"),
    }
}

fn st(k: &str, v: &str) -> (String, AttrValue) {
    (k.to_string(), AttrValue::Str(v.to_string()))
}

fn list(k: &str, v: &[&str]) -> (String, AttrValue) {
    (
        k.to_string(),
        AttrValue::StrList(v.iter().map(|s| s.to_string()).collect()),
    )
}

fn get<'a>(a: &'a Attributes, k: &str) -> Option<&'a AttrValue> {
    a.iter().find(|(n, _)| n == k).map(|(_, v)| v)
}

#[test]
fn defaults_follow_upstream() {
    let c = cfg("{}");
    assert_eq!(c.detectors, vec!["env"]);
    assert_eq!(c.timeout.0, Duration::from_secs(5));
    assert!(c.override_existing);
    assert_eq!(c.system.hostname_sources, vec!["os"]);
    assert!(c.validate().is_empty());
}

#[test]
fn what_tern_cannot_do_is_a_config_error_naming_it() {
    let got = issues(
        "detectors: [env, eks, gcp]\nrefresh_interval: 1m\nsystem: {hostname_sources: [dns, os], resource_attributes: {host.ip: {enabled: true}, host.mac: {enabled: false}}}\nec2: {tags: ['^Name$'], resource_attributes: {host.bogus: {enabled: true}}}",
    );
    let want = [
        "processors::resourcedetection::detectors::1: detector `eks` is not supported by Tern; supported: env, system, ec2, ecs, lambda, elastic_beanstalk",
        "processors::resourcedetection::detectors::2: detector `gcp`",
        "processors::resourcedetection::refresh_interval: periodic re-detection is not supported",
        "processors::resourcedetection::system::hostname_sources::0: hostname source `dns` needs a DNS lookup",
        "processors::resourcedetection::ec2::tags: EC2 instance tags",
        "processors::resourcedetection::system::resource_attributes::host.ip: attribute `host.ip` of the `system` detector is not supported",
        "processors::resourcedetection::ec2::resource_attributes::host.bogus: unknown attribute `host.bogus`",
    ];
    for w in want {
        assert!(
            got.iter().any(|g| g.starts_with(w)),
            "missing {w:?} in {got:#?}"
        );
    }
    assert_eq!(got.len(), want.len(), "{got:#?}");
    let unknown = issues("detectors: [env]\neks: {}");
    assert!(unknown[0].contains("unknown field `eks`"), "{unknown:?}");
}

#[test]
fn env_detector_parses_like_upstream() {
    let env =
        |v: &'static str| move |k: &str| (k == "OTEL_RESOURCE_ATTRIBUTES").then(|| v.to_string());
    assert_eq!(
        detect::from_env(&env(" service.name = shop , team=a%2Cb+c,, empty=")).unwrap(),
        vec![
            st("service.name", "shop"),
            st("team", "a,b c"),
            st("empty", "")
        ]
    );
    for bad in ["novalue", "=v", "k=%zz", "k=%4"] {
        assert!(detect::from_env(&env(bad)).is_err(), "{bad}");
    }
    let old = |k: &str| (k == "OTEL_RESOURCE").then(|| "a=b".to_string());
    assert_eq!(detect::from_env(&old).unwrap(), vec![st("a", "b")]);
    assert!(detect::from_env(&|_: &str| None).unwrap().is_empty());
}

#[test]
fn lambda_detector_reads_only_the_environment() {
    let vars: HashMap<&str, &str> = [
        ("AWS_LAMBDA_FUNCTION_NAME", "checkout"),
        ("AWS_REGION", "eu-central-1"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/12/06/[$LATEST]abc"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/checkout"),
    ]
    .into();
    let got = detect::from_lambda_env(&|k: &str| vars.get(k).map(|v| v.to_string()));
    assert_eq!(
        got,
        vec![
            st("cloud.provider", "aws"),
            st("cloud.platform", "aws_lambda"),
            st("cloud.region", "eu-central-1"),
            st("faas.name", "checkout"),
            st("faas.version", "$LATEST"),
            st("faas.instance", "2026/12/06/[$LATEST]abc"),
            st("faas.max_memory", "512"),
            list("aws.log.group.names", &["/aws/lambda/checkout"]),
            list("aws.log.stream.names", &["2026/12/06/[$LATEST]abc"]),
        ]
    );
    assert!(detect::from_lambda_env(&|_: &str| None).is_empty());
}

#[test]
fn ecs_attributes_from_documented_payloads() {
    let task = TaskMetadata::parse("u", fakes::FARGATE_TASK.as_bytes()).unwrap();
    let this = ContainerMetadata::parse("u", fakes::FARGATE_CONTAINER.as_bytes()).unwrap();
    assert_eq!(
        detect::from_ecs(&task, &this),
        vec![
            st("cloud.provider", "aws"),
            st("cloud.platform", "aws_ecs"),
            st("cloud.account.id", "123456789012"),
            st("cloud.region", "us-west-2"),
            st("cloud.availability_zone", "us-west-2d"),
            st("aws.ecs.cluster.arn", "arn:aws:ecs:us-west-2:123456789012:cluster/default"),
            st("aws.ecs.task.arn", "arn:aws:ecs:us-west-2:123456789012:task/default/e9028f8d5d8e4f258373e7b93ce9a3c3"),
            st("aws.ecs.task.family", "checkout"),
            st("aws.ecs.task.id", "e9028f8d5d8e4f258373e7b93ce9a3c3"),
            st("aws.ecs.task.revision", "7"),
            st("aws.ecs.launchtype", "fargate"),
            list("aws.log.group.names", &["/ecs/checkout"]),
            list("aws.log.group.arns", &["arn:aws:logs:us-west-2:123456789012:log-group:/ecs/checkout"]),
            list("aws.log.stream.names", &["ecs/app/e9028f8d5d8e4f258373e7b93ce9a3c3"]),
            list(
                "aws.log.stream.arns",
                &["arn:aws:logs:us-west-2:123456789012:log-group:/ecs/checkout:log-stream:ecs/app/e9028f8d5d8e4f258373e7b93ce9a3c3"]
            ),
        ]
    );
    // EC2 launch type: short cluster name, old-style task ARN.
    let task = TaskMetadata::parse("u", fakes::EC2_TASK.as_bytes()).unwrap();
    let this = ContainerMetadata::parse("u", fakes::EC2_CONTAINER.as_bytes()).unwrap();
    let a = detect::from_ecs(&task, &this);
    assert_eq!(
        get(&a, "aws.ecs.cluster.arn"),
        Some(&AttrValue::Str(
            "arn:aws:ecs:eu-west-1:210987654321:cluster/prod".into()
        ))
    );
    assert_eq!(
        get(&a, "aws.ecs.task.id"),
        Some(&AttrValue::Str("158d1c8083dd49d6b527399fd6414f5c".into()))
    );
    assert_eq!(
        get(&a, "aws.ecs.launchtype"),
        Some(&AttrValue::Str("ec2".into()))
    );
    assert_eq!(
        get(&a, "aws.log.group.names"),
        Some(&AttrValue::StrList(vec!["/ecs/orders".into()]))
    );
}

#[test]
fn elastic_beanstalk_file() {
    let a = detect::from_elastic_beanstalk(
        br#"{"deployment_id":23,"environment_name":"prod","version_label":"v-9"}"#,
    )
    .unwrap();
    assert_eq!(
        a,
        vec![
            st("cloud.provider", "aws"),
            st("cloud.platform", "aws_elastic_beanstalk"),
            st("deployment.environment", "prod"),
            st("service.instance.id", "23"),
            st("service.version", "v-9"),
        ]
    );
    assert!(detect::from_elastic_beanstalk(b"{oops").is_err());
}

#[tokio::test]
async fn env_ecs_ec2_first_detector_wins_and_disabled_keys_are_left_out() {
    let (imds, _) = fakes::imds(ImdsMode::Normal).await;
    let ecs = fakes::ecs(EcsMode::Fargate).await;
    let src = sources(&[
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "cloud.region=from-env,service.name=shop",
        ),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds),
        ("ECS_CONTAINER_METADATA_URI_V4", &ecs),
    ]);
    let c = cfg("detectors: [env, ecs, ec2]\ntimeout: 2s\necs: {resource_attributes: {aws.log.stream.arns: {enabled: false}}}\nec2: {resource_attributes: {host.name: {enabled: false}}}");
    let a = detect_all(&c, &src, "resourcedetection").await.unwrap();
    let keys: Vec<&str> = a.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "cloud.region",
            "service.name", // env
            "cloud.provider",
            "cloud.platform",
            "cloud.account.id",
            "cloud.availability_zone",
            "aws.ecs.cluster.arn",
            "aws.ecs.task.arn",
            "aws.ecs.task.family",
            "aws.ecs.task.id",
            "aws.ecs.task.revision",
            "aws.ecs.launchtype",
            "aws.log.group.names",
            "aws.log.group.arns",
            "aws.log.stream.names", // ecs (stream arns disabled)
            "host.id",
            "host.image.id",
            "host.type", // ec2 (host.name disabled)
        ]
    );
    assert_eq!(
        get(&a, "cloud.region"),
        Some(&AttrValue::Str("from-env".into()))
    );
    assert_eq!(
        get(&a, "cloud.platform"),
        Some(&AttrValue::Str("aws_ecs".into()))
    );
    assert_eq!(
        get(&a, "cloud.availability_zone"),
        Some(&AttrValue::Str("us-west-2d".into()))
    );
    assert_eq!(
        get(&a, "host.id"),
        Some(&AttrValue::Str("i-1234567890abcdef0".into()))
    );

    // The other order: ec2 wins the shared keys.
    let c = cfg("detectors: [ec2, ecs]\ntimeout: 2s");
    let a = detect_all(&c, &src, "resourcedetection").await.unwrap();
    assert_eq!(
        get(&a, "cloud.platform"),
        Some(&AttrValue::Str("aws_ec2".into()))
    );
    assert_eq!(
        get(&a, "cloud.availability_zone"),
        Some(&AttrValue::Str("us-west-2b".into()))
    );
    assert_eq!(
        get(&a, "host.name"),
        Some(&AttrValue::Str(
            "ip-172-31-7-2.us-west-2.compute.internal".into()
        ))
    );
    assert_eq!(
        get(&a, "aws.ecs.launchtype"),
        Some(&AttrValue::Str("fargate".into()))
    );
}

#[tokio::test]
async fn absent_platforms_add_nothing_without_network_waits() {
    let src = sources(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1")]);
    let c = cfg("detectors: [ecs, ec2, lambda, elastic_beanstalk]\ntimeout: 2s");
    let t = Instant::now();
    assert!(detect_all(&c, &src, "rd").await.unwrap().is_empty());
    assert!(t.elapsed() < Duration::from_secs(1));
    // Disabled IMDS, or inside Lambda: not even probed.
    let src = sources(&[("AWS_EC2_METADATA_DISABLED", "true")]);
    assert!(detect_all(&cfg("detectors: [ec2]"), &src, "rd")
        .await
        .unwrap()
        .is_empty());
    // A hanging IMDS is "not on EC2" after the probe timeout.
    let (hang, _) = fakes::imds(ImdsMode::Hang).await;
    let src = sources(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &hang)]);
    assert!(
        detect_all(&cfg("detectors: [ec2]\ntimeout: 3s"), &src, "rd")
            .await
            .unwrap()
            .is_empty()
    );
    // ... unless the config says missing metadata is an error.
    let e = detect_all(
        &cfg("detectors: [ec2]\ntimeout: 500ms\nfail_on_missing_metadata: true"),
        &src,
        "rd",
    )
    .await
    .unwrap_err();
    assert!(e.starts_with("detector `ec2`: "), "{e}");
}

#[tokio::test]
async fn present_but_failing_platforms_fail_the_start_naming_the_endpoint() {
    for mode in [EcsMode::TaskFails, EcsMode::TaskNotJson, EcsMode::Hang] {
        let ecs = fakes::ecs(mode).await;
        let src = sources(&[("ECS_CONTAINER_METADATA_URI_V4", &ecs)]);
        let t = Instant::now();
        let e = detect_all(&cfg("detectors: [ecs]\ntimeout: 600ms"), &src, "rd")
            .await
            .unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(2), "bounded by timeout");
        assert!(e.contains(&ecs), "{e}");
    }
    let (imds, _) = fakes::imds(ImdsMode::IdentityFails).await;
    let src = sources(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds)]);
    let e = detect_all(&cfg("detectors: [ec2]\ntimeout: 600ms"), &src, "rd")
        .await
        .unwrap_err();
    assert!(
        e.contains("/latest/dynamic/instance-identity/document: HTTP 500"),
        "{e}"
    );
    // A malformed variable cannot recover: no retries, the start fails at once.
    let src = sources(&[("OTEL_RESOURCE_ATTRIBUTES", "broken")]);
    let t = Instant::now();
    let e = detect_all(&cfg("detectors: [env]\ntimeout: 5s"), &src, "rd")
        .await
        .unwrap_err();
    assert!(e.contains("OTEL_RESOURCE_ATTRIBUTES"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn a_failing_detector_is_retried_until_the_deadline() {
    let ecs = fakes::ecs(EcsMode::Fargate).await;
    let (imds, state) = fakes::imds(ImdsMode::IdentityFails).await;
    let src = sources(&[
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds),
        ("ECS_CONTAINER_METADATA_URI_V4", &ecs),
    ]);
    let flip = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        *state.mode.lock().unwrap() = ImdsMode::Normal;
    });
    let a = detect_all(&cfg("detectors: [ec2]\ntimeout: 3s"), &src, "rd")
        .await
        .unwrap();
    flip.await.unwrap();
    assert_eq!(
        get(&a, "host.type"),
        Some(&AttrValue::Str("t3.medium".into()))
    );
}

#[test]
fn system_detector_sets_host_name_and_os_type_by_default() {
    let c = cfg("detectors: [system]\nsystem: {resource_attributes: {host.arch: {enabled: true}}}");
    let a = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(detect_all(&c, &sources(&[]), "rd"))
        .unwrap();
    let keys: Vec<&str> = a.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["host.name", "os.type", "host.arch"]);
    assert_eq!(get(&a, "os.type"), Some(&AttrValue::Str("linux".into())));
    // host.id from a missing machine-id file is an error naming the file.
    let c = cfg("detectors: [system]\nsystem: {resource_attributes: {host.id: {enabled: true}}}");
    let e = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(detect_all(&c, &sources(&[]), "rd"))
        .unwrap_err();
    assert!(e.contains("/nonexistent/machine-id"), "{e}");
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        key_strindex: 0,
    }
}

fn request() -> ExportTraceServiceRequest {
    let rs = |attrs: Vec<KeyValue>, spans: usize| ResourceSpans {
        resource: (!attrs.is_empty()).then(|| Resource {
            attributes: attrs,
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans: vec![Span::default(); spans],
            ..Default::default()
        }],
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![
            rs(
                vec![kv("service.name", "shop"), kv("cloud.region", "mine")],
                3,
            ),
            rs(vec![], 2),
        ],
    }
}

#[tokio::test]
async fn the_processor_merges_once_per_resource_respecting_override() {
    let id = ComponentId::parse("resourcedetection/env").unwrap();
    for (over, region) in [(true, "detected"), (false, "mine")] {
        let c = cfg(&format!("detectors: [env]\noverride: {over}"));
        let src = sources(&[(
            "OTEL_RESOURCE_ATTRIBUTES",
            "cloud.region=detected,host.name=h1",
        )]);
        c.detect(&id, &src).await.unwrap();
        let stage = c
            .build(&BuildContext::default(), &id, SignalKind::Traces)
            .unwrap();
        let ProcessorStage::Content(SignalProcessor::Traces(mut p)) = stage else {
            panic!("a traces content processor")
        };
        let mut batch = Batch::<Traces>::from_request(request());
        p.process(&mut batch).unwrap();
        let req = batch.request();
        let first = &req.resource_spans[0].resource.as_ref().unwrap().attributes;
        assert_eq!(
            first,
            &vec![
                kv("service.name", "shop"),
                kv("cloud.region", region),
                kv("host.name", "h1")
            ]
        );
        let second = &req.resource_spans[1].resource.as_ref().unwrap().attributes;
        assert_eq!(
            second,
            &vec![kv("cloud.region", "detected"), kv("host.name", "h1")]
        );
        assert_eq!(
            req.resource_spans[0].scope_spans[0].spans.len(),
            3,
            "spans untouched"
        );
    }
}

#[test]
fn build_before_detection_is_an_error() {
    let c = cfg("{}");
    let id = ComponentId::parse("resourcedetection").unwrap();
    let e = c
        .build(&BuildContext::default(), &id, SignalKind::Logs)
        .err()
        .unwrap();
    assert!(e.to_string().contains("has not run"), "{e}");
}
