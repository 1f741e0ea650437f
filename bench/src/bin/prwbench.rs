//! Remote-write benchmark.
//!
//! `prwbench translate`: data points/s through the `prometheusremotewrite` exporter's
//! CPU path on one thread — OTLP protobuf decode, translation to series, packing and
//! snappy compression — over a realistic mix of gauges, counters, explicit and
//! exponential histograms.
//!
//! `prwbench e2e`: OTLP/HTTP gauge/counter load into a running collector whose
//! `prometheusremotewrite` exporter writes into a local Prometheus; counts the points
//! accepted and the samples Prometheus appended (its own
//! `prometheus_tsdb_head_samples_appended_total`), and prints one JSON line.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use clap::{Parser, Subcommand};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    exponential_histogram_data_point::Buckets, metric, number_data_point, AggregationTemporality,
    ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use tern_core::exporter::prometheusremotewrite::{encode, translate};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Translate + encode + compress on one thread.
    Translate {
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Load a collector that remote-writes into Prometheus.
    E2e {
        #[arg(long, default_value = "http://127.0.0.1:4318")]
        otlp: String,
        #[arg(long, default_value = "http://127.0.0.1:19090")]
        prom: String,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        #[arg(long, default_value_t = 8)]
        connections: usize,
        /// Series (= points) per request.
        #[arg(long, default_value_t = 1000)]
        points: usize,
    },
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn resource(worker: usize) -> Resource {
    Resource {
        attributes: vec![
            kv("service.name", "checkout"),
            kv("service.namespace", "shop"),
            kv("service.instance.id", &format!("i-{worker:04}")),
            kv("host.name", "ip-10-0-0-12"),
            kv("cloud.provider", "aws"),
            kv("cloud.region", "us-east-1"),
            kv(
                "aws.ecs.task.arn",
                "arn:aws:ecs:us-east-1:123456789012:task/abc",
            ),
        ],
        ..Default::default()
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn attrs(i: usize) -> Vec<KeyValue> {
    vec![
        kv("http.route", &format!("/api/v1/items/{}", i % 10)),
        kv("http.request.method", ["GET", "POST"][i % 2]),
        kv("http.response.status_code", &format!("{}", 200 + (i % 3))),
    ]
}

/// 200 data points: 8 gauges, 6 counters, 4 histograms (15 buckets), 2 exponential
/// histograms (~40 buckets), each over 10 attribute sets.
fn mixed_request(t: u64) -> ExportMetricsServiceRequest {
    let num = |i: usize, v: f64| NumberDataPoint {
        attributes: attrs(i),
        start_time_unix_nano: t - 60_000_000_000,
        time_unix_nano: t,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    };
    let mut metrics = Vec::new();
    for g in 0..8 {
        metrics.push(Metric {
            name: format!("process.runtime.gauge{g}"),
            unit: "By".into(),
            data: Some(metric::Data::Gauge(Gauge {
                data_points: (0..10).map(|i| num(i, (g * i) as f64)).collect(),
            })),
            ..Default::default()
        });
    }
    for c in 0..6 {
        metrics.push(Metric {
            name: format!("http.server.requests{c}"),
            unit: "{request}".into(),
            data: Some(metric::Data::Sum(Sum {
                data_points: (0..10).map(|i| num(i, (c * 1000 + i) as f64)).collect(),
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
            })),
            ..Default::default()
        });
    }
    let bounds: Vec<f64> = vec![
        0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    ];
    for h in 0..4 {
        metrics.push(Metric {
            name: format!("http.server.request.duration{h}"),
            unit: "s".into(),
            data: Some(metric::Data::Histogram(Histogram {
                data_points: (0..10)
                    .map(|i| HistogramDataPoint {
                        attributes: attrs(i),
                        start_time_unix_nano: t - 60_000_000_000,
                        time_unix_nano: t,
                        count: 150,
                        sum: Some(42.5),
                        bucket_counts: vec![10; 15],
                        explicit_bounds: bounds.clone(),
                        ..Default::default()
                    })
                    .collect(),
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
            })),
            ..Default::default()
        });
    }
    for e in 0..2 {
        metrics.push(Metric {
            name: format!("rpc.server.duration{e}"),
            unit: "ms".into(),
            data: Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
                data_points: (0..10)
                    .map(|i| ExponentialHistogramDataPoint {
                        attributes: attrs(i),
                        start_time_unix_nano: t - 60_000_000_000,
                        time_unix_nano: t,
                        count: 400,
                        sum: Some(1234.5),
                        scale: 3,
                        zero_count: 0,
                        positive: Some(Buckets {
                            offset: 10,
                            bucket_counts: (0..40).map(|b| (b % 7 + 5) as u64).collect(),
                        }),
                        ..Default::default()
                    })
                    .collect(),
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
            })),
            ..Default::default()
        });
    }
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource(0)),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "io.opentelemetry.http".into(),
                    version: "2.1.0".into(),
                    ..Default::default()
                }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn bench_translate(seconds: u64) -> Result<()> {
    let body = mixed_request(now_ns()).encode_to_vec();
    let points = 200u64;
    let settings = translate::TranslateSettings {
        add_metric_suffixes: true,
        target_info: true,
        ..Default::default()
    };
    let mut enc = snap::raw::Encoder::new();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let (mut n, mut series, mut samples, mut out_bytes, mut raw_bytes) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    while Instant::now() < deadline {
        for _ in 0..50 {
            let req = ExportMetricsServiceRequest::decode(body.as_slice())?;
            let t = translate::translate(&req, &settings);
            series += t.series.len() as u64;
            samples += t
                .series
                .iter()
                .map(|s| (s.samples.len() + s.histograms.len()) as u64)
                .sum::<u64>();
            for r in encode::pack(t.series, t.metadata, 3_000_000) {
                raw_bytes += r.encoded_len() as u64;
                out_bytes += encode::compress(&r, &mut enc)?.len() as u64;
            }
            n += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "bench": "prw_translate",
            "threads": 1,
            "seconds": secs,
            "otlp_request_bytes": body.len(),
            "points_per_request": points,
            "data_points_per_s": (n * points) as f64 / secs,
            "series_per_s": series as f64 / secs,
            "samples_per_s": samples as f64 / secs,
            "uncompressed_bytes_per_point": raw_bytes as f64 / (n * points) as f64,
            "snappy_bytes_per_point": out_bytes as f64 / (n * points) as f64,
        })
    );
    Ok(())
}

/// Gauge + counter points (one per series), so points == Prometheus samples.
fn simple_request(worker: usize, points: usize, t: u64, seq: u64) -> Vec<u8> {
    let half = points / 2;
    let pt = |i: usize, v: f64| NumberDataPoint {
        attributes: vec![kv("series", &format!("{i}"))],
        start_time_unix_nano: t - 1_000_000_000,
        time_unix_nano: t,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    };
    let req = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource(worker)),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![
                    Metric {
                        name: "bench.gauge".into(),
                        data: Some(metric::Data::Gauge(Gauge {
                            data_points: (0..half).map(|i| pt(i, seq as f64)).collect(),
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "bench.requests".into(),
                        data: Some(metric::Data::Sum(Sum {
                            data_points: (0..points - half).map(|i| pt(i, seq as f64)).collect(),
                            aggregation_temporality: AggregationTemporality::Cumulative as i32,
                            is_monotonic: true,
                        })),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    req.encode_to_vec()
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

async fn prom_appended(client: &HttpClient, prom: &str) -> Result<u64> {
    let uri: hyper::Uri = format!("{prom}/metrics").parse()?;
    let resp = client.get(uri).await?;
    let body = resp.into_body().collect().await?.to_bytes();
    let text = String::from_utf8_lossy(&body);
    let mut total = 0f64;
    for line in text.lines() {
        if line.starts_with("prometheus_tsdb_head_samples_appended_total") {
            if let Some(v) = line.rsplit(' ').next() {
                total += v.parse::<f64>().unwrap_or(0.0);
            }
        }
    }
    Ok(total as u64)
}

async fn bench_e2e(
    otlp: String,
    prom: String,
    seconds: u64,
    connections: usize,
    points: usize,
) -> Result<()> {
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let before = prom_appended(&client, &prom)
        .await
        .context("read Prometheus /metrics")?;
    let accepted = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let uri: hyper::Uri = format!("{otlp}/v1/metrics").parse()?;
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for w in 0..connections {
        let (client, uri, accepted, refused, errors) = (
            client.clone(),
            uri.clone(),
            accepted.clone(),
            refused.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut last = 0u64;
            let mut seq = 0u64;
            while Instant::now() < deadline {
                // Strictly increasing millisecond timestamps per series.
                let t = (now_ns() / 1_000_000).max(last + 1) * 1_000_000;
                last = t / 1_000_000;
                seq += 1;
                let body = Bytes::from(simple_request(w, points, t, seq));
                let req = hyper::Request::post(uri.clone())
                    .header("content-type", "application/x-protobuf")
                    .body(Full::new(body));
                let Ok(req) = req else { continue };
                match client.request(req).await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.into_body().collect().await;
                        accepted.fetch_add(points as u64, Ordering::Relaxed);
                    }
                    Ok(r) if r.status().as_u16() == 429 || r.status().as_u16() == 503 => {
                        let _ = r.into_body().collect().await;
                        refused.fetch_add(points as u64, Ordering::Relaxed);
                        // The refused request is retried with the same series and a newer time.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let load_secs = start.elapsed().as_secs_f64();
    let accepted = accepted.load(Ordering::Relaxed);
    // Drain: until Prometheus has every accepted sample, or its count stops moving for 10 s.
    let mut last_change = Instant::now();
    let mut last = prom_appended(&client, &prom).await? - before;
    while last < accepted && last_change.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = prom_appended(&client, &prom).await? - before;
        if now != last {
            last = now;
            last_change = Instant::now();
        }
    }
    let delivered_secs = (last_change - start).as_secs_f64().max(load_secs);
    println!(
        "{}",
        serde_json::json!({
            "bench": "prw_e2e",
            "connections": connections,
            "points_per_request": points,
            "load_seconds": load_secs,
            "points_accepted": accepted,
            "points_refused": refused.load(Ordering::Relaxed),
            "errors": errors.load(Ordering::Relaxed),
            "samples_appended": last,
            "accepted_points_per_s": accepted as f64 / load_secs,
            "delivered_samples_per_s": last as f64 / delivered_secs,
            "lost": accepted as i64 - last as i64,
        })
    );
    if last != accepted {
        bail!("Prometheus appended {last} samples for {accepted} accepted points");
    }
    Ok(())
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Translate { seconds } => bench_translate(seconds),
        Cmd::E2e {
            otlp,
            prom,
            seconds,
            connections,
            points,
        } => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?
            .block_on(bench_e2e(otlp, prom, seconds, connections, points)),
    }
}
