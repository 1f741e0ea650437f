//! The generic exporter machinery every exporter sits behind: a bounded sending
//! queue drained by `num_consumers` workers, a per-attempt timeout and a retry
//! policy (exponential backoff with jitter, honouring `Retry-After` / gRPC
//! `RetryInfo`, permanent errors dropped and counted). Exporters only provide an
//! [`ExportClient`]: a pure encoder and a sender.
//!
//! Upstream reference: `exporter/exporterhelper` of the OpenTelemetry Collector.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::Deserialize;
use thiserror::Error;
use tokio::sync::{mpsc, Mutex, Notify};

use crate::config::duration::GoDuration;
use crate::otlp::Signal;
use crate::pipeline::stage::{
    BoxFuture, DrainOutcome, ExportQueue, QueueAccounting, ReserveError, Slot,
};
use crate::pipeline::Batch;
use crate::telemetry::metrics::ExporterMetrics;

/// `sending_queue` settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QueueSettings {
    /// Whether to queue at all. When false, the pipeline waits for each export.
    pub enabled: bool,
    /// Concurrent senders draining the queue.
    pub num_consumers: usize,
    /// Capacity, in requests (batches).
    pub queue_size: usize,
    /// Only `requests` is supported.
    pub sizer: String,
    /// When the queue is full, senders wait up to 5 s for room (instead of 50 ms)
    /// before being refused with 503/UNAVAILABLE. Never drops: data inside the
    /// pipeline was acknowledged and always waits.
    pub block_on_overflow: bool,
    /// Accepted for compatibility; see `block_on_overflow`.
    pub wait_for_result: bool,
    /// A `file_storage` extension ID: the queue survives restarts and crashes.
    pub storage: Option<String>,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            enabled: true,
            num_consumers: 10,
            queue_size: 1000,
            sizer: "requests".into(),
            block_on_overflow: false,
            wait_for_result: false,
            storage: None,
        }
    }
}

impl QueueSettings {
    /// Pure validation; returns (key, message) pairs.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut errs = Vec::new();
        if self.enabled && self.queue_size == 0 {
            errs.push(("queue_size".into(), "`queue_size` must be positive".into()));
        }
        if self.enabled && self.num_consumers == 0 {
            errs.push((
                "num_consumers".into(),
                "`num_consumers` must be positive".into(),
            ));
        }
        if self.sizer != "requests" {
            errs.push((
                "sizer".into(),
                format!(
                    "sizer {:?} is not supported yet (supported: requests)",
                    self.sizer
                ),
            ));
        }
        if self.storage.is_some() && !self.enabled {
            errs.push((
                "storage".into(),
                "a persistent queue needs `enabled: true`".into(),
            ));
        }
        errs
    }
}

/// `retry_on_failure` settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RetrySettings {
    pub enabled: bool,
    pub initial_interval: GoDuration,
    pub max_interval: GoDuration,
    /// 0 retries forever.
    pub max_elapsed_time: GoDuration,
    pub multiplier: f64,
    pub randomization_factor: f64,
}

impl Default for RetrySettings {
    fn default() -> Self {
        RetrySettings {
            enabled: true,
            initial_interval: GoDuration::from_secs(5),
            max_interval: GoDuration::from_secs(30),
            max_elapsed_time: GoDuration::from_secs(300),
            multiplier: 1.5,
            randomization_factor: 0.5,
        }
    }
}

impl RetrySettings {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut errs = Vec::new();
        if !self.enabled {
            return errs;
        }
        if self.multiplier < 1.0 {
            errs.push((
                "multiplier".into(),
                "`multiplier` must be at least 1".into(),
            ));
        }
        if !(0.0..1.0).contains(&self.randomization_factor) {
            errs.push((
                "randomization_factor".into(),
                "`randomization_factor` must be in [0, 1)".into(),
            ));
        }
        let max_elapsed = self.max_elapsed_time.0;
        if !max_elapsed.is_zero()
            && (max_elapsed < self.initial_interval.0 || max_elapsed < self.max_interval.0)
        {
            errs.push((
                "max_elapsed_time".into(),
                "`max_elapsed_time` must not be less than `initial_interval` and `max_interval`"
                    .into(),
            ));
        }
        errs
    }
}

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
}

/// What a concrete exporter provides: a pure encoder and a sender.
pub trait ExportClient<S: Signal>: Send + Sync + 'static {
    /// The encoded request, reused across retries.
    type Request: Send + Sync + 'static;
    fn encode(&self, batch: Batch<S>) -> Result<Self::Request, ExportError>;
    fn send(&self, req: &Self::Request) -> impl Future<Output = Result<(), ExportError>> + Send;
    /// Items of a request that [`send`](Self::send) finished without delivering
    /// (partial success: dropped at encode, or refused item by item by the
    /// backend); counted as failed instead of sent. Read once the send succeeded.
    fn failed_items(&self, _req: &Self::Request) -> u64 {
        0
    }
}

/// Exponential backoff with jitter, as `cenkalti/backoff` computes it.
#[derive(Debug)]
pub struct Backoff {
    current: Duration,
    settings: RetrySettings,
    seed: u64,
}

impl Backoff {
    pub fn new(settings: &RetrySettings) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x2545_f491_4f6c_dd1d, |d| d.as_nanos() as u64)
            | 1;
        Backoff {
            current: settings.initial_interval.0,
            settings: settings.clone(),
            seed,
        }
    }

    fn random(&mut self) -> f64 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        (self.seed >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The next delay: current ± randomization, then grow current.
    pub fn next_delay(&mut self) -> Duration {
        let f = self.settings.randomization_factor;
        let cur = self.current.as_secs_f64();
        let delta = f * cur;
        let delay = (cur - delta) + self.random() * (2.0 * delta);
        let grown =
            (cur * self.settings.multiplier).min(self.settings.max_interval.0.as_secs_f64());
        self.current = Duration::from_secs_f64(grown.max(0.0));
        Duration::from_secs_f64(delay.max(0.0))
    }
}

/// Static settings of one queued exporter.
#[derive(Debug, Clone)]
pub struct ExporterSettings {
    pub id: String,
    pub timeout: Duration,
    pub queue: QueueSettings,
    pub retry: RetrySettings,
}

/// Counters shared by a queue, its consumers and the slots reserved in it.
struct QueueState {
    metrics: ExporterMetrics,
    /// Batches enqueued and not yet finished (exported or given up).
    pending_batches: AtomicUsize,
    pending_items: AtomicU64,
    idle: Notify,
}

impl QueueAccounting for QueueState {
    fn started(&self, items: u64) {
        QueueState::started(self, items);
    }
}

impl QueueState {
    fn started(&self, items: u64) {
        self.pending_batches.fetch_add(1, Ordering::AcqRel);
        self.pending_items.fetch_add(items, Ordering::AcqRel);
        self.metrics.queue_size.add(1);
    }

    fn finish(&self, items: u64) {
        self.pending_items.fetch_sub(items, Ordering::AcqRel);
        if self.pending_batches.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_waiters();
        }
    }
}

struct Shared<S: Signal, C: ExportClient<S>> {
    id: String,
    client: C,
    settings: ExporterSettings,
    state: Arc<QueueState>,
    /// Set at the shutdown deadline: stop retrying, give up on what is left.
    abandon: AtomicBool,
    abandon_notify: Notify,
    _signal: std::marker::PhantomData<fn() -> S>,
}

/// A bounded sending queue with retrying consumers in front of an [`ExportClient`].
pub struct QueuedExporter<S: Signal, C: ExportClient<S>> {
    shared: Arc<Shared<S, C>>,
    tx: RwLock<Option<mpsc::Sender<Batch<S>>>>,
    workers: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl<S: Signal, C: ExportClient<S>> QueuedExporter<S, C> {
    /// Creates the queue and starts its consumers (needs a Tokio runtime).
    pub fn start(settings: ExporterSettings, client: C, metrics: ExporterMetrics) -> Arc<Self> {
        let (capacity, consumers) = if settings.queue.enabled {
            (
                settings.queue.queue_size.max(1),
                settings.queue.num_consumers.max(1),
            )
        } else {
            (1, 1)
        };
        metrics.queue_capacity.set(capacity as i64);
        let (tx, rx) = mpsc::channel::<Batch<S>>(capacity);
        let state = Arc::new(QueueState {
            metrics,
            pending_batches: AtomicUsize::new(0),
            pending_items: AtomicU64::new(0),
            idle: Notify::new(),
        });
        let shared = Arc::new(Shared {
            id: settings.id.clone(),
            client,
            settings,
            state,
            abandon: AtomicBool::new(false),
            abandon_notify: Notify::new(),
            _signal: std::marker::PhantomData,
        });
        let rx = Arc::new(Mutex::new(rx));
        let workers = (0..consumers)
            .map(|_| tokio::spawn(consume(shared.clone(), rx.clone())))
            .collect();
        Arc::new(QueuedExporter {
            shared,
            tx: RwLock::new(Some(tx)),
            workers: std::sync::Mutex::new(workers),
        })
    }

    fn sender(&self) -> Option<mpsc::Sender<Batch<S>>> {
        match self.tx.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    async fn wait_idle(&self, deadline: Instant) -> DrainOutcome {
        let state = &self.shared.state;
        loop {
            let notified = state.idle.notified();
            if state.pending_batches.load(Ordering::Acquire) == 0 {
                return DrainOutcome::default();
            }
            let now = Instant::now();
            if now >= deadline {
                return DrainOutcome {
                    unsent_items: state.pending_items.load(Ordering::Acquire),
                };
            }
            let _ = tokio::time::timeout(deadline - now, notified).await;
        }
    }
}

impl<S: Signal, C: ExportClient<S>> ExportQueue<S> for QueuedExporter<S, C> {
    fn id(&self) -> &str {
        &self.shared.id
    }

    fn enqueue(&self, mut batch: Batch<S>) -> BoxFuture<'_, Result<(), Batch<S>>> {
        Box::pin(async move {
            let items = batch.items() as u64;
            let permit = match self.sender() {
                Some(tx) => tx.reserve_owned().await.ok(),
                None => None,
            };
            match permit {
                Some(permit) => {
                    Slot::new(permit, self.shared.state.clone()).send(batch);
                    Ok(())
                }
                None => {
                    self.shared.state.metrics.enqueue_failed.inc_by(items);
                    batch.abandon_acks();
                    Err(batch)
                }
            }
        })
    }

    fn reserve(&self, wait: Duration) -> BoxFuture<'_, Result<Slot<S>, ReserveError>> {
        Box::pin(async move {
            let tx = self.sender().ok_or(ReserveError::Closed)?;
            let permit = match tx.clone().try_reserve_owned() {
                Ok(p) => p,
                Err(mpsc::error::TrySendError::Closed(_)) => return Err(ReserveError::Closed),
                Err(mpsc::error::TrySendError::Full(_)) => {
                    match tokio::time::timeout(wait, tx.reserve_owned()).await {
                        Ok(Ok(p)) => p,
                        Ok(Err(_)) => return Err(ReserveError::Closed),
                        Err(_) => return Err(ReserveError::Full),
                    }
                }
            };
            Ok(Slot::new(permit, self.shared.state.clone()))
        })
    }

    fn count_enqueue_failed(&self, items: u64) {
        self.shared.state.metrics.enqueue_failed.inc_by(items);
    }

    fn blocks_on_overflow(&self) -> bool {
        self.shared.settings.queue.enabled && self.shared.settings.queue.block_on_overflow
    }

    fn drain(&self, deadline: Instant) -> BoxFuture<'_, DrainOutcome> {
        Box::pin(self.wait_idle(deadline))
    }

    fn shutdown(&self, deadline: Instant) -> BoxFuture<'_, DrainOutcome> {
        Box::pin(async move {
            // Closing the sender lets the consumers finish the backlog and stop.
            match self.tx.write() {
                Ok(mut g) => *g = None,
                Err(p) => *p.into_inner() = None,
            }
            let outcome = self.wait_idle(deadline).await;
            if outcome.unsent_items > 0 {
                self.shared.abandon.store(true, Ordering::Release);
                self.shared.abandon_notify.notify_waiters();
            }
            let workers = match self.workers.lock() {
                Ok(mut g) => std::mem::take(&mut *g),
                Err(p) => std::mem::take(&mut *p.into_inner()),
            };
            // Workers stop promptly once abandoned; wait for them together, briefly.
            let all = async {
                for w in workers {
                    let _ = w.await;
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(1), all).await;
            if outcome.unsent_items > 0 {
                tracing::error!(exporter = %self.shared.id, dropped_items = outcome.unsent_items,
                    "Shutdown deadline passed; data could not be sent (persisted data is kept for the next start).");
            }
            outcome
        })
    }
}

async fn consume<S: Signal, C: ExportClient<S>>(
    shared: Arc<Shared<S, C>>,
    rx: Arc<Mutex<mpsc::Receiver<Batch<S>>>>,
) {
    let state = shared.state.clone();
    loop {
        let next = {
            let mut guard = rx.lock().await;
            if shared.abandon.load(Ordering::Acquire) {
                guard.try_recv().ok()
            } else {
                guard.recv().await
            }
        };
        let Some(mut batch) = next else { return };
        state.metrics.queue_size.add(-1);
        let items = batch.items() as u64;
        if shared.abandon.load(Ordering::Acquire) {
            state.metrics.send_failed.inc_by(items);
            batch.abandon_acks();
            state.finish(items);
            continue;
        }
        state.metrics.in_flight.add(1);
        let acks = batch.take_acks();
        let delivered_or_dropped = export_with_retry(&shared, batch).await;
        if !delivered_or_dropped {
            for a in &acks {
                a.abandon();
            }
        }
        drop(acks);
        state.metrics.in_flight.add(-1);
        state.finish(items);
    }
}

/// Returns false when the export was abandoned at the shutdown deadline (the data
/// stays in persistent storage, if any), true when it was sent or dropped for good.
async fn export_with_retry<S: Signal, C: ExportClient<S>>(
    shared: &Shared<S, C>,
    batch: Batch<S>,
) -> bool {
    let items = batch.items() as u64;
    let id = &shared.id;
    let req = match shared.client.encode(batch) {
        Ok(r) => r,
        Err(e) => {
            shared.state.metrics.send_failed.inc_by(items);
            tracing::error!(exporter = %id, dropped_items = items, error = %e, "Exporting failed. Dropping data.");
            return true;
        }
    };
    let retry = &shared.settings.retry;
    let started = Instant::now();
    let mut backoff = Backoff::new(retry);
    loop {
        // The shutdown deadline also cuts a request in flight (a hanging backend
        // must not hold the process past its stop grace period).
        let abandoned = shared.abandon_notify.notified();
        if shared.abandon.load(Ordering::Acquire) {
            shared.state.metrics.send_failed.inc_by(items);
            return false;
        }
        let attempt = async {
            let attempt = shared.client.send(&req);
            if shared.settings.timeout.is_zero() {
                attempt.await
            } else {
                match tokio::time::timeout(shared.settings.timeout, attempt).await {
                    Ok(r) => r,
                    Err(_) => Err(ExportError::retryable(format!(
                        "request timed out after {:?}",
                        shared.settings.timeout
                    ))),
                }
            }
        };
        let result = tokio::select! {
            r = attempt => r,
            _ = abandoned => {
                shared.state.metrics.send_failed.inc_by(items);
                return false;
            }
        };
        let err = match result {
            Ok(()) => {
                let failed = shared.client.failed_items(&req).min(items);
                shared.state.metrics.sent.inc_by(items - failed);
                if failed > 0 {
                    shared.state.metrics.send_failed.inc_by(failed);
                }
                return true;
            }
            Err(e) => e,
        };
        let retry_after = match &err {
            ExportError::Permanent { .. } => {
                shared.state.metrics.send_failed.inc_by(items);
                tracing::error!(exporter = %id, dropped_items = items, error = %err,
                    "Exporting failed. The error is not retryable. Dropping data.");
                return true;
            }
            ExportError::Retryable { retry_after, .. } => *retry_after,
        };
        if !retry.enabled {
            shared.state.metrics.send_failed.inc_by(items);
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
            shared.state.metrics.send_failed.inc_by(items);
            tracing::error!(exporter = %id, dropped_items = items, error = %err,
                "Exporting failed. No more retries left. Dropping data.");
            return true;
        }
        tracing::warn!(exporter = %id, interval = ?delay, error = %err,
            "Exporting failed. Will retry the request after interval.");
        let abandoned = shared.abandon_notify.notified();
        if shared.abandon.load(Ordering::Acquire) {
            shared.state.metrics.send_failed.inc_by(items);
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = abandoned => {
                shared.state.metrics.send_failed.inc_by(items);
                return false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::Traces;
    use crate::telemetry::metrics::Registry;
    use std::sync::atomic::AtomicU32;

    struct Flaky {
        failures_left: AtomicU32,
        permanent: bool,
        sent: AtomicU64,
    }

    impl ExportClient<Traces> for Arc<Flaky> {
        type Request = u64;
        fn encode(&self, batch: Batch<Traces>) -> Result<u64, ExportError> {
            Ok(batch.items() as u64)
        }
        async fn send(&self, req: &u64) -> Result<(), ExportError> {
            if self.failures_left.load(Ordering::SeqCst) > 0 {
                self.failures_left.fetch_sub(1, Ordering::SeqCst);
                return Err(if self.permanent {
                    ExportError::permanent("400 bad")
                } else {
                    ExportError::Retryable {
                        message: "503".into(),
                        retry_after: Some(Duration::from_millis(5)),
                    }
                });
            }
            self.sent.fetch_add(*req, Ordering::SeqCst);
            Ok(())
        }
    }

    fn batch(n: usize) -> Batch<Traces> {
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
        Batch::from_request(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span::default(); n],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        })
    }

    fn settings() -> ExporterSettings {
        ExporterSettings {
            id: "test".into(),
            timeout: Duration::from_secs(1),
            queue: QueueSettings {
                num_consumers: 2,
                queue_size: 4,
                ..Default::default()
            },
            retry: RetrySettings {
                initial_interval: GoDuration::from_millis(1),
                max_interval: GoDuration::from_millis(5),
                max_elapsed_time: GoDuration::from_secs(5),
                ..Default::default()
            },
        }
    }

    #[tokio::test]
    async fn retries_until_delivered_and_counts_exactly() {
        let client = Arc::new(Flaky {
            failures_left: AtomicU32::new(3),
            permanent: false,
            sent: AtomicU64::new(0),
        });
        let reg = Registry::default();
        let metrics = ExporterMetrics::new(&reg, "test", crate::otlp::SignalKind::Traces);
        let q = QueuedExporter::start(settings(), client.clone(), metrics.clone());
        for _ in 0..10 {
            assert!(q.enqueue(batch(7)).await.is_ok());
        }
        let out = q.shutdown(Instant::now() + Duration::from_secs(5)).await;
        assert_eq!(out.unsent_items, 0);
        assert_eq!(client.sent.load(Ordering::SeqCst), 70);
        assert_eq!(metrics.sent.get(), 70);
        assert_eq!(metrics.send_failed.get(), 0);
        assert_eq!(metrics.queue_size.get(), 0);
        assert!(q.enqueue(batch(1)).await.is_err(), "closed queue refuses");
        assert_eq!(metrics.enqueue_failed.get(), 1);
    }

    #[tokio::test]
    async fn permanent_errors_drop_and_count_without_retry() {
        let client = Arc::new(Flaky {
            failures_left: AtomicU32::new(1),
            permanent: true,
            sent: AtomicU64::new(0),
        });
        let reg = Registry::default();
        let metrics = ExporterMetrics::new(&reg, "test", crate::otlp::SignalKind::Traces);
        let mut s = settings();
        s.queue.num_consumers = 1;
        let q = QueuedExporter::start(s, client.clone(), metrics.clone());
        q.enqueue(batch(5)).await.unwrap();
        q.enqueue(batch(6)).await.unwrap();
        q.drain(Instant::now() + Duration::from_secs(5)).await;
        assert_eq!(metrics.send_failed.get(), 5);
        assert_eq!(metrics.sent.get(), 6);
    }

    #[tokio::test]
    async fn reserve_refuses_when_the_queue_is_full() {
        let client = Arc::new(Flaky {
            failures_left: AtomicU32::new(u32::MAX),
            permanent: false,
            sent: AtomicU64::new(0),
        });
        let reg = Registry::default();
        let metrics = ExporterMetrics::new(&reg, "test", crate::otlp::SignalKind::Traces);
        let mut s = settings();
        s.queue = QueueSettings {
            num_consumers: 1,
            queue_size: 1,
            ..Default::default()
        };
        let q = QueuedExporter::start(s, client, metrics.clone());
        // One batch in flight (retrying), one queued, then the queue is full.
        q.reserve(Duration::from_millis(10))
            .await
            .unwrap()
            .send(batch(1));
        tokio::time::sleep(Duration::from_millis(20)).await;
        q.reserve(Duration::from_millis(10))
            .await
            .unwrap()
            .send(batch(1));
        assert_eq!(
            q.reserve(Duration::from_millis(10)).await.err(),
            Some(ReserveError::Full)
        );
        assert_eq!(metrics.queue_size.get(), 1);
        assert_eq!(metrics.in_flight.get(), 1);
    }

    #[test]
    fn backoff_grows_within_jitter_and_caps() {
        let s = RetrySettings::default();
        let mut b = Backoff::new(&s);
        let d1 = b.next_delay().as_secs_f64();
        assert!((2.5..=7.5).contains(&d1), "{d1}");
        let d2 = b.next_delay().as_secs_f64();
        assert!((3.75..=11.25).contains(&d2), "{d2}");
        for _ in 0..20 {
            assert!(b.next_delay().as_secs_f64() <= 45.0);
        }
    }

    #[test]
    fn validation_messages() {
        let r = RetrySettings {
            max_elapsed_time: GoDuration::from_secs(1),
            ..Default::default()
        };
        assert_eq!(r.validate().len(), 1);
        let q = QueueSettings {
            queue_size: 0,
            ..Default::default()
        };
        assert_eq!(q.validate()[0].0, "queue_size");
    }
}
