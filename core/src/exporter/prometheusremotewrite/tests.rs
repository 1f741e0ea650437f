//! Golden tests of the translator and the delta conversion: each case renders the
//! resulting series in a readable text form and compares it with the expected text.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    exponential_histogram_data_point::Buckets, metric, number_data_point,
    summary_data_point::ValueAtQuantile, AggregationTemporality, Exemplar, ExponentialHistogram,
    ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::delta::{DeltaLimits, DeltaToCumulative};
use super::proto::{histogram, Label, TimeSeries, STALE_NAN_BITS};
use super::translate::{translate, TranslateError, TranslateSettings};

const T0: u64 = 1_700_000_000_000_000_000;
const SEC: u64 = 1_000_000_000;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn kvi(k: &str, v: i64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(v)),
        }),
        ..Default::default()
    }
}

fn request(resource: Vec<KeyValue>, metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: resource,
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "lib".into(),
                    version: "1.0".into(),
                    ..Default::default()
                }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn svc() -> Vec<KeyValue> {
    vec![
        kv("service.name", "api"),
        kv("service.namespace", "shop"),
        kv("service.instance.id", "i-1"),
    ]
}

fn settings() -> TranslateSettings {
    TranslateSettings {
        add_metric_suffixes: true,
        target_info: true,
        disable_scope_info: true,
        ..Default::default()
    }
}

fn num(t: u64, v: f64, attrs: Vec<KeyValue>) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        start_time_unix_nano: T0,
        time_unix_nano: t,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    }
}

fn gauge(name: &str, unit: &str, pts: Vec<NumberDataPoint>) -> Metric {
    Metric {
        name: name.into(),
        unit: unit.into(),
        data: Some(metric::Data::Gauge(Gauge { data_points: pts })),
        ..Default::default()
    }
}

fn sum(
    name: &str,
    unit: &str,
    monotonic: bool,
    temp: AggregationTemporality,
    pts: Vec<NumberDataPoint>,
) -> Metric {
    Metric {
        name: name.into(),
        unit: unit.into(),
        data: Some(metric::Data::Sum(Sum {
            data_points: pts,
            aggregation_temporality: temp as i32,
            is_monotonic: monotonic,
        })),
        ..Default::default()
    }
}

fn fmt_value(v: f64) -> String {
    if v.to_bits() == STALE_NAN_BITS {
        "STALE".into()
    } else {
        format!("{v}")
    }
}

fn render_labels(ls: &[Label]) -> String {
    ls.iter()
        .map(|l| format!("{}={:?}", l.name, l.value))
        .collect::<Vec<_>>()
        .join(",")
}

/// One line per sample/histogram/exemplar, series sorted by labels.
fn render(series: &[TimeSeries]) -> String {
    let mut s: Vec<&TimeSeries> = series.iter().collect();
    s.sort_by_key(|a| render_labels(&a.labels));
    let mut out = String::new();
    for ts in s {
        // Invariants every series must hold.
        assert!(ts.labels.iter().any(|l| l.name == "__name__"));
        assert!(
            ts.labels.windows(2).all(|w| w[0].name < w[1].name),
            "sorted, unique"
        );
        assert!(ts.labels.iter().all(|l| !l.value.is_empty()));
        assert!(ts
            .samples
            .windows(2)
            .all(|w| w[0].timestamp <= w[1].timestamp));
        let l = render_labels(&ts.labels);
        for p in &ts.samples {
            let _ = writeln!(out, "{{{l}}} {} @{}", fmt_value(p.value), p.timestamp);
        }
        for h in &ts.histograms {
            let count = match h.count {
                Some(histogram::Count::CountInt(c)) if c == STALE_NAN_BITS => "STALE".into(),
                Some(histogram::Count::CountInt(c)) => c.to_string(),
                other => format!("{other:?}"),
            };
            let zc = match h.zero_count {
                Some(histogram::ZeroCount::ZeroCountInt(c)) => c,
                _ => 0,
            };
            let spans = |s: &[super::proto::BucketSpan]| {
                s.iter()
                    .map(|s| format!("{}:{}", s.offset, s.length))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let _ = writeln!(
                out,
                "{{{l}}} hist schema={} count={count} sum={} zero={zc} pos=[{}] {:?} neg=[{}] {:?} @{}",
                h.schema,
                fmt_value(h.sum),
                spans(&h.positive_spans),
                h.positive_deltas,
                spans(&h.negative_spans),
                h.negative_deltas,
                h.timestamp
            );
        }
        for e in &ts.exemplars {
            let _ = writeln!(
                out,
                "{{{l}}} exemplar {{{}}} {} @{}",
                render_labels(&e.labels),
                e.value,
                e.timestamp
            );
        }
    }
    out
}

fn golden(req: &ExportMetricsServiceRequest, s: &TranslateSettings, want: &str) {
    let t = translate(req, s);
    assert!(t.errors.is_empty(), "{:?}", t.errors);
    let got = render(&t.series);
    let want: String = want
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(got, want, "\n--- got ---\n{got}--- want ---\n{want}");
}

const MS: u64 = 1_700_000_000_000;

#[test]
fn gauge_with_ratio_suffix_job_instance_and_target_info() {
    let req = request(
        {
            let mut r = svc();
            r.push(kv("host.name", "box"));
            r
        },
        vec![gauge(
            "system.cpu.utilization",
            "1",
            vec![
                num(T0 + SEC, 0.5, vec![kv("cpu", "0")]),
                num(T0, 0.25, vec![kv("cpu", "0")]),
            ],
        )],
    );
    golden(
        &req,
        &settings(),
        &format!(
            r#"
            {{__name__="system_cpu_utilization_ratio",cpu="0",instance="i-1",job="shop/api"}} 0.25 @{MS}
            {{__name__="system_cpu_utilization_ratio",cpu="0",instance="i-1",job="shop/api"}} 0.5 @{}
            {{__name__="target_info",host_name="box",instance="i-1",job="shop/api"}} 1 @{}
            "#,
            MS + 1000,
            MS + 1000
        ),
    );
}

#[test]
fn counters_get_total_up_down_counters_become_gauges_with_exemplars() {
    let mut p = num(T0, 3.0, vec![kv("http.method", "GET")]);
    p.exemplars = vec![Exemplar {
        time_unix_nano: T0 - SEC,
        value: Some(opentelemetry_proto::tonic::metrics::v1::exemplar::Value::AsDouble(1.0)),
        trace_id: vec![0xab; 16],
        span_id: vec![0xcd; 8],
        filtered_attributes: vec![kv("user", "u1")],
    }];
    let req = request(
        svc(),
        vec![
            sum(
                "http.requests",
                "{request}",
                true,
                AggregationTemporality::Cumulative,
                vec![p],
            ),
            sum(
                "queue.depth",
                "{item}",
                false,
                AggregationTemporality::Cumulative,
                vec![num(T0, -2.0, vec![])],
            ),
        ],
    );
    golden(
        &req,
        &settings(),
        &format!(
            r#"
            {{__name__="http_requests_total",http_method="GET",instance="i-1",job="shop/api"}} 3 @{MS}
            {{__name__="http_requests_total",http_method="GET",instance="i-1",job="shop/api"}} exemplar {{span_id="cdcdcdcdcdcdcdcd",trace_id="abababababababababababababababab",user="u1"}} 1 @{}
            {{__name__="queue_depth",instance="i-1",job="shop/api"}} -2 @{MS}
            "#,
            MS - 1000
        ),
    );
}

#[test]
fn label_collisions_join_values_and_extras_win() {
    let req = request(
        vec![kv("service.name", "api")],
        vec![gauge(
            "g",
            "",
            vec![num(
                T0,
                1.0,
                vec![
                    kv("a.b", "dot"),
                    kv("a-b", "dash"),
                    kv("a_b", "under"),
                    kv("__name__", "evil"),
                    kv("empty", ""),
                    kvi("2xx", 5),
                    kv("job", "overridden"),
                ],
            )],
        )],
    );
    let mut s = settings();
    s.external_labels = vec![Label::new("cluster", "c1"), Label::new("a_b", "ext")];
    golden(
        &req,
        &s,
        &format!(
            r#"{{__name__="g",a_b="dash;dot;under",cluster="c1",job="api",key_2xx="5"}} 1 @{MS}"#
        ),
    );
}

#[test]
fn namespace_scope_info_and_resource_to_telemetry() {
    let req = request(
        {
            let mut r = svc();
            r.push(kv("cloud.region", "us-east-1"));
            r
        },
        vec![gauge(
            "temp",
            "Cel",
            vec![num(T0, 20.0, vec![kv("cloud.region", "point-wins")])],
        )],
    );
    let s = TranslateSettings {
        namespace: "acme".into(),
        resource_to_telemetry: true,
        exclude_service_attributes: true,
        disable_scope_info: false,
        target_info: false,
        add_metric_suffixes: true,
        ..Default::default()
    };
    golden(
        &req,
        &s,
        &format!(
            r#"{{__name__="acme_temp_celsius",cloud_region="point-wins",instance="i-1",job="shop/api",otel_scope_name="lib",otel_scope_version="1.0"}} 20 @{MS}"#
        ),
    );
    let s = TranslateSettings {
        add_metric_suffixes: false,
        ..s
    };
    let t = translate(&req, &s);
    assert_eq!(t.series[0].labels[0].value, "acme_temp");
}

fn hist_point(t: u64, counts: Vec<u64>, bounds: Vec<f64>, sum: f64) -> HistogramDataPoint {
    HistogramDataPoint {
        start_time_unix_nano: T0,
        time_unix_nano: t,
        count: counts.iter().sum(),
        sum: Some(sum),
        bucket_counts: counts,
        explicit_bounds: bounds,
        ..Default::default()
    }
}

fn hist(
    name: &str,
    unit: &str,
    temp: AggregationTemporality,
    pts: Vec<HistogramDataPoint>,
) -> Metric {
    Metric {
        name: name.into(),
        unit: unit.into(),
        data: Some(metric::Data::Histogram(Histogram {
            data_points: pts,
            aggregation_temporality: temp as i32,
        })),
        ..Default::default()
    }
}

#[test]
fn explicit_histogram_buckets_and_exemplar_placement() {
    let mut p = hist_point(T0, vec![1, 2, 3], vec![0.1, 0.5], 4.5);
    p.exemplars = vec![
        Exemplar {
            time_unix_nano: T0,
            value: Some(opentelemetry_proto::tonic::metrics::v1::exemplar::Value::AsDouble(0.3)),
            ..Default::default()
        },
        Exemplar {
            time_unix_nano: T0,
            value: Some(opentelemetry_proto::tonic::metrics::v1::exemplar::Value::AsDouble(9.0)),
            ..Default::default()
        },
    ];
    let req = request(
        vec![kv("service.name", "api")],
        vec![hist(
            "http.server.duration",
            "s",
            AggregationTemporality::Cumulative,
            vec![p],
        )],
    );
    golden(
        &req,
        &settings(),
        &format!(
            r#"
            {{__name__="http_server_duration_seconds_bucket",job="api",le="+Inf"}} 6 @{MS}
            {{__name__="http_server_duration_seconds_bucket",job="api",le="+Inf"}} exemplar {{}} 9 @{MS}
            {{__name__="http_server_duration_seconds_bucket",job="api",le="0.1"}} 1 @{MS}
            {{__name__="http_server_duration_seconds_bucket",job="api",le="0.5"}} 3 @{MS}
            {{__name__="http_server_duration_seconds_bucket",job="api",le="0.5"}} exemplar {{}} 0.3 @{MS}
            {{__name__="http_server_duration_seconds_count",job="api"}} 6 @{MS}
            {{__name__="http_server_duration_seconds_sum",job="api"}} 4.5 @{MS}
            "#
        ),
    );
}

#[test]
fn stale_markers_on_every_sample_of_a_point() {
    let mut h = hist_point(T0, vec![1, 1], vec![1.0], 2.0);
    h.flags = 1;
    let mut g = num(T0, 5.0, vec![]);
    g.flags = 1;
    let sm = Metric {
        name: "rpc".into(),
        unit: "ms".into(),
        data: Some(metric::Data::Summary(Summary {
            data_points: vec![SummaryDataPoint {
                time_unix_nano: T0,
                count: 2,
                sum: 3.0,
                quantile_values: vec![ValueAtQuantile {
                    quantile: 0.99,
                    value: 2.5,
                }],
                flags: 1,
                ..Default::default()
            }],
        })),
        ..Default::default()
    };
    let req = request(
        vec![kv("service.name", "api")],
        vec![
            hist("h", "", AggregationTemporality::Cumulative, vec![h]),
            gauge("g", "", vec![g]),
            sm,
        ],
    );
    golden(
        &req,
        &settings(),
        &format!(
            r#"
            {{__name__="g",job="api"}} STALE @{MS}
            {{__name__="h_bucket",job="api",le="+Inf"}} STALE @{MS}
            {{__name__="h_bucket",job="api",le="1"}} STALE @{MS}
            {{__name__="h_count",job="api"}} STALE @{MS}
            {{__name__="h_sum",job="api"}} STALE @{MS}
            {{__name__="rpc_milliseconds",job="api",quantile="0.99"}} STALE @{MS}
            {{__name__="rpc_milliseconds_count",job="api"}} STALE @{MS}
            {{__name__="rpc_milliseconds_sum",job="api"}} STALE @{MS}
            "#
        ),
    );
}

#[test]
fn summaries() {
    let sm = Metric {
        name: "rpc".into(),
        unit: "ms".into(),
        data: Some(metric::Data::Summary(Summary {
            data_points: vec![SummaryDataPoint {
                time_unix_nano: T0,
                count: 10,
                sum: 30.0,
                quantile_values: vec![
                    ValueAtQuantile {
                        quantile: 0.5,
                        value: 2.0,
                    },
                    ValueAtQuantile {
                        quantile: 1.0,
                        value: 9.0,
                    },
                ],
                ..Default::default()
            }],
        })),
        ..Default::default()
    };
    golden(
        &request(vec![kv("service.name", "api")], vec![sm]),
        &settings(),
        &format!(
            r#"
            {{__name__="rpc_milliseconds",job="api",quantile="0.5"}} 2 @{MS}
            {{__name__="rpc_milliseconds",job="api",quantile="1"}} 9 @{MS}
            {{__name__="rpc_milliseconds_count",job="api"}} 10 @{MS}
            {{__name__="rpc_milliseconds_sum",job="api"}} 30 @{MS}
            "#
        ),
    );
}

fn exp_point(
    scale: i32,
    offset: i32,
    counts: Vec<u64>,
    neg: Option<(i32, Vec<u64>)>,
    zero: u64,
) -> ExponentialHistogramDataPoint {
    let count = counts.iter().sum::<u64>() + neg.as_ref().map_or(0, |n| n.1.iter().sum()) + zero;
    ExponentialHistogramDataPoint {
        start_time_unix_nano: T0,
        time_unix_nano: T0,
        count,
        sum: Some(12.5),
        scale,
        zero_count: zero,
        positive: Some(Buckets {
            offset,
            bucket_counts: counts,
        }),
        negative: neg.map(|(offset, bucket_counts)| Buckets {
            offset,
            bucket_counts,
        }),
        ..Default::default()
    }
}

fn exp_metric(temp: AggregationTemporality, pts: Vec<ExponentialHistogramDataPoint>) -> Metric {
    Metric {
        name: "latency".into(),
        unit: "ms".into(),
        data: Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
            data_points: pts,
            aggregation_temporality: temp as i32,
        })),
        ..Default::default()
    }
}

#[test]
fn native_histograms_spans_and_deltas_at_several_scales() {
    let cases: Vec<(ExponentialHistogramDataPoint, &str)> = vec![
        // Contiguous buckets at scale 0: OTel index 2.. → Prometheus 3..
        (
            exp_point(0, 2, vec![1, 2, 0, 4], None, 1),
            "schema=0 count=8 sum=12.5 zero=1 pos=[3:4] [1, 1, -2, 4] neg=[] []",
        ),
        // A gap of 3 zero buckets starts a new span; a gap of 2 is filled.
        (
            exp_point(3, -1, vec![5, 0, 0, 6, 0, 0, 0, 7], Some((0, vec![2])), 0),
            "schema=3 count=20 sum=12.5 zero=0 pos=[0:4 3:1] [5, -5, 0, 6, 1] neg=[1:1] [2]",
        ),
        // Scale 10 is reduced to 8: indices >> 2 merge four buckets into one.
        (
            exp_point(10, 0, vec![1, 1, 1, 1, 2, 2], None, 0),
            "schema=8 count=8 sum=12.5 zero=0 pos=[1:2] [4, 0] neg=[] []",
        ),
        // Negative offsets floor when downscaling: -3,-2,-1,0 >> 1 = -2,-1,-1,0, +1.
        (
            exp_point(9, -3, vec![1, 1, 1, 1], None, 0),
            "schema=8 count=4 sum=12.5 zero=0 pos=[-1:3] [1, 1, -1] neg=[] []",
        ),
        // Leading zero buckets are skipped; the lowest scale Prometheus accepts.
        (
            exp_point(-4, 0, vec![0, 0, 3], None, 0),
            "schema=-4 count=3 sum=12.5 zero=0 pos=[3:1] [3] neg=[] []",
        ),
    ];
    for (p, want) in cases {
        let req = request(
            vec![kv("service.name", "api")],
            vec![exp_metric(AggregationTemporality::Cumulative, vec![p])],
        );
        golden(
            &req,
            &settings(),
            &format!(r#"{{__name__="latency_milliseconds",job="api"}} hist {want} @{MS}"#),
        );
    }
    let req = request(
        vec![],
        vec![exp_metric(
            AggregationTemporality::Cumulative,
            vec![exp_point(-5, 0, vec![1], None, 0)],
        )],
    );
    let t = translate(&req, &settings());
    assert_eq!(t.errors, vec![TranslateError::ScaleTooSmall(-5)]);
    assert_eq!(
        t.errors[0].to_string(),
        "cannot convert exponential to native histogram. Scale must be >= -4, was -5"
    );
    assert!(t.series.is_empty());
}

#[test]
fn delta_and_empty_metrics_are_errors_but_the_rest_is_exported() {
    let req = request(
        vec![kv("service.name", "api")],
        vec![
            sum(
                "d",
                "",
                true,
                AggregationTemporality::Delta,
                vec![num(T0, 1.0, vec![]), num(T0 + SEC, 1.0, vec![])],
            ),
            gauge("empty", "", vec![]),
            gauge("ok", "", vec![num(T0, 1.0, vec![])]),
        ],
    );
    let t = translate(&req, &settings());
    assert_eq!(
        t.errors,
        vec![
            TranslateError::InvalidTemporality("d".into()),
            TranslateError::EmptyDataPoints("empty".into())
        ]
    );
    assert_eq!(
        t.errors[0].to_string(),
        "invalid temporality and type combination for metric \"d\""
    );
    assert_eq!(t.dropped_points, 2);
    assert_eq!(t.series.len(), 1);
}

#[test]
fn target_info_rules() {
    let g = || gauge("g", "", vec![num(T0, 1.0, vec![])]);
    // Only service attributes: no target_info.
    let t = translate(&request(svc(), vec![g()]), &settings());
    assert_eq!(t.series.len(), 1);
    // Disabled.
    let mut r = svc();
    r.push(kv("k8s.pod.name", "p"));
    let mut s = settings();
    s.target_info = false;
    assert_eq!(
        translate(&request(r.clone(), vec![g()]), &s).series.len(),
        1
    );
    // Namespaced, with external labels.
    let mut s = settings();
    s.namespace = "ns".into();
    s.external_labels = vec![Label::new("replica", "r1")];
    let t = translate(&request(r, vec![g()]), &s);
    let ti = t
        .series
        .iter()
        .find(|s| s.labels.iter().any(|l| l.value == "ns_target_info"))
        .expect("target_info");
    assert_eq!(
        render_labels(&ti.labels),
        r#"__name__="ns_target_info",instance="i-1",job="shop/api",k8s_pod_name="p",replica="r1""#
    );
}

#[test]
fn samples_of_one_series_leave_sorted_even_across_resources() {
    let mk = |t: u64, v: f64| {
        request(
            vec![kv("service.name", "api")],
            vec![gauge("g", "", vec![num(t, v, vec![])])],
        )
    };
    let mut req = mk(T0 + 2 * SEC, 3.0);
    req.resource_metrics.extend(mk(T0, 1.0).resource_metrics);
    req.resource_metrics
        .extend(mk(T0 + SEC, 2.0).resource_metrics);
    let t = translate(&req, &settings());
    assert_eq!(t.series.len(), 1);
    let v: Vec<f64> = t.series[0].samples.iter().map(|s| s.value).collect();
    assert_eq!(v, vec![1.0, 2.0, 3.0]);
}

#[test]
fn metadata_once_per_family_with_prometheus_types() {
    use super::proto::MetricType;
    let mut g = gauge(
        "mem",
        "By",
        vec![
            num(T0, 1.0, vec![kv("a", "1")]),
            num(T0, 2.0, vec![kv("a", "2")]),
        ],
    );
    g.description = "Memory in use.".into();
    let req = request(
        vec![kv("service.name", "api")],
        vec![
            g,
            sum(
                "hits",
                "",
                true,
                AggregationTemporality::Cumulative,
                vec![num(T0, 1.0, vec![])],
            ),
            sum(
                "depth",
                "",
                false,
                AggregationTemporality::Cumulative,
                vec![num(T0, 1.0, vec![])],
            ),
            hist(
                "lat",
                "s",
                AggregationTemporality::Cumulative,
                vec![hist_point(T0, vec![1], vec![], 1.0)],
            ),
        ],
    );
    let mut s = settings();
    s.send_metadata = true;
    let t = translate(&req, &s);
    let md: Vec<(String, i32, String, String)> = t
        .metadata
        .iter()
        .map(|m| {
            (
                m.metric_family_name.clone(),
                m.r#type,
                m.help.clone(),
                m.unit.clone(),
            )
        })
        .collect();
    assert_eq!(
        md,
        vec![
            (
                "mem_bytes".into(),
                MetricType::Gauge as i32,
                "Memory in use.".into(),
                "By".into()
            ),
            (
                "hits_total".into(),
                MetricType::Counter as i32,
                String::new(),
                String::new()
            ),
            (
                "depth".into(),
                MetricType::Gauge as i32,
                String::new(),
                String::new()
            ),
            (
                "lat_seconds".into(),
                MetricType::Histogram as i32,
                String::new(),
                "s".into()
            ),
        ]
    );
    assert!(translate(&req, &settings()).metadata.is_empty());
}

fn limits() -> DeltaLimits {
    DeltaLimits {
        max_series: 2,
        max_stale: Duration::from_secs(300),
    }
}

#[test]
fn delta_sums_and_histograms_become_cumulative() {
    let mut d = DeltaToCumulative::new(limits());
    let now = Instant::now();
    let mk = |t: u64, v: f64, hc: Vec<u64>| {
        let mut p = num(t, v, vec![kv("k", "v")]);
        p.start_time_unix_nano = t - SEC;
        let mut h = hist_point(t, hc, vec![1.0], 1.0);
        h.start_time_unix_nano = t - SEC;
        request(
            vec![kv("service.name", "api")],
            vec![
                sum("c", "", true, AggregationTemporality::Delta, vec![p]),
                hist("h", "", AggregationTemporality::Delta, vec![h]),
            ],
        )
    };
    let mut all = String::new();
    for (i, (v, hc)) in [(1.0, vec![1, 0]), (2.0, vec![0, 2]), (4.0, vec![3, 0])]
        .into_iter()
        .enumerate()
    {
        let mut req = mk(T0 + (i as u64 + 1) * SEC, v, hc);
        let st = d.convert(&mut req, now);
        assert_eq!(st.dropped_points, 0);
        let t = translate(&req, &settings());
        assert!(t.errors.is_empty(), "{:?}", t.errors);
        all.push_str(&render(&t.series));
    }
    assert_eq!(d.len(), 2);
    let lines: Vec<&str> = all.lines().collect();
    let find = |prefix: &str| -> Vec<String> {
        lines
            .iter()
            .filter(|l| l.starts_with(prefix) && !l.contains("exemplar"))
            .map(|l| {
                l.rsplit_once(" @")
                    .map(|(a, _)| {
                        a.rsplit_once(' ')
                            .map(|(_, v)| v.to_string())
                            .unwrap_or_default()
                    })
                    .unwrap_or_default()
            })
            .collect()
    };
    assert_eq!(
        find(r#"{__name__="c_total",job="api",k="v"}"#),
        vec!["1", "3", "7"]
    );
    assert_eq!(
        find(r#"{__name__="h_bucket",job="api",le="1"}"#),
        vec!["1", "1", "4"]
    );
    assert_eq!(
        find(r#"{__name__="h_bucket",job="api",le="+Inf"}"#),
        vec!["1", "3", "6"]
    );
    assert_eq!(find(r#"{__name__="h_sum",job="api"}"#), vec!["1", "2", "3"]);
}

#[test]
fn delta_exponential_histograms_merge_across_scales() {
    let mut d = DeltaToCumulative::new(limits());
    let now = Instant::now();
    let mut p1 = exp_point(2, 0, vec![1, 1], None, 1);
    p1.time_unix_nano = T0 + SEC;
    let mut p2 = exp_point(1, 0, vec![5], None, 0);
    p2.time_unix_nano = T0 + 2 * SEC;
    let mut req = request(
        vec![],
        vec![exp_metric(AggregationTemporality::Delta, vec![p2, p1])],
    );
    let st = d.convert(&mut req, now);
    assert_eq!(st.converted_points, 2);
    let t = translate(&req, &settings());
    let got = render(&t.series);
    // Scale 2 indices 0,1 → scale 1 index 0 (2 counts) + 5 → 7; zero count carried.
    assert_eq!(
        got,
        format!(
            "{{__name__=\"latency_milliseconds\"}} hist schema=2 count=3 sum=12.5 zero=1 pos=[1:2] [1, 0] neg=[] [] @{}\n\
             {{__name__=\"latency_milliseconds\"}} hist schema=1 count=8 sum=25 zero=1 pos=[1:1] [7] neg=[] [] @{}\n",
            MS + 1000,
            MS + 2000
        )
    );
}

#[test]
fn delta_state_is_bounded_expires_and_drops_out_of_order() {
    let mut d = DeltaToCumulative::new(limits());
    let t0 = Instant::now();
    let mk = |series: &str, t: u64| {
        request(
            vec![],
            vec![sum(
                "c",
                "",
                true,
                AggregationTemporality::Delta,
                vec![num(t, 1.0, vec![kv("s", series)])],
            )],
        )
    };
    assert_eq!(d.convert(&mut mk("a", T0 + SEC), t0).dropped_points, 0);
    assert_eq!(d.convert(&mut mk("b", T0 + SEC), t0).dropped_points, 0);
    // Third series: table full, refused.
    let mut r = mk("c", T0 + SEC);
    let st = d.convert(&mut r, t0 + Duration::from_secs(1));
    assert_eq!(st.dropped_points, 1);
    assert!(st.errors[0].contains("max_series"), "{:?}", st.errors);
    assert_eq!(
        crate::otlp::metric_points(&r.resource_metrics[0].scope_metrics[0].metrics[0]),
        0
    );
    // Out of order for "a".
    let st = d.convert(&mut mk("a", T0 + SEC), t0 + Duration::from_secs(2));
    assert_eq!(st.dropped_points, 1);
    // After max_stale idle, both are evicted and "c" gets in.
    let later = t0 + Duration::from_secs(400);
    let st = d.convert(&mut mk("c", T0 + 2 * SEC), later);
    assert_eq!(st.evicted, 2);
    assert_eq!(st.dropped_points, 0);
    assert_eq!(d.len(), 1);
}

mod config_validation {
    use crate::component::ConfigIssue;
    use crate::config::{validate, ValidatedConfig};
    use crate::registry::Registry;

    fn load(yaml: &str) -> Result<ValidatedConfig, Vec<ConfigIssue>> {
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml).expect("yaml");
        validate(&v, &Registry::builtin())
    }

    #[test]
    fn reserved_headers_bad_labels_and_missing_authenticator_are_reported() {
        let errs = load(
            r#"
receivers: {otlp: {protocols: {http: {}}}}
exporters:
  prometheusremotewrite:
    endpoint: http://localhost:9090/api/v1/write
    headers: {Content-Type: text/plain, X-Scope-OrgID: t1}
    external_labels: {replica: ""}
    compression: gzip
    remote_write_queue: {queue_size: 0}
service:
  pipelines:
    metrics: {receivers: [otlp], exporters: [prometheusremotewrite]}
"#,
        )
        .err()
        .expect("invalid");
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        let has = |p: &str| text.iter().any(|t| t.contains(p));
        assert!(
            has("exporters::prometheusremotewrite::headers::Content-Type"),
            "{text:?}"
        );
        assert!(!has("X-Scope-OrgID"), "{text:?}");
        assert!(
            has("external labels configuration contains an empty key or value"),
            "{text:?}"
        );
        assert!(has("compression type must be snappy"), "{text:?}");
        assert!(has("a 0 size queue will drop all the data"), "{text:?}");
    }

    #[test]
    fn authenticator_must_be_configured_and_enabled() {
        let yaml = |ext: &str, svc: &str| {
            format!(
                r#"
receivers: {{otlp: {{protocols: {{http: {{}}}}}}}}
extensions: {{{ext}}}
exporters:
  prometheusremotewrite:
    endpoint: http://localhost:9090/api/v1/write
    auth: {{authenticator: sigv4auth/amp}}
service:
  extensions: [{svc}]
  pipelines:
    metrics: {{receivers: [otlp], exporters: [prometheusremotewrite]}}
"#
            )
        };
        let errs = load(&yaml("health_check: {}", "health_check"))
            .err()
            .expect("invalid");
        assert_eq!(
            errs[0].to_string(),
            "exporters::prometheusremotewrite::auth::authenticator: references authenticator extension \"sigv4auth/amp\" which is not configured"
        );
        let errs = load(&yaml("sigv4auth/amp: {region: us-east-1}", ""))
            .err()
            .expect("invalid");
        assert!(
            errs[0]
                .to_string()
                .contains("must be listed in service::extensions"),
            "{errs:?}"
        );
        assert!(load(&yaml("sigv4auth/amp: {region: us-east-1}", "sigv4auth/amp")).is_ok());
    }

    #[test]
    fn alias_and_defaults() {
        let cfg = load(
            r#"
receivers: {otlp: {protocols: {http: {}}}}
exporters:
  prometheus_remote_write:
    endpoint: http://localhost:9090/api/v1/write
service:
  pipelines:
    metrics: {receivers: [otlp], exporters: [prometheus_remote_write]}
"#,
        )
        .expect("valid");
        assert_eq!(cfg.exporters.len(), 1);
    }
}

mod sender {
    //! The sender against an in-process HTTP server: retries resume at the request that
    //! failed (those already accepted are not sent again), a permanent answer does not stop
    //! the rest of the batch, and the remote-write headers are set.

    use std::sync::{Arc, Mutex};

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;

    use super::super::client::{Inner, PrwClient, PrwMetrics, PrwRequest};
    use super::super::proto::WriteRequest;
    use super::super::translate::TranslateSettings;
    use crate::exporter::queue::{ExportClient, ExportError};
    use crate::telemetry::metrics::Registry;

    type Seen = Arc<Mutex<Vec<(Vec<(String, String)>, Bytes)>>>;

    /// Answers with `script` statuses in order (then 204) and records headers and bodies.
    async fn server(script: Vec<u16>) -> (String, Seen) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/api/v1/write", listener.local_addr().unwrap());
        let seen: Seen = Arc::default();
        let script = Arc::new(Mutex::new(script.into_iter()));
        let s2 = seen.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let (seen, script) = (s2.clone(), script.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (seen, script) = (seen.clone(), script.clone());
                        async move {
                            let headers = req
                                .headers()
                                .iter()
                                .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
                                .collect();
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            seen.lock().unwrap().push((headers, body));
                            let status = script.lock().unwrap().next().unwrap_or(204);
                            Ok::<_, std::convert::Infallible>(
                                hyper::Response::builder()
                                    .status(status)
                                    .body(Full::new(Bytes::from_static(b"nope")))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        (url, seen)
    }

    fn client(url: &str, parallelism: usize) -> PrwClient {
        PrwClient {
            inner: Arc::new(Inner {
                id: "prometheusremotewrite".into(),
                http: super::super::client::http_sender(
                    url.parse().unwrap(),
                    &Default::default(),
                    &Default::default(),
                    None,
                )
                .unwrap(),
                metrics: PrwMetrics::new(&Registry::default(), "prw", url, parallelism),
            }),
            settings: TranslateSettings::default(),
            max_bytes: 3_000_000,
            parallelism,
            delta: None,
        }
    }

    fn bodies(n: u8) -> Vec<Bytes> {
        (0..n)
            .map(|i| Bytes::from(snap::raw::Encoder::new().compress_vec(&[i; 8]).unwrap()))
            .collect()
    }

    #[tokio::test]
    async fn retry_resumes_where_it_failed_and_headers_are_set() {
        // Sequential (parallelism 1): body 0 ok, body 1 gets 503, then everything succeeds.
        let (url, seen) = server(vec![204, 503]).await;
        let c = client(&url, 1);
        let mut req = PrwRequest::new(bodies(3));
        let first = c.send(&mut req).await;
        assert!(
            matches!(first, Err(ExportError::Retryable { .. })),
            "{first:?}"
        );
        assert_eq!(
            seen.lock().unwrap().len(),
            2,
            "stops at the retryable failure"
        );
        c.send(&mut req).await.unwrap();
        let seen = seen.lock().unwrap();
        let sent: Vec<&Bytes> = seen.iter().map(|(_, b)| b).collect();
        assert_eq!(
            sent,
            vec![
                &req.bodies[0],
                &req.bodies[1],
                &req.bodies[1],
                &req.bodies[2]
            ]
        );
        let h: std::collections::HashMap<_, _> = seen[0].0.iter().cloned().collect();
        assert_eq!(h["content-encoding"], "snappy");
        assert_eq!(h["content-type"], "application/x-protobuf");
        assert_eq!(h["x-prometheus-remote-write-version"], "0.1.0");
        assert!(h["user-agent"].starts_with("tern/"));
    }

    #[tokio::test]
    async fn a_permanent_answer_does_not_stop_the_rest_and_is_reported_once() {
        let (url, seen) = server(vec![400]).await;
        let c = client(&url, 4);
        let mut req = PrwRequest::new(bodies(5));
        let r = c.send(&mut req).await;
        match r {
            Err(ExportError::Permanent { message }) => {
                assert!(
                    message.contains("400") && message.contains("nope"),
                    "{message}"
                )
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            seen.lock().unwrap().len(),
            5,
            "every request of the batch was sent"
        );
        // Nothing is left to send.
        c.send(&mut req).await.unwrap();
        assert_eq!(seen.lock().unwrap().len(), 5);
    }

    #[test]
    fn a_batch_that_translates_to_nothing_fails_as_a_whole() {
        use super::*;
        let c = client("http://127.0.0.1:9/api/v1/write", 1);
        let req = request(
            vec![],
            vec![sum(
                "d",
                "",
                true,
                AggregationTemporality::Delta,
                vec![num(T0, 1.0, vec![])],
            )],
        );
        let batch = crate::pipeline::Batch::<crate::otlp::Metrics>::from_request(req);
        assert!(matches!(
            c.build_request(batch),
            Err(ExportError::Permanent { .. })
        ));
        assert_eq!(c.inner.metrics.failed_translations.get(), 1);
        let ok = request(vec![], vec![gauge("g", "", vec![num(T0, 1.0, vec![])])]);
        let r = c
            .build_request(crate::pipeline::Batch::from_request(ok))
            .unwrap();
        let raw = snap::raw::Decoder::new()
            .decompress_vec(&r.bodies[0])
            .unwrap();
        let wr = <WriteRequest as prost::Message>::decode(raw.as_slice()).unwrap();
        assert_eq!(wr.timeseries.len(), 1);
    }
}
