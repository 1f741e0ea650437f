//! `processors: filter:` configuration and its pure validation (every OTTL
//! condition compiles at load; errors name the YAML path and the column).

use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::component::{ConfigIssue, Validate};
use crate::otlp::SignalKind;
use crate::ottl::{Condition, Context, Env, ErrorMode};

/// `processors: filter:`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilterConfig {
    /// `ignore` (default), `silent` or `propagate`: what a failing condition does.
    pub error_mode: ErrorMode,
    /// `traces:` conditions in fixed contexts.
    pub traces: TracesConfig,
    /// `logs:` conditions in fixed contexts.
    pub logs: LogsConfig,
    /// Not supported yet (must be absent).
    pub metrics: Option<Value>,
    /// Trace conditions with the context inferred from path prefixes (`span.`, `spanevent.`).
    pub trace_conditions: Vec<String>,
    /// Log conditions with the context inferred from path prefixes (`log.`, `resource.`).
    pub log_conditions: Vec<String>,
    /// Not supported yet (must be empty).
    pub metric_conditions: Vec<Value>,
}

/// `filter: traces:`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TracesConfig {
    /// Conditions on spans; a span is dropped when any holds.
    pub span: Vec<String>,
    /// Conditions on span events; an event is dropped when any holds.
    pub spanevent: Vec<String>,
    /// Legacy match properties: refused (use OTTL conditions).
    pub include: Option<Value>,
    /// Legacy match properties: refused (use OTTL conditions).
    pub exclude: Option<Value>,
}

/// `filter: logs:`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogsConfig {
    /// Conditions on log records; a record is dropped when any holds.
    pub log_record: Vec<String>,
    /// Legacy match properties: refused (use OTTL conditions).
    pub include: Option<Value>,
    /// Legacy match properties: refused (use OTTL conditions).
    pub exclude: Option<Value>,
}

/// The conditions of one signal, compiled, in config order.
pub struct Compiled {
    pub conditions: Vec<Condition>,
}

impl FilterConfig {
    /// Compiles the conditions of `signal`; errors carry their YAML path.
    pub fn compile(&self, signal: SignalKind) -> Result<Compiled, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        let mut conditions = Vec::new();
        let mut add = |path: String, list: &[String], env: Env| {
            for (i, src) in list.iter().enumerate() {
                match Condition::compile(src, env) {
                    Ok(c) => conditions.push(c),
                    Err(e) => {
                        issues.push(ConfigIssue::new(format!("{path}::{i}"), e.describe(src)))
                    }
                }
            }
        };
        let fixed = |context| Env {
            signal,
            context: Some(context),
        };
        let inferred = Env {
            signal,
            context: None,
        };
        match signal {
            SignalKind::Traces => {
                add(
                    "traces::span".into(),
                    &self.traces.span,
                    fixed(Context::Span),
                );
                add(
                    "traces::spanevent".into(),
                    &self.traces.spanevent,
                    fixed(Context::SpanEvent),
                );
                add("trace_conditions".into(), &self.trace_conditions, inferred);
            }
            SignalKind::Logs => {
                add(
                    "logs::log_record".into(),
                    &self.logs.log_record,
                    fixed(Context::Log),
                );
                add("log_conditions".into(), &self.log_conditions, inferred);
            }
            SignalKind::Metrics => {}
        }
        if issues.is_empty() {
            Ok(Compiled { conditions })
        } else {
            Err(issues)
        }
    }
}

impl Validate for FilterConfig {
    fn validate(&self) -> Vec<ConfigIssue> {
        let mut v = Vec::new();
        let legacy = "the legacy include/exclude form is not supported; write OTTL conditions (traces.span, logs.log_record, trace_conditions, log_conditions)";
        for (path, set) in [
            ("traces::include", &self.traces.include),
            ("traces::exclude", &self.traces.exclude),
            ("logs::include", &self.logs.include),
            ("logs::exclude", &self.logs.exclude),
        ] {
            if set.is_some() {
                v.push(ConfigIssue::new(path, legacy));
            }
        }
        if self.metrics.is_some() || !self.metric_conditions.is_empty() {
            v.push(ConfigIssue::new(
                "metrics",
                "filtering metrics is not supported yet (traces and logs are)",
            ));
        }
        for signal in [SignalKind::Traces, SignalKind::Logs] {
            if let Err(mut e) = self.compile(signal) {
                v.append(&mut e);
            }
        }
        v
    }
}
