//! The `batch` processor (upstream `processor/batchprocessor`): groups items into
//! batches by size or time before export. Runs inside the pipeline task
//! ([`crate::pipeline::batcher`]).

use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::component::{
    parse_config, BuildContext, BuildError, ComponentId, ConfigIssue, ProcessorConfig,
    ProcessorFactory, ProcessorRole, ProcessorStage, Validate,
};
use crate::config::duration::GoDuration;
use crate::otlp::SignalKind;
use crate::pipeline::batcher::BatchSettings;

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

impl ProcessorFactory for BatchFactory {
    fn type_name(&self) -> &'static str {
        "batch"
    }
    fn signals(&self) -> &'static [SignalKind] {
        &SignalKind::ALL
    }
    fn parse(
        &self,
        prefix: &str,
        raw: &Value,
    ) -> Result<Box<dyn ProcessorConfig>, Vec<ConfigIssue>> {
        Ok(Box::new(parse_config::<BatchConfig>(prefix, raw)?))
    }
}

impl ProcessorConfig for BatchConfig {
    fn role(&self) -> ProcessorRole {
        ProcessorRole::Batch
    }
    fn build(
        &self,
        _: &BuildContext,
        _: &ComponentId,
        _: SignalKind,
    ) -> Result<ProcessorStage, BuildError> {
        Ok(ProcessorStage::Batch(BatchSettings {
            send_batch_size: self.send_batch_size,
            send_batch_max_size: self.send_batch_max_size,
            timeout: self.timeout.0,
        }))
    }
}
