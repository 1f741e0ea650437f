use super::*;
use crate::receiver::telemetryapi::record::parse_batch;

fn events(json: &str) -> Vec<Event> {
    parse_batch(json.as_bytes()).unwrap().0
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attrs
        .iter()
        .find(|k| k.key == key)
        .and_then(|k| k.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

const COLD: &str = r#"[
 {"time":"2024-01-01T00:00:00.000Z","type":"platform.initStart","record":{"initializationType":"on-demand","phase":"init","runtimeVersion":"python:3.12"}},
 {"time":"2024-01-01T00:00:00.200Z","type":"platform.initRuntimeDone","record":{"initializationType":"on-demand","phase":"init","status":"success"}},
 {"time":"2024-01-01T00:00:00.250Z","type":"platform.initReport","record":{"initializationType":"on-demand","phase":"init","metrics":{"durationMs":250.0}}},
 {"time":"2024-01-01T00:00:00.300Z","type":"platform.start","record":{"requestId":"req-1","version":"$LATEST","tracing":{"spanId":"54565fb41ac79632","type":"X-Amzn-Trace-Id","value":"Root=1-62e900b2-710d76f009d6e7785905449a;Parent=0efbd19962d95b05;Sampled=1"}}},
 {"time":"2024-01-01T00:00:00.310Z","type":"function","record":"[INFO] hello from the handler\n"},
 {"time":"2024-01-01T00:00:00.320Z","type":"function","record":{"timestamp":"2024-01-01T00:00:00.315Z","level":"WARN","message":"careful","requestId":"req-1","count":3}},
 {"time":"2024-01-01T00:00:00.400Z","type":"platform.runtimeDone","record":{"requestId":"req-1","status":"error","errorType":"Runtime.Unknown","metrics":{"durationMs":100.0,"producedBytes":12},"spans":[{"name":"responseLatency","start":"2024-01-01T00:00:00.390Z","durationMs":5.0}]}},
 {"time":"2024-01-01T00:00:00.450Z","type":"platform.report","record":{"requestId":"req-1","status":"error","metrics":{"durationMs":100.0,"billedDurationMs":101,"memorySizeMB":128,"maxMemoryUsedMB":64,"initDurationMs":250.0}}}
]"#;

#[test]
fn cold_invocation_becomes_spans_logs_and_metrics() {
    let mut t = Translator::new("my-fn");
    let out = t.translate(&mut events(COLD));

    // Spans: init (child of the invocation), invocation (child of the X-Ray parent), phase.
    assert_eq!(out.spans.len(), 3, "{:?}", out.spans);
    let init = &out.spans[0];
    let inv = &out.spans[1];
    let phase = &out.spans[2];
    let trace: Vec<u8> = (0..16)
        .map(|i| {
            u8::from_str_radix(&"62e900b2710d76f009d6e7785905449a"[2 * i..2 * i + 2], 16).unwrap()
        })
        .collect();
    assert_eq!(inv.name, "my-fn");
    assert_eq!(inv.trace_id, trace);
    assert_eq!(
        inv.parent_span_id,
        vec![0x0e, 0xfb, 0xd1, 0x99, 0x62, 0xd9, 0x5b, 0x05]
    );
    assert_eq!(
        inv.span_id,
        vec![0x54, 0x56, 0x5f, 0xb4, 0x1a, 0xc7, 0x96, 0x32]
    );
    assert_eq!(inv.kind, span::SpanKind::Server as i32);
    assert_eq!(
        inv.end_time_unix_nano - inv.start_time_unix_nano,
        100_000_000
    );
    assert_eq!(
        inv.status.as_ref().unwrap().code,
        status::StatusCode::Error as i32
    );
    assert!(inv
        .status
        .as_ref()
        .unwrap()
        .message
        .contains("Runtime.Unknown"));
    assert_eq!(
        attr(&inv.attributes, "faas.invocation_id"),
        Some(&any_value::Value::StringValue("req-1".into()))
    );
    assert_eq!(
        attr(&inv.attributes, "faas.coldstart"),
        Some(&any_value::Value::BoolValue(true))
    );
    assert_eq!(init.name, "init my-fn");
    assert_eq!(init.trace_id, trace);
    assert_eq!(init.parent_span_id, inv.span_id);
    assert_eq!(
        init.end_time_unix_nano - init.start_time_unix_nano,
        200_000_000
    );
    assert_eq!(phase.name, "responseLatency");
    assert_eq!(phase.parent_span_id, inv.span_id);

    // Logs: text and JSON records, with the invocation ID.
    assert_eq!(out.logs.len(), 2);
    let body = |l: &LogRecord| match l.body.as_ref().and_then(|b| b.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        _ => String::new(),
    };
    assert_eq!(body(&out.logs[0]), "[INFO] hello from the handler");
    assert_eq!(
        attr(&out.logs[0].attributes, "faas.invocation_id"),
        Some(&any_value::Value::StringValue("req-1".into()))
    );
    assert_eq!(body(&out.logs[1]), "careful");
    assert_eq!(out.logs[1].severity_number, 13);
    assert_eq!(
        out.logs[1].time_unix_nano,
        rfc3339_nanos("2024-01-01T00:00:00.315Z").unwrap()
    );
    assert_eq!(
        attr(&out.logs[1].attributes, "count"),
        Some(&any_value::Value::IntValue(3))
    );

    // Metrics from platform.report.
    let names: Vec<&str> = out.metrics.iter().map(|m| m.name.as_str()).collect();
    for want in [
        "faas.invoke_duration",
        "aws.lambda.billed_duration",
        "faas.mem_usage",
        "faas.init_duration",
        "faas.coldstarts",
        "faas.errors",
        "faas.timeouts",
        "faas.invocations",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let sum_of = |name: &str| -> i64 {
        match &out.metrics.iter().find(|m| m.name == name).unwrap().data {
            Some(metric::Data::Sum(s)) => match s.data_points[0].value {
                Some(number_data_point::Value::AsInt(v)) => v,
                _ => -1,
            },
            _ => -1,
        }
    };
    assert_eq!(sum_of("faas.coldstarts"), 1);
    assert_eq!(sum_of("faas.errors"), 1);
    assert_eq!(sum_of("faas.timeouts"), 0);
    let hist_of = |name: &str| -> f64 {
        match &out.metrics.iter().find(|m| m.name == name).unwrap().data {
            Some(metric::Data::Histogram(h)) => h.data_points[0].sum.unwrap(),
            _ => -1.0,
        }
    };
    assert!((hist_of("faas.invoke_duration") - 0.1).abs() < 1e-9);
    assert!((hist_of("aws.lambda.billed_duration") - 0.101).abs() < 1e-9);
    assert_eq!(hist_of("faas.mem_usage"), 64.0 * 1_048_576.0);
    assert!((hist_of("faas.init_duration") - 0.25).abs() < 1e-9);
}

#[test]
fn warm_invocation_without_trace_header_gets_its_own_trace() {
    let mut t = Translator::new("f");
    t.translate(&mut events(COLD));
    let out = t.translate(&mut events(r#"[
      {"time":"2024-01-01T00:01:00.000Z","type":"platform.start","record":{"requestId":"req-2"}},
      {"time":"2024-01-01T00:01:00.050Z","type":"platform.runtimeDone","record":{"requestId":"req-2","status":"timeout"}},
      {"time":"2024-01-01T00:01:00.060Z","type":"platform.report","record":{"requestId":"req-2","status":"timeout","metrics":{"durationMs":50.0,"billedDurationMs":50,"memorySizeMB":128,"maxMemoryUsedMB":60}}}
    ]"#));
    assert_eq!(out.spans.len(), 1);
    let s = &out.spans[0];
    assert_eq!(s.trace_id.len(), 16);
    assert!(s.trace_id.iter().any(|b| *b != 0));
    assert!(s.parent_span_id.is_empty());
    assert_eq!(
        attr(&s.attributes, "faas.coldstart"),
        Some(&any_value::Value::BoolValue(false))
    );
    assert_eq!(s.end_time_unix_nano - s.start_time_unix_nano, 50_000_000);
    assert!(!out.metrics.iter().any(|m| m.name == "faas.init_duration"));
}

#[test]
fn runtime_done_without_start_uses_its_duration() {
    let mut t = Translator::new("f");
    let out = t.translate(&mut events(r#"[
      {"time":"2024-01-01T00:01:00.500Z","type":"platform.runtimeDone","record":{"requestId":"x","status":"success","metrics":{"durationMs":250.0}}}
    ]"#));
    assert_eq!(out.spans.len(), 1);
    assert_eq!(
        out.spans[0].end_time_unix_nano - out.spans[0].start_time_unix_nano,
        250_000_000
    );
    assert_eq!(out.spans[0].status.as_ref().unwrap().code, 0);
}

#[test]
fn xray_header_parsing() {
    let tc = |v: &str| TraceContext {
        span_id: None,
        kind: None,
        value: v.into(),
    };
    assert!(
        parse_xray(&tc("Root=1-62e900b2-710d76f009d6e7785905449a;Sampled=0"))
            .is_some_and(|(_, p)| p.is_none())
    );
    assert!(parse_xray(&tc("Root=2-62e900b2-710d76f009d6e7785905449a")).is_none());
    assert!(parse_xray(&tc("Root=1-62e900b2-710d76f0")).is_none());
    assert!(parse_xray(&tc("Parent=0efbd19962d95b05")).is_none());
    assert!(parse_xray(&tc("garbage")).is_none());
}

#[test]
fn resource_from_environment() {
    let env = |k: &str| -> Option<String> {
        match k {
            "AWS_REGION" => Some("eu-west-1".into()),
            "AWS_LAMBDA_FUNCTION_NAME" => Some("fn".into()),
            "AWS_LAMBDA_FUNCTION_VERSION" => Some("$LATEST".into()),
            "AWS_LAMBDA_LOG_STREAM_NAME" => Some("2024/01/01/[$LATEST]abc".into()),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE" => Some("128".into()),
            "AWS_LAMBDA_LOG_GROUP_NAME" => Some("/aws/lambda/fn".into()),
            _ => None,
        }
    };
    let r = lambda_resource(&env);
    let a = &r.attributes;
    assert_eq!(
        attr(a, "cloud.provider"),
        Some(&any_value::Value::StringValue("aws".into()))
    );
    assert_eq!(
        attr(a, "cloud.platform"),
        Some(&any_value::Value::StringValue("aws_lambda".into()))
    );
    assert_eq!(
        attr(a, "cloud.region"),
        Some(&any_value::Value::StringValue("eu-west-1".into()))
    );
    assert_eq!(
        attr(a, "faas.name"),
        Some(&any_value::Value::StringValue("fn".into()))
    );
    assert_eq!(
        attr(a, "service.name"),
        Some(&any_value::Value::StringValue("fn".into()))
    );
    assert_eq!(
        attr(a, "faas.version"),
        Some(&any_value::Value::StringValue("$LATEST".into()))
    );
    assert_eq!(
        attr(a, "faas.instance"),
        Some(&any_value::Value::StringValue(
            "2024/01/01/[$LATEST]abc".into()
        ))
    );
    assert_eq!(
        attr(a, "faas.max_memory"),
        Some(&any_value::Value::IntValue(134_217_728))
    );
    assert!(
        matches!(attr(a, "aws.log.group.names"), Some(any_value::Value::ArrayValue(v)) if v.values.len() == 1)
    );
}
