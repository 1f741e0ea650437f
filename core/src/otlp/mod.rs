//! The three OTLP signals behind one [`Signal`] trait, with validation, counting,
//! splitting and OTLP/JSON decoding.
//!
//! Spec: <https://opentelemetry.io/docs/specs/otlp/>.

pub mod attrs;
pub mod grpc_codec;
pub mod json;
pub mod scan;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::logs::v1::ScopeLogs;
use opentelemetry_proto::tonic::metrics::v1::{metric, Metric, ScopeMetrics};
use opentelemetry_proto::tonic::trace::v1::ScopeSpans;

pub use json::JsonError;
pub use scan::ScanError;

/// Which signal a pipeline carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SignalKind {
    Traces,
    Metrics,
    Logs,
}

impl SignalKind {
    pub const ALL: [SignalKind; 3] = [SignalKind::Traces, SignalKind::Metrics, SignalKind::Logs];

    /// The name used in pipeline IDs and the `data_type` label.
    pub fn name(self) -> &'static str {
        match self {
            SignalKind::Traces => "traces",
            SignalKind::Metrics => "metrics",
            SignalKind::Logs => "logs",
        }
    }

    /// The suffix of the upstream item counters (`otelcol_receiver_accepted_spans`).
    pub fn item_metric_suffix(self) -> &'static str {
        match self {
            SignalKind::Traces => "spans",
            SignalKind::Metrics => "metric_points",
            SignalKind::Logs => "log_records",
        }
    }

    pub fn from_name(name: &str) -> Option<SignalKind> {
        SignalKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Default OTLP/HTTP path.
    pub fn http_path(self) -> &'static str {
        match self {
            SignalKind::Traces => "/v1/traces",
            SignalKind::Metrics => "/v1/metrics",
            SignalKind::Logs => "/v1/logs",
        }
    }

    /// Fully qualified gRPC method path of the collector service.
    pub fn grpc_path(self) -> &'static str {
        match self {
            SignalKind::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            SignalKind::Metrics => {
                "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
            }
            SignalKind::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
        }
    }
}

impl std::fmt::Display for SignalKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One OTLP signal: its export request type and the operations the pipeline needs.
pub trait Signal: Send + Sync + Sized + 'static {
    type Request: prost::Message
        + Default
        + Clone
        + PartialEq
        + std::fmt::Debug
        + Send
        + Sync
        + 'static;
    const KIND: SignalKind;

    /// Validates an encoded export request and counts its items.
    fn scan(encoded: &[u8]) -> Result<usize, ScanError>;
    /// Counts the items of a decoded request.
    fn count(req: &Self::Request) -> usize;
    /// Moves the content of `other` into `req`.
    fn extend(req: &mut Self::Request, other: Self::Request);
    /// Splits a request into requests of at most `max` items each, in order.
    fn split(req: Self::Request, max: usize) -> Vec<Self::Request>;
    /// Decodes an OTLP/JSON body.
    fn decode_json(body: &[u8]) -> Result<Self::Request, JsonError>;
}

/// Marker for the traces signal.
#[derive(Debug)]
pub enum Traces {}
/// Marker for the metrics signal.
#[derive(Debug)]
pub enum Metrics {}
/// Marker for the logs signal.
#[derive(Debug)]
pub enum Logs {}

impl Signal for Traces {
    type Request = ExportTraceServiceRequest;
    const KIND: SignalKind = SignalKind::Traces;

    fn scan(encoded: &[u8]) -> Result<usize, ScanError> {
        scan::scan(scan::Msg::ExportTraces, encoded)
    }

    fn count(req: &Self::Request) -> usize {
        req.resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum()
    }

    fn extend(req: &mut Self::Request, other: Self::Request) {
        req.resource_spans.extend(other.resource_spans);
    }

    fn split(req: Self::Request, max: usize) -> Vec<Self::Request> {
        let mut out = Vec::new();
        let mut cur = Self::Request::default();
        let mut cur_items = 0;
        for mut rs in req.resource_spans {
            let scopes = std::mem::take(&mut rs.scope_spans);
            for mut ss in scopes {
                // Chunks are collected at their exact size (linear time and memory).
                let mut spans = std::mem::take(&mut ss.spans).into_iter();
                while spans.len() > 0 {
                    let take = (max - cur_items).min(spans.len());
                    let chunk: Vec<_> = spans.by_ref().take(take).collect();
                    cur_items += chunk.len();
                    let scope = ScopeSpans {
                        scope: ss.scope.clone(),
                        spans: chunk,
                        schema_url: ss.schema_url.clone(),
                    };
                    push_scope(&mut cur.resource_spans, &rs, scope);
                    if cur_items == max {
                        out.push(std::mem::take(&mut cur));
                        cur_items = 0;
                    }
                }
            }
        }
        if cur_items > 0 {
            out.push(cur);
        }
        out
    }

    fn decode_json(body: &[u8]) -> Result<Self::Request, JsonError> {
        json::decode_traces(body)
    }
}

impl Signal for Logs {
    type Request = ExportLogsServiceRequest;
    const KIND: SignalKind = SignalKind::Logs;

    fn scan(encoded: &[u8]) -> Result<usize, ScanError> {
        scan::scan(scan::Msg::ExportLogs, encoded)
    }

    fn count(req: &Self::Request) -> usize {
        req.resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .map(|s| s.log_records.len())
            .sum()
    }

    fn extend(req: &mut Self::Request, other: Self::Request) {
        req.resource_logs.extend(other.resource_logs);
    }

    fn split(req: Self::Request, max: usize) -> Vec<Self::Request> {
        let mut out = Vec::new();
        let mut cur = Self::Request::default();
        let mut cur_items = 0;
        for mut rl in req.resource_logs {
            let scopes = std::mem::take(&mut rl.scope_logs);
            for mut sl in scopes {
                let mut records = std::mem::take(&mut sl.log_records).into_iter();
                while records.len() > 0 {
                    let take = (max - cur_items).min(records.len());
                    let chunk: Vec<_> = records.by_ref().take(take).collect();
                    cur_items += chunk.len();
                    let scope = ScopeLogs {
                        scope: sl.scope.clone(),
                        log_records: chunk,
                        schema_url: sl.schema_url.clone(),
                    };
                    push_scope(&mut cur.resource_logs, &rl, scope);
                    if cur_items == max {
                        out.push(std::mem::take(&mut cur));
                        cur_items = 0;
                    }
                }
            }
        }
        if cur_items > 0 {
            out.push(cur);
        }
        out
    }

    fn decode_json(body: &[u8]) -> Result<Self::Request, JsonError> {
        json::decode_logs(body)
    }
}

impl Signal for Metrics {
    type Request = ExportMetricsServiceRequest;
    const KIND: SignalKind = SignalKind::Metrics;

    fn scan(encoded: &[u8]) -> Result<usize, ScanError> {
        scan::scan(scan::Msg::ExportMetrics, encoded)
    }

    fn count(req: &Self::Request) -> usize {
        req.resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .map(metric_points)
            .sum()
    }

    fn extend(req: &mut Self::Request, other: Self::Request) {
        req.resource_metrics.extend(other.resource_metrics);
    }

    fn split(req: Self::Request, max: usize) -> Vec<Self::Request> {
        let mut out = Vec::new();
        let mut cur = Self::Request::default();
        let mut cur_items = 0;
        for mut rm in req.resource_metrics {
            let scopes = std::mem::take(&mut rm.scope_metrics);
            for mut sm in scopes {
                let metrics = std::mem::take(&mut sm.metrics);
                for mut m in metrics {
                    let mut remaining = metric_points(&m);
                    reverse_points(&mut m);
                    if remaining == 0 {
                        // A metric without points still travels (it carries metadata).
                        push_metric(&mut cur, &rm, &sm, m);
                        continue;
                    }
                    while remaining > 0 {
                        let take = (max - cur_items).min(remaining);
                        let chunk = take_points(&mut m, take);
                        remaining -= take;
                        cur_items += take;
                        push_metric(&mut cur, &rm, &sm, chunk);
                        if cur_items == max {
                            out.push(std::mem::take(&mut cur));
                            cur_items = 0;
                        }
                    }
                }
            }
        }
        if !cur.resource_metrics.is_empty() {
            out.push(cur);
        }
        out
    }

    fn decode_json(body: &[u8]) -> Result<Self::Request, JsonError> {
        json::decode_metrics(body)
    }
}

/// Number of data points of one metric.
pub fn metric_points(m: &Metric) -> usize {
    match &m.data {
        Some(metric::Data::Gauge(g)) => g.data_points.len(),
        Some(metric::Data::Sum(s)) => s.data_points.len(),
        Some(metric::Data::Histogram(h)) => h.data_points.len(),
        Some(metric::Data::ExponentialHistogram(e)) => e.data_points.len(),
        Some(metric::Data::Summary(s)) => s.data_points.len(),
        None => 0,
    }
}

/// Reverses the data points of `m`, so that [`take_points`] takes from the end.
fn reverse_points(m: &mut Metric) {
    match &mut m.data {
        Some(metric::Data::Gauge(g)) => g.data_points.reverse(),
        Some(metric::Data::Sum(s)) => s.data_points.reverse(),
        Some(metric::Data::Histogram(h)) => h.data_points.reverse(),
        Some(metric::Data::ExponentialHistogram(e)) => e.data_points.reverse(),
        Some(metric::Data::Summary(s)) => s.data_points.reverse(),
        None => {}
    }
}

/// Removes the first `n` data points of `m` (reversed by [`reverse_points`]) into
/// a copy of the metric.
fn take_points(m: &mut Metric, n: usize) -> Metric {
    // The points are kept in reverse order (see `reverse_points`), so the front
    // is the tail: taking it copies only `n` items and the chunk is exact-size.
    fn front<T>(v: &mut Vec<T>, n: usize) -> Vec<T> {
        let at = v.len().saturating_sub(n);
        let mut chunk = v.split_off(at);
        chunk.reverse();
        chunk
    }
    let data = match &mut m.data {
        Some(metric::Data::Gauge(g)) => Some(metric::Data::Gauge(
            opentelemetry_proto::tonic::metrics::v1::Gauge {
                data_points: front(&mut g.data_points, n),
            },
        )),
        Some(metric::Data::Sum(s)) => Some(metric::Data::Sum(
            opentelemetry_proto::tonic::metrics::v1::Sum {
                data_points: front(&mut s.data_points, n),
                aggregation_temporality: s.aggregation_temporality,
                is_monotonic: s.is_monotonic,
            },
        )),
        Some(metric::Data::Histogram(h)) => Some(metric::Data::Histogram(
            opentelemetry_proto::tonic::metrics::v1::Histogram {
                data_points: front(&mut h.data_points, n),
                aggregation_temporality: h.aggregation_temporality,
            },
        )),
        Some(metric::Data::ExponentialHistogram(e)) => Some(metric::Data::ExponentialHistogram(
            opentelemetry_proto::tonic::metrics::v1::ExponentialHistogram {
                data_points: front(&mut e.data_points, n),
                aggregation_temporality: e.aggregation_temporality,
            },
        )),
        Some(metric::Data::Summary(s)) => Some(metric::Data::Summary(
            opentelemetry_proto::tonic::metrics::v1::Summary {
                data_points: front(&mut s.data_points, n),
            },
        )),
        None => None,
    };
    Metric {
        name: m.name.clone(),
        description: m.description.clone(),
        unit: m.unit.clone(),
        metadata: m.metadata.clone(),
        data,
    }
}

fn push_metric(
    cur: &mut ExportMetricsServiceRequest,
    rm: &opentelemetry_proto::tonic::metrics::v1::ResourceMetrics,
    sm: &ScopeMetrics,
    m: Metric,
) {
    let scope = ScopeMetrics {
        scope: sm.scope.clone(),
        metrics: Vec::new(),
        schema_url: sm.schema_url.clone(),
    };
    push_scope(&mut cur.resource_metrics, rm, scope);
    if let Some(s) = cur
        .resource_metrics
        .last_mut()
        .and_then(|r| r.scope_metrics.last_mut())
    {
        s.metrics.push(m);
    }
}

/// Appends `scope` under the last resource entry of `out` when that entry came from
/// the same resource as `shell`, otherwise under a new empty copy of `shell`.
/// Consecutive chunks of one scope are merged.
fn push_scope<R: ResourceEntry>(out: &mut Vec<R>, shell: &R, scope: R::Scope) {
    if !out.last().is_some_and(|last| last.same_resource(shell)) {
        out.push(shell.empty_copy());
    }
    if let Some(last) = out.last_mut() {
        let list = last.scopes();
        if let Some(prev) = list.last_mut() {
            if prev.same_scope(&scope) {
                prev.absorb(scope);
                return;
            }
        }
        list.push(scope);
    }
}

/// A resource-level entry (`ResourceSpans`, `ResourceLogs`, `ResourceMetrics`).
trait ResourceEntry {
    type Scope: ScopeEntry;
    fn scopes(&mut self) -> &mut Vec<Self::Scope>;
    fn same_resource(&self, other: &Self) -> bool;
    fn empty_copy(&self) -> Self;
}

macro_rules! resource_entry {
    ($ty:ty, $scope:ty, $field:ident) => {
        impl ResourceEntry for $ty {
            type Scope = $scope;
            fn scopes(&mut self) -> &mut Vec<$scope> {
                &mut self.$field
            }
            fn same_resource(&self, other: &Self) -> bool {
                self.resource == other.resource && self.schema_url == other.schema_url
            }
            fn empty_copy(&self) -> Self {
                Self {
                    resource: self.resource.clone(),
                    $field: Vec::new(),
                    schema_url: self.schema_url.clone(),
                }
            }
        }
    };
}

resource_entry!(
    opentelemetry_proto::tonic::trace::v1::ResourceSpans,
    ScopeSpans,
    scope_spans
);
resource_entry!(
    opentelemetry_proto::tonic::logs::v1::ResourceLogs,
    ScopeLogs,
    scope_logs
);
resource_entry!(
    opentelemetry_proto::tonic::metrics::v1::ResourceMetrics,
    ScopeMetrics,
    scope_metrics
);

/// A scope-level entry (`ScopeSpans`, `ScopeLogs`, `ScopeMetrics`).
trait ScopeEntry {
    fn same_scope(&self, other: &Self) -> bool;
    fn absorb(&mut self, other: Self);
}

impl ScopeEntry for ScopeSpans {
    fn same_scope(&self, other: &Self) -> bool {
        self.scope == other.scope && self.schema_url == other.schema_url
    }
    fn absorb(&mut self, other: Self) {
        self.spans.extend(other.spans);
    }
}

impl ScopeEntry for ScopeLogs {
    fn same_scope(&self, other: &Self) -> bool {
        self.scope == other.scope && self.schema_url == other.schema_url
    }
    fn absorb(&mut self, other: Self) {
        self.log_records.extend(other.log_records);
    }
}

impl ScopeEntry for ScopeMetrics {
    fn same_scope(&self, other: &Self) -> bool {
        self.scope == other.scope && self.schema_url == other.schema_url
    }
    fn absorb(&mut self, other: Self) {
        self.metrics.extend(other.metrics);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::metrics::v1::{Gauge, NumberDataPoint, ResourceMetrics};

    #[test]
    fn metric_split_keeps_point_order_and_sizes() {
        let points: Vec<NumberDataPoint> = (0..10)
            .map(|i| NumberDataPoint {
                time_unix_nano: i,
                ..Default::default()
            })
            .collect();
        let req = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![Metric {
                        name: "m".into(),
                        data: Some(metric::Data::Gauge(Gauge {
                            data_points: points,
                        })),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let pieces = Metrics::split(req, 4);
        assert_eq!(
            pieces.iter().map(Metrics::count).collect::<Vec<_>>(),
            [4, 4, 2]
        );
        let times: Vec<u64> = pieces
            .iter()
            .flat_map(|r| &r.resource_metrics)
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .flat_map(|m| match &m.data {
                Some(metric::Data::Gauge(g)) => g
                    .data_points
                    .iter()
                    .map(|p| p.time_unix_nano)
                    .collect::<Vec<_>>(),
                _ => Vec::new(),
            })
            .collect();
        assert_eq!(times, (0..10).collect::<Vec<_>>());
    }
}
