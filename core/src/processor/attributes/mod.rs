//! The `attributes` processor (upstream `processor/attributesprocessor`): runs
//! attribute actions ([`crate::processor::attraction`]) on the attributes of
//! spans, log records and metric data points, optionally only on the items
//! selected by `include`/`exclude` match properties ([`matcher`]). Resources,
//! scopes, span events and links are not touched.
//!
//! Upstream: <https://github.com/open-telemetry/opentelemetry-collector-contrib/tree/main/processor/attributesprocessor>.

pub mod config;
pub mod matcher;

use std::sync::Arc;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde_yaml_ng::Value;

pub use config::AttributesConfig;
use matcher::{selected, Filter};

use crate::component::{
    parse_config, BuildContext, BuildError, ComponentId, ConfigIssue, ProcessorConfig,
    ProcessorFactory, ProcessorRole, ProcessorStage, SignalProcessor,
};
use crate::otlp::{attrs, Logs, Metrics, SignalKind, Traces};
use crate::pipeline::{Batch, ProcessError, Processor};
use crate::processor::attraction::Actions;

/// Factory of the `attributes` processor.
pub struct AttributesFactory;

impl ProcessorFactory for AttributesFactory {
    fn type_name(&self) -> &'static str {
        "attributes"
    }
    fn signals(&self) -> &'static [SignalKind] {
        &SignalKind::ALL
    }
    fn parse(
        &self,
        prefix: &str,
        raw: &Value,
    ) -> Result<Box<dyn ProcessorConfig>, Vec<ConfigIssue>> {
        let cfg = parse_config::<AttributesConfig>(prefix, raw)?;
        let (actions, include, exclude) = cfg
            .compile()
            .map_err(|v| v.into_iter().map(|i| i.under(prefix)).collect::<Vec<_>>())?;
        Ok(Box::new(Attributes(Arc::new(Compiled {
            actions,
            include,
            exclude,
        }))))
    }
}

/// A parsed `attributes` config, shared by its pipelines.
struct Attributes(Arc<Compiled>);

/// The compiled actions and filters.
pub struct Compiled {
    pub actions: Actions,
    pub include: Option<Filter>,
    pub exclude: Option<Filter>,
}

impl ProcessorConfig for Attributes {
    fn role(&self) -> ProcessorRole {
        ProcessorRole::Content
    }
    fn build(
        &self,
        _: &BuildContext,
        id: &ComponentId,
        signal: SignalKind,
    ) -> Result<ProcessorStage, BuildError> {
        for (name, f) in [("include", &self.0.include), ("exclude", &self.0.exclude)] {
            let allowed = config::allowed(signal);
            if let Some(f) = f {
                let wrong: Vec<&str> = f
                    .selectors
                    .iter()
                    .copied()
                    .filter(|s| !allowed.contains(s))
                    .collect();
                if !wrong.is_empty() {
                    return Err(BuildError::new(
                        id,
                        format!(
                            "{name}: {} cannot match {signal}; {signal} pipelines support {}",
                            wrong.join(", "),
                            allowed.join(", ")
                        ),
                    ));
                }
            }
        }
        let p = AttributesProcessor(Arc::clone(&self.0));
        Ok(ProcessorStage::Content(match signal {
            SignalKind::Traces => SignalProcessor::Traces(Box::new(p)),
            SignalKind::Metrics => SignalProcessor::Metrics(Box::new(p)),
            SignalKind::Logs => SignalProcessor::Logs(Box::new(p)),
        }))
    }
}

/// The processor of one pipeline. A batch is edited only when some selected
/// item changes, so an unchanged batch keeps its encoding.
pub struct AttributesProcessor(Arc<Compiled>);

impl AttributesProcessor {
    pub fn new(compiled: Arc<Compiled>) -> Self {
        AttributesProcessor(compiled)
    }
}

fn resource_attrs(r: &Option<Resource>) -> &[KeyValue] {
    r.as_ref().map_or(&[], |r| &r.attributes)
}

impl Processor<Traces> for AttributesProcessor {
    fn process(&mut self, batch: &mut Batch<Traces>) -> Result<(), ProcessError> {
        let c = &*self.0;
        let (inc, exc) = (c.include.as_ref(), c.exclude.as_ref());
        let changes = batch.request().resource_spans.iter().any(|rs| {
            let res = resource_attrs(&rs.resource);
            rs.scope_spans.iter().any(|ss| {
                ss.spans.iter().any(|s| {
                    selected(inc, exc, |f| f.span(res, ss.scope.as_ref(), s))
                        && c.actions.would_change(&s.attributes)
                })
            })
        });
        if changes {
            batch.edit(|req| {
                for rs in &mut req.resource_spans {
                    let res = resource_attrs(&rs.resource);
                    for ss in &mut rs.scope_spans {
                        let scope = ss.scope.as_ref();
                        for s in &mut ss.spans {
                            if selected(inc, exc, |f| f.span(res, scope, s)) {
                                c.actions.apply(&mut s.attributes);
                            }
                        }
                    }
                }
            });
        }
        Ok(())
    }
}

impl Processor<Logs> for AttributesProcessor {
    fn process(&mut self, batch: &mut Batch<Logs>) -> Result<(), ProcessError> {
        let c = &*self.0;
        let (inc, exc) = (c.include.as_ref(), c.exclude.as_ref());
        let changes = batch.request().resource_logs.iter().any(|rl| {
            let res = resource_attrs(&rl.resource);
            rl.scope_logs.iter().any(|sl| {
                sl.log_records.iter().any(|l| {
                    selected(inc, exc, |f| f.log(res, sl.scope.as_ref(), l))
                        && c.actions.would_change(&l.attributes)
                })
            })
        });
        if changes {
            batch.edit(|req| {
                for rl in &mut req.resource_logs {
                    let res = resource_attrs(&rl.resource);
                    for sl in &mut rl.scope_logs {
                        let scope = sl.scope.as_ref();
                        for l in &mut sl.log_records {
                            if selected(inc, exc, |f| f.log(res, scope, l)) {
                                c.actions.apply(&mut l.attributes);
                            }
                        }
                    }
                }
            });
        }
        Ok(())
    }
}

impl Processor<Metrics> for AttributesProcessor {
    fn process(&mut self, batch: &mut Batch<Metrics>) -> Result<(), ProcessError> {
        let c = &*self.0;
        let (inc, exc) = (c.include.as_ref(), c.exclude.as_ref());
        let changes = batch.request().resource_metrics.iter().any(|rm| {
            let res = resource_attrs(&rm.resource);
            rm.scope_metrics.iter().any(|sm| {
                sm.metrics.iter().any(|m| {
                    let mut changes = false;
                    if selected(inc, exc, |f| f.metric(res, m)) {
                        attrs::for_each_data_point(m, |a| {
                            changes = changes || c.actions.would_change(a)
                        });
                    }
                    changes
                })
            })
        });
        if changes {
            batch.edit(|req| {
                for rm in &mut req.resource_metrics {
                    let res = resource_attrs(&rm.resource);
                    for sm in &mut rm.scope_metrics {
                        for m in &mut sm.metrics {
                            if selected(inc, exc, |f| f.metric(res, m)) {
                                attrs::for_each_data_point_mut(m, |a| c.actions.apply(a));
                            }
                        }
                    }
                }
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
