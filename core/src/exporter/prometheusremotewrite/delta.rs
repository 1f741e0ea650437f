//! Delta → cumulative conversion of sums and (exponential) histograms, so the
//! translator sees only cumulative data (upstream silently drops deltas).
//!
//! State is kept per series (a 64-bit hash of resource attributes, scope, metric
//! name/unit/type and point attributes). It is bounded: at most `max_series`
//! series; a series not seen for `max_stale` is evicted (counted), and when the
//! table is still full a new series' points are refused as translation errors.
//! A point not newer than the last one of its series is dropped (out of order).
//! Runs in the exporter's single queue consumer, so points arrive in order.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, ExponentialHistogramDataPoint,
    HistogramDataPoint, NumberDataPoint,
};

use super::translate::value_string;

const NO_RECORDED_VALUE: u32 = 1;
const DELTA: i32 = AggregationTemporality::Delta as i32;
const CUMULATIVE: i32 = AggregationTemporality::Cumulative as i32;

/// Limits of the conversion state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeltaLimits {
    pub max_series: usize,
    pub max_stale: Duration,
}

/// What one conversion did.
#[derive(Debug, Default, PartialEq)]
pub struct DeltaStats {
    pub converted_points: u64,
    /// Points dropped (out of order, or the series table full), with reasons.
    pub dropped_points: u64,
    pub errors: Vec<String>,
    /// Idle series evicted during this call.
    pub evicted: u64,
}

#[derive(Debug, Clone)]
enum Acc {
    Int(i64),
    Double(f64),
    Hist {
        bounds: Vec<f64>,
        counts: Vec<u64>,
        count: u64,
        sum: Option<f64>,
        min: Option<f64>,
        max: Option<f64>,
    },
    Exp {
        scale: i32,
        zero_count: u64,
        zero_threshold: f64,
        pos: BTreeMap<i32, u64>,
        neg: BTreeMap<i32, u64>,
        count: u64,
        sum: Option<f64>,
        min: Option<f64>,
        max: Option<f64>,
    },
}

#[derive(Debug)]
struct Stream {
    start: u64,
    last: u64,
    seen: Instant,
    acc: Acc,
}

/// The per-series accumulators.
#[derive(Debug)]
pub struct DeltaToCumulative {
    limits: DeltaLimits,
    streams: HashMap<u64, Stream>,
    last_sweep: Option<Instant>,
}

fn hash_attrs(h: &mut DefaultHasher, attrs: &[KeyValue]) {
    let mut kv: Vec<(&str, String)> = attrs
        .iter()
        .map(|a| (a.key.as_str(), value_string(a.value.as_ref())))
        .collect();
    kv.sort();
    kv.len().hash(h);
    for (k, v) in kv {
        k.hash(h);
        v.hash(h);
    }
}

fn min_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        _ => None,
    }
}
fn max_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        _ => None,
    }
}

fn buckets_map(b: Option<&Buckets>, shift: i32) -> BTreeMap<i32, u64> {
    let mut m = BTreeMap::new();
    if let Some(b) = b {
        for (i, &c) in b.bucket_counts.iter().enumerate() {
            if c > 0 {
                let idx = (b.offset + i as i32) >> shift;
                *m.entry(idx).or_insert(0) += c;
            }
        }
    }
    m
}

fn downscale(m: &BTreeMap<i32, u64>, shift: i32) -> BTreeMap<i32, u64> {
    let mut out = BTreeMap::new();
    for (&i, &c) in m {
        *out.entry(i >> shift).or_insert(0) += c;
    }
    out
}

fn to_buckets(m: &BTreeMap<i32, u64>) -> Option<Buckets> {
    let (&first, _) = m.first_key_value()?;
    let (&last, _) = m.last_key_value()?;
    let mut counts = vec![0u64; (last - first + 1) as usize];
    for (&i, &c) in m {
        counts[(i - first) as usize] = c;
    }
    Some(Buckets {
        offset: first,
        bucket_counts: counts,
    })
}

/// Outcome of one point.
enum Step {
    Keep,
    Drop(String),
}

impl DeltaToCumulative {
    pub fn new(limits: DeltaLimits) -> Self {
        DeltaToCumulative {
            limits,
            streams: HashMap::new(),
            last_sweep: None,
        }
    }

    /// Series currently tracked.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    fn sweep(&mut self, now: Instant) -> u64 {
        self.last_sweep = Some(now);
        let before = self.streams.len();
        let max_stale = self.limits.max_stale;
        self.streams
            .retain(|_, s| now.saturating_duration_since(s.seen) <= max_stale);
        (before - self.streams.len()) as u64
    }

    /// Makes every delta sum and histogram of `req` cumulative, in place.
    pub fn convert(&mut self, req: &mut ExportMetricsServiceRequest, now: Instant) -> DeltaStats {
        let mut stats = DeltaStats::default();
        let due = self
            .last_sweep
            .is_none_or(|t| now.saturating_duration_since(t) >= self.limits.max_stale / 2);
        if due {
            stats.evicted += self.sweep(now);
        }
        for rm in &mut req.resource_metrics {
            let mut rh = DefaultHasher::new();
            if let Some(r) = &rm.resource {
                hash_attrs(&mut rh, &r.attributes);
            }
            for sm in &mut rm.scope_metrics {
                let mut sh = rh.clone();
                if let Some(s) = &sm.scope {
                    s.name.hash(&mut sh);
                    s.version.hash(&mut sh);
                    hash_attrs(&mut sh, &s.attributes);
                }
                for m in &mut sm.metrics {
                    let mut mh = sh.clone();
                    m.name.hash(&mut mh);
                    m.unit.hash(&mut mh);
                    let name = m.name.clone();
                    match &mut m.data {
                        Some(metric::Data::Sum(s)) if s.aggregation_temporality == DELTA => {
                            (1u8, s.is_monotonic).hash(&mut mh);
                            let pts = std::mem::take(&mut s.data_points);
                            s.data_points = self.run(pts, &mh, now, &name, &mut stats, Self::sum);
                            s.aggregation_temporality = CUMULATIVE;
                        }
                        Some(metric::Data::Histogram(h)) if h.aggregation_temporality == DELTA => {
                            2u8.hash(&mut mh);
                            let pts = std::mem::take(&mut h.data_points);
                            h.data_points = self.run(pts, &mh, now, &name, &mut stats, Self::hist);
                            h.aggregation_temporality = CUMULATIVE;
                        }
                        Some(metric::Data::ExponentialHistogram(h))
                            if h.aggregation_temporality == DELTA =>
                        {
                            3u8.hash(&mut mh);
                            let pts = std::mem::take(&mut h.data_points);
                            h.data_points = self.run(pts, &mh, now, &name, &mut stats, Self::exp);
                            h.aggregation_temporality = CUMULATIVE;
                        }
                        _ => {}
                    }
                }
            }
        }
        stats
    }

    fn run<P: DeltaPoint>(
        &mut self,
        mut pts: Vec<P>,
        mh: &DefaultHasher,
        now: Instant,
        name: &str,
        stats: &mut DeltaStats,
        step: fn(&mut Stream, &mut P) -> Step,
    ) -> Vec<P> {
        // Oldest first, so a batch holding several points of a series accumulates in order.
        pts.sort_by_key(|p| p.time());
        let mut kept = Vec::with_capacity(pts.len());
        for mut p in pts {
            let mut h = mh.clone();
            hash_attrs(&mut h, p.attributes());
            let key = h.finish();
            match self.streams.get_mut(&key) {
                Some(s) => {
                    if p.time() <= s.last {
                        stats.dropped_points += 1;
                        stats.errors.push(format!(
                            "delta point of {name:?} is not newer than the previous one of its series; dropped"
                        ));
                        continue;
                    }
                    match step(s, &mut p) {
                        Step::Keep => {
                            s.last = p.time();
                            s.seen = now;
                            stats.converted_points += 1;
                            kept.push(p);
                        }
                        Step::Drop(e) => {
                            stats.dropped_points += 1;
                            stats.errors.push(e);
                        }
                    }
                }
                None => {
                    if self.streams.len() >= self.limits.max_series {
                        stats.evicted += self.sweep(now);
                    }
                    if self.streams.len() >= self.limits.max_series {
                        stats.dropped_points += 1;
                        stats.errors.push(format!(
                            "delta to cumulative: {} series are tracked (max_series); new series of {name:?} dropped",
                            self.limits.max_series
                        ));
                        continue;
                    }
                    let start = if p.start() == 0 { p.time() } else { p.start() };
                    let acc = p.initial();
                    p.set_start(start);
                    self.streams.insert(
                        key,
                        Stream {
                            start,
                            last: p.time(),
                            seen: now,
                            acc,
                        },
                    );
                    stats.converted_points += 1;
                    kept.push(p);
                }
            }
        }
        kept
    }

    fn sum(s: &mut Stream, p: &mut NumberDataPoint) -> Step {
        p.start_time_unix_nano = s.start;
        if p.flags & NO_RECORDED_VALUE != 0 {
            return Step::Keep;
        }
        let next = match (&s.acc, p.value) {
            (Acc::Int(a), Some(number_data_point::Value::AsInt(d))) => Acc::Int(a.wrapping_add(d)),
            (Acc::Int(a), Some(number_data_point::Value::AsDouble(d))) => {
                Acc::Double(*a as f64 + d)
            }
            (Acc::Double(a), Some(number_data_point::Value::AsInt(d))) => Acc::Double(a + d as f64),
            (Acc::Double(a), Some(number_data_point::Value::AsDouble(d))) => Acc::Double(a + d),
            (acc, None) => acc.clone(),
            _ => return Step::Drop("delta sum changed type; dropped".into()),
        };
        p.value = Some(match next {
            Acc::Int(i) => number_data_point::Value::AsInt(i),
            Acc::Double(d) => number_data_point::Value::AsDouble(d),
            _ => return Step::Drop("delta sum changed type; dropped".into()),
        });
        s.acc = next;
        Step::Keep
    }

    fn hist(s: &mut Stream, p: &mut HistogramDataPoint) -> Step {
        if p.flags & NO_RECORDED_VALUE != 0 {
            p.start_time_unix_nano = s.start;
            return Step::Keep;
        }
        let Acc::Hist {
            bounds,
            counts,
            count,
            sum,
            min,
            max,
        } = &mut s.acc
        else {
            return Step::Drop("delta histogram changed type; dropped".into());
        };
        if *bounds != p.explicit_bounds || counts.len() != p.bucket_counts.len() {
            // New bucket layout: the series restarts from this point.
            s.start = if p.start_time_unix_nano == 0 {
                p.time_unix_nano
            } else {
                p.start_time_unix_nano
            };
            s.acc = p.initial();
            p.start_time_unix_nano = s.start;
            return Step::Keep;
        }
        for (a, d) in counts.iter_mut().zip(&p.bucket_counts) {
            *a = a.saturating_add(*d);
        }
        *count = count.saturating_add(p.count);
        *sum = match (*sum, p.sum) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        *min = min_opt(*min, p.min);
        *max = max_opt(*max, p.max);
        p.bucket_counts.clone_from(counts);
        p.count = *count;
        p.sum = *sum;
        p.min = *min;
        p.max = *max;
        p.start_time_unix_nano = s.start;
        Step::Keep
    }

    fn exp(s: &mut Stream, p: &mut ExponentialHistogramDataPoint) -> Step {
        p.start_time_unix_nano = s.start;
        if p.flags & NO_RECORDED_VALUE != 0 {
            return Step::Keep;
        }
        let Acc::Exp {
            scale,
            zero_count,
            zero_threshold,
            pos,
            neg,
            count,
            sum,
            min,
            max,
        } = &mut s.acc
        else {
            return Step::Drop("delta exponential histogram changed type; dropped".into());
        };
        let target = (*scale).min(p.scale);
        if target < *scale {
            *pos = downscale(pos, *scale - target);
            *neg = downscale(neg, *scale - target);
            *scale = target;
        }
        let shift = p.scale - target;
        for (i, c) in buckets_map(p.positive.as_ref(), shift) {
            *pos.entry(i).or_insert(0) += c;
        }
        for (i, c) in buckets_map(p.negative.as_ref(), shift) {
            *neg.entry(i).or_insert(0) += c;
        }
        *zero_count = zero_count.saturating_add(p.zero_count);
        *zero_threshold = zero_threshold.max(p.zero_threshold);
        *count = count.saturating_add(p.count);
        *sum = match (*sum, p.sum) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        *min = min_opt(*min, p.min);
        *max = max_opt(*max, p.max);
        p.scale = *scale;
        p.zero_count = *zero_count;
        p.zero_threshold = *zero_threshold;
        p.positive = to_buckets(pos);
        p.negative = to_buckets(neg);
        p.count = *count;
        p.sum = *sum;
        p.min = *min;
        p.max = *max;
        Step::Keep
    }
}

/// The data point types that can be delta.
trait DeltaPoint {
    fn time(&self) -> u64;
    fn start(&self) -> u64;
    fn set_start(&mut self, t: u64);
    fn attributes(&self) -> &[KeyValue];
    fn initial(&self) -> Acc;
}

impl DeltaPoint for NumberDataPoint {
    fn time(&self) -> u64 {
        self.time_unix_nano
    }
    fn start(&self) -> u64 {
        self.start_time_unix_nano
    }
    fn set_start(&mut self, t: u64) {
        self.start_time_unix_nano = t;
    }
    fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }
    fn initial(&self) -> Acc {
        match self.value {
            Some(number_data_point::Value::AsInt(i)) if self.flags & NO_RECORDED_VALUE == 0 => {
                Acc::Int(i)
            }
            Some(number_data_point::Value::AsDouble(d)) if self.flags & NO_RECORDED_VALUE == 0 => {
                Acc::Double(d)
            }
            Some(number_data_point::Value::AsDouble(_)) => Acc::Double(0.0),
            _ => Acc::Int(0),
        }
    }
}

impl DeltaPoint for HistogramDataPoint {
    fn time(&self) -> u64 {
        self.time_unix_nano
    }
    fn start(&self) -> u64 {
        self.start_time_unix_nano
    }
    fn set_start(&mut self, t: u64) {
        self.start_time_unix_nano = t;
    }
    fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }
    fn initial(&self) -> Acc {
        let stale = self.flags & NO_RECORDED_VALUE != 0;
        Acc::Hist {
            bounds: self.explicit_bounds.clone(),
            counts: if stale {
                vec![0; self.bucket_counts.len()]
            } else {
                self.bucket_counts.clone()
            },
            count: if stale { 0 } else { self.count },
            sum: if stale { Some(0.0) } else { self.sum },
            min: if stale { None } else { self.min },
            max: if stale { None } else { self.max },
        }
    }
}

impl DeltaPoint for ExponentialHistogramDataPoint {
    fn time(&self) -> u64 {
        self.time_unix_nano
    }
    fn start(&self) -> u64 {
        self.start_time_unix_nano
    }
    fn set_start(&mut self, t: u64) {
        self.start_time_unix_nano = t;
    }
    fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }
    fn initial(&self) -> Acc {
        if self.flags & NO_RECORDED_VALUE != 0 {
            return Acc::Exp {
                scale: self.scale,
                zero_count: 0,
                zero_threshold: self.zero_threshold,
                pos: BTreeMap::new(),
                neg: BTreeMap::new(),
                count: 0,
                sum: Some(0.0),
                min: None,
                max: None,
            };
        }
        Acc::Exp {
            scale: self.scale,
            zero_count: self.zero_count,
            zero_threshold: self.zero_threshold,
            pos: buckets_map(self.positive.as_ref(), 0),
            neg: buckets_map(self.negative.as_ref(), 0),
            count: self.count,
            sum: self.sum,
            min: self.min,
            max: self.max,
        }
    }
}
