//! The component registry: one table from component type name to factory. Every
//! factory parses and validates its own config purely, then builds from it.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_yaml_ng::Value;

use crate::config::ComponentId;
use crate::otlp::{Logs, Metrics, SignalKind, Traces};
use crate::pipeline::batcher::BatchSettings;
use crate::pipeline::stage::{BoxFuture, ExportQueue};
use crate::pipeline::{Consumer, Processor};
use crate::service::BuildContext;

/// A parsed, validated component config (the factory's own type, boxed).
pub type ParsedConfig = Box<dyn Any + Send + Sync>;

/// One validation problem, with the path of the offending key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    pub path: String,
    pub message: String,
}

impl ConfigIssue {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigIssue {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Failure to build or start a component from a valid config (bind, TLS files…).
#[derive(Debug, thiserror::Error)]
#[error("{component}: {message}")]
pub struct BuildError {
    pub component: String,
    pub message: String,
}

impl BuildError {
    pub fn new(component: impl fmt::Display, message: impl fmt::Display) -> Self {
        BuildError {
            component: component.to_string(),
            message: message.to_string(),
        }
    }
}

/// Config structs validate themselves after deserialisation; paths are relative.
pub trait Validate {
    fn validate(&self) -> Vec<ConfigIssue> {
        Vec::new()
    }
}

/// Deserialises a component body (`null` means defaults), rejecting unknown keys
/// with their path, then validates. Paths are prefixed with `prefix`.
pub fn parse_config<T>(prefix: &str, raw: &Value) -> Result<ParsedConfig, Vec<ConfigIssue>>
where
    T: DeserializeOwned + Default + Validate + Send + Sync + 'static,
{
    let cfg: T = if raw.is_null() {
        T::default()
    } else {
        serde_path_to_error::deserialize(raw.clone()).map_err(|e| {
            let inner = e.path().to_string();
            let path = if inner == "." || inner.is_empty() {
                prefix.to_string()
            } else {
                format!("{prefix}::{}", inner.replace('.', "::"))
            };
            vec![ConfigIssue::new(path, e.into_inner().to_string())]
        })?
    };
    let issues: Vec<ConfigIssue> = cfg
        .validate()
        .into_iter()
        .map(|i| {
            ConfigIssue::new(
                if i.path.is_empty() {
                    prefix.to_string()
                } else {
                    format!("{prefix}::{}", i.path)
                },
                i.message,
            )
        })
        .collect();
    if issues.is_empty() {
        Ok(Box::new(cfg))
    } else {
        Err(issues)
    }
}

/// Gets the typed config back out of a [`ParsedConfig`].
pub fn config_ref<'a, T: 'static>(
    id: &ComponentId,
    cfg: &'a ParsedConfig,
) -> Result<&'a T, BuildError> {
    cfg.downcast_ref::<T>()
        .ok_or_else(|| BuildError::new(id, "internal error: config of unexpected type"))
}

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

pub trait ReceiverFactory: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn signals(&self) -> &'static [SignalKind];
    fn parse(&self, prefix: &str, raw: &Value) -> Result<ParsedConfig, Vec<ConfigIssue>>;
    fn start<'a>(
        &'a self,
        ctx: &'a BuildContext,
        id: &'a ComponentId,
        cfg: &'a ParsedConfig,
        consumers: Consumers,
    ) -> BoxFuture<'a, Result<Box<dyn Running>, BuildError>>;
}

/// What a processor factory builds for one pipeline.
pub enum ProcessorStage<S: crate::otlp::Signal> {
    /// The batcher (runs in the pipeline task).
    Batch(BatchSettings),
    /// A synchronous processor.
    Sync(Box<dyn Processor<S>>),
}

pub trait ProcessorFactory: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn signals(&self) -> &'static [SignalKind];
    fn parse(&self, prefix: &str, raw: &Value) -> Result<ParsedConfig, Vec<ConfigIssue>>;
    fn build_traces(
        &self,
        ctx: &BuildContext,
        id: &ComponentId,
        cfg: &ParsedConfig,
    ) -> Result<ProcessorStage<Traces>, BuildError>;
    fn build_metrics(
        &self,
        ctx: &BuildContext,
        id: &ComponentId,
        cfg: &ParsedConfig,
    ) -> Result<ProcessorStage<Metrics>, BuildError>;
    fn build_logs(
        &self,
        ctx: &BuildContext,
        id: &ComponentId,
        cfg: &ParsedConfig,
    ) -> Result<ProcessorStage<Logs>, BuildError>;
}

pub trait ExporterFactory: Send + Sync {
    fn type_name(&self) -> &'static str;
    /// Other type names accepted for this exporter (upstream renames).
    fn aliases(&self) -> &'static [&'static str] {
        &[]
    }
    fn signals(&self) -> &'static [SignalKind];
    fn parse(&self, prefix: &str, raw: &Value) -> Result<ParsedConfig, Vec<ConfigIssue>>;
    /// The queue settings of a parsed config (for `sending_queue.storage` wiring).
    fn queue(&self, cfg: &ParsedConfig) -> Option<crate::exporter::helper::QueueSettings>;
    /// The `auth.authenticator` extension ID of a parsed config, if any.
    fn authenticator(&self, _cfg: &ParsedConfig) -> Option<String> {
        None
    }
    fn build_traces(
        &self,
        ctx: &BuildContext,
        id: &ComponentId,
        cfg: &ParsedConfig,
    ) -> Result<Arc<dyn ExportQueue<Traces>>, BuildError>;
    fn build_metrics(
        &self,
        ctx: &BuildContext,
        id: &ComponentId,
        cfg: &ParsedConfig,
    ) -> Result<Arc<dyn ExportQueue<Metrics>>, BuildError>;
    fn build_logs(
        &self,
        ctx: &BuildContext,
        id: &ComponentId,
        cfg: &ParsedConfig,
    ) -> Result<Arc<dyn ExportQueue<Logs>>, BuildError>;
}

pub trait ExtensionFactory: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn parse(&self, prefix: &str, raw: &Value) -> Result<ParsedConfig, Vec<ConfigIssue>>;
    fn start<'a>(
        &'a self,
        ctx: &'a BuildContext,
        id: &'a ComponentId,
        cfg: &'a ParsedConfig,
    ) -> BoxFuture<'a, Result<Box<dyn Running>, BuildError>>;
}

/// Every component type Tern knows.
pub struct Registry {
    pub receivers: Vec<&'static dyn ReceiverFactory>,
    pub processors: Vec<&'static dyn ProcessorFactory>,
    pub exporters: Vec<&'static dyn ExporterFactory>,
    pub extensions: Vec<&'static dyn ExtensionFactory>,
}

impl Registry {
    /// The built-in components.
    pub fn builtin() -> Registry {
        Registry {
            receivers: vec![
                &crate::receiver::otlp::OtlpReceiverFactory,
                &crate::receiver::telemetryapi::TelemetryApiFactory,
            ],
            processors: vec![
                &crate::processor::batch::BatchFactory,
                &crate::processor::memory_limiter::MemoryLimiterFactory,
            ],
            exporters: vec![
                &crate::exporter::otlphttp::OtlpHttpFactory,
                &crate::exporter::otlp::OtlpGrpcFactory,
                &crate::exporter::debug::DebugFactory,
                &crate::exporter::prometheusremotewrite::PrwFactory,
                &crate::exporter::awsxray::AwsXrayFactory,
            ],
            extensions: vec![
                &crate::extension::health_check::HealthCheckFactory,
                &crate::extension::file_storage::FileStorageFactory,
                &crate::extension::sigv4auth::SigV4AuthFactory,
            ],
        }
    }

    pub fn receiver(&self, ty: &str) -> Option<&'static dyn ReceiverFactory> {
        self.receivers.iter().copied().find(|f| f.type_name() == ty)
    }
    pub fn processor(&self, ty: &str) -> Option<&'static dyn ProcessorFactory> {
        self.processors
            .iter()
            .copied()
            .find(|f| f.type_name() == ty)
    }
    pub fn exporter(&self, ty: &str) -> Option<&'static dyn ExporterFactory> {
        self.exporters
            .iter()
            .copied()
            .find(|f| f.type_name() == ty || f.aliases().contains(&ty))
    }
    pub fn extension(&self, ty: &str) -> Option<&'static dyn ExtensionFactory> {
        self.extensions
            .iter()
            .copied()
            .find(|f| f.type_name() == ty)
    }

    /// Sorted type names per kind, for error messages and `tern components`.
    pub fn names(&self, kind: &str) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = match kind {
            "receivers" => self.receivers.iter().map(|f| f.type_name()).collect(),
            "processors" => self.processors.iter().map(|f| f.type_name()).collect(),
            "exporters" => self
                .exporters
                .iter()
                .flat_map(|f| std::iter::once(f.type_name()).chain(f.aliases().iter().copied()))
                .collect(),
            "extensions" => self.extensions.iter().map(|f| f.type_name()).collect(),
            _ => Vec::new(),
        };
        v.sort_unstable();
        v
    }
}
