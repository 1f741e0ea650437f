//! Builds and runs a topology from a validated config: extensions, exporters,
//! pipelines, then receivers; stops them in reverse order with a deadline-bound
//! drain so that everything accepted is delivered when the backend is up.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::config::{ComponentId, PipelineConfig, ValidatedConfig};
use crate::extension::file_storage::FileStorageConfig;
use crate::otlp::{Logs, Metrics, Signal, Traces};
use crate::pipeline::batcher::{self, Batcher, PipelineParts};
use crate::pipeline::stage::ExportQueue;
use crate::pipeline::wal::{Recovered, Wal, WalSettings};
use crate::pipeline::{Batch, Consumer, PipelineHandle, PipelineInput, Processor};
use crate::registry::{BuildError, Consumers, ProcessorStage, Running};
use crate::telemetry::metrics::{BatchMetrics, ProcessorItemMetrics, Registry};

/// Capacity of a pipeline's input channel, in requests. Small on purpose: it is
/// the point where a slow backend turns into refusals at the receivers.
const PIPELINE_CHANNEL: usize = 16;

/// Readiness, shared with the health check.
#[derive(Debug)]
pub struct Health {
    ready: AtomicBool,
    up_since: Mutex<SystemTime>,
    started: Mutex<Instant>,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            ready: AtomicBool::new(false),
            up_since: Mutex::new(SystemTime::now()),
            started: Mutex::new(Instant::now()),
        }
    }
}

impl Health {
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
    pub fn set_ready(&self, ready: bool) {
        if ready {
            if let Ok(mut t) = self.up_since.lock() {
                *t = SystemTime::now();
            }
            if let Ok(mut t) = self.started.lock() {
                *t = Instant::now();
            }
        }
        self.ready.store(ready, Ordering::Release);
    }
    pub fn up_since(&self) -> SystemTime {
        self.up_since
            .lock()
            .map(|t| *t)
            .unwrap_or_else(|_| SystemTime::now())
    }
    pub fn uptime(&self) -> Duration {
        self.started.lock().map(|t| t.elapsed()).unwrap_or_default()
    }
}

/// What components get when they are built.
#[derive(Clone, Default)]
pub struct BuildContext {
    pub telemetry: Registry,
    pub health: Arc<Health>,
    /// State shared by all instances of one component ID (e.g. one memory limiter
    /// across pipelines, as upstream).
    shared: Arc<Mutex<BTreeMap<String, Arc<dyn std::any::Any + Send + Sync>>>>,
}

impl BuildContext {
    /// Returns the state stored under `key`, creating it with `make` the first time.
    pub fn shared<T: Send + Sync + 'static>(
        &self,
        key: &str,
        make: impl FnOnce() -> Result<Arc<T>, BuildError>,
    ) -> Result<Arc<T>, BuildError> {
        let mut map = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = map.get(key).and_then(|v| v.clone().downcast::<T>().ok()) {
            return Ok(existing);
        }
        let made = make()?;
        map.insert(key.to_string(), made.clone());
        Ok(made)
    }
}

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
                match ext.factory.start(&ctx, id, &ext.config).await {
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
        let traces = self.build_signal::<Traces>(
            cfg,
            |f, c, id, p| f.build_traces(c, id, p),
            |f, c, id, p| f.build_traces(c, id, p),
        )?;
        let metrics = self.build_signal::<Metrics>(
            cfg,
            |f, c, id, p| f.build_metrics(c, id, p),
            |f, c, id, p| f.build_metrics(c, id, p),
        )?;
        let logs = self.build_signal::<Logs>(
            cfg,
            |f, c, id, p| f.build_logs(c, id, p),
            |f, c, id, p| f.build_logs(c, id, p),
        )?;
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
            let running = r.factory.start(&self.ctx, id, &r.config, consumers).await?;
            self.receivers.push(running);
        }
        Ok(())
    }

    #[allow(clippy::type_complexity)]
    fn build_signal<S: Signal>(
        &mut self,
        cfg: &ValidatedConfig,
        build_exporter: impl Fn(
            &dyn crate::registry::ExporterFactory,
            &BuildContext,
            &ComponentId,
            &crate::registry::ParsedConfig,
        ) -> Result<Arc<dyn ExportQueue<S>>, BuildError>,
        build_processor: impl Fn(
            &dyn crate::registry::ProcessorFactory,
            &BuildContext,
            &ComponentId,
            &crate::registry::ParsedConfig,
        ) -> Result<ProcessorStage<S>, BuildError>,
    ) -> Result<SignalParts<S>, BuildError> {
        let mut parts = SignalParts::<S>::default();
        for p in cfg.pipelines.iter().filter(|p| p.id.signal == S::KIND) {
            for e in &p.exporters {
                if !parts.exporters.contains_key(e) {
                    let comp = cfg
                        .exporters
                        .get(e)
                        .ok_or_else(|| BuildError::new(e, "not configured"))?;
                    let exp = build_exporter(comp.factory, &self.ctx, e, &comp.config)?;
                    parts.exporters.insert(e.clone(), exp);
                }
            }
            let mut ingest: Vec<Box<dyn Processor<S>>> = Vec::new();
            let mut after: Vec<Box<dyn Processor<S>>> = Vec::new();
            let mut batcher = None;
            for pid in &p.processors {
                let comp = cfg
                    .processors
                    .get(pid)
                    .ok_or_else(|| BuildError::new(pid, "not configured"))?;
                match build_processor(comp.factory, &self.ctx, pid, &comp.config)? {
                    ProcessorStage::Batch(settings) => {
                        let name = pid.to_string();
                        batcher = Some(Batcher {
                            settings,
                            metrics: BatchMetrics::new(&self.ctx.telemetry, &name),
                            items: ProcessorItemMetrics::new(&self.ctx.telemetry, &name, S::KIND),
                        });
                    }
                    ProcessorStage::Sync(proc) => {
                        if batcher.is_some() {
                            after.push(proc);
                        } else {
                            ingest.push(proc);
                        }
                    }
                }
            }
            let exporters = p
                .exporters
                .iter()
                .filter_map(|e| parts.exporters.get(e).cloned())
                .collect();
            let (wal, recovered) = match open_wal(cfg, p, &self.ctx)? {
                Some((w, r)) => (Some(w), r),
                None => (None, Vec::new()),
            };
            let (input, handle) = batcher::start(PipelineParts {
                name: p.id.to_string().into(),
                ingest,
                batcher,
                after_batch: after,
                exporters,
                channel_capacity: PIPELINE_CHANNEL,
                wal,
            });
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
type OpenedWal = (Arc<Wal>, Vec<Recovered>);

/// Opens the write-ahead log of a pipeline whose exporters use persistent storage.
fn open_wal(
    cfg: &ValidatedConfig,
    p: &PipelineConfig,
    ctx: &BuildContext,
) -> Result<Option<OpenedWal>, BuildError> {
    let mut storage: Option<(ComponentId, usize)> = None;
    for e in &p.exporters {
        let Some(comp) = cfg.exporters.get(e) else {
            continue;
        };
        let Some(q) = comp.factory.queue(&comp.config) else {
            continue;
        };
        let Some(sid) = q
            .storage
            .as_deref()
            .and_then(|s| ComponentId::parse(s).ok())
        else {
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
    let ext = cfg
        .extensions
        .get(&sid)
        .ok_or_else(|| BuildError::new(&sid, "storage extension is not configured"))?;
    let fs: &FileStorageConfig = crate::registry::config_ref(&sid, &ext.config)?;
    crate::extension::file_storage::check_directory(fs).map_err(|e| BuildError::new(&sid, e))?;
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
    let settings = WalSettings {
        dir: std::path::Path::new(&fs.directory).join(name),
        fsync: fs.fsync,
        capacity: capacity.max(1),
        segment_bytes: fs.segment_size,
    };
    let corrupted = ctx.telemetry.counter(
        "tern_persistent_queue_corrupted_records",
        "Records skipped when recovering a persistent queue (torn or damaged by a crash).",
        &[
            ("storage", &sid.to_string()),
            ("pipeline", &p.id.to_string()),
        ],
    );
    let (wal, recovered) = Wal::open(settings, corrupted)
        .map_err(|e| BuildError::new(&sid, format!("cannot open the persistent queue: {e}")))?;
    Ok(Some((wal, recovered)))
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
