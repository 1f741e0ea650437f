#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    any_value::Value as V, AnyValue, ArrayValue, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span::Event, ResourceSpans, ScopeSpans, Span};
use prost::Message;

use super::*;
use crate::otlp::attrs::as_string_opt as as_string;

fn cfg(yaml: &str) -> RedactionConfig {
    let raw: Value = serde_yaml_ng::from_str(yaml).unwrap();
    parse_config::<RedactionConfig>("processors::redaction", &raw).unwrap()
}

fn redactor(yaml: &str) -> Redactor {
    Redactor::new(&cfg(yaml)).unwrap()
}

fn kv(k: &str, v: V) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn s(k: &str, v: &str) -> KeyValue {
    kv(k, V::StringValue(v.into()))
}

/// Attributes as sorted `key=text` lines, for exact comparisons.
fn dump(attrs: &[KeyValue]) -> Vec<String> {
    let mut v: Vec<String> = attrs
        .iter()
        .map(|a| format!("{}={}", a.key, as_string(a.value.as_ref())))
        .collect();
    v.sort();
    v
}

fn redact(r: &Redactor, mut attrs: Vec<KeyValue>) -> Vec<String> {
    r.attributes(&mut attrs);
    dump(&attrs)
}

/// The upstream README example (allow list, ignored key, card patterns, debug summary).
#[test]
fn readme_example_golden() {
    let r = redactor(
        r#"
allow_all_keys: false
allowed_keys: [description, group, id, name]
ignored_keys: [safe_attribute]
blocked_values:
  - "4[0-9]{12}(?:[0-9]{3})?"
  - "(5[1-5][0-9]{14})"
summary: debug
"#,
    );
    let out = redact(
        &r,
        vec![
            s("id", "1"),
            s("name", "checkout"),
            s(
                "description",
                "paid with 4111111111111111 and 5500000000000004",
            ),
            s("group", "shop"),
            s("safe_attribute", "4111111111111111"),
            s("credit_card", "4111111111111111"),
            s("birth_date", "1970-01-01"),
        ],
    );
    assert_eq!(
        out,
        vec![
            "description=paid with **** and ****",
            "group=shop",
            "id=1",
            "name=checkout",
            "redaction.ignored.count=1",
            "redaction.masked.count=1",
            "redaction.masked.keys=description",
            "redaction.redacted.count=2",
            "redaction.redacted.keys=birth_date,credit_card",
            "safe_attribute=4111111111111111",
        ]
    );
}

/// The patterns the README documents, against a built-in set of secrets.
const DOCUMENTED: &str = r#"
allow_all_keys: true
blocked_values:
  - "\\b4[0-9]{12}(?:[0-9]{3})?\\b"
  - "\\b5[1-5][0-9]{14}\\b"
  - "\\b3[47][0-9]{13}\\b"
  - "\\b[0-9]{4}[ -][0-9]{4}[ -][0-9]{4}[ -][0-9]{4}\\b"
  - "[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}"
  - "\\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\\b"
summary: info
"#;

#[test]
fn documented_patterns_mask_cards_emails_and_access_keys() {
    let r = redactor(DOCUMENTED);
    let secrets = [
        "4111111111111111",
        "4012888888881881",
        "4222222222222",
        "5555555555554444",
        "5105105105105100",
        "378282246310005",
        "371449635398431",
        "4111 1111 1111 1111",
        "5555-5555-5555-4444",
        "jane.doe@example.com",
        "ops+alerts@mail.example.co.uk",
        "AKIAIOSFODNN7EXAMPLE",
        "ASIAY34FZKBOKMUTVV7A",
    ];
    for secret in secrets {
        let out = redact(&r, vec![s("msg", &format!("user {secret} done"))]);
        assert_eq!(
            out,
            vec!["msg=user **** done", "redaction.masked.count=1"],
            "{secret}"
        );
    }
    // Lookalikes stay: too short, wrong prefix, or inside a longer token.
    for clean in [
        "order 12345",
        "4111111",
        "id 941111111111111111",
        "AKIA1234",
        "not-an-email@",
        "2024-01-01",
    ] {
        assert_eq!(
            redact(&r, vec![s("msg", clean)]),
            vec![format!("msg={clean}")]
        );
    }
}

#[test]
fn empty_allow_list_deletes_every_attribute() {
    let r = redactor("summary: info");
    assert_eq!(
        redact(&r, vec![s("a", "1"), s("b", "2")]),
        vec!["redaction.redacted.count=2"]
    );
    let silent = redactor("{}");
    assert!(redact(&silent, vec![s("a", "1")]).is_empty());
}

#[test]
fn rule_order_ignored_then_allow_list_then_allowed_values_then_blocked_keys() {
    let r = redactor(
        r#"
allowed_keys: [password, token, note, ignored]
ignored_keys: [ignored]
blocked_key_patterns: ["^pass", "token"]
blocked_values: ["secret"]
allowed_values: ["^public-"]
summary: debug
"#,
    );
    let out = redact(
        &r,
        vec![
            s("ignored", "secret"),
            s("password", "hunter2"),
            s("token", "public-abc"),
            s("note", "a secret and another secret"),
            s("dropped", "x"),
        ],
    );
    assert_eq!(
        out,
        vec![
            "ignored=secret",
            "note=a **** and another ****",
            "password=****",
            "redaction.allowed.count=1",
            "redaction.allowed.keys=token",
            "redaction.ignored.count=1",
            "redaction.masked.count=2",
            "redaction.masked.keys=note,password",
            "redaction.redacted.count=1",
            "redaction.redacted.keys=dropped",
            "token=public-abc",
        ]
    );
}

#[test]
fn non_strings_are_examined_only_with_redact_all_types() {
    let yaml =
        "allow_all_keys: true\nblocked_values: [\"4[0-9]{15}\"]\nblocked_key_patterns: [pin]";
    let attrs = || {
        vec![
            kv("card", V::IntValue(4111111111111111)),
            kv("pin", V::IntValue(1234)),
            kv("ok", V::BoolValue(true)),
        ]
    };
    // Without it, numbers are not scanned; a blocked key is masked whatever its type.
    assert_eq!(
        redact(&redactor(yaml), attrs()),
        vec!["card=4111111111111111", "ok=true", "pin=****"]
    );
    let mut all = attrs();
    redactor(&format!("{yaml}\nredact_all_types: true")).attributes(&mut all);
    assert_eq!(dump(&all), vec!["card=****", "ok=true", "pin=****"]);
    assert!(matches!(
        all[0].value.as_ref().unwrap().value,
        Some(V::StringValue(_))
    ));
    assert!(matches!(
        all[2].value.as_ref().unwrap().value,
        Some(V::BoolValue(true))
    ));
}

#[test]
fn hmac_hashes_the_matched_text_only() {
    // RFC 4231 test case 2.
    let r = redactor(
        "allow_all_keys: true\nblocked_values: [\"what do ya want for nothing\\\\?\"]\nhash_function: hmac-sha256\nhmac_key: Jefe",
    );
    assert_eq!(
        redact(&r, vec![s("q", "<what do ya want for nothing?>")]),
        vec!["q=<5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843>"]
    );
    let r = redactor(
        "allow_all_keys: true\nblocked_key_patterns: [q]\nhash_function: hmac-sha512\nhmac_key: Jefe",
    );
    assert_eq!(
        redact(&r, vec![s("q", "what do ya want for nothing?")]),
        vec!["q=164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"]
    );
}

#[test]
fn dot_star_masks_once() {
    let r = redactor("allow_all_keys: true\nblocked_values: [\".*\"]");
    assert_eq!(redact(&r, vec![s("a", "abc")]), vec!["a=****"]);
    let r = redactor("allow_all_keys: true\nblocked_key_patterns: [a]");
    assert_eq!(redact(&r, vec![s("a", "")]), vec!["a=****"]);
}

#[test]
fn summaries_merge_across_two_processors() {
    let first = redactor("allowed_keys: [a, b]\nblocked_values: [x]\nsummary: debug");
    let second = redactor("allowed_keys: [a]\nblocked_values: [y]\nsummary: debug");
    let mut attrs = vec![s("a", "xy"), s("b", "1"), s("c", "2")];
    first.attributes(&mut attrs);
    second.attributes(&mut attrs);
    assert_eq!(
        dump(&attrs),
        vec![
            "a=********",
            "redaction.masked.count=2",
            "redaction.masked.keys=a,a",
            "redaction.redacted.count=2",
            "redaction.redacted.keys=b,c",
        ]
    );
}

#[test]
fn log_bodies_are_redacted_recursively_with_body_summaries() {
    let r = redactor(
        "allowed_keys: [user, items, msg, id, level]\nignored_keys: [level]\nblocked_key_patterns: [\"^id$\"]\nblocked_values: [\"[a-z]+@example\\\\.com\"]\nsummary: debug",
    );
    let mut body = Some(AnyValue {
        value: Some(V::KvlistValue(KeyValueList {
            values: vec![
                kv(
                    "user",
                    V::KvlistValue(KeyValueList {
                        values: vec![
                            s("id", "42"),
                            s("ssn", "1"),
                            s("msg", "mail bob@example.com"),
                        ],
                    }),
                ),
                kv(
                    "items",
                    V::ArrayValue(ArrayValue {
                        values: vec![AnyValue {
                            value: Some(V::StringValue("ann@example.com".into())),
                        }],
                    }),
                ),
                s("level", "x"),
                s("secret", "y"),
            ],
        })),
    });
    let mut attrs = vec![s("msg", "hi")];
    r.log_body(&mut body, &mut attrs);
    assert_eq!(
        as_string(body.as_ref()),
        r#"{"items":["****"],"level":"x","user":{"id":"****","msg":"mail ****"}}"#
    );
    assert_eq!(
        dump(&attrs),
        vec![
            "msg=hi",
            "redaction.body.ignored.count=1",
            "redaction.body.masked.count=3",
            "redaction.body.masked.keys=items.[0],user.id,user.msg",
            "redaction.body.redacted.count=2",
            "redaction.body.redacted.keys=secret,user.ssn",
        ]
    );
    // A string body is masked in place.
    let mut body = Some(AnyValue {
        value: Some(V::StringValue("from joe@example.com".into())),
    });
    let mut attrs = Vec::new();
    r.log_body(&mut body, &mut attrs);
    assert_eq!(as_string(body.as_ref()), "from ****");
    assert_eq!(
        dump(&attrs),
        vec![
            "redaction.body.masked.count=1",
            "redaction.body.masked.keys=body"
        ]
    );
}

fn traces_req() -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![s("service.name", "shop"), s("owner", "a@b.io")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    name: "pay".into(),
                    attributes: vec![s("card", "4111111111111111")],
                    events: vec![Event {
                        name: "e".into(),
                        attributes: vec![s("card", "4012888888881881")],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn processor<S: Redactable>(yaml: &str) -> Box<dyn Processor<S>> {
    Box::new(RedactionProcessor(Arc::new(redactor(yaml))))
}

#[test]
fn traces_resource_span_and_event_attributes_are_processed() {
    let mut p = processor::<Traces>(DOCUMENTED);
    let mut batch = Batch::<Traces>::from_request(traces_req());
    p.process(&mut batch).unwrap();
    let req = batch.into_request();
    let rs = &req.resource_spans[0];
    assert_eq!(
        dump(&rs.resource.as_ref().unwrap().attributes),
        vec![
            "owner=****",
            "redaction.masked.count=1",
            "service.name=shop"
        ]
    );
    let span = &rs.scope_spans[0].spans[0];
    assert_eq!(
        dump(&span.attributes),
        vec!["card=****", "redaction.masked.count=1"]
    );
    assert_eq!(
        dump(&span.events[0].attributes),
        vec!["card=****", "redaction.masked.count=1"]
    );
}

#[test]
fn a_clean_batch_keeps_its_encoding() {
    let mut p = processor::<Traces>("allow_all_keys: true\nblocked_values: [\"nomatch\"]");
    let bytes = Bytes::from(traces_req().encode_to_vec());
    let mut batch = Batch::<Traces>::from_encoded(bytes.clone()).unwrap();
    p.process(&mut batch).unwrap();
    let out = batch.to_bytes();
    assert_eq!(out, bytes);
    assert_eq!(out.as_ptr(), bytes.as_ptr(), "no re-encoding");
}

#[test]
fn metric_points_and_log_records_are_processed() {
    let mut p = processor::<Metrics>("allowed_keys: [host]");
    let mut batch = Batch::<Metrics>::from_request(ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "m".into(),
                    data: Some(Data::Gauge(Gauge {
                        data_points: vec![NumberDataPoint {
                            attributes: vec![s("host", "h"), s("user", "u")],
                            ..Default::default()
                        }],
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    p.process(&mut batch).unwrap();
    let req = batch.into_request();
    let Some(Data::Gauge(g)) = &req.resource_metrics[0].scope_metrics[0].metrics[0].data else {
        panic!()
    };
    assert_eq!(dump(&g.data_points[0].attributes), vec!["host=h"]);

    let mut p = processor::<Logs>(DOCUMENTED);
    let mut batch = Batch::<Logs>::from_request(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    body: Some(AnyValue {
                        value: Some(V::StringValue("key AKIAIOSFODNN7EXAMPLE".into())),
                    }),
                    attributes: vec![s("email", "x@y.org")],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    p.process(&mut batch).unwrap();
    let req = batch.into_request();
    let rec = &req.resource_logs[0].scope_logs[0].log_records[0];
    assert_eq!(as_string(rec.body.as_ref()), "key ****");
    assert_eq!(
        dump(&rec.attributes),
        vec![
            "email=****",
            "redaction.body.masked.count=1",
            "redaction.masked.count=1"
        ]
    );
}

#[test]
fn every_config_problem_is_reported_with_its_path() {
    let raw: Value = serde_yaml_ng::from_str(
        r#"
blocked_values: ["ok", "(unclosed"]
blocked_key_patterns: ["[z-a]"]
allowed_values: ["*"]
hash_function: md5
summary: loud
url_sanitizer: {enabled: true}
"#,
    )
    .unwrap();
    let Err(issues) = RedactionFactory.parse("processors::redaction", &raw) else {
        panic!("must fail")
    };
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "processors::redaction::blocked_key_patterns::0",
            "processors::redaction::blocked_values::1",
            "processors::redaction::allowed_values::0",
            "processors::redaction::hash_function",
            "processors::redaction::summary",
            "processors::redaction::url_sanitizer",
        ]
    );
    assert!(issues[3].message.contains("hmac-sha256"), "{}", issues[3]);

    for (yaml, path, text) in [
        (
            "hash_function: hmac-sha256",
            "hmac_key",
            "hmac_key must be set",
        ),
        (
            "hash_function: sha256",
            "hash_function",
            "unknown hash_function",
        ),
        ("allowed_key: [a]", "allowed_key", "unknown field"),
    ] {
        let raw: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let Err(issues) = RedactionFactory.parse("p", &raw) else {
            panic!("{yaml} must fail")
        };
        assert_eq!(issues[0].path, format!("p::{path}"), "{yaml}");
        assert!(issues[0].message.contains(text), "{}", issues[0]);
    }
    assert!(RedactionFactory.parse("p", &Value::Null).is_ok());
}
