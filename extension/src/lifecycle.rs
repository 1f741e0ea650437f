//! The event loop: `/next`, wait for the invocation's `platform.runtimeDone`,
//! flush, `/next` again; drain within the SHUTDOWN deadline. Fails open: when
//! the pipeline is gone, it keeps calling `/next` so the function still runs.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tern_core::service::Service;

use crate::api::{Event, ExtensionsApi};
use crate::flush::{Clock, FlushPolicy, Strategy};
use crate::listener::RuntimeDone;
use crate::settings::LambdaSettings;

/// Used when a SHUTDOWN event carries no deadline.
const DEFAULT_SHUTDOWN_BUDGET: Duration = Duration::from_secs(2);
/// Consecutive `/next` failures before giving up.
const NEXT_ATTEMPTS: u32 = 3;

pub struct Lifecycle {
    pub api: ExtensionsApi,
    pub id: String,
    pub service: Option<Service>,
    pub settings: LambdaSettings,
    pub done: Arc<RuntimeDone>,
    pub clock: Arc<dyn Clock>,
    pub policy: FlushPolicy,
    /// Lambda Managed Instances: no INVOKE events, no freezes.
    pub managed: bool,
    /// Whether records arrive before SHUTDOWN can stop the receivers.
    pub wait_for_telemetry: bool,
}

/// Milliseconds since the epoch → an `Instant` (None when 0 or unreadable).
fn deadline_instant(deadline_ms: u64) -> Option<Instant> {
    if deadline_ms == 0 {
        return None;
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_millis();
    let left = u128::from(deadline_ms).saturating_sub(now_ms);
    Some(Instant::now() + Duration::from_millis(u64::try_from(left).unwrap_or(u64::MAX)))
}

impl Lifecycle {
    /// Runs until SHUTDOWN; returns the process exit code.
    pub async fn run(mut self) -> u8 {
        let mut failures = 0;
        loop {
            let event = self.next_event().await;
            match event {
                Err(e) => {
                    failures += 1;
                    if failures >= NEXT_ATTEMPTS {
                        let msg = format!("the Extensions API keeps failing: {e}");
                        tracing::error!(error = %e, "Cannot get the next event; exiting.");
                        let _ = self
                            .api
                            .exit_error(&self.id, "Extension.NextFailed", &msg)
                            .await;
                        self.shutdown(Instant::now() + Duration::from_millis(500))
                            .await;
                        return 1;
                    }
                    tracing::warn!(error = %e, attempt = failures, "Cannot get the next event; retrying.");
                    tokio::time::sleep(Duration::from_millis(50 * u64::from(failures))).await;
                }
                Ok(Event::Invoke {
                    request_id,
                    deadline_ms,
                }) => {
                    failures = 0;
                    self.invocation(&request_id, deadline_ms).await;
                }
                Ok(Event::Shutdown {
                    shutdown_reason,
                    deadline_ms,
                }) => {
                    let deadline = deadline_instant(deadline_ms)
                        .unwrap_or_else(|| Instant::now() + DEFAULT_SHUTDOWN_BUDGET);
                    let drain_until = deadline
                        .checked_sub(self.settings.shutdown_margin)
                        .unwrap_or(deadline)
                        .max(Instant::now());
                    tracing::info!(reason = %shutdown_reason, budget = ?drain_until.saturating_duration_since(Instant::now()), "SHUTDOWN: draining.");
                    self.shutdown(drain_until).await;
                    return 0;
                }
            }
        }
    }

    /// `/next`, flushing from the backup timer while it blocks (periodic mode,
    /// managed instances: the function may run meanwhile).
    async fn next_event(&mut self) -> Result<Event, crate::api::ApiError> {
        let api = self.api.clone();
        let id = self.id.clone();
        let next = api.next(&id);
        tokio::pin!(next);
        loop {
            let timer_on = self.service.is_some()
                && (self.managed || self.policy.strategy() == Strategy::Periodic);
            let backup = tokio::time::Instant::from_std(self.policy.backup_at());
            tokio::select! {
                r = &mut next => return r,
                _ = tokio::time::sleep_until(backup), if timer_on => {
                    self.flush("backup timer").await;
                }
            }
        }
    }

    async fn invocation(&mut self, request_id: &str, deadline_ms: u64) {
        if self.service.is_none() {
            return; // failed open: nothing to flush, do not hold the function up
        }
        let now = self.clock.now();
        let before = self.policy.strategy();
        let strategy = self.policy.on_invoke(now);
        if strategy != before {
            tracing::info!(?strategy, mean_gap = ?self.policy.mean_gap(), "Flush strategy changed.");
        }
        match strategy {
            Strategy::Periodic => {
                if self.policy.periodic_due(now) {
                    self.flush("periodic").await;
                }
            }
            Strategy::End => {
                let mut until = Instant::now() + self.settings.runtime_done_timeout;
                if let Some(d) = deadline_instant(deadline_ms) {
                    until = until.min(d + Duration::from_millis(500));
                }
                let first_backup = Instant::now() + self.settings.flush.backup_interval;
                loop {
                    let backup = self.policy.backup_at().max(first_backup).min(until);
                    if self.done.wait(request_id, backup).await {
                        break;
                    }
                    if Instant::now() >= until {
                        tracing::warn!(
                            request_id,
                            "No platform.runtimeDone before the fallback timeout; flushing anyway."
                        );
                        break;
                    }
                    // A long invocation: flush what it produced so far.
                    self.flush("backup timer").await;
                }
                self.flush("end of invocation").await;
            }
        }
    }

    /// Flushes batches, queues and in-flight exports, bounded by `flush_timeout`.
    async fn flush(&mut self, reason: &'static str) {
        let Some(svc) = &self.service else {
            return;
        };
        let started = Instant::now();
        // Bounded: a slow or dead backend delays the freeze by at most
        // `flush_timeout`, never the function's next invocation (fail open).
        let report = svc.flush(started + self.settings.flush_timeout).await;
        self.policy.flushed(self.clock.now());
        if report.unsent_items > 0 {
            tracing::warn!(reason, unsent_items = report.unsent_items, timeout = ?self.settings.flush_timeout,
                "Flush timed out; the data stays queued and is retried later.");
        } else {
            tracing::debug!(reason, elapsed = ?started.elapsed(), "Flushed.");
        }
        // Lambda bills and limits the sandbox by its resident memory: hand back
        // what the allocator keeps but no longer uses before the freeze.
        tern_core::startup::release_unused_memory();
    }

    async fn shutdown(&mut self, until: Instant) {
        let Some(svc) = self.service.take() else {
            return;
        };
        if self.wait_for_telemetry {
            // The Telemetry API buffers records for its timeoutMs: let the last
            // batch (the final platform.report) arrive before receivers stop.
            let left = until.saturating_duration_since(Instant::now());
            tokio::time::sleep((left / 10).min(Duration::from_millis(60))).await;
        }
        let started = Instant::now();
        let budget = until.saturating_duration_since(started);
        let report = svc.shutdown(budget).await;
        if report.unsent_items > 0 {
            tracing::error!(unsent_items = report.unsent_items, elapsed = ?started.elapsed(),
                "Shutdown deadline reached; this data could not be sent (kept on disk when file_storage is configured).");
        } else {
            tracing::info!(elapsed = ?started.elapsed(), "Shutdown complete; everything was sent.");
        }
    }
}
