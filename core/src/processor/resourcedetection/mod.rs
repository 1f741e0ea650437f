//! The `resourcedetection` processor (upstream
//! `processor/resourcedetectionprocessor`): detects where Tern runs (the
//! environment, the host, EC2 instance metadata, ECS task metadata v4, the
//! Lambda environment, Elastic Beanstalk) once at start and merges the result
//! into the resource of every batch.
//!
//! Detection needs the network while building is synchronous, so it runs in the
//! contract's async [`ProcessorConfig::prepare`] hook, once per component ID
//! before any pipeline is built; `build` only hands the merged attributes to
//! each pipeline's processor.

pub mod client;
pub mod config;
pub mod detect;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde_yaml_ng::Value;

pub use config::ResourceDetectionConfig;

use crate::component::{
    parse_config, BuildContext, BuildError, ComponentId, ConfigIssue, ProcessorConfig,
    ProcessorFactory, ProcessorRole, ProcessorStage, SignalProcessor,
};
use crate::otlp::{Signal, SignalKind};
use crate::pipeline::{Batch, ProcessError, Processor};
use crate::BoxFuture;
use detect::{AttrValue, Attributes};

/// Factory of the `resourcedetection` processor.
pub struct ResourceDetectionFactory;

impl ProcessorFactory for ResourceDetectionFactory {
    fn type_name(&self) -> &'static str {
        "resourcedetection"
    }
    fn signals(&self) -> &'static [SignalKind] {
        &SignalKind::ALL
    }
    fn parse(
        &self,
        prefix: &str,
        raw: &Value,
    ) -> Result<Box<dyn ProcessorConfig>, Vec<ConfigIssue>> {
        Ok(Box::new(parse_config::<ResourceDetectionConfig>(
            prefix, raw,
        )?))
    }
}

impl ResourceDetectionConfig {
    /// Runs detection with `sources` and keeps the result (once per ID).
    pub async fn detect(
        &self,
        id: &ComponentId,
        sources: &client::Sources,
    ) -> Result<(), BuildError> {
        if self.detected.get().is_some() {
            return Ok(());
        }
        let attrs = client::detect_all(self, sources, &id.to_string())
            .await
            .map_err(|e| BuildError::new(id, e))?;
        tracing::info!(processor = %id, attributes = ?attrs.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), "Resource detected.");
        let _ = self.detected.set(Arc::new(to_key_values(attrs)));
        Ok(())
    }
}

impl ProcessorConfig for ResourceDetectionConfig {
    fn role(&self) -> ProcessorRole {
        ProcessorRole::Content
    }

    fn prepare<'a>(
        &'a self,
        _ctx: &'a BuildContext,
        id: &'a ComponentId,
    ) -> BoxFuture<'a, Result<(), BuildError>> {
        Box::pin(async move { self.detect(id, &client::Sources::real()).await })
    }

    fn build(
        &self,
        _ctx: &BuildContext,
        id: &ComponentId,
        signal: SignalKind,
    ) -> Result<ProcessorStage, BuildError> {
        let attrs = self.detected.get().cloned().ok_or_else(|| {
            BuildError::new(
                id,
                "resource detection has not run (prepare was not called)",
            )
        })?;
        let p = |attrs| ResourceMerge {
            attrs,
            override_existing: self.override_existing,
        };
        Ok(ProcessorStage::Content(match signal {
            SignalKind::Traces => SignalProcessor::Traces(Box::new(p(attrs))),
            SignalKind::Metrics => SignalProcessor::Metrics(Box::new(p(attrs))),
            SignalKind::Logs => SignalProcessor::Logs(Box::new(p(attrs))),
        }))
    }
}

fn to_key_values(attrs: Attributes) -> Vec<KeyValue> {
    let str_value = |s: String| AnyValue {
        value: Some(any_value::Value::StringValue(s)),
    };
    attrs
        .into_iter()
        .map(|(key, v)| KeyValue {
            key,
            key_strindex: 0,
            value: Some(match v {
                AttrValue::Str(s) => str_value(s),
                AttrValue::StrList(l) => AnyValue {
                    value: Some(any_value::Value::ArrayValue(ArrayValue {
                        values: l.into_iter().map(str_value).collect(),
                    })),
                },
            }),
        })
        .collect()
}

/// Merges `detected` into `resource`: with `override_existing` a detected value
/// replaces an existing one (the first match, as pdata), else only missing keys are added.
pub fn merge_into(resource: &mut Resource, detected: &[KeyValue], override_existing: bool) {
    for kv in detected {
        match resource.attributes.iter_mut().find(|a| a.key == kv.key) {
            Some(existing) if override_existing => existing.value = kv.value.clone(),
            Some(_) => {}
            None => resource.attributes.push(kv.clone()),
        }
    }
}

/// The requests whose resources the processor edits.
pub trait Resources {
    fn for_each_resource(&mut self, f: &mut dyn FnMut(&mut Resource));
}

impl Resources for ExportTraceServiceRequest {
    fn for_each_resource(&mut self, f: &mut dyn FnMut(&mut Resource)) {
        for r in &mut self.resource_spans {
            f(r.resource.get_or_insert_with(Resource::default));
        }
    }
}

impl Resources for ExportMetricsServiceRequest {
    fn for_each_resource(&mut self, f: &mut dyn FnMut(&mut Resource)) {
        for r in &mut self.resource_metrics {
            f(r.resource.get_or_insert_with(Resource::default));
        }
    }
}

impl Resources for ExportLogsServiceRequest {
    fn for_each_resource(&mut self, f: &mut dyn FnMut(&mut Resource)) {
        for r in &mut self.resource_logs {
            f(r.resource.get_or_insert_with(Resource::default));
        }
    }
}

/// One pipeline's processor: the detected attributes, merged per resource.
pub struct ResourceMerge {
    attrs: Arc<Vec<KeyValue>>,
    override_existing: bool,
}

impl<S> Processor<S> for ResourceMerge
where
    S: Signal,
    S::Request: Resources,
{
    fn process(&mut self, batch: &mut Batch<S>) -> Result<(), ProcessError> {
        if self.attrs.is_empty() {
            return Ok(());
        }
        let (attrs, over) = (&self.attrs, self.override_existing);
        batch.edit(|req| req.for_each_resource(&mut |r| merge_into(r, attrs, over)));
        Ok(())
    }
}
