//! Configuration: the upstream collector's YAML, loaded from one or more sources,
//! expanded, deep-merged and validated purely (every problem reported at once,
//! each with its path) before anything starts.

pub mod duration;
pub mod expand;
pub mod telemetry;
pub mod tls;

use std::collections::BTreeMap;
use std::fmt;

use serde_yaml_ng::{Mapping, Value};

use crate::otlp::SignalKind;
use crate::registry::{
    ConfigIssue, ExporterFactory, ExtensionFactory, ParsedConfig, ProcessorFactory,
    ReceiverFactory, Registry,
};
pub use telemetry::TelemetryConfig;

/// The config embedded in the `tern` binary, used when no `--config` is given.
pub const DEFAULT_CONFIG: &str = include_str!("default.yaml");

/// A component ID: `type[/name]`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ComponentId {
    pub ty: String,
    pub name: Option<String>,
}

impl ComponentId {
    pub fn parse(s: &str) -> Result<ComponentId, String> {
        let (ty, name) = match s.split_once('/') {
            Some((t, n)) => (t, Some(n)),
            None => (s, None),
        };
        let mut chars = ty.chars();
        let type_ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
            && ty.len() <= 63
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !type_ok {
            return Err(format!(
                "invalid component type {ty:?}: must match ^[a-zA-Z][0-9a-zA-Z_]{{0,62}}$"
            ));
        }
        if let Some(n) = name {
            if n.is_empty() {
                return Err(format!(
                    "invalid component ID {s:?}: name after '/' must not be empty"
                ));
            }
            if n.len() > 1024 || n.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(format!("invalid component name {n:?}: no spaces or control characters, at most 1024 characters"));
            }
        }
        Ok(ComponentId {
            ty: ty.to_string(),
            name: name.map(str::to_string),
        })
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}/{}", self.ty, n),
            None => f.write_str(&self.ty),
        }
    }
}

/// A pipeline ID: `signal[/name]`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PipelineId {
    pub signal: SignalKind,
    pub name: Option<String>,
}

impl fmt::Display for PipelineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}/{}", self.signal, n),
            None => write!(f, "{}", self.signal),
        }
    }
}

/// One configured component: its factory and parsed config.
pub struct Component<F: ?Sized + 'static> {
    pub factory: &'static F,
    pub config: ParsedConfig,
}

/// One pipeline's wiring.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub id: PipelineId,
    pub receivers: Vec<ComponentId>,
    pub processors: Vec<ComponentId>,
    pub exporters: Vec<ComponentId>,
}

/// A config that passed validation: every referenced component exists, supports
/// the signal, and its own config is valid.
pub struct ValidatedConfig {
    pub receivers: BTreeMap<ComponentId, Component<dyn ReceiverFactory>>,
    pub processors: BTreeMap<ComponentId, Component<dyn ProcessorFactory>>,
    pub exporters: BTreeMap<ComponentId, Component<dyn ExporterFactory>>,
    pub extensions: BTreeMap<ComponentId, Component<dyn ExtensionFactory>>,
    /// Extensions listed in `service.extensions`, in order.
    pub service_extensions: Vec<ComponentId>,
    pub pipelines: Vec<PipelineConfig>,
    pub telemetry: TelemetryConfig,
}

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

const TOP_LEVEL: &[&str] = &[
    "receivers",
    "processors",
    "exporters",
    "extensions",
    "connectors",
    "service",
];

/// Validates a merged config against the registry. Pure: no I/O.
pub fn validate(root: &Value, registry: &Registry) -> Result<ValidatedConfig, Vec<ConfigIssue>> {
    let mut issues = Vec::new();
    let empty = Mapping::new();
    let root_map = match root {
        Value::Mapping(m) => m,
        _ => {
            return Err(vec![ConfigIssue::new(
                "",
                "the configuration must be a mapping",
            )]);
        }
    };
    for k in root_map.keys() {
        let key = k.as_str().unwrap_or("");
        if !TOP_LEVEL.contains(&key) {
            issues.push(ConfigIssue::new(
                key,
                format!(
                    "unknown top-level key {key:?} (expected one of: {})",
                    TOP_LEVEL.join(", ")
                ),
            ));
        }
    }
    if root_map
        .get("connectors")
        .is_some_and(|c| c.as_mapping().is_some_and(|m| !m.is_empty()))
    {
        issues.push(ConfigIssue::new(
            "connectors",
            "connectors are not supported yet",
        ));
    }
    let section = |name: &str, issues: &mut Vec<ConfigIssue>| -> Mapping {
        match root_map.get(name) {
            None | Some(Value::Null) => empty.clone(),
            Some(Value::Mapping(m)) => m.clone(),
            Some(_) => {
                issues.push(ConfigIssue::new(
                    name,
                    "must be a mapping of component IDs to their configs",
                ));
                empty.clone()
            }
        }
    };

    let receivers = parse_section(
        &section("receivers", &mut issues),
        "receivers",
        registry,
        |t| registry.receiver(t),
        |f, p, v| f.parse(p, v),
        &mut issues,
    );
    let processors = parse_section(
        &section("processors", &mut issues),
        "processors",
        registry,
        |t| registry.processor(t),
        |f, p, v| f.parse(p, v),
        &mut issues,
    );
    let exporters = parse_section(
        &section("exporters", &mut issues),
        "exporters",
        registry,
        |t| registry.exporter(t),
        |f, p, v| f.parse(p, v),
        &mut issues,
    );
    let extensions = parse_section(
        &section("extensions", &mut issues),
        "extensions",
        registry,
        |t| registry.extension(t),
        |f, p, v| f.parse(p, v),
        &mut issues,
    );

    if receivers.is_empty()
        && root_map
            .get("receivers")
            .is_none_or(|r| r.as_mapping().is_none_or(|m| m.is_empty()))
    {
        issues.push(ConfigIssue::new(
            "",
            "no receiver configuration specified in config",
        ));
    }
    if exporters.is_empty()
        && root_map
            .get("exporters")
            .is_none_or(|r| r.as_mapping().is_none_or(|m| m.is_empty()))
    {
        issues.push(ConfigIssue::new(
            "",
            "no exporter configuration specified in config",
        ));
    }

    // IDs present in the config, valid or not: a component with an invalid body
    // already has its own error and is not "not configured" as well.
    let declared = |name: &str| -> std::collections::BTreeSet<ComponentId> {
        match root_map.get(name) {
            Some(Value::Mapping(m)) => m
                .keys()
                .filter_map(|k| k.as_str())
                .filter_map(|k| ComponentId::parse(k).ok())
                .collect(),
            _ => Default::default(),
        }
    };
    let (declared_receivers, declared_processors, declared_exporters, declared_extensions) = (
        declared("receivers"),
        declared("processors"),
        declared("exporters"),
        declared("extensions"),
    );

    let service = section("service", &mut issues);
    for k in service.keys() {
        let key = k.as_str().unwrap_or("");
        if !["extensions", "pipelines", "telemetry"].contains(&key) {
            issues.push(ConfigIssue::new(
                format!("service::{key}"),
                format!("unknown key {key:?} (expected one of: extensions, pipelines, telemetry)"),
            ));
        }
    }

    let mut service_extensions = Vec::new();
    match service.get("extensions") {
        None | Some(Value::Null) => {}
        Some(Value::Sequence(list)) => {
            for item in list {
                let Some(s) = item.as_str() else {
                    issues.push(ConfigIssue::new(
                        "service::extensions",
                        "must be a list of extension IDs",
                    ));
                    continue;
                };
                match ComponentId::parse(s) {
                    Ok(id) if extensions.contains_key(&id) => service_extensions.push(id),
                    Ok(id) if declared_extensions.contains(&id) => {}
                    Ok(id) => issues.push(ConfigIssue::new(
                        "service::extensions",
                        format!("references extension \"{id}\" which is not configured"),
                    )),
                    Err(e) => issues.push(ConfigIssue::new("service::extensions", e)),
                }
            }
        }
        Some(_) => issues.push(ConfigIssue::new(
            "service::extensions",
            "must be a list of extension IDs",
        )),
    }

    let mut pipelines = Vec::new();
    match service.get("pipelines") {
        None | Some(Value::Null) => issues.push(ConfigIssue::new(
            "service",
            "service must have at least one pipeline",
        )),
        Some(Value::Mapping(m)) if m.is_empty() => issues.push(ConfigIssue::new(
            "service",
            "service must have at least one pipeline",
        )),
        Some(Value::Mapping(m)) => {
            for (k, body) in m {
                let key = k.as_str().unwrap_or("").to_string();
                let path = format!("service::pipelines::{key}");
                let (sig, name) = match key.split_once('/') {
                    Some((s, n)) => (s, Some(n.to_string())),
                    None => (key.as_str(), None),
                };
                let Some(signal) = SignalKind::from_name(sig) else {
                    let msg = if sig == "profiles" {
                        "the profiles signal is not supported yet".to_string()
                    } else {
                        format!("unknown signal {sig:?} (expected traces, metrics or logs)")
                    };
                    issues.push(ConfigIssue::new(path, msg));
                    continue;
                };
                if name.as_deref() == Some("") {
                    issues.push(ConfigIssue::new(
                        path,
                        "pipeline name after '/' must not be empty",
                    ));
                    continue;
                }
                let id = PipelineId { signal, name };
                let body = match body {
                    Value::Mapping(b) => b.clone(),
                    Value::Null => Mapping::new(),
                    _ => {
                        issues.push(ConfigIssue::new(
                            path,
                            "must be a mapping with receivers, processors and exporters",
                        ));
                        continue;
                    }
                };
                for k in body.keys() {
                    let key = k.as_str().unwrap_or("");
                    if !["receivers", "processors", "exporters"].contains(&key) {
                        issues.push(ConfigIssue::new(
                            format!("{path}::{key}"),
                            format!(
                                "unknown key {key:?} (expected receivers, processors, exporters)"
                            ),
                        ));
                    }
                }
                let list = |kind: &str, issues: &mut Vec<ConfigIssue>| -> Vec<ComponentId> {
                    match body.get(kind) {
                        None | Some(Value::Null) => Vec::new(),
                        Some(Value::Sequence(items)) => items
                            .iter()
                            .filter_map(|i| match i.as_str().map(ComponentId::parse) {
                                Some(Ok(id)) => Some(id),
                                Some(Err(e)) => {
                                    issues.push(ConfigIssue::new(format!("{path}::{kind}"), e));
                                    None
                                }
                                None => {
                                    issues.push(ConfigIssue::new(
                                        format!("{path}::{kind}"),
                                        "must be a list of component IDs",
                                    ));
                                    None
                                }
                            })
                            .collect(),
                        Some(_) => {
                            issues.push(ConfigIssue::new(
                                format!("{path}::{kind}"),
                                "must be a list of component IDs",
                            ));
                            Vec::new()
                        }
                    }
                };
                let recv = list("receivers", &mut issues);
                let procs = list("processors", &mut issues);
                let exps = list("exporters", &mut issues);
                if recv.is_empty() {
                    issues.push(ConfigIssue::new(&path, "must have at least one receiver"));
                }
                if exps.is_empty() {
                    issues.push(ConfigIssue::new(&path, "must have at least one exporter"));
                }
                for r in &recv {
                    match receivers.get(r) {
                        None if declared_receivers.contains(r) => {}
                        None => issues.push(ConfigIssue::new(
                            &path,
                            format!("references receiver \"{r}\" which is not configured"),
                        )),
                        Some(c) if !c.factory.signals().contains(&signal) => {
                            issues.push(ConfigIssue::new(
                                &path,
                                format!("receiver \"{r}\" does not support {signal}"),
                            ))
                        }
                        _ => {}
                    }
                }
                let mut seen = Vec::new();
                let mut batches = 0;
                for p in &procs {
                    if seen.contains(&p) {
                        issues.push(ConfigIssue::new(
                            &path,
                            format!("references processor \"{p}\" multiple times"),
                        ));
                    }
                    seen.push(p);
                    match processors.get(p) {
                        None if declared_processors.contains(p) => {}
                        None => issues.push(ConfigIssue::new(
                            &path,
                            format!("references processor \"{p}\" which is not configured"),
                        )),
                        Some(c) if !c.factory.signals().contains(&signal) => {
                            issues.push(ConfigIssue::new(
                                &path,
                                format!("processor \"{p}\" does not support {signal}"),
                            ))
                        }
                        Some(c) if c.factory.type_name() == "batch" => batches += 1,
                        _ => {}
                    }
                }
                if batches > 1 {
                    issues.push(ConfigIssue::new(
                        &path,
                        "at most one batch processor per pipeline is supported",
                    ));
                }
                for e in &exps {
                    match exporters.get(e) {
                        None if declared_exporters.contains(e) => {}
                        None => issues.push(ConfigIssue::new(
                            &path,
                            format!("references exporter \"{e}\" which is not configured"),
                        )),
                        Some(c) if !c.factory.signals().contains(&signal) => {
                            issues.push(ConfigIssue::new(
                                &path,
                                format!("exporter \"{e}\" does not support {signal}"),
                            ))
                        }
                        _ => {}
                    }
                }
                pipelines.push(PipelineConfig {
                    id,
                    receivers: recv,
                    processors: procs,
                    exporters: exps,
                });
            }
        }
        Some(_) => issues.push(ConfigIssue::new(
            "service::pipelines",
            "must be a mapping of pipeline IDs",
        )),
    }

    for (id, exp) in &exporters {
        let Some(storage) = exp.factory.queue(&exp.config).and_then(|q| q.storage) else {
            continue;
        };
        let path = format!("exporters::{id}::sending_queue::storage");
        match ComponentId::parse(&storage) {
            Ok(sid) if sid.ty != "file_storage" => issues.push(ConfigIssue::new(
                path,
                format!("storage \"{sid}\" must be a file_storage extension"),
            )),
            Ok(sid) if !extensions.contains_key(&sid) && !declared_extensions.contains(&sid) => {
                issues.push(ConfigIssue::new(
                    path,
                    format!("references storage extension \"{sid}\" which is not configured"),
                ))
            }
            Ok(_) => {}
            Err(e) => issues.push(ConfigIssue::new(path, e)),
        }
    }

    for (id, exp) in &exporters {
        let Some(auth) = exp.factory.authenticator(&exp.config) else {
            continue;
        };
        let path = format!("exporters::{id}::auth::authenticator");
        match ComponentId::parse(&auth) {
            Ok(aid) if !extensions.contains_key(&aid) && !declared_extensions.contains(&aid) => {
                issues.push(ConfigIssue::new(
                    path,
                    format!("references authenticator extension \"{aid}\" which is not configured"),
                ))
            }
            Ok(aid) if extensions.contains_key(&aid) && !service_extensions.contains(&aid) => {
                issues.push(ConfigIssue::new(
                    path,
                    format!(
                        "authenticator extension \"{aid}\" must be listed in service::extensions"
                    ),
                ))
            }
            Ok(_) => {}
            Err(e) => issues.push(ConfigIssue::new(path, e)),
        }
    }

    let telemetry = match telemetry::parse(service.get("telemetry").unwrap_or(&Value::Null)) {
        Ok(t) => t,
        Err(mut e) => {
            issues.append(&mut e);
            TelemetryConfig::default()
        }
    };

    if issues.is_empty() {
        Ok(ValidatedConfig {
            receivers,
            processors,
            exporters,
            extensions,
            service_extensions,
            pipelines,
            telemetry,
        })
    } else {
        Err(issues)
    }
}

fn parse_section<F: ?Sized + 'static>(
    section: &Mapping,
    kind: &str,
    registry: &Registry,
    find: impl Fn(&str) -> Option<&'static F>,
    parse: impl Fn(&F, &str, &Value) -> Result<ParsedConfig, Vec<ConfigIssue>>,
    issues: &mut Vec<ConfigIssue>,
) -> BTreeMap<ComponentId, Component<F>> {
    let mut out = BTreeMap::new();
    for (k, v) in section {
        let key = match k {
            Value::String(s) => s.clone(),
            other => serde_yaml_ng::to_string(other)
                .unwrap_or_default()
                .trim()
                .to_string(),
        };
        let prefix = format!("{kind}::{key}");
        let id = match ComponentId::parse(&key) {
            Ok(id) => id,
            Err(e) => {
                issues.push(ConfigIssue::new(prefix, e));
                continue;
            }
        };
        let Some(factory) = find(&id.ty) else {
            issues.push(ConfigIssue::new(
                prefix,
                format!(
                    "unknown type: {:?} (supported {kind}: {})",
                    id.ty,
                    registry.names(kind).join(", ")
                ),
            ));
            continue;
        };
        match parse(factory, &prefix, v) {
            Ok(config) => {
                out.insert(id, Component { factory, config });
            }
            Err(mut e) => issues.append(&mut e),
        }
    }
    out
}

/// Loads and validates in one go (what `tern validate` runs).
pub fn load_and_validate(
    sources: &[ConfigSource],
    registry: &Registry,
) -> Result<ValidatedConfig, Vec<ConfigIssue>> {
    let lookup = |name: &str| std::env::var(name).ok();
    let value = load(sources, &lookup)?;
    validate(&value, registry)
}

#[cfg(test)]
mod tests;
