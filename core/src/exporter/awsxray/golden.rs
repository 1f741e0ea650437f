//! Golden tests: OTLP spans → expected segment documents, compared structurally.

use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};
use serde_json::{json, Value};

use super::translate::{IdGen, SpanDocs, TranslateError, TranslateOptions, Translator};

const TRACE: [u8; 16] = [
    0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36,
];
const TRACE_X: &str = "1-4bf92f35-77b34da6a3ce929d0e0e4736";
const SPAN: [u8; 8] = [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7];
const SPAN_X: &str = "00f067aa0ba902b7";
const PARENT: [u8; 8] = [0x11; 8];
const START: u64 = 1_700_000_000_250_000_000;
const END: u64 = 1_700_000_000_750_000_000;

fn sv(s: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(s.into())),
    }
}
fn iv(i: i64) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::IntValue(i)),
    }
}
fn bv(b: bool) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::BoolValue(b)),
    }
}
fn av(items: &[&str]) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::ArrayValue(ArrayValue {
            values: items.iter().map(|s| sv(s)).collect(),
        })),
    }
}
fn kv(k: &str, v: AnyValue) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(v),
        ..Default::default()
    }
}
fn attrs(list: &[(&str, AnyValue)]) -> Vec<KeyValue> {
    list.iter().map(|(k, v)| kv(k, v.clone())).collect()
}
fn resource(list: &[(&str, AnyValue)]) -> Resource {
    Resource {
        attributes: attrs(list),
        ..Default::default()
    }
}

fn span(kind: SpanKind, name: &str, parent: bool, a: &[(&str, AnyValue)]) -> Span {
    Span {
        trace_id: TRACE.to_vec(),
        span_id: SPAN.to_vec(),
        parent_span_id: if parent { PARENT.to_vec() } else { Vec::new() },
        name: name.into(),
        kind: kind as i32,
        start_time_unix_nano: START,
        end_time_unix_nano: END,
        attributes: attrs(a),
        ..Default::default()
    }
}

fn error_status(s: &mut Span, message: &str) {
    s.status = Some(Status {
        message: message.into(),
        code: StatusCode::Error as i32,
    });
}

fn exception_event(kind: &str, message: &str, stack: &str) -> Event {
    Event {
        time_unix_nano: START + 1,
        name: "exception".into(),
        attributes: attrs(&[
            ("exception.type", sv(kind)),
            ("exception.message", sv(message)),
            ("exception.stacktrace", sv(stack)),
        ]),
        ..Default::default()
    }
}

fn translate_with(opts: TranslateOptions, s: &Span, r: Option<&Resource>) -> Vec<Value> {
    let t = Translator::new(opts);
    let mut out = Vec::new();
    t.span_documents(s, r, &mut IdGen::sequential(), &mut out)
        .expect("translates");
    out.iter()
        .map(|d| serde_json::from_str(&d.json).expect("valid JSON"))
        .collect()
}

fn translate(s: &Span, r: Option<&Resource>) -> Value {
    let mut docs = translate_with(TranslateOptions::default(), s, r);
    assert_eq!(docs.len(), 1);
    docs.remove(0)
}

fn no_aws() -> Value {
    json!({"xray": {"auto_instrumentation": false}})
}

#[test]
fn server_span_with_stable_http_semconv() {
    let s = span(
        SpanKind::Server,
        "GET /users/:id",
        false,
        &[
            ("http.request.method", sv("GET")),
            ("url.scheme", sv("https")),
            ("server.address", sv("api.example.com")),
            ("server.port", iv(443)),
            ("url.path", sv("/users/42")),
            ("url.query", sv("a=1")),
            ("http.response.status_code", iv(200)),
            ("user_agent.original", sv("curl/8")),
            ("client.address", sv("203.0.113.9")),
            ("enduser.id", sv("alice")),
            ("app.tier", sv("gold")),
        ],
    );
    let r = resource(&[
        ("service.name", sv("users")),
        ("service.version", sv("1.2.3")),
        ("telemetry.sdk.name", sv("opentelemetry")),
        ("telemetry.sdk.language", sv("python")),
        ("telemetry.sdk.version", sv("1.45.2")),
    ]);
    assert_eq!(
        translate(&s, Some(&r)),
        json!({
            "name": "users",
            "id": SPAN_X,
            "start_time": 1_700_000_000.25,
            "service": {"version": "1.2.3"},
            "user": "alice",
            "trace_id": TRACE_X,
            "end_time": 1_700_000_000.75,
            "http": {
                "request": {
                    "method": "GET",
                    "url": "https://api.example.com/users/42?a=1",
                    "user_agent": "curl/8",
                    "client_ip": "203.0.113.9",
                    "x_forwarded_for": true
                },
                "response": {"status": 200, "content_length": 0}
            },
            "fault": false, "error": false, "throttle": false,
            "aws": {"xray": {"sdk": "opentelemetry for python", "sdk_version": "1.45.2", "auto_instrumentation": false}},
            "metadata": {"default": {
                "app.tier": "gold",
                "otel.resource.service.name": "users",
                "otel.resource.service.version": "1.2.3",
                "otel.resource.telemetry.sdk.name": "opentelemetry",
                "otel.resource.telemetry.sdk.language": "python",
                "otel.resource.telemetry.sdk.version": "1.45.2"
            }}
        })
    );
}

#[test]
fn server_span_legacy_semconv_builds_url_and_keeps_remote_parent() {
    let s = span(
        SpanKind::Server,
        "GET",
        true,
        &[
            ("http.method", sv("GET")),
            ("http.scheme", sv("http")),
            ("net.host.name", sv("shop.local")),
            ("net.host.port", iv(8080)),
            ("http.target", sv("/cart?id=1")),
            ("http.status_code", iv(201)),
            ("net.peer.ip", sv("10.0.0.7")),
            ("aws.local.service", sv("shop")),
        ],
    );
    let doc = translate(&s, None);
    assert_eq!(doc["name"], "shop");
    assert_eq!(doc["parent_id"], "1111111111111111", "remote parent kept");
    assert!(doc.get("type").is_none(), "server spans are segments");
    assert_eq!(
        doc["http"],
        json!({
            "request": {"method": "GET", "url": "http://shop.local:8080/cart?id=1", "client_ip": "10.0.0.7"},
            "response": {"status": 201, "content_length": 0}
        })
    );
    assert_eq!(
        doc["metadata"],
        json!({"default": {"aws.local.service": "shop"}})
    );
}

#[test]
fn client_http_subsegment_on_ec2() {
    let s = span(
        SpanKind::Client,
        "GET",
        true,
        &[
            ("http.method", sv("GET")),
            ("http.url", sv("https://backend.internal/api?x=1")),
            ("http.status_code", iv(503)),
            ("net.peer.name", sv("backend.internal")),
        ],
    );
    let r = resource(&[
        ("service.name", sv("users")),
        ("cloud.provider", sv("aws")),
        ("cloud.platform", sv("aws_ec2")),
        ("cloud.account.id", sv("123456789012")),
        ("host.id", sv("i-0abc")),
        ("cloud.availability_zone", sv("us-east-1a")),
        ("host.type", sv("t3.micro")),
        ("host.image.id", sv("ami-123")),
    ]);
    assert_eq!(
        translate(&s, Some(&r)),
        json!({
            "name": "backend.internal",
            "id": SPAN_X,
            "start_time": 1_700_000_000.25,
            "origin": "AWS::EC2::Instance",
            "trace_id": TRACE_X,
            "end_time": 1_700_000_000.75,
            "http": {
                "request": {"method": "GET", "url": "https://backend.internal/api?x=1"},
                "response": {"status": 503, "content_length": 0}
            },
            "fault": true, "error": false, "throttle": false,
            "aws": {
                "ec2": {"instance_id": "i-0abc", "availability_zone": "us-east-1a", "instance_size": "t3.micro", "ami_id": "ami-123"},
                "xray": {"auto_instrumentation": false},
                "account_id": "123456789012"
            },
            "namespace": "remote",
            "parent_id": "1111111111111111",
            "type": "subsegment"
        })
    );
}

#[test]
fn aws_sdk_dynamodb_call_with_table_names() {
    let s = span(
        SpanKind::Client,
        "DynamoDB.Query",
        true,
        &[
            ("rpc.system", sv("aws-api")),
            ("rpc.service", sv("DynamoDB")),
            ("rpc.method", sv("Query")),
            ("aws.request_id", sv("REQ1")),
            ("aws.region", sv("eu-west-1")),
            ("aws.dynamodb.table_names", av(&["orders", "users"])),
            ("http.status_code", iv(200)),
        ],
    );
    let r = resource(&[("cloud.provider", sv("aws"))]);
    assert_eq!(
        translate(&s, Some(&r)),
        json!({
            "name": "DynamoDB",
            "id": SPAN_X,
            "start_time": 1_700_000_000.25,
            "trace_id": TRACE_X,
            "end_time": 1_700_000_000.75,
            "http": {"request": {}, "response": {"status": 200, "content_length": 0}},
            "fault": false, "error": false, "throttle": false,
            "aws": {
                "xray": {"auto_instrumentation": false},
                "operation": "Query",
                "region": "eu-west-1",
                "request_id": "REQ1",
                "table_names": ["orders", "users"]
            },
            "metadata": {"default": {
                "rpc.system": "aws-api",
                "rpc.service": "DynamoDB",
                "aws.dynamodb.table_names": ["orders", "users"]
            }},
            "namespace": "aws",
            "parent_id": "1111111111111111",
            "type": "subsegment"
        })
    );
    // One table: table_name.
    let s = span(
        SpanKind::Client,
        "DynamoDB.GetItem",
        true,
        &[
            ("rpc.system", sv("aws-api")),
            ("aws.remote.service", sv("AWS.SDK.DynamoDB")),
            ("aws.operation", sv("GetItem")),
            ("rpc.method", sv("Ignored")),
            ("aws.dynamodb.table_names", av(&["orders"])),
        ],
    );
    let doc = translate(&s, None);
    assert_eq!(doc["name"], "DynamoDB", "AWS.SDK. prefix trimmed");
    assert_eq!(doc["namespace"], "aws");
    assert_eq!(doc["aws"]["table_name"], "orders");
    assert_eq!(doc["aws"]["operation"], "GetItem");
    assert!(doc["aws"].get("table_names").is_none());
}

#[test]
fn sql_subsegment() {
    let s = span(
        SpanKind::Client,
        "SELECT orders",
        true,
        &[
            ("db.system", sv("postgresql")),
            ("db.name", sv("shop")),
            ("db.statement", sv("SELECT * FROM orders WHERE id = ?")),
            ("db.user", sv("app")),
            (
                "db.connection_string",
                sv("jdbc:postgresql://db.example.com:5432"),
            ),
        ],
    );
    assert_eq!(
        translate(&s, None),
        json!({
            "name": "shop@db.example.com",
            "id": SPAN_X,
            "start_time": 1_700_000_000.25,
            "trace_id": TRACE_X,
            "end_time": 1_700_000_000.75,
            "fault": false, "error": false, "throttle": false,
            "aws": no_aws(),
            "namespace": "remote",
            "parent_id": "1111111111111111",
            "type": "subsegment",
            "sql": {
                "connection_string": "jdbc:postgresql://db.example.com:5432/shop",
                "url": "SELECT orders",
                "sanitized_query": "SELECT * FROM orders WHERE id = ?",
                "database_type": "postgresql",
                "user": "app"
            }
        })
    );
    // A non-SQL database keeps its attributes as metadata, and no sql block.
    let s = span(
        SpanKind::Client,
        "GET",
        true,
        &[("db.system", sv("redis")), ("db.statement", sv("GET k"))],
    );
    let doc = translate(&s, None);
    assert!(doc.get("sql").is_none());
    assert_eq!(
        doc["metadata"]["default"],
        json!({"db.system": "redis", "db.statement": "GET k"})
    );
    assert_eq!(doc["name"], "GET");
}

#[test]
fn messaging_producer_and_consumer() {
    let s = span(
        SpanKind::Producer,
        "orders publish",
        true,
        &[
            ("rpc.system", sv("aws-api")),
            ("rpc.service", sv("SQS")),
            ("rpc.method", sv("SendMessage")),
            ("aws.queue_url", sv("https://old")),
            (
                "messaging.url",
                sv("https://sqs.us-east-1.amazonaws.com/123/orders"),
            ),
            ("messaging.destination.name", sv("orders")),
        ],
    );
    assert_eq!(
        translate(&s, None),
        json!({
            "name": "SQS",
            "id": SPAN_X,
            "start_time": 1_700_000_000.25,
            "trace_id": TRACE_X,
            "end_time": 1_700_000_000.75,
            "fault": false, "error": false, "throttle": false,
            "aws": {
                "xray": {"auto_instrumentation": false},
                "operation": "SendMessage",
                "queue_url": "https://sqs.us-east-1.amazonaws.com/123/orders"
            },
            "metadata": {"default": {
                "rpc.system": "aws-api",
                "rpc.service": "SQS",
                "messaging.url": "https://sqs.us-east-1.amazonaws.com/123/orders",
                "messaging.destination.name": "orders"
            }},
            "namespace": "aws",
            "parent_id": "1111111111111111",
            "type": "subsegment"
        })
    );
    // A consumer without parent is a segment; no namespace (not a client).
    let mut s = span(
        SpanKind::Consumer,
        "orders process",
        false,
        &[("messaging.system", sv("kafka"))],
    );
    s.events.push(Event {
        name: "message".into(),
        attributes: attrs(&[
            ("message.type", sv("RECEIVED")),
            ("messaging.message.body.size", iv(42)),
        ]),
        ..Default::default()
    });
    let doc = translate(&s, None);
    assert_eq!(doc["name"], "orders process");
    assert!(doc.get("type").is_none());
    assert!(doc.get("namespace").is_none());
    assert!(doc.get("http").is_none(), "no HTTP keys: no http block");
}

#[test]
fn java_exception_with_cause_chain_and_500() {
    let mut s = span(
        SpanKind::Server,
        "POST /pay",
        false,
        &[("http.response.status_code", iv(500))],
    );
    error_status(&mut s, "boom");
    s.events.push(exception_event(
        "java.lang.IllegalStateException",
        "outer",
        "java.lang.IllegalStateException: outer\n\tat com.ex.Pay.run(Pay.java:12)\nCaused by: java.io.IOException: disk full\n\tat com.ex.Io.read(Io.java:99)\n\t... 1 more\n",
    ));
    let r = resource(&[("telemetry.sdk.language", sv("java"))]);
    let doc = translate(&s, Some(&r));
    assert_eq!(
        (doc["fault"].clone(), doc["error"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(
        doc["cause"],
        json!({"exceptions": [
            {"id": "0000000000000001", "message": "outer", "type": "java.lang.IllegalStateException",
             "remote": false, "cause": "0000000000000002",
             "stack": [{"path": "Pay.java", "line": 12, "label": "com.ex.Pay.run"}]},
            {"id": "0000000000000002", "message": "disk full", "type": "java.io.IOException",
             "stack": [{"path": "Io.java", "line": 99, "label": "com.ex.Io.read"}]}
        ]})
    );
}

#[test]
fn python_exception_on_client_is_remote() {
    let mut s = span(SpanKind::Client, "call", true, &[]);
    error_status(&mut s, "");
    s.events.push(exception_event(
        "ValueError",
        "bad",
        "Traceback (most recent call last):\n  File \"/app/h.py\", line 9, in handler\n    go()\n  File \"/app/h.py\", line 4, in go\n    raise ValueError(\"bad\")\nValueError: bad\n",
    ));
    let r = resource(&[("telemetry.sdk.language", sv("python"))]);
    let doc = translate(&s, Some(&r));
    assert_eq!(doc["fault"], true, "status ERROR without HTTP status");
    assert_eq!(
        doc["cause"]["exceptions"],
        json!([{"id": "0000000000000001", "message": "bad", "type": "ValueError", "remote": true,
        "stack": [
            {"path": "/app/h.py", "line": 4, "label": "go"},
            {"path": "/app/h.py", "line": 9, "label": "handler"}
        ]}])
    );
}

#[test]
fn javascript_exception_with_404_is_an_error() {
    let mut s = span(
        SpanKind::Server,
        "GET",
        false,
        &[("http.response.status_code", iv(404))],
    );
    s.events.push(exception_event(
        "NotFound",
        "no such user",
        "NotFound: no such user\n    at getUser (/var/task/users.js:31:11)\n    at async handler (/var/task/index.js:5:3)\n",
    ));
    let r = resource(&[("telemetry.sdk.language", sv("javascript"))]);
    let doc = translate(&s, Some(&r));
    assert_eq!(
        (&doc["fault"], &doc["error"], &doc["throttle"]),
        (&json!(false), &json!(true), &json!(false))
    );
    assert_eq!(
        doc["cause"]["exceptions"][0]["stack"],
        json!([
            {"path": "/var/task/users.js", "line": 31, "label": "getUser"},
            {"path": "/var/task/index.js", "line": 5, "label": "async handler"}
        ])
    );
}

#[test]
fn go_exception_with_429_is_throttle() {
    let mut s = span(
        SpanKind::Client,
        "GET",
        true,
        &[("http.status_code", iv(429))],
    );
    s.events.push(exception_event(
        "*errors.errorString",
        "slow down",
        "slow down\ngoroutine 7 [running]:\nmain.call()\n\t/src/main.go:42 +0x1d\n",
    ));
    let r = resource(&[("telemetry.sdk.language", sv("go"))]);
    let doc = translate(&s, Some(&r));
    assert_eq!(
        (&doc["fault"], &doc["error"], &doc["throttle"]),
        (&json!(false), &json!(true), &json!(true))
    );
    assert_eq!(
        doc["cause"]["exceptions"][0],
        json!({"id": "0000000000000001", "message": "slow down", "type": "*errors.errorString",
               "remote": true, "stack": [{"path": "/src/main.go", "line": 42, "label": "main.call()"}]})
    );
}

#[test]
fn error_status_without_exception_uses_status_text() {
    let mut s = span(
        SpanKind::Server,
        "GET",
        false,
        &[
            ("http.status_code", iv(502)),
            ("http.status_text", sv("Bad Gateway")),
        ],
    );
    error_status(&mut s, "");
    let doc = translate(&s, None);
    assert_eq!(
        doc["cause"],
        json!({"exceptions": [{"id": "0000000000000001", "type": "", "message": "Bad Gateway"}]})
    );
    assert_eq!(doc["fault"], true);
    assert!(doc.get("metadata").is_none(), "http.status_text consumed");
    // Status message wins; 4xx without error status.
    let mut s = span(
        SpanKind::Server,
        "GET",
        false,
        &[("http.status_code", iv(400))],
    );
    error_status(&mut s, "validation failed");
    let doc = translate(&s, None);
    assert_eq!(
        doc["cause"]["exceptions"][0]["message"],
        "validation failed"
    );
    assert_eq!(
        (&doc["fault"], &doc["error"]),
        (&json!(false), &json!(true))
    );
    // OK status, no events: no cause.
    let s = span(
        SpanKind::Server,
        "GET",
        false,
        &[("http.status_code", iv(302))],
    );
    let doc = translate(&s, None);
    assert!(doc.get("cause").is_none());
    assert_eq!(
        (&doc["fault"], &doc["error"], &doc["throttle"]),
        (&json!(false), &json!(false), &json!(false))
    );
}

#[test]
fn aws_sdk_http_request_failure_event() {
    let mut s = span(
        SpanKind::Client,
        "S3.GetObject",
        true,
        &[("rpc.system", sv("aws-api"))],
    );
    s.events.push(Event {
        time_unix_nano: 1_700_000_001_123_456_000,
        name: "HTTP request failure".into(),
        attributes: attrs(&[
            ("http.response.status_code", iv(503)),
            ("aws.http.error_message", sv("SlowDown")),
        ]),
        ..Default::default()
    });
    let doc = translate(&s, None);
    assert_eq!(
        doc["cause"]["exceptions"],
        json!([{"id": "0000000000000001", "type": "aws.http.error.event", "remote": true,
                "message": "503@1700000001.123456@SlowDown"}])
    );
}

#[test]
fn local_root_internal_span_is_a_segment() {
    let s = span(
        SpanKind::Internal,
        "handle",
        true,
        &[
            ("aws.span.kind", sv("LOCAL_ROOT")),
            ("aws.local.service", sv("checkout")),
        ],
    );
    let doc = translate(&s, None);
    assert_eq!(doc["name"], "checkout");
    assert!(doc.get("type").is_none());
    assert!(doc.get("namespace").is_none());
    assert_eq!(doc["parent_id"], "1111111111111111");
}

#[test]
fn local_root_dependency_span_makes_two_documents() {
    let mut s = span(
        SpanKind::Client,
        "DynamoDB.GetItem",
        true,
        &[
            ("aws.span.kind", sv("LOCAL_ROOT")),
            ("aws.local.service", sv("checkout")),
            ("aws.remote.service", sv("AWS::DynamoDB")),
            ("aws.remote.operation", sv("GetItem")),
            ("rpc.system", sv("aws-api")),
            ("rpc.method", sv("GetItem")),
            ("aws.table_name", sv("carts")),
            ("http.status_code", iv(200)),
            ("app.k", sv("v")),
        ],
    );
    s.links.push(Link {
        trace_id: TRACE.to_vec(),
        span_id: vec![0x22; 8],
        ..Default::default()
    });
    let r = resource(&[
        ("service.name", sv("checkout-svc")),
        ("cloud.provider", sv("aws")),
    ]);
    let docs = translate_with(TranslateOptions::default(), &s, Some(&r));
    assert_eq!(docs.len(), 2);
    assert_eq!(
        docs[0],
        json!({
            "name": "DynamoDB",
            "id": SPAN_X,
            "start_time": 1_700_000_000.25,
            "links": [{"trace_id": TRACE_X, "id": "2222222222222222"}],
            "trace_id": TRACE_X,
            "end_time": 1_700_000_000.75,
            "http": {"request": {}, "response": {"status": 200, "content_length": 0}},
            "fault": false, "error": false, "throttle": false,
            "aws": {"xray": {"auto_instrumentation": false}, "operation": "GetItem", "table_name": "carts"},
            "metadata": {"default": {
                "aws.span.kind": "LOCAL_ROOT",
                "aws.local.service": "checkout",
                "aws.remote.service": "AWS::DynamoDB",
                "aws.remote.operation": "GetItem",
                "rpc.system": "aws-api",
                "app.k": "v"
            }},
            "namespace": "aws",
            "parent_id": "0000000000000001",
            "type": "subsegment"
        })
    );
    assert_eq!(
        docs[1],
        json!({
            "name": "checkout",
            "id": "0000000000000001",
            "start_time": 1_700_000_000.25,
            "trace_id": TRACE_X,
            "end_time": 1_700_000_000.75,
            "fault": false, "error": false, "throttle": false,
            "aws": {"xray": {"auto_instrumentation": false}},
            "parent_id": "1111111111111111"
        })
    );
}

#[test]
fn local_root_consumer_keeps_links_on_the_service_segment() {
    let mut s = span(
        SpanKind::Consumer,
        "process",
        false,
        &[
            ("aws.span.kind", sv("LOCAL_ROOT")),
            ("aws.local.service", sv("worker")),
            ("aws.remote.service", sv("orders-queue")),
        ],
    );
    s.links.push(Link {
        trace_id: TRACE.to_vec(),
        span_id: vec![0x33; 8],
        ..Default::default()
    });
    let docs = translate_with(TranslateOptions::default(), &s, None);
    assert_eq!(docs[0]["name"], "orders-queue");
    assert_eq!(docs[0]["namespace"], "remote");
    assert!(docs[0].get("links").is_none());
    assert_eq!(docs[1]["name"], "worker");
    assert_eq!(docs[1]["links"][0]["id"], "3333333333333333");
    assert!(docs[1].get("parent_id").is_none());
    assert!(
        docs[1].get("metadata").is_none(),
        "only otel.resource.* metadata kept"
    );
}

#[test]
fn links_with_attributes() {
    let mut s = span(SpanKind::Internal, "batch", true, &[]);
    s.links.push(Link {
        trace_id: vec![0xab; 16],
        span_id: vec![0x01; 8],
        attributes: attrs(&[("link.kind", sv("follows")), ("n", iv(2))]),
        ..Default::default()
    });
    s.links.push(Link {
        trace_id: TRACE.to_vec(),
        span_id: vec![0x02; 8],
        ..Default::default()
    });
    let doc = translate(&s, None);
    assert_eq!(
        doc["links"],
        json!([
            {"trace_id": "1-abababab-abababababababababababab", "id": "0101010101010101",
             "attributes": {"link.kind": "follows", "n": 2}},
            {"trace_id": TRACE_X, "id": "0202020202020202"}
        ])
    );
    assert_eq!(doc["type"], "subsegment");
    assert!(
        doc.get("namespace").is_none(),
        "internal spans have no namespace"
    );
}

#[test]
fn indexed_attributes_become_annotations_the_rest_metadata() {
    let s = span(
        SpanKind::Server,
        "POST",
        false,
        &[
            ("app.customer", sv("c-1")),
            ("app.other", iv(3)),
            ("http.method", sv("POST")),
            ("aws.xray.annotations", av(&["extra key"])),
            ("extra key", bv(true)),
            ("aws.xray.metadata.payment", sv(r#"{"card":"visa"}"#)),
            ("aws.xray.metadata.default", sv(r#"{"k":1}"#)),
            ("aws.xray.metadata.bad", sv("not json")),
            (
                "my-attr!",
                AnyValue {
                    value: Some(any_value::Value::KvlistValue(KeyValueList {
                        values: vec![kv("a", iv(1))],
                    })),
                },
            ),
            ("app.list", av(&["x"])),
        ],
    );
    let r = resource(&[
        ("service.name", sv("svc")),
        ("deployment.environment", sv("prod")),
    ]);
    let opts = TranslateOptions {
        indexed_attributes: vec![
            "app.customer".into(),
            "http.method".into(),
            "otel.resource.service.name".into(),
            "app.list".into(),
        ],
        ..Default::default()
    };
    let doc = translate_with(opts, &s, Some(&r)).remove(0);
    assert_eq!(
        doc["annotations"],
        json!({
            "app.customer": "c-1",
            "http.method": "POST",
            "extra_key": true,
            "otel.resource.service.name": "svc"
        })
    );
    assert_eq!(
        doc["metadata"],
        json!({
            "payment": {"card": "visa"},
            "default": {
                "app.other": 3,
                "k": 1,
                "aws.xray.metadata.bad": "not json",
                "my-attr!": {"a": 1},
                "otel.resource.deployment.environment": "prod"
            }
        })
    );
    assert_eq!(
        doc["http"]["request"]["method"], "POST",
        "indexed http key still feeds http"
    );
}

#[test]
fn index_all_attributes_drops_non_scalars() {
    let s = span(
        SpanKind::Server,
        "GET",
        false,
        &[("a-b", sv("x")), ("n", iv(1)), ("list", av(&["x"]))],
    );
    let r = resource(&[("service.name", sv("svc"))]);
    let opts = TranslateOptions {
        index_all_attributes: true,
        ..Default::default()
    };
    let doc = translate_with(opts, &s, Some(&r)).remove(0);
    assert_eq!(
        doc["annotations"],
        json!({"a_b": "x", "n": 1, "otel.resource.service.name": "svc"})
    );
    assert!(doc.get("metadata").is_none());
}

#[test]
fn ecs_fargate_resource() {
    let s = span(SpanKind::Server, "GET", false, &[]);
    let r = resource(&[
        ("cloud.provider", sv("aws")),
        ("cloud.platform", sv("aws_ecs")),
        ("aws.ecs.launchtype", sv("fargate")),
        ("container.name", sv("app")),
        ("container.id", sv("c0ffee")),
        ("aws.ecs.task.arn", sv("arn:aws:ecs:us-east-1:1:task/t")),
        ("aws.ecs.task.family", sv("fam")),
        (
            "aws.ecs.cluster.arn",
            sv("arn:aws:ecs:us-east-1:1:cluster/c"),
        ),
        ("cloud.availability_zone", sv("us-east-1b")),
        (
            "aws.log.group.arns",
            av(&["arn:aws:logs:us-east-1:1:log-group:/ecs/app:*"]),
        ),
        ("container.image.tag", sv("v7")),
    ]);
    let opts = TranslateOptions::default();
    let doc = translate_with(opts, &s, Some(&r)).remove(0);
    assert_eq!(doc["origin"], "AWS::ECS::Fargate");
    assert_eq!(doc["service"], json!({"version": "v7"}));
    assert_eq!(
        doc["aws"],
        json!({
            "cloudwatch_logs": [{"log_group": "/ecs/app", "arn": "arn:aws:logs:us-east-1:1:log-group:/ecs/app:*"}],
            "ecs": {
                "container": "app", "container_id": "c0ffee",
                "task_arn": "arn:aws:ecs:us-east-1:1:task/t", "task_family": "fam",
                "cluster_arn": "arn:aws:ecs:us-east-1:1:cluster/c",
                "availability_zone": "us-east-1b", "launch_type": "fargate"
            },
            "xray": {"auto_instrumentation": false}
        })
    );
    assert_eq!(doc["name"], "GET", "no service.name: span name");
}

#[test]
fn eks_resource_and_ec2_launch_type() {
    let s = span(SpanKind::Server, "GET", false, &[]);
    let r = resource(&[
        ("cloud.platform", sv("aws_eks")),
        ("k8s.cluster.name", sv("prod")),
        ("k8s.pod.name", sv("web-1")),
        ("container.id", sv("abc")),
        ("telemetry.auto.version", sv("1.0")),
        ("telemetry.sdk.name", sv("opentelemetry")),
    ]);
    let doc = translate(&s, Some(&r));
    assert_eq!(doc["origin"], "AWS::EKS::Container");
    assert_eq!(
        doc["aws"],
        json!({
            "eks": {"cluster_name": "prod", "pod": "web-1", "container_id": "abc"},
            "xray": {"sdk": "opentelemetry", "auto_instrumentation": true}
        })
    );
    let r = resource(&[
        ("cloud.platform", sv("aws_ecs")),
        ("aws.ecs.launchtype", sv("ec2")),
    ]);
    assert_eq!(translate(&s, Some(&r))["origin"], "AWS::ECS::EC2");
    let r = resource(&[("cloud.platform", sv("aws_ecs"))]);
    assert_eq!(translate(&s, Some(&r))["origin"], "AWS::ECS::Container");
}

#[test]
fn lambda_resource_has_no_origin_and_config_log_groups() {
    let s = span(SpanKind::Server, "handler", false, &[]);
    let r = resource(&[
        ("cloud.provider", sv("aws")),
        ("cloud.platform", sv("aws_lambda")),
        ("cloud.region", sv("us-east-1")),
        ("faas.name", sv("fn")),
        ("service.name", sv("fn")),
        (
            "aws.log.group.names",
            sv("/aws/lambda/fn&/aws/lambda/other"),
        ),
    ]);
    let opts = TranslateOptions {
        log_groups: vec!["ignored".into()],
        ..Default::default()
    };
    let doc = translate_with(opts.clone(), &s, Some(&r)).remove(0);
    assert!(doc.get("origin").is_none(), "upstream has no Lambda origin");
    assert_eq!(
        doc["aws"],
        json!({
            "cloudwatch_logs": [{"log_group": "/aws/lambda/fn"}, {"log_group": "/aws/lambda/other"}],
            "xray": {"auto_instrumentation": false}
        })
    );
    assert_eq!(doc["name"], "fn");
    // Config log groups when the resource has none.
    let r = resource(&[("cloud.platform", sv("aws_lambda"))]);
    let doc = translate_with(opts, &s, Some(&r)).remove(0);
    assert_eq!(
        doc["aws"]["cloudwatch_logs"],
        json!([{"log_group": "ignored"}])
    );
}

#[test]
fn non_aws_cloud_has_no_aws_block() {
    let s = span(SpanKind::Server, "GET", false, &[("aws.region", sv("x"))]);
    let r = resource(&[
        ("cloud.provider", sv("gcp")),
        ("cloud.platform", sv("aws_ec2")),
    ]);
    let doc = translate(&s, Some(&r));
    assert!(doc.get("aws").is_none());
    assert!(doc.get("origin").is_none());
}

#[test]
fn name_rules_and_fixing() {
    type Case<'a> = (SpanKind, Vec<(&'a str, AnyValue)>, &'a str, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            SpanKind::Client,
            vec![("peer.service", sv("billing"))],
            "x",
            "billing",
        ),
        (SpanKind::Client, vec![("aws.service", sv("S3"))], "x", "S3"),
        (
            SpanKind::Client,
            vec![("rpc.service", sv("Greeter"))],
            "x",
            "Greeter",
        ),
        (
            SpanKind::Client,
            vec![("http.host", sv("h.example"))],
            "x",
            "h.example",
        ),
        (SpanKind::Internal, vec![], "a<b>c!d", "abcd"),
        (SpanKind::Internal, vec![], "<>", "span"),
        (SpanKind::Internal, vec![], "ünïcödé ok", "ünïcödé ok"),
    ];
    for (kind, a, name, want) in cases {
        let s = span(kind, name, true, &a);
        assert_eq!(translate(&s, None)["name"], want, "{a:?} {name}");
    }
    let s = span(SpanKind::Client, "x", true, &[("aws.service", sv("S3"))]);
    assert_eq!(translate(&s, None)["namespace"], "aws");
    let long = "x".repeat(300);
    let s = span(SpanKind::Internal, &long, true, &[]);
    assert_eq!(
        translate(&s, None)["name"].as_str().map(str::len),
        Some(200)
    );
}

#[test]
fn invalid_ids_are_errors() {
    let t = Translator::new(TranslateOptions::default());
    let mut s = span(SpanKind::Server, "x", false, &[]);
    s.trace_id = vec![1; 4];
    let mut out = Vec::new();
    assert_eq!(
        t.span_documents(&s, None, &mut IdGen::sequential(), &mut out),
        Err(TranslateError::TraceId(4))
    );
    assert!(out.is_empty());
}

#[test]
fn documents_over_the_limit_shrink_then_drop() {
    let t = Translator::new(TranslateOptions::default());
    // Big metadata: dropped, the rest kept.
    let big = "m".repeat(70_000);
    let s = span(
        SpanKind::Server,
        "x",
        false,
        &[("blob", sv(&big)), ("http.status_code", iv(200))],
    );
    let mut out = Vec::new();
    let done = t
        .span_documents(&s, None, &mut IdGen::sequential(), &mut out)
        .unwrap();
    assert_eq!(
        done,
        SpanDocs {
            documents: 1,
            dropped: 0,
            shrunk: 1
        }
    );
    let doc: Value = serde_json::from_str(&out[0].json).unwrap();
    assert!(doc.get("metadata").is_none());
    assert_eq!(doc["http"]["response"]["status"], 200);
    // A huge stack: trimmed, with the count of removed frames.
    let mut stack = String::from("java.lang.Error: deep\n");
    for i in 0..3000 {
        stack.push_str(&format!(
            "\tat com.example.VeryLongClassName.method{i}(VeryLongClassName.java:{i})\n"
        ));
    }
    let mut s = span(SpanKind::Server, "x", false, &[]);
    s.events
        .push(exception_event("java.lang.Error", "deep", &stack));
    let r = resource(&[("telemetry.sdk.language", sv("java"))]);
    out.clear();
    let done = t
        .span_documents(&s, Some(&r), &mut IdGen::sequential(), &mut out)
        .unwrap();
    assert_eq!(done.shrunk, 1);
    assert!(out[0].json.len() <= 64 * 1024);
    let doc: Value = serde_json::from_str(&out[0].json).unwrap();
    let e = &doc["cause"]["exceptions"][0];
    let kept = e["stack"].as_array().map_or(0, Vec::len);
    assert!(kept > 100, "{kept}");
    assert_eq!(e["truncated"].as_u64(), Some(3000 - kept as u64));
    assert_eq!(
        e["stack"][0]["label"],
        "com.example.VeryLongClassName.method0"
    );
    // A huge annotation cannot shrink: dropped and reported.
    let t = Translator::new(TranslateOptions {
        index_all_attributes: true,
        ..Default::default()
    });
    let s = span(SpanKind::Server, "x", false, &[("blob", sv(&big))]);
    out.clear();
    let err = t
        .span_documents(&s, None, &mut IdGen::sequential(), &mut out)
        .unwrap_err();
    assert!(matches!(err, TranslateError::TooLarge(_, 65536)), "{err}");
    assert!(out.is_empty());
}

#[test]
fn every_document_is_valid_json_with_required_fields() {
    // Odd inputs: empty name, no end time, control characters, NaN.
    let mut s = span(
        SpanKind::Unspecified,
        "",
        false,
        &[
            ("ctl", sv("a\u{0}b\"c")),
            (
                "nan",
                AnyValue {
                    value: Some(any_value::Value::DoubleValue(f64::NAN)),
                },
            ),
            (
                "bytes",
                AnyValue {
                    value: Some(any_value::Value::BytesValue(vec![0, 1, 2])),
                },
            ),
        ],
    );
    s.end_time_unix_nano = 0;
    let doc = translate(&s, None);
    for k in ["name", "id", "trace_id", "start_time", "end_time"] {
        assert!(doc.get(k).is_some(), "{k}");
    }
    assert_eq!(doc["metadata"]["default"]["ctl"], "a\u{0}b\"c");
    assert_eq!(doc["metadata"]["default"]["bytes"], "AAEC");
    assert_eq!(doc["metadata"]["default"]["nan"], Value::Null);
}
