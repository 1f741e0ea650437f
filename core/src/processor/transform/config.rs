//! `processors: transform:` configuration and its pure validation (every OTTL
//! statement and condition compiles at load; errors name the YAML path and the
//! column, all of them at once).

use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::component::{ConfigIssue, Validate};
use crate::otlp::SignalKind;
use crate::ottl::{Condition, Context, Env, ErrorMode, Statement};

/// `processors: transform:`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TransformConfig {
    /// `ignore` (default), `silent` or `propagate`: what a failing statement or condition does.
    pub error_mode: ErrorMode,
    /// Statements on traces: strings (context inferred from the paths) or groups.
    pub trace_statements: Vec<Entry>,
    /// Statements on metrics: strings (context inferred from the paths) or groups.
    pub metric_statements: Vec<Entry>,
    /// Statements on logs: strings (context inferred from the paths) or groups.
    pub log_statements: Vec<Entry>,
    /// Upstream's alpha `flatten_data` (logs): refused when true.
    pub flatten_data: bool,
}

/// One item of a `*_statements` list.
#[derive(Debug)]
pub enum Entry {
    /// A statement whose context is the lowest one its paths name.
    Text(String),
    /// Statements in a fixed context, guarded by `conditions`.
    Group(GroupConfig),
}

// By hand rather than `untagged`, so that a bad group reports serde's own
// message (e.g. the unknown key and the expected ones).
impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Entry::Text(s)),
            v @ Value::Mapping(_) => GroupConfig::deserialize(v)
                .map(Entry::Group)
                .map_err(D::Error::custom),
            _ => Err(D::Error::custom(
                "expected an OTTL statement string or a {context, statements, conditions, error_mode} group",
            )),
        }
    }
}

/// `{context, statements, conditions, error_mode}`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GroupConfig {
    /// `resource`, `scope`, and `span`/`spanevent`, `metric`/`datapoint` or `log`.
    pub context: String,
    /// Statements run in order on every item of `context` for which a condition holds.
    pub statements: Vec<String>,
    /// OTTL conditions, ORed; none means every item.
    pub conditions: Vec<String>,
    /// Overrides the top-level `error_mode` for this group.
    pub error_mode: Option<ErrorMode>,
}

/// Statements run on every item of one context, in order.
#[derive(Debug)]
pub struct Group {
    pub context: Context,
    /// ORed; empty means always.
    pub conditions: Vec<Condition>,
    pub statements: Vec<Statement>,
    pub error_mode: ErrorMode,
}

fn key(signal: SignalKind) -> &'static str {
    match signal {
        SignalKind::Traces => "trace_statements",
        SignalKind::Metrics => "metric_statements",
        SignalKind::Logs => "log_statements",
    }
}

impl TransformConfig {
    fn entries(&self, signal: SignalKind) -> &[Entry] {
        match signal {
            SignalKind::Traces => &self.trace_statements,
            SignalKind::Metrics => &self.metric_statements,
            SignalKind::Logs => &self.log_statements,
        }
    }

    /// Whether any statement is configured for `signal`.
    pub fn has(&self, signal: SignalKind) -> bool {
        !self.entries(signal).is_empty()
    }

    /// Compiles the statements of `signal` into groups in config order
    /// (consecutive strings of one inferred context share a group); errors
    /// carry their YAML path.
    pub fn compile(&self, signal: SignalKind) -> Result<Vec<Group>, Vec<ConfigIssue>> {
        let root = key(signal);
        let mut issues = Vec::new();
        let mut groups: Vec<Group> = Vec::new();
        // Whether the last group came from strings (and may take more of them).
        let mut open = false;
        for (i, entry) in self.entries(signal).iter().enumerate() {
            match entry {
                Entry::Text(src) => {
                    let env = Env {
                        signal,
                        context: None,
                    };
                    match Statement::compile(src, env) {
                        Ok(st) => match groups.last_mut() {
                            Some(g) if open && g.context == st.context() => g.statements.push(st),
                            _ => {
                                groups.push(Group {
                                    context: st.context(),
                                    conditions: Vec::new(),
                                    statements: vec![st],
                                    error_mode: self.error_mode,
                                });
                                open = true;
                            }
                        },
                        Err(e) => {
                            issues.push(ConfigIssue::new(format!("{root}::{i}"), e.describe(src)))
                        }
                    }
                }
                Entry::Group(g) => {
                    open = false;
                    let path = format!("{root}::{i}");
                    if let Some(group) = self.group(signal, &path, g, &mut issues) {
                        groups.push(group);
                    }
                }
            }
        }
        if issues.is_empty() {
            Ok(groups)
        } else {
            Err(issues)
        }
    }

    fn group(
        &self,
        signal: SignalKind,
        path: &str,
        g: &GroupConfig,
        issues: &mut Vec<ConfigIssue>,
    ) -> Option<Group> {
        let context = match Context::parse(&g.context) {
            Some(c) if c.of_signal(signal) => c,
            _ => {
                let allowed = match signal {
                    SignalKind::Traces => "resource, scope, span, spanevent",
                    SignalKind::Metrics => "resource, scope, metric, datapoint",
                    SignalKind::Logs => "resource, scope, log",
                };
                let what = if g.context.is_empty() {
                    "a context is required".to_string()
                } else {
                    format!("unknown context '{}'", g.context)
                };
                issues.push(ConfigIssue::new(
                    format!("{path}::context"),
                    format!("{what}; {} takes {allowed}", key(signal)),
                ));
                return None;
            }
        };
        let env = Env {
            signal,
            context: Some(context),
        };
        let before = issues.len();
        let mut conditions = Vec::new();
        for (j, src) in g.conditions.iter().enumerate() {
            match Condition::compile(src, env) {
                Ok(c) => conditions.push(c),
                Err(e) => issues.push(ConfigIssue::new(
                    format!("{path}::conditions::{j}"),
                    e.describe(src),
                )),
            }
        }
        let mut statements = Vec::new();
        for (j, src) in g.statements.iter().enumerate() {
            match Statement::compile(src, env) {
                Ok(s) => statements.push(s),
                Err(e) => issues.push(ConfigIssue::new(
                    format!("{path}::statements::{j}"),
                    e.describe(src),
                )),
            }
        }
        (issues.len() == before).then(|| Group {
            context,
            conditions,
            statements,
            error_mode: g.error_mode.unwrap_or(self.error_mode),
        })
    }
}

impl Validate for TransformConfig {
    fn validate(&self) -> Vec<ConfigIssue> {
        let mut v = Vec::new();
        if self.flatten_data {
            v.push(ConfigIssue::new(
                "flatten_data",
                "flatten_data (upstream alpha feature gate transform.flatten.logs) is not supported",
            ));
        }
        for signal in [SignalKind::Traces, SignalKind::Metrics, SignalKind::Logs] {
            if let Err(mut e) = self.compile(signal) {
                v.append(&mut e);
            }
        }
        v
    }
}
