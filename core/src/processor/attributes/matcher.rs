//! Compiled `include`/`exclude` match properties (upstream
//! `internal/filter/filterspan`, `filterlog`, `filtermetric`) and their
//! evaluation on one span, log record or metric. Pure.

use opentelemetry_proto::tonic::common::v1::any_value::Value as Av;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, Span};
use regex::Regex;

use crate::otlp::attrs;

/// A string selector item: equality, or an unanchored regex.
#[derive(Debug, Clone)]
pub enum StrMatch {
    Strict(String),
    Regexp(Regex),
}

impl StrMatch {
    fn is_match(&self, s: &str) -> bool {
        match self {
            StrMatch::Strict(x) => x == s,
            StrMatch::Regexp(r) => r.is_match(s),
        }
    }
}

/// How an attribute's value is matched.
#[derive(Debug, Clone)]
pub enum ValueMatch {
    /// The key is present.
    Present,
    /// Same type and value.
    Strict(AnyValue),
    /// The string, int, double or bool value as text.
    Regexp(Regex),
}

#[derive(Debug, Clone)]
pub struct AttrMatch {
    pub key: String,
    pub value: ValueMatch,
}

#[derive(Debug, Clone)]
pub struct LibMatch {
    pub name: StrMatch,
    /// `None`: any version.
    pub version: Option<StrMatch>,
}

#[derive(Debug, Clone, Copy)]
pub struct Severity {
    pub min: i32,
    pub match_undefined: bool,
}

/// One compiled `include` or `exclude` block: every property set must match.
#[derive(Debug, Clone)]
pub struct Filter {
    /// The keys that were set (to check them against a pipeline's signal).
    pub selectors: Vec<&'static str>,
    pub services: Vec<StrMatch>,
    pub span_names: Vec<StrMatch>,
    pub span_kinds: Vec<StrMatch>,
    pub log_bodies: Vec<StrMatch>,
    pub log_severity_texts: Vec<StrMatch>,
    pub severity: Option<Severity>,
    pub metric_names: Vec<StrMatch>,
    pub attributes: Vec<AttrMatch>,
    pub resources: Vec<AttrMatch>,
    pub libraries: Vec<LibMatch>,
}

/// True when `list` is empty (property unset) or an item matches `s`.
fn any(list: &[StrMatch], s: &str) -> bool {
    list.is_empty() || list.iter().any(|m| m.is_match(s))
}

/// True when `list` is empty or every entry matches in `map`. An empty map
/// matches no entry.
fn all_attrs(list: &[AttrMatch], map: &[KeyValue]) -> bool {
    list.is_empty()
        || (!map.is_empty()
            && list.iter().all(|m| match attrs::get(map, &m.key) {
                None => false,
                Some(v) => m.value.is_match(v),
            }))
}

impl ValueMatch {
    fn is_match(&self, v: &AnyValue) -> bool {
        match self {
            ValueMatch::Present => true,
            ValueMatch::Strict(want) => {
                !matches!(
                    v.value,
                    Some(Av::KvlistValue(_) | Av::ArrayValue(_) | Av::BytesValue(_))
                ) && want == v
            }
            ValueMatch::Regexp(r) => match &v.value {
                Some(Av::StringValue(s)) => r.is_match(s),
                Some(Av::IntValue(_) | Av::DoubleValue(_) | Av::BoolValue(_)) => {
                    r.is_match(&attrs::as_string(v))
                }
                _ => false,
            },
        }
    }
}

fn resource_ok(f: &Filter, resource: &[KeyValue]) -> bool {
    all_attrs(&f.resources, resource)
}

fn scope_ok(f: &Filter, scope: Option<&InstrumentationScope>) -> bool {
    let (name, version) = scope.map_or(("", ""), |s| (s.name.as_str(), s.version.as_str()));
    f.libraries
        .iter()
        .all(|l| l.name.is_match(name) && l.version.as_ref().is_none_or(|v| v.is_match(version)))
}

impl Filter {
    /// Whether a span (in its resource and scope) matches.
    pub fn span(
        &self,
        resource: &[KeyValue],
        scope: Option<&InstrumentationScope>,
        span: &Span,
    ) -> bool {
        if !self.services.is_empty() {
            let service = attrs::get(resource, "service.name")
                .map_or_else(|| "<nil-service-name>".to_string(), attrs::as_string);
            if !any(&self.services, &service) {
                return false;
            }
        }
        let kind = SpanKind::try_from(span.kind).map_or("", |k| k.as_str_name());
        any(&self.span_names, &span.name)
            && any(&self.span_kinds, kind)
            && all_attrs(&self.attributes, &span.attributes)
            && resource_ok(self, resource)
            && scope_ok(self, scope)
    }

    /// Whether a log record (in its resource and scope) matches.
    pub fn log(
        &self,
        resource: &[KeyValue],
        scope: Option<&InstrumentationScope>,
        log: &LogRecord,
    ) -> bool {
        if !self.log_bodies.is_empty() {
            let Some(Av::StringValue(body)) = log.body.as_ref().and_then(|b| b.value.as_ref())
            else {
                return false;
            };
            if !any(&self.log_bodies, body) {
                return false;
            }
        }
        if let Some(s) = self.severity {
            let n = log.severity_number;
            let ok = if n == 0 {
                s.match_undefined
            } else {
                n >= s.min
            };
            if !ok {
                return false;
            }
        }
        any(&self.log_severity_texts, &log.severity_text)
            && all_attrs(&self.attributes, &log.attributes)
            && resource_ok(self, resource)
            && scope_ok(self, scope)
    }

    /// Whether a metric (in its resource) matches.
    pub fn metric(&self, resource: &[KeyValue], metric: &Metric) -> bool {
        any(&self.metric_names, &metric.name) && resource_ok(self, resource)
    }
}

/// `include` then `exclude`: whether an item is processed.
pub fn selected(
    include: Option<&Filter>,
    exclude: Option<&Filter>,
    test: impl Fn(&Filter) -> bool,
) -> bool {
    include.is_none_or(&test) && !exclude.is_some_and(&test)
}
