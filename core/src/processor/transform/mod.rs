//! The `transform` processor (upstream `processor/transformprocessor`): runs
//! OTTL statements on traces, metrics and logs. Groups run in config order,
//! each walking only its own level; per item, the group's conditions are ORed
//! and its statements run in order. A read-only pass first decides whether any
//! statement would run at all; only then is the batch edited (and its cached
//! encoding dropped).

pub mod config;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde_yaml_ng::Value;

pub use config::{Group, TransformConfig};

use crate::component::{
    parse_config, BuildContext, BuildError, ComponentId, ConfigIssue, ProcessorConfig,
    ProcessorFactory, ProcessorRole, ProcessorStage, SignalProcessor,
};
use crate::otlp::{Logs, Metrics, SignalKind, Traces};
use crate::ottl::item::point;
use crate::ottl::{Context, ErrorMode, EvalError, Item, ItemMut, Rec, RecMut};
use crate::pipeline::{Batch, ProcessError, Processor};

/// Factory of the `transform` processor.
pub struct TransformFactory;

impl ProcessorFactory for TransformFactory {
    fn type_name(&self) -> &'static str {
        "transform"
    }
    fn signals(&self) -> &'static [SignalKind] {
        &[SignalKind::Traces, SignalKind::Metrics, SignalKind::Logs]
    }
    fn parse(
        &self,
        prefix: &str,
        raw: &Value,
    ) -> Result<Box<dyn ProcessorConfig>, Vec<ConfigIssue>> {
        Ok(Box::new(parse_config::<TransformConfig>(prefix, raw)?))
    }
}

impl ProcessorConfig for TransformConfig {
    fn role(&self) -> ProcessorRole {
        ProcessorRole::Content
    }
    fn build(
        &self,
        _ctx: &BuildContext,
        id: &ComponentId,
        signal: SignalKind,
    ) -> Result<ProcessorStage, BuildError> {
        let groups = self.compile(signal).map_err(|issues| {
            let text: Vec<String> = issues.iter().map(ToString::to_string).collect();
            BuildError::new(id, text.join("; "))
        })?;
        let t = Transform::new(id.to_string(), groups);
        Ok(ProcessorStage::Content(match signal {
            SignalKind::Traces => SignalProcessor::Traces(Box::new(t)),
            SignalKind::Metrics => SignalProcessor::Metrics(Box::new(t)),
            SignalKind::Logs => SignalProcessor::Logs(Box::new(t)),
        }))
    }
}

/// One pipeline's transform.
pub struct Transform {
    id: String,
    groups: Vec<Group>,
    /// Errors seen under `ignore`; every 1000th is logged after the first.
    errors: u64,
}

/// Whether a read-only look found that the batch needs editing.
fn needs(group: &Group, item: &Item<'_>) -> bool {
    // An error counts as "needs": the edit pass meets it again and applies
    // the error mode.
    let guarded = group.conditions.is_empty()
        || group
            .conditions
            .iter()
            .any(|c| c.eval(item).unwrap_or(true));
    guarded
        && group
            .statements
            .iter()
            .any(|s| s.applies(item).unwrap_or(true))
}

/// Handles one evaluation error per `mode`: `propagate` fails the batch,
/// `ignore` logs (the first, then every 1000th) and goes on, `silent` goes on.
fn failed(
    id: &str,
    errors: &mut u64,
    mode: ErrorMode,
    what: &str,
    text: &str,
    e: &EvalError,
) -> Result<(), ProcessError> {
    match mode {
        ErrorMode::Propagate => Err(ProcessError::Permanent(format!(
            "failed to execute {what} `{text}`: {e}"
        ))),
        ErrorMode::Ignore => {
            if errors.is_multiple_of(1000) {
                tracing::warn!(processor = %id, what, text, error = %e, "OTTL evaluation failed, ignored.");
            }
            *errors += 1;
            Ok(())
        }
        ErrorMode::Silent => Ok(()),
    }
}

impl Transform {
    pub fn new(id: String, groups: Vec<Group>) -> Self {
        Transform {
            id,
            groups,
            errors: 0,
        }
    }

    /// Runs group `gi` on one item: conditions ORed, then the statements in order.
    fn run(&mut self, gi: usize, item: &mut ItemMut<'_>) -> Result<(), ProcessError> {
        let Transform { id, groups, errors } = self;
        let group = &groups[gi];
        let mode = group.error_mode;
        let mut holds = group.conditions.is_empty();
        for c in &group.conditions {
            match c.eval(&item.view()) {
                Ok(true) => {
                    holds = true;
                    break;
                }
                Ok(false) => {}
                Err(e) => failed(id, errors, mode, "condition", c.text(), &e)?,
            }
        }
        if holds {
            for s in &group.statements {
                if let Err(e) = s.exec(item) {
                    failed(id, errors, mode, "statement", s.text(), &e)?;
                }
            }
        }
        Ok(())
    }

    fn needs_traces(&self, req: &ExportTraceServiceRequest) -> bool {
        self.groups.iter().any(|g| {
            req.resource_spans.iter().any(|rs| {
                let resource = rs.resource.as_ref();
                if g.context == Context::Resource {
                    let item = Item {
                        resource,
                        scope: None,
                        rec: Rec::None,
                    };
                    return needs(g, &item);
                }
                rs.scope_spans.iter().any(|ss| {
                    let base = Item {
                        resource,
                        scope: ss.scope.as_ref(),
                        rec: Rec::None,
                    };
                    match g.context {
                        Context::Span => ss.spans.iter().any(|sp| {
                            needs(
                                g,
                                &Item {
                                    rec: Rec::Span(sp),
                                    ..base
                                },
                            )
                        }),
                        Context::SpanEvent => ss.spans.iter().any(|sp| {
                            sp.events.iter().any(|e| {
                                needs(
                                    g,
                                    &Item {
                                        rec: Rec::Event(sp, e),
                                        ..base
                                    },
                                )
                            })
                        }),
                        _ => needs(g, &base),
                    }
                })
            })
        })
    }

    fn apply_traces(&mut self, req: &mut ExportTraceServiceRequest) -> Result<(), ProcessError> {
        for gi in 0..self.groups.len() {
            let ctx = self.groups[gi].context;
            for rs in &mut req.resource_spans {
                if ctx == Context::Resource {
                    let mut none = None;
                    self.run(
                        gi,
                        &mut ItemMut {
                            resource: &mut rs.resource,
                            scope: &mut none,
                            rec: RecMut::None,
                        },
                    )?;
                    continue;
                }
                for ss in &mut rs.scope_spans {
                    match ctx {
                        Context::Span => {
                            for sp in &mut ss.spans {
                                self.run(
                                    gi,
                                    &mut ItemMut {
                                        resource: &mut rs.resource,
                                        scope: &mut ss.scope,
                                        rec: RecMut::Span(sp),
                                    },
                                )?;
                            }
                        }
                        Context::SpanEvent => {
                            for sp in &mut ss.spans {
                                for i in 0..sp.events.len() {
                                    self.run(
                                        gi,
                                        &mut ItemMut {
                                            resource: &mut rs.resource,
                                            scope: &mut ss.scope,
                                            rec: RecMut::Event(sp, i),
                                        },
                                    )?;
                                }
                            }
                        }
                        _ => self.run(
                            gi,
                            &mut ItemMut {
                                resource: &mut rs.resource,
                                scope: &mut ss.scope,
                                rec: RecMut::None,
                            },
                        )?,
                    }
                }
            }
        }
        Ok(())
    }

    fn needs_metrics(&self, req: &ExportMetricsServiceRequest) -> bool {
        self.groups.iter().any(|g| {
            req.resource_metrics.iter().any(|rm| {
                let resource = rm.resource.as_ref();
                if g.context == Context::Resource {
                    let item = Item {
                        resource,
                        scope: None,
                        rec: Rec::None,
                    };
                    return needs(g, &item);
                }
                rm.scope_metrics.iter().any(|sm| {
                    let base = Item {
                        resource,
                        scope: sm.scope.as_ref(),
                        rec: Rec::None,
                    };
                    match g.context {
                        Context::Metric => sm.metrics.iter().any(|m| {
                            needs(
                                g,
                                &Item {
                                    rec: Rec::Metric(m),
                                    ..base
                                },
                            )
                        }),
                        Context::DataPoint => sm.metrics.iter().any(|m| {
                            (0..).map_while(|i| point(m, i)).any(|p| {
                                needs(
                                    g,
                                    &Item {
                                        rec: Rec::Point(m, p),
                                        ..base
                                    },
                                )
                            })
                        }),
                        _ => needs(g, &base),
                    }
                })
            })
        })
    }

    fn apply_metrics(&mut self, req: &mut ExportMetricsServiceRequest) -> Result<(), ProcessError> {
        for gi in 0..self.groups.len() {
            let ctx = self.groups[gi].context;
            for rm in &mut req.resource_metrics {
                if ctx == Context::Resource {
                    let mut none = None;
                    self.run(
                        gi,
                        &mut ItemMut {
                            resource: &mut rm.resource,
                            scope: &mut none,
                            rec: RecMut::None,
                        },
                    )?;
                    continue;
                }
                for sm in &mut rm.scope_metrics {
                    match ctx {
                        Context::Metric => {
                            for m in &mut sm.metrics {
                                self.run(
                                    gi,
                                    &mut ItemMut {
                                        resource: &mut rm.resource,
                                        scope: &mut sm.scope,
                                        rec: RecMut::Metric(m),
                                    },
                                )?;
                            }
                        }
                        Context::DataPoint => {
                            for m in &mut sm.metrics {
                                let mut i = 0;
                                while point(m, i).is_some() {
                                    self.run(
                                        gi,
                                        &mut ItemMut {
                                            resource: &mut rm.resource,
                                            scope: &mut sm.scope,
                                            rec: RecMut::Point(m, i),
                                        },
                                    )?;
                                    i += 1;
                                }
                            }
                        }
                        _ => self.run(
                            gi,
                            &mut ItemMut {
                                resource: &mut rm.resource,
                                scope: &mut sm.scope,
                                rec: RecMut::None,
                            },
                        )?,
                    }
                }
            }
        }
        Ok(())
    }

    fn needs_logs(&self, req: &ExportLogsServiceRequest) -> bool {
        self.groups.iter().any(|g| {
            req.resource_logs.iter().any(|rl| {
                let resource = rl.resource.as_ref();
                if g.context == Context::Resource {
                    let item = Item {
                        resource,
                        scope: None,
                        rec: Rec::None,
                    };
                    return needs(g, &item);
                }
                rl.scope_logs.iter().any(|sl| {
                    let base = Item {
                        resource,
                        scope: sl.scope.as_ref(),
                        rec: Rec::None,
                    };
                    match g.context {
                        Context::Log => sl.log_records.iter().any(|l| {
                            needs(
                                g,
                                &Item {
                                    rec: Rec::Log(l),
                                    ..base
                                },
                            )
                        }),
                        _ => needs(g, &base),
                    }
                })
            })
        })
    }

    fn apply_logs(&mut self, req: &mut ExportLogsServiceRequest) -> Result<(), ProcessError> {
        for gi in 0..self.groups.len() {
            let ctx = self.groups[gi].context;
            for rl in &mut req.resource_logs {
                if ctx == Context::Resource {
                    let mut none = None;
                    self.run(
                        gi,
                        &mut ItemMut {
                            resource: &mut rl.resource,
                            scope: &mut none,
                            rec: RecMut::None,
                        },
                    )?;
                    continue;
                }
                for sl in &mut rl.scope_logs {
                    if ctx == Context::Log {
                        for l in &mut sl.log_records {
                            self.run(
                                gi,
                                &mut ItemMut {
                                    resource: &mut rl.resource,
                                    scope: &mut sl.scope,
                                    rec: RecMut::Log(l),
                                },
                            )?;
                        }
                    } else {
                        self.run(
                            gi,
                            &mut ItemMut {
                                resource: &mut rl.resource,
                                scope: &mut sl.scope,
                                rec: RecMut::None,
                            },
                        )?;
                    }
                }
            }
        }
        Ok(())
    }
}

impl Processor<Traces> for Transform {
    fn process(&mut self, batch: &mut Batch<Traces>) -> Result<(), ProcessError> {
        if self.groups.is_empty() || !self.needs_traces(batch.request()) {
            return Ok(());
        }
        batch.edit(|req| self.apply_traces(req)).0
    }
}

impl Processor<Metrics> for Transform {
    fn process(&mut self, batch: &mut Batch<Metrics>) -> Result<(), ProcessError> {
        if self.groups.is_empty() || !self.needs_metrics(batch.request()) {
            return Ok(());
        }
        batch.edit(|req| self.apply_metrics(req)).0
    }
}

impl Processor<Logs> for Transform {
    fn process(&mut self, batch: &mut Batch<Logs>) -> Result<(), ProcessError> {
        if self.groups.is_empty() || !self.needs_logs(batch.request()) {
            return Ok(());
        }
        batch.edit(|req| self.apply_logs(req)).0
    }
}

#[cfg(test)]
mod tests;
