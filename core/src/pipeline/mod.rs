//! Primitives the components share: [`Batch`], the pipeline input with its
//! all-or-nothing admission ([`Consumer`]), the pipeline task that runs batching
//! and fans out to exporters, and flush acknowledgements.

pub mod ack;
pub mod batch;
pub mod batcher;
pub mod stage;

use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

pub use batch::Batch;
pub use stage::{ProcessError, Processor};

use crate::otlp::Signal;

/// How long a receiver waits for room in a full pipeline before refusing.
pub const ADMISSION_WAIT: Duration = Duration::from_millis(50);

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

/// The entry of one pipeline: runs the ingest-side processors and hands the batch
/// to the pipeline task through a bounded channel.
pub struct PipelineInput<S: Signal> {
    pub(crate) name: Arc<str>,
    pub(crate) processors: Vec<Box<dyn Processor<S>>>,
    pub(crate) tx: mpsc::Sender<Batch<S>>,
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

    /// Runs the pipelines' ingest processors and enqueues the batch into every
    /// pipeline, or into none.
    pub async fn consume(&self, batch: Batch<S>) -> Result<(), ConsumeError> {
        let mut permits = Vec::with_capacity(self.inputs.len());
        for input in self.inputs.iter() {
            let permit = match input.tx.try_reserve() {
                Ok(p) => p,
                Err(mpsc::error::TrySendError::Closed(())) => {
                    return Err(ConsumeError::ShuttingDown)
                }
                Err(mpsc::error::TrySendError::Full(())) => {
                    match tokio::time::timeout(ADMISSION_WAIT, input.tx.reserve()).await {
                        Ok(Ok(p)) => p,
                        Ok(Err(_)) => return Err(ConsumeError::ShuttingDown),
                        Err(_) => {
                            tracing::debug!(pipeline = %input.name, "Pipeline full, refusing data.");
                            return Err(ConsumeError::Full {
                                retry_after: RETRY_AFTER,
                            });
                        }
                    }
                }
            };
            permits.push(permit);
        }
        // Run every pipeline's ingest processors before sending anything, so a
        // refusal in one pipeline leaves no copy behind in another.
        let last = permits.len().saturating_sub(1);
        let mut batch = Some(batch);
        let mut outs = Vec::with_capacity(permits.len());
        for (i, input) in self.inputs.iter().enumerate() {
            let mut own = if i == last {
                batch.take().unwrap_or_default()
            } else {
                batch.clone().unwrap_or_default()
            };
            for p in &input.processors {
                p.process(&mut own).map_err(|e| match e {
                    ProcessError::Refused(m) => ConsumeError::Refused {
                        message: m,
                        retry_after: RETRY_AFTER,
                    },
                    ProcessError::Permanent(m) => ConsumeError::Permanent(m),
                })?;
            }
            outs.push(own);
        }
        for (permit, own) in permits.into_iter().zip(outs) {
            if !own.is_empty() {
                permit.send(own);
            }
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }
}

/// Handle of a running pipeline task.
pub struct PipelineHandle {
    pub name: Arc<str>,
    pub(crate) control: mpsc::Sender<Control>,
    pub(crate) task: tokio::task::JoinHandle<()>,
}

impl PipelineHandle {
    /// Pushes everything the pipeline holds into its exporters' queues.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.control.send(Control::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}
