//! Configuration: the upstream collector's YAML, loaded from one or more sources,
//! expanded, deep-merged and validated purely (every problem reported at once,
//! each with its path) before anything starts.

pub mod duration;
pub mod expand;
pub mod id;
pub mod issue;
pub mod telemetry;
pub mod tls;
mod validate;

use serde_yaml_ng::{Mapping, Value};

use crate::component::Catalog;
pub use id::{ComponentId, PipelineId};
pub use issue::ConfigIssue;
pub use telemetry::TelemetryConfig;
pub use validate::{validate, Component, PipelineConfig, ValidatedConfig};

/// The config embedded in the `tern` binary, used when no `--config` is given.
pub const DEFAULT_CONFIG: &str = include_str!("default.yaml");

/// A config source given on the command line.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigSource {
    /// `path` or `file:path`.
    File(String),
    /// `env:VAR`: the variable holds YAML.
    Env(String),
    /// `yaml:key::sub: value`.
    Yaml(String),
    /// The embedded default.
    Default,
    /// YAML text obtained elsewhere (an embedded default of another binary, a
    /// fetched document); `label` names it in error messages.
    Inline { label: String, text: String },
}

impl ConfigSource {
    pub fn parse(s: &str) -> ConfigSource {
        if let Some(p) = s.strip_prefix("file:") {
            ConfigSource::File(p.to_string())
        } else if let Some(v) = s.strip_prefix("env:") {
            ConfigSource::Env(v.to_string())
        } else if let Some(y) = s.strip_prefix("yaml:") {
            ConfigSource::Yaml(y.to_string())
        } else {
            ConfigSource::File(s.to_string())
        }
    }
}

/// Reads the sources (the only I/O here), parses each as YAML, expands
/// environment references and deep-merges them in order.
pub fn load(
    sources: &[ConfigSource],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Value, Vec<ConfigIssue>> {
    let mut merged = Value::Mapping(Mapping::new());
    let mut issues = Vec::new();
    for src in sources {
        let (label, text) = match src {
            ConfigSource::File(p) => match std::fs::read_to_string(p) {
                Ok(t) => (p.clone(), t),
                Err(e) => {
                    issues.push(ConfigIssue::new(
                        "",
                        format!("cannot read config file {p:?}: {e}"),
                    ));
                    continue;
                }
            },
            ConfigSource::Env(var) => match lookup(var) {
                Some(t) => (format!("env:{var}"), t),
                None => {
                    issues.push(ConfigIssue::new(
                        "",
                        format!("config source env:{var}: variable is not set"),
                    ));
                    continue;
                }
            },
            ConfigSource::Yaml(y) => (format!("yaml:{y}"), yaml_source(y)),
            ConfigSource::Default => ("<embedded default>".to_string(), DEFAULT_CONFIG.to_string()),
            ConfigSource::Inline { label, text } => (label.clone(), text.clone()),
        };
        let mut value: Value = match serde_yaml_ng::from_str(&text) {
            Ok(Value::Null) => Value::Mapping(Mapping::new()),
            Ok(v @ Value::Mapping(_)) => v,
            Ok(_) => {
                issues.push(ConfigIssue::new(
                    "",
                    format!("{label}: the top level must be a mapping"),
                ));
                continue;
            }
            Err(e) => {
                issues.push(ConfigIssue::new("", format!("{label}: invalid YAML: {e}")));
                continue;
            }
        };
        expand::expand(&mut value, lookup, "", &mut issues);
        merge(&mut merged, value);
    }
    if issues.is_empty() {
        Ok(merged)
    } else {
        Err(issues)
    }
}

/// `a::b::c: value` → `{a: {b: {c: value}}}`.
fn yaml_source(y: &str) -> String {
    let (key, val) = y.split_once(": ").unwrap_or((y.trim_end_matches(':'), ""));
    let mut out = String::new();
    let parts: Vec<&str> = key.split("::").collect();
    for (depth, p) in parts.iter().enumerate() {
        out.push_str(&"  ".repeat(depth));
        out.push_str(p);
        out.push(':');
        if depth + 1 == parts.len() {
            out.push(' ');
            out.push_str(val.trim());
        }
        out.push('\n');
    }
    out
}

/// Deep merge: maps merge key by key, anything else (lists included) is replaced;
/// an explicit `null` in the overlay replaces too.
pub fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) if existing.is_mapping() && v.is_mapping() => merge(existing, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Loads and validates in one go (what `tern validate` runs).
pub fn load_and_validate(
    sources: &[ConfigSource],
    registry: &dyn Catalog,
) -> Result<ValidatedConfig, Vec<ConfigIssue>> {
    let lookup = |name: &str| std::env::var(name).ok();
    let value = load(sources, &lookup)?;
    validate(&value, registry)
}

#[cfg(test)]
mod tests;
