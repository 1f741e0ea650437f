//! `processors: metricstransform:` configuration (upstream keys) and its pure validation.

use serde::Deserialize;
use serde_yaml_ng::Value;

use super::aggregate::Aggregation;
use crate::component::{ConfigIssue, Validate};
use crate::processor::re2;

/// `processors: metricstransform:`
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsTransformConfig {
    /// Transforms applied in order to every scope's metrics.
    pub transforms: Vec<TransformConfig>,
}

/// One entry of `transforms`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TransformConfig {
    /// Metric name (`strict`) or unanchored regex (`regexp`) selecting metrics. Required.
    pub include: String,
    /// Deprecated upstream spelling of `include`.
    pub metric_name: String,
    /// `strict` (default) or `regexp`.
    pub match_type: String,
    /// `update` (change matching metrics in place) or `insert` (append a changed
    /// copy). `combine` and `group` are not supported yet.
    pub action: String,
    /// New metric name; with `regexp`, `$1`/`${1}`/`${name}` insert capture groups.
    /// Required by `insert`.
    pub new_name: String,
    /// Operations applied in order to each selected metric.
    pub operations: Vec<OperationConfig>,
    /// Upstream data-point filter: not supported yet (must be absent).
    pub experimental_match_labels: Option<Value>,
    /// Upstream `group` action key: not supported yet (must be absent).
    pub group_resource_labels: Option<Value>,
    /// Upstream `combine` key: not supported yet (must be absent).
    pub aggregation_type: String,
    /// Upstream `combine` key: not supported yet (must be absent).
    pub submatch_case: String,
}

/// One entry of `operations`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OperationConfig {
    /// `add_label`, `update_label`, `delete_label_value`, `toggle_scalar_data_type`,
    /// `experimental_scale_value`, `aggregate_labels` or `aggregate_label_values`.
    pub action: String,
    /// Label read by `update_label` and `delete_label_value`.
    pub label: String,
    /// Label written by `add_label`, or the new name of `label` for `update_label`.
    pub new_label: String,
    /// Value of the label `add_label` adds, or the value `aggregate_label_values`
    /// gives the merged points.
    pub new_value: String,
    /// Value whose data points `delete_label_value` removes.
    pub label_value: String,
    /// `update_label`: value renames applied to `label`.
    pub value_actions: Vec<ValueAction>,
    /// `experimental_scale_value`: factor every gauge and sum value is multiplied by.
    pub experimental_scale: f64,
    /// `aggregate_labels`: the labels kept; points equal in them are merged.
    pub label_set: Vec<String>,
    /// `aggregate_labels`/`aggregate_label_values`: `sum`, `mean`, `min`, `max`,
    /// `count` or `median` (histograms are always merged bucket-wise).
    pub aggregation_type: String,
    /// `aggregate_label_values`: values of `label` renamed to `new_value` and merged.
    pub aggregated_values: Vec<String>,
}

/// `value_actions` entry of `update_label`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ValueAction {
    /// Current label value.
    pub value: String,
    /// Value it is replaced with.
    pub new_value: String,
}

impl TransformConfig {
    /// `include`, or the deprecated `metric_name`.
    pub fn include(&self) -> &str {
        if self.include.is_empty() {
            &self.metric_name
        } else {
            &self.include
        }
    }

    pub fn is_regexp(&self) -> bool {
        self.match_type == "regexp"
    }

    pub fn is_insert(&self) -> bool {
        self.action == "insert"
    }
}

fn missing(field: &str, action: &str) -> String {
    format!("missing required field {field:?} while \"action\" is {action}")
}

impl Validate for MetricsTransformConfig {
    fn validate(&self) -> Vec<ConfigIssue> {
        let mut v = Vec::new();
        for (i, t) in self.transforms.iter().enumerate() {
            let at = |k: &str| format!("transforms::{i}::{k}");
            if t.include.is_empty() && t.metric_name.is_empty() {
                v.push(ConfigIssue::new(
                    at("include"),
                    "missing required field \"include\"",
                ));
            }
            if !t.include.is_empty() && !t.metric_name.is_empty() {
                v.push(ConfigIssue::new(
                    at("metric_name"),
                    "cannot set both \"include\" and the deprecated \"metric_name\"",
                ));
            }
            match t.match_type.as_str() {
                "" | "strict" => {}
                "regexp" => {
                    if let Err(e) = re2::compile(t.include()) {
                        v.push(ConfigIssue::new(
                            at("include"),
                            format!("invalid regex {:?}: {e}", t.include()),
                        ));
                    }
                }
                other => v.push(ConfigIssue::new(
                    at("match_type"),
                    format!("unsupported match_type {other:?}; expected strict or regexp"),
                )),
            }
            match t.action.as_str() {
                "update" => {}
                "insert" if t.new_name.is_empty() => v.push(ConfigIssue::new(
                    at("new_name"),
                    missing("new_name", "insert"),
                )),
                "insert" => {}
                "combine" | "group" => v.push(ConfigIssue::new(
                    at("action"),
                    format!(
                        "action {:?} is not supported yet; use update or insert",
                        t.action
                    ),
                )),
                "" => v.push(ConfigIssue::new(
                    at("action"),
                    "missing required field \"action\"",
                )),
                other => v.push(ConfigIssue::new(
                    at("action"),
                    format!("unsupported action {other:?}; expected update or insert"),
                )),
            }
            for (key, set) in [
                (
                    "experimental_match_labels",
                    t.experimental_match_labels.is_some(),
                ),
                ("group_resource_labels", t.group_resource_labels.is_some()),
                ("aggregation_type", !t.aggregation_type.is_empty()),
                ("submatch_case", !t.submatch_case.is_empty()),
            ] {
                if set {
                    v.push(ConfigIssue::new(
                        at(key),
                        format!("{key} is not supported yet"),
                    ));
                }
            }
            for (j, op) in t.operations.iter().enumerate() {
                v.extend(op.issues().into_iter().map(|(k, m)| {
                    ConfigIssue::new(format!("transforms::{i}::operations::{j}::{k}"), m)
                }));
            }
        }
        v
    }
}

impl OperationConfig {
    fn issues(&self) -> Vec<(&'static str, String)> {
        let mut v = Vec::new();
        let a = self.action.as_str();
        match a {
            "add_label" => {
                if self.new_label.is_empty() {
                    v.push(("new_label", missing("new_label", a)));
                }
                if self.new_value.is_empty() {
                    v.push(("new_value", missing("new_value", a)));
                }
            }
            "update_label" if self.label.is_empty() => v.push(("label", missing("label", a))),
            "delete_label_value" => {
                if self.label.is_empty() {
                    v.push(("label", missing("label", a)));
                }
                if self.label_value.is_empty() {
                    v.push(("label_value", missing("label_value", a)));
                }
            }
            "update_label" | "toggle_scalar_data_type" => {}
            "experimental_scale_value" if !self.experimental_scale.is_finite() => v.push((
                "experimental_scale",
                "experimental_scale must be a finite number".to_string(),
            )),
            "experimental_scale_value" if self.experimental_scale == 0.0 => {
                v.push(("experimental_scale", missing("experimental_scale", a)))
            }
            "experimental_scale_value" => {}
            "aggregate_labels" | "aggregate_label_values" => {
                if a == "aggregate_label_values" {
                    if self.label.is_empty() {
                        v.push(("label", missing("label", a)));
                    }
                    if self.new_value.is_empty() {
                        v.push(("new_value", missing("new_value", a)));
                    }
                    if self.aggregated_values.is_empty() {
                        v.push(("aggregated_values", missing("aggregated_values", a)));
                    }
                }
                if self.aggregation_type.is_empty() {
                    v.push(("aggregation_type", missing("aggregation_type", a)));
                } else if Aggregation::parse(&self.aggregation_type).is_none() {
                    v.push((
                        "aggregation_type",
                        format!(
                            "unsupported aggregation_type {:?}; expected sum, mean, min, max, \
                             count or median",
                            self.aggregation_type
                        ),
                    ));
                }
            }
            "" => v.push(("action", "missing required field \"action\"".to_string())),
            other => v.push((
                "action",
                format!(
                    "unsupported operation action {other:?}; expected add_label, update_label, \
                     delete_label_value, toggle_scalar_data_type or experimental_scale_value"
                ),
            )),
        }
        v
    }
}
