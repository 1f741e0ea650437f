//! The contract between the service and the components. A factory parses its
//! component's YAML body purely into a typed config object; that object knows
//! what the service must wire around it (its queue's storage, its
//! authenticator, its processor role) and builds itself, once per signal, from
//! a [`BuildContext`]. Everything here sits below the components: a component
//! imports this module, never `service`, `registry` or another component.

pub mod auth;
pub mod context;
pub mod error;
pub mod parse;

use std::sync::Arc;

use serde_yaml_ng::Value;

pub use crate::config::id::{ComponentId, PipelineId};
pub use crate::config::issue::ConfigIssue;
pub use context::{AwsConfigs, BuildContext, Health, Keyed, TypedSlots};
pub use error::BuildError;
pub use parse::{parse_config, Validate};

use crate::otlp::{Logs, Metrics, Signal, SignalKind, Traces};
use crate::pipeline::batcher::BatchSettings;
use crate::pipeline::stage::{Admission, BoxFuture, ExportQueue, Processor};
use crate::pipeline::wal::{Recovered, Wal};
use crate::pipeline::Consumer;
use crate::telemetry::metrics::Counter;

/// What a receiver feeds, per signal (`None` when no pipeline of that signal uses it).
#[derive(Clone, Default)]
pub struct Consumers {
    pub traces: Option<Consumer<Traces>>,
    pub metrics: Option<Consumer<Metrics>>,
    pub logs: Option<Consumer<Logs>>,
}

/// A started receiver or extension.
pub trait Running: Send {
    /// Stops accepting work and waits (bounded) for what is in progress.
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()>;
}

// ---------------------------------------------------------------- receivers

pub trait ReceiverFactory: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn signals(&self) -> &'static [SignalKind];
    fn parse(&self, prefix: &str, raw: &Value)
        -> Result<Box<dyn ReceiverConfig>, Vec<ConfigIssue>>;
}

/// A parsed, valid receiver config.
pub trait ReceiverConfig: Send + Sync + 'static {
    /// Starts the receiver feeding `consumers`.
    fn start<'a>(
        &'a self,
        ctx: &'a BuildContext,
        id: &'a ComponentId,
        consumers: Consumers,
    ) -> BoxFuture<'a, Result<Box<dyn Running>, BuildError>>;
}

// --------------------------------------------------------------- processors

pub trait ProcessorFactory: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn signals(&self) -> &'static [SignalKind];
    fn parse(
        &self,
        prefix: &str,
        raw: &Value,
    ) -> Result<Box<dyn ProcessorConfig>, Vec<ConfigIssue>>;
}

/// Where a processor runs, known from its config alone (validation uses it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessorRole {
    /// Decides whether data is accepted at all (e.g. `memory_limiter`). Runs on
    /// the receiver's task before the sender is answered, so it may refuse; it
    /// must therefore come before `batch` in a pipeline.
    Admission,
    /// The batcher (runs in the pipeline task).
    Batch,
    /// Reads or edits content; runs in the pipeline task with exclusive access
    /// to the batch and never refuses (what it drops is counted).
    Content,
}

/// What a processor config builds for one pipeline.
pub enum ProcessorStage {
    Admission(Arc<dyn Admission>),
    Batch(BatchSettings),
    Content(SignalProcessor),
}

/// A content processor for one signal.
pub enum SignalProcessor {
    Traces(Box<dyn Processor<Traces>>),
    Metrics(Box<dyn Processor<Metrics>>),
    Logs(Box<dyn Processor<Logs>>),
}

/// A parsed, valid processor config. One object per component ID: state that
/// upstream shares across the pipelines using one ID (e.g. one memory limiter)
/// lives in it.
pub trait ProcessorConfig: Send + Sync + 'static {
    fn role(&self) -> ProcessorRole;
    /// Work done once per component ID before any pipeline is built, such as
    /// resource detection, which needs the network. The service calls it for
    /// every processor a pipeline uses, concurrently, before the first
    /// [`build`](Self::build); an error stops the start. Most processors have
    /// nothing to prepare.
    fn prepare<'a>(
        &'a self,
        _ctx: &'a BuildContext,
        _id: &'a ComponentId,
    ) -> BoxFuture<'a, Result<(), BuildError>> {
        Box::pin(async { Ok(()) })
    }
    /// Builds the processor for one pipeline of `signal`.
    fn build(
        &self,
        ctx: &BuildContext,
        id: &ComponentId,
        signal: SignalKind,
    ) -> Result<ProcessorStage, BuildError>;
}

// ---------------------------------------------------------------- exporters

pub trait ExporterFactory: Send + Sync {
    fn type_name(&self) -> &'static str;
    /// Other type names accepted for this exporter (upstream renames).
    fn aliases(&self) -> &'static [&'static str] {
        &[]
    }
    fn signals(&self) -> &'static [SignalKind];
    fn parse(&self, prefix: &str, raw: &Value)
        -> Result<Box<dyn ExporterConfig>, Vec<ConfigIssue>>;
}

/// A queue that persists to a storage extension (`sending_queue.storage`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistentQueue {
    /// The storage extension ID as written in the config.
    pub storage: String,
    /// The queue's capacity in requests.
    pub queue_size: usize,
}

/// An exporter's sending queue for one signal.
pub enum SignalExporter {
    Traces(Arc<dyn ExportQueue<Traces>>),
    Metrics(Arc<dyn ExportQueue<Metrics>>),
    Logs(Arc<dyn ExportQueue<Logs>>),
}

impl SignalExporter {
    /// Builds an exporter that is built the same way for every signal.
    pub fn of<E: AnySignalExporter>(
        exporter: &E,
        ctx: &BuildContext,
        id: &ComponentId,
        signal: SignalKind,
    ) -> Result<SignalExporter, BuildError> {
        Ok(match signal {
            SignalKind::Traces => SignalExporter::Traces(exporter.start::<Traces>(ctx, id)?),
            SignalKind::Metrics => SignalExporter::Metrics(exporter.start::<Metrics>(ctx, id)?),
            SignalKind::Logs => SignalExporter::Logs(exporter.start::<Logs>(ctx, id)?),
        })
    }
}

/// An exporter config whose queue is built by one generic function for every
/// signal (OTLP, debug); its `ExporterConfig::build` is then
/// `SignalExporter::of(self, ctx, id, signal)`.
pub trait AnySignalExporter {
    fn start<S: Signal>(
        &self,
        ctx: &BuildContext,
        id: &ComponentId,
    ) -> Result<Arc<dyn ExportQueue<S>>, BuildError>;
}

/// A parsed, valid exporter config.
pub trait ExporterConfig: Send + Sync + 'static {
    /// The persistent storage of its sending queue, if any.
    fn persistent_queue(&self) -> Option<PersistentQueue> {
        None
    }
    /// The `auth.authenticator` extension ID, if any.
    fn authenticator(&self) -> Option<&str> {
        None
    }
    /// Builds (and starts) the exporter's queue for `signal`; called once per
    /// signal the exporter is used for.
    fn build<'a>(
        &'a self,
        ctx: &'a BuildContext,
        id: &'a ComponentId,
        signal: SignalKind,
    ) -> BoxFuture<'a, Result<SignalExporter, BuildError>>;
}

// --------------------------------------------------------------- extensions

pub trait ExtensionFactory: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn parse(
        &self,
        prefix: &str,
        raw: &Value,
    ) -> Result<Box<dyn ExtensionConfig>, Vec<ConfigIssue>>;
}

/// A persistent queue opened in a storage extension, and what it recovered.
pub type OpenedQueue = (Arc<Wal>, Vec<Recovered>);

/// A storage extension (`file_storage`): opens the write-ahead log of a pipeline.
pub trait Storage: Send + Sync {
    /// Opens (creating if needed) the queue `name` holding at most `capacity`
    /// records; records skipped during recovery are counted in `corrupted`.
    fn open(&self, name: &str, capacity: usize, corrupted: Counter) -> Result<OpenedQueue, String>;
}

/// A parsed, valid extension config.
pub trait ExtensionConfig: Send + Sync + 'static {
    fn start<'a>(
        &'a self,
        ctx: &'a BuildContext,
        id: &'a ComponentId,
    ) -> BoxFuture<'a, Result<Box<dyn Running>, BuildError>>;
    /// The storage this extension provides, if it is a storage extension.
    fn storage(&self) -> Option<&dyn Storage> {
        None
    }
}

// ------------------------------------------------------------------ catalog

/// Component types by kind: what config validation looks types up in (the
/// registry implements it).
pub trait Catalog {
    fn receiver(&self, ty: &str) -> Option<&'static dyn ReceiverFactory>;
    fn processor(&self, ty: &str) -> Option<&'static dyn ProcessorFactory>;
    fn exporter(&self, ty: &str) -> Option<&'static dyn ExporterFactory>;
    fn extension(&self, ty: &str) -> Option<&'static dyn ExtensionFactory>;
    /// Sorted type names of a kind (`receivers`, `processors`, …), for errors.
    fn names(&self, kind: &str) -> Vec<&'static str>;
}

// -------------------------------------------------------------- per signal

/// Picks a signal's variant out of the per-signal enums (implemented for the
/// three signals), so the service's wiring is one generic function.
pub trait SignalStages: Signal {
    fn exporter(e: SignalExporter) -> Option<Arc<dyn ExportQueue<Self>>>;
    fn processor(p: SignalProcessor) -> Option<Box<dyn Processor<Self>>>;
}

macro_rules! signal_stages {
    ($ty:ident) => {
        impl SignalStages for $ty {
            fn exporter(e: SignalExporter) -> Option<Arc<dyn ExportQueue<Self>>> {
                match e {
                    SignalExporter::$ty(q) => Some(q),
                    _ => None,
                }
            }
            fn processor(p: SignalProcessor) -> Option<Box<dyn Processor<Self>>> {
                match p {
                    SignalProcessor::$ty(q) => Some(q),
                    _ => None,
                }
            }
        }
    };
}
signal_stages!(Traces);
signal_stages!(Metrics);
signal_stages!(Logs);
