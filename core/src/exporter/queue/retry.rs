//! The retry loop of one batch: encode once, then send with a per-attempt
//! timeout until delivered, refused for good, out of retries, or abandoned at
//! the shutdown deadline.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use tokio::sync::Notify;

use super::backoff::Backoff;
use super::config::ExporterSettings;
use super::{ExportClient, ExportError};
use crate::otlp::Signal;
use crate::pipeline::Batch;
use crate::telemetry::metrics::ExporterMetrics;

/// Set at the shutdown deadline: stop retrying, give up on what is left (a
/// request in flight is cut too).
#[derive(Debug, Default)]
pub struct Abandon {
    flag: AtomicBool,
    notify: Notify,
}

impl Abandon {
    /// Abandons every export in progress and every later one.
    pub fn fire(&self) {
        self.flag.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }
}

/// Returns false when the export was abandoned at the shutdown deadline (the data
/// stays in persistent storage, if any), true when it was sent or dropped for good.
pub async fn export_with_retry<S: Signal, C: ExportClient<S>>(
    client: &C,
    settings: &ExporterSettings,
    metrics: &ExporterMetrics,
    abandon: &Abandon,
    batch: Batch<S>,
) -> bool {
    let items = batch.items() as u64;
    let id = &settings.id;
    let mut req = match client.encode(batch) {
        Ok(r) => r,
        Err(e) => {
            metrics.send_failed.inc_by(items);
            tracing::error!(exporter = %id, dropped_items = items, error = %e, "Exporting failed. Dropping data.");
            return true;
        }
    };
    let retry = &settings.retry;
    let started = Instant::now();
    let mut backoff = Backoff::new(retry);
    loop {
        // The shutdown deadline also cuts a request in flight (a hanging backend
        // must not hold the process past its stop grace period).
        let abandoned = abandon.notify.notified();
        if abandon.is_set() {
            metrics.send_failed.inc_by(items);
            return false;
        }
        let attempt = async {
            let attempt = client.send(&mut req);
            if settings.timeout.is_zero() {
                attempt.await
            } else {
                match tokio::time::timeout(settings.timeout, attempt).await {
                    Ok(r) => r,
                    Err(_) => Err(ExportError::retryable(format!(
                        "request timed out after {:?}",
                        settings.timeout
                    ))),
                }
            }
        };
        let result = tokio::select! {
            r = attempt => r,
            _ = abandoned => {
                metrics.send_failed.inc_by(items);
                return false;
            }
        };
        let err = match result {
            Ok(()) => {
                let failed = client.failed_items(&req).min(items);
                metrics.sent.inc_by(items - failed);
                if failed > 0 {
                    metrics.send_failed.inc_by(failed);
                }
                return true;
            }
            Err(e) => e,
        };
        let retry_after = match &err {
            ExportError::Permanent { .. } => {
                metrics.send_failed.inc_by(items);
                tracing::error!(exporter = %id, dropped_items = items, error = %err,
                    "Exporting failed. The error is not retryable. Dropping data.");
                return true;
            }
            ExportError::Retryable { retry_after, .. } => *retry_after,
        };
        if !retry.enabled {
            metrics.send_failed.inc_by(items);
            tracing::error!(exporter = %id, dropped_items = items, error = %err,
                "Exporting failed. Retries are disabled. Dropping data.");
            return true;
        }
        let mut delay = backoff.next_delay();
        if let Some(ra) = retry_after {
            delay = delay.max(ra);
        }
        let max_elapsed = retry.max_elapsed_time.0;
        if !max_elapsed.is_zero() && started.elapsed() + delay > max_elapsed {
            metrics.send_failed.inc_by(items);
            tracing::error!(exporter = %id, dropped_items = items, error = %err,
                "Exporting failed. No more retries left. Dropping data.");
            return true;
        }
        tracing::warn!(exporter = %id, interval = ?delay, error = %err,
            "Exporting failed. Will retry the request after interval.");
        let abandoned = abandon.notify.notified();
        if abandon.is_set() {
            metrics.send_failed.inc_by(items);
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = abandoned => {
                metrics.send_failed.inc_by(items);
                return false;
            }
        }
    }
}
