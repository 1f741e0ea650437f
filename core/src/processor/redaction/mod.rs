//! The `redaction` processor (upstream contrib `processor/redactionprocessor`):
//! deletes attributes that are not allowed and masks sensitive values in resource,
//! scope, span, span-event, log-record and data-point attributes and in log bodies.
//! Spec: `processors.md` §7.

mod config;
mod redact;
mod walk;

use std::sync::Arc;

use serde_yaml_ng::Value;

pub use config::RedactionConfig;
pub use redact::Redactor;

use crate::component::{
    parse_config, BuildContext, BuildError, ComponentId, ConfigIssue, ProcessorConfig,
    ProcessorFactory, ProcessorRole, ProcessorStage, SignalProcessor,
};
use crate::otlp::{Logs, Metrics, Signal, SignalKind, Traces};
use crate::pipeline::{Batch, ProcessError, Processor};

/// Factory of the `redaction` processor.
pub struct RedactionFactory;

impl ProcessorFactory for RedactionFactory {
    fn type_name(&self) -> &'static str {
        "redaction"
    }
    fn signals(&self) -> &'static [SignalKind] {
        &SignalKind::ALL
    }
    fn parse(
        &self,
        prefix: &str,
        raw: &Value,
    ) -> Result<Box<dyn ProcessorConfig>, Vec<ConfigIssue>> {
        Ok(Box::new(parse_config::<RedactionConfig>(prefix, raw)?))
    }
}

impl ProcessorConfig for RedactionConfig {
    fn role(&self) -> ProcessorRole {
        ProcessorRole::Content
    }
    fn build(
        &self,
        _: &BuildContext,
        id: &ComponentId,
        signal: SignalKind,
    ) -> Result<ProcessorStage, BuildError> {
        let r = Arc::new(Redactor::new(self).map_err(|e| BuildError::new(id, e))?);
        Ok(ProcessorStage::Content(match signal {
            SignalKind::Traces => SignalProcessor::Traces(Box::new(RedactionProcessor(r))),
            SignalKind::Metrics => SignalProcessor::Metrics(Box::new(RedactionProcessor(r))),
            SignalKind::Logs => SignalProcessor::Logs(Box::new(RedactionProcessor(r))),
        }))
    }
}

/// The processor of one pipeline; the compiled rules are shared by the pipelines
/// of one component ID.
pub struct RedactionProcessor(Arc<Redactor>);

/// A request the redactor can walk.
pub trait Redactable: Signal {
    fn needs_change(r: &Redactor, req: &Self::Request) -> bool;
    fn apply(r: &Redactor, req: &mut Self::Request);
}

impl Redactable for Traces {
    fn needs_change(r: &Redactor, req: &Self::Request) -> bool {
        walk::traces_need_change(r, req)
    }
    fn apply(r: &Redactor, req: &mut Self::Request) {
        walk::traces(r, req)
    }
}

impl Redactable for Metrics {
    fn needs_change(r: &Redactor, req: &Self::Request) -> bool {
        walk::metrics_need_change(r, req)
    }
    fn apply(r: &Redactor, req: &mut Self::Request) {
        walk::metrics(r, req)
    }
}

impl Redactable for Logs {
    fn needs_change(r: &Redactor, req: &Self::Request) -> bool {
        walk::logs_need_change(r, req)
    }
    fn apply(r: &Redactor, req: &mut Self::Request) {
        walk::logs(r, req)
    }
}

impl<S: Redactable> Processor<S> for RedactionProcessor {
    fn process(&mut self, batch: &mut Batch<S>) -> Result<(), ProcessError> {
        // Read-only first: a clean batch keeps its cached encoding.
        if S::needs_change(&self.0, batch.request()) {
            batch.edit(|req| S::apply(&self.0, req));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
