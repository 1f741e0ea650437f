#![allow(clippy::unwrap_used)]

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value::Value as V, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum,
};

use super::*;
use crate::otlp::attrs::as_string_opt as as_string;

fn transformer(yaml: &str) -> Transformer {
    let raw: Value = serde_yaml_ng::from_str(yaml).unwrap();
    let cfg = parse_config::<MetricsTransformConfig>("p", &raw).unwrap();
    Transformer::new(&cfg).unwrap()
}

fn attrs(pairs: &[(&str, &str)]) -> Vec<KeyValue> {
    pairs
        .iter()
        .map(|(k, v)| KeyValue {
            key: k.to_string(),
            value: Some(AnyValue {
                value: Some(V::StringValue(v.to_string())),
            }),
            ..Default::default()
        })
        .collect()
}

fn int_point(v: i64, a: &[(&str, &str)]) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs(a),
        value: Some(number_data_point::Value::AsInt(v)),
        ..Default::default()
    }
}

fn double_point(v: f64, a: &[(&str, &str)]) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs(a),
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    }
}

fn gauge(name: &str, points: Vec<NumberDataPoint>) -> Metric {
    Metric {
        name: name.into(),
        data: Some(Data::Gauge(Gauge {
            data_points: points,
        })),
        ..Default::default()
    }
}

fn sum(name: &str, points: Vec<NumberDataPoint>) -> Metric {
    Metric {
        name: name.into(),
        data: Some(Data::Sum(Sum {
            data_points: points,
            aggregation_temporality: 2,
            is_monotonic: true,
        })),
        ..Default::default()
    }
}

fn histogram(name: &str, a: &[(&str, &str)]) -> Metric {
    Metric {
        name: name.into(),
        data: Some(Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint {
                attributes: attrs(a),
                count: 3,
                sum: Some(56.0),
                bucket_counts: vec![1, 2],
                explicit_bounds: vec![10.0],
                ..Default::default()
            }],
            aggregation_temporality: 2,
        })),
        ..Default::default()
    }
}

/// `name{k=v,...}=value` per point, in order.
fn dump(metrics: &[Metric]) -> Vec<String> {
    let mut out = Vec::new();
    for m in metrics {
        let mut push = |a: &[KeyValue], v: String| {
            let labels: Vec<String> = a
                .iter()
                .map(|kv| format!("{}={}", kv.key, as_string(kv.value.as_ref())))
                .collect();
            out.push(format!("{}{{{}}}={v}", m.name, labels.join(",")));
        };
        let num = |p: &NumberDataPoint| match p.value {
            Some(number_data_point::Value::AsInt(i)) => format!("int {i}"),
            Some(number_data_point::Value::AsDouble(d)) => format!("double {d}"),
            None => "none".into(),
        };
        match &m.data {
            Some(Data::Gauge(g)) => g
                .data_points
                .iter()
                .for_each(|p| push(&p.attributes, num(p))),
            Some(Data::Sum(s)) => s
                .data_points
                .iter()
                .for_each(|p| push(&p.attributes, num(p))),
            Some(Data::Histogram(h)) => h
                .data_points
                .iter()
                .for_each(|p| push(&p.attributes, format!("hist {}", p.count))),
            _ => out.push(format!("{}{{}}=?", m.name)),
        }
    }
    out
}

fn run(yaml: &str, mut metrics: Vec<Metric>) -> Vec<String> {
    transformer(yaml).apply(&mut metrics);
    dump(&metrics)
}

/// The ECS Container Insights pattern: strict renames.
#[test]
fn strict_update_renames() {
    let out = run(
        "transforms:\n- include: ecs.task.memory.utilized\n  action: update\n  new_name: MemoryUtilized",
        vec![
            gauge("ecs.task.memory.utilized", vec![int_point(5, &[])]),
            gauge("ecs.task.memory.utilized.other", vec![int_point(1, &[])]),
        ],
    );
    assert_eq!(
        out,
        vec![
            "MemoryUtilized{}=int 5",
            "ecs.task.memory.utilized.other{}=int 1"
        ]
    );
}

/// The Databricks pattern: regexp with capture groups (the `$$` of the YAML file
/// is already expanded to `$` by the config loader).
#[test]
fn regexp_update_expands_capture_groups_and_adds_labels() {
    let yaml = r#"
transforms:
  - include: ^metrics_app_([0-9]+_[0-9]+)_driver_(.*)$
    match_type: regexp
    action: update
    new_name: ${2}
  - include: .*
    match_type: regexp
    action: update
    operations:
      - action: add_label
        new_label: cluster
        new_value: c1
"#;
    let out = run(
        yaml,
        vec![
            gauge(
                "metrics_app_1_2_driver_jvm_heap",
                vec![int_point(7, &[("cluster", "keep")])],
            ),
            sum("metrics_local_3_driver_x", vec![int_point(1, &[])]),
            histogram("latency", &[]),
        ],
    );
    assert_eq!(
        out,
        vec![
            "jvm_heap{cluster=keep}=int 7",
            "metrics_local_3_driver_x{cluster=c1}=int 1",
            "latency{cluster=c1}=hist 3",
        ]
    );
}

#[test]
fn insert_appends_a_changed_copy() {
    let out = run(
        r#"
transforms:
  - include: ^(cpu)_(.*)$
    match_type: regexp
    action: insert
    new_name: $2.$1
    operations:
      - action: update_label
        label: state
        new_label: mode
        value_actions:
          - {value: idle, new_value: IDLE}
"#,
        vec![gauge(
            "cpu_usage",
            vec![
                double_point(0.5, &[("state", "idle"), ("host", "h")]),
                double_point(0.25, &[("state", "user")]),
            ],
        )],
    );
    assert_eq!(
        out,
        vec![
            "cpu_usage{state=idle,host=h}=double 0.5",
            "cpu_usage{state=user}=double 0.25",
            "usage.cpu{host=h,mode=IDLE}=double 0.5",
            "usage.cpu{mode=user}=double 0.25",
        ]
    );
}

#[test]
fn update_label_changes_values_in_place_without_new_label() {
    let out = run(
        "transforms:\n- include: m\n  action: update\n  operations:\n  - action: update_label\n    label: l\n    value_actions: [{value: a, new_value: b}]",
        vec![gauge("m", vec![int_point(1, &[("l", "a"), ("x", "y")]), int_point(2, &[("l", "c")])])],
    );
    assert_eq!(out, vec!["m{l=b,x=y}=int 1", "m{l=c}=int 2"]);
}

#[test]
fn delete_label_value_drops_points_and_emptied_metrics() {
    let yaml = "transforms:\n- include: m\n  action: update\n  operations:\n  - action: delete_label_value\n    label: env\n    label_value: test";
    let out = run(
        yaml,
        vec![
            sum(
                "m",
                vec![
                    int_point(1, &[("env", "test")]),
                    int_point(2, &[("env", "prod")]),
                ],
            ),
            histogram("m", &[("env", "test")]),
            histogram("other", &[("env", "test")]),
        ],
    );
    assert_eq!(out, vec!["m{env=prod}=int 2", "other{env=test}=hist 3"]);
}

#[test]
fn toggle_and_scale_apply_to_gauges_and_sums_only() {
    let yaml = r#"
transforms:
  - include: .*
    match_type: regexp
    action: update
    operations:
      - action: toggle_scalar_data_type
      - action: experimental_scale_value
        experimental_scale: 1000
"#;
    let out = run(
        yaml,
        vec![
            gauge("g", vec![double_point(1.75, &[]), int_point(3, &[])]),
            sum("s", vec![int_point(-2, &[])]),
            histogram("h", &[]),
        ],
    );
    assert_eq!(
        out,
        vec![
            "g{}=int 1000",
            "g{}=double 3000",
            "s{}=double -2000",
            "h{}=hist 3"
        ]
    );
}

#[test]
fn processor_edits_only_when_a_transform_selects_a_metric() {
    let mut p: Box<dyn Processor<Metrics>> = Box::new(MetricsTransformProcessor(Arc::new(
        transformer("transforms:\n- include: a\n  action: update\n  operations:\n  - action: delete_label_value\n    label: k\n    label_value: v"),
    )));
    let req = ExportMetricsServiceRequest {
        resource_metrics: vec![
            ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![gauge("a", vec![int_point(1, &[("k", "v")])])],
                    ..Default::default()
                }],
                ..Default::default()
            },
            ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![gauge("b", vec![int_point(1, &[("k", "v")])])],
                    ..Default::default()
                }],
                ..Default::default()
            },
        ],
    };
    let mut batch = Batch::<Metrics>::from_request(req);
    p.process(&mut batch).unwrap();
    assert_eq!(
        batch.items(),
        1,
        "the emptied metric, scope and resource are gone"
    );
    let req = batch.into_request();
    assert_eq!(req.resource_metrics.len(), 1);
    assert_eq!(
        req.resource_metrics[0].scope_metrics[0].metrics[0].name,
        "b"
    );
}

#[test]
fn every_config_problem_is_reported_with_its_path() {
    let raw: Value = serde_yaml_ng::from_str(
        r#"
transforms:
  - match_type: regexp
    action: update
  - include: "("
    match_type: regexp
    action: insert
  - include: x
    match_type: glob
    action: combine
    new_name: y
    operations:
      - action: aggregate_labels
        label_set: [a]
        aggregation_type: avg
      - action: add_label
      - action: explode
"#,
    )
    .unwrap();
    let Err(issues) = MetricsTransformFactory.parse("processors::metricstransform", &raw) else {
        panic!("must fail")
    };
    let got: Vec<String> = issues.iter().map(|i| i.path.clone()).collect();
    let p = "processors::metricstransform::transforms";
    assert_eq!(
        got,
        vec![
            format!("{p}::0::include"),
            format!("{p}::1::include"),
            format!("{p}::1::new_name"),
            format!("{p}::2::match_type"),
            format!("{p}::2::action"),
            format!("{p}::2::operations::0::aggregation_type"),
            format!("{p}::2::operations::1::new_label"),
            format!("{p}::2::operations::1::new_value"),
            format!("{p}::2::operations::2::action"),
        ]
    );
    assert!(issues[2]
        .message
        .contains("\"new_name\" while \"action\" is insert"));
    assert!(issues[4].message.contains("not supported yet"));
    assert!(issues[5]
        .message
        .contains("unsupported aggregation_type \"avg\""));
}

fn aggregate_yaml(op: &str) -> String {
    format!("transforms:\n- include: m\n  action: update\n  operations:\n  - {op}")
}

#[test]
fn aggregate_labels_merges_points_equal_in_the_kept_labels() {
    let points = || {
        vec![
            int_point(1, &[("a", "1"), ("b", "x")]),
            int_point(2, &[("b", "y"), ("a", "1")]),
            int_point(5, &[("a", "2"), ("b", "x")]),
            int_point(4, &[("a", "1"), ("b", "z")]),
        ]
    };
    for (agg, want) in [
        ("sum", ["m{a=1}=int 7", "m{a=2}=int 5"]),
        ("mean", ["m{a=1}=int 2", "m{a=2}=int 5"]),
        ("min", ["m{a=1}=int 1", "m{a=2}=int 5"]),
        ("max", ["m{a=1}=int 4", "m{a=2}=int 5"]),
        ("count", ["m{a=1}=int 3", "m{a=2}=int 1"]),
        ("median", ["m{a=1}=int 2", "m{a=2}=int 5"]),
    ] {
        let yaml = aggregate_yaml(&format!(
            "{{action: aggregate_labels, label_set: [a], aggregation_type: {agg}}}"
        ));
        assert_eq!(run(&yaml, vec![gauge("m", points())]), want, "{agg}");
    }
    let yaml = aggregate_yaml("{action: aggregate_labels, label_set: [a], aggregation_type: mean}");
    assert_eq!(
        run(
            &yaml,
            vec![gauge(
                "m",
                vec![double_point(1.0, &[("b", "1")]), double_point(2.0, &[])]
            )]
        ),
        vec!["m{}=double 1.5"]
    );
}

#[test]
fn aggregate_label_values_merges_the_listed_values() {
    let yaml = aggregate_yaml(
        "{action: aggregate_label_values, label: state, aggregated_values: [user, system], new_value: busy, aggregation_type: sum}",
    );
    let out = run(
        &yaml,
        vec![sum(
            "m",
            vec![
                double_point(1.5, &[("state", "user")]),
                double_point(2.0, &[("state", "idle")]),
                double_point(0.5, &[("state", "system")]),
            ],
        )],
    );
    assert_eq!(
        out,
        vec!["m{state=busy}=double 2", "m{state=idle}=double 2"]
    );
}

#[test]
fn histograms_merge_bucket_wise_and_delta_sums_keep_start_times_apart() {
    let yaml = aggregate_yaml("{action: aggregate_labels, label_set: [], aggregation_type: sum}");
    let mut h = histogram("m", &[("a", "1")]);
    if let Some(Data::Histogram(hist)) = &mut h.data {
        let mut second = hist.data_points[0].clone();
        second.attributes = attrs(&[("a", "2")]);
        hist.data_points.push(second);
    }
    let mut metrics = vec![h];
    transformer(&yaml).apply(&mut metrics);
    let Some(Data::Histogram(hist)) = &metrics[0].data else {
        panic!()
    };
    assert_eq!(hist.data_points.len(), 1);
    let p = &hist.data_points[0];
    assert_eq!(
        (p.count, p.sum, p.bucket_counts.clone()),
        (6, Some(112.0), vec![2, 4])
    );

    let mut delta = sum(
        "m",
        vec![int_point(1, &[("a", "1")]), int_point(2, &[("a", "2")])],
    );
    if let Some(Data::Sum(s)) = &mut delta.data {
        s.aggregation_temporality = 1;
        s.data_points[1].start_time_unix_nano = 5;
    }
    assert_eq!(run(&yaml, vec![delta]), vec!["m{}=int 1", "m{}=int 2"]);
}

/// The `processors:` section of every ADOT config in the shared fixture set that
/// uses `metricstransform` parses. The fixture set is `shared/` beside the
/// checkout (as on developers' machines and in CI); a missing set fails the test.
#[test]
fn adot_fixture_sections_parse() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/adot-configs");
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("fixture set {} missing: {e}", dir.display()));
    let mut seen = 0;
    for e in entries {
        let path = e.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        if !text.contains("metricstransform") || path.extension().is_some_and(|x| x == "md") {
            continue;
        }
        let doc: Value = serde_yaml_ng::from_str(&text).unwrap();
        let Some(Value::Mapping(procs)) = doc.get("processors") else {
            continue;
        };
        for (id, body) in procs {
            let id = id.as_str().unwrap();
            if id.split('/').next() != Some("metricstransform") {
                continue;
            }
            let res = MetricsTransformFactory.parse(&format!("processors::{id}"), body);
            assert!(res.is_ok(), "{}: {:?}", path.display(), res.err());
            seen += 1;
        }
    }
    assert!(
        seen >= 5,
        "expected the metricstransform fixtures, saw {seen}"
    );
}
