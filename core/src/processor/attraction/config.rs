//! The YAML of one attribute action (upstream `attraction.ActionKeyValue`) and
//! its pure compilation into an [`Action`], reporting every problem with its path.

use std::cell::Cell;

use opentelemetry_proto::tonic::common::v1::any_value::Value as Av;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList};
use serde::Deserialize;
use serde_yaml_ng::Value;

use super::engine::{Action, Actions, ConvertTo, Source, Target};
use crate::component::ConfigIssue;
use crate::processor::re2;

/// One entry of `actions:` (`attributes`) or `attributes:` (`resource`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ActionConfig {
    /// The attribute the action works on. Required, except that `delete` and
    /// `hash` may name keys with `pattern` alone.
    pub key: String,
    /// `insert`, `update`, `upsert`, `delete`, `hash`, `extract` or `convert`
    /// (case-insensitive).
    pub action: String,
    /// Literal value for `insert`/`update`/`upsert`, typed from YAML: string,
    /// int, double, bool, list or map.
    pub value: Option<Value>,
    /// For `insert`/`update`/`upsert`: copy the value (with its type) of this
    /// attribute of the same map.
    pub from_attribute: String,
    /// Upstream reads request metadata here; Tern keeps none, so setting it is
    /// a config error.
    pub from_context: String,
    /// With `from_attribute`: the value used when that attribute is absent.
    pub default_value: Option<Value>,
    /// `delete`/`hash`: regex over keys (every matching key is affected).
    /// `extract`: regex over the value, with named groups (Go RE2 syntax,
    /// unanchored).
    pub pattern: String,
    /// `convert`: `int`, `double` or `string`.
    pub converted_type: String,
}

const ACTIONS: &str = "insert, update, upsert, delete, hash, extract, convert";

/// Compiles `list`; issue paths are `<field>[i]::key` under `field`.
pub fn compile(field: &str, list: &[ActionConfig]) -> Result<Actions, Vec<ConfigIssue>> {
    let mut issues = Vec::new();
    let mut out = Vec::with_capacity(list.len());
    for (i, a) in list.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let mut report = |k: &str, m: String| {
            let path = if k.is_empty() {
                at.clone()
            } else {
                format!("{at}::{k}")
            };
            issues.push(ConfigIssue::new(path, m));
        };
        if let Some(action) = compile_one(a, &mut report) {
            out.push(action);
        }
    }
    if issues.is_empty() {
        Ok(Actions::new(out))
    } else {
        Err(issues)
    }
}

/// Compiles one action; reports problems through `report(key, message)` and
/// returns `None` when there was one.
fn compile_one(a: &ActionConfig, report: &mut impl FnMut(&str, String)) -> Option<Action> {
    let before = Cell::default();
    let mut report = |k: &str, m: String| {
        before.set(true);
        report(k, m)
    };
    let kind = a.action.to_ascii_lowercase();
    let sets = matches!(kind.as_str(), "insert" | "update" | "upsert");
    let by_pattern = matches!(kind.as_str(), "delete" | "hash");
    if !a.from_context.is_empty() {
        report(
            "from_context",
            "from_context is not supported: Tern does not keep request metadata (headers, \
             auth, client address); use value or from_attribute"
                .into(),
        );
    }
    let named_by_pattern = by_pattern && !a.pattern.is_empty();
    if a.key.is_empty() && !named_by_pattern {
        let m = if by_pattern {
            format!("{kind} needs key or pattern")
        } else {
            "missing required field \"key\"".into()
        };
        report("key", m);
    }
    let value = a.value.as_ref().filter(|v| !v.is_null());
    let default = a.default_value.as_ref().filter(|v| !v.is_null());
    if !sets {
        if value.is_some() {
            report("value", format!("{kind} takes no value"));
        }
        if !a.from_attribute.is_empty() {
            report("from_attribute", format!("{kind} takes no from_attribute"));
        }
        if default.is_some() {
            report("default_value", format!("{kind} takes no default_value"));
        }
    }
    let takes_pattern = by_pattern || kind == "extract";
    if !takes_pattern && !a.pattern.is_empty() {
        report("pattern", format!("{kind} takes no pattern"));
    }
    if kind != "convert" && !a.converted_type.is_empty() {
        report("converted_type", format!("{kind} takes no converted_type"));
    }
    let pattern = if a.pattern.is_empty() {
        None
    } else {
        match re2::compile(&a.pattern) {
            Ok(r) => Some(r),
            Err(m) => {
                report("pattern", m);
                None
            }
        }
    };
    let key = a.key.clone();
    let action = match kind.as_str() {
        "insert" | "update" | "upsert" => {
            let source = match (value, a.from_attribute.is_empty()) {
                (Some(_), false) => {
                    report(
                        "",
                        "only one of value, from_attribute and from_context may be set".into(),
                    );
                    None
                }
                (Some(v), true) => {
                    if default.is_some() {
                        report(
                            "default_value",
                            "default_value is used only with from_attribute".into(),
                        );
                    }
                    yaml_value(v, "value", &mut report).map(Source::Value)
                }
                (None, false) => {
                    let default = match default {
                        Some(d) => yaml_value(d, "default_value", &mut report),
                        None => None,
                    };
                    Some(Source::Attribute {
                        key: a.from_attribute.clone(),
                        default,
                    })
                }
                (None, true) => {
                    if a.from_context.is_empty() {
                        report(
                            "",
                            format!("{kind} needs one of value, from_attribute or from_context"),
                        );
                    }
                    None
                }
            };
            source.map(|source| match kind.as_str() {
                "insert" => Action::Insert { key, source },
                "update" => Action::Update { key, source },
                _ => Action::Upsert { key, source },
            })
        }
        "delete" | "hash" => {
            let target = Target {
                key: (!key.is_empty()).then_some(key),
                pattern,
            };
            Some(if kind == "delete" {
                Action::Delete(target)
            } else {
                Action::Hash(target)
            })
        }
        "extract" => match pattern {
            None if a.pattern.is_empty() => {
                report(
                    "pattern",
                    "extract needs a pattern with named groups".into(),
                );
                None
            }
            None => None,
            Some(regex) => {
                let names: Vec<String> =
                    regex.capture_names().flatten().map(String::from).collect();
                if names.is_empty() || regex.captures_len() - 1 != names.len() {
                    report(
                        "pattern",
                        "every capture group of an extract pattern must be named, and there \
                         must be at least one ((?P<name>...))"
                            .into(),
                    );
                    None
                } else {
                    Some(Action::Extract { key, regex, names })
                }
            }
        },
        "convert" => {
            let to = match a.converted_type.as_str() {
                "int" => Some(ConvertTo::Int),
                "double" => Some(ConvertTo::Double),
                "string" => Some(ConvertTo::String),
                "" => {
                    report("converted_type", "convert needs converted_type".into());
                    None
                }
                other => {
                    report(
                        "converted_type",
                        format!("unknown converted_type {other:?}; expected int, double or string"),
                    );
                    None
                }
            };
            to.map(|to| Action::Convert { key, to })
        }
        "" => {
            report(
                "action",
                format!("missing action; expected one of {ACTIONS}"),
            );
            None
        }
        other => {
            report(
                "action",
                format!("unknown action {other:?}; expected one of {ACTIONS}"),
            );
            None
        }
    };
    if before.get() {
        None
    } else {
        action
    }
}

/// A YAML scalar, list or map as an OTLP value (`None` after reporting).
pub fn yaml_value(
    v: &Value,
    field: &str,
    report: &mut impl FnMut(&str, String),
) -> Option<AnyValue> {
    let value = match v {
        Value::Null => None,
        Value::Bool(b) => Some(Av::BoolValue(*b)),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Some(Av::IntValue(i)),
            (None, Some(f)) if n.is_f64() => Some(Av::DoubleValue(f)),
            _ => {
                report(
                    field,
                    format!("number {n} does not fit a 64-bit signed integer"),
                );
                return None;
            }
        },
        Value::String(s) => Some(Av::StringValue(s.clone())),
        Value::Sequence(items) => {
            let mut values = Vec::with_capacity(items.len());
            for item in items {
                values.push(yaml_value(item, field, report)?);
            }
            Some(Av::ArrayValue(ArrayValue { values }))
        }
        Value::Mapping(m) => {
            let mut values = Vec::with_capacity(m.len());
            for (k, item) in m {
                let Some(k) = k.as_str() else {
                    report(field, format!("map keys must be strings, found {k:?}"));
                    return None;
                };
                values.push(KeyValue {
                    key: k.to_string(),
                    value: Some(yaml_value(item, field, report)?),
                    ..Default::default()
                });
            }
            Some(Av::KvlistValue(KeyValueList { values }))
        }
        Value::Tagged(t) => {
            report(field, format!("YAML tag {} is not supported", t.tag));
            return None;
        }
    };
    Some(AnyValue { value })
}
