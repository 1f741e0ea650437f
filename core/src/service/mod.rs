//! Builds and runs a topology from a validated config: extensions, exporters,
//! pipelines, then receivers; stops them in reverse order with a deadline-bound
//! drain so that everything accepted is delivered when the backend is up.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crate::component::{BuildContext, Health};
use crate::component::{BuildError, ComponentId, Consumers, ProcessorStage, Running, SignalStages};
use crate::config::{PipelineConfig, ValidatedConfig};
use crate::otlp::{Logs, Metrics, Signal, Traces};
use crate::pipeline::batcher::{self, Batcher, ContentStage, PipelineParts};
use crate::pipeline::stage::ExportQueue;
use crate::pipeline::wal::{Recovered, Wal};
use crate::pipeline::{Batch, Consumer, PipelineHandle, PipelineInput};
use crate::telemetry::metrics::{BatchMetrics, ProcessorItemMetrics};

/// Capacity of a pipeline's input channel, in requests. Small on purpose: it is
/// the point where a slow backend turns into refusals at the receivers.
const PIPELINE_CHANNEL: usize = 16;

/// Per-signal exporters and pipelines.
struct SignalParts<S: Signal> {
    exporters: BTreeMap<ComponentId, Arc<dyn ExportQueue<S>>>,
    inputs: Vec<(PipelineConfig, Arc<PipelineInput<S>>)>,
}

impl<S: Signal> Default for SignalParts<S> {
    fn default() -> Self {
        SignalParts {
            exporters: BTreeMap::new(),
            inputs: Vec::new(),
        }
    }
}

/// A running collector.
pub struct Service {
    ctx: BuildContext,
    extensions: Vec<Box<dyn Running>>,
    receivers: Vec<Box<dyn Running>>,
    pipelines: Vec<PipelineHandle>,
    traces: Vec<Arc<dyn ExportQueue<Traces>>>,
    metrics: Vec<Arc<dyn ExportQueue<Metrics>>>,
    logs: Vec<Arc<dyn ExportQueue<Logs>>>,
    wals: Vec<Arc<Wal>>,
}

/// Outcome of a drain.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DrainReport {
    pub unsent_items: u64,
}

impl Service {
    /// Starts everything: extensions, exporters, pipelines, receivers (in that
    /// order, so nothing is accepted before it can flow), then reports ready.
    pub async fn start(cfg: &ValidatedConfig, ctx: BuildContext) -> Result<Service, BuildError> {
        let mut svc = Service {
            ctx: ctx.clone(),
            extensions: Vec::new(),
            receivers: Vec::new(),
            pipelines: Vec::new(),
            traces: Vec::new(),
            metrics: Vec::new(),
            logs: Vec::new(),
            wals: Vec::new(),
        };
        for id in &cfg.service_extensions {
            if let Some(ext) = cfg.extensions.get(id) {
                match ext.config.start(&ctx, id).await {
                    Ok(r) => svc.extensions.push(r),
                    Err(e) => {
                        svc.shutdown(Duration::from_secs(1)).await;
                        return Err(e);
                    }
                }
            }
        }
        let result = svc.start_pipelines(cfg).await;
        if let Err(e) = result {
            svc.shutdown(Duration::from_secs(2)).await;
            return Err(e);
        }
        ctx.health.set_ready(true);
        Ok(svc)
    }

    async fn start_pipelines(&mut self, cfg: &ValidatedConfig) -> Result<(), BuildError> {
        self.prepare_processors(cfg).await?;
        let traces = self.build_signal::<Traces>(cfg).await?;
        let metrics = self.build_signal::<Metrics>(cfg).await?;
        let logs = self.build_signal::<Logs>(cfg).await?;
        self.traces = traces.exporters.values().cloned().collect();
        self.metrics = metrics.exporters.values().cloned().collect();
        self.logs = logs.exporters.values().cloned().collect();
        for (id, r) in &cfg.receivers {
            let consumers = Consumers {
                traces: consumer_for(id, &traces.inputs),
                metrics: consumer_for(id, &metrics.inputs),
                logs: consumer_for(id, &logs.inputs),
            };
            if consumers.traces.is_none() && consumers.metrics.is_none() && consumers.logs.is_none()
            {
                tracing::warn!(receiver = %id, "Receiver is not used by any pipeline; not starting it.");
                continue;
            }
            let running = r.config.start(&self.ctx, id, consumers).await?;
            self.receivers.push(running);
        }
        Ok(())
    }

    /// Runs every used processor's one-time preparation (e.g. resource
    /// detection), concurrently, once per component ID.
    async fn prepare_processors(&self, cfg: &ValidatedConfig) -> Result<(), BuildError> {
        let used: std::collections::BTreeSet<&ComponentId> = cfg
            .pipelines
            .iter()
            .flat_map(|p| p.processors.iter())
            .collect();
        let ctx = &self.ctx;
        let prepares = used.into_iter().filter_map(|id| {
            cfg.processors
                .get(id)
                .map(|comp| comp.config.prepare(ctx, id))
        });
        for r in futures_util::future::join_all(prepares).await {
            r?;
        }
        Ok(())
    }

    /// Builds the exporters and pipelines of one signal.
    async fn build_signal<S: SignalStages>(
        &mut self,
        cfg: &ValidatedConfig,
    ) -> Result<SignalParts<S>, BuildError> {
        let mut parts = SignalParts::<S>::default();
        for p in cfg.pipelines.iter().filter(|p| p.id.signal == S::KIND) {
            for e in &p.exporters {
                if !parts.exporters.contains_key(e) {
                    let comp = cfg
                        .exporters
                        .get(e)
                        .ok_or_else(|| BuildError::new(e, "not configured"))?;
                    let built = comp.config.build(&self.ctx, e, S::KIND).await?;
                    let exp = S::exporter(built).ok_or_else(|| {
                        BuildError::new(e, format!("does not export {}", S::KIND))
                    })?;
                    parts.exporters.insert(e.clone(), exp);
                }
            }
            let mut pieces = PipelineParts::<S> {
                name: p.id.to_string().into(),
                admission: Vec::new(),
                before_batch: Vec::new(),
                batcher: None,
                after_batch: Vec::new(),
                exporters: p
                    .exporters
                    .iter()
                    .filter_map(|e| parts.exporters.get(e).cloned())
                    .collect(),
                channel_capacity: PIPELINE_CHANNEL,
                wal: None,
            };
            for pid in &p.processors {
                let comp = cfg
                    .processors
                    .get(pid)
                    .ok_or_else(|| BuildError::new(pid, "not configured"))?;
                let name = pid.to_string();
                match comp.config.build(&self.ctx, pid, S::KIND)? {
                    ProcessorStage::Admission(a) => pieces.admission.push(a),
                    ProcessorStage::Batch(settings) => {
                        pieces.batcher = Some(Batcher {
                            settings,
                            metrics: BatchMetrics::new(&self.ctx.telemetry, &name),
                            items: ProcessorItemMetrics::new(&self.ctx.telemetry, &name, S::KIND),
                        });
                    }
                    ProcessorStage::Content(proc) => {
                        let processor = S::processor(proc).ok_or_else(|| {
                            BuildError::new(pid, format!("does not process {}", S::KIND))
                        })?;
                        let stage = ContentStage {
                            processor,
                            items: ProcessorItemMetrics::new(&self.ctx.telemetry, &name, S::KIND),
                            dropped: ProcessorItemMetrics::dropped(
                                &self.ctx.telemetry,
                                &name,
                                S::KIND,
                            ),
                            name: name.into(),
                        };
                        if pieces.batcher.is_some() {
                            pieces.after_batch.push(stage);
                        } else {
                            pieces.before_batch.push(stage);
                        }
                    }
                }
            }
            let recovered = match open_wal(cfg, p, &self.ctx)? {
                Some((w, r)) => {
                    pieces.wal = Some(w);
                    r
                }
                None => Vec::new(),
            };
            let (input, handle) = batcher::start(pieces);
            if let Some(w) = input.wal() {
                self.wals.push(w.clone());
            }
            if !recovered.is_empty() {
                tokio::spawn(replay(input.clone(), recovered, p.id.to_string()));
            }
            self.pipelines.push(handle);
            parts.inputs.push((p.clone(), input));
        }
        Ok(parts)
    }

    /// Pushes everything held in batchers into the exporter queues and waits until
    /// the queues are empty and nothing is in flight, or until `deadline`.
    pub async fn flush(&self, deadline: Instant) -> DrainReport {
        for p in &self.pipelines {
            let left = deadline.saturating_duration_since(Instant::now());
            let _ = tokio::time::timeout(left, p.flush()).await;
        }
        let mut report = DrainReport::default();
        for e in &self.traces {
            report.unsent_items += e.drain(deadline).await.unsent_items;
        }
        for e in &self.metrics {
            report.unsent_items += e.drain(deadline).await.unsent_items;
        }
        for e in &self.logs {
            report.unsent_items += e.drain(deadline).await.unsent_items;
        }
        report
    }

    /// Staged shutdown within `timeout`: not ready → receivers stop accepting →
    /// pipelines push out what they hold → exporter queues drain → extensions stop.
    pub async fn shutdown(mut self, timeout: Duration) -> DrainReport {
        let deadline = Instant::now() + timeout;
        self.ctx.health.set_ready(false);
        let receivers = std::mem::take(&mut self.receivers);
        futures_join_all(receivers.into_iter().map(|r| r.shutdown())).await;
        for p in std::mem::take(&mut self.pipelines) {
            p.stop(deadline).await;
        }
        let mut report = DrainReport::default();
        for e in std::mem::take(&mut self.traces) {
            report.unsent_items += e.shutdown(deadline).await.unsent_items;
        }
        for e in std::mem::take(&mut self.metrics) {
            report.unsent_items += e.shutdown(deadline).await.unsent_items;
        }
        for e in std::mem::take(&mut self.logs) {
            report.unsent_items += e.shutdown(deadline).await.unsent_items;
        }
        for w in &self.wals {
            w.seal();
        }
        futures_join_all(
            std::mem::take(&mut self.extensions)
                .into_iter()
                .map(|r| r.shutdown()),
        )
        .await;
        report
    }
}

/// A pipeline's log and what it recovered.
type OpenedWal = crate::component::OpenedQueue;

/// Opens the write-ahead log of a pipeline whose exporters use persistent storage.
fn open_wal(
    cfg: &ValidatedConfig,
    p: &PipelineConfig,
    ctx: &BuildContext,
) -> Result<Option<OpenedWal>, BuildError> {
    let mut storage: Option<(ComponentId, usize)> = None;
    for e in &p.exporters {
        let Some(q) = cfg
            .exporters
            .get(e)
            .and_then(|c| c.config.persistent_queue())
        else {
            continue;
        };
        let Ok(sid) = ComponentId::parse(&q.storage) else {
            continue;
        };
        storage = Some(match storage {
            Some((first, cap)) => {
                if first != sid {
                    tracing::warn!(pipeline = %p.id, storage = %first, ignored = %sid, "One pipeline persists to one storage; using the first.");
                }
                (first, cap.min(q.queue_size))
            }
            None => (sid, q.queue_size),
        });
    }
    let Some((sid, capacity)) = storage else {
        return Ok(None);
    };
    let store = cfg
        .extensions
        .get(&sid)
        .and_then(|ext| ext.config.storage())
        .ok_or_else(|| BuildError::new(&sid, "storage extension is not configured"))?;
    let name: String =
        p.id.to_string()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
    let corrupted = crate::telemetry::metrics::persistent_queue_corrupted(
        &ctx.telemetry,
        &sid.to_string(),
        &p.id.to_string(),
    );
    let opened = store
        .open(&name, capacity.max(1), corrupted)
        .map_err(|e| BuildError::new(&sid, e))?;
    Ok(Some(opened))
}

/// Feeds recovered records back into their pipeline (in the background, so that
/// a backend that is still down does not hold up start-up).
async fn replay<S: Signal>(
    input: Arc<PipelineInput<S>>,
    records: Vec<Recovered>,
    pipeline: String,
) {
    let Some(wal) = input.wal().cloned() else {
        return;
    };
    let total = records.len();
    let mut items = 0;
    for r in records {
        let ack = wal.recovered_ack(r.seq);
        match Batch::<S>::from_encoded(r.payload) {
            Ok(mut b) => {
                items += b.items();
                b.add_ack(ack);
                input.push(b).await;
            }
            Err(e) => {
                // Not valid OTLP (cannot happen for what Tern wrote): drop it for good.
                tracing::warn!(pipeline = %pipeline, seq = r.seq, error = %e, "Dropping an unreadable record from the persistent queue.");
                drop(ack);
            }
        }
    }
    tracing::info!(pipeline = %pipeline, records = total, items, "Replayed the persistent queue.");
}

fn consumer_for<S: Signal>(
    id: &ComponentId,
    inputs: &[(PipelineConfig, Arc<PipelineInput<S>>)],
) -> Option<Consumer<S>> {
    let feeds: Vec<Arc<PipelineInput<S>>> = inputs
        .iter()
        .filter(|(p, _)| p.receivers.contains(id))
        .map(|(_, i)| i.clone())
        .collect();
    if feeds.is_empty() {
        None
    } else {
        Some(Consumer::new(feeds))
    }
}

/// Runs futures concurrently and waits for all (no extra dependency).
async fn futures_join_all<F: std::future::Future<Output = ()> + Send + 'static>(
    futs: impl Iterator<Item = F>,
) {
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    for h in handles {
        let _ = h.await;
    }
}

#[cfg(test)]
#[path = "flush_tests.rs"]
mod flush_tests;
