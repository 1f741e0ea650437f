//! Validation of a whole merged document: pure (no I/O), every problem reported
//! at once with its YAML path. The steps, in order: the top-level keys; each
//! component section parsed by its factory ([`parse_section`]); the service's
//! extension list; each pipeline's wiring ([`pipeline`]); then what exporters
//! bind to ([`exporter_bindings`]: queue storage and authenticators). Component
//! types are looked up in a [`Catalog`]; no component is named here: what the
//! rules need (a processor's role, whether an extension is a storage) comes from
//! the typed configs.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml_ng::{Mapping, Value};

use super::id::{ComponentId, PipelineId};
use super::issue::ConfigIssue;
use super::telemetry::{self, TelemetryConfig};
use crate::component::{
    Catalog, ExporterConfig, ExporterFactory, ExtensionConfig, ExtensionFactory, ProcessorConfig,
    ProcessorFactory, ProcessorRole, ReceiverConfig, ReceiverFactory,
};
use crate::otlp::SignalKind;

/// One configured component: its factory and its typed, valid config.
pub struct Component<F: ?Sized + 'static, C: ?Sized> {
    pub factory: &'static F,
    pub config: Box<C>,
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
    pub receivers: BTreeMap<ComponentId, Component<dyn ReceiverFactory, dyn ReceiverConfig>>,
    pub processors: BTreeMap<ComponentId, Component<dyn ProcessorFactory, dyn ProcessorConfig>>,
    pub exporters: BTreeMap<ComponentId, Component<dyn ExporterFactory, dyn ExporterConfig>>,
    pub extensions: BTreeMap<ComponentId, Component<dyn ExtensionFactory, dyn ExtensionConfig>>,
    /// Extensions listed in `service.extensions`, in order.
    pub service_extensions: Vec<ComponentId>,
    pub pipelines: Vec<PipelineConfig>,
    pub telemetry: TelemetryConfig,
}

const TOP_LEVEL: &[&str] = &[
    "receivers",
    "processors",
    "exporters",
    "extensions",
    "connectors",
    "service",
];

/// The parsed component sections, and the IDs declared in each (valid or not:
/// a component with an invalid body already has its own error and is not
/// reported as "not configured" as well).
struct Sections {
    receivers: BTreeMap<ComponentId, Component<dyn ReceiverFactory, dyn ReceiverConfig>>,
    processors: BTreeMap<ComponentId, Component<dyn ProcessorFactory, dyn ProcessorConfig>>,
    exporters: BTreeMap<ComponentId, Component<dyn ExporterFactory, dyn ExporterConfig>>,
    extensions: BTreeMap<ComponentId, Component<dyn ExtensionFactory, dyn ExtensionConfig>>,
    declared: BTreeMap<&'static str, BTreeSet<ComponentId>>,
}

impl Sections {
    fn declared(&self, kind: &str, id: &ComponentId) -> bool {
        self.declared.get(kind).is_some_and(|s| s.contains(id))
    }
}

/// Validates a merged config against the catalog of component types. Pure: no I/O.
pub fn validate(root: &Value, catalog: &dyn Catalog) -> Result<ValidatedConfig, Vec<ConfigIssue>> {
    let mut issues = Vec::new();
    let Value::Mapping(root) = root else {
        return Err(vec![ConfigIssue::new(
            "",
            "the configuration must be a mapping",
        )]);
    };
    top_level(root, &mut issues);
    let sections = parse_sections(root, catalog, &mut issues);
    let service = section(root, "service", &mut issues);
    service_keys(&service, &mut issues);
    let service_extensions = service_extensions(&service, &sections, &mut issues);
    let pipelines = pipelines(&service, &sections, &mut issues);
    exporter_bindings(&sections, &service_extensions, &mut issues);
    let telemetry = match telemetry::parse(service.get("telemetry").unwrap_or(&Value::Null)) {
        Ok(t) => t,
        Err(mut e) => {
            issues.append(&mut e);
            TelemetryConfig::default()
        }
    };
    if !issues.is_empty() {
        return Err(issues);
    }
    Ok(ValidatedConfig {
        receivers: sections.receivers,
        processors: sections.processors,
        exporters: sections.exporters,
        extensions: sections.extensions,
        service_extensions,
        pipelines,
        telemetry,
    })
}

/// Unknown top-level keys and connectors (not supported yet).
fn top_level(root: &Mapping, issues: &mut Vec<ConfigIssue>) {
    for k in root.keys() {
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
    if root
        .get("connectors")
        .is_some_and(|c| c.as_mapping().is_some_and(|m| !m.is_empty()))
    {
        issues.push(ConfigIssue::new(
            "connectors",
            "connectors are not supported yet",
        ));
    }
}

/// A top-level section as a mapping (empty when absent or null).
fn section(root: &Mapping, name: &str, issues: &mut Vec<ConfigIssue>) -> Mapping {
    match root.get(name) {
        None | Some(Value::Null) => Mapping::new(),
        Some(Value::Mapping(m)) => m.clone(),
        Some(_) => {
            issues.push(ConfigIssue::new(
                name,
                "must be a mapping of component IDs to their configs",
            ));
            Mapping::new()
        }
    }
}

fn is_empty_section(root: &Mapping, name: &str) -> bool {
    root.get(name)
        .is_none_or(|r| r.as_mapping().is_none_or(|m| m.is_empty()))
}

/// Parses the four component sections with their factories.
fn parse_sections(
    root: &Mapping,
    catalog: &dyn Catalog,
    issues: &mut Vec<ConfigIssue>,
) -> Sections {
    let receivers = parse_section(
        &section(root, "receivers", issues),
        "receivers",
        catalog,
        |t| catalog.receiver(t),
        |f, p, v| f.parse(p, v),
        issues,
    );
    let processors = parse_section(
        &section(root, "processors", issues),
        "processors",
        catalog,
        |t| catalog.processor(t),
        |f, p, v| f.parse(p, v),
        issues,
    );
    let exporters = parse_section(
        &section(root, "exporters", issues),
        "exporters",
        catalog,
        |t| catalog.exporter(t),
        |f, p, v| f.parse(p, v),
        issues,
    );
    let extensions = parse_section(
        &section(root, "extensions", issues),
        "extensions",
        catalog,
        |t| catalog.extension(t),
        |f, p, v| f.parse(p, v),
        issues,
    );
    if receivers.is_empty() && is_empty_section(root, "receivers") {
        issues.push(ConfigIssue::new(
            "",
            "no receiver configuration specified in config",
        ));
    }
    if exporters.is_empty() && is_empty_section(root, "exporters") {
        issues.push(ConfigIssue::new(
            "",
            "no exporter configuration specified in config",
        ));
    }
    let declared = ["receivers", "processors", "exporters", "extensions"]
        .into_iter()
        .map(|kind| {
            let ids = match root.get(kind) {
                Some(Value::Mapping(m)) => m
                    .keys()
                    .filter_map(|k| k.as_str())
                    .filter_map(|k| ComponentId::parse(k).ok())
                    .collect(),
                _ => BTreeSet::new(),
            };
            (kind, ids)
        })
        .collect();
    Sections {
        receivers,
        processors,
        exporters,
        extensions,
        declared,
    }
}

/// Parses one section: every key an ID of a known type, every body valid.
fn parse_section<F: ?Sized + 'static, C: ?Sized>(
    section: &Mapping,
    kind: &str,
    catalog: &dyn Catalog,
    find: impl Fn(&str) -> Option<&'static F>,
    parse: impl Fn(&F, &str, &Value) -> Result<Box<C>, Vec<ConfigIssue>>,
    issues: &mut Vec<ConfigIssue>,
) -> BTreeMap<ComponentId, Component<F, C>> {
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
                    catalog.names(kind).join(", ")
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

fn service_keys(service: &Mapping, issues: &mut Vec<ConfigIssue>) {
    for k in service.keys() {
        let key = k.as_str().unwrap_or("");
        if !["extensions", "pipelines", "telemetry"].contains(&key) {
            issues.push(ConfigIssue::new(
                format!("service::{key}"),
                format!("unknown key {key:?} (expected one of: extensions, pipelines, telemetry)"),
            ));
        }
    }
}

/// `service.extensions`: configured extension IDs, in order.
fn service_extensions(
    service: &Mapping,
    sections: &Sections,
    issues: &mut Vec<ConfigIssue>,
) -> Vec<ComponentId> {
    let mut out = Vec::new();
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
                    Ok(id) if sections.extensions.contains_key(&id) => out.push(id),
                    Ok(id) if sections.declared("extensions", &id) => {}
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
    out
}

/// `service.pipelines`: each pipeline's ID and wiring.
fn pipelines(
    service: &Mapping,
    sections: &Sections,
    issues: &mut Vec<ConfigIssue>,
) -> Vec<PipelineConfig> {
    let mut out = Vec::new();
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
                if let Some(p) = pipeline(&key, body, sections, issues) {
                    out.push(p);
                }
            }
        }
        Some(_) => issues.push(ConfigIssue::new(
            "service::pipelines",
            "must be a mapping of pipeline IDs",
        )),
    }
    out
}

/// A pipeline ID: `signal[/name]`.
fn pipeline_id(key: &str, path: &str, issues: &mut Vec<ConfigIssue>) -> Option<PipelineId> {
    let (sig, name) = match key.split_once('/') {
        Some((s, n)) => (s, Some(n.to_string())),
        None => (key, None),
    };
    let Some(signal) = SignalKind::from_name(sig) else {
        let msg = if sig == "profiles" {
            "the profiles signal is not supported yet".to_string()
        } else {
            format!("unknown signal {sig:?} (expected traces, metrics or logs)")
        };
        issues.push(ConfigIssue::new(path, msg));
        return None;
    };
    if name.as_deref() == Some("") {
        issues.push(ConfigIssue::new(
            path,
            "pipeline name after '/' must not be empty",
        ));
        return None;
    }
    Some(PipelineId { signal, name })
}

/// One list of component IDs in a pipeline body (`receivers`, …).
fn id_list(
    body: &Mapping,
    kind: &str,
    path: &str,
    issues: &mut Vec<ConfigIssue>,
) -> Vec<ComponentId> {
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
}

/// One pipeline: its ID, its three lists, and every reference checked.
fn pipeline(
    key: &str,
    body: &Value,
    sections: &Sections,
    issues: &mut Vec<ConfigIssue>,
) -> Option<PipelineConfig> {
    let path = format!("service::pipelines::{key}");
    let id = pipeline_id(key, &path, issues)?;
    let body = match body {
        Value::Mapping(b) => b.clone(),
        Value::Null => Mapping::new(),
        _ => {
            issues.push(ConfigIssue::new(
                path,
                "must be a mapping with receivers, processors and exporters",
            ));
            return None;
        }
    };
    for k in body.keys() {
        let key = k.as_str().unwrap_or("");
        if !["receivers", "processors", "exporters"].contains(&key) {
            issues.push(ConfigIssue::new(
                format!("{path}::{key}"),
                format!("unknown key {key:?} (expected receivers, processors, exporters)"),
            ));
        }
    }
    let receivers = id_list(&body, "receivers", &path, issues);
    let processors = id_list(&body, "processors", &path, issues);
    let exporters = id_list(&body, "exporters", &path, issues);
    if receivers.is_empty() {
        issues.push(ConfigIssue::new(&path, "must have at least one receiver"));
    }
    if exporters.is_empty() {
        issues.push(ConfigIssue::new(&path, "must have at least one exporter"));
    }
    let signal = id.signal;
    for r in &receivers {
        let support = sections.receivers.get(r).map(|c| c.factory.signals());
        check_reference(&path, "receiver", r, support, sections, signal, issues);
    }
    processor_order(&path, &processors, sections, signal, issues);
    for e in &exporters {
        let support = sections.exporters.get(e).map(|c| c.factory.signals());
        check_reference(&path, "exporter", e, support, sections, signal, issues);
    }
    Some(PipelineConfig {
        id,
        receivers,
        processors,
        exporters,
    })
}

/// A reference from a pipeline: configured (or declared with its own error),
/// and supporting the pipeline's signal.
fn check_reference(
    path: &str,
    kind: &str,
    id: &ComponentId,
    signals: Option<&[SignalKind]>,
    sections: &Sections,
    signal: SignalKind,
    issues: &mut Vec<ConfigIssue>,
) {
    match signals {
        None if sections.declared(&format!("{kind}s"), id) => {}
        None => issues.push(ConfigIssue::new(
            path,
            format!("references {kind} \"{id}\" which is not configured"),
        )),
        Some(s) if !s.contains(&signal) => issues.push(ConfigIssue::new(
            path,
            format!("{kind} \"{id}\" does not support {signal}"),
        )),
        Some(_) => {}
    }
}

/// A pipeline's processors: each configured once, at most one batcher, and no
/// refusing (admission) processor after the batcher — the batcher holds data
/// that was already acknowledged, so a refusal there could only drop it.
fn processor_order(
    path: &str,
    processors: &[ComponentId],
    sections: &Sections,
    signal: SignalKind,
    issues: &mut Vec<ConfigIssue>,
) {
    let mut seen: Vec<&ComponentId> = Vec::new();
    let mut batcher: Option<&ComponentId> = None;
    let mut batches = 0;
    for p in processors {
        if seen.contains(&p) {
            issues.push(ConfigIssue::new(
                path,
                format!("references processor \"{p}\" multiple times"),
            ));
        }
        seen.push(p);
        let comp = sections.processors.get(p);
        check_reference(
            path,
            "processor",
            p,
            comp.map(|c| c.factory.signals()),
            sections,
            signal,
            issues,
        );
        let Some(comp) = comp.filter(|c| c.factory.signals().contains(&signal)) else {
            continue;
        };
        match comp.config.role() {
            ProcessorRole::Batch => {
                batches += 1;
                batcher.get_or_insert(p);
            }
            ProcessorRole::Admission => {
                if let Some(b) = batcher {
                    issues.push(ConfigIssue::new(
                        path,
                        format!(
                            "processor \"{p}\" refuses data when it must (it answers the sender with a retryable error) and cannot run after \"{b}\": \"{b}\" holds data that was already acknowledged, so a refusal there would lose it. Move \"{p}\" before \"{b}\"; the recommended order puts it first, e.g. processors: [{p}, {b}]"
                        ),
                    ));
                }
            }
            ProcessorRole::Content => {}
        }
    }
    if batches > 1 {
        issues.push(ConfigIssue::new(
            path,
            "at most one batch processor per pipeline is supported",
        ));
    }
}

/// What exporters bind to: the storage of a persistent sending queue, and the
/// authenticator extension.
fn exporter_bindings(
    sections: &Sections,
    service_extensions: &[ComponentId],
    issues: &mut Vec<ConfigIssue>,
) {
    for (id, exp) in &sections.exporters {
        let Some(q) = exp.config.persistent_queue() else {
            continue;
        };
        let path = format!("exporters::{id}::sending_queue::storage");
        match ComponentId::parse(&q.storage) {
            Ok(sid) => match sections.extensions.get(&sid) {
                Some(ext) if ext.config.storage().is_none() => issues.push(ConfigIssue::new(
                    path,
                    format!(
                        "storage \"{sid}\" must be a storage extension (supported: file_storage)"
                    ),
                )),
                Some(_) => {}
                None if sections.declared("extensions", &sid) => {}
                None => issues.push(ConfigIssue::new(
                    path,
                    format!("references storage extension \"{sid}\" which is not configured"),
                )),
            },
            Err(e) => issues.push(ConfigIssue::new(path, e)),
        }
    }
    for (id, exp) in &sections.exporters {
        let Some(auth) = exp.config.authenticator() else {
            continue;
        };
        let path = format!("exporters::{id}::auth::authenticator");
        match ComponentId::parse(auth) {
            Ok(aid)
                if !sections.extensions.contains_key(&aid)
                    && !sections.declared("extensions", &aid) =>
            {
                issues.push(ConfigIssue::new(
                    path,
                    format!("references authenticator extension \"{aid}\" which is not configured"),
                ))
            }
            Ok(aid)
                if sections.extensions.contains_key(&aid) && !service_extensions.contains(&aid) =>
            {
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
}
