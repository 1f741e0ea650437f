//! OTLP metrics → Prometheus remote-write 1.0 time series (pure, no I/O).
//!
//! Every series has `__name__`, labels sorted by name and unique, no empty
//! values, and its samples (and native histograms) sorted by timestamp.
//! Delta sums and histograms must have been made cumulative before (see
//! [`super::delta`]); any left are translation errors, as upstream.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, metric, number_data_point, AggregationTemporality, Exemplar as OtlpExemplar,
    ExponentialHistogramDataPoint, HistogramDataPoint, Metric, NumberDataPoint, SummaryDataPoint,
};

use super::naming::{format_float, label_name, metric_name, NameKind};
use super::proto::{
    histogram, stale_nan, BucketSpan, Exemplar, Histogram, Label, MetricMetadata, MetricType,
    Sample, TimeSeries, STALE_NAN_BITS,
};

/// The OTLP data point flag `FLAG_NO_RECORDED_VALUE`.
const NO_RECORDED_VALUE: u32 = 1;
/// Exemplar label sets longer than this (runes of names and values) lose their
/// filtered attributes (Prometheus' exemplar limit).
const MAX_EXEMPLAR_RUNES: usize = 128;
/// `zero_threshold` of converted native histograms.
const DEFAULT_ZERO_THRESHOLD: f64 = 1e-128;

/// Translation settings (from the exporter config).
#[derive(Debug, Clone, Default)]
pub struct TranslateSettings {
    pub namespace: String,
    /// Sanitised names, sorted; added when a series does not have the label.
    pub external_labels: Vec<Label>,
    pub add_metric_suffixes: bool,
    pub resource_to_telemetry: bool,
    pub exclude_service_attributes: bool,
    pub target_info: bool,
    pub disable_scope_info: bool,
    pub send_metadata: bool,
}

/// Why (part of) a metric could not be translated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TranslateError {
    #[error("invalid temporality and type combination for metric {0:?}")]
    InvalidTemporality(String),
    #[error("empty data points. {0} is dropped")]
    EmptyDataPoints(String),
    #[error("unsupported metric type for metric {0:?}")]
    NoData(String),
    #[error("cannot convert exponential to native histogram. Scale must be >= -4, was {0}")]
    ScaleTooSmall(i32),
}

/// The translated series of one batch, and what could not be translated.
#[derive(Debug, Default)]
pub struct Translated {
    pub series: Vec<TimeSeries>,
    pub metadata: Vec<MetricMetadata>,
    /// One entry per metric (or histogram point) that failed.
    pub errors: Vec<TranslateError>,
    /// Data points dropped because of `errors`.
    pub dropped_points: u64,
}

/// Collects series by label set.
#[derive(Default)]
struct SeriesSet {
    series: Vec<TimeSeries>,
    index: HashMap<u64, usize, std::hash::BuildHasherDefault<PassThrough>>,
}

/// The map key is already a good hash: use it as is.
#[derive(Default)]
struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

const MIX: u64 = 0x517c_c1b7_2722_0a95;

fn mix_bytes(mut h: u64, bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(MIX);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(MIX);
    }
    // Length separates "ab","c" from "a","bc".
    (h.rotate_left(5) ^ bytes.len() as u64).wrapping_mul(MIX)
}

/// A fast 64-bit hash of a label set (collisions are resolved by comparing labels).
fn hash_labels(labels: &[Label]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for l in labels {
        h = mix_bytes(h, l.name.as_bytes());
        h = mix_bytes(h, l.value.as_bytes());
    }
    // Final avalanche (the low bits pick hash-map buckets).
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

impl SeriesSet {
    /// The series with exactly `labels` (sorted, unique), created when new.
    fn get(&mut self, labels: Vec<Label>) -> &mut TimeSeries {
        let mut h = hash_labels(&labels);
        let idx = loop {
            match self.index.get(&h) {
                Some(&i) if self.series[i].labels == labels => break i,
                Some(_) => h = h.wrapping_add(0x9e37_79b9_7f4a_7c15),
                None => {
                    self.series.push(TimeSeries {
                        labels,
                        ..Default::default()
                    });
                    let i = self.series.len() - 1;
                    self.index.insert(h, i);
                    break i;
                }
            }
        };
        &mut self.series[idx]
    }
}

/// The string form of an attribute value (as pcommon `AsString`).
pub fn value_string(v: Option<&AnyValue>) -> String {
    let Some(v) = v.and_then(|v| v.value.as_ref()) else {
        return String::new();
    };
    match v {
        any_value::Value::StringValue(s) => s.clone(),
        any_value::Value::BoolValue(b) => b.to_string(),
        any_value::Value::IntValue(i) => i.to_string(),
        any_value::Value::DoubleValue(d) => format_float(*d),
        any_value::Value::BytesValue(b) => {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(b)
        }
        other => {
            let mut s = String::new();
            json_value(other, &mut s);
            s
        }
    }
}

fn json_value(v: &any_value::Value, out: &mut String) {
    match v {
        any_value::Value::StringValue(s) => {
            out.push_str(&serde_json::Value::String(s.clone()).to_string())
        }
        any_value::Value::BoolValue(b) => {
            let _ = write!(out, "{b}");
        }
        any_value::Value::IntValue(i) => {
            let _ = write!(out, "{i}");
        }
        any_value::Value::DoubleValue(d) => {
            let _ = write!(out, "{}", serde_json::Value::from(*d));
        }
        any_value::Value::BytesValue(_) => {
            out.push_str(
                &serde_json::Value::String(value_string(Some(&AnyValue {
                    value: Some(v.clone()),
                })))
                .to_string(),
            );
        }
        any_value::Value::ArrayValue(a) => {
            out.push('[');
            for (i, e) in a.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match &e.value {
                    Some(v) => json_value(v, out),
                    None => out.push_str("null"),
                }
            }
            out.push(']');
        }
        any_value::Value::KvlistValue(kv) => {
            out.push('{');
            for (i, e) in kv.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(e.key.clone()).to_string());
                out.push(':');
                match e.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(v) => json_value(v, out),
                    None => out.push_str("null"),
                }
            }
            out.push('}');
        }
        // Indices into a dictionary this exporter never receives.
        _ => out.push_str("null"),
    }
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
}

const SERVICE_ATTRS: [&str; 3] = ["service.name", "service.namespace", "service.instance.id"];

/// Sanitises attributes into labels: keys processed in sorted order, values of
/// keys that collide after sanitising joined with `;`, empty values left out.
fn sanitize_into<'a>(
    attrs: impl Iterator<Item = &'a KeyValue>,
    out: &mut BTreeMap<String, String>,
    skip_existing: bool,
) {
    let mut sorted: Vec<&KeyValue> = attrs.collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    let mut fresh: BTreeMap<String, String> = BTreeMap::new();
    for kv in sorted {
        let Some(name) = label_name(&kv.key) else {
            continue;
        };
        let value = value_string(kv.value.as_ref());
        if value.is_empty() {
            continue;
        }
        if skip_existing && out.contains_key(&name) {
            continue;
        }
        match fresh.get_mut(&name) {
            Some(existing) => {
                existing.push(';');
                existing.push_str(&value);
            }
            None => {
                fresh.insert(name, value);
            }
        }
    }
    out.extend(fresh);
}

/// Per-resource values every series of that resource shares.
struct ResourceCtx {
    job: Option<String>,
    instance: Option<String>,
    /// Resource attributes as labels (only with resource_to_telemetry_conversion).
    labels: BTreeMap<String, String>,
}

impl ResourceCtx {
    fn new(attrs: &[KeyValue], s: &TranslateSettings) -> Self {
        let name = value_string(attr(attrs, "service.name"));
        let ns = value_string(attr(attrs, "service.namespace"));
        let job = match (name.is_empty(), ns.is_empty()) {
            (true, _) => None,
            (false, true) => Some(name),
            (false, false) => Some(format!("{ns}/{name}")),
        };
        let instance =
            Some(value_string(attr(attrs, "service.instance.id"))).filter(|v| !v.is_empty());
        let mut labels = BTreeMap::new();
        if s.resource_to_telemetry {
            sanitize_into(
                attrs.iter().filter(|kv| {
                    !(s.exclude_service_attributes && SERVICE_ATTRS.contains(&kv.key.as_str()))
                }),
                &mut labels,
                false,
            );
        }
        ResourceCtx {
            job,
            instance,
            labels,
        }
    }
}

/// Labels of a data point without `__name__` (and `le`/`quantile`).
fn base_labels(
    attrs: &[KeyValue],
    res: &ResourceCtx,
    scope: &[Label],
    s: &TranslateSettings,
) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    sanitize_into(attrs.iter(), &mut m, false);
    // Resource attributes (resource_to_telemetry_conversion): the point's win.
    for (k, v) in &res.labels {
        m.entry(k.clone()).or_insert_with(|| v.clone());
    }
    if let Some(job) = &res.job {
        m.insert("job".into(), job.clone());
    }
    if let Some(inst) = &res.instance {
        m.insert("instance".into(), inst.clone());
    }
    for l in &s.external_labels {
        m.entry(l.name.clone()).or_insert_with(|| l.value.clone());
    }
    for l in scope {
        m.insert(l.name.clone(), l.value.clone());
    }
    m
}

/// Final label list: base + extras (which overwrite), sorted, no empty values.
fn finish(base: &BTreeMap<String, String>, extras: &[(&str, &str)]) -> Vec<Label> {
    let mut v: Vec<Label> = Vec::with_capacity(base.len() + extras.len());
    for (k, val) in base {
        if extras.iter().any(|(n, _)| *n == k) || val.is_empty() {
            continue;
        }
        v.push(Label::new(k.as_str(), val.as_str()));
    }
    for (n, val) in extras {
        if !val.is_empty() {
            v.push(Label::new(*n, *val));
        }
    }
    v.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    v
}

fn ms(nanos: u64) -> i64 {
    (nanos / 1_000_000) as i64
}

fn is_stale(flags: u32) -> bool {
    flags & NO_RECORDED_VALUE != 0
}

fn number_value(p: &NumberDataPoint) -> f64 {
    if is_stale(p.flags) {
        return stale_nan();
    }
    match p.value {
        Some(number_data_point::Value::AsDouble(d)) => d,
        Some(number_data_point::Value::AsInt(i)) => i as f64,
        None => 0.0,
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn convert_exemplar(e: &OtlpExemplar) -> Exemplar {
    let mut labels = Vec::new();
    if !e.trace_id.is_empty() {
        labels.push(Label::new("trace_id", hex(&e.trace_id)));
    }
    if !e.span_id.is_empty() {
        labels.push(Label::new("span_id", hex(&e.span_id)));
    }
    let runes = |ls: &[Label]| -> usize {
        ls.iter()
            .map(|l| l.name.chars().count() + l.value.chars().count())
            .sum()
    };
    let mut extra = BTreeMap::new();
    sanitize_into(e.filtered_attributes.iter(), &mut extra, false);
    let extra: Vec<Label> = extra
        .into_iter()
        .filter(|(k, _)| k != "trace_id" && k != "span_id")
        .map(|(k, v)| Label::new(k, v))
        .collect();
    if runes(&labels) + runes(&extra) <= MAX_EXEMPLAR_RUNES {
        labels.extend(extra);
    }
    labels.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    let value = match e.value {
        Some(exemplar::Value::AsDouble(d)) => d,
        Some(exemplar::Value::AsInt(i)) => i as f64,
        None => 0.0,
    };
    Exemplar {
        labels,
        value,
        timestamp: ms(e.time_unix_nano),
    }
}

fn exemplar_value(e: &OtlpExemplar) -> f64 {
    match e.value {
        Some(exemplar::Value::AsDouble(d)) => d,
        Some(exemplar::Value::AsInt(i)) => i as f64,
        None => 0.0,
    }
}

struct Translator<'s> {
    s: &'s TranslateSettings,
    set: SeriesSet,
    out: Translated,
    metadata_seen: HashMap<String, ()>,
}

/// Translates one OTLP metrics request.
pub fn translate(req: &ExportMetricsServiceRequest, s: &TranslateSettings) -> Translated {
    let mut t = Translator {
        s,
        set: SeriesSet::default(),
        out: Translated::default(),
        metadata_seen: HashMap::new(),
    };
    for rm in &req.resource_metrics {
        let rattrs: &[KeyValue] = rm.resource.as_ref().map_or(&[], |r| &r.attributes);
        let res = ResourceCtx::new(rattrs, s);
        let mut newest: u64 = 0;
        for sm in &rm.scope_metrics {
            let scope = scope_labels(sm.scope.as_ref(), s);
            for m in &sm.metrics {
                newest = newest.max(newest_timestamp(m));
                t.metric(m, &res, &scope);
            }
        }
        t.target_info(rattrs, &res, newest);
    }
    let mut out = t.out;
    out.series = t.set.series;
    for ts in &mut out.series {
        sort_points(ts);
    }
    out
}

/// Samples, histograms and exemplars in timestamp order (stable).
fn sort_points(ts: &mut TimeSeries) {
    if !ts.samples.is_sorted_by_key(|p| p.timestamp) {
        ts.samples.sort_by_key(|p| p.timestamp);
    }
    if !ts.histograms.is_sorted_by_key(|p| p.timestamp) {
        ts.histograms.sort_by_key(|p| p.timestamp);
    }
    if !ts.exemplars.is_sorted_by_key(|p| p.timestamp) {
        ts.exemplars.sort_by_key(|p| p.timestamp);
    }
}

fn scope_labels(
    scope: Option<&opentelemetry_proto::tonic::common::v1::InstrumentationScope>,
    s: &TranslateSettings,
) -> Vec<Label> {
    let Some(scope) = scope else {
        return Vec::new();
    };
    if s.disable_scope_info {
        return Vec::new();
    }
    let mut v = Vec::new();
    if !scope.name.is_empty() {
        v.push(Label::new("otel_scope_name", scope.name.as_str()));
    }
    if !scope.version.is_empty() {
        v.push(Label::new("otel_scope_version", scope.version.as_str()));
    }
    let mut attrs = BTreeMap::new();
    sanitize_into(scope.attributes.iter(), &mut attrs, false);
    for (k, val) in attrs {
        v.push(Label::new(format!("otel_scope_{k}"), val));
    }
    v
}

fn newest_timestamp(m: &Metric) -> u64 {
    match &m.data {
        Some(metric::Data::Gauge(g)) => g.data_points.iter().map(|p| p.time_unix_nano).max(),
        Some(metric::Data::Sum(g)) => g.data_points.iter().map(|p| p.time_unix_nano).max(),
        Some(metric::Data::Histogram(g)) => g.data_points.iter().map(|p| p.time_unix_nano).max(),
        Some(metric::Data::ExponentialHistogram(g)) => {
            g.data_points.iter().map(|p| p.time_unix_nano).max()
        }
        Some(metric::Data::Summary(g)) => g.data_points.iter().map(|p| p.time_unix_nano).max(),
        None => None,
    }
    .unwrap_or(0)
}

fn cumulative(t: i32) -> bool {
    t == AggregationTemporality::Cumulative as i32
}

impl Translator<'_> {
    fn fail(&mut self, e: TranslateError, points: usize) {
        self.out.errors.push(e);
        self.out.dropped_points += points as u64;
    }

    fn metadata(&mut self, name: &str, ty: MetricType, m: &Metric) {
        if !self.s.send_metadata || self.metadata_seen.contains_key(name) {
            return;
        }
        self.metadata_seen.insert(name.to_string(), ());
        self.out.metadata.push(MetricMetadata {
            r#type: ty as i32,
            metric_family_name: name.to_string(),
            help: m.description.clone(),
            unit: m.unit.clone(),
        });
    }

    fn name(&self, m: &Metric, kind: NameKind) -> String {
        metric_name(
            &m.name,
            &m.unit,
            kind,
            &self.s.namespace,
            self.s.add_metric_suffixes,
        )
    }

    fn metric(&mut self, m: &Metric, res: &ResourceCtx, scope: &[Label]) {
        let points = crate::otlp::metric_points(m);
        let Some(data) = &m.data else {
            self.fail(TranslateError::NoData(m.name.clone()), 0);
            return;
        };
        if points == 0 {
            self.fail(TranslateError::EmptyDataPoints(m.name.clone()), 0);
            return;
        }
        match data {
            metric::Data::Gauge(g) => {
                let name = self.name(m, NameKind::Gauge);
                self.metadata(&name, MetricType::Gauge, m);
                for p in &g.data_points {
                    self.number(p, &name, res, scope, false);
                }
            }
            metric::Data::Sum(sum) => {
                if !cumulative(sum.aggregation_temporality) {
                    self.fail(TranslateError::InvalidTemporality(m.name.clone()), points);
                    return;
                }
                let (kind, ty) = if sum.is_monotonic {
                    (NameKind::Counter, MetricType::Counter)
                } else {
                    (NameKind::Other, MetricType::Gauge)
                };
                let name = self.name(m, kind);
                self.metadata(&name, ty, m);
                for p in &sum.data_points {
                    self.number(p, &name, res, scope, true);
                }
            }
            metric::Data::Histogram(h) => {
                if !cumulative(h.aggregation_temporality) {
                    self.fail(TranslateError::InvalidTemporality(m.name.clone()), points);
                    return;
                }
                let name = self.name(m, NameKind::Other);
                self.metadata(&name, MetricType::Histogram, m);
                for p in &h.data_points {
                    self.histogram(p, &name, res, scope);
                }
            }
            metric::Data::ExponentialHistogram(h) => {
                if !cumulative(h.aggregation_temporality) {
                    self.fail(TranslateError::InvalidTemporality(m.name.clone()), points);
                    return;
                }
                let name = self.name(m, NameKind::Other);
                self.metadata(&name, MetricType::Histogram, m);
                for p in &h.data_points {
                    self.exponential(p, &name, res, scope);
                }
            }
            metric::Data::Summary(sm) => {
                let name = self.name(m, NameKind::Other);
                self.metadata(&name, MetricType::Summary, m);
                for p in &sm.data_points {
                    self.summary(p, &name, res, scope);
                }
            }
        }
    }

    fn number(
        &mut self,
        p: &NumberDataPoint,
        name: &str,
        res: &ResourceCtx,
        scope: &[Label],
        exemplars: bool,
    ) {
        let base = base_labels(&p.attributes, res, scope, self.s);
        let ts = self.set.get(finish(&base, &[("__name__", name)]));
        ts.samples.push(Sample {
            value: number_value(p),
            timestamp: ms(p.time_unix_nano),
        });
        if exemplars {
            ts.exemplars
                .extend(p.exemplars.iter().map(convert_exemplar));
        }
    }

    fn sample(&mut self, labels: Vec<Label>, value: f64, timestamp: i64) -> &mut TimeSeries {
        let ts = self.set.get(labels);
        ts.samples.push(Sample { value, timestamp });
        ts
    }

    fn histogram(
        &mut self,
        p: &HistogramDataPoint,
        name: &str,
        res: &ResourceCtx,
        scope: &[Label],
    ) {
        let base = base_labels(&p.attributes, res, scope, self.s);
        let stale = is_stale(p.flags);
        let t = ms(p.time_unix_nano);
        let val = |v: f64| if stale { stale_nan() } else { v };
        if p.sum.is_some() || stale {
            let n = format!("{name}_sum");
            self.sample(
                finish(&base, &[("__name__", &n)]),
                val(p.sum.unwrap_or(0.0)),
                t,
            );
        }
        let n = format!("{name}_count");
        self.sample(finish(&base, &[("__name__", &n)]), val(p.count as f64), t);
        let bucket = format!("{name}_bucket");
        // Exemplars go to the first bucket whose bound is >= their value.
        let mut exemplars: Vec<(f64, Exemplar)> = p
            .exemplars
            .iter()
            .map(|e| (exemplar_value(e), convert_exemplar(e)))
            .collect();
        let mut cumulative: u64 = 0;
        let n_buckets = p.explicit_bounds.len().min(p.bucket_counts.len());
        for i in 0..n_buckets {
            cumulative = cumulative.saturating_add(p.bucket_counts[i]);
            let bound = p.explicit_bounds[i];
            let le = format_float(bound);
            let ts = self.sample(
                finish(&base, &[("__name__", &bucket), ("le", &le)]),
                val(cumulative as f64),
                t,
            );
            let (mine, rest): (Vec<_>, Vec<_>) =
                exemplars.into_iter().partition(|(v, _)| *v <= bound);
            ts.exemplars.extend(mine.into_iter().map(|(_, e)| e));
            exemplars = rest;
        }
        let ts = self.sample(
            finish(&base, &[("__name__", &bucket), ("le", "+Inf")]),
            val(p.count as f64),
            t,
        );
        ts.exemplars.extend(exemplars.into_iter().map(|(_, e)| e));
    }

    fn summary(&mut self, p: &SummaryDataPoint, name: &str, res: &ResourceCtx, scope: &[Label]) {
        let base = base_labels(&p.attributes, res, scope, self.s);
        let stale = is_stale(p.flags);
        let t = ms(p.time_unix_nano);
        let val = |v: f64| if stale { stale_nan() } else { v };
        let n = format!("{name}_sum");
        self.sample(finish(&base, &[("__name__", &n)]), val(p.sum), t);
        let n = format!("{name}_count");
        self.sample(finish(&base, &[("__name__", &n)]), val(p.count as f64), t);
        for q in &p.quantile_values {
            let qs = format_float(q.quantile);
            self.sample(
                finish(&base, &[("__name__", name), ("quantile", &qs)]),
                val(q.value),
                t,
            );
        }
    }

    fn exponential(
        &mut self,
        p: &ExponentialHistogramDataPoint,
        name: &str,
        res: &ResourceCtx,
        scope: &[Label],
    ) {
        let h = match to_native(p) {
            Ok(h) => h,
            Err(e) => {
                self.fail(e, 1);
                return;
            }
        };
        let base = base_labels(&p.attributes, res, scope, self.s);
        let ts = self.set.get(finish(&base, &[("__name__", name)]));
        ts.histograms.push(h);
        ts.exemplars
            .extend(p.exemplars.iter().map(convert_exemplar));
    }

    fn target_info(&mut self, rattrs: &[KeyValue], res: &ResourceCtx, newest: u64) {
        if !self.s.target_info || newest == 0 {
            return;
        }
        if rattrs
            .iter()
            .all(|kv| SERVICE_ATTRS.contains(&kv.key.as_str()))
        {
            return;
        }
        if res.job.is_none() && res.instance.is_none() {
            return;
        }
        let mut m = BTreeMap::new();
        sanitize_into(
            rattrs
                .iter()
                .filter(|kv| !SERVICE_ATTRS.contains(&kv.key.as_str())),
            &mut m,
            false,
        );
        if let Some(job) = &res.job {
            m.insert("job".into(), job.clone());
        }
        if let Some(inst) = &res.instance {
            m.insert("instance".into(), inst.clone());
        }
        for l in &self.s.external_labels {
            m.entry(l.name.clone()).or_insert_with(|| l.value.clone());
        }
        let name = if self.s.namespace.is_empty() {
            "target_info".to_string()
        } else {
            format!("{}_target_info", self.s.namespace)
        };
        self.sample(finish(&m, &[("__name__", &name)]), 1.0, ms(newest));
    }
}

/// An OTLP exponential histogram point as a Prometheus native histogram:
/// scale above 8 reduced to 8 (buckets merged), OTel index `i` → Prometheus
/// index `i + 1`, spans split on gaps of more than two buckets.
pub fn to_native(p: &ExponentialHistogramDataPoint) -> Result<Histogram, TranslateError> {
    if p.scale < -4 {
        return Err(TranslateError::ScaleTooSmall(p.scale));
    }
    let scale_down = (p.scale - 8).max(0);
    let (pos_spans, pos_deltas) = match &p.positive {
        Some(b) => spans_and_deltas(&b.bucket_counts, b.offset, scale_down),
        None => (Vec::new(), Vec::new()),
    };
    let (neg_spans, neg_deltas) = match &p.negative {
        Some(b) => spans_and_deltas(&b.bucket_counts, b.offset, scale_down),
        None => (Vec::new(), Vec::new()),
    };
    let stale = is_stale(p.flags);
    Ok(Histogram {
        count: Some(histogram::Count::CountInt(if stale {
            STALE_NAN_BITS
        } else {
            p.count
        })),
        sum: if stale {
            stale_nan()
        } else {
            p.sum.unwrap_or(0.0)
        },
        schema: p.scale - scale_down,
        zero_threshold: DEFAULT_ZERO_THRESHOLD,
        zero_count: Some(histogram::ZeroCount::ZeroCountInt(p.zero_count)),
        negative_spans: neg_spans,
        negative_deltas: neg_deltas,
        negative_counts: Vec::new(),
        positive_spans: pos_spans,
        positive_deltas: pos_deltas,
        positive_counts: Vec::new(),
        reset_hint: histogram::ResetHint::Unknown as i32,
        timestamp: ms(p.time_unix_nano),
    })
}

/// Spans and count deltas for one side of an exponential histogram.
pub fn spans_and_deltas(
    counts: &[u64],
    offset: i32,
    scale_down: i32,
) -> (Vec<BucketSpan>, Vec<i64>) {
    // Merge into (prometheus index, count), ascending, non-zero only.
    let mut merged: Vec<(i64, u64)> = Vec::new();
    for (i, &c) in counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let idx = ((i64::from(offset) + i as i64) >> scale_down) + 1;
        match merged.last_mut() {
            Some((last, n)) if *last == idx => *n = n.saturating_add(c),
            _ => merged.push((idx, c)),
        }
    }
    let mut spans: Vec<BucketSpan> = Vec::new();
    let mut deltas = Vec::with_capacity(merged.len());
    let mut prev_count: i64 = 0;
    let mut prev_idx: i64 = 0;
    for (k, &(idx, c)) in merged.iter().enumerate() {
        if k == 0 {
            spans.push(BucketSpan {
                offset: idx as i32,
                length: 0,
            });
        } else {
            let gap = idx - prev_idx - 1;
            if gap > 2 {
                spans.push(BucketSpan {
                    offset: gap as i32,
                    length: 0,
                });
            } else {
                for _ in 0..gap {
                    deltas.push(-prev_count);
                    prev_count = 0;
                    if let Some(s) = spans.last_mut() {
                        s.length += 1;
                    }
                }
            }
        }
        let c = c as i64;
        deltas.push(c - prev_count);
        prev_count = c;
        prev_idx = idx;
        if let Some(s) = spans.last_mut() {
            s.length += 1;
        }
    }
    (spans, deltas)
}
