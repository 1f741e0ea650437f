//! Acknowledgement tokens: a batch carries one per persisted record it contains.
//! When the last copy of a token is dropped the record is done (exported, or
//! dropped for good and counted) and storage may forget it; a token that was
//! [`Ack::abandon`]ed keeps its record for replay after a restart.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What completes a record when its token goes away.
pub trait AckTarget: Send + Sync {
    fn complete(&self, seq: u64);
}

struct Token {
    seq: u64,
    target: Arc<dyn AckTarget>,
    abandoned: AtomicBool,
}

impl Drop for Token {
    fn drop(&mut self) {
        if !self.abandoned.load(Ordering::Acquire) {
            self.target.complete(self.seq);
        }
    }
}

/// A shared token; clones (fan-out, split pieces) complete the record together.
#[derive(Clone)]
pub struct Ack(Arc<Token>);

impl Ack {
    pub fn new(seq: u64, target: Arc<dyn AckTarget>) -> Ack {
        Ack(Arc::new(Token {
            seq,
            target,
            abandoned: AtomicBool::new(false),
        }))
    }

    /// Keeps the record in storage (it was not delivered and will be replayed).
    pub fn abandon(&self) {
        self.0.abandoned.store(true, Ordering::Release);
    }

    pub fn seq(&self) -> u64 {
        self.0.seq
    }
}

impl std::fmt::Debug for Ack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ack({})", self.0.seq)
    }
}
