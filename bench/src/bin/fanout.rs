//! Fan-out cost of one batch delivered to 1, 2 or 4 OTLP consumers, measured at the
//! `Batch` level on one thread with the counting allocator: what `copies` and the
//! exporters' encode (`encoded_parts`, as `otlphttp` calls it) allocate per batch,
//! for a pass-through (encoded) batch and for a decoded one (JSON input, or any
//! processor that read or edited the content), optionally with a write-ahead-log
//! append (`to_bytes`) before the fan-out.
//!
//! Bytes allocated per batch are deterministic (the figure to compare between
//! builds); nanoseconds per batch and spans/s are indicative (pin it: `taskset -c 0`).
//! Prints one JSON line per case; `--markdown` prints a table instead.

use std::time::{Duration, Instant};

use anyhow::Result;
use bytes::Bytes;
use clap::Parser;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde_json::json;
use tern_bench::gen;
use tern_core::otlp::Traces;
use tern_core::pipeline::Batch;

#[global_allocator]
static ALLOC: tern_alloc::Counting = tern_alloc::Counting;

#[derive(Parser, Debug)]
#[command(about = "Batch fan-out: bytes allocated and time per batch for 1, 2, 4 consumers")]
struct Args {
    /// Seconds of timing per case (the byte counts do not depend on it).
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
    /// Requests of 100 spans in one batch (82 ≈ the batch processor's 8192 spans).
    #[arg(long, default_value_t = 82)]
    requests: usize,
    /// Consumer counts to measure, comma-separated.
    #[arg(long, default_value = "1,2,4")]
    consumers: String,
    /// Print a Markdown table instead of JSON lines.
    #[arg(long)]
    markdown: bool,
}

#[derive(Clone, Copy, Debug)]
enum Input {
    /// Protobuf passed through: the batch is the received requests back to back.
    Encoded,
    /// Decoded content (OTLP/JSON input or a processor that read it).
    Decoded,
}

struct Case {
    input: Input,
    wal: bool,
    consumers: usize,
}

struct Measured {
    bytes_per_batch: u64,
    ns_per_batch: f64,
    batches: u64,
}

/// One batch through the fan-out: optional WAL append, `copies`, and every
/// consumer's encode. Returns the bytes the consumers got (kept alive until the
/// end, as an exporter holds its body until sent).
fn deliver(batch: Batch<Traces>, case: &Case) -> usize {
    let mut wal_len = 0;
    if case.wal {
        wal_len = batch.to_bytes().len();
    }
    let copies = batch.copies(case.consumers);
    let bodies: Vec<Vec<Bytes>> = copies.iter().map(Batch::encoded_parts).collect();
    let sent: usize = bodies.iter().flatten().map(Bytes::len).sum();
    drop(copies);
    sent + wal_len
}

fn measure(
    case: &Case,
    bodies: &[Bytes],
    decoded: &ExportTraceServiceRequest,
    secs: f64,
) -> Measured {
    let make = || match case.input {
        Input::Encoded => {
            let mut b = Batch::<Traces>::default();
            for body in bodies {
                if let Ok(one) = Batch::from_encoded(body.clone()) {
                    b.append(one);
                }
            }
            b
        }
        Input::Decoded => Batch::<Traces>::from_request(decoded.clone()),
    };
    // Bytes: one batch, after a warm-up run (lazy statics, first-use buffers).
    std::hint::black_box(deliver(make(), case));
    let batch = make();
    let before = tern_alloc::total_allocated();
    std::hint::black_box(deliver(batch, case));
    let bytes_per_batch = tern_alloc::total_allocated() - before;
    // Time: as many batches as fit in the wall-clock budget (at least 3), building
    // each batch outside the clock.
    let budget = Duration::from_secs_f64(secs);
    let wall = Instant::now();
    let mut spent = Duration::ZERO;
    let mut batches = 0u64;
    while batches < 3 || wall.elapsed() < budget {
        let batch = make();
        let t = Instant::now();
        std::hint::black_box(deliver(batch, case));
        spent += t.elapsed();
        batches += 1;
    }
    Measured {
        bytes_per_batch,
        ns_per_batch: spent.as_nanos() as f64 / batches as f64,
        batches,
    }
}

fn main() -> Result<()> {
    let a = Args::parse();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos() as u64;
    let bodies = gen::encoded_bodies(a.requests, 100, 42, now);
    let mut decoded = ExportTraceServiceRequest::default();
    for b in &bodies {
        decoded.merge(b.as_ref())?;
    }
    let spans = a.requests * 100;
    let encoded_len = decoded.encoded_len();
    let counts: Vec<usize> = a
        .consumers
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    if a.markdown {
        println!(
            "Batch: {spans} spans, {encoded_len} bytes encoded. \"copies\" = bytes allocated / encoded size.\n"
        );
        println!(
            "| input | WAL | consumers | bytes allocated / batch | copies | µs / batch | spans/s |"
        );
        println!("|---|---|---:|---:|---:|---:|---:|");
    }
    for (input, wal) in [
        (Input::Encoded, false),
        (Input::Decoded, false),
        (Input::Decoded, true),
    ] {
        for &consumers in &counts {
            let case = Case {
                input,
                wal,
                consumers,
            };
            let m = measure(&case, &bodies, &decoded, a.seconds);
            let copies = m.bytes_per_batch as f64 / encoded_len as f64;
            let spans_per_sec = spans as f64 * 1e9 / m.ns_per_batch;
            if a.markdown {
                println!(
                    "| {:?} | {} | {consumers} | {} | {copies:.2} | {:.0} | {:.0} |",
                    input,
                    if wal { "yes" } else { "no" },
                    m.bytes_per_batch,
                    m.ns_per_batch / 1e3,
                    spans_per_sec
                );
            } else {
                println!(
                    "{}",
                    json!({
                        "input": format!("{input:?}").to_lowercase(),
                        "wal": wal,
                        "consumers": consumers,
                        "spans": spans,
                        "encoded_bytes": encoded_len,
                        "bytes_allocated_per_batch": m.bytes_per_batch,
                        "copies": copies,
                        "ns_per_batch": m.ns_per_batch,
                        "spans_per_sec": spans_per_sec,
                        "batches_timed": m.batches,
                    })
                );
            }
        }
    }
    Ok(())
}
