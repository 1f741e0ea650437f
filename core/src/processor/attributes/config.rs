//! `processors: attributes:` — the YAML and its pure validation. Compiling it
//! gives the action list and the include/exclude [`Filter`]s.

use serde::Deserialize;
use serde_yaml_ng::Value;

use super::matcher::{AttrMatch, Filter, LibMatch, Severity, StrMatch, ValueMatch};
use crate::component::{ConfigIssue, Validate};
use crate::otlp::SignalKind;
use crate::processor::attraction::{self, config::yaml_value, ActionConfig, Actions};
use crate::processor::re2;

/// `processors: attributes:`
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AttributesConfig {
    /// Actions run in order on the attributes of each selected span, log record
    /// or data point (required, at least one).
    pub actions: Vec<ActionConfig>,
    /// Only items matching these properties are processed (unset: all).
    pub include: Option<MatchConfig>,
    /// Items matching these properties are not processed (tested after `include`).
    pub exclude: Option<MatchConfig>,
}

/// Match properties of `include` / `exclude`. The properties set are ANDed.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MatchConfig {
    /// `strict` (string equality) or `regexp` (unanchored Go RE2). Required.
    pub match_type: String,
    /// Upstream's cache of regexp results; accepted, not needed (patterns are compiled once).
    pub regexp: Option<RegexpCacheConfig>,
    /// Spans: the resource's `service.name` (`<nil-service-name>` when absent) matches any item.
    pub services: Vec<String>,
    /// Spans: the span name matches any item.
    pub span_names: Vec<String>,
    /// Spans: the span kind (`SPAN_KIND_SERVER`, …) matches any item.
    pub span_kinds: Vec<String>,
    /// Logs: a string body matches any item.
    pub log_bodies: Vec<String>,
    /// Logs: the severity text matches any item.
    pub log_severity_texts: Vec<String>,
    /// Logs: the severity number is at least `min`.
    pub log_severity_number: Option<SeverityConfig>,
    /// Metrics: the metric name matches any item.
    pub metric_names: Vec<String>,
    /// Spans and logs: every listed item attribute matches (no `value`: the key is present).
    pub attributes: Vec<AttributeConfig>,
    /// Every listed resource attribute matches (no `value`: the key is present).
    pub resources: Vec<AttributeConfig>,
    /// Spans and logs: the instrumentation scope matches every listed entry.
    pub libraries: Vec<LibraryConfig>,
}

/// `regexp:` (accepted for compatibility).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RegexpCacheConfig {
    /// Accepted, ignored.
    pub cacheenabled: bool,
    /// Accepted, ignored.
    pub cachemaxnumentries: usize,
}

/// `log_severity_number:`
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SeverityConfig {
    /// Lowest matching severity: a number (1–24) or a name (`TRACE` … `FATAL4`).
    pub min: Value,
    /// Whether records without a severity (0) match.
    pub match_undefined: bool,
}

/// One entry of `attributes:` / `resources:`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AttributeConfig {
    /// The attribute key (required).
    pub key: String,
    /// `strict`: the value, compared with its type (int `200` is not string
    /// `"200"`). `regexp`: a string pattern matched against the value as text.
    pub value: Option<Value>,
}

/// One entry of `libraries:`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LibraryConfig {
    /// The scope name (required).
    pub name: String,
    /// The scope version (unset: any; `""`: only an empty version).
    pub version: Option<String>,
}

impl AttributesConfig {
    /// The compiled actions and filters (errors carry paths relative to this config).
    pub fn compile(&self) -> Result<(Actions, Option<Filter>, Option<Filter>), Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        let actions = if self.actions.is_empty() {
            issues.push(ConfigIssue::new(
                "actions",
                "at least one action is required",
            ));
            None
        } else {
            attraction::compile("actions", &self.actions)
                .map_err(|mut v| issues.append(&mut v))
                .ok()
        };
        let mut filter = |name: &str, m: &Option<MatchConfig>| match m {
            None => None,
            Some(m) => {
                let before = issues.len();
                let f = m.compile(&mut |k: &str, msg: String| {
                    let path = if k.is_empty() {
                        name.to_string()
                    } else {
                        format!("{name}::{k}")
                    };
                    issues.push(ConfigIssue::new(path, msg));
                });
                (issues.len() == before).then_some(f)
            }
        };
        let include = filter("include", &self.include);
        let exclude = filter("exclude", &self.exclude);
        match actions {
            Some(a) if issues.is_empty() => Ok((a, include, exclude)),
            _ => Err(issues),
        }
    }
}

impl Validate for AttributesConfig {
    fn validate(&self) -> Vec<ConfigIssue> {
        self.compile().err().unwrap_or_default()
    }
}

const SPAN_KINDS: [&str; 6] = [
    "SPAN_KIND_UNSPECIFIED",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
];

impl MatchConfig {
    /// The selectors set, by key name.
    fn selectors(&self) -> Vec<&'static str> {
        let set = [
            ("services", !self.services.is_empty()),
            ("span_names", !self.span_names.is_empty()),
            ("span_kinds", !self.span_kinds.is_empty()),
            ("log_bodies", !self.log_bodies.is_empty()),
            ("log_severity_texts", !self.log_severity_texts.is_empty()),
            ("log_severity_number", self.log_severity_number.is_some()),
            ("metric_names", !self.metric_names.is_empty()),
            ("attributes", !self.attributes.is_empty()),
            ("resources", !self.resources.is_empty()),
            ("libraries", !self.libraries.is_empty()),
        ];
        set.into_iter().filter(|s| s.1).map(|s| s.0).collect()
    }

    fn compile(&self, report: &mut impl FnMut(&str, String)) -> Filter {
        let regexp = match self.match_type.as_str() {
            "strict" => false,
            "regexp" => true,
            "" => {
                report(
                    "match_type",
                    "match_type is required: strict or regexp".into(),
                );
                false
            }
            other => {
                report(
                    "match_type",
                    format!("unknown match_type {other:?}; expected strict or regexp"),
                );
                false
            }
        };
        let selectors = self.selectors();
        let signals: Vec<SignalKind> = SignalKind::ALL
            .into_iter()
            .filter(|s| selectors.iter().all(|k| allowed(*s).contains(k)))
            .collect();
        if selectors.is_empty() {
            report(
                "",
                "set at least one property to match on (services, span_names, span_kinds, \
                 log_bodies, log_severity_texts, log_severity_number, metric_names, attributes, \
                 resources, libraries)"
                    .into(),
            );
        } else if signals.is_empty() {
            report(
                "",
                format!(
                    "{} cannot be used together: no signal has all of them",
                    selectors.join(", ")
                ),
            );
        }
        let mut strs = |key: &str, items: &[String]| -> Vec<StrMatch> {
            items
                .iter()
                .enumerate()
                .filter_map(|(i, s)| str_match(regexp, s, &format!("{key}[{i}]"), report))
                .collect()
        };
        let services = strs("services", &self.services);
        let span_names = strs("span_names", &self.span_names);
        let span_kinds = strs("span_kinds", &self.span_kinds);
        let log_bodies = strs("log_bodies", &self.log_bodies);
        let log_severity_texts = strs("log_severity_texts", &self.log_severity_texts);
        let metric_names = strs("metric_names", &self.metric_names);
        if !regexp {
            for (i, k) in self.span_kinds.iter().enumerate() {
                if !SPAN_KINDS.contains(&k.as_str()) {
                    report(
                        &format!("span_kinds[{i}]"),
                        format!(
                            "unknown span kind {k:?}; expected one of {}",
                            SPAN_KINDS.join(", ")
                        ),
                    );
                }
            }
        }
        let severity = self.log_severity_number.as_ref().and_then(|s| {
            match severity_number(&s.min) {
                Some(min) => Some(Severity {
                    min,
                    match_undefined: s.match_undefined,
                }),
                None => {
                    report(
                        "log_severity_number::min",
                        format!(
                            "invalid severity {:?}; expected 1 to 24 or a name such as INFO or ERROR2",
                            s.min
                        ),
                    );
                    None
                }
            }
        });
        let mut attr_list = |key: &str, items: &[AttributeConfig]| -> Vec<AttrMatch> {
            let mut out = Vec::new();
            for (i, a) in items.iter().enumerate() {
                let at = format!("{key}[{i}]");
                if a.key.is_empty() {
                    report(
                        &format!("{at}::key"),
                        "missing required field \"key\"".into(),
                    );
                    continue;
                }
                let value = match a.value.as_ref().filter(|v| !v.is_null()) {
                    None => ValueMatch::Present,
                    Some(Value::String(p)) if regexp => match re2::compile(p) {
                        Ok(r) => ValueMatch::Regexp(r),
                        Err(m) => {
                            report(&format!("{at}::value"), m);
                            continue;
                        }
                    },
                    Some(_) if regexp => {
                        report(
                            &format!("{at}::value"),
                            "with match_type regexp the value must be a string pattern".into(),
                        );
                        continue;
                    }
                    Some(v) => match yaml_value(v, &format!("{at}::value"), report) {
                        Some(v) => ValueMatch::Strict(v),
                        None => continue,
                    },
                };
                out.push(AttrMatch {
                    key: a.key.clone(),
                    value,
                });
            }
            out
        };
        let attributes = attr_list("attributes", &self.attributes);
        let resources = attr_list("resources", &self.resources);
        let mut libraries = Vec::new();
        for (i, l) in self.libraries.iter().enumerate() {
            let at = format!("libraries[{i}]");
            if l.name.is_empty() {
                report(
                    &format!("{at}::name"),
                    "missing required field \"name\"".into(),
                );
                continue;
            }
            let name = str_match(regexp, &l.name, &format!("{at}::name"), report);
            let version = match l.version.as_deref() {
                None => Some(None),
                Some("") => Some(Some(StrMatch::Strict(String::new()))),
                Some(v) => str_match(regexp, v, &format!("{at}::version"), report).map(Some),
            };
            if let (Some(name), Some(version)) = (name, version) {
                libraries.push(LibMatch { name, version });
            }
        }
        Filter {
            selectors,
            services,
            span_names,
            span_kinds,
            log_bodies,
            log_severity_texts,
            severity,
            metric_names,
            attributes,
            resources,
            libraries,
        }
    }
}

/// The selectors a signal supports.
pub fn allowed(signal: SignalKind) -> &'static [&'static str] {
    match signal {
        SignalKind::Traces => &[
            "services",
            "span_names",
            "span_kinds",
            "attributes",
            "resources",
            "libraries",
        ],
        SignalKind::Logs => &[
            "log_bodies",
            "log_severity_texts",
            "log_severity_number",
            "attributes",
            "resources",
            "libraries",
        ],
        SignalKind::Metrics => &["metric_names", "resources"],
    }
}

fn str_match(
    regexp: bool,
    s: &str,
    path: &str,
    report: &mut impl FnMut(&str, String),
) -> Option<StrMatch> {
    if !regexp {
        return Some(StrMatch::Strict(s.to_string()));
    }
    match re2::compile(s) {
        Ok(r) => Some(StrMatch::Regexp(r)),
        Err(m) => {
            report(path, m);
            None
        }
    }
}

/// A severity number from YAML: 1–24 or an upstream name (`INFO`, `ERROR2`, …).
fn severity_number(v: &Value) -> Option<i32> {
    let n = match v {
        Value::Number(n) => i32::try_from(n.as_i64()?).ok()?,
        Value::String(s) => {
            let s = s.to_ascii_uppercase();
            let (name, step) = match s.char_indices().find(|(_, c)| c.is_ascii_digit()) {
                Some((i, _)) => (&s[..i], s[i..].parse::<i32>().ok()?),
                None => (s.as_str(), 1),
            };
            let base = match name {
                "TRACE" => 1,
                "DEBUG" => 5,
                "INFO" => 9,
                "WARN" => 13,
                "ERROR" => 17,
                "FATAL" => 21,
                _ => return None,
            };
            if !(1..=4).contains(&step) {
                return None;
            }
            base + step - 1
        }
        _ => return None,
    };
    (1..=24).contains(&n).then_some(n)
}
