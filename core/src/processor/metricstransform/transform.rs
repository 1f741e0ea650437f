//! Compiled `metricstransform` transforms and their application to one scope's
//! metrics. Pure: no I/O, no clocks.

use std::collections::{HashMap, HashSet};

use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point, Metric};
use regex::Regex;

use super::aggregate::{aggregate, Aggregation};
use super::config::{MetricsTransformConfig, OperationConfig, TransformConfig};
use crate::otlp::attrs::put_value as put;
use crate::processor::re2;

/// How metrics are selected.
enum Include {
    Strict(String),
    Regexp(Regex),
}

enum Operation {
    AddLabel {
        label: String,
        value: String,
    },
    UpdateLabel {
        label: String,
        new_label: String,
        values: HashMap<String, String>,
    },
    DeleteLabelValue {
        label: String,
        value: String,
    },
    ToggleScalarDataType,
    ScaleValue(f64),
    AggregateLabels {
        keep: HashSet<String>,
        agg: Aggregation,
    },
    AggregateLabelValues {
        label: String,
        values: HashSet<String>,
        new_value: String,
        agg: Aggregation,
    },
}

struct Transform {
    include: Include,
    insert: bool,
    new_name: String,
    operations: Vec<Operation>,
}

/// A compiled `metricstransform` config.
pub struct Transformer {
    transforms: Vec<Transform>,
}

/// Why the transformer could not be built (only from a config that skipped validation).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TransformerError(String);

impl Operation {
    fn new(op: &OperationConfig) -> Result<Self, TransformerError> {
        Ok(match op.action.as_str() {
            "add_label" => Operation::AddLabel {
                label: op.new_label.clone(),
                value: op.new_value.clone(),
            },
            "update_label" => Operation::UpdateLabel {
                label: op.label.clone(),
                new_label: op.new_label.clone(),
                values: op
                    .value_actions
                    .iter()
                    .map(|a| (a.value.clone(), a.new_value.clone()))
                    .collect(),
            },
            "delete_label_value" => Operation::DeleteLabelValue {
                label: op.label.clone(),
                value: op.label_value.clone(),
            },
            "toggle_scalar_data_type" => Operation::ToggleScalarDataType,
            "experimental_scale_value" => Operation::ScaleValue(op.experimental_scale),
            "aggregate_labels" => Operation::AggregateLabels {
                keep: op.label_set.iter().cloned().collect(),
                agg: aggregation(&op.aggregation_type)?,
            },
            "aggregate_label_values" => Operation::AggregateLabelValues {
                label: op.label.clone(),
                values: op.aggregated_values.iter().cloned().collect(),
                new_value: op.new_value.clone(),
                agg: aggregation(&op.aggregation_type)?,
            },
            other => return Err(TransformerError(format!("unsupported operation {other:?}"))),
        })
    }
}

fn aggregation(s: &str) -> Result<Aggregation, TransformerError> {
    Aggregation::parse(s)
        .ok_or_else(|| TransformerError(format!("unsupported aggregation_type {s:?}")))
}

impl Transformer {
    pub fn new(cfg: &MetricsTransformConfig) -> Result<Self, TransformerError> {
        let transforms = cfg
            .transforms
            .iter()
            .map(Transform::new)
            .collect::<Result<_, _>>()?;
        Ok(Transformer { transforms })
    }

    /// Whether any metric of `metrics` is selected by a transform (read-only).
    pub fn selects_any<'a>(&self, mut names: impl Iterator<Item = &'a str>) -> bool {
        names.any(|n| self.transforms.iter().any(|t| t.matches(n)))
    }

    /// Applies every transform, in order, to one scope's metrics. Metrics left
    /// without data points by `delete_label_value` are removed.
    pub fn apply(&self, metrics: &mut Vec<Metric>) {
        for t in &self.transforms {
            if t.insert {
                let n = metrics.len();
                for i in 0..n {
                    if !t.matches(&metrics[i].name) {
                        continue;
                    }
                    let mut copy = metrics[i].clone();
                    if t.transform(&mut copy) {
                        metrics.push(copy);
                    }
                }
            } else {
                metrics.retain_mut(|m| !t.matches(&m.name) || t.transform(m));
            }
        }
    }
}

impl Transform {
    fn new(cfg: &TransformConfig) -> Result<Self, TransformerError> {
        let include = if cfg.is_regexp() {
            Include::Regexp(re2::compile(cfg.include()).map_err(TransformerError)?)
        } else {
            Include::Strict(cfg.include().to_owned())
        };
        Ok(Transform {
            include,
            insert: cfg.is_insert(),
            new_name: cfg.new_name.clone(),
            operations: cfg
                .operations
                .iter()
                .map(Operation::new)
                .collect::<Result<_, _>>()?,
        })
    }

    fn matches(&self, name: &str) -> bool {
        match &self.include {
            Include::Strict(s) => s == name,
            Include::Regexp(re) => re.is_match(name),
        }
    }

    /// Renames and runs the operations; false when the metric had data points
    /// and has none left (it is then dropped).
    fn transform(&self, m: &mut Metric) -> bool {
        let had_points = points(m) > 0;
        if !self.new_name.is_empty() {
            m.name = self.expand(&m.name);
        }
        for op in &self.operations {
            op.apply(m);
        }
        !had_points || points(m) > 0
    }

    /// `new_name` with capture groups filled in (regexp); the literal when the
    /// expansion is empty, as upstream.
    fn expand(&self, name: &str) -> String {
        if let Include::Regexp(re) = &self.include {
            if let Some(caps) = re.captures(name) {
                let mut out = String::new();
                caps.expand(&self.new_name, &mut out);
                if !out.is_empty() {
                    return out;
                }
            }
        }
        self.new_name.clone()
    }
}

fn points(m: &Metric) -> usize {
    match &m.data {
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
        None => 0,
    }
}

fn each_attributes(m: &mut Metric, mut f: impl FnMut(&mut Vec<KeyValue>)) {
    match &mut m.data {
        Some(Data::Gauge(g)) => g.data_points.iter_mut().for_each(|p| f(&mut p.attributes)),
        Some(Data::Sum(s)) => s.data_points.iter_mut().for_each(|p| f(&mut p.attributes)),
        Some(Data::Histogram(h)) => h.data_points.iter_mut().for_each(|p| f(&mut p.attributes)),
        Some(Data::ExponentialHistogram(h)) => {
            h.data_points.iter_mut().for_each(|p| f(&mut p.attributes))
        }
        Some(Data::Summary(s)) => s.data_points.iter_mut().for_each(|p| f(&mut p.attributes)),
        None => {}
    }
}

/// Whether `attrs` has `key` with the string value `value` (pdata `Str()`:
/// non-strings read as `""`).
fn has(attrs: &[KeyValue], key: &str, value: &str) -> bool {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .is_some_and(|kv| str_of(kv.value.as_ref()) == value)
}

fn str_of(v: Option<&AnyValue>) -> &str {
    match v.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s,
        _ => "",
    }
}

impl Operation {
    fn apply(&self, m: &mut Metric) {
        match self {
            Operation::AddLabel { label, value } => each_attributes(m, |attrs| {
                if !attrs.iter().any(|kv| &kv.key == label) {
                    put(attrs, label, Value::StringValue(value.clone()));
                }
            }),
            Operation::UpdateLabel {
                label,
                new_label,
                values,
            } => each_attributes(m, |attrs| {
                let Some(i) = attrs.iter().position(|kv| &kv.key == label) else {
                    return;
                };
                let old = attrs[i].value.clone();
                let key = if new_label.is_empty() {
                    label
                } else {
                    attrs.remove(i);
                    match attrs.iter_mut().find(|o| &o.key == new_label) {
                        Some(existing) => existing.value = old.clone(),
                        None => attrs.push(KeyValue {
                            key: new_label.clone(),
                            value: old.clone(),
                            ..Default::default()
                        }),
                    }
                    new_label
                };
                if let Some(new) = values.get(str_of(old.as_ref())) {
                    put(attrs, key, Value::StringValue(new.clone()));
                }
            }),
            Operation::DeleteLabelValue { label, value } => match &mut m.data {
                Some(Data::Gauge(g)) => g.data_points.retain(|p| !has(&p.attributes, label, value)),
                Some(Data::Sum(s)) => s.data_points.retain(|p| !has(&p.attributes, label, value)),
                Some(Data::Histogram(h)) => {
                    h.data_points.retain(|p| !has(&p.attributes, label, value))
                }
                Some(Data::ExponentialHistogram(h)) => {
                    h.data_points.retain(|p| !has(&p.attributes, label, value))
                }
                Some(Data::Summary(s)) => {
                    s.data_points.retain(|p| !has(&p.attributes, label, value))
                }
                None => {}
            },
            Operation::ToggleScalarDataType => {
                let points = match &mut m.data {
                    Some(Data::Gauge(g)) => &mut g.data_points,
                    Some(Data::Sum(s)) => &mut s.data_points,
                    _ => return,
                };
                for p in points {
                    p.value = match p.value {
                        Some(number_data_point::Value::AsInt(i)) => {
                            Some(number_data_point::Value::AsDouble(i as f64))
                        }
                        // Saturating, as Go's conversion of in-range values.
                        Some(number_data_point::Value::AsDouble(d)) => {
                            Some(number_data_point::Value::AsInt(d as i64))
                        }
                        None => None,
                    };
                }
            }
            Operation::AggregateLabels { keep, agg } => {
                each_attributes(m, |attrs| attrs.retain(|kv| keep.contains(&kv.key)));
                aggregate(m, *agg);
            }
            Operation::AggregateLabelValues {
                label,
                values,
                new_value,
                agg,
            } => {
                each_attributes(m, |attrs| {
                    if let Some(kv) = attrs.iter_mut().find(|kv| &kv.key == label) {
                        if values.contains(str_of(kv.value.as_ref())) {
                            kv.value = Some(AnyValue {
                                value: Some(Value::StringValue(new_value.clone())),
                            });
                        }
                    }
                });
                aggregate(m, *agg);
            }
            Operation::ScaleValue(f) => {
                let points = match &mut m.data {
                    Some(Data::Gauge(g)) => &mut g.data_points,
                    Some(Data::Sum(s)) => &mut s.data_points,
                    _ => return,
                };
                for p in points {
                    p.value = match p.value {
                        Some(number_data_point::Value::AsInt(i)) => {
                            Some(number_data_point::Value::AsInt((i as f64 * f) as i64))
                        }
                        Some(number_data_point::Value::AsDouble(d)) => {
                            Some(number_data_point::Value::AsDouble(d * f))
                        }
                        None => None,
                    };
                }
            }
        }
    }
}
