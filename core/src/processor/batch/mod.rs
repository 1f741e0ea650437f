//! The `batch` processor (upstream `processor/batchprocessor`): groups items into
//! batches by size or time before export. Runs inside the pipeline task
//! ([`crate::pipeline::batcher`]).

use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::config::duration::GoDuration;
use crate::config::ComponentId;
use crate::otlp::{Logs, Metrics, SignalKind, Traces};
use crate::pipeline::batcher::BatchSettings;
use crate::registry::{
    config_ref, parse_config, BuildError, ConfigIssue, ParsedConfig, ProcessorFactory,
    ProcessorStage, Validate,
};
use crate::service::BuildContext;

/// `processors: batch:`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BatchConfig {
    /// Items (spans, data points, log records) that trigger a send. Default 8192.
    pub send_batch_size: usize,
    /// Upper bound of a batch; larger batches are split (0 = unlimited).
    pub send_batch_max_size: usize,
    /// Longest time an item waits before its batch is sent. Default 200ms.
    pub timeout: GoDuration,
    /// Not supported yet (must be empty).
    pub metadata_keys: Vec<String>,
    /// Accepted for compatibility.
    pub metadata_cardinality_limit: u32,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            send_batch_size: 8192,
            send_batch_max_size: 0,
            timeout: GoDuration::from_millis(200),
            metadata_keys: Vec::new(),
            metadata_cardinality_limit: 1000,
        }
    }
}

impl Validate for BatchConfig {
    fn validate(&self) -> Vec<ConfigIssue> {
        let mut v = Vec::new();
        if self.send_batch_max_size > 0 && self.send_batch_max_size < self.send_batch_size {
            v.push(ConfigIssue::new(
                "send_batch_max_size",
                "send_batch_max_size must be greater or equal to send_batch_size",
            ));
        }
        if !self.metadata_keys.is_empty() {
            v.push(ConfigIssue::new(
                "metadata_keys",
                "metadata_keys is not supported yet",
            ));
        }
        v
    }
}

/// Factory of the `batch` processor.
pub struct BatchFactory;

impl BatchFactory {
    fn settings(id: &ComponentId, cfg: &ParsedConfig) -> Result<BatchSettings, BuildError> {
        let c: &BatchConfig = config_ref(id, cfg)?;
        Ok(BatchSettings {
            send_batch_size: c.send_batch_size,
            send_batch_max_size: c.send_batch_max_size,
            timeout: c.timeout.0,
        })
    }
}

impl ProcessorFactory for BatchFactory {
    fn type_name(&self) -> &'static str {
        "batch"
    }
    fn signals(&self) -> &'static [SignalKind] {
        &SignalKind::ALL
    }
    fn parse(&self, prefix: &str, raw: &Value) -> Result<ParsedConfig, Vec<ConfigIssue>> {
        parse_config::<BatchConfig>(prefix, raw)
    }
    fn build_traces(
        &self,
        _: &BuildContext,
        id: &ComponentId,
        cfg: &ParsedConfig,
    ) -> Result<ProcessorStage<Traces>, BuildError> {
        Ok(ProcessorStage::Batch(Self::settings(id, cfg)?))
    }
    fn build_metrics(
        &self,
        _: &BuildContext,
        id: &ComponentId,
        cfg: &ParsedConfig,
    ) -> Result<ProcessorStage<Metrics>, BuildError> {
        Ok(ProcessorStage::Batch(Self::settings(id, cfg)?))
    }
    fn build_logs(
        &self,
        _: &BuildContext,
        id: &ComponentId,
        cfg: &ParsedConfig,
    ) -> Result<ProcessorStage<Logs>, BuildError> {
        Ok(ProcessorStage::Batch(Self::settings(id, cfg)?))
    }
}
