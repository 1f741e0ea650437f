//! Config of the `prometheusremotewrite` exporter (upstream keys and defaults),
//! with pure validation.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::component::ComponentId;
use crate::component::{ConfigIssue, Validate};
use crate::config::duration::GoDuration;
use crate::config::tls::ClientTls;
use crate::exporter::queue::{QueueSettings, RetrySettings};

use super::naming::label_name;
use super::proto::Label;
use super::translate::TranslateSettings;

/// Headers the exporter sets itself.
pub const RESERVED_HEADERS: [&str; 4] = [
    "content-encoding",
    "content-type",
    "x-prometheus-remote-write-version",
    "user-agent",
];

/// `exporters: prometheusremotewrite:`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PrwConfig {
    /// The remote-write URL (required), e.g.
    /// `https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-…/api/v1/remote_write`.
    pub endpoint: Option<String>,
    /// Per-request timeout. Default 5s.
    pub timeout: GoDuration,
    /// Extra request headers; the remote-write headers cannot be overridden.
    pub headers: BTreeMap<String, String>,
    /// Only `snappy` (the body is always snappy-compressed).
    pub compression: String,
    /// Prefix `<namespace>_` for every metric name.
    pub namespace: String,
    /// Labels added to every series that does not have them (e.g. a replica name).
    pub external_labels: BTreeMap<String, String>,
    /// Maximum uncompressed size of one remote-write request. Default 3000000; 0 = default.
    pub max_batch_size_bytes: i64,
    /// Requests of one batch sent in parallel. Default: `remote_write_queue.num_consumers`.
    pub max_batch_request_parallelism: Option<usize>,
    pub remote_write_queue: RemoteWriteQueue,
    pub retry_on_failure: PrwRetry,
    pub resource_to_telemetry_conversion: ResourceToTelemetry,
    pub target_info: Enabled,
    /// Add unit and type suffixes (`_seconds`, `_total`, `_ratio`). Default true.
    pub add_metric_suffixes: bool,
    /// Send metric metadata (type, help, unit) in separate requests. Default false.
    pub send_metadata: bool,
    /// Leave out the `otel_scope_*` labels. Default false.
    pub disable_scope_info: bool,
    /// Delta sums and histograms: made cumulative per series (Tern).
    pub delta_to_cumulative: DeltaConfig,
    pub auth: Option<AuthConfig>,
    pub tls: ClientTls,
    /// Accepted for compatibility; not used.
    pub write_buffer_size: Option<Value>,
    /// Accepted for compatibility; not used.
    pub read_buffer_size: Option<Value>,
    /// Accepted for compatibility; not used.
    pub max_idle_conns: Option<Value>,
    /// Accepted for compatibility; not used.
    pub idle_conn_timeout: Option<Value>,
}

/// `remote_write_queue:`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RemoteWriteQueue {
    pub enabled: bool,
    /// Capacity in batches. Default 10000.
    pub queue_size: usize,
    /// Parallel requests per batch. Default 5. Batches leave one at a time, in
    /// order, so a series never has two requests in flight.
    pub num_consumers: usize,
    /// A `file_storage` extension ID: the queue survives restarts (Tern).
    pub storage: Option<String>,
}

impl Default for RemoteWriteQueue {
    fn default() -> Self {
        RemoteWriteQueue {
            enabled: true,
            queue_size: 10000,
            num_consumers: 5,
            storage: None,
        }
    }
}

/// `retry_on_failure:` with this exporter's defaults (initial interval 50ms).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PrwRetry {
    pub enabled: bool,
    pub initial_interval: GoDuration,
    pub max_interval: GoDuration,
    /// Bounds retries of 5xx answers (Prometheus answers 500 to some client errors).
    pub max_elapsed_time: GoDuration,
    pub multiplier: f64,
    pub randomization_factor: f64,
}

impl Default for PrwRetry {
    fn default() -> Self {
        PrwRetry {
            enabled: true,
            initial_interval: GoDuration::from_millis(50),
            max_interval: GoDuration::from_secs(30),
            max_elapsed_time: GoDuration::from_secs(300),
            multiplier: 1.5,
            randomization_factor: 0.5,
        }
    }
}

impl From<&PrwRetry> for RetrySettings {
    fn from(r: &PrwRetry) -> Self {
        RetrySettings {
            enabled: r.enabled,
            initial_interval: r.initial_interval,
            max_interval: r.max_interval,
            max_elapsed_time: r.max_elapsed_time,
            multiplier: r.multiplier,
            randomization_factor: r.randomization_factor,
        }
    }
}

/// `resource_to_telemetry_conversion:`
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ResourceToTelemetry {
    /// Copy every resource attribute onto every series as a label.
    pub enabled: bool,
    /// ...except `service.name`, `service.namespace`, `service.instance.id`.
    pub exclude_service_attributes: bool,
}

/// `{enabled: bool}` blocks, default true.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Enabled {
    pub enabled: bool,
}

impl Default for Enabled {
    fn default() -> Self {
        Enabled { enabled: true }
    }
}

/// `delta_to_cumulative:` (Tern).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DeltaConfig {
    /// Convert delta sums/histograms. When false they are refused as
    /// translation errors (counted and logged), as upstream. Default true.
    pub enabled: bool,
    /// Series tracked at most; points of further new series are refused. Default 100000.
    pub max_series: usize,
    /// A series not seen for this long is forgotten (its sum restarts). Default 5m.
    pub max_stale: GoDuration,
}

impl Default for DeltaConfig {
    fn default() -> Self {
        DeltaConfig {
            enabled: true,
            max_series: 100_000,
            max_stale: GoDuration::from_secs(300),
        }
    }
}

/// `auth:`
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// ID of an authenticator extension, e.g. `sigv4auth`.
    pub authenticator: String,
}

impl Default for PrwConfig {
    fn default() -> Self {
        PrwConfig {
            endpoint: None,
            timeout: GoDuration::from_secs(5),
            headers: BTreeMap::new(),
            compression: String::new(),
            namespace: String::new(),
            external_labels: BTreeMap::new(),
            max_batch_size_bytes: 3_000_000,
            max_batch_request_parallelism: None,
            remote_write_queue: RemoteWriteQueue::default(),
            retry_on_failure: PrwRetry::default(),
            resource_to_telemetry_conversion: ResourceToTelemetry::default(),
            target_info: Enabled::default(),
            add_metric_suffixes: true,
            send_metadata: false,
            disable_scope_info: false,
            delta_to_cumulative: DeltaConfig::default(),
            auth: None,
            tls: ClientTls::default(),
            write_buffer_size: None,
            read_buffer_size: None,
            max_idle_conns: None,
            idle_conn_timeout: None,
        }
    }
}

impl PrwConfig {
    pub fn max_batch_bytes(&self) -> usize {
        if self.max_batch_size_bytes <= 0 {
            3_000_000
        } else {
            self.max_batch_size_bytes as usize
        }
    }

    /// Parallel requests per batch.
    pub fn parallelism(&self) -> usize {
        self.max_batch_request_parallelism
            .unwrap_or(self.remote_write_queue.num_consumers)
            .max(1)
    }

    /// The sending queue: one consumer, so batches (and each series' points) leave in order.
    pub fn queue(&self) -> QueueSettings {
        QueueSettings {
            enabled: self.remote_write_queue.enabled,
            num_consumers: 1,
            queue_size: self.remote_write_queue.queue_size,
            storage: self.remote_write_queue.storage.clone(),
            ..Default::default()
        }
    }

    /// The authenticator extension ID, if any.
    pub fn authenticator(&self) -> Option<&str> {
        self.auth
            .as_ref()
            .map(|a| a.authenticator.as_str())
            .filter(|a| !a.is_empty())
    }

    pub fn translate_settings(&self) -> TranslateSettings {
        let mut external_labels: Vec<Label> = self
            .external_labels
            .iter()
            .filter_map(|(k, v)| label_name(k).map(|n| Label::new(n, v.as_str())))
            .collect();
        external_labels.sort();
        TranslateSettings {
            namespace: self.namespace.clone(),
            external_labels,
            add_metric_suffixes: self.add_metric_suffixes,
            resource_to_telemetry: self.resource_to_telemetry_conversion.enabled,
            exclude_service_attributes: self
                .resource_to_telemetry_conversion
                .exclude_service_attributes,
            target_info: self.target_info.enabled,
            disable_scope_info: self.disable_scope_info,
            send_metadata: self.send_metadata,
        }
    }
}

impl Validate for PrwConfig {
    fn validate(&self) -> Vec<ConfigIssue> {
        let mut v = Vec::new();
        match &self.endpoint {
            None => v.push(ConfigIssue::new("endpoint", "endpoint must be specified")),
            Some(u) => {
                if !(u.starts_with("http://") || u.starts_with("https://"))
                    || u.parse::<hyper::Uri>().is_err()
                {
                    v.push(ConfigIssue::new(
                        "endpoint",
                        format!("invalid URL {u:?}: must be http:// or https://"),
                    ));
                }
            }
        }
        if !(self.compression.is_empty() || self.compression == "snappy") {
            v.push(ConfigIssue::new(
                "compression",
                "compression type must be snappy",
            ));
        }
        for k in self.headers.keys() {
            if RESERVED_HEADERS.contains(&k.to_ascii_lowercase().as_str()) {
                v.push(ConfigIssue::new(
                    format!("headers::{k}"),
                    format!("header {k:?} is set by the exporter and cannot be overridden"),
                ));
            } else if http::HeaderName::from_bytes(k.as_bytes()).is_err() {
                v.push(ConfigIssue::new(
                    format!("headers::{k}"),
                    "invalid header name",
                ));
            }
        }
        for (k, val) in &self.external_labels {
            if k.is_empty() || val.is_empty() {
                v.push(ConfigIssue::new(
                    "external_labels",
                    "prometheus exporter: external labels configuration contains an empty key or value",
                ));
            } else if label_name(k).is_none() {
                v.push(ConfigIssue::new(
                    format!("external_labels::{k}"),
                    "not a valid label name after sanitising",
                ));
            }
        }
        if self.max_batch_size_bytes < 0 {
            v.push(ConfigIssue::new(
                "max_batch_size_bytes",
                "max_batch_byte_size must be greater than 0",
            ));
        }
        if self.max_batch_request_parallelism == Some(0) {
            v.push(ConfigIssue::new(
                "max_batch_request_parallelism",
                "max_batch_request_parallelism can't be set to below 1",
            ));
        }
        let q = &self.remote_write_queue;
        if q.enabled && q.queue_size == 0 {
            v.push(ConfigIssue::new(
                "remote_write_queue::queue_size",
                "a 0 size queue will drop all the data",
            ));
        }
        if q.num_consumers == 0 {
            v.push(ConfigIssue::new(
                "remote_write_queue::num_consumers",
                "`num_consumers` must be positive",
            ));
        }
        if q.storage.is_some() && !q.enabled {
            v.push(ConfigIssue::new(
                "remote_write_queue::storage",
                "a persistent queue needs `enabled: true`",
            ));
        }
        v.extend(
            RetrySettings::from(&self.retry_on_failure)
                .validate()
                .into_iter()
                .map(|(k, m)| ConfigIssue::new(format!("retry_on_failure::{k}"), m)),
        );
        if self.delta_to_cumulative.enabled && self.delta_to_cumulative.max_series == 0 {
            v.push(ConfigIssue::new(
                "delta_to_cumulative::max_series",
                "must be positive",
            ));
        }
        if let Some(a) = &self.auth {
            if let Err(e) = ComponentId::parse(&a.authenticator) {
                v.push(ConfigIssue::new("auth::authenticator", e));
            }
        }
        v
    }
}
