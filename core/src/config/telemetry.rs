//! `service.telemetry`: logs and self-metrics settings.

use serde::Deserialize;
use serde_yaml_ng::Value;

use super::issue::ConfigIssue;

/// Resolved telemetry settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryConfig {
    /// `debug`, `info`, `warn` or `error`.
    pub log_level: String,
    /// `console` or `json`.
    pub log_encoding: String,
    /// Where `/metrics` is served; `None` when `level: none`.
    pub metrics_address: Option<String>,
    /// `none`, `basic`, `normal` or `detailed`.
    pub metrics_level: String,
    /// Extra attributes for `target_info`.
    pub resource: Vec<(String, String)>,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            log_level: "info".into(),
            log_encoding: "console".into(),
            metrics_address: Some("localhost:8888".into()),
            metrics_level: "normal".into(),
            resource: Vec::new(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Raw {
    logs: Option<RawLogs>,
    metrics: Option<RawMetrics>,
    traces: Option<Value>,
    resource: Option<std::collections::BTreeMap<String, Value>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLogs {
    level: Option<String>,
    encoding: Option<String>,
    development: Option<bool>,
    disable_caller: Option<bool>,
    disable_stacktrace: Option<bool>,
    output_paths: Option<Vec<String>>,
    error_output_paths: Option<Vec<String>>,
    sampling: Option<Value>,
    initial_fields: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    level: Option<String>,
    /// Legacy `host:port` form.
    address: Option<String>,
    readers: Option<Vec<RawReader>>,
    views: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReader {
    pull: Option<RawPull>,
    periodic: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPull {
    exporter: RawPullExporter,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPullExporter {
    prometheus: RawPrometheus,
}

#[derive(Deserialize)]
struct RawPrometheus {
    host: Option<String>,
    port: Option<u16>,
}

/// Parses `service.telemetry`.
pub fn parse(v: &Value) -> Result<TelemetryConfig, Vec<ConfigIssue>> {
    let mut out = TelemetryConfig::default();
    if v.is_null() {
        return Ok(out);
    }
    let raw: Raw = serde_path_to_error::deserialize(v.clone()).map_err(|e| {
        let p = e.path().to_string();
        vec![ConfigIssue::new(
            format!("service::telemetry::{}", p.replace('.', "::")),
            e.into_inner().to_string(),
        )]
    })?;
    let mut issues = Vec::new();
    let _ = (&raw.traces,);
    if let Some(logs) = raw.logs {
        let _ = (
            logs.development,
            logs.disable_caller,
            logs.disable_stacktrace,
            logs.output_paths,
            logs.error_output_paths,
            logs.sampling,
            logs.initial_fields,
        );
        if let Some(level) = logs.level {
            let l = level.to_ascii_lowercase();
            if ["debug", "info", "warn", "error"].contains(&l.as_str()) {
                out.log_level = l;
            } else {
                issues.push(ConfigIssue::new(
                    "service::telemetry::logs::level",
                    format!("unknown log level {level:?} (expected debug, info, warn, error)"),
                ));
            }
        }
        if let Some(enc) = logs.encoding {
            if enc == "console" || enc == "json" {
                out.log_encoding = enc;
            } else {
                issues.push(ConfigIssue::new(
                    "service::telemetry::logs::encoding",
                    format!("unknown encoding {enc:?} (expected console or json)"),
                ));
            }
        }
    }
    if let Some(m) = raw.metrics {
        let _ = &m.views;
        if let Some(level) = m.level {
            let l = level.to_ascii_lowercase();
            if !["none", "basic", "normal", "detailed"].contains(&l.as_str()) {
                issues.push(ConfigIssue::new(
                    "service::telemetry::metrics::level",
                    format!("unknown level {level:?} (expected none, basic, normal, detailed)"),
                ));
            }
            out.metrics_level = l;
        }
        if let Some(addr) = m.address {
            out.metrics_address = Some(addr);
        }
        if let Some(readers) = m.readers {
            let pulls: Vec<&RawPrometheus> = readers
                .iter()
                .filter_map(|r| r.pull.as_ref())
                .map(|p| &p.exporter.prometheus)
                .collect();
            if readers.iter().any(|r| r.periodic.is_some()) {
                issues.push(ConfigIssue::new(
                    "service::telemetry::metrics::readers",
                    "periodic readers are not supported yet; use a pull (prometheus) reader",
                ));
            }
            match pulls.as_slice() {
                [] if out.metrics_level != "none" => issues.push(ConfigIssue::new(
                    "service::telemetry::metrics::readers",
                    "at least one pull reader is required unless level is none",
                )),
                [] => {}
                [p, ..] => {
                    let host = p.host.clone().unwrap_or_else(|| "localhost".into());
                    let port = p.port.unwrap_or(8888);
                    out.metrics_address = Some(if host.contains(':') {
                        format!("[{host}]:{port}")
                    } else {
                        format!("{host}:{port}")
                    });
                }
            }
        }
        if out.metrics_level == "none" {
            out.metrics_address = None;
        }
    }
    if let Some(res) = raw.resource {
        for (k, v) in res {
            let val = match v {
                Value::String(s) => s,
                Value::Null => continue,
                other => serde_yaml_ng::to_string(&other)
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            };
            out.resource.push((k, val));
        }
    }
    if issues.is_empty() {
        Ok(out)
    } else {
        Err(issues)
    }
}
