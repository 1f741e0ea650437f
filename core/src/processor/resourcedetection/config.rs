//! `processors: resourcedetection:` (upstream key names), its defaults and
//! pure validation.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use opentelemetry_proto::tonic::common::v1::KeyValue;
use serde::Deserialize;

use crate::component::{ConfigIssue, Validate};
use crate::config::duration::GoDuration;

use super::detect::{Detector, SUPPORTED};

/// `processors: resourcedetection:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResourceDetectionConfig {
    /// Detectors in priority order: the first one to set a key wins. Supported:
    /// `env`, `system`, `ec2`, `ecs`, `lambda`, `elastic_beanstalk`.
    pub detectors: Vec<String>,
    /// Bound on every metadata request and on the whole detection (default 5s).
    pub timeout: GoDuration,
    /// true: detected values replace existing resource attributes; false: only
    /// missing keys are added.
    #[serde(rename = "override")]
    pub override_existing: bool,
    /// Periodic re-detection; only 0 (detect once at start) is supported.
    pub refresh_interval: GoDuration,
    /// An unreachable instance metadata service is an error instead of "not on EC2".
    pub fail_on_missing_metadata: bool,
    /// Deprecated allow-list of keys (old releases): when set, only these keys are added.
    pub attributes: Vec<String>,
    /// The `system` detector.
    pub system: SystemConfig,
    /// The `ec2` detector.
    pub ec2: Ec2Config,
    /// The `ecs` detector.
    pub ecs: DetectorConfig,
    /// The `lambda` detector.
    pub lambda: DetectorConfig,
    /// The `elastic_beanstalk` detector (block key spelled as upstream).
    pub elasticbeanstalk: DetectorConfig,
    /// The merged resource of this ID, detected once by `prepare`.
    #[serde(skip)]
    pub(super) detected: OnceLock<Arc<Vec<KeyValue>>>,
}

impl Default for ResourceDetectionConfig {
    fn default() -> Self {
        ResourceDetectionConfig {
            detectors: vec!["env".into()],
            timeout: GoDuration::from_secs(5),
            override_existing: true,
            refresh_interval: GoDuration::default(),
            fail_on_missing_metadata: false,
            attributes: Vec::new(),
            system: SystemConfig::default(),
            ec2: Ec2Config::default(),
            ecs: DetectorConfig::default(),
            lambda: DetectorConfig::default(),
            elasticbeanstalk: DetectorConfig::default(),
            detected: OnceLock::new(),
        }
    }
}

/// `resource_attributes.<key>`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeToggle {
    /// Whether the detector sets this key.
    pub enabled: bool,
}

/// A detector block with only `resource_attributes`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorConfig {
    /// Per-key switches (`<key>: {enabled: bool}`) overriding the defaults.
    pub resource_attributes: BTreeMap<String, AttributeToggle>,
}

/// `system:`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SystemConfig {
    /// Where `host.name` comes from, first success wins. Only `os` (the
    /// kernel's host name) is supported: `dns`, `cname` and `lookup` need DNS
    /// lookups Tern does not make.
    pub hostname_sources: Vec<String>,
    /// Per-key switches (`<key>: {enabled: bool}`) overriding the defaults.
    pub resource_attributes: BTreeMap<String, AttributeToggle>,
}

impl Default for SystemConfig {
    fn default() -> Self {
        SystemConfig {
            hostname_sources: vec!["os".into()],
            resource_attributes: BTreeMap::new(),
        }
    }
}

/// `ec2:`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ec2Config {
    /// Regexes of instance tag keys to add as `ec2.tag.<key>`. Not supported
    /// yet: a non-empty list is a config error.
    pub tags: Vec<String>,
    /// Read tags from instance metadata instead of `ec2:DescribeTags` (with `tags`).
    pub tags_from_imds: bool,
    /// Accepted for compatibility (SDK retry setting, deprecated upstream).
    pub max_attempts: Option<u32>,
    /// Accepted for compatibility (SDK retry setting, deprecated upstream).
    pub max_backoff: Option<GoDuration>,
    /// Deprecated per-detector form of the top-level `fail_on_missing_metadata`.
    pub fail_on_missing_metadata: bool,
    /// Per-key switches (`<key>: {enabled: bool}`) overriding the defaults.
    pub resource_attributes: BTreeMap<String, AttributeToggle>,
}

impl ResourceDetectionConfig {
    /// The configured detectors, in order (after validation all are known).
    pub fn detector_list(&self) -> Vec<Detector> {
        self.detectors
            .iter()
            .filter_map(|d| Detector::from_name(d))
            .collect()
    }

    /// The per-key switches of `d`.
    pub fn toggles(&self, d: Detector) -> Option<&BTreeMap<String, AttributeToggle>> {
        match d {
            Detector::Env => None,
            Detector::System => Some(&self.system.resource_attributes),
            Detector::Ec2 => Some(&self.ec2.resource_attributes),
            Detector::Ecs => Some(&self.ecs.resource_attributes),
            Detector::Lambda => Some(&self.lambda.resource_attributes),
            Detector::ElasticBeanstalk => Some(&self.elasticbeanstalk.resource_attributes),
        }
    }

    /// Whether detector `d` sets `key`.
    pub fn enabled(&self, d: Detector, key: &str) -> bool {
        match self.toggles(d).and_then(|t| t.get(key)) {
            Some(t) => t.enabled,
            None => d.default_on(key),
        }
    }
}

fn toggle_issues(
    block: &str,
    d: Detector,
    toggles: &BTreeMap<String, AttributeToggle>,
) -> Vec<ConfigIssue> {
    let mut v = Vec::new();
    for (key, t) in toggles {
        let path = format!("{block}::resource_attributes::{key}");
        if d.keys().contains(&key.as_str()) {
            continue;
        }
        if t.enabled && d.unsupported_keys().contains(&key.as_str()) {
            v.push(ConfigIssue::new(
                path,
                format!(
                    "attribute `{key}` of the `{}` detector is not supported by Tern",
                    d.name()
                ),
            ));
        } else if !d.unsupported_keys().contains(&key.as_str()) {
            v.push(ConfigIssue::new(
                path,
                format!(
                    "unknown attribute `{key}` for the `{}` detector; known: {}",
                    d.name(),
                    d.keys().join(", ")
                ),
            ));
        }
    }
    v
}

impl Validate for ResourceDetectionConfig {
    fn validate(&self) -> Vec<ConfigIssue> {
        let mut v = Vec::new();
        for (i, name) in self.detectors.iter().enumerate() {
            if Detector::from_name(name).is_none() {
                v.push(ConfigIssue::new(
                    format!("detectors::{i}"),
                    format!(
                        "detector `{name}` is not supported by Tern; supported: {}",
                        SUPPORTED.join(", ")
                    ),
                ));
            }
        }
        if self.timeout.0.is_zero() {
            v.push(ConfigIssue::new(
                "timeout",
                "'timeout' must be greater than zero",
            ));
        }
        if !self.refresh_interval.0.is_zero() {
            v.push(ConfigIssue::new(
                "refresh_interval",
                "periodic re-detection is not supported by Tern; remove 'refresh_interval' (detection runs once at start)",
            ));
        }
        for (i, s) in self.system.hostname_sources.iter().enumerate() {
            let path = format!("system::hostname_sources::{i}");
            match s.as_str() {
                "os" => {}
                "dns" | "cname" | "lookup" => v.push(ConfigIssue::new(
                    path,
                    format!("hostname source `{s}` needs a DNS lookup, which Tern does not make; use `os`"),
                )),
                other => v.push(ConfigIssue::new(
                    path,
                    format!("unknown hostname source `{other}`; Tern supports `os`"),
                )),
            }
        }
        if !self.ec2.tags.is_empty() {
            v.push(ConfigIssue::new(
                "ec2::tags",
                "EC2 instance tags (`ec2.tags`) are not supported by Tern yet; remove the list",
            ));
        }
        v.extend(toggle_issues(
            "system",
            Detector::System,
            &self.system.resource_attributes,
        ));
        v.extend(toggle_issues(
            "ec2",
            Detector::Ec2,
            &self.ec2.resource_attributes,
        ));
        v.extend(toggle_issues(
            "ecs",
            Detector::Ecs,
            &self.ecs.resource_attributes,
        ));
        v.extend(toggle_issues(
            "lambda",
            Detector::Lambda,
            &self.lambda.resource_attributes,
        ));
        v.extend(toggle_issues(
            "elasticbeanstalk",
            Detector::ElasticBeanstalk,
            &self.elasticbeanstalk.resource_attributes,
        ));
        v
    }
}
