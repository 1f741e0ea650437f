//! The machinery every exporter sits behind, one concern per file: settings and
//! their validation ([`config`]), backoff ([`backoff`]), the bounded sending queue
//! and its consumers ([`sending_queue`]) and the retry loop ([`retry`]: a
//! per-attempt timeout, exponential backoff with jitter honouring `Retry-After` /
//! gRPC `RetryInfo`, permanent errors dropped and counted). Exporters only provide
//! an [`ExportClient`]: a pure encoder and a sender.
//!
//! Upstream reference: `exporter/exporterhelper` of the OpenTelemetry Collector.

pub mod backoff;
pub mod config;
pub mod retry;
pub mod sending_queue;

use std::future::Future;
use std::time::Duration;

use thiserror::Error;

use crate::otlp::Signal;
use crate::pipeline::Batch;

pub use backoff::Backoff;
pub use config::{ExporterSettings, QueueSettings, RetrySettings};
pub use sending_queue::QueuedExporter;

/// Why an export attempt failed.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ExportError {
    /// Worth retrying; `retry_after` is the server's requested delay.
    #[error("{message}")]
    Retryable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// Retrying cannot help (bad request, authentication, encoding failure).
    #[error("{message}")]
    Permanent { message: String },
}

impl ExportError {
    pub fn retryable(message: impl Into<String>) -> Self {
        ExportError::Retryable {
            message: message.into(),
            retry_after: None,
        }
    }
    pub fn permanent(message: impl Into<String>) -> Self {
        ExportError::Permanent {
            message: message.into(),
        }
    }
    pub fn is_retryable(&self) -> bool {
        matches!(self, ExportError::Retryable { .. })
    }

    /// An HTTP sender's failure, classified as the sender did; a refusing
    /// answer is described by `describe(status, body excerpt)`.
    pub fn from_http(
        e: crate::http::SendError,
        describe: impl FnOnce(u16, &str) -> String,
    ) -> Self {
        let retryable = e.is_retryable();
        let retry_after = e.retry_after();
        let message = match &e {
            crate::http::SendError::Refused { answer, .. } => {
                describe(answer.status, &answer.excerpt())
            }
            other => other.to_string(),
        };
        if retryable {
            ExportError::Retryable {
                message,
                retry_after,
            }
        } else {
            ExportError::Permanent { message }
        }
    }
}

/// What a concrete exporter provides: a pure encoder and a sender.
pub trait ExportClient<S: Signal>: Send + Sync + 'static {
    /// The encoded request. The retry loop owns it and lends it to every
    /// attempt, so a sender may record progress in it (what is already
    /// delivered) without interior mutability.
    type Request: Send + 'static;
    fn encode(&self, batch: Batch<S>) -> Result<Self::Request, ExportError>;
    fn send(&self, req: &mut Self::Request)
        -> impl Future<Output = Result<(), ExportError>> + Send;
    /// Items of a request that [`send`](Self::send) finished without delivering
    /// (partial success: dropped at encode, or refused item by item by the
    /// backend); counted as failed instead of sent. Read once the send succeeded.
    fn failed_items(&self, _req: &Self::Request) -> u64 {
        0
    }
}
