//! The `filter` processor (upstream `processor/filterprocessor`): drops spans,
//! span events and log records for which any OTTL condition holds, then removes
//! emptied scopes and resources. Evaluation runs read-only first; the batch is
//! edited (and its cached encoding dropped) only when something is dropped.

pub mod config;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde_yaml_ng::Value;

pub use config::FilterConfig;

use crate::component::{
    parse_config, BuildContext, BuildError, ComponentId, ConfigIssue, ProcessorConfig,
    ProcessorFactory, ProcessorRole, ProcessorStage, SignalProcessor,
};
use crate::otlp::{Logs, SignalKind, Traces};
use crate::ottl::{Condition, Context, ErrorMode, Item, Rec};
use crate::pipeline::{Batch, ProcessError, Processor};
use crate::telemetry::metrics::{Counter, FilterMetrics};

/// Factory of the `filter` processor.
pub struct FilterFactory;

impl ProcessorFactory for FilterFactory {
    fn type_name(&self) -> &'static str {
        "filter"
    }
    fn signals(&self) -> &'static [SignalKind] {
        &[SignalKind::Traces, SignalKind::Logs]
    }
    fn parse(
        &self,
        prefix: &str,
        raw: &Value,
    ) -> Result<Box<dyn ProcessorConfig>, Vec<ConfigIssue>> {
        Ok(Box::new(parse_config::<FilterConfig>(prefix, raw)?))
    }
}

impl ProcessorConfig for FilterConfig {
    fn role(&self) -> ProcessorRole {
        ProcessorRole::Content
    }
    fn build(
        &self,
        ctx: &BuildContext,
        id: &ComponentId,
        signal: SignalKind,
    ) -> Result<ProcessorStage, BuildError> {
        let compiled = self.compile(signal).map_err(|issues| {
            let text: Vec<String> = issues.iter().map(ToString::to_string).collect();
            BuildError::new(id, text.join("; "))
        })?;
        let filtered = FilterMetrics::new(&ctx.telemetry, &id.to_string(), signal).filtered;
        let filter = Filter {
            id: id.to_string(),
            by_context: compiled.conditions,
            error_mode: self.error_mode,
            filtered,
            errors: 0,
        };
        Ok(ProcessorStage::Content(match signal {
            SignalKind::Traces => SignalProcessor::Traces(Box::new(filter)),
            SignalKind::Logs => SignalProcessor::Logs(Box::new(filter)),
            SignalKind::Metrics => {
                return Err(BuildError::new(id, "filter does not support metrics yet"))
            }
        }))
    }
}

/// One pipeline's filter.
pub struct Filter {
    id: String,
    by_context: Vec<Condition>,
    error_mode: ErrorMode,
    filtered: Counter,
    /// Errors seen under `ignore`; every 1000th is logged after the first.
    errors: u64,
}

impl Filter {
    /// Whether any condition of `ctx` holds for `item` (errors per `error_mode`).
    fn matches(&mut self, ctx: Context, item: &Item<'_>) -> Result<bool, ProcessError> {
        for c in self.by_context.iter().filter(|c| c.context() == ctx) {
            match c.eval(item) {
                Ok(true) => return Ok(true),
                Ok(false) => {}
                Err(e) => match self.error_mode {
                    ErrorMode::Propagate => {
                        return Err(ProcessError::Permanent(format!(
                            "failed to evaluate condition `{}`: {e}",
                            c.text()
                        )))
                    }
                    ErrorMode::Ignore => {
                        if self.errors.is_multiple_of(1000) {
                            tracing::warn!(processor = %self.id, condition = c.text(), error = %e, "Condition failed, treated as false.");
                        }
                        self.errors += 1;
                    }
                    ErrorMode::Silent => {}
                },
            }
        }
        Ok(false)
    }

    fn has(&self, ctx: Context) -> bool {
        self.by_context.iter().any(|c| c.context() == ctx)
    }

    /// One decision per evaluated item, in walk order.
    fn plan_traces(&mut self, req: &ExportTraceServiceRequest) -> Result<Vec<bool>, ProcessError> {
        let (spans, events) = (self.has(Context::Span), self.has(Context::SpanEvent));
        let mut plan = Vec::new();
        for rs in &req.resource_spans {
            for ss in &rs.scope_spans {
                for sp in &ss.spans {
                    let base = Item {
                        resource: rs.resource.as_ref(),
                        scope: ss.scope.as_ref(),
                        rec: Rec::Span(sp),
                    };
                    if spans {
                        let drop = self.matches(Context::Span, &base)?;
                        plan.push(drop);
                        if drop {
                            continue;
                        }
                    }
                    if events {
                        for e in &sp.events {
                            let item = Item {
                                rec: Rec::Event(sp, e),
                                ..base
                            };
                            plan.push(self.matches(Context::SpanEvent, &item)?);
                        }
                    }
                }
            }
        }
        Ok(plan)
    }

    fn apply_traces(&self, req: &mut ExportTraceServiceRequest, plan: &[bool]) {
        let (spans, events) = (self.has(Context::Span), self.has(Context::SpanEvent));
        let mut next = plan.iter().copied();
        for rs in &mut req.resource_spans {
            for ss in &mut rs.scope_spans {
                ss.spans.retain_mut(|sp| {
                    if spans && next.next().unwrap_or(false) {
                        return false;
                    }
                    if events {
                        sp.events.retain(|_| !next.next().unwrap_or(false));
                    }
                    true
                });
            }
            rs.scope_spans.retain(|ss| !ss.spans.is_empty());
        }
        req.resource_spans.retain(|rs| !rs.scope_spans.is_empty());
    }

    fn plan_logs(&mut self, req: &ExportLogsServiceRequest) -> Result<Vec<bool>, ProcessError> {
        let mut plan = Vec::new();
        for rl in &req.resource_logs {
            for sl in &rl.scope_logs {
                for l in &sl.log_records {
                    let item = Item {
                        resource: rl.resource.as_ref(),
                        scope: sl.scope.as_ref(),
                        rec: Rec::Log(l),
                    };
                    plan.push(self.matches(Context::Log, &item)?);
                }
            }
        }
        Ok(plan)
    }
}

fn apply_logs(req: &mut ExportLogsServiceRequest, plan: &[bool]) {
    let mut next = plan.iter().copied();
    for rl in &mut req.resource_logs {
        for sl in &mut rl.scope_logs {
            sl.log_records.retain(|_| !next.next().unwrap_or(false));
        }
        rl.scope_logs.retain(|sl| !sl.log_records.is_empty());
    }
    req.resource_logs.retain(|rl| !rl.scope_logs.is_empty());
}

impl Processor<Traces> for Filter {
    fn process(&mut self, batch: &mut Batch<Traces>) -> Result<(), ProcessError> {
        let plan = self.plan_traces(batch.request())?;
        if plan.iter().any(|d| *d) {
            let (_, edit) = batch.edit(|req| self.apply_traces(req, &plan));
            self.filtered.inc_by(edit.dropped() as u64);
        }
        Ok(())
    }
}

impl Processor<Logs> for Filter {
    fn process(&mut self, batch: &mut Batch<Logs>) -> Result<(), ProcessError> {
        let plan = self.plan_logs(batch.request())?;
        if plan.iter().any(|d| *d) {
            let (_, edit) = batch.edit(|req| apply_logs(req, &plan));
            self.filtered.inc_by(edit.dropped() as u64);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::trace::v1::{span::Event, ResourceSpans, ScopeSpans, Span};

    use super::*;
    use crate::telemetry::metrics::Registry;

    fn filter(yaml: &str, reg: &Registry) -> Filter {
        let cfg: FilterConfig = serde_yaml_ng::from_str(yaml).unwrap();
        assert!(crate::component::Validate::validate(&cfg).is_empty());
        Filter {
            id: "filter".into(),
            by_context: cfg.compile(SignalKind::Traces).unwrap().conditions,
            error_mode: cfg.error_mode,
            filtered: FilterMetrics::new(reg, "filter", SignalKind::Traces).filtered,
            errors: 0,
        }
    }

    fn spans(names: &[&str]) -> Batch<Traces> {
        let spans = names
            .iter()
            .map(|n| Span {
                name: (*n).into(),
                events: vec![Event {
                    name: "e1".into(),
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect();
        Batch::from_request(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        })
    }

    fn names(b: &mut Batch<Traces>) -> Vec<String> {
        b.request()
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .map(|s| s.name.clone())
            .collect()
    }

    #[test]
    fn drops_matching_spans_and_counts_them() {
        let reg = Registry::default();
        let mut f = filter(
            "traces:\n  span:\n    - 'name == \"/health\"'\n    - 'IsMatch(name, \"^debug\")'\n",
            &reg,
        );
        let mut b = spans(&["/health", "GET /a", "debug x"]);
        f.process(&mut b).unwrap();
        assert_eq!(names(&mut b), ["GET /a"]);
        assert_eq!(b.items(), 1);
        let mut all = spans(&["/health"]);
        f.process(&mut all).unwrap();
        assert_eq!(all.items(), 0);
        assert!(
            all.request().resource_spans.is_empty(),
            "emptied parents are removed"
        );
        assert!(reg
            .encode()
            .contains("otelcol_processor_filter_spans_filtered{processor=\"filter\"} 3"));
    }

    #[test]
    fn span_events_go_but_their_span_stays() {
        let reg = Registry::default();
        let mut f = filter("trace_conditions:\n  - 'spanevent.name == \"e1\"'\n", &reg);
        let mut b = spans(&["a"]);
        f.process(&mut b).unwrap();
        assert_eq!(names(&mut b), ["a"]);
        assert!(b.request().resource_spans[0].scope_spans[0].spans[0]
            .events
            .is_empty());
    }

    #[test]
    fn error_modes() {
        let reg = Registry::default();
        let cond = "  - 'Split(span.attributes[\"x\"], \",\")[3] == \"a\" or span.name == \"b\"'\n";
        for (mode, outcome) in [
            ("ignore", Ok(vec!["a", "b"])),
            ("silent", Ok(vec!["a", "b"])),
            ("propagate", Err(())),
        ] {
            let mut f = filter(
                &format!("error_mode: {mode}\ntrace_conditions:\n{cond}"),
                &reg,
            );
            let mut b = spans(&["a", "b"]);
            let mut batch_with_attr = b.clone();
            batch_with_attr.edit(|r| {
                for s in &mut r.resource_spans[0].scope_spans[0].spans {
                    s.attributes
                        .push(opentelemetry_proto::tonic::common::v1::KeyValue {
                            key: "x".into(),
                            value: Some(crate::ottl::value::Value::Str("q".into()).into_any()),
                            ..Default::default()
                        });
                }
            });
            b = batch_with_attr;
            let got = f.process(&mut b).map(|()| names(&mut b)).map_err(|_| ());
            let want = outcome
                .clone()
                .map(|v| v.into_iter().map(String::from).collect::<Vec<_>>());
            assert_eq!(got, want, "{mode}");
        }
    }

    #[test]
    fn bad_conditions_and_legacy_form_are_config_errors() {
        let cfg: FilterConfig = serde_yaml_ng::from_str(
            "traces:\n  span: ['name == 1', 'nme == 1']\n  exclude: {match_type: strict}\nlog_conditions: ['log.body == Nope(1)']\n",
        )
        .unwrap();
        let issues: Vec<String> = crate::component::Validate::validate(&cfg)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(issues.len(), 3, "{issues:?}");
        assert!(issues[0].starts_with("traces::exclude: the legacy include/exclude form"));
        assert!(
            issues[1].starts_with("traces::span::1: column 1: unknown path 'nme'"),
            "{issues:?}"
        );
        assert!(
            issues[2].starts_with("log_conditions::0: column 13: unknown converter Nope"),
            "{issues:?}"
        );
    }
}
