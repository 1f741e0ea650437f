//! Exporters: send pipeline data to backends, each behind the shared sending
//! queue and retry machinery in [`queue`]; the HTTP exporters send through
//! [`crate::http::HttpSender`].

pub mod awsxray;
pub mod debug;
pub mod otlp;
pub mod otlphttp;
pub mod prometheusremotewrite;
pub mod queue;

use serde::Deserialize;

use crate::component::ConfigIssue;
use crate::config::duration::GoDuration;
use queue::{ExporterSettings, QueueSettings, RetrySettings};

/// Keys every queued exporter shares (`timeout`, `sending_queue`, `retry_on_failure`).
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct CommonSettings {
    pub sending_queue: QueueSettings,
    pub retry_on_failure: RetrySettings,
}

impl CommonSettings {
    pub fn validate(&self) -> Vec<ConfigIssue> {
        let mut v: Vec<ConfigIssue> = self
            .sending_queue
            .validate()
            .into_iter()
            .map(|(k, m)| ConfigIssue::new(format!("sending_queue::{k}"), m))
            .collect();
        v.extend(
            self.retry_on_failure
                .validate()
                .into_iter()
                .map(|(k, m)| ConfigIssue::new(format!("retry_on_failure::{k}"), m)),
        );
        v
    }

    pub fn settings(
        &self,
        id: &crate::component::ComponentId,
        timeout: GoDuration,
    ) -> ExporterSettings {
        ExporterSettings {
            id: id.to_string(),
            timeout: timeout.0,
            queue: self.sending_queue.clone(),
            retry: self.retry_on_failure.clone(),
        }
    }
}

/// The persistent storage of a sending queue, for the service's wiring.
pub fn persistent_queue(q: &QueueSettings) -> Option<crate::component::PersistentQueue> {
    q.storage
        .as_ref()
        .map(|storage| crate::component::PersistentQueue {
            storage: storage.clone(),
            queue_size: q.queue_size,
        })
}

/// Validates a `compression` value; returns the encoding.
pub fn parse_compression(v: &str) -> Result<crate::compression::Encoding, String> {
    match v {
        "" | "none" => Ok(crate::compression::Encoding::Identity),
        "gzip" => Ok(crate::compression::Encoding::Gzip),
        "zstd" => Ok(crate::compression::Encoding::Zstd),
        "deflate" | "zlib" => Ok(crate::compression::Encoding::Deflate),
        other => Err(format!(
            "unsupported compression {other:?} (supported: gzip, zstd, deflate, none)"
        )),
    }
}
