//! The pipeline task: receives admitted batches, batches them (when the pipeline
//! has a `batch` processor), runs the processors that follow the batcher and fans
//! out to the exporters' queues, waiting for room there (data it holds has been
//! acknowledged, so it never drops it; the bounded input channel in front of it
//! turns that wait into refusals at the receivers).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::stage::ExportQueue;
use super::{Batch, Control, PipelineHandle, PipelineInput, Processor};
use crate::otlp::Signal;
use crate::telemetry::metrics::{BatchMetrics, ProcessorItemMetrics};

/// Batching settings (the `batch` processor's config, resolved).
#[derive(Debug, Clone)]
pub struct BatchSettings {
    pub send_batch_size: usize,
    pub send_batch_max_size: usize,
    pub timeout: Duration,
}

/// The batcher stage with its self-metrics.
pub struct Batcher {
    pub settings: BatchSettings,
    pub metrics: BatchMetrics,
    pub items: ProcessorItemMetrics,
}

/// Everything a pipeline is made of, before it starts.
pub struct PipelineParts<S: Signal> {
    pub name: Arc<str>,
    pub ingest: Vec<Box<dyn Processor<S>>>,
    pub batcher: Option<Batcher>,
    pub after_batch: Vec<Box<dyn Processor<S>>>,
    pub exporters: Vec<Arc<dyn ExportQueue<S>>>,
    pub channel_capacity: usize,
}

/// Starts the pipeline task. Returns the input (for receivers) and the handle.
pub fn start<S: Signal>(parts: PipelineParts<S>) -> (Arc<PipelineInput<S>>, PipelineHandle) {
    let (tx, rx) = mpsc::channel(parts.channel_capacity.max(1));
    let (ctl_tx, ctl_rx) = mpsc::channel(4);
    let input = Arc::new(PipelineInput {
        name: parts.name.clone(),
        processors: parts.ingest,
        tx,
    });
    let task = PipelineTask {
        name: parts.name.clone(),
        rx,
        control: ctl_rx,
        batcher: parts.batcher,
        after_batch: parts.after_batch,
        exporters: parts.exporters,
        pending: Batch::default(),
        deadline: None,
    };
    let handle = tokio::spawn(task.run());
    (
        input,
        PipelineHandle {
            name: parts.name,
            control: ctl_tx,
            task: handle,
        },
    )
}

struct PipelineTask<S: Signal> {
    name: Arc<str>,
    rx: mpsc::Receiver<Batch<S>>,
    control: mpsc::Receiver<Control>,
    batcher: Option<Batcher>,
    after_batch: Vec<Box<dyn Processor<S>>>,
    exporters: Vec<Arc<dyn ExportQueue<S>>>,
    pending: Batch<S>,
    deadline: Option<Instant>,
}

#[derive(Clone, Copy)]
enum Trigger {
    Size,
    Timeout,
    Flush,
}

impl<S: Signal> PipelineTask<S> {
    async fn run(mut self) {
        loop {
            let deadline = self.deadline;
            tokio::select! {
                biased;
                ctl = self.control.recv() => match ctl {
                    Some(Control::Flush(ack)) => {
                        while let Ok(b) = self.rx.try_recv() {
                            self.add(b).await;
                        }
                        self.send_pending(Trigger::Flush).await;
                        let _ = ack.send(());
                    }
                    None => {
                        // The service is gone: take what is buffered, push it out, stop.
                        self.rx.close();
                        while let Some(b) = self.rx.recv().await {
                            self.add(b).await;
                        }
                        self.send_pending(Trigger::Flush).await;
                        return;
                    }
                },
                _ = sleep_until_opt(deadline), if deadline.is_some() => {
                    self.send_pending(Trigger::Timeout).await;
                }
                b = self.rx.recv() => match b {
                    Some(b) => self.add(b).await,
                    None => {
                        self.send_pending(Trigger::Flush).await;
                        return;
                    }
                },
            }
        }
    }

    async fn add(&mut self, batch: Batch<S>) {
        let Some(batcher) = &self.batcher else {
            self.emit(batch).await;
            return;
        };
        batcher.items.incoming.inc_by(batch.items() as u64);
        let settings = batcher.settings.clone();
        if self.pending.is_empty() && !settings.timeout.is_zero() {
            self.deadline = Some(Instant::now() + settings.timeout);
        }
        self.pending.append(batch);
        if settings.send_batch_size == 0 || settings.timeout.is_zero() {
            // No timer: send right away (split by max size only).
            self.send_pending(Trigger::Size).await;
            return;
        }
        while self.pending.items() >= settings.send_batch_size {
            let all = std::mem::take(&mut self.pending);
            let mut pieces = all.split(settings.send_batch_max_size).into_iter();
            if let Some(first) = pieces.next() {
                self.emit_batched(first, Trigger::Size).await;
            }
            for rest in pieces {
                self.pending.append(rest);
            }
        }
        if self.pending.is_empty() {
            self.deadline = None;
        }
    }

    async fn send_pending(&mut self, trigger: Trigger) {
        self.deadline = None;
        if self.pending.is_empty() {
            return;
        }
        let max = self
            .batcher
            .as_ref()
            .map_or(0, |b| b.settings.send_batch_max_size);
        let all = std::mem::take(&mut self.pending);
        for piece in all.split(max) {
            self.emit_batched(piece, trigger).await;
        }
    }

    async fn emit_batched(&mut self, batch: Batch<S>, trigger: Trigger) {
        if let Some(b) = &self.batcher {
            let n = batch.items() as u64;
            b.metrics.send_size.observe(n as f64);
            b.metrics
                .send_size_bytes
                .observe(batch.encoded_len() as f64);
            match trigger {
                Trigger::Size => b.metrics.size_trigger.inc(),
                Trigger::Timeout => b.metrics.timeout_trigger.inc(),
                Trigger::Flush => {}
            }
            b.items.outgoing.inc_by(n);
        }
        self.emit(batch).await;
    }

    async fn emit(&mut self, mut batch: Batch<S>) {
        for p in &self.after_batch {
            if let Err(e) = p.process(&mut batch) {
                tracing::error!(pipeline = %self.name, dropped_items = batch.items(), error = %e,
                    "Processor after batch rejected data; dropping it.");
                return;
            }
        }
        if batch.is_empty() {
            return;
        }
        let n = self.exporters.len();
        for (i, exp) in self.exporters.iter().enumerate() {
            let own = if i + 1 == n {
                std::mem::take(&mut batch)
            } else {
                batch.clone()
            };
            if let Err(b) = exp.enqueue(own).await {
                tracing::error!(pipeline = %self.name, exporter = exp.id(), dropped_items = b.items(),
                    "Exporter queue closed; data could not be queued.");
            }
        }
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
