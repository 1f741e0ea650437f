//! The `resource` processor (upstream `processor/resourceprocessor`): runs
//! attribute actions ([`crate::processor::attraction`]) on the resource of
//! every batch of traces, metrics and logs. Span, log and data-point attributes
//! are not touched.
//!
//! Upstream: <https://github.com/open-telemetry/opentelemetry-collector-contrib/tree/main/processor/resourceprocessor>.

pub mod config;

use std::sync::Arc;

use serde_yaml_ng::Value;

pub use config::ResourceConfig;

use crate::component::{
    parse_config, BuildContext, BuildError, ComponentId, ConfigIssue, ProcessorConfig,
    ProcessorFactory, ProcessorRole, ProcessorStage, SignalProcessor,
};
use crate::otlp::{Logs, Metrics, SignalKind, Traces};
use crate::pipeline::{Batch, ProcessError, Processor};
use crate::processor::attraction::Actions;

/// Factory of the `resource` processor.
pub struct ResourceFactory;

impl ProcessorFactory for ResourceFactory {
    fn type_name(&self) -> &'static str {
        "resource"
    }
    fn signals(&self) -> &'static [SignalKind] {
        &SignalKind::ALL
    }
    fn parse(
        &self,
        prefix: &str,
        raw: &Value,
    ) -> Result<Box<dyn ProcessorConfig>, Vec<ConfigIssue>> {
        let cfg = parse_config::<ResourceConfig>(prefix, raw)?;
        let actions = cfg
            .actions()
            .map_err(|v| v.into_iter().map(|i| i.under(prefix)).collect::<Vec<_>>())?;
        Ok(Box::new(Resource {
            actions: Arc::new(actions),
        }))
    }
}

/// A parsed `resource` config: its compiled actions, shared by its pipelines.
struct Resource {
    actions: Arc<Actions>,
}

impl ProcessorConfig for Resource {
    fn role(&self) -> ProcessorRole {
        ProcessorRole::Content
    }
    fn build(
        &self,
        _: &BuildContext,
        _: &ComponentId,
        signal: SignalKind,
    ) -> Result<ProcessorStage, BuildError> {
        let p = ResourceProcessor {
            actions: Arc::clone(&self.actions),
        };
        Ok(ProcessorStage::Content(match signal {
            SignalKind::Traces => SignalProcessor::Traces(Box::new(p)),
            SignalKind::Metrics => SignalProcessor::Metrics(Box::new(p)),
            SignalKind::Logs => SignalProcessor::Logs(Box::new(p)),
        }))
    }
}

/// The processor of one pipeline.
pub struct ResourceProcessor {
    actions: Arc<Actions>,
}

impl ResourceProcessor {
    pub fn new(actions: Arc<Actions>) -> Self {
        ResourceProcessor { actions }
    }
}

/// The same body for the three signals: `$list` is the request's list of
/// resource entries. The batch is edited only when some resource changes, so an
/// unchanged batch keeps its encoding.
macro_rules! on_resources {
    ($signal:ty, $list:ident) => {
        impl Processor<$signal> for ResourceProcessor {
            fn process(&mut self, batch: &mut Batch<$signal>) -> Result<(), ProcessError> {
                let actions = &*self.actions;
                let changes = batch.request().$list.iter().any(|r| {
                    actions.would_change(r.resource.as_ref().map_or(&[], |r| &r.attributes))
                });
                if changes {
                    batch.edit(|req| {
                        for r in &mut req.$list {
                            match &mut r.resource {
                                Some(res) => actions.apply(&mut res.attributes),
                                None if actions.would_change(&[]) => {
                                    let res = r.resource.get_or_insert_with(Default::default);
                                    actions.apply(&mut res.attributes);
                                }
                                None => {}
                            }
                        }
                    });
                }
                Ok(())
            }
        }
    };
}
on_resources!(Traces, resource_spans);
on_resources!(Metrics, resource_metrics);
on_resources!(Logs, resource_logs);

#[cfg(test)]
mod tests;
