//! The `metricstransform` processor (upstream contrib
//! `processor/metricstransformprocessor`): renames metrics (strict or regexp with
//! capture groups), inserts changed copies, adds, renames or deletes labels,
//! merges points by labels or label values, toggles int/double and scales values.

mod aggregate;
mod config;
mod transform;

use std::sync::Arc;

use serde_yaml_ng::Value;

pub use config::MetricsTransformConfig;
pub use transform::Transformer;

use crate::component::{
    parse_config, BuildContext, BuildError, ComponentId, ConfigIssue, ProcessorConfig,
    ProcessorFactory, ProcessorRole, ProcessorStage, SignalProcessor,
};
use crate::otlp::{Metrics, SignalKind};
use crate::pipeline::{Batch, ProcessError, Processor};

/// Factory of the `metricstransform` processor.
pub struct MetricsTransformFactory;

impl ProcessorFactory for MetricsTransformFactory {
    fn type_name(&self) -> &'static str {
        "metricstransform"
    }
    fn signals(&self) -> &'static [SignalKind] {
        &[SignalKind::Metrics]
    }
    fn parse(
        &self,
        prefix: &str,
        raw: &Value,
    ) -> Result<Box<dyn ProcessorConfig>, Vec<ConfigIssue>> {
        Ok(Box::new(parse_config::<MetricsTransformConfig>(
            prefix, raw,
        )?))
    }
}

impl ProcessorConfig for MetricsTransformConfig {
    fn role(&self) -> ProcessorRole {
        ProcessorRole::Content
    }
    fn build(
        &self,
        _: &BuildContext,
        id: &ComponentId,
        signal: SignalKind,
    ) -> Result<ProcessorStage, BuildError> {
        let t = Arc::new(Transformer::new(self).map_err(|e| BuildError::new(id, e))?);
        match signal {
            SignalKind::Metrics => Ok(ProcessorStage::Content(SignalProcessor::Metrics(Box::new(
                MetricsTransformProcessor(t),
            )))),
            other => Err(BuildError::new(
                id,
                format!("metricstransform supports metrics only, not {other:?}"),
            )),
        }
    }
}

/// The processor of one metrics pipeline.
pub struct MetricsTransformProcessor(Arc<Transformer>);

impl Processor<Metrics> for MetricsTransformProcessor {
    fn process(&mut self, batch: &mut Batch<Metrics>) -> Result<(), ProcessError> {
        // Read-only first: a batch no transform selects keeps its cached encoding.
        let selected = self.0.selects_any(
            batch
                .request()
                .resource_metrics
                .iter()
                .flat_map(|rm| &rm.scope_metrics)
                .flat_map(|sm| &sm.metrics)
                .map(|m| m.name.as_str()),
        );
        if selected {
            batch.edit(|req| {
                for rm in &mut req.resource_metrics {
                    for sm in &mut rm.scope_metrics {
                        self.0.apply(&mut sm.metrics);
                    }
                    // Upstream removes scopes and resources left empty.
                    rm.scope_metrics.retain(|sm| !sm.metrics.is_empty());
                }
                req.resource_metrics
                    .retain(|rm| !rm.scope_metrics.is_empty());
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
