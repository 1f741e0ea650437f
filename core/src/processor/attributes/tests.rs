//! The `attributes` processor: actions on spans, logs and data points, the
//! include/exclude properties of each signal, and its config errors.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Av;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, ResourceSpans, ScopeSpans, Span};

use super::*;
use crate::component::{BuildContext, ProcessorFactory};

fn s(k: &str, v: &str) -> KeyValue {
    kv(k, Av::StringValue(v.into()))
}

fn kv(k: &str, v: Av) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn compiled(yaml: &str) -> Arc<Compiled> {
    let cfg: AttributesConfig = serde_yaml_ng::from_str(yaml).unwrap();
    let (actions, include, exclude) = cfg.compile().unwrap();
    Arc::new(Compiled {
        actions,
        include,
        exclude,
    })
}

fn resource(attrs: Vec<KeyValue>) -> Option<Resource> {
    Some(Resource {
        attributes: attrs,
        ..Default::default()
    })
}

/// One resource with one scope holding `spans`.
fn traces(res: Vec<KeyValue>, scope: (&str, &str), spans: Vec<Span>) -> ResourceSpans {
    ResourceSpans {
        resource: resource(res),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: scope.0.into(),
                version: scope.1.into(),
                ..Default::default()
            }),
            spans,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn span(name: &str, kind: SpanKind, attributes: Vec<KeyValue>) -> Span {
    Span {
        name: name.into(),
        kind: kind as i32,
        attributes,
        ..Default::default()
    }
}

/// Runs the processor on spans and returns every span's attributes, in order.
fn run_traces(yaml: &str, rs: Vec<ResourceSpans>) -> Vec<Vec<KeyValue>> {
    let mut p = AttributesProcessor::new(compiled(yaml));
    let mut batch = Batch::<Traces>::from_request(ExportTraceServiceRequest { resource_spans: rs });
    Processor::<Traces>::process(&mut p, &mut batch).unwrap();
    batch
        .into_request()
        .resource_spans
        .into_iter()
        .flat_map(|r| r.scope_spans)
        .flat_map(|s| s.spans)
        .map(|s| s.attributes)
        .collect()
}

const MARK: &str = "actions: [{ key: hit, value: true, action: upsert }]\n";

fn hit(mut attrs: Vec<KeyValue>) -> Vec<KeyValue> {
    attrs.push(kv("hit", Av::BoolValue(true)));
    attrs
}

#[test]
fn readme_include_exclude_on_spans() {
    // Upstream README shape: strict services and span names included, spans with
    // a given attribute excluded; credit_card and duplicate_key deleted.
    let yaml = r#"
include:
  match_type: strict
  services: [auth-service, login-service]
exclude:
  match_type: strict
  attributes: [{ key: redact_trace, value: false }]
actions:
  - { key: credit_card, action: delete }
  - { key: duplicate_key, action: delete }
"#;
    let secret = || {
        vec![
            s("credit_card", "4111"),
            s("duplicate_key", "x"),
            s("keep", "k"),
        ]
    };
    let mut excluded = secret();
    excluded.push(kv("redact_trace", Av::BoolValue(false)));
    let mut string_false = secret();
    string_false.push(s("redact_trace", "false"));
    let got = run_traces(
        yaml,
        vec![
            traces(
                vec![s("service.name", "auth-service")],
                ("", ""),
                vec![
                    span("a", SpanKind::Server, secret()),
                    span("b", SpanKind::Server, excluded.clone()),
                    span("c", SpanKind::Server, string_false),
                ],
            ),
            traces(
                vec![s("service.name", "billing")],
                ("", ""),
                vec![span("d", SpanKind::Server, secret())],
            ),
        ],
    );
    assert_eq!(
        got,
        [
            vec![s("keep", "k")],
            excluded,
            // A string "false" is not the bool false under strict matching.
            vec![s("keep", "k"), s("redact_trace", "false")],
            secret(),
        ]
    );
}

#[test]
fn regexp_services_span_names_and_kinds() {
    let yaml = format!(
        "{MARK}include:\n  match_type: regexp\n  services: ['auth.*', '^<nil']\n  span_names: ['login']\n  span_kinds: ['SERVER$']\n"
    );
    let got = run_traces(
        &yaml,
        vec![
            traces(
                vec![s("service.name", "x-authz")],
                ("", ""),
                vec![
                    span("user-login-v2", SpanKind::Server, vec![]),
                    span("user-login-v2", SpanKind::Client, vec![]),
                    span("logout", SpanKind::Server, vec![]),
                ],
            ),
            // No service.name: "<nil-service-name>" is matched.
            traces(
                vec![],
                ("", ""),
                vec![span("login", SpanKind::Server, vec![])],
            ),
        ],
    );
    assert_eq!(got, [hit(vec![]), vec![], vec![], hit(vec![])]);
}

#[test]
fn attributes_resources_and_libraries_all_must_match() {
    let yaml = format!(
        r#"{MARK}include:
  match_type: strict
  attributes: [{{ key: code, value: 200 }}, {{ key: route }}]
  resources: [{{ key: env, value: prod }}]
  libraries: [{{ name: lib }}, {{ name: lib, version: "" }}]
"#
    );
    let ok = || vec![kv("code", Av::IntValue(200)), s("route", "/")];
    let got = run_traces(
        &yaml,
        vec![
            traces(
                vec![s("env", "prod")],
                ("lib", ""),
                vec![
                    span("a", SpanKind::Internal, ok()),
                    span(
                        "b",
                        SpanKind::Internal,
                        vec![s("code", "200"), s("route", "/")],
                    ),
                    span("c", SpanKind::Internal, vec![kv("code", Av::IntValue(200))]),
                    span("d", SpanKind::Internal, vec![]),
                ],
            ),
            // The second library entry wants an empty version.
            traces(
                vec![s("env", "prod")],
                ("lib", "1.0"),
                vec![span("e", SpanKind::Internal, ok())],
            ),
            traces(
                vec![s("env", "dev")],
                ("lib", ""),
                vec![span("f", SpanKind::Internal, ok())],
            ),
        ],
    );
    assert_eq!(
        got,
        [
            hit(ok()),
            vec![s("code", "200"), s("route", "/")],
            vec![kv("code", Av::IntValue(200))],
            vec![],
            ok(),
            ok(),
        ]
    );
    // regexp matches ints, doubles and bools as text; never maps or bytes.
    let yaml = format!(
        "{MARK}include:\n  match_type: regexp\n  attributes: [{{ key: v, value: '^2' }}]\n"
    );
    let vals = [
        (Av::IntValue(200), true),
        (Av::DoubleValue(2.5), true),
        (Av::StringValue("2x".into()), true),
        (Av::BoolValue(true), false),
        (Av::BytesValue(b"2".to_vec()), false),
    ];
    for (v, want) in vals {
        let got = run_traces(
            &yaml,
            vec![traces(
                vec![],
                ("", ""),
                vec![span("a", SpanKind::Internal, vec![kv("v", v.clone())])],
            )],
        );
        assert_eq!(got[0].len() == 2, want, "{v:?}");
    }
}

fn log(body: Option<&str>, sev: i32, text: &str) -> LogRecord {
    LogRecord {
        body: body.map(|b| AnyValue {
            value: Some(Av::StringValue(b.into())),
        }),
        severity_number: sev,
        severity_text: text.into(),
        ..Default::default()
    }
}

#[test]
fn logs_bodies_severity_and_exclusion() {
    let yaml = format!(
        r#"{MARK}include:
  match_type: regexp
  log_bodies: ['fail']
  log_severity_number: {{ min: WARN, match_undefined: true }}
exclude:
  match_type: strict
  log_severity_texts: [IGNORED]
"#
    );
    let records = vec![
        log(Some("it failed"), 17, "ERROR"),
        log(Some("it failed"), 9, "INFO"),
        log(Some("it failed"), 0, ""),
        log(Some("ok"), 17, "ERROR"),
        log(None, 17, "ERROR"),
        log(Some("it failed"), 13, "IGNORED"),
    ];
    let mut p = AttributesProcessor::new(compiled(&yaml));
    let mut batch = Batch::<Logs>::from_request(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    Processor::<Logs>::process(&mut p, &mut batch).unwrap();
    let hits: Vec<bool> = batch.into_request().resource_logs[0].scope_logs[0]
        .log_records
        .iter()
        .map(|l| !l.attributes.is_empty())
        .collect();
    assert_eq!(hits, [true, false, true, false, false, false]);
}

fn number_points(n: usize) -> Vec<NumberDataPoint> {
    (0..n)
        .map(|_| NumberDataPoint {
            attributes: vec![s("pod", "p")],
            ..Default::default()
        })
        .collect()
}

#[test]
fn metrics_change_every_data_point_of_selected_metrics() {
    let yaml = r#"
actions: [{ key: pod, action: delete }]
include: { match_type: strict, metric_names: [requests], resources: [{ key: env }] }
"#;
    let metrics = vec![
        Metric {
            name: "requests".into(),
            data: Some(metric::Data::Sum(Sum {
                data_points: number_points(2),
                ..Default::default()
            })),
            ..Default::default()
        },
        Metric {
            name: "other".into(),
            data: Some(metric::Data::Gauge(Gauge {
                data_points: number_points(1),
            })),
            ..Default::default()
        },
    ];
    let mut p = AttributesProcessor::new(compiled(yaml));
    let mut batch = Batch::<Metrics>::from_request(ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(vec![s("env", "prod")]),
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    Processor::<Metrics>::process(&mut p, &mut batch).unwrap();
    assert_eq!(batch.items(), 3, "no data point is dropped");
    let req = batch.into_request();
    let mut counts = Vec::new();
    for m in &req.resource_metrics[0].scope_metrics[0].metrics {
        attrs::for_each_data_point(m, |a| counts.push(a.len()));
    }
    assert_eq!(counts, [0, 0, 1]);
}

#[test]
fn a_batch_with_nothing_to_change_keeps_its_encoding() {
    use prost::Message;
    let req = ExportTraceServiceRequest {
        resource_spans: vec![traces(
            vec![],
            ("", ""),
            vec![span("a", SpanKind::Internal, vec![s("x", "1")])],
        )],
    };
    let bytes = bytes::Bytes::from(req.encode_to_vec());
    let mut batch = Batch::<Traces>::from_encoded(bytes.clone()).unwrap();
    let mut p = AttributesProcessor::new(compiled("actions: [{ key: secret, action: delete }]"));
    Processor::<Traces>::process(&mut p, &mut batch).unwrap();
    assert_eq!(batch.to_bytes().as_ptr(), bytes.as_ptr());
}

fn parse_errors(yaml: &str) -> Vec<String> {
    AttributesFactory
        .parse(
            "processors::attributes",
            &serde_yaml_ng::from_str(yaml).unwrap(),
        )
        .err()
        .unwrap()
        .into_iter()
        .map(|i| i.to_string())
        .collect()
}

#[test]
fn every_config_error_is_reported_at_once() {
    let got = parse_errors(
        r#"
actions: [{ key: a, action: nope }]
include:
  services: [a]
  span_kinds: [SERVER]
  log_bodies: [x]
  log_severity_number: { min: LOUD }
exclude:
  match_type: regexp
  span_names: ['(']
  attributes: [{ key: k, value: 1 }, { value: x }]
"#,
    );
    let want = [
        "processors::attributes::actions[0]::action: unknown action \"nope\"",
        "processors::attributes::include::match_type: match_type is required",
        "processors::attributes::include: services, span_kinds, log_bodies, log_severity_number cannot be used together",
        "processors::attributes::include::span_kinds[0]: unknown span kind \"SERVER\"",
        "processors::attributes::include::log_severity_number::min: invalid severity",
        "processors::attributes::exclude::span_names[0]: invalid regular expression \"(\"",
        "processors::attributes::exclude::attributes[0]::value: with match_type regexp the value must be a string pattern",
        "processors::attributes::exclude::attributes[1]::key: missing required field \"key\"",
    ];
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for (g, w) in got.iter().zip(want) {
        assert!(g.starts_with(w), "{g}\n  does not start with\n{w}");
    }
    let got = parse_errors("include: { match_type: strict }");
    assert!(got[0].starts_with("processors::attributes::actions: at least one action is required"));
    assert!(got[1].starts_with("processors::attributes::include: set at least one property"));
    let got = parse_errors("actions: [{ key: a, action: delete }]\ninclude: { match_type: strict, span_names: [a], expressions: [x] }");
    assert!(got[0].contains("unknown field `expressions`"), "{got:?}");
}

#[test]
fn selectors_of_another_signal_fail_the_build() {
    let cfg = AttributesFactory
        .parse(
            "p",
            &serde_yaml_ng::from_str(
                "actions: [{ key: a, action: delete }]\ninclude: { match_type: strict, span_names: [x], libraries: [{name: l}] }",
            )
            .unwrap(),
        )
        .unwrap();
    let ctx = BuildContext::default();
    let id = ComponentId::parse("attributes/x").unwrap();
    assert!(cfg.build(&ctx, &id, SignalKind::Traces).is_ok());
    let Err(e) = cfg.build(&ctx, &id, SignalKind::Logs) else {
        panic!("span_names on logs must fail");
    };
    assert!(
        e.to_string()
            .contains("include: span_names cannot match logs"),
        "{e}"
    );
    assert!(cfg.build(&ctx, &id, SignalKind::Metrics).is_err());
}

/// The worked example of the README's "Attribute processors" section.
#[test]
fn tern_readme_worked_example() {
    let yaml = r#"
include:
  match_type: regexp
  services: ["^checkout"]
exclude:
  match_type: strict
  attributes: [{ key: redact, value: false }]
actions:
  - { key: user.email, action: hash }
  - { pattern: "^credit_card", action: delete }
  - { key: http.status_code, action: convert, converted_type: int }
  - { key: http.url, pattern: '^(?P<http_scheme>[a-z]+)://(?P<http_host>[^/]+)', action: extract }
"#;
    let input = || {
        vec![
            s("user.email", "a@b.c"),
            s("credit_card_no", "4111"),
            s("http.status_code", "200"),
            s("http.url", "https://shop.example/cart"),
        ]
    };
    let got = run_traces(
        yaml,
        vec![
            traces(
                vec![s("service.name", "checkout-api")],
                ("", ""),
                vec![span("a", SpanKind::Server, input())],
            ),
            traces(
                vec![s("service.name", "cart")],
                ("", ""),
                vec![span("b", SpanKind::Server, input())],
            ),
        ],
    );
    assert_eq!(
        got[0],
        [
            s(
                "user.email",
                "d648b243a3e817eaa3309e00e183483f2867baadf522099f0c2121770536b25a"
            ),
            kv("http.status_code", Av::IntValue(200)),
            s("http.url", "https://shop.example/cart"),
            s("http_scheme", "https"),
            s("http_host", "shop.example"),
        ]
    );
    assert_eq!(got[1], input(), "another service is not included");
}
