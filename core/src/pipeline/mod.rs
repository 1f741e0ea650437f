//! Primitives the components share: [`Batch`], the pipeline input with its
//! all-or-nothing admission ([`Consumer`]), the pipeline task that runs batching
//! and fans out to exporters, and flush acknowledgements.

pub mod ack;
pub mod batch;
pub mod batcher;
pub mod stage;
pub mod wal;

use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

pub use batch::{Batch, Edit};
pub use stage::{Admission, ProcessError, Processor};

use crate::otlp::Signal;

/// How long a receiver waits for room in a full pipeline before refusing.
pub const ADMISSION_WAIT: Duration = Duration::from_millis(50);

/// How long a sender waits for room when an exporter of the pipeline has
/// `sending_queue.block_on_overflow: true`. Bounded below the OpenTelemetry
/// SDKs' default 10 s export timeout, so a blocked request is still answered
/// (503 + Retry-After) instead of timing out and being sent twice.
pub const BLOCK_ON_OVERFLOW_WAIT: Duration = Duration::from_secs(5);

/// The delay suggested to senders that were refused because a pipeline was full.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Why a pipeline did not take data. Receivers map this to a status code.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ConsumeError {
    /// Queues downstream are full; the sender should retry after the given delay.
    #[error("pipeline is full, retry later")]
    Full { retry_after: Duration },
    /// A processor refused the data for now (memory limit); retry after the delay.
    #[error("{message}")]
    Refused {
        message: String,
        retry_after: Duration,
    },
    /// The collector is shutting down.
    #[error("collector is shutting down")]
    ShuttingDown,
    /// A processor rejected the data for good.
    #[error("{0}")]
    Permanent(String),
}

impl ConsumeError {
    pub fn is_retryable(&self) -> bool {
        !matches!(self, ConsumeError::Permanent(_))
    }
}

pub(crate) enum Control {
    /// Push everything held (channel backlog and batcher) into the exporter queues.
    Flush(oneshot::Sender<()>),
}

/// The entry of one pipeline: runs its admission stages and hands the batch to
/// the pipeline task through a bounded channel (or straight to the exporters'
/// queues when the pipeline has nothing to run in between).
pub struct PipelineInput<S: Signal> {
    pub(crate) name: Arc<str>,
    pub(crate) admission: Vec<Arc<dyn Admission>>,
    pub(crate) route: Route<S>,
    pub(crate) wal: Option<Arc<wal::Wal>>,
    /// How long admission waits for room in the pipeline task's input.
    pub(crate) admission_wait: Duration,
}

/// Where admitted data goes.
pub(crate) enum Route<S: Signal> {
    /// Through the pipeline task (the pipeline batches).
    Task(mpsc::Sender<Batch<S>>),
    /// Straight into the exporters' queues: a full queue refuses at once, as
    /// upstream's sending queue does.
    Direct(Vec<Arc<dyn stage::ExportQueue<S>>>),
}

enum Reserved<'a, S: Signal> {
    Task(mpsc::Permit<'a, Batch<S>>),
    Direct(Vec<stage::Slot<S>>),
}

/// What a receiver holds for one signal: every pipeline it feeds. A batch is
/// accepted only when every pipeline takes it (room is reserved in all of them
/// first, so a refusal never leaves a copy behind in some pipelines).
pub struct Consumer<S: Signal> {
    inputs: Arc<[Arc<PipelineInput<S>>]>,
}

impl<S: Signal> Clone for Consumer<S> {
    fn clone(&self) -> Self {
        Consumer {
            inputs: self.inputs.clone(),
        }
    }
}

impl<S: Signal> Consumer<S> {
    pub(crate) fn new(inputs: Vec<Arc<PipelineInput<S>>>) -> Self {
        Consumer {
            inputs: inputs.into(),
        }
    }

    /// Runs the pipelines' admission stages and enqueues the batch into every
    /// pipeline, or into none.
    pub async fn consume(&self, batch: Batch<S>) -> Result<(), ConsumeError> {
        // Ask every pipeline's admission stages first (a memory-limit refusal costs
        // nothing), then reserve room everywhere, then send: a refusal anywhere
        // leaves no copy behind in another pipeline.
        let items = batch.items() as u64;
        for input in self.inputs.iter() {
            for a in &input.admission {
                a.admit(items).map_err(|e| match e {
                    ProcessError::Refused(m) => ConsumeError::Refused {
                        message: m,
                        retry_after: RETRY_AFTER,
                    },
                    ProcessError::Permanent(m) => ConsumeError::Permanent(m),
                })?;
            }
        }
        let mut outs = batch.copies(self.inputs.len());
        let mut reserved = Vec::with_capacity(self.inputs.len());
        for (input, own) in self.inputs.iter().zip(&outs) {
            reserved.push(input.reserve(own.items() as u64).await?);
        }
        // Persist before answering: with `fsync` the data is on disk when the
        // sender gets its 200.
        for (input, own) in self.inputs.iter().zip(outs.iter_mut()) {
            if let (Some(wal), false) = (&input.wal, own.is_empty()) {
                match wal.append(own.to_bytes()).await {
                    Ok(ack) => own.add_ack(ack),
                    Err(wal::WalError::Full) => {
                        tracing::debug!(pipeline = %input.name, "Persistent queue is full, refusing data.");
                        return Err(ConsumeError::Full {
                            retry_after: RETRY_AFTER,
                        });
                    }
                    Err(e @ wal::WalError::Io(_)) => {
                        tracing::error!(pipeline = %input.name, error = %e, "Cannot persist data, refusing it.");
                        return Err(ConsumeError::Full {
                            retry_after: RETRY_AFTER,
                        });
                    }
                }
            }
        }
        for (r, own) in reserved.into_iter().zip(outs) {
            if own.is_empty() {
                continue;
            }
            match r {
                Reserved::Task(permit) => permit.send(own),
                Reserved::Direct(slots) => {
                    let copies = own.copies(slots.len());
                    for (slot, b) in slots.into_iter().zip(copies) {
                        slot.send(b);
                    }
                }
            }
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }
}

impl<S: Signal> PipelineInput<S> {
    /// Feeds recovered data, waiting for room (used for replay at start).
    pub(crate) async fn push(&self, batch: Batch<S>) {
        match &self.route {
            Route::Task(tx) => {
                if let Err(e) = tx.send(batch).await {
                    let mut b = e.0;
                    b.abandon_acks();
                }
            }
            Route::Direct(exporters) => {
                let copies = batch.copies(exporters.len());
                for (e, b) in exporters.iter().zip(copies) {
                    let _ = e.enqueue(b).await;
                }
            }
        }
    }

    pub(crate) fn wal(&self) -> Option<&Arc<wal::Wal>> {
        self.wal.as_ref()
    }

    async fn reserve(&self, items: u64) -> Result<Reserved<'_, S>, ConsumeError> {
        match &self.route {
            Route::Task(tx) => {
                let permit = match tx.try_reserve() {
                    Ok(p) => p,
                    Err(mpsc::error::TrySendError::Closed(())) => {
                        return Err(ConsumeError::ShuttingDown)
                    }
                    Err(mpsc::error::TrySendError::Full(())) => {
                        match tokio::time::timeout(self.admission_wait, tx.reserve()).await {
                            Ok(Ok(p)) => p,
                            Ok(Err(_)) => return Err(ConsumeError::ShuttingDown),
                            Err(_) => {
                                tracing::debug!(pipeline = %self.name, "Pipeline full, refusing data.");
                                return Err(ConsumeError::Full {
                                    retry_after: RETRY_AFTER,
                                });
                            }
                        }
                    }
                };
                Ok(Reserved::Task(permit))
            }
            Route::Direct(exporters) => {
                let mut slots = Vec::with_capacity(exporters.len());
                for e in exporters {
                    let wait = if e.blocks_on_overflow() {
                        BLOCK_ON_OVERFLOW_WAIT
                    } else {
                        ADMISSION_WAIT
                    };
                    match e.reserve(wait).await {
                        Ok(slot) => slots.push(slot),
                        Err(stage::ReserveError::Closed) => return Err(ConsumeError::ShuttingDown),
                        Err(stage::ReserveError::Full) => {
                            e.count_enqueue_failed(items);
                            tracing::debug!(pipeline = %self.name, exporter = e.id(), "Sending queue is full, refusing data.");
                            return Err(ConsumeError::Full {
                                retry_after: RETRY_AFTER,
                            });
                        }
                    }
                }
                Ok(Reserved::Direct(slots))
            }
        }
    }
}

/// Handle of a running pipeline (its task, when it batches).
pub struct PipelineHandle {
    pub name: Arc<str>,
    pub(crate) control: Option<mpsc::Sender<Control>>,
    pub(crate) task: Option<tokio::task::JoinHandle<()>>,
}

impl PipelineHandle {
    /// Pushes everything the pipeline holds into its exporters' queues.
    pub async fn flush(&self) {
        let Some(control) = &self.control else { return };
        let (tx, rx) = oneshot::channel();
        if control.send(Control::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Stops the task after it pushed out what it holds.
    pub async fn stop(self, deadline: std::time::Instant) {
        drop(self.control);
        if let Some(task) = self.task {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let _ = tokio::time::timeout(left, task).await;
        }
    }
}
