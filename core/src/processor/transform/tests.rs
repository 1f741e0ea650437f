use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span::Event, ResourceSpans, ScopeSpans, Span};

use super::*;
use crate::component::Validate;

fn transform(yaml: &str, signal: SignalKind) -> Transform {
    let cfg: TransformConfig = serde_yaml_ng::from_str(yaml).unwrap();
    let issues = cfg.validate();
    assert!(issues.is_empty(), "{issues:?}");
    Transform::new("transform".into(), cfg.compile(signal).unwrap())
}

fn issues(yaml: &str) -> Vec<String> {
    let cfg: TransformConfig = serde_yaml_ng::from_str(yaml).unwrap();
    cfg.validate().iter().map(ToString::to_string).collect()
}

fn sv(s: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(s.into())),
    })
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: sv(v),
        ..Default::default()
    }
}

fn spans(list: &[(&str, &[(&str, &str)])]) -> Batch<Traces> {
    let spans = list
        .iter()
        .map(|(n, attrs)| Span {
            name: (*n).into(),
            attributes: attrs.iter().map(|(k, v)| kv(k, v)).collect(),
            events: vec![Event {
                name: "ev".into(),
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    Batch::from_request(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "checkout")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

fn str_of(v: &Option<AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        other => format!("{other:?}"),
    }
}

fn attrs(a: &[KeyValue]) -> Vec<(String, String)> {
    a.iter()
        .map(|k| (k.key.clone(), str_of(&k.value)))
        .collect()
}

fn span_view(b: &mut Batch<Traces>) -> Vec<(String, Vec<(String, String)>)> {
    b.request()
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .map(|s| (s.name.clone(), attrs(&s.attributes)))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

#[test]
fn set_where_edits_only_matching_spans() {
    let mut t = transform(
        "trace_statements:\n  - 'set(span.attributes[\"test\"], \"pass\") where span.name == \"x\"'\n",
        SignalKind::Traces,
    );
    let mut b = spans(&[("x", &[]), ("y", &[])]);
    t.process(&mut b).unwrap();
    assert_eq!(
        span_view(&mut b),
        [
            ("x".to_string(), pairs(&[("test", "pass")])),
            ("y".to_string(), vec![])
        ]
    );
}

#[test]
fn nothing_matching_leaves_the_encoding_alone() {
    use prost::Message;
    let yaml = |name: &str| {
        format!("trace_statements:\n  - 'set(span.attributes[\"test\"], \"pass\") where span.name == \"{name}\"'\n")
    };
    let req = spans(&[("x", &[])]).into_request();
    let bytes = bytes::Bytes::from(req.encode_to_vec());
    for (name, kept) in [("nope", true), ("x", false)] {
        let mut t = transform(&yaml(name), SignalKind::Traces);
        let mut b = Batch::<Traces>::from_encoded(bytes.clone()).unwrap();
        t.process(&mut b).unwrap();
        let same = b.encoded_parts().first().map(|p| p.as_ptr()) == Some(bytes.as_ptr());
        assert_eq!(same, kept, "{name}");
    }
}

#[test]
fn upstream_examples_in_groups() {
    let mut t = transform(
        r#"
trace_statements:
  - context: resource
    statements:
      - 'set(attributes["env"], "prod")'
  - context: span
    conditions:
      - 'attributes["http.route"] != nil'
      - 'name == "keep"'
    statements:
      - 'replace_pattern(attributes["user"], "^user-(\\d+)$", "id-$1")'
      - 'delete_key(attributes, "secret")'
      - 'limit(attributes, 2, ["user"])'
      - 'truncate_all(attributes, 5)'
      - 'set(name, Concat(["route", attributes["http.route"]], " "))'
"#,
        SignalKind::Traces,
    );
    let mut b = spans(&[
        (
            "a",
            &[
                ("http.route", "/items"),
                ("secret", "s"),
                ("user", "user-42"),
                ("extra", "e"),
            ],
        ),
        ("skipped", &[("secret", "s"), ("user", "user-1")]),
    ]);
    t.process(&mut b).unwrap();
    assert_eq!(
        span_view(&mut b),
        [
            (
                "route /item".to_string(),
                pairs(&[("http.route", "/item"), ("user", "id-42")])
            ),
            (
                "skipped".to_string(),
                pairs(&[("secret", "s"), ("user", "user-1")])
            ),
        ]
    );
    let res = &b.request().resource_spans[0].resource;
    assert_eq!(
        attrs(&res.as_ref().unwrap().attributes),
        pairs(&[("service.name", "checkout"), ("env", "prod")])
    );
}

#[test]
fn statements_run_in_order_per_item() {
    let mut t = transform(
        r#"
trace_statements:
  - 'set(span.attributes["a"], "1")'
  - 'set(span.name, "renamed") where span.attributes["a"] == "1"'
  - 'set(spanevent.name, Concat([span.name, "ev"], "-"))'
"#,
        SignalKind::Traces,
    );
    let mut b = spans(&[("x", &[])]);
    t.process(&mut b).unwrap();
    let sp = &b.request().resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(sp.name, "renamed");
    assert_eq!(sp.events[0].name, "renamed-ev");
}

#[test]
fn error_modes() {
    let stmt = "  - 'set(span.attributes[\"b\"], Split(span.attributes[\"x\"], \",\")[3])'\n  - 'set(span.attributes[\"after\"], \"yes\")'\n";
    for (mode, outcome) in [
        ("ignore", Ok(pairs(&[("x", "q"), ("after", "yes")]))),
        ("silent", Ok(pairs(&[("x", "q"), ("after", "yes")]))),
        ("propagate", Err(())),
    ] {
        let mut t = transform(
            &format!("error_mode: {mode}\ntrace_statements:\n{stmt}"),
            SignalKind::Traces,
        );
        let mut b = spans(&[("a", &[("x", "q")])]);
        let got = t
            .process(&mut b)
            .map(|()| span_view(&mut b)[0].1.clone())
            .map_err(|_| ());
        assert_eq!(got, outcome, "{mode}");
    }
    // A group's error_mode overrides the top level.
    let mut t = transform(
        r#"
error_mode: propagate
trace_statements:
  - context: span
    error_mode: silent
    statements:
      - 'set(attributes["b"], Split(attributes["x"], ",")[3])'
      - 'set(attributes["after"], "yes")'
"#,
        SignalKind::Traces,
    );
    let mut b = spans(&[("a", &[("x", "q")])]);
    t.process(&mut b).unwrap();
    assert_eq!(
        span_view(&mut b)[0].1,
        pairs(&[("x", "q"), ("after", "yes")])
    );
}

#[test]
fn logs_and_metrics() {
    let mut t = transform(
        "log_statements:\n  - 'set(log.severity_text, \"WARN\") where IsMatch(log.body, \"warn\")'\n  - 'delete_key(log.attributes, \"pw\")'\n",
        SignalKind::Logs,
    );
    let mut b = Batch::<Logs>::from_request(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    body: sv("a warning"),
                    attributes: vec![kv("pw", "x"), kv("k", "v")],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    t.process(&mut b).unwrap();
    let l = &b.request().resource_logs[0].scope_logs[0].log_records[0];
    assert_eq!(l.severity_text, "WARN");
    assert_eq!(attrs(&l.attributes), pairs(&[("k", "v")]));

    let mut t = transform(
        r#"
metric_statements:
  - context: metric
    statements: ['set(name, "renamed") where name == "m"']
  - context: datapoint
    statements: ['set(attributes["n"], metric.name)']
"#,
        SignalKind::Metrics,
    );
    let mut b = Batch::<Metrics>::from_request(ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "m".into(),
                    data: Some(metric::Data::Gauge(Gauge {
                        data_points: vec![NumberDataPoint::default(); 2],
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    t.process(&mut b).unwrap();
    let m = &b.request().resource_metrics[0].scope_metrics[0].metrics[0];
    assert_eq!(m.name, "renamed");
    let Some(metric::Data::Gauge(g)) = &m.data else {
        panic!("gauge expected")
    };
    for p in &g.data_points {
        assert_eq!(attrs(&p.attributes), pairs(&[("n", "renamed")]));
    }
}

#[test]
fn config_errors_are_all_reported_with_path_and_column() {
    let got = issues(
        r#"
flatten_data: true
trace_statements:
  - 'set(nme, "x")'
  - context: spn
    statements: ['set(name, "x")']
  - context: span
    conditions: ['name == Nope(1)']
    statements: ['set(name, 1, 2)', 'set(name, "ok")']
log_statements:
  - 'set(span.name, "x")'
"#,
    );
    assert_eq!(got.len(), 6, "{got:?}");
    assert!(got[0].starts_with("flatten_data: "), "{got:?}");
    assert!(
        got[1].starts_with("trace_statements::0: column 5: path 'nme' must start with a context"),
        "{got:?}"
    );
    assert!(
        got[2].starts_with("trace_statements::1::context: unknown context 'spn'"),
        "{got:?}"
    );
    assert!(
        got[3].starts_with("trace_statements::2::conditions::0: column 9: unknown converter Nope"),
        "{got:?}"
    );
    assert!(
        got[4].starts_with("trace_statements::2::statements::0: column 14: set takes at most 2"),
        "{got:?}"
    );
    assert!(
        got[5].starts_with(
            "log_statements::0: column 5: path 'span.name' must start with a context such as log."
        ),
        "{got:?}"
    );
}

#[test]
fn malformed_entries_say_what_is_wrong() {
    let err = |yaml: &str| {
        serde_yaml_ng::from_str::<TransformConfig>(yaml)
            .unwrap_err()
            .to_string()
    };
    let e = err("trace_statements:\n  - context: span\n    statement: ['set(name, \"x\")']\n");
    assert!(e.contains("unknown field `statement`"), "{e}");
    let e = err("log_statements:\n  - 42\n");
    assert!(e.contains("expected an OTTL statement string"), "{e}");
    let e = err("trace_statements:\n  - context: span\n    error_mode: loud\n");
    assert!(e.contains("loud"), "{e}");
}
