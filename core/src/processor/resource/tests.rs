//! The `resource` processor on the three signals, through the factory.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::ResourceMetrics;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

use super::*;
use crate::otlp::attrs;
use crate::processor::attraction::ActionConfig;

fn s(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(attrs::string(v)),
        ..Default::default()
    }
}

fn processor(yaml: &str) -> ResourceProcessor {
    let cfg: ResourceConfig = serde_yaml_ng::from_str(yaml).unwrap();
    ResourceProcessor::new(Arc::new(cfg.actions().unwrap()))
}

const README: &str = r#"
attributes:
  - { key: cloud.availability_zone, value: zone-1, action: upsert }
  - { key: k8s.cluster.name, from_attribute: k8s-cluster, action: insert }
  - { key: redundant-attribute, action: delete }
"#;

fn spans_on(resources: Vec<Option<Vec<KeyValue>>>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: resources
            .into_iter()
            .map(|r| ResourceSpans {
                resource: r.map(|attributes| Resource {
                    attributes,
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        name: "s".into(),
                        attributes: vec![s("redundant-attribute", "kept on spans")],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
}

#[test]
fn readme_example_on_traces_changes_resources_only() {
    let mut p = processor(README);
    let mut batch = Batch::<Traces>::from_request(spans_on(vec![
        Some(vec![
            s("k8s-cluster", "prod"),
            s("redundant-attribute", "x"),
        ]),
        None,
    ]));
    Processor::<Traces>::process(&mut p, &mut batch).unwrap();
    let req = batch.into_request();
    let res: Vec<Vec<KeyValue>> = req
        .resource_spans
        .iter()
        .map(|r| r.resource.clone().unwrap_or_default().attributes)
        .collect();
    assert_eq!(
        res,
        [
            vec![
                s("k8s-cluster", "prod"),
                s("cloud.availability_zone", "zone-1"),
                s("k8s.cluster.name", "prod"),
            ],
            vec![s("cloud.availability_zone", "zone-1")],
        ]
    );
    for r in &req.resource_spans {
        assert_eq!(
            r.scope_spans[0].spans[0].attributes,
            [s("redundant-attribute", "kept on spans")]
        );
    }
}

#[test]
fn metrics_and_logs_resources_are_changed_too() {
    let mut p = processor(README);
    let mut metrics = Batch::<Metrics>::from_request(ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![s("redundant-attribute", "x")],
                ..Default::default()
            }),
            ..Default::default()
        }],
    });
    Processor::<Metrics>::process(&mut p, &mut metrics).unwrap();
    let got = metrics.into_request().resource_metrics[0]
        .resource
        .clone()
        .unwrap();
    assert_eq!(got.attributes, [s("cloud.availability_zone", "zone-1")]);

    let mut logs = Batch::<Logs>::from_request(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: None,
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord::default()],
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    Processor::<Logs>::process(&mut p, &mut logs).unwrap();
    let got = logs.into_request().resource_logs[0]
        .resource
        .clone()
        .unwrap();
    assert_eq!(got.attributes, [s("cloud.availability_zone", "zone-1")]);
}

#[test]
fn an_unchanged_batch_keeps_its_encoding() {
    let mut p = processor(README);
    let req = spans_on(vec![Some(vec![s("cloud.availability_zone", "zone-1")])]);
    let bytes = bytes::Bytes::from(req.encode_to_vec());
    let mut batch = Batch::<Traces>::from_encoded(bytes.clone()).unwrap();
    Processor::<Traces>::process(&mut p, &mut batch).unwrap();
    assert_eq!(
        batch.to_bytes().as_ptr(),
        bytes.as_ptr(),
        "the original bytes are reused"
    );
    // A change drops it.
    let req = spans_on(vec![Some(vec![s("cloud.availability_zone", "zone-0")])]);
    let bytes = bytes::Bytes::from(req.encode_to_vec());
    let mut batch = Batch::<Traces>::from_encoded(bytes.clone()).unwrap();
    Processor::<Traces>::process(&mut p, &mut batch).unwrap();
    assert_ne!(batch.to_bytes(), bytes);
}

#[test]
fn config_errors_carry_the_processor_path() {
    let parse = |yaml: &str| {
        ResourceFactory
            .parse(
                "processors::resource",
                &serde_yaml_ng::from_str(yaml).unwrap(),
            )
            .err()
            .unwrap()
    };
    let e = parse("{}");
    assert_eq!(
        e[0].to_string(),
        "processors::resource::attributes: at least one action is required"
    );
    let e = parse("attributes: [{key: a, action: move}, {action: insert, key: b}]");
    let got: Vec<String> = e.iter().map(|i| i.path.clone()).collect();
    assert_eq!(
        got,
        [
            "processors::resource::attributes[0]::action",
            "processors::resource::attributes[1]"
        ]
    );
    let e = parse("actions: []");
    assert!(e[0].message.contains("unknown field `actions`"), "{e:?}");
    let ok: ActionConfig = serde_yaml_ng::from_str("{key: a, action: delete}").unwrap();
    assert_eq!(ok.key, "a");
}
