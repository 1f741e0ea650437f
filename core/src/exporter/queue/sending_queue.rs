//! The bounded sending queue in front of an [`ExportClient`]: `num_consumers`
//! workers drain it, each batch through [`export_with_retry`]; drain and
//! shutdown are deadline-bound.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Mutex, Notify};

use super::config::ExporterSettings;
use super::retry::{export_with_retry, Abandon};
use super::ExportClient;
use crate::otlp::Signal;
use crate::pipeline::stage::{
    BoxFuture, DrainOutcome, ExportQueue, QueueAccounting, ReserveError, Slot,
};
use crate::pipeline::Batch;
use crate::telemetry::metrics::ExporterMetrics;

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
    abandon: Abandon,
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
            abandon: Abandon::default(),
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
                self.shared.abandon.fire();
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
            if shared.abandon.is_set() {
                guard.try_recv().ok()
            } else {
                guard.recv().await
            }
        };
        let Some(mut batch) = next else { return };
        state.metrics.queue_size.add(-1);
        let items = batch.items() as u64;
        if shared.abandon.is_set() {
            state.metrics.send_failed.inc_by(items);
            batch.abandon_acks();
            state.finish(items);
            continue;
        }
        state.metrics.in_flight.add(1);
        let acks = batch.take_acks();
        let delivered_or_dropped = export_with_retry(
            &shared.client,
            &shared.settings,
            &state.metrics,
            &shared.abandon,
            batch,
        )
        .await;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::duration::GoDuration;
    use crate::exporter::queue::{ExportError, QueueSettings, RetrySettings};
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
        async fn send(&self, req: &mut u64) -> Result<(), ExportError> {
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
}
