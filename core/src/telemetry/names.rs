//! Every self-metric Tern exports, declared once: name, help text, type, label
//! keys (and bucket bounds of histograms). Components never name a metric; they
//! record through the typed handles in [`super::metrics`], which are built from
//! these declarations. Names and help texts are the upstream collector's where
//! upstream has the metric (`otelcol_*`); Tern's own metrics start with `tern_`.

use crate::otlp::SignalKind;

use super::metrics::{Counter, Gauge, Histogram, Registry};

/// The Prometheus type of a metric family.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    /// The name used in `# TYPE` lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One metric family.
#[derive(Debug)]
pub struct Metric {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    /// Label keys, in the order they are exported.
    pub labels: &'static [&'static str],
    /// Bucket upper bounds (histograms only).
    pub buckets: &'static [f64],
}

impl Metric {
    const fn new(
        name: &'static str,
        help: &'static str,
        kind: Kind,
        labels: &'static [&'static str],
    ) -> Metric {
        Metric {
            name,
            help,
            kind,
            labels,
            buckets: &[],
        }
    }

    /// Pairs the label keys with `values` (same order and number).
    fn labels<'v>(&self, values: &[&'v str]) -> Vec<(&'static str, &'v str)> {
        debug_assert_eq!(values.len(), self.labels.len(), "labels of {}", self.name);
        debug_assert!(self.kind == Kind::Histogram || self.buckets.is_empty());
        self.labels
            .iter()
            .copied()
            .zip(values.iter().copied())
            .collect()
    }

    /// Registers (or finds) the counter series with label `values`.
    pub fn counter(&'static self, reg: &Registry, values: &[&str]) -> Counter {
        debug_assert_eq!(self.kind, Kind::Counter, "{}", self.name);
        reg.counter(self.name, self.help, &self.labels(values))
    }

    /// Registers (or finds) the gauge series with label `values`.
    pub fn gauge(&'static self, reg: &Registry, values: &[&str]) -> Gauge {
        debug_assert_eq!(self.kind, Kind::Gauge, "{}", self.name);
        reg.gauge(self.name, self.help, &self.labels(values))
    }

    /// Registers (or finds) the histogram series with label `values`.
    pub fn histogram(&'static self, reg: &Registry, values: &[&str]) -> Histogram {
        debug_assert_eq!(self.kind, Kind::Histogram, "{}", self.name);
        reg.histogram(self.name, self.help, self.buckets, &self.labels(values))
    }
}

/// A family per signal: `…_spans`, `…_metric_points`, `…_log_records`.
#[derive(Debug)]
pub struct PerSignal {
    pub spans: Metric,
    pub metric_points: Metric,
    pub log_records: Metric,
}

impl PerSignal {
    /// The family of `signal`.
    pub fn of(&'static self, signal: SignalKind) -> &'static Metric {
        match signal {
            SignalKind::Traces => &self.spans,
            SignalKind::Metrics => &self.metric_points,
            SignalKind::Logs => &self.log_records,
        }
    }
}

/// Declares the three families `<prefix>spans`, `<prefix>metric_points` and
/// `<prefix>log_records` with one help text and label set.
macro_rules! per_signal {
    ($prefix:literal, $help:literal, $kind:expr, $labels:expr) => {
        PerSignal {
            spans: Metric::new(concat!($prefix, "spans"), $help, $kind, $labels),
            metric_points: Metric::new(concat!($prefix, "metric_points"), $help, $kind, $labels),
            log_records: Metric::new(concat!($prefix, "log_records"), $help, $kind, $labels),
        }
    };
}

// ---- Receivers ----

const RECEIVER_LABELS: &[&str] = &["receiver", "transport"];

/// `otelcol_receiver_accepted_{spans,metric_points,log_records}`.
pub static RECEIVER_ACCEPTED: PerSignal = per_signal!(
    "otelcol_receiver_accepted_",
    "Number of items successfully pushed into the pipeline.",
    Kind::Counter,
    RECEIVER_LABELS
);

/// `otelcol_receiver_refused_{spans,metric_points,log_records}`.
pub static RECEIVER_REFUSED: PerSignal = per_signal!(
    "otelcol_receiver_refused_",
    "Number of items that could not be pushed into the pipeline.",
    Kind::Counter,
    RECEIVER_LABELS
);

/// `otelcol_receiver_failed_{spans,metric_points,log_records}`.
pub static RECEIVER_FAILED: PerSignal = per_signal!(
    "otelcol_receiver_failed_",
    "Number of items that failed to be processed by the receiver.",
    Kind::Counter,
    RECEIVER_LABELS
);

// ---- Processors ----

/// Bucket bounds of `otelcol_processor_batch_batch_send_size` (upstream).
pub const BATCH_SIZE_BOUNDS: &[f64] = &[
    10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2000.0, 3000.0, 4000.0, 5000.0,
    6000.0, 7000.0, 8000.0, 9000.0, 10000.0, 20000.0, 30000.0, 50000.0, 100000.0,
];

/// Bucket bounds of `otelcol_processor_batch_batch_send_size_bytes` (upstream: powers of two from 128).
pub const BATCH_BYTES_BOUNDS: &[f64] = &[
    128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0, 32768.0, 65536.0, 131072.0,
    262144.0, 524288.0, 1048576.0, 2097152.0, 4194304.0, 8388608.0, 16777216.0,
];

const PROCESSOR_LABELS: &[&str] = &["processor"];

pub static BATCH_SEND_SIZE: Metric = Metric {
    buckets: BATCH_SIZE_BOUNDS,
    ..Metric::new(
        "otelcol_processor_batch_batch_send_size",
        "Number of units in the batch",
        Kind::Histogram,
        PROCESSOR_LABELS,
    )
};

pub static BATCH_SEND_SIZE_BYTES: Metric = Metric {
    buckets: BATCH_BYTES_BOUNDS,
    ..Metric::new(
        "otelcol_processor_batch_batch_send_size_bytes",
        "Number of bytes in batch that was sent.",
        Kind::Histogram,
        PROCESSOR_LABELS,
    )
};

pub static BATCH_SIZE_TRIGGER_SEND: Metric = Metric::new(
    "otelcol_processor_batch_batch_size_trigger_send",
    "Number of times the batch was sent due to a size trigger",
    Kind::Counter,
    PROCESSOR_LABELS,
);

pub static BATCH_TIMEOUT_TRIGGER_SEND: Metric = Metric::new(
    "otelcol_processor_batch_timeout_trigger_send",
    "Number of times the batch was sent due to a timeout trigger",
    Kind::Counter,
    PROCESSOR_LABELS,
);

const PROCESSOR_SIGNAL_LABELS: &[&str] = &["processor", "otel_signal"];

pub static PROCESSOR_INCOMING_ITEMS: Metric = Metric::new(
    "otelcol_processor_incoming_items",
    "Number of items passed to the processor.",
    Kind::Counter,
    PROCESSOR_SIGNAL_LABELS,
);

pub static PROCESSOR_OUTGOING_ITEMS: Metric = Metric::new(
    "otelcol_processor_outgoing_items",
    "Number of items emitted from the processor.",
    Kind::Counter,
    PROCESSOR_SIGNAL_LABELS,
);

/// `otelcol_processor_dropped_{spans,metric_points,log_records}`: items a content
/// processor dropped (filtered out, or a batch it failed on).
pub static PROCESSOR_DROPPED: PerSignal = per_signal!(
    "otelcol_processor_dropped_",
    "Number of items dropped by the processor.",
    Kind::Counter,
    PROCESSOR_LABELS
);

/// `otelcol_processor_memory_limiter_accepted_{spans,metric_points,log_records}`.
pub static MEMORY_LIMITER_ACCEPTED: PerSignal = per_signal!(
    "otelcol_processor_memory_limiter_accepted_",
    "Number of items successfully pushed into the next component.",
    Kind::Counter,
    PROCESSOR_LABELS
);

/// `otelcol_processor_memory_limiter_refused_{spans,metric_points,log_records}`.
pub static MEMORY_LIMITER_REFUSED: PerSignal = per_signal!(
    "otelcol_processor_memory_limiter_refused_",
    "Number of items that were rejected by the memory limiter.",
    Kind::Counter,
    PROCESSOR_LABELS
);

/// `otelcol_processor_filter_spans.filtered` (Prometheus: dots become `_`).
pub static FILTER_SPANS_FILTERED: Metric = Metric::new(
    "otelcol_processor_filter_spans_filtered",
    "Number of spans dropped by the filter processor",
    Kind::Counter,
    PROCESSOR_LABELS,
);

/// `otelcol_processor_filter_datapoints.filtered`.
pub static FILTER_DATAPOINTS_FILTERED: Metric = Metric::new(
    "otelcol_processor_filter_datapoints_filtered",
    "Number of metric data points dropped by the filter processor",
    Kind::Counter,
    PROCESSOR_LABELS,
);

/// `otelcol_processor_filter_logs.filtered`.
pub static FILTER_LOGS_FILTERED: Metric = Metric::new(
    "otelcol_processor_filter_logs_filtered",
    "Number of logs dropped by the filter processor",
    Kind::Counter,
    PROCESSOR_LABELS,
);

// ---- Exporters ----

const EXPORTER_LABELS: &[&str] = &["exporter"];

/// `otelcol_exporter_sent_{spans,metric_points,log_records}`.
pub static EXPORTER_SENT: PerSignal = per_signal!(
    "otelcol_exporter_sent_",
    "Number of items successfully sent to destination.",
    Kind::Counter,
    EXPORTER_LABELS
);

/// `otelcol_exporter_send_failed_{spans,metric_points,log_records}`.
pub static EXPORTER_SEND_FAILED: PerSignal = per_signal!(
    "otelcol_exporter_send_failed_",
    "Number of items in failed attempts to send to destination.",
    Kind::Counter,
    EXPORTER_LABELS
);

/// `otelcol_exporter_enqueue_failed_{spans,metric_points,log_records}`.
pub static EXPORTER_ENQUEUE_FAILED: PerSignal = per_signal!(
    "otelcol_exporter_enqueue_failed_",
    "Number of items failed to be added to the sending queue.",
    Kind::Counter,
    EXPORTER_LABELS
);

const EXPORTER_QUEUE_LABELS: &[&str] = &["exporter", "data_type"];

pub static EXPORTER_QUEUE_SIZE: Metric = Metric::new(
    "otelcol_exporter_queue_size",
    "Current size of the retry queue (in batches).",
    Kind::Gauge,
    EXPORTER_QUEUE_LABELS,
);

pub static EXPORTER_QUEUE_CAPACITY: Metric = Metric::new(
    "otelcol_exporter_queue_capacity",
    "Fixed capacity of the retry queue (in batches).",
    Kind::Gauge,
    EXPORTER_QUEUE_LABELS,
);

pub static EXPORTER_IN_FLIGHT_REQUESTS: Metric = Metric::new(
    "otelcol_exporter_in_flight_requests",
    "Number of requests being sent.",
    Kind::Gauge,
    EXPORTER_QUEUE_LABELS,
);

const PRW_LABELS: &[&str] = &["exporter", "endpoint"];

pub static PRW_CONSUMERS: Metric = Metric::new(
    "otelcol_exporter_prometheusremotewrite_consumers",
    "Number of configured workers to use to fan out the outgoing requests",
    Kind::Gauge,
    PRW_LABELS,
);

pub static PRW_FAILED_TRANSLATIONS: Metric = Metric::new(
    "otelcol_exporter_prometheusremotewrite_failed_translations",
    "Number of translation operations that failed to translate metrics from Otel to Prometheus",
    Kind::Counter,
    PRW_LABELS,
);

pub static PRW_TRANSLATED_TIME_SERIES: Metric = Metric::new(
    "otelcol_exporter_prometheusremotewrite_translated_time_series",
    "Number of Prometheus time series that were translated from OTel metrics",
    Kind::Counter,
    PRW_LABELS,
);

pub static PRW_SENT_BATCHES: Metric = Metric::new(
    "otelcol_exporter_prometheusremotewrite_sent_batches",
    "Number of remote write request batches sent to the remote write endpoint regardless of success or failure",
    Kind::Counter,
    PRW_LABELS,
);

pub static PRW_DELTA_SERIES_EVICTED: Metric = Metric::new(
    "tern_exporter_prometheusremotewrite_delta_series_evicted",
    "Delta-to-cumulative series forgotten after max_stale without points",
    Kind::Counter,
    PRW_LABELS,
);

// ---- Storage ----

pub static PERSISTENT_QUEUE_CORRUPTED_RECORDS: Metric = Metric::new(
    "tern_persistent_queue_corrupted_records",
    "Records skipped when recovering a persistent queue (torn or damaged by a crash).",
    Kind::Counter,
    &["storage", "pipeline"],
);

// ---- Process (computed at scrape time, no labels) ----

/// `target_info`: its labels are the resource attributes.
pub static TARGET_INFO: Metric = Metric::new("target_info", "Target metadata", Kind::Gauge, &[]);

pub static PROCESS_UPTIME: Metric = Metric::new(
    "otelcol_process_uptime",
    "Uptime of the process",
    Kind::Counter,
    &[],
);

pub static PROCESS_CPU_SECONDS: Metric = Metric::new(
    "otelcol_process_cpu_seconds",
    "Total CPU user and system time in seconds",
    Kind::Counter,
    &[],
);

pub static PROCESS_MEMORY_RSS: Metric = Metric::new(
    "otelcol_process_memory_rss",
    "Total physical memory (resident set size)",
    Kind::Gauge,
    &[],
);

pub static PROCESS_HEAP_ALLOC_BYTES: Metric = Metric::new(
    "otelcol_process_runtime_heap_alloc_bytes",
    "Bytes of allocated heap objects (allocator statistic)",
    Kind::Gauge,
    &[],
);

pub static PROCESS_TOTAL_ALLOC_BYTES: Metric = Metric::new(
    "otelcol_process_runtime_total_alloc_bytes",
    "Cumulative bytes allocated for heap objects",
    Kind::Counter,
    &[],
);

pub static PROCESS_TOTAL_SYS_MEMORY_BYTES: Metric = Metric::new(
    "otelcol_process_runtime_total_sys_memory_bytes",
    "Total bytes of memory obtained from the OS (virtual size)",
    Kind::Gauge,
    &[],
);

/// Every declaration (for tests and documentation).
pub fn all() -> Vec<&'static Metric> {
    let mut v: Vec<&'static Metric> = Vec::new();
    for p in [
        &RECEIVER_ACCEPTED,
        &RECEIVER_REFUSED,
        &RECEIVER_FAILED,
        &PROCESSOR_DROPPED,
        &MEMORY_LIMITER_ACCEPTED,
        &MEMORY_LIMITER_REFUSED,
        &EXPORTER_SENT,
        &EXPORTER_SEND_FAILED,
        &EXPORTER_ENQUEUE_FAILED,
    ] {
        v.extend([&p.spans, &p.metric_points, &p.log_records]);
    }
    v.extend([
        &BATCH_SEND_SIZE,
        &BATCH_SEND_SIZE_BYTES,
        &BATCH_SIZE_TRIGGER_SEND,
        &BATCH_TIMEOUT_TRIGGER_SEND,
        &PROCESSOR_INCOMING_ITEMS,
        &PROCESSOR_OUTGOING_ITEMS,
        &EXPORTER_QUEUE_SIZE,
        &EXPORTER_QUEUE_CAPACITY,
        &EXPORTER_IN_FLIGHT_REQUESTS,
        &PRW_CONSUMERS,
        &PRW_FAILED_TRANSLATIONS,
        &PRW_TRANSLATED_TIME_SERIES,
        &PRW_SENT_BATCHES,
        &PRW_DELTA_SERIES_EVICTED,
        &PERSISTENT_QUEUE_CORRUPTED_RECORDS,
        &TARGET_INFO,
        &PROCESS_UPTIME,
        &PROCESS_CPU_SECONDS,
        &PROCESS_MEMORY_RSS,
        &PROCESS_HEAP_ALLOC_BYTES,
        &PROCESS_TOTAL_ALLOC_BYTES,
        &PROCESS_TOTAL_SYS_MEMORY_BYTES,
    ]);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_prefixed_and_well_formed() {
        let all = all();
        let mut names: Vec<&str> = all.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len(), "duplicate names");
        for m in all {
            assert!(
                m.name.starts_with("otelcol_")
                    || m.name.starts_with("tern_")
                    || m.name == "target_info",
                "{}",
                m.name
            );
            assert!(!m.name.ends_with("_total"), "{}", m.name);
            assert!(!m.help.is_empty() && !m.help.contains('\n'), "{}", m.name);
            assert_eq!(
                m.kind == Kind::Histogram,
                !m.buckets.is_empty(),
                "{}",
                m.name
            );
        }
    }

    #[test]
    fn per_signal_families_carry_upstream_suffixes() {
        assert_eq!(
            RECEIVER_ACCEPTED.of(SignalKind::Metrics).name,
            "otelcol_receiver_accepted_metric_points"
        );
        assert_eq!(
            EXPORTER_ENQUEUE_FAILED.of(SignalKind::Logs).name,
            "otelcol_exporter_enqueue_failed_log_records"
        );
        assert_eq!(
            MEMORY_LIMITER_REFUSED.of(SignalKind::Traces).name,
            "otelcol_processor_memory_limiter_refused_spans"
        );
    }
}
