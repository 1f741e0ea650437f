//! Telemetry API records, schema `2022-12-13`
//! (<https://docs.aws.amazon.com/lambda/latest/dg/telemetry-schema-reference.html>).
//!
//! Parsing is tolerant: a record of a type Tern does not know, or with fields it
//! does not expect, never makes the rest of the batch unreadable.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::Value;

/// One element of a Telemetry API batch, as delivered.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    /// RFC 3339 time the platform gave the record.
    pub time: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub record: Value,
}

/// Parses a POSTed batch (a JSON array of events). Elements that are not events
/// are skipped and counted in the second value.
pub fn parse_batch(body: &[u8]) -> Result<(Vec<Event>, usize), serde_json::Error> {
    let raw: Vec<Value> = serde_json::from_slice(body)?;
    let mut skipped = 0;
    let mut out = Vec::with_capacity(raw.len());
    for v in raw {
        match serde_json::from_value::<Event>(v) {
            Ok(e) => out.push(e),
            Err(_) => skipped += 1,
        }
    }
    Ok((out, skipped))
}

impl Event {
    /// Nanoseconds since the Unix epoch of `time` (0 when unparsable).
    pub fn time_unix_nano(&self) -> u64 {
        rfc3339_nanos(&self.time).unwrap_or(0)
    }

    /// The request ID of a `platform.runtimeDone` record (the flush trigger).
    pub fn runtime_done_request_id(&self) -> Option<&str> {
        if self.kind == "platform.runtimeDone" {
            self.record.get("requestId").and_then(Value::as_str)
        } else {
            None
        }
    }

    /// The typed record (consumes the JSON body).
    pub fn typed(&mut self) -> Record {
        let body = std::mem::take(&mut self.record);
        fn parse<T: serde::de::DeserializeOwned>(v: Value, wrap: fn(T) -> Record) -> Record {
            match serde_json::from_value::<T>(v) {
                Ok(t) => wrap(t),
                Err(e) => Record::Malformed(e.to_string()),
            }
        }
        match self.kind.as_str() {
            "function" => Record::Function(LogLine::from_value(body)),
            "extension" => Record::Extension(LogLine::from_value(body)),
            "platform.initStart" => parse(body, Record::InitStart),
            "platform.initRuntimeDone" => parse(body, Record::InitRuntimeDone),
            "platform.initReport" => parse(body, Record::InitReport),
            "platform.start" => parse(body, Record::Start),
            "platform.runtimeDone" => parse(body, Record::RuntimeDone),
            "platform.report" => parse(body, Record::Report),
            _ => Record::Other,
        }
    }
}

/// RFC 3339 → nanoseconds since the epoch.
pub fn rfc3339_nanos(s: &str) -> Option<u64> {
    let t = humantime::parse_rfc3339_weak(s.trim_end_matches('Z')).ok()?;
    t.duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| u64::try_from(d.as_nanos()).ok())
}

/// Now, in nanoseconds since the epoch.
pub fn now_unix_nano() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| u64::try_from(d.as_nanos()).ok())
        .unwrap_or(0)
}

/// The records Tern turns into telemetry.
#[derive(Debug, Clone)]
pub enum Record {
    Function(LogLine),
    Extension(LogLine),
    InitStart(InitStart),
    InitRuntimeDone(InitRuntimeDone),
    InitReport(InitReport),
    Start(Start),
    RuntimeDone(RuntimeDone),
    Report(Report),
    /// A known type whose body did not have the documented shape.
    Malformed(String),
    /// A type Tern does not use (`platform.extension`, `platform.logsDropped`, …).
    Other,
}

/// A function or extension log line: plain text, or the JSON log format's object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogLine {
    pub message: String,
    pub level: Option<String>,
    pub timestamp: Option<String>,
    pub request_id: Option<String>,
    /// Other fields of a JSON log object.
    pub fields: Vec<(String, Value)>,
}

impl LogLine {
    fn from_value(v: Value) -> LogLine {
        match v {
            Value::String(s) => LogLine {
                message: s.trim_end_matches('\n').to_string(),
                ..Default::default()
            },
            Value::Object(map) => {
                let mut line = LogLine::default();
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("message", Value::String(s)) => line.message = s,
                        ("message", other) => line.message = other.to_string(),
                        ("level", Value::String(s)) => line.level = Some(s),
                        ("timestamp", Value::String(s)) => line.timestamp = Some(s),
                        ("requestId", Value::String(s)) => line.request_id = Some(s),
                        (_, v) => line.fields.push((k, v)),
                    }
                }
                line
            }
            other => LogLine {
                message: other.to_string(),
                ..Default::default()
            },
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InitStart {
    #[serde(default)]
    pub initialization_type: Option<String>,
    #[serde(default)]
    pub phase: Option<String>,
    #[serde(default)]
    pub runtime_version: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InitRuntimeDone {
    #[serde(default)]
    pub initialization_type: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub error_type: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InitReport {
    #[serde(default)]
    pub initialization_type: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    pub metrics: InitReportMetrics,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InitReportMetrics {
    pub duration_ms: f64,
}

/// Tracing context of an invocation (`X-Amzn-Trace-Id`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TraceContext {
    #[serde(default)]
    pub span_id: Option<String>,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    pub value: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Start {
    pub request_id: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub tracing: Option<TraceContext>,
}

/// A phase the platform reports inside an invocation (`responseLatency`, …).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PhaseSpan {
    pub name: String,
    pub start: String,
    pub duration_ms: f64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeDone {
    pub request_id: String,
    pub status: String,
    #[serde(default)]
    pub error_type: Option<String>,
    #[serde(default)]
    pub metrics: Option<RuntimeDoneMetrics>,
    #[serde(default)]
    pub spans: Vec<PhaseSpan>,
    #[serde(default)]
    pub tracing: Option<TraceContext>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeDoneMetrics {
    pub duration_ms: f64,
    #[serde(default)]
    pub produced_bytes: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub request_id: String,
    pub status: String,
    #[serde(default)]
    pub error_type: Option<String>,
    pub metrics: ReportMetrics,
    #[serde(default)]
    pub tracing: Option<TraceContext>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReportMetrics {
    pub duration_ms: f64,
    pub billed_duration_ms: f64,
    #[serde(rename = "memorySizeMB")]
    pub memory_size_mb: u64,
    #[serde(rename = "maxMemoryUsedMB")]
    pub max_memory_used_mb: u64,
    #[serde(default)]
    pub init_duration_ms: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(json: &str) -> Event {
        let (mut v, skipped) = parse_batch(format!("[{json}]").as_bytes()).unwrap();
        assert_eq!(skipped, 0);
        v.remove(0)
    }

    type Check = fn(&Record) -> bool;

    #[test]
    fn records_parse_table() {
        let cases: &[(&str, Check)] = &[
            (
                r#"{"time":"2022-10-12T00:00:15.064Z","type":"platform.start","record":{"requestId":"r1","version":"$LATEST","tracing":{"spanId":"54565fb41ac79632","type":"X-Amzn-Trace-Id","value":"Root=1-62e900b2-710d76f009d6e7785905449a;Parent=0efbd19962d95b05;Sampled=1"}}}"#,
                |r| matches!(r, Record::Start(s) if s.request_id == "r1" && s.tracing.as_ref().is_some_and(|t| t.value.starts_with("Root=1-"))),
            ),
            (
                r#"{"time":"2022-10-12T00:01:15.000Z","type":"platform.runtimeDone","record":{"requestId":"r1","status":"success","metrics":{"durationMs":140.0,"producedBytes":16},"spans":[{"name":"responseLatency","start":"2022-10-12T00:01:14.900Z","durationMs":23.02}]}}"#,
                |r| matches!(r, Record::RuntimeDone(d) if d.status == "success" && d.spans.len() == 1),
            ),
            (
                r#"{"time":"2022-10-12T00:01:15.100Z","type":"platform.report","record":{"requestId":"r1","status":"timeout","metrics":{"durationMs":101.51,"billedDurationMs":102,"memorySizeMB":128,"maxMemoryUsedMB":71,"initDurationMs":214.4}}}"#,
                |r| matches!(r, Record::Report(p) if p.metrics.max_memory_used_mb == 71 && p.metrics.init_duration_ms == Some(214.4)),
            ),
            (
                r#"{"time":"2022-10-12T00:00:15.064Z","type":"function","record":"hello\n"}"#,
                |r| matches!(r, Record::Function(l) if l.message == "hello"),
            ),
            (
                r#"{"time":"2022-10-12T00:00:15.064Z","type":"function","record":{"timestamp":"2022-10-12T00:00:15.064Z","level":"ERROR","message":"boom","requestId":"r9","logger":"x"}}"#,
                |r| matches!(r, Record::Function(l) if l.message == "boom" && l.level.as_deref() == Some("ERROR") && l.request_id.as_deref() == Some("r9") && l.fields.len() == 1),
            ),
            (
                r#"{"time":"2022-10-12T00:00:15.064Z","type":"platform.initStart","record":{"initializationType":"on-demand","phase":"init","runtimeVersion":"python:3.12"}}"#,
                |r| matches!(r, Record::InitStart(s) if s.phase.as_deref() == Some("init")),
            ),
            (
                r#"{"time":"2022-10-12T00:00:15.064Z","type":"platform.logsDropped","record":{"reason":"x","droppedRecords":1,"droppedBytes":2}}"#,
                |r| matches!(r, Record::Other),
            ),
            (
                r#"{"time":"2022-10-12T00:00:15.064Z","type":"platform.report","record":{"requestId":"r1"}}"#,
                |r| matches!(r, Record::Malformed(_)),
            ),
        ];
        for (json, check) in cases {
            let rec = one(json).typed();
            assert!(check(&rec), "{json} -> {rec:?}");
        }
    }

    #[test]
    fn bad_elements_are_skipped_not_fatal() {
        let (v, skipped) = parse_batch(
            br#"[1, {"time":"2022-10-12T00:00:15Z","type":"function","record":"x"}, {"nope":1}]"#,
        )
        .unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(skipped, 2);
        assert!(parse_batch(b"{}").is_err());
    }

    #[test]
    fn time_parses_to_nanos() {
        assert_eq!(
            rfc3339_nanos("2022-10-12T00:00:15.064Z"),
            Some(1_665_532_815_064_000_000)
        );
        assert_eq!(rfc3339_nanos("garbage"), None);
        let e = one(
            r#"{"time":"2022-10-12T00:01:15.000Z","type":"platform.runtimeDone","record":{"requestId":"abc","status":"success"}}"#,
        );
        assert_eq!(e.runtime_done_request_id(), Some("abc"));
    }
}
