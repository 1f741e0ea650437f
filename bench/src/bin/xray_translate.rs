//! Throughput of the `awsxray` translation on one thread: the loadgen's OTLP
//! trace bodies are decoded (as the exporter does with each batch) and turned
//! into X-Ray segment documents (JSON), repeatedly, for a fixed time.
//!
//! Prints one JSON line: spans/s with and without the protobuf decode, documents
//! per second and the average document size. Pin it (`taskset -c 0`) for a
//! per-core figure.

use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Parser;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde_json::json;
use tern_bench::gen;
use tern_core::exporter::awsxray::client::encode_request;
use tern_core::exporter::awsxray::translate::{TranslateOptions, Translator};

#[derive(Parser, Debug)]
#[command(about = "awsxray translation throughput (one thread)")]
struct Args {
    /// Seconds per measurement (two measurements: with and without decode).
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Distinct request bodies (as the loadgen sends).
    #[arg(long, default_value_t = 16)]
    requests: usize,
    /// Spans per request.
    #[arg(long, default_value_t = 100)]
    spans: usize,
    /// Attribute keys to index (annotations), comma-separated.
    #[arg(long, default_value = "")]
    indexed: String,
}

fn main() -> Result<()> {
    let a = Args::parse();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos() as u64;
    let bodies = gen::encoded_bodies(a.requests, a.spans, 7, now);
    let decoded: Vec<ExportTraceServiceRequest> = bodies
        .iter()
        .map(|b| ExportTraceServiceRequest::decode(b.as_ref()))
        .collect::<Result<_, _>>()?;
    let translator = Translator::new(TranslateOptions {
        indexed_attributes: a
            .indexed
            .split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        ..Default::default()
    });
    let budget = Duration::from_secs_f64(a.seconds);

    // Decode + translate (what the exporter does per batch).
    let (mut spans, mut docs, mut bytes) = (0u64, 0u64, 0u64);
    let start = Instant::now();
    while start.elapsed() < budget {
        for b in &bodies {
            let req = ExportTraceServiceRequest::decode(b.as_ref())?;
            let x = encode_request("bench", &translator, &req);
            spans += a.spans as u64;
            docs += x.documents().len() as u64;
            bytes += x
                .documents()
                .iter()
                .map(|d| d.json.len() as u64)
                .sum::<u64>();
        }
    }
    let with_decode = spans as f64 / start.elapsed().as_secs_f64();
    let avg_doc = bytes as f64 / docs.max(1) as f64;
    let docs_per_span = docs as f64 / spans.max(1) as f64;

    // Translate only.
    let mut spans2 = 0u64;
    let start = Instant::now();
    while start.elapsed() < budget {
        for req in &decoded {
            let x = encode_request("bench", &translator, req);
            spans2 += a.spans as u64;
            std::hint::black_box(&x);
        }
    }
    let translate_only = spans2 as f64 / start.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({
            "type": "xray_translate",
            "spans_per_sec_decode_and_translate": with_decode.round(),
            "spans_per_sec_translate_only": translate_only.round(),
            "docs_per_span": docs_per_span,
            "avg_doc_bytes": avg_doc.round(),
            "json_mb_per_sec": (with_decode * docs_per_span * avg_doc / 1e6 * 10.0).round() / 10.0,
        })
    );
    Ok(())
}
