//! `aggregate_labels` and `aggregate_label_values`: data points that become equal
//! in attributes and timestamp (and start time for delta temporality, bounds for
//! histograms) are merged into one. Output keeps first-occurrence order.

use std::collections::HashMap;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point::Value as N, AggregationTemporality, HistogramDataPoint,
    Metric, NumberDataPoint,
};

/// How number points of one group are merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregation {
    Sum,
    Mean,
    Min,
    Max,
    Count,
    Median,
}

impl Aggregation {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "sum" => Aggregation::Sum,
            "mean" => Aggregation::Mean,
            "min" => Aggregation::Min,
            "max" => Aggregation::Max,
            "count" => Aggregation::Count,
            "median" => Aggregation::Median,
            _ => return None,
        })
    }
}

/// Attributes in a canonical (sorted, typed) form for grouping.
fn attr_key(attrs: &[KeyValue]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = attrs
        .iter()
        .map(|kv| (kv.key.clone(), format!("{:?}", kv.value)))
        .collect();
    v.sort();
    v
}

#[derive(Hash, PartialEq, Eq)]
struct GroupKey {
    attrs: Vec<(String, String)>,
    time: u64,
    start: Option<u64>,
    /// Histograms: bounds (as bits), has min, has max, flags.
    shape: Vec<u64>,
}

/// Groups `points` by `key`, keeping first-occurrence order.
fn group<P>(points: Vec<P>, key: impl Fn(&P) -> GroupKey) -> Vec<Vec<P>> {
    let mut index: HashMap<GroupKey, usize> = HashMap::new();
    let mut groups: Vec<Vec<P>> = Vec::new();
    for p in points {
        let k = key(&p);
        match index.get(&k) {
            Some(&i) => groups[i].push(p),
            None => {
                index.insert(k, groups.len());
                groups.push(vec![p]);
            }
        }
    }
    groups
}

fn as_f64(p: &NumberDataPoint) -> f64 {
    match p.value {
        Some(N::AsDouble(d)) => d,
        Some(N::AsInt(i)) => i as f64,
        None => 0.0,
    }
}

fn as_i64(p: &NumberDataPoint) -> i64 {
    match p.value {
        Some(N::AsInt(i)) => i,
        Some(N::AsDouble(d)) => d as i64,
        None => 0,
    }
}

fn merge_numbers(mut group: Vec<NumberDataPoint>, agg: Aggregation) -> Option<NumberDataPoint> {
    let n = group.len();
    let start = group
        .iter()
        .map(|p| p.start_time_unix_nano)
        .min()
        .unwrap_or(0);
    let is_int = matches!(group.first()?.value, Some(N::AsInt(_)));
    let value = if is_int {
        let vals: Vec<i64> = group.iter().map(as_i64).collect();
        N::AsInt(match agg {
            Aggregation::Sum => vals.iter().fold(0i64, |a, v| a.wrapping_add(*v)),
            Aggregation::Mean => vals.iter().fold(0i64, |a, v| a.wrapping_add(*v)) / n as i64,
            Aggregation::Min => vals.iter().copied().min().unwrap_or(0),
            Aggregation::Max => vals.iter().copied().max().unwrap_or(0),
            Aggregation::Count => n as i64,
            Aggregation::Median => {
                let mut s = vals;
                s.sort_unstable();
                if n % 2 == 1 {
                    s[n / 2]
                } else {
                    ((i128::from(s[n / 2 - 1]) + i128::from(s[n / 2])) / 2) as i64
                }
            }
        })
    } else {
        let vals: Vec<f64> = group.iter().map(as_f64).collect();
        N::AsDouble(match agg {
            Aggregation::Sum => vals.iter().sum(),
            Aggregation::Mean => vals.iter().sum::<f64>() / n as f64,
            Aggregation::Min => vals.iter().copied().fold(f64::INFINITY, f64::min),
            Aggregation::Max => vals.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            Aggregation::Count => n as f64,
            Aggregation::Median => {
                let mut s = vals;
                s.sort_by(f64::total_cmp);
                if n % 2 == 1 {
                    s[n / 2]
                } else {
                    (s[n / 2 - 1] + s[n / 2]) / 2.0
                }
            }
        })
    };
    let mut first = group.swap_remove(0);
    for p in group {
        first.exemplars.extend(p.exemplars);
    }
    first.value = Some(value);
    first.start_time_unix_nano = start;
    Some(first)
}

fn merge_histograms(mut group: Vec<HistogramDataPoint>) -> Option<HistogramDataPoint> {
    if group.is_empty() {
        return None;
    }
    let mut first = group.remove(0);
    for p in group {
        if p.count == 0 {
            continue;
        }
        first.count = first.count.saturating_add(p.count);
        first.sum = match (first.sum, p.sum) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        if let (Some(a), Some(b)) = (first.min, p.min) {
            first.min = Some(a.min(b));
        }
        if let (Some(a), Some(b)) = (first.max, p.max) {
            first.max = Some(a.max(b));
        }
        for (c, add) in first.bucket_counts.iter_mut().zip(&p.bucket_counts) {
            *c = c.saturating_add(*add);
        }
        first.exemplars.extend(p.exemplars);
        first.start_time_unix_nano = first.start_time_unix_nano.min(p.start_time_unix_nano);
    }
    Some(first)
}

const DELTA: i32 = AggregationTemporality::Delta as i32;

/// Merges the data points of `m` that share attributes and timestamps. Gauges,
/// sums and histograms (bucket-wise, equal bounds only; `agg` is not used, as
/// upstream) are merged; exponential histograms and summaries are left as they are.
pub fn aggregate(m: &mut Metric, agg: Aggregation) {
    match &mut m.data {
        Some(Data::Gauge(g)) => {
            let points = std::mem::take(&mut g.data_points);
            g.data_points = group(points, |p| GroupKey {
                attrs: attr_key(&p.attributes),
                time: p.time_unix_nano,
                start: None,
                shape: Vec::new(),
            })
            .into_iter()
            .filter_map(|g| merge_numbers(g, agg))
            .collect();
        }
        Some(Data::Sum(s)) => {
            let delta = s.aggregation_temporality == DELTA;
            let points = std::mem::take(&mut s.data_points);
            s.data_points = group(points, |p| GroupKey {
                attrs: attr_key(&p.attributes),
                time: p.time_unix_nano,
                start: delta.then_some(p.start_time_unix_nano),
                shape: Vec::new(),
            })
            .into_iter()
            .filter_map(|g| merge_numbers(g, agg))
            .collect();
        }
        Some(Data::Histogram(h)) => {
            let delta = h.aggregation_temporality == DELTA;
            let points = std::mem::take(&mut h.data_points);
            h.data_points = group(points, |p| {
                let mut shape: Vec<u64> = p.explicit_bounds.iter().map(|b| b.to_bits()).collect();
                shape.extend([
                    u64::from(p.min.is_some()),
                    u64::from(p.max.is_some()),
                    u64::from(p.flags),
                ]);
                GroupKey {
                    attrs: attr_key(&p.attributes),
                    time: p.time_unix_nano,
                    start: delta.then_some(p.start_time_unix_nano),
                    shape,
                }
            })
            .into_iter()
            .filter_map(merge_histograms)
            .collect();
        }
        _ => {}
    }
}
