//! The pipeline task: receives admitted batches, runs the content processors
//! before `batch`, batches (when the pipeline has a `batch` processor), runs the
//! content processors after it and fans out to the exporters' queues, waiting
//! for room there (data it holds has been acknowledged, so it never drops it;
//! the bounded input channel in front of it turns that wait into refusals at the
//! receivers). Content processors run here, one batch at a time, so they have
//! exclusive access to the batch and need no locks; the task counts what each
//! one takes in, lets out and drops. Nothing is dropped silently: a processor
//! error and a closed exporter queue are counted and logged with the item count.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::stage::{Admission, ExportQueue};
use super::{Batch, Control, PipelineHandle, PipelineInput, Processor};
use crate::otlp::Signal;
use crate::telemetry::metrics::{BatchMetrics, Counter, ProcessorItemMetrics};

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

/// A content processor with the counters the pipeline keeps for it.
pub struct ContentStage<S: Signal> {
    /// The processor ID, for logs.
    pub name: Arc<str>,
    pub processor: Box<dyn Processor<S>>,
    pub items: ProcessorItemMetrics,
    /// Items the processor dropped (filtered out, or a failed batch).
    pub dropped: Counter,
}

impl<S: Signal> ContentStage<S> {
    /// Runs the processor; false when the batch was dropped whole.
    fn run(&mut self, pipeline: &str, batch: &mut Batch<S>) -> bool {
        let before = batch.items() as u64;
        self.items.incoming.inc_by(before);
        match self.processor.process(batch) {
            Ok(()) => {
                let after = batch.items() as u64;
                self.items.outgoing.inc_by(after);
                self.dropped.inc_by(before.saturating_sub(after));
                true
            }
            Err(e) => {
                self.dropped.inc_by(before);
                tracing::error!(pipeline, processor = %self.name, dropped_items = before, error = %e,
                    "Processor failed on a batch; dropping it.");
                false
            }
        }
    }
}

/// Everything a pipeline is made of, before it starts.
pub struct PipelineParts<S: Signal> {
    pub name: Arc<str>,
    /// Admission stages (run on the receivers' tasks, before answering).
    pub admission: Vec<Arc<dyn Admission>>,
    /// Content processors before the batcher (all of them when there is none).
    pub before_batch: Vec<ContentStage<S>>,
    pub batcher: Option<Batcher>,
    pub after_batch: Vec<ContentStage<S>>,
    pub exporters: Vec<Arc<dyn ExportQueue<S>>>,
    pub channel_capacity: usize,
    /// Write-ahead log when an exporter of the pipeline has a persistent queue.
    pub wal: Option<Arc<super::wal::Wal>>,
}

/// Starts the pipeline task. Returns the input (for receivers) and the handle.
pub fn start<S: Signal>(parts: PipelineParts<S>) -> (Arc<PipelineInput<S>>, PipelineHandle) {
    if parts.batcher.is_none() && parts.before_batch.is_empty() && parts.after_batch.is_empty() {
        // Nothing to do between admission and the exporters' queues: no task.
        let route = super::Route::Direct(parts.exporters);
        let input = Arc::new(PipelineInput {
            name: parts.name.clone(),
            admission: parts.admission,
            route,
            wal: parts.wal,
            admission_wait: super::ADMISSION_WAIT,
        });
        return (
            input,
            PipelineHandle {
                name: parts.name,
                control: None,
                task: None,
            },
        );
    }
    let (tx, rx) = mpsc::channel(parts.channel_capacity.max(1));
    // The batcher itself always waits for queue room (its data was acknowledged);
    // whether senders wait for it is the exporters' `block_on_overflow`.
    let admission_wait = if parts.exporters.iter().any(|e| e.blocks_on_overflow()) {
        super::BLOCK_ON_OVERFLOW_WAIT
    } else {
        super::ADMISSION_WAIT
    };
    let (ctl_tx, ctl_rx) = mpsc::channel(4);
    let input = Arc::new(PipelineInput {
        name: parts.name.clone(),
        admission: parts.admission,
        route: super::Route::Task(tx),
        wal: parts.wal,
        admission_wait,
    });
    let task = PipelineTask {
        name: parts.name.clone(),
        rx,
        control: ctl_rx,
        before_batch: parts.before_batch,
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
            control: Some(ctl_tx),
            task: Some(handle),
        },
    )
}

struct PipelineTask<S: Signal> {
    name: Arc<str>,
    rx: mpsc::Receiver<Batch<S>>,
    control: mpsc::Receiver<Control>,
    before_batch: Vec<ContentStage<S>>,
    batcher: Option<Batcher>,
    after_batch: Vec<ContentStage<S>>,
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

    async fn add(&mut self, mut batch: Batch<S>) {
        for stage in &mut self.before_batch {
            if !stage.run(&self.name, &mut batch) {
                // Dropped whole (counted and logged); its records are done.
                return;
            }
        }
        if batch.is_empty() {
            return;
        }
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
        for stage in &mut self.after_batch {
            if !stage.run(&self.name, &mut batch) {
                return;
            }
        }
        if batch.is_empty() {
            return;
        }
        let copies = batch.copies(self.exporters.len());
        for (exp, own) in self.exporters.iter().zip(copies) {
            if let Err(mut b) = exp.enqueue(own).await {
                // Only during shutdown. Persisted records stay for replay.
                let n = b.items() as u64;
                exp.count_enqueue_failed(n);
                b.abandon_acks();
                tracing::error!(pipeline = %self.name, exporter = exp.id(), dropped_items = n,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::Traces;
    use crate::pipeline::stage::{BoxFuture, DrainOutcome};
    use crate::pipeline::{ConsumeError, Consumer};
    use crate::telemetry::metrics::Registry;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;
    use std::sync::Mutex;

    /// Records batch sizes; optionally blocks (a stuck backend) until released.
    struct Recorder {
        sizes: Mutex<Vec<usize>>,
        gate: tokio::sync::Semaphore,
        blocking: bool,
    }

    impl Recorder {
        fn new(blocking: bool) -> Self {
            Recorder {
                sizes: Mutex::new(Vec::new()),
                gate: tokio::sync::Semaphore::new(0),
                blocking,
            }
        }
    }

    impl ExportQueue<Traces> for Recorder {
        fn id(&self) -> &str {
            "recorder"
        }
        fn enqueue(&self, batch: Batch<Traces>) -> BoxFuture<'_, Result<(), Batch<Traces>>> {
            Box::pin(async move {
                if self.blocking {
                    let _ = self.gate.acquire().await;
                }
                self.sizes.lock().unwrap().push(batch.items());
                Ok(())
            })
        }
        fn reserve(
            &self,
            _: Duration,
        ) -> BoxFuture<
            '_,
            Result<crate::pipeline::stage::Slot<Traces>, crate::pipeline::stage::ReserveError>,
        > {
            // Only the batching route (through the task) is tested here.
            Box::pin(async { Err(crate::pipeline::stage::ReserveError::Closed) })
        }
        fn count_enqueue_failed(&self, _: u64) {}
        fn drain(&self, _: std::time::Instant) -> BoxFuture<'_, DrainOutcome> {
            Box::pin(async { DrainOutcome::default() })
        }
        fn shutdown(&self, _: std::time::Instant) -> BoxFuture<'_, DrainOutcome> {
            Box::pin(async { DrainOutcome::default() })
        }
    }

    fn spans(n: usize) -> Batch<Traces> {
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span::default(); n],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        Batch::from_encoded(bytes::Bytes::from(req.encode_to_vec())).unwrap()
    }

    fn pipeline(
        rec: Arc<Recorder>,
        batch: Option<BatchSettings>,
        capacity: usize,
    ) -> (Consumer<Traces>, PipelineHandle, Registry) {
        let reg = Registry::default();
        let batcher = batch.map(|settings| Batcher {
            settings,
            metrics: BatchMetrics::new(&reg, "batch"),
            items: ProcessorItemMetrics::new(&reg, "batch", crate::otlp::SignalKind::Traces),
        });
        let (input, handle) = start(PipelineParts {
            name: "traces".into(),
            admission: Vec::new(),
            before_batch: Vec::new(),
            batcher,
            after_batch: Vec::new(),
            exporters: vec![rec as Arc<dyn ExportQueue<Traces>>],
            channel_capacity: capacity,
            wal: None,
        });
        (Consumer::new(vec![input]), handle, reg)
    }

    #[tokio::test(start_paused = true)]
    async fn batches_by_size_then_timeout_and_splits_by_max() {
        let rec = Arc::new(Recorder::new(false));
        let settings = BatchSettings {
            send_batch_size: 10,
            send_batch_max_size: 12,
            timeout: Duration::from_millis(200),
        };
        let (consumer, handle, reg) = pipeline(rec.clone(), Some(settings), 8);
        for n in [4, 4, 7] {
            consumer.consume(spans(n)).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        // 15 pending trips the size trigger; encoded data splits at request boundaries
        // (4+4 | 7), never above the max of 12 and without decoding.
        assert_eq!(*rec.sizes.lock().unwrap(), vec![8], "size trigger");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            *rec.sizes.lock().unwrap(),
            vec![8, 7],
            "timeout sends the rest"
        );
        consumer.consume(spans(2)).await.unwrap();
        handle.flush().await;
        assert_eq!(
            *rec.sizes.lock().unwrap(),
            vec![8, 7, 2],
            "flush sends what is pending"
        );
        let text = reg.encode();
        assert!(
            text.contains("otelcol_processor_batch_batch_size_trigger_send{processor=\"batch\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("otelcol_processor_batch_timeout_trigger_send{processor=\"batch\"} 1")
        );
        assert!(text.contains(
            "otelcol_processor_outgoing_items{processor=\"batch\",otel_signal=\"traces\"} 17"
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn full_pipeline_refuses_instead_of_dropping_and_shutdown_delivers_the_backlog() {
        let rec = Arc::new(Recorder::new(true));
        let no_wait = BatchSettings {
            send_batch_size: 1,
            send_batch_max_size: 0,
            timeout: Duration::from_millis(200),
        };
        let (consumer, handle, _reg) = pipeline(rec.clone(), Some(no_wait), 2);
        // One batch is stuck at the exporter, two fill the channel, the next is refused.
        let mut accepted = 0;
        let mut refused = 0;
        for _ in 0..6 {
            match consumer.consume(spans(1)).await {
                Ok(()) => accepted += 1,
                Err(ConsumeError::Full { retry_after }) => {
                    assert!(retry_after >= Duration::from_secs(1));
                    refused += 1;
                }
                Err(e) => panic!("{e}"),
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(accepted, 3);
        assert_eq!(refused, 3);
        rec.gate.add_permits(100);
        handle
            .stop(std::time::Instant::now() + Duration::from_secs(5))
            .await;
        assert_eq!(
            rec.sizes.lock().unwrap().len(),
            accepted,
            "everything accepted reaches the exporter"
        );
        assert_eq!(
            consumer.consume(spans(1)).await,
            Err(ConsumeError::ShuttingDown)
        );
    }

    /// A queue that is already closed (what a pipeline meets during shutdown).
    #[derive(Default)]
    struct ClosedQueue {
        failed: std::sync::atomic::AtomicU64,
    }

    impl ExportQueue<Traces> for ClosedQueue {
        fn id(&self) -> &str {
            "closed"
        }
        fn enqueue(&self, batch: Batch<Traces>) -> BoxFuture<'_, Result<(), Batch<Traces>>> {
            Box::pin(async move { Err(batch) })
        }
        fn reserve(
            &self,
            _: Duration,
        ) -> BoxFuture<
            '_,
            Result<crate::pipeline::stage::Slot<Traces>, crate::pipeline::stage::ReserveError>,
        > {
            Box::pin(async { Err(crate::pipeline::stage::ReserveError::Closed) })
        }
        fn count_enqueue_failed(&self, items: u64) {
            self.failed
                .fetch_add(items, std::sync::atomic::Ordering::Relaxed);
        }
        fn drain(&self, _: std::time::Instant) -> BoxFuture<'_, DrainOutcome> {
            Box::pin(async { DrainOutcome::default() })
        }
        fn shutdown(&self, _: std::time::Instant) -> BoxFuture<'_, DrainOutcome> {
            Box::pin(async { DrainOutcome::default() })
        }
    }

    /// Records which persisted records were completed (forgotten by storage).
    #[derive(Default)]
    struct Completed(Mutex<Vec<u64>>);

    impl crate::pipeline::ack::AckTarget for Completed {
        fn complete(&self, seq: u64) {
            self.0.lock().unwrap().push(seq);
        }
    }

    #[tokio::test]
    async fn a_closed_exporter_queue_is_counted_and_its_records_kept_for_replay() {
        let queue = Arc::new(ClosedQueue::default());
        let (input, handle) = start(PipelineParts {
            name: "traces".into(),
            admission: Vec::new(),
            before_batch: Vec::new(),
            batcher: Some(Batcher {
                settings: BatchSettings {
                    send_batch_size: 1,
                    send_batch_max_size: 0,
                    timeout: Duration::from_millis(200),
                },
                metrics: BatchMetrics::new(&Registry::default(), "batch"),
                items: ProcessorItemMetrics::new(
                    &Registry::default(),
                    "batch",
                    crate::otlp::SignalKind::Traces,
                ),
            }),
            after_batch: Vec::new(),
            exporters: vec![queue.clone() as Arc<dyn ExportQueue<Traces>>],
            channel_capacity: 4,
            wal: None,
        });
        let completed = Arc::new(Completed::default());
        let mut b = spans(3);
        b.add_ack(crate::pipeline::ack::Ack::new(7, completed.clone()));
        input.push(b).await;
        handle
            .stop(std::time::Instant::now() + Duration::from_secs(5))
            .await;
        assert_eq!(
            queue.failed.load(std::sync::atomic::Ordering::Relaxed),
            3,
            "the items that could not be queued are counted"
        );
        assert!(
            completed.0.lock().unwrap().is_empty(),
            "the persisted record is kept for replay, not completed"
        );
    }

    /// Drops the last span of every batch; counts its calls in plain fields
    /// (no lock: the pipeline task gives it exclusive access).
    struct DropLastSpan {
        calls: usize,
        fail_on_call: Option<usize>,
    }

    impl Processor<Traces> for DropLastSpan {
        fn process(
            &mut self,
            batch: &mut Batch<Traces>,
        ) -> Result<(), crate::pipeline::ProcessError> {
            self.calls += 1;
            if self.fail_on_call == Some(self.calls) {
                return Err(crate::pipeline::ProcessError::Permanent("boom".into()));
            }
            let ((), edit) = batch.edit(|req| {
                if let Some(scope) = req
                    .resource_spans
                    .last_mut()
                    .and_then(|r| r.scope_spans.last_mut())
                {
                    scope.spans.pop();
                }
            });
            assert_eq!(edit.dropped(), 1);
            Ok(())
        }
    }

    fn content_stage(reg: &Registry, fail_on_call: Option<usize>) -> ContentStage<Traces> {
        ContentStage {
            name: "drop_last".into(),
            processor: Box::new(DropLastSpan {
                calls: 0,
                fail_on_call,
            }),
            items: ProcessorItemMetrics::new(reg, "drop_last", crate::otlp::SignalKind::Traces),
            dropped: ProcessorItemMetrics::dropped(
                reg,
                "drop_last",
                crate::otlp::SignalKind::Traces,
            ),
        }
    }

    #[tokio::test]
    async fn content_processors_run_in_the_task_and_what_they_drop_is_counted() {
        let reg = Registry::default();
        let rec = Arc::new(Recorder::new(false));
        // No batcher: a content processor alone still gets the pipeline task.
        let (input, handle) = start(PipelineParts {
            name: "traces".into(),
            admission: Vec::new(),
            before_batch: vec![content_stage(&reg, Some(3))],
            batcher: None,
            after_batch: Vec::new(),
            exporters: vec![rec.clone() as Arc<dyn ExportQueue<Traces>>],
            channel_capacity: 4,
            wal: None,
        });
        assert!(
            matches!(input.route, crate::pipeline::Route::Task(_)),
            "content processors run on the pipeline task"
        );
        let consumer = Consumer::new(vec![input]);
        for n in [5, 3, 4, 2] {
            consumer.consume(spans(n)).await.unwrap();
        }
        handle
            .stop(std::time::Instant::now() + Duration::from_secs(5))
            .await;
        // Calls 1, 2 and 4 drop one span each; call 3 fails and drops its batch of 4.
        assert_eq!(*rec.sizes.lock().unwrap(), vec![4, 2, 1]);
        let text = reg.encode();
        for line in [
            "otelcol_processor_incoming_items{processor=\"drop_last\",otel_signal=\"traces\"} 14",
            "otelcol_processor_outgoing_items{processor=\"drop_last\",otel_signal=\"traces\"} 7",
            "otelcol_processor_dropped_spans{processor=\"drop_last\"} 7",
        ] {
            assert!(text.contains(line), "missing {line}\n{text}");
        }
    }
}
