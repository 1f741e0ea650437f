//! Telemetry API records → OTLP (pure, no I/O): function and extension log lines
//! become log records, `platform.report` becomes `faas.*` metrics, and the
//! platform lifecycle records become an invocation span (plus an init span on a
//! cold start), parented on the invocation's X-Ray trace header when present.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};

use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue,
};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Histogram, HistogramDataPoint, Metric,
    NumberDataPoint, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, status, Span, Status};

use super::record::{rfc3339_nanos, Event, LogLine, PhaseSpan, Record, TraceContext};

/// Scope name of everything this receiver produces.
pub const SCOPE: &str = "tern/telemetryapi";

/// Invocations remembered between `platform.start` and `platform.runtimeDone`.
const MAX_OPEN: usize = 64;

/// Bucket bounds (seconds) of the duration histograms.
const DURATION_BOUNDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 30.0, 60.0,
    300.0, 900.0,
];
/// Bucket bounds (bytes) of the memory histogram.
const MEMORY_BOUNDS: &[f64] = &[
    67_108_864.0,
    134_217_728.0,
    268_435_456.0,
    536_870_912.0,
    1_073_741_824.0,
    2_147_483_648.0,
    4_294_967_296.0,
    8_589_934_592.0,
];

/// The Lambda resource, from the variables Lambda sets in the execution environment.
pub fn lambda_resource(lookup: &dyn Fn(&str) -> Option<String>) -> Resource {
    let mut attrs = vec![
        kv_str("cloud.provider", "aws"),
        kv_str("cloud.platform", "aws_lambda"),
    ];
    if let Some(v) = lookup("AWS_REGION") {
        attrs.push(kv_str("cloud.region", &v));
    }
    let name = lookup("AWS_LAMBDA_FUNCTION_NAME");
    if let Some(v) = lookup("OTEL_SERVICE_NAME").or_else(|| name.clone()) {
        attrs.push(kv_str("service.name", &v));
    }
    if let Some(v) = &name {
        attrs.push(kv_str("faas.name", v));
    }
    if let Some(v) = lookup("AWS_LAMBDA_FUNCTION_VERSION") {
        attrs.push(kv_str("faas.version", &v));
    }
    if let Some(v) = lookup("AWS_LAMBDA_LOG_STREAM_NAME") {
        attrs.push(kv_str("faas.instance", &v));
    }
    if let Some(mb) = lookup("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").and_then(|v| v.parse::<i64>().ok())
    {
        attrs.push(kv(
            "faas.max_memory",
            any_value::Value::IntValue(mb * 1_048_576),
        ));
    }
    if let Some(v) = lookup("AWS_LAMBDA_LOG_GROUP_NAME") {
        attrs.push(kv(
            "aws.log.group.names",
            any_value::Value::ArrayValue(ArrayValue {
                values: vec![AnyValue {
                    value: Some(any_value::Value::StringValue(v)),
                }],
            }),
        ));
    }
    Resource {
        attributes: attrs,
        ..Default::default()
    }
}

/// What one batch of records turned into.
#[derive(Debug, Default)]
pub struct Output {
    pub spans: Vec<Span>,
    pub metrics: Vec<Metric>,
    pub logs: Vec<LogRecord>,
}

#[derive(Debug, Clone)]
struct Open {
    request_id: String,
    start_ns: u64,
    trace_id: [u8; 16],
    span_id: [u8; 8],
    parent: Option<[u8; 8]>,
    cold: bool,
}

#[derive(Debug, Default)]
struct Init {
    start_ns: Option<u64>,
    end_ns: Option<u64>,
    failed: Option<String>,
    /// The init span is waiting for the first invocation to join its trace.
    pending: bool,
}

/// Turns records into OTLP, keeping the little state the lifecycle needs.
pub struct Translator {
    function_name: String,
    current_request: Option<String>,
    open: VecDeque<Open>,
    init: Init,
    ids: IdSource,
}

impl Translator {
    pub fn new(function_name: impl Into<String>) -> Self {
        Translator {
            function_name: function_name.into(),
            current_request: None,
            open: VecDeque::new(),
            init: Init::default(),
            ids: IdSource::new(),
        }
    }

    /// Translates a batch of records, in order.
    pub fn translate(&mut self, events: &mut [Event]) -> Output {
        let mut out = Output::default();
        for e in events.iter_mut() {
            let time = e.time_unix_nano();
            let kind = e.kind.clone();
            match e.typed() {
                Record::Function(line) => out.logs.push(self.log(&kind, time, line)),
                Record::Extension(line) => out.logs.push(self.log(&kind, time, line)),
                Record::InitStart(s) => {
                    if s.phase.as_deref().unwrap_or("init") == "init" {
                        self.init = Init {
                            start_ns: Some(time),
                            ..Init::default()
                        };
                    }
                }
                Record::InitRuntimeDone(d) => {
                    if self.init.start_ns.is_some() && self.init.end_ns.is_none() {
                        self.init.end_ns = Some(time);
                        self.init.pending = true;
                        if d.status.as_deref().is_some_and(|s| s != "success") {
                            self.init.failed =
                                Some(d.error_type.unwrap_or_else(|| "init failed".into()));
                        }
                    }
                }
                Record::InitReport(r) => {
                    if let (Some(start), None) = (self.init.start_ns, self.init.end_ns) {
                        self.init.end_ns = Some(start + ms_to_ns(r.metrics.duration_ms));
                        self.init.pending = true;
                    }
                }
                Record::Start(s) => {
                    self.current_request = Some(s.request_id.clone());
                    let (trace_id, parent) = s
                        .tracing
                        .as_ref()
                        .and_then(parse_xray)
                        .map_or_else(|| (self.ids.trace_id(), None), |(t, p)| (t, p));
                    let span_id = s
                        .tracing
                        .as_ref()
                        .and_then(|t| t.span_id.as_deref())
                        .and_then(hex8)
                        .unwrap_or_else(|| self.ids.span_id());
                    let cold = self.init.pending;
                    let open = Open {
                        request_id: s.request_id,
                        start_ns: time,
                        trace_id,
                        span_id,
                        parent,
                        cold,
                    };
                    if cold {
                        out.spans.push(self.init_span(&open));
                    }
                    if self.open.len() >= MAX_OPEN {
                        self.open.pop_front();
                    }
                    self.open.push_back(open);
                }
                Record::RuntimeDone(d) => {
                    let pos = self.open.iter().position(|o| o.request_id == d.request_id);
                    let open = match pos.and_then(|p| self.open.remove(p)) {
                        Some(o) => o,
                        None => {
                            // The start was not seen: derive it from the duration.
                            let dur = d.metrics.as_ref().map_or(0, |m| ms_to_ns(m.duration_ms));
                            let (trace_id, parent) = d
                                .tracing
                                .as_ref()
                                .and_then(parse_xray)
                                .map_or_else(|| (self.ids.trace_id(), None), |(t, p)| (t, p));
                            Open {
                                request_id: d.request_id.clone(),
                                start_ns: time.saturating_sub(dur),
                                trace_id,
                                span_id: self.ids.span_id(),
                                parent,
                                cold: false,
                            }
                        }
                    };
                    let mut attrs = vec![
                        kv_str("faas.invocation_id", &open.request_id),
                        kv("faas.coldstart", any_value::Value::BoolValue(open.cold)),
                    ];
                    if let Some(m) = &d.metrics {
                        if let Some(b) = m.produced_bytes {
                            attrs.push(kv(
                                "aws.lambda.produced_bytes",
                                any_value::Value::IntValue(i64::try_from(b).unwrap_or(i64::MAX)),
                            ));
                        }
                    }
                    let status = invocation_status(&d.status, d.error_type.as_deref());
                    out.spans.push(Span {
                        trace_id: open.trace_id.to_vec(),
                        span_id: open.span_id.to_vec(),
                        parent_span_id: open.parent.map(|p| p.to_vec()).unwrap_or_default(),
                        name: self.function_name.clone(),
                        kind: span::SpanKind::Server as i32,
                        start_time_unix_nano: open.start_ns,
                        end_time_unix_nano: time.max(open.start_ns),
                        attributes: attrs,
                        status: Some(status),
                        ..Default::default()
                    });
                    for p in &d.spans {
                        out.spans.push(self.phase_span(&open, p));
                    }
                    if self.current_request.as_deref() == Some(d.request_id.as_str()) {
                        self.current_request = None;
                    }
                }
                Record::Report(r) => {
                    out.metrics.extend(report_metrics(time, &r));
                }
                Record::Malformed(why) => {
                    tracing::debug!(kind = %kind, error = %why, "Telemetry API record without the documented fields; ignored.");
                }
                Record::Other => {}
            }
        }
        out
    }

    fn log(&self, kind: &str, time: u64, line: LogLine) -> LogRecord {
        let ts = line
            .timestamp
            .as_deref()
            .and_then(rfc3339_nanos)
            .unwrap_or(time);
        let (number, text) = severity(line.level.as_deref());
        let mut attrs = vec![kv_str("type", kind)];
        if let Some(id) = line
            .request_id
            .as_deref()
            .or(self.current_request.as_deref())
        {
            attrs.push(kv_str("faas.invocation_id", id));
        }
        for (k, v) in line.fields.into_iter().take(32) {
            let value = match v {
                serde_json::Value::String(s) => any_value::Value::StringValue(s),
                serde_json::Value::Bool(b) => any_value::Value::BoolValue(b),
                serde_json::Value::Number(n) => match n.as_i64() {
                    Some(i) => any_value::Value::IntValue(i),
                    None => any_value::Value::DoubleValue(n.as_f64().unwrap_or(0.0)),
                },
                other => any_value::Value::StringValue(other.to_string()),
            };
            attrs.push(kv(&k, value));
        }
        LogRecord {
            time_unix_nano: ts,
            observed_time_unix_nano: time,
            severity_number: number,
            severity_text: text,
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(line.message)),
            }),
            attributes: attrs,
            ..Default::default()
        }
    }

    fn init_span(&mut self, first: &Open) -> Span {
        self.init.pending = false;
        let start = self.init.start_ns.unwrap_or(first.start_ns);
        let end = self.init.end_ns.unwrap_or(first.start_ns).max(start);
        let status = match &self.init.failed {
            Some(e) => Status {
                code: status::StatusCode::Error as i32,
                message: e.clone(),
            },
            None => Status::default(),
        };
        Span {
            trace_id: first.trace_id.to_vec(),
            span_id: self.ids.span_id().to_vec(),
            parent_span_id: first.span_id.to_vec(),
            name: format!("init {}", self.function_name),
            kind: span::SpanKind::Internal as i32,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            attributes: vec![kv("faas.coldstart", any_value::Value::BoolValue(true))],
            status: Some(status),
            ..Default::default()
        }
    }

    fn phase_span(&mut self, parent: &Open, p: &PhaseSpan) -> Span {
        let start = rfc3339_nanos(&p.start).unwrap_or(parent.start_ns);
        Span {
            trace_id: parent.trace_id.to_vec(),
            span_id: self.ids.span_id().to_vec(),
            parent_span_id: parent.span_id.to_vec(),
            name: p.name.clone(),
            kind: span::SpanKind::Internal as i32,
            start_time_unix_nano: start,
            end_time_unix_nano: start + ms_to_ns(p.duration_ms),
            ..Default::default()
        }
    }
}

fn invocation_status(status: &str, error_type: Option<&str>) -> Status {
    if status == "success" {
        Status::default()
    } else {
        Status {
            code: status::StatusCode::Error as i32,
            message: match error_type {
                Some(e) => format!("{status}: {e}"),
                None => status.to_string(),
            },
        }
    }
}

fn report_metrics(time: u64, r: &super::record::Report) -> Vec<Metric> {
    let m = &r.metrics;
    let start = time.saturating_sub(ms_to_ns(m.duration_ms));
    let mut out = vec![
        histogram(
            "faas.invoke_duration",
            "s",
            "Duration of the invocation (platform.report).",
            start,
            time,
            m.duration_ms / 1000.0,
            DURATION_BOUNDS,
        ),
        histogram(
            "aws.lambda.billed_duration",
            "s",
            "Billed duration of the invocation.",
            start,
            time,
            m.billed_duration_ms / 1000.0,
            DURATION_BOUNDS,
        ),
        histogram(
            "faas.mem_usage",
            "By",
            "Maximum memory used during the invocation.",
            start,
            time,
            (m.max_memory_used_mb * 1_048_576) as f64,
            MEMORY_BOUNDS,
        ),
        counter(
            "faas.invocations",
            "{invocation}",
            "Invocations.",
            start,
            time,
            1,
        ),
        counter(
            "faas.coldstarts",
            "{coldstart}",
            "Invocations that started a new execution environment.",
            start,
            time,
            i64::from(m.init_duration_ms.is_some()),
        ),
        counter(
            "faas.errors",
            "{error}",
            "Invocations that ended with an error.",
            start,
            time,
            i64::from(r.status == "error" || r.status == "failure"),
        ),
        counter(
            "faas.timeouts",
            "{timeout}",
            "Invocations that timed out.",
            start,
            time,
            i64::from(r.status == "timeout"),
        ),
    ];
    if let Some(init) = m.init_duration_ms {
        out.push(histogram(
            "faas.init_duration",
            "s",
            "Duration of the cold start's init phase.",
            start,
            time,
            init / 1000.0,
            DURATION_BOUNDS,
        ));
    }
    out
}

fn histogram(
    name: &str,
    unit: &str,
    description: &str,
    start: u64,
    time: u64,
    value: f64,
    bounds: &[f64],
) -> Metric {
    let mut counts = vec![0u64; bounds.len() + 1];
    let idx = bounds
        .iter()
        .position(|b| value <= *b)
        .unwrap_or(bounds.len());
    counts[idx] = 1;
    Metric {
        name: name.to_string(),
        description: description.to_string(),
        unit: unit.to_string(),
        data: Some(metric::Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint {
                start_time_unix_nano: start,
                time_unix_nano: time,
                count: 1,
                sum: Some(value),
                bucket_counts: counts,
                explicit_bounds: bounds.to_vec(),
                min: Some(value),
                max: Some(value),
                ..Default::default()
            }],
            aggregation_temporality: AggregationTemporality::Delta as i32,
        })),
        ..Default::default()
    }
}

fn counter(name: &str, unit: &str, description: &str, start: u64, time: u64, value: i64) -> Metric {
    Metric {
        name: name.to_string(),
        description: description.to_string(),
        unit: unit.to_string(),
        data: Some(metric::Data::Sum(Sum {
            data_points: vec![NumberDataPoint {
                start_time_unix_nano: start,
                time_unix_nano: time,
                value: Some(number_data_point::Value::AsInt(value)),
                ..Default::default()
            }],
            aggregation_temporality: AggregationTemporality::Delta as i32,
            is_monotonic: true,
        })),
        ..Default::default()
    }
}

/// Log level → OTLP severity number and text.
fn severity(level: Option<&str>) -> (i32, String) {
    let Some(l) = level else {
        return (0, String::new());
    };
    let n = match l.to_ascii_uppercase().as_str() {
        "TRACE" => 1,
        "DEBUG" => 5,
        "INFO" => 9,
        "WARN" | "WARNING" => 13,
        "ERROR" => 17,
        "FATAL" | "CRITICAL" => 21,
        _ => 0,
    };
    (n, l.to_string())
}

/// `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`
/// → (trace ID, parent span ID).
pub fn parse_xray(t: &TraceContext) -> Option<([u8; 16], Option<[u8; 8]>)> {
    let mut trace = None;
    let mut parent = None;
    for part in t.value.split(';') {
        let (k, v) = part.trim().split_once('=')?;
        match k {
            "Root" => {
                let mut it = v.split('-');
                let (Some("1"), Some(epoch), Some(rand), None) =
                    (it.next(), it.next(), it.next(), it.next())
                else {
                    return None;
                };
                if epoch.len() != 8 || rand.len() != 24 {
                    return None;
                }
                let mut id = [0u8; 16];
                hex_into(&format!("{epoch}{rand}"), &mut id)?;
                trace = Some(id);
            }
            "Parent" => parent = hex8(v),
            _ => {}
        }
    }
    trace.map(|t| (t, parent))
}

fn hex8(s: &str) -> Option<[u8; 8]> {
    let mut out = [0u8; 8];
    hex_into(s, &mut out)?;
    Some(out)
}

fn hex_into(s: &str, out: &mut [u8]) -> Option<()> {
    if s.len() != out.len() * 2 {
        return None;
    }
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(())
}

fn ms_to_ns(ms: f64) -> u64 {
    if ms.is_finite() && ms > 0.0 {
        (ms * 1_000_000.0) as u64
    } else {
        0
    }
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn kv_str(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.to_string()))
}

/// The instrumentation scope of this receiver's output.
pub fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: SCOPE.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        ..Default::default()
    }
}

/// Random span and trace IDs (splitmix64 seeded from the process's hash keys).
struct IdSource(u64);

impl IdSource {
    fn new() -> Self {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(super::record::now_unix_nano());
        IdSource(h.finish())
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn span_id(&mut self) -> [u8; 8] {
        loop {
            let v = self.next();
            if v != 0 {
                return v.to_be_bytes();
            }
        }
    }
    fn trace_id(&mut self) -> [u8; 16] {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&self.span_id());
        id[8..].copy_from_slice(&self.next().to_be_bytes());
        id
    }
}

#[cfg(test)]
#[path = "translate_tests.rs"]
mod tests;
