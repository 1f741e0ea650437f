//! Self-metrics: one registry that names every `otelcol_*` metric, typed handles
//! for the components, and the Prometheus text exposition (format 0.0.4).
//!
//! Names follow the upstream collector's defaults (`without_type_suffix`,
//! `without_units`): counters carry no `_total` suffix. (`prometheus-client` only
//! writes OpenMetrics and appends `_total` to every counter, which breaks upstream
//! dashboards; the registry here is small, lock-free on the hot path and exact.)

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::names::{self, Kind};
use crate::otlp::SignalKind;

/// A monotonically increasing count.
#[derive(Clone, Default, Debug)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    pub fn inc_by(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Clone, Default, Debug)]
pub struct Gauge(Arc<AtomicI64>);

impl Gauge {
    pub fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed);
    }
    pub fn add(&self, v: i64) {
        self.0.fetch_add(v, Ordering::Relaxed);
    }
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A histogram with fixed bucket bounds.
#[derive(Clone, Debug)]
pub struct Histogram(Arc<HistogramInner>);

#[derive(Debug)]
pub struct HistogramInner {
    bounds: &'static [f64],
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    sum_bits: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Histogram(Arc::new(HistogramInner {
            bounds,
            buckets: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_bits: AtomicU64::new(0f64.to_bits()),
        }))
    }

    pub fn observe(&self, v: f64) {
        let h = &self.0;
        if let Some(i) = h.bounds.iter().position(|b| v <= *b) {
            h.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        h.count.fetch_add(1, Ordering::Relaxed);
        let _ = h
            .sum_bits
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + v).to_bits())
            });
    }

    pub fn count(&self) -> u64 {
        self.0.count.load(Ordering::Relaxed)
    }
}

#[derive(Clone, Debug)]
enum Value {
    Counter(Counter),
    Gauge(Gauge),
    Histogram(Histogram),
}

struct Series {
    labels: Vec<(&'static str, String)>,
    value: Value,
}

struct Family {
    name: &'static str,
    help: &'static str,
    kind: Kind,
    series: Vec<Series>,
}

/// Values computed at scrape time (process statistics).
pub type ScrapeHook = Box<dyn Fn(&mut String) + Send + Sync>;

/// The self-metrics registry. Registration happens at build time; recording
/// goes through the returned handles and never touches the registry.
#[derive(Clone, Default)]
pub struct Registry {
    inner: Arc<Mutex<RegistryInner>>,
}

#[derive(Default)]
struct RegistryInner {
    families: Vec<Family>,
    hooks: Vec<ScrapeHook>,
}

impl Registry {
    fn register(
        &self,
        name: &'static str,
        help: &'static str,
        kind: Kind,
        labels: &[(&'static str, &str)],
        make: impl FnOnce() -> Value,
    ) -> Value {
        let mut inner = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let idx = match inner.families.iter().position(|f| f.name == name) {
            Some(i) => i,
            None => {
                inner.families.push(Family {
                    name,
                    help,
                    kind,
                    series: Vec::new(),
                });
                inner.families.len() - 1
            }
        };
        let fam = &mut inner.families[idx];
        let labels: Vec<(&'static str, String)> =
            labels.iter().map(|(k, v)| (*k, (*v).to_string())).collect();
        if let Some(s) = fam.series.iter().find(|s| s.labels == labels) {
            return s.value.clone();
        }
        let value = make();
        fam.series.push(Series {
            labels,
            value: value.clone(),
        });
        value
    }

    pub(in crate::telemetry) fn counter(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &[(&'static str, &str)],
    ) -> Counter {
        match self.register(name, help, Kind::Counter, labels, || {
            Value::Counter(Counter::default())
        }) {
            Value::Counter(c) => c,
            _ => Counter::default(),
        }
    }

    pub(in crate::telemetry) fn gauge(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &[(&'static str, &str)],
    ) -> Gauge {
        match self.register(name, help, Kind::Gauge, labels, || {
            Value::Gauge(Gauge::default())
        }) {
            Value::Gauge(g) => g,
            _ => Gauge::default(),
        }
    }

    pub(in crate::telemetry) fn histogram(
        &self,
        name: &'static str,
        help: &'static str,
        bounds: &'static [f64],
        labels: &[(&'static str, &str)],
    ) -> Histogram {
        match self.register(name, help, Kind::Histogram, labels, || {
            Value::Histogram(Histogram::new(bounds))
        }) {
            Value::Histogram(h) => h,
            _ => Histogram::new(bounds),
        }
    }

    /// Adds text computed at each scrape (already in exposition format).
    pub fn add_scrape_hook(&self, hook: ScrapeHook) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.hooks.push(hook);
        }
    }

    /// Prometheus text exposition format 0.0.4.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(8192);
        let inner = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        for hook in &inner.hooks {
            hook(&mut out);
        }
        for fam in &inner.families {
            let _ = writeln!(out, "# HELP {} {}", fam.name, fam.help);
            let _ = writeln!(out, "# TYPE {} {}", fam.name, fam.kind.as_str());
            for s in &fam.series {
                match &s.value {
                    Value::Counter(c) => {
                        write_sample(&mut out, fam.name, "", &s.labels, None, c.get() as f64)
                    }
                    Value::Gauge(g) => {
                        write_sample(&mut out, fam.name, "", &s.labels, None, g.get() as f64)
                    }
                    Value::Histogram(h) => {
                        let mut cumulative = 0u64;
                        for (i, b) in h.0.bounds.iter().enumerate() {
                            cumulative += h.0.buckets[i].load(Ordering::Relaxed);
                            write_sample(
                                &mut out,
                                fam.name,
                                "_bucket",
                                &s.labels,
                                Some(&format_float(*b)),
                                cumulative as f64,
                            );
                        }
                        let count = h.0.count.load(Ordering::Relaxed);
                        write_sample(
                            &mut out,
                            fam.name,
                            "_bucket",
                            &s.labels,
                            Some("+Inf"),
                            count as f64,
                        );
                        let sum = f64::from_bits(h.0.sum_bits.load(Ordering::Relaxed));
                        write_sample(&mut out, fam.name, "_sum", &s.labels, None, sum);
                        write_sample(&mut out, fam.name, "_count", &s.labels, None, count as f64);
                    }
                }
            }
        }
        out
    }
}

/// Writes one sample line.
pub fn write_sample(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &[(&'static str, String)],
    le: Option<&str>,
    value: f64,
) {
    out.push_str(name);
    out.push_str(suffix);
    if !labels.is_empty() || le.is_some() {
        out.push('{');
        let mut first = true;
        for (k, v) in labels {
            if !first {
                out.push(',');
            }
            first = false;
            let _ = write!(out, "{k}=\"{}\"", escape_label(v));
        }
        if let Some(le) = le {
            if !first {
                out.push(',');
            }
            let _ = write!(out, "le=\"{le}\"");
        }
        out.push('}');
    }
    out.push(' ');
    out.push_str(&format_float(value));
    out.push('\n');
}

fn format_float(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else if v.is_nan() {
        "NaN".into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

// ---- Typed handles, built from the declarations in `names`. ----

pub use names::{BATCH_BYTES_BOUNDS, BATCH_SIZE_BOUNDS};

/// `otelcol_receiver_*` for one receiver, transport and signal.
#[derive(Clone, Debug)]
pub struct ReceiverMetrics {
    pub accepted: Counter,
    pub refused: Counter,
    pub failed: Counter,
}

impl ReceiverMetrics {
    pub fn new(reg: &Registry, receiver: &str, transport: &str, signal: SignalKind) -> Self {
        let l = [receiver, transport];
        ReceiverMetrics {
            accepted: names::RECEIVER_ACCEPTED.of(signal).counter(reg, &l),
            refused: names::RECEIVER_REFUSED.of(signal).counter(reg, &l),
            failed: names::RECEIVER_FAILED.of(signal).counter(reg, &l),
        }
    }
}

/// `otelcol_exporter_*` for one exporter and signal.
#[derive(Clone, Debug)]
pub struct ExporterMetrics {
    pub sent: Counter,
    pub send_failed: Counter,
    pub enqueue_failed: Counter,
    pub queue_size: Gauge,
    pub queue_capacity: Gauge,
    pub in_flight: Gauge,
}

impl ExporterMetrics {
    pub fn new(reg: &Registry, exporter: &str, signal: SignalKind) -> Self {
        let l = [exporter];
        let q = [exporter, signal.name()];
        ExporterMetrics {
            sent: names::EXPORTER_SENT.of(signal).counter(reg, &l),
            send_failed: names::EXPORTER_SEND_FAILED.of(signal).counter(reg, &l),
            enqueue_failed: names::EXPORTER_ENQUEUE_FAILED.of(signal).counter(reg, &l),
            queue_size: names::EXPORTER_QUEUE_SIZE.gauge(reg, &q),
            queue_capacity: names::EXPORTER_QUEUE_CAPACITY.gauge(reg, &q),
            in_flight: names::EXPORTER_IN_FLIGHT_REQUESTS.gauge(reg, &q),
        }
    }
}

/// The batch processor's metrics.
#[derive(Clone, Debug)]
pub struct BatchMetrics {
    pub send_size: Histogram,
    pub send_size_bytes: Histogram,
    pub size_trigger: Counter,
    pub timeout_trigger: Counter,
}

impl BatchMetrics {
    pub fn new(reg: &Registry, processor: &str) -> Self {
        let l = [processor];
        BatchMetrics {
            send_size: names::BATCH_SEND_SIZE.histogram(reg, &l),
            send_size_bytes: names::BATCH_SEND_SIZE_BYTES.histogram(reg, &l),
            size_trigger: names::BATCH_SIZE_TRIGGER_SEND.counter(reg, &l),
            timeout_trigger: names::BATCH_TIMEOUT_TRIGGER_SEND.counter(reg, &l),
        }
    }
}

/// `otelcol_processor_incoming_items` / `outgoing_items`.
#[derive(Clone, Debug)]
pub struct ProcessorItemMetrics {
    pub incoming: Counter,
    pub outgoing: Counter,
}

impl ProcessorItemMetrics {
    pub fn new(reg: &Registry, processor: &str, signal: SignalKind) -> Self {
        let l = [processor, signal.name()];
        ProcessorItemMetrics {
            incoming: names::PROCESSOR_INCOMING_ITEMS.counter(reg, &l),
            outgoing: names::PROCESSOR_OUTGOING_ITEMS.counter(reg, &l),
        }
    }

    /// `otelcol_processor_dropped_{spans,metric_points,log_records}`: items a
    /// content processor dropped (filtered out, or a batch it failed on).
    pub fn dropped(reg: &Registry, processor: &str, signal: SignalKind) -> Counter {
        names::PROCESSOR_DROPPED
            .of(signal)
            .counter(reg, &[processor])
    }
}

/// `otelcol_processor_memory_limiter_{accepted,refused}_*` for one processor and signal.
#[derive(Clone, Debug)]
pub struct MemoryLimiterMetrics {
    pub accepted: Counter,
    pub refused: Counter,
}

impl MemoryLimiterMetrics {
    pub fn new(reg: &Registry, processor: &str, signal: SignalKind) -> Self {
        let l = [processor];
        MemoryLimiterMetrics {
            accepted: names::MEMORY_LIMITER_ACCEPTED.of(signal).counter(reg, &l),
            refused: names::MEMORY_LIMITER_REFUSED.of(signal).counter(reg, &l),
        }
    }
}

/// `otelcol_processor_filter_{spans,datapoints,logs}_filtered` for one processor and signal.
#[derive(Clone, Debug)]
pub struct FilterMetrics {
    pub filtered: Counter,
}

impl FilterMetrics {
    pub fn new(reg: &Registry, processor: &str, signal: SignalKind) -> Self {
        let family = match signal {
            SignalKind::Traces => &names::FILTER_SPANS_FILTERED,
            SignalKind::Metrics => &names::FILTER_DATAPOINTS_FILTERED,
            SignalKind::Logs => &names::FILTER_LOGS_FILTERED,
        };
        FilterMetrics {
            filtered: family.counter(reg, &[processor]),
        }
    }
}

/// The `prometheusremotewrite` exporter's own metrics; sets the `consumers` gauge.
#[derive(Clone, Debug)]
pub struct RemoteWriteMetrics {
    pub failed_translations: Counter,
    pub translated_time_series: Counter,
    pub sent_batches: Counter,
    pub delta_series_evicted: Counter,
}

impl RemoteWriteMetrics {
    pub fn new(reg: &Registry, exporter: &str, endpoint: &str, consumers: usize) -> Self {
        let l = [exporter, endpoint];
        names::PRW_CONSUMERS
            .gauge(reg, &l)
            .set(i64::try_from(consumers).unwrap_or(i64::MAX));
        RemoteWriteMetrics {
            failed_translations: names::PRW_FAILED_TRANSLATIONS.counter(reg, &l),
            translated_time_series: names::PRW_TRANSLATED_TIME_SERIES.counter(reg, &l),
            sent_batches: names::PRW_SENT_BATCHES.counter(reg, &l),
            delta_series_evicted: names::PRW_DELTA_SERIES_EVICTED.counter(reg, &l),
        }
    }
}

/// `tern_persistent_queue_corrupted_records` of one storage and pipeline.
pub fn persistent_queue_corrupted(reg: &Registry, storage: &str, pipeline: &str) -> Counter {
    names::PERSISTENT_QUEUE_CORRUPTED_RECORDS.counter(reg, &[storage, pipeline])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_upstream_names_and_exact_values() {
        let reg = Registry::default();
        let m = ReceiverMetrics::new(&reg, "otlp", "http", SignalKind::Traces);
        m.accepted.inc_by(300);
        let again = ReceiverMetrics::new(&reg, "otlp", "http", SignalKind::Traces);
        again.accepted.inc_by(2);
        let b = BatchMetrics::new(&reg, "batch");
        b.send_size.observe(30.0);
        b.send_size.observe(8192.0);
        let text = reg.encode();
        assert!(text.contains("# TYPE otelcol_receiver_accepted_spans counter\n"));
        assert!(text.contains(
            "otelcol_receiver_accepted_spans{receiver=\"otlp\",transport=\"http\"} 302\n"
        ));
        assert!(!text.contains("_total"));
        assert!(text.contains(
            "otelcol_processor_batch_batch_send_size_bucket{processor=\"batch\",le=\"50\"} 1\n"
        ));
        assert!(text.contains(
            "otelcol_processor_batch_batch_send_size_bucket{processor=\"batch\",le=\"9000\"} 2\n"
        ));
        assert!(
            text.contains("otelcol_processor_batch_batch_send_size_count{processor=\"batch\"} 2\n")
        );
        assert!(text
            .contains("otelcol_processor_batch_batch_send_size_sum{processor=\"batch\"} 8222\n"));
    }

    #[test]
    fn handles_for_other_components_export_the_declared_families() {
        let reg = Registry::default();
        MemoryLimiterMetrics::new(&reg, "memory_limiter", SignalKind::Logs)
            .refused
            .inc_by(4);
        RemoteWriteMetrics::new(&reg, "prometheusremotewrite", "http://x/api", 5)
            .sent_batches
            .inc();
        persistent_queue_corrupted(&reg, "file_storage", "traces").inc_by(2);
        let text = reg.encode();
        for line in [
            "# HELP otelcol_processor_memory_limiter_refused_log_records Number of items that were rejected by the memory limiter.\n",
            "otelcol_processor_memory_limiter_refused_log_records{processor=\"memory_limiter\"} 4\n",
            "# TYPE otelcol_exporter_prometheusremotewrite_consumers gauge\n",
            "otelcol_exporter_prometheusremotewrite_consumers{exporter=\"prometheusremotewrite\",endpoint=\"http://x/api\"} 5\n",
            "otelcol_exporter_prometheusremotewrite_sent_batches{exporter=\"prometheusremotewrite\",endpoint=\"http://x/api\"} 1\n",
            "# TYPE tern_persistent_queue_corrupted_records counter\n",
            "tern_persistent_queue_corrupted_records{storage=\"file_storage\",pipeline=\"traces\"} 2\n",
        ] {
            assert!(text.contains(line), "{line}\n{text}");
        }
    }
}
