//! The extension's settings: where the collector config comes from, and the
//! `lambda` section (flush policy, deadlines, Telemetry API listener) with its
//! `TERN_LAMBDA_*` environment overrides. Pure apart from reading the config.

use std::time::Duration;

use serde::Deserialize;
use serde_yaml_ng::Value;
use tern_core::config::duration::parse_duration;
use tern_core::config::{self, ConfigSource, ValidatedConfig};
use tern_core::registry::{ConfigIssue, Registry};

use crate::flush::{FlushMode, FlushSettings};

/// The embedded default config.
pub const DEFAULT_CONFIG: &str = include_str!("default.yaml");

/// The variable naming the config (as the OpenTelemetry and ADOT layers).
pub const CONFIG_URI_VAR: &str = "OPENTELEMETRY_COLLECTOR_CONFIG_URI";

/// Everything the lifecycle needs besides the collector config.
#[derive(Debug, Clone, PartialEq)]
pub struct LambdaSettings {
    pub flush: FlushSettings,
    /// Upper bound of one flush (end of invocation, periodic, backup).
    pub flush_timeout: Duration,
    /// Upper bound on waiting for `platform.runtimeDone` (the invocation's own
    /// deadline bounds it too).
    pub runtime_done_timeout: Duration,
    /// The SHUTDOWN drain ends this long before `deadlineMs`.
    pub shutdown_margin: Duration,
    /// Listener of the Telemetry API (`host:port`, port 0 = any).
    pub telemetry_endpoint: String,
    /// Host the Telemetry API delivers to (in the subscription URI).
    pub telemetry_host: String,
    /// Telemetry API buffering `timeoutMs`.
    pub telemetry_timeout_ms: u32,
}

impl Default for LambdaSettings {
    fn default() -> Self {
        LambdaSettings {
            flush: FlushSettings::default(),
            flush_timeout: Duration::from_secs(3),
            runtime_done_timeout: Duration::from_secs(900),
            shutdown_margin: Duration::from_millis(100),
            telemetry_endpoint: "0.0.0.0:0".into(),
            telemetry_host: "sandbox.localdomain".into(),
            telemetry_timeout_ms: 25,
        }
    }
}

/// The `lambda` section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLambda {
    flush_mode: Option<String>,
    periodic_interval: Option<String>,
    active_invocation_gap: Option<String>,
    warmup_invocations: Option<u32>,
    reset_gap: Option<String>,
    backup_interval: Option<String>,
    flush_timeout: Option<String>,
    runtime_done_timeout: Option<String>,
    shutdown_margin: Option<String>,
    telemetry_endpoint: Option<String>,
    telemetry_host: Option<String>,
    telemetry_timeout_ms: Option<u32>,
}

/// Where the config comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigLocation {
    Default,
    File(String),
    Http(String),
    S3(S3Object),
}

/// An object named by `s3://bucket/key` or `s3://bucket.s3.region.amazonaws.com/key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Object {
    pub bucket: String,
    pub key: String,
    /// From the host form; otherwise the function's region.
    pub region: Option<String>,
}

fn parse_s3(v: &str) -> Result<S3Object, String> {
    let rest = v.strip_prefix("s3://").unwrap_or(v);
    let (host, key) = rest
        .split_once('/')
        .ok_or_else(|| format!("{CONFIG_URI_VAR}={v}: expected s3://bucket/key"))?;
    let (bucket, region) = match host.split_once(".s3.") {
        Some((b, r)) => {
            let region = r.strip_suffix(".amazonaws.com").unwrap_or(r);
            (
                b.to_string(),
                (!region.is_empty()).then(|| region.to_string()),
            )
        }
        None => (host.to_string(), None),
    };
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-".contains(c);
    if bucket.is_empty() || key.is_empty() || !key.chars().all(plain) || key.contains("//") {
        return Err(format!(
            "{CONFIG_URI_VAR}={v}: expected s3://bucket/key with a key of letters, digits, '/', '.', '_' and '-'"
        ));
    }
    Ok(S3Object {
        bucket,
        key: key.to_string(),
        region,
    })
}

/// Reads `OPENTELEMETRY_COLLECTOR_CONFIG_URI`.
pub fn config_location(value: Option<&str>) -> Result<ConfigLocation, String> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(ConfigLocation::Default);
    };
    if v.starts_with("http://") || v.starts_with("https://") {
        return Ok(ConfigLocation::Http(v.to_string()));
    }
    if v.starts_with("s3://") {
        return parse_s3(v).map(ConfigLocation::S3);
    }
    if let Some(p) = v.strip_prefix("file://") {
        return Ok(ConfigLocation::File(p.to_string()));
    }
    if let Some(p) = v.strip_prefix("file:") {
        return Ok(ConfigLocation::File(p.to_string()));
    }
    if let Some((scheme, _)) = v.split_once("://") {
        return Err(format!(
            "{CONFIG_URI_VAR}={v}: unsupported scheme {scheme:?} (use a file path, file:, http:// or https://)"
        ));
    }
    Ok(ConfigLocation::File(v.to_string()))
}

/// Loads YAML text (already fetched when remote), splits off the `lambda`
/// section, validates both. Every problem is reported with its path.
pub fn load(
    source: ConfigSource,
    registry: &Registry,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(ValidatedConfig, LambdaSettings), Vec<ConfigIssue>> {
    let mut root = config::load(&[source], lookup)?;
    let raw_lambda = match &mut root {
        Value::Mapping(m) => m.remove("lambda"),
        _ => None,
    };
    let lambda = lambda_settings(raw_lambda, lookup);
    let cfg = config::validate(&root, registry);
    match (cfg, lambda) {
        (Ok(c), Ok(l)) => Ok((c, l)),
        (Err(mut a), Err(b)) => {
            a.extend(b);
            Err(a)
        }
        (Err(a), Ok(_)) | (Ok(_), Err(a)) => Err(a),
    }
}

/// The `lambda` section, then `TERN_LAMBDA_*` variables over it.
pub fn lambda_settings(
    raw: Option<Value>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<LambdaSettings, Vec<ConfigIssue>> {
    let mut raw: RawLambda = match raw {
        None | Some(Value::Null) => RawLambda::default(),
        Some(v) => serde_path_to_error_free(v)?,
    };
    let env = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    macro_rules! over {
        ($field:ident, $var:literal) => {
            if let Some(v) = env($var) {
                raw.$field = Some(v);
            }
        };
    }
    over!(flush_mode, "TERN_LAMBDA_FLUSH_MODE");
    over!(periodic_interval, "TERN_LAMBDA_PERIODIC_INTERVAL");
    over!(backup_interval, "TERN_LAMBDA_BACKUP_INTERVAL");
    over!(flush_timeout, "TERN_LAMBDA_FLUSH_TIMEOUT");
    over!(runtime_done_timeout, "TERN_LAMBDA_RUNTIME_DONE_TIMEOUT");
    over!(shutdown_margin, "TERN_LAMBDA_SHUTDOWN_MARGIN");
    over!(telemetry_endpoint, "TERN_LAMBDA_TELEMETRY_ENDPOINT");

    let mut issues = Vec::new();
    let mut out = LambdaSettings::default();
    let mut dur = |name: &str, v: &Option<String>, slot: &mut Duration| {
        if let Some(s) = v {
            match parse_duration(s) {
                Ok(d) => *slot = d,
                Err(e) => issues.push(ConfigIssue::new(format!("lambda::{name}"), e)),
            }
        }
    };
    dur(
        "periodic_interval",
        &raw.periodic_interval,
        &mut out.flush.periodic_interval,
    );
    dur(
        "active_invocation_gap",
        &raw.active_invocation_gap,
        &mut out.flush.active_invocation_gap,
    );
    dur("reset_gap", &raw.reset_gap, &mut out.flush.reset_gap);
    dur(
        "backup_interval",
        &raw.backup_interval,
        &mut out.flush.backup_interval,
    );
    dur("flush_timeout", &raw.flush_timeout, &mut out.flush_timeout);
    dur(
        "runtime_done_timeout",
        &raw.runtime_done_timeout,
        &mut out.runtime_done_timeout,
    );
    dur(
        "shutdown_margin",
        &raw.shutdown_margin,
        &mut out.shutdown_margin,
    );
    if let Some(m) = &raw.flush_mode {
        match m.parse::<FlushMode>() {
            Ok(m) => out.flush.mode = m,
            Err(e) => issues.push(ConfigIssue::new("lambda::flush_mode", e)),
        }
    }
    if let Some(n) = raw.warmup_invocations {
        if n == 0 {
            issues.push(ConfigIssue::new(
                "lambda::warmup_invocations",
                "must be at least 1",
            ));
        }
        out.flush.warmup_invocations = n.max(1);
    }
    for (name, d) in [
        ("periodic_interval", out.flush.periodic_interval),
        ("backup_interval", out.flush.backup_interval),
        ("flush_timeout", out.flush_timeout),
        ("runtime_done_timeout", out.runtime_done_timeout),
    ] {
        if d.is_zero() {
            issues.push(ConfigIssue::new(
                format!("lambda::{name}"),
                "must be greater than 0",
            ));
        }
    }
    if let Some(e) = raw.telemetry_endpoint {
        if !e.contains(':') {
            issues.push(ConfigIssue::new(
                "lambda::telemetry_endpoint",
                format!("{e:?} must be host:port"),
            ));
        }
        out.telemetry_endpoint = e;
    }
    if let Some(h) = raw.telemetry_host {
        out.telemetry_host = h;
    }
    if let Some(t) = raw.telemetry_timeout_ms {
        if !(25..=30_000).contains(&t) {
            issues.push(ConfigIssue::new(
                "lambda::telemetry_timeout_ms",
                "must be between 25 and 30000 (Telemetry API limits)",
            ));
        }
        out.telemetry_timeout_ms = t;
    }
    if issues.is_empty() {
        Ok(out)
    } else {
        Err(issues)
    }
}

fn serde_path_to_error_free(v: Value) -> Result<RawLambda, Vec<ConfigIssue>> {
    serde_yaml_ng::from_value::<RawLambda>(v)
        .map_err(|e| vec![ConfigIssue::new("lambda", e.to_string())])
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
