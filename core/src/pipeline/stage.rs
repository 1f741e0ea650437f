//! The synchronous processor interface and the fan-out target interface.

use std::time::Instant;

use thiserror::Error;

use super::Batch;
use crate::otlp::Signal;

pub use crate::BoxFuture;

/// A processor did not let a batch through.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ProcessError {
    /// Temporarily refused (e.g. memory limit): the sender should retry. Only
    /// admission stages refuse, before the sender is answered.
    #[error("{0}")]
    Refused(String),
    /// Rejected for good. From a content processor this drops the batch, counted
    /// and logged by the pipeline.
    #[error("{0}")]
    Permanent(String),
}

/// An admission stage (`memory_limiter`): decides, on the receiver's task and
/// before the sender is answered, whether `items` more items may enter. It
/// never sees or changes content.
pub trait Admission: Send + Sync {
    fn admit(&self, items: u64) -> Result<(), ProcessError>;
}

/// A content processor: runs in the pipeline task, in config order, with
/// exclusive access to each batch. It edits through [`Batch::edit`], which keeps
/// the item count right, so the pipeline counts what went in, what came out and
/// what was dropped around every call; a processor never counts by itself.
/// Returning an error drops the whole batch (counted and logged by the pipeline).
pub trait Processor<S: Signal>: Send {
    fn process(&mut self, batch: &mut Batch<S>) -> Result<(), ProcessError>;
}

/// How an exporter's drain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DrainOutcome {
    /// Items still queued or in flight when the deadline passed.
    pub unsent_items: u64,
}

/// What a pipeline fans out to: an exporter's sending queue.
pub trait ExportQueue<S: Signal>: Send + Sync {
    /// The exporter ID, for logs.
    fn id(&self) -> &str;
    /// Waits for room in the queue and enqueues. Returns the batch back when the
    /// queue is closed.
    fn enqueue(&self, batch: Batch<S>) -> BoxFuture<'_, Result<(), Batch<S>>>;
    /// Reserves room for one batch, waiting at most `wait` (admission without a
    /// batcher: the receiver answers only once every queue has room).
    fn reserve(&self, wait: std::time::Duration) -> BoxFuture<'_, Result<Slot<S>, ReserveError>>;
    /// Counts items refused because the queue was full.
    fn count_enqueue_failed(&self, items: u64);
    /// `sending_queue.block_on_overflow`: senders wait up to
    /// [`crate::pipeline::BLOCK_ON_OVERFLOW_WAIT`] for room instead of
    /// [`crate::pipeline::ADMISSION_WAIT`] before being refused.
    fn blocks_on_overflow(&self) -> bool {
        false
    }
    /// Waits until everything enqueued so far has been exported or given up on,
    /// or until `deadline`.
    fn drain(&self, deadline: Instant) -> BoxFuture<'_, DrainOutcome>;
    /// Closes the queue: drains until `deadline`, then abandons what is left,
    /// counting and logging it.
    fn shutdown(&self, deadline: Instant) -> BoxFuture<'_, DrainOutcome>;
}

/// What a queue counts when a reserved slot is used.
pub trait QueueAccounting: Send + Sync {
    fn started(&self, items: u64);
}

/// Room reserved in an exporter queue; sending cannot fail.
pub struct Slot<S: Signal> {
    permit: tokio::sync::mpsc::OwnedPermit<Batch<S>>,
    accounting: std::sync::Arc<dyn QueueAccounting>,
}

impl<S: Signal> Slot<S> {
    pub fn new(
        permit: tokio::sync::mpsc::OwnedPermit<Batch<S>>,
        accounting: std::sync::Arc<dyn QueueAccounting>,
    ) -> Self {
        Slot { permit, accounting }
    }

    pub fn send(self, batch: Batch<S>) {
        self.accounting.started(batch.items() as u64);
        self.permit.send(batch);
    }
}

/// Why no room could be reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReserveError {
    Full,
    Closed,
}
