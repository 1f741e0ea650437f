//! Property tests without a fuzzer: deterministic pseudo-random mutations of valid OTLP requests
//! (bit flips, truncations, insertions, deletions, splices, wire-type and length-prefix
//! corruption) fed to the allocation-free scanner, the OTLP/JSON decoders and the decompressor.
//!
//! Properties:
//! - nothing panics;
//! - whatever the scanner accepts, `prost` decodes, with the same number of items, and its
//!   top-level entries scan on their own and add up to the same count;
//! - whatever `prost` decodes, the scanner accepts too, except for the documented differences
//!   (nesting deeper than `scan::MAX_DEPTH`; unknown fields encoded as groups, see
//!   `scanner_refuses_unknown_groups_that_prost_skips`);
//! - whatever the JSON decoders accept re-encodes to protobuf that decodes to the same bytes
//!   and that the scanner accepts (unless too deep);
//! - decompression never returns more than its limit.
//!
//! The seed of the generator can be changed with `TERN_PROPS_SEED` and the number of cases
//! scaled with `TERN_PROPS_SCALE` (a factor, default 1).

use std::collections::BTreeMap;
use std::path::Path;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, exponential_histogram_data_point::Buckets, metric, number_data_point,
    summary_data_point::ValueAtQuantile, Exemplar, ExponentialHistogram,
    ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use tern_core::compression::{decompress, DecompressError, Encoding};
use tern_core::otlp::scan::{self, Msg, ScanError};
use tern_core::otlp::{json, Logs, Metrics, Signal, Traces};

// ---------------------------------------------------------------------------------------------
// Deterministic randomness
// ---------------------------------------------------------------------------------------------

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform-ish in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn base_seed() -> u64 {
    std::env::var("TERN_PROPS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7e54_0f0f_1234_5678)
}

fn scaled(n: usize) -> usize {
    let f: f64 = std::env::var("TERN_PROPS_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    ((n as f64) * f).max(1.0) as usize
}

// ---------------------------------------------------------------------------------------------
// Valid seeds
// ---------------------------------------------------------------------------------------------

fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn attrs() -> Vec<KeyValue> {
    use any_value::Value as V;
    vec![
        kv("s", V::StringValue("välue ✓".into())),
        kv("i", V::IntValue(-42)),
        kv("d", V::DoubleValue(2.5)),
        kv("b", V::BoolValue(true)),
        kv("raw", V::BytesValue(vec![0, 0xff, 0x80])),
        kv(
            "arr",
            V::ArrayValue(ArrayValue {
                values: vec![
                    AnyValue {
                        value: Some(V::IntValue(1)),
                    },
                    AnyValue {
                        value: Some(V::KvlistValue(KeyValueList {
                            values: vec![kv("deep", V::StringValue("x".into()))],
                        })),
                    },
                ],
            }),
        ),
    ]
}

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![kv(
            "service.name",
            any_value::Value::StringValue("p".into()),
        )],
        dropped_attributes_count: 1,
        ..Default::default()
    })
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "props".into(),
        version: "1.0".into(),
        attributes: attrs()[..2].to_vec(),
        dropped_attributes_count: 0,
    })
}

fn traces_seed(spans: usize) -> ExportTraceServiceRequest {
    let span = |i: usize| Span {
        trace_id: vec![1; 16],
        span_id: (i as u64 + 1).to_be_bytes().to_vec(),
        trace_state: "k=v".into(),
        parent_span_id: vec![3; 8],
        flags: 0x301,
        name: format!("op {i}"),
        kind: 3,
        start_time_unix_nano: 1_000 + i as u64,
        end_time_unix_nano: 2_000,
        attributes: attrs(),
        dropped_attributes_count: 2,
        events: vec![span::Event {
            time_unix_nano: 5,
            name: "ev".into(),
            attributes: attrs()[..1].to_vec(),
            dropped_attributes_count: 0,
        }],
        dropped_events_count: 1,
        links: vec![span::Link {
            trace_id: vec![4; 16],
            span_id: vec![5; 8],
            trace_state: String::new(),
            attributes: attrs()[2..4].to_vec(),
            dropped_attributes_count: 0,
            flags: 1,
        }],
        dropped_links_count: 0,
        status: Some(Status {
            message: "bad".into(),
            code: 2,
        }),
    };
    ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans {
                resource: resource(),
                scope_spans: vec![ScopeSpans {
                    scope: scope(),
                    spans: (0..spans).map(span).collect(),
                    schema_url: "https://s".into(),
                }],
                schema_url: String::new(),
            },
            ResourceSpans {
                resource: None,
                scope_spans: vec![ScopeSpans {
                    scope: None,
                    spans: vec![span(99)],
                    schema_url: String::new(),
                }],
                schema_url: "u".into(),
            },
        ],
    }
}

fn metrics_seed() -> ExportMetricsServiceRequest {
    let ex = Exemplar {
        filtered_attributes: attrs()[..1].to_vec(),
        time_unix_nano: 7,
        span_id: vec![1; 8],
        trace_id: vec![2; 16],
        value: Some(exemplar::Value::AsInt(3)),
    };
    let number = |v| NumberDataPoint {
        attributes: attrs()[..2].to_vec(),
        start_time_unix_nano: 1,
        time_unix_nano: 2,
        exemplars: vec![ex.clone()],
        flags: 1,
        value: Some(v),
    };
    let metric = |name: &str, data| Metric {
        name: name.into(),
        description: "d".into(),
        unit: "ms".into(),
        data: Some(data),
        metadata: attrs()[..1].to_vec(),
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(),
            scope_metrics: vec![ScopeMetrics {
                scope: scope(),
                metrics: vec![
                    metric(
                        "g",
                        metric::Data::Gauge(Gauge {
                            data_points: vec![
                                number(number_data_point::Value::AsDouble(1.5)),
                                number(number_data_point::Value::AsInt(-2)),
                            ],
                        }),
                    ),
                    metric(
                        "s",
                        metric::Data::Sum(Sum {
                            data_points: vec![number(number_data_point::Value::AsInt(9))],
                            aggregation_temporality: 2,
                            is_monotonic: true,
                        }),
                    ),
                    metric(
                        "h",
                        metric::Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint {
                                attributes: attrs()[..1].to_vec(),
                                start_time_unix_nano: 1,
                                time_unix_nano: 2,
                                count: 6,
                                sum: Some(10.0),
                                bucket_counts: vec![1, 2, 3],
                                explicit_bounds: vec![1.0, 2.0],
                                exemplars: vec![ex.clone()],
                                flags: 0,
                                min: Some(0.1),
                                max: Some(9.9),
                            }],
                            aggregation_temporality: 1,
                        }),
                    ),
                    metric(
                        "e",
                        metric::Data::ExponentialHistogram(ExponentialHistogram {
                            data_points: vec![ExponentialHistogramDataPoint {
                                attributes: vec![],
                                start_time_unix_nano: 1,
                                time_unix_nano: 2,
                                count: 5,
                                sum: Some(1.0),
                                scale: -3,
                                zero_count: 1,
                                positive: Some(Buckets {
                                    offset: -2,
                                    bucket_counts: vec![1, 300, 70_000],
                                }),
                                negative: Some(Buckets {
                                    offset: 4,
                                    bucket_counts: vec![2],
                                }),
                                flags: 0,
                                exemplars: vec![ex.clone()],
                                min: Some(-1.0),
                                max: Some(1.0),
                                zero_threshold: 0.5,
                            }],
                            aggregation_temporality: 2,
                        }),
                    ),
                    metric(
                        "q",
                        metric::Data::Summary(Summary {
                            data_points: vec![SummaryDataPoint {
                                attributes: vec![],
                                start_time_unix_nano: 1,
                                time_unix_nano: 2,
                                count: 3,
                                sum: 4.5,
                                quantile_values: vec![
                                    ValueAtQuantile {
                                        quantile: 0.5,
                                        value: 1.0,
                                    },
                                    ValueAtQuantile {
                                        quantile: 0.9,
                                        value: 2.0,
                                    },
                                ],
                                flags: 0,
                            }],
                        }),
                    ),
                ],
                schema_url: String::new(),
            }],
            schema_url: "m".into(),
        }],
    }
}

fn logs_seed() -> ExportLogsServiceRequest {
    let record = |body: any_value::Value| LogRecord {
        time_unix_nano: 1,
        observed_time_unix_nano: 2,
        severity_number: 17,
        severity_text: "ERROR".into(),
        body: Some(AnyValue { value: Some(body) }),
        attributes: attrs(),
        dropped_attributes_count: 0,
        flags: 1,
        trace_id: vec![6; 16],
        span_id: vec![7; 8],
        event_name: "e".into(),
    };
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(),
            scope_logs: vec![ScopeLogs {
                scope: scope(),
                log_records: vec![
                    record(any_value::Value::StringValue("hello".into())),
                    record(any_value::Value::KvlistValue(KeyValueList {
                        values: attrs(),
                    })),
                ],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// Valid protobuf seeds of one signal: the constructed ones plus the small valid corpus files.
fn proto_seeds(signal: &str) -> Vec<Vec<u8>> {
    let mut seeds = match signal {
        "traces" => vec![
            traces_seed(1).encode_to_vec(),
            traces_seed(4).encode_to_vec(),
        ],
        "metrics" => vec![metrics_seed().encode_to_vec()],
        _ => vec![logs_seed().encode_to_vec()],
    };
    seeds.extend(corpus_files(signal, "application/x-protobuf"));
    seeds
}

fn json_seeds(signal: &str) -> Vec<Vec<u8>> {
    let mut seeds = corpus_files(signal, "application/json");
    seeds.retain(|s| !s.is_empty());
    seeds
}

/// Uncompressed corpus files of this signal and content type that tern accepts (200), small
/// enough to mutate quickly.
fn corpus_files(signal: &str, content_type: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("cases.json")).expect("corpus/cases.json"))
            .expect("cases.json is JSON");
    let mut out = Vec::new();
    for c in manifest["cases"].as_array().expect("cases") {
        if c["signal"] != signal
            || c["content_type"] != content_type
            || !c["content_encoding"].is_null()
            || c["http_status"] != 200
            || c["method"] != "POST"
            || c["receiver"] != "default"
        {
            continue;
        }
        let data = std::fs::read(dir.join(c["file"].as_str().expect("file"))).expect("file");
        if data.len() <= 16 * 1024 {
            out.push(data);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Protobuf mutations
// ---------------------------------------------------------------------------------------------

/// A length-delimited field found by walking the wire format: where its key and its length
/// varint start, and where its body starts and ends.
#[derive(Clone, Copy)]
struct LenField {
    key_at: usize,
    len_at: usize,
    body: (usize, usize),
}

fn read_varint(buf: &[u8], mut at: usize) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for shift in 0..10 {
        let b = *buf.get(at)?;
        at += 1;
        v |= u64::from(b & 0x7f) << (7 * shift);
        if b < 0x80 {
            return Some((v, at));
        }
    }
    None
}

/// Collects keys and length-delimited fields, descending into every LEN body that parses as a
/// message (strings and bytes that happen to parse are included; that only widens mutations).
fn walk(buf: &[u8], start: usize, end: usize, keys: &mut Vec<usize>, lens: &mut Vec<LenField>) {
    let mut at = start;
    while at < end {
        let key_at = at;
        let Some((key, next)) = read_varint(buf, at) else {
            return;
        };
        keys.push(key_at);
        at = next;
        match key & 7 {
            0 => match read_varint(buf, at) {
                Some((_, n)) => at = n,
                None => return,
            },
            1 => at += 8,
            5 => at += 4,
            2 => {
                let Some((len, body_at)) = read_varint(buf, at) else {
                    return;
                };
                let Some(body_end) = usize::try_from(len)
                    .ok()
                    .and_then(|l| body_at.checked_add(l))
                    .filter(|e| *e <= end)
                else {
                    return;
                };
                lens.push(LenField {
                    key_at,
                    len_at: at,
                    body: (body_at, body_end),
                });
                walk(buf, body_at, body_end, keys, lens);
                at = body_end;
            }
            _ => return,
        }
    }
}

fn encode_varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A varint of `v` padded to `width` bytes (non-minimal but valid, as prost reads it).
fn padded_varint(v: u64, width: usize) -> Vec<u8> {
    let mut out = Vec::new();
    encode_varint(v, &mut out);
    while out.len() < width.min(10) {
        if let Some(last) = out.last_mut() {
            *last |= 0x80;
        }
        out.push(0);
    }
    out
}

fn replace(buf: &mut Vec<u8>, at: usize, old_len: usize, new: &[u8]) {
    buf.splice(at..at + old_len, new.iter().copied());
}

fn varint_len(buf: &[u8], at: usize) -> usize {
    read_varint(buf, at).map(|(_, n)| n - at).unwrap_or(1)
}

fn mutate_proto(rng: &mut Rng, input: &mut Vec<u8>, other: &[u8]) {
    let mut keys = Vec::new();
    let mut lens = Vec::new();
    walk(input, 0, input.len(), &mut keys, &mut lens);
    let n = input.len();
    match rng.below(14) {
        // flip a few bits
        0 if n > 0 => {
            for _ in 0..=rng.below(3) {
                let at = rng.below(n);
                input[at] ^= 1 << rng.below(8);
            }
        }
        // overwrite a byte
        1 if n > 0 => {
            let at = rng.below(n);
            input[at] = rng.byte();
        }
        // truncate
        2 if n > 0 => input.truncate(rng.below(n)),
        // insert random bytes
        3 => {
            let at = rng.below(n + 1);
            let len = 1 + rng.below(16);
            let bytes: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
            replace(input, at, 0, &bytes);
        }
        // delete a range
        4 if n > 0 => {
            let at = rng.below(n);
            let len = 1 + rng.below((n - at).min(64));
            input.drain(at..at + len);
        }
        // duplicate a range
        5 if n > 0 => {
            let at = rng.below(n);
            let len = 1 + rng.below((n - at).min(64));
            let copy = input[at..at + len].to_vec();
            let to = rng.below(n + 1);
            replace(input, to, 0, &copy);
        }
        // length prefix off by a little
        6 if !lens.is_empty() => {
            let f = *rng.pick(&lens);
            let old = varint_len(input, f.len_at);
            let len = (f.body.1 - f.body.0) as i64 + [-2i64, -1, 1, 2, 8][rng.below(5)];
            let mut v = Vec::new();
            encode_varint(len.max(0) as u64, &mut v);
            replace(input, f.len_at, old, &v);
        }
        // length prefix huge, or the maximal varint
        7 if !lens.is_empty() => {
            let f = *rng.pick(&lens);
            let old = varint_len(input, f.len_at);
            let v = *rng.pick(&[u64::MAX, 1 << 31, 1 << 32, u64::from(u32::MAX), 1 << 63]);
            let mut bytes = Vec::new();
            encode_varint(v, &mut bytes);
            replace(input, f.len_at, old, &bytes);
        }
        // same length, non-minimal encoding (valid)
        8 if !lens.is_empty() => {
            let f = *rng.pick(&lens);
            let old = varint_len(input, f.len_at);
            let v = padded_varint((f.body.1 - f.body.0) as u64, old + 1 + rng.below(9));
            replace(input, f.len_at, old, &v);
        }
        // change a key's wire type or field number
        9 if !keys.is_empty() => {
            let at = *rng.pick(&keys);
            let old = varint_len(input, at);
            let (key, _) = read_varint(input, at).unwrap_or((8, 0));
            let new_key = if rng.chance(2) {
                (key & !7) | rng.below(8) as u64
            } else {
                ((1 + rng.below(20) as u64) << 3) | (key & 7)
            };
            let mut v = Vec::new();
            encode_varint(new_key, &mut v);
            replace(input, at, old, &v);
        }
        // remove a whole length-delimited field
        10 if !lens.is_empty() => {
            let f = *rng.pick(&lens);
            input.drain(f.key_at..f.body.1);
        }
        // wrap a field's body in itself (deeper nesting) or repeat a field
        11 if !lens.is_empty() => {
            let f = *rng.pick(&lens);
            let field = input[f.key_at..f.body.1].to_vec();
            replace(input, f.body.1, 0, &field);
        }
        // splice with another seed
        12 => {
            let cut = rng.below(n + 1);
            let from = rng.below(other.len() + 1);
            input.truncate(cut);
            input.extend_from_slice(&other[from..]);
        }
        // append a random field (any wire type, including groups)
        _ => {
            let wire = rng.below(8) as u64;
            let mut v = Vec::new();
            encode_varint(((1 + rng.below(40) as u64) << 3) | wire, &mut v);
            match wire {
                0 => encode_varint(rng.next() >> rng.below(64), &mut v),
                1 => v.extend((0..8).map(|_| rng.byte())),
                2 => {
                    let len = rng.below(12);
                    encode_varint(len as u64, &mut v);
                    v.extend((0..len).map(|_| rng.byte()));
                }
                5 => v.extend((0..4).map(|_| rng.byte())),
                _ => {}
            }
            let at = if rng.chance(2) {
                n
            } else {
                lens.get(rng.below(lens.len().max(1)))
                    .map_or(n, |f| f.body.0)
            };
            // Inserting inside a body without fixing its length prefix corrupts it on purpose.
            replace(input, at, 0, &v);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Protobuf properties
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct ProtoStats {
    cases: usize,
    accepted: usize,
    both_refuse: usize,
    /// prost decodes, scanner refuses: reason -> count.
    stricter: BTreeMap<String, usize>,
}

fn check_proto<S: Signal>(msg: Msg, input: &[u8], stats: &mut ProtoStats) {
    stats.cases += 1;
    let scanned = scan::scan(msg, input);
    let decoded = S::Request::decode(input);
    match (&scanned, &decoded) {
        (Ok(items), Ok(req)) => {
            stats.accepted += 1;
            assert_eq!(
                *items,
                S::count(req),
                "scanner and prost count different items in {input:?}"
            );
            // Receivers split encoded batches at top-level entries without decoding.
            let mut sum = 0;
            for entry in scan::top_level_entries(input) {
                sum += scan::scan(msg, entry)
                    .unwrap_or_else(|e| panic!("top-level entry refused ({e}) in {input:?}"));
            }
            assert_eq!(sum, *items, "top-level entries miscount {input:?}");
        }
        (Ok(_), Err(e)) => panic!("scanner accepts what prost refuses ({e}): {input:?}"),
        (Err(e), Ok(_)) => {
            let reason = match e {
                ScanError::TooDeep => "too deep".to_string(),
                ScanError::WireType {
                    wire_type: 3 | 4, ..
                } => "group wire type".to_string(),
                other => panic!("scanner refuses ({other}) what prost decodes: {input:?}"),
            };
            *stats.stricter.entry(reason).or_default() += 1;
        }
        (Err(_), Err(_)) => stats.both_refuse += 1,
    }
}

fn proto_property<S: Signal>(signal: &str, msg: Msg, cases: usize, seed: u64) -> ProtoStats {
    let seeds = proto_seeds(signal);
    let mut rng = Rng::new(seed);
    let mut stats = ProtoStats::default();
    for seed in &seeds {
        check_proto::<S>(msg, seed, &mut stats);
        assert_eq!(
            stats.cases, stats.accepted,
            "a valid {signal} seed is refused"
        );
    }
    for _ in 0..cases {
        let mut input = rng.pick(&seeds).clone();
        let other = rng.pick(&seeds).clone();
        for _ in 0..=rng.below(3) {
            mutate_proto(&mut rng, &mut input, &other);
        }
        check_proto::<S>(msg, &input, &mut stats);
        // Pure noise now and then.
        if rng.chance(16) {
            let noise: Vec<u8> = (0..rng.below(48)).map(|_| rng.byte()).collect();
            check_proto::<S>(msg, &noise, &mut stats);
        }
    }
    eprintln!(
        "{signal}: {} cases, {} accepted by both, {} refused by both, stricter than prost: {:?}",
        stats.cases, stats.accepted, stats.both_refuse, stats.stricter
    );
    assert!(
        stats.accepted > stats.cases / 50,
        "mutations too destructive: only {} of {} inputs valid",
        stats.accepted,
        stats.cases
    );
    stats
}

#[test]
fn scanner_never_accepts_what_prost_refuses_traces() {
    proto_property::<Traces>("traces", Msg::ExportTraces, scaled(40_000), base_seed());
}

#[test]
fn scanner_never_accepts_what_prost_refuses_metrics() {
    proto_property::<Metrics>(
        "metrics",
        Msg::ExportMetrics,
        scaled(35_000),
        base_seed() ^ 1,
    );
}

#[test]
fn scanner_never_accepts_what_prost_refuses_logs() {
    proto_property::<Logs>("logs", Msg::ExportLogs, scaled(35_000), base_seed() ^ 2);
}

/// An unknown field encoded as a group (wire types 3/4) is skipped, as prost (and the Go
/// protobuf runtimes) skip it; broken groups are refused by both.
#[test]
fn scanner_skips_unknown_groups_like_prost() {
    // field 100 start group, field 1 varint 5 inside, field 100 end group
    let mut input = Vec::new();
    encode_varint((100 << 3) | 3, &mut input);
    encode_varint(1 << 3, &mut input);
    encode_varint(5, &mut input);
    encode_varint((100 << 3) | 4, &mut input);
    assert!(ExportTraceServiceRequest::decode(input.as_slice()).is_ok());
    assert_eq!(scan::scan(Msg::ExportTraces, &input), Ok(0));
    // Unterminated, or closed with another field number: both refuse.
    for cut in [&input[..input.len() - 2], &input[..3]] {
        assert!(ExportTraceServiceRequest::decode(cut).is_err());
        assert!(scan::scan(Msg::ExportTraces, cut).is_err());
    }
    let mut mismatched = input[..input.len() - 2].to_vec();
    encode_varint((101 << 3) | 4, &mut mismatched);
    assert!(ExportTraceServiceRequest::decode(mismatched.as_slice()).is_err());
    assert!(scan::scan(Msg::ExportTraces, &mismatched).is_err());
}

/// Nesting just inside the scanner's limit is accepted; one level more is refused although
/// prost (limit 100) would decode it.
#[test]
fn depth_limit_boundary() {
    let nested = |levels: usize| {
        let mut value = AnyValue {
            value: Some(any_value::Value::IntValue(1)),
        };
        for _ in 0..levels {
            value = AnyValue {
                value: Some(any_value::Value::ArrayValue(ArrayValue {
                    values: vec![value],
                })),
            };
        }
        let mut req = logs_seed();
        req.resource_logs[0].scope_logs[0].log_records[0].body = Some(value);
        req.encode_to_vec()
    };
    let ok = nested(29);
    assert_eq!(scan::scan(Msg::ExportLogs, &ok), Ok(2));
    let deep = nested(30);
    assert_eq!(scan::scan(Msg::ExportLogs, &deep), Err(ScanError::TooDeep));
    assert!(ExportLogsServiceRequest::decode(deep.as_slice()).is_ok());
    // 10,000 levels (encoded by hand: prost's own types would overflow the stack building or
    // dropping them): refused without overflowing the stack.
    let ld = |field: u64, body: Vec<u8>| {
        let mut out = Vec::new();
        encode_varint((field << 3) | 2, &mut out);
        encode_varint(body.len() as u64, &mut out);
        out.extend(body);
        out
    };
    let mut value = vec![0x18, 0x01]; // AnyValue.int_value = 1
    for _ in 0..10_000 {
        value = ld(5, ld(1, value)); // AnyValue.array_value.values
    }
    let req = ld(1, ld(2, ld(2, ld(5, value))));
    assert_eq!(scan::scan(Msg::ExportLogs, &req), Err(ScanError::TooDeep));
    assert!(ExportLogsServiceRequest::decode(req.as_slice()).is_err());
}

/// OTLP/JSON accepts AnyValue nesting up to 16 levels, so whatever it accepts re-encodes to
/// protobuf that tern's own scanner and prost decoders accept (documented at
/// `json::MAX_ANY_VALUE_DEPTH`).
#[test]
fn json_depth_limit_fits_inside_the_protobuf_limit() {
    let doc = |levels: usize| {
        format!(
            "{{\"resourceLogs\":[{{\"scopeLogs\":[{{\"logRecords\":[{{\"body\":{}{}{}}}]}}]}}]}}",
            "{\"arrayValue\":{\"values\":[".repeat(levels),
            "{\"intValue\":\"1\"}",
            "]}}".repeat(levels)
        )
    };
    let req = json::decode_logs(doc(15).as_bytes()).expect("15 nested arrays are accepted");
    let bytes = req.encode_to_vec();
    assert_eq!(scan::scan(Msg::ExportLogs, &bytes), Ok(1));
    assert!(ExportLogsServiceRequest::decode(bytes.as_slice()).is_ok());
    assert!(json::decode_logs(doc(16).as_bytes()).is_err());
}

// ---------------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------------

const JSON_ALPHABET: &[u8] = b"{}[]\",:0123456789.eE-+ntfrual\\ \n\tabcxyzAF";
const JSON_VALUES: &[&str] = &[
    "null",
    "{}",
    "[]",
    "\"\"",
    "\"x\"",
    "0",
    "-1",
    "1.5",
    "1e400",
    "-0",
    "true",
    "\"NaN\"",
    "\"Infinity\"",
    "\"-Infinity\"",
    "\"18446744073709551616\"",
    "\"9223372036854775807\"",
    "\"-9223372036854775808\"",
    "\"0x10\"",
    "\"SEVERITY_NUMBER_INFO\"",
    "\"AGGREGATION_TEMPORALITY_DELTA\"",
    "\"SPAN_KIND_SERVER\"",
    "\"STATUS_CODE_ERROR\"",
    "\"0102030405060708090a0b0c0d0e0f10\"",
    "\"0102030405060708\"",
    "\"AAH/\"",
    "\"\\ud800\"",
    "\"\\u0000\"",
    "[[[[[[[[]]]]]]]]",
    "{\"stringValue\":\"s\"}",
    "{\"intValue\":\"1\",\"doubleValue\":1}",
    "{\"arrayValue\":{\"values\":[{\"arrayValue\":{}}]}}",
    "{\"kvlistValue\":{\"values\":[{\"key\":\"k\"}]}}",
];

/// Byte offsets of every JSON value start after a `:` or `[` or `,` (approximate tokenizer).
fn value_starts(doc: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    for (i, &b) in doc.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b':' | b'[' | b',' => out.push(i + 1),
            _ => {}
        }
    }
    out
}

/// End of the JSON value starting at `at` (strings, numbers, literals, balanced containers).
fn value_end(doc: &[u8], at: usize) -> usize {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut i = at;
    while i < doc.len() {
        let b = doc[i];
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
                if depth == 0 {
                    return i + 1;
                }
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    if depth == 0 {
                        return i;
                    }
                    depth -= 1;
                    if depth == 0 {
                        return i + 1;
                    }
                }
                b',' if depth == 0 => return i,
                _ => {}
            }
        }
        i += 1;
    }
    doc.len()
}

fn mutate_json(rng: &mut Rng, doc: &mut Vec<u8>, other: &[u8]) {
    let n = doc.len();
    match rng.below(9) {
        0 if n > 0 => {
            let at = rng.below(n);
            doc[at] = *rng.pick(JSON_ALPHABET);
        }
        1 if n > 0 => {
            let at = rng.below(n);
            doc[at] ^= 1 << rng.below(8);
        }
        2 if n > 0 => doc.truncate(rng.below(n)),
        3 => {
            let at = rng.below(n + 1);
            let bytes: Vec<u8> = (0..1 + rng.below(4))
                .map(|_| *rng.pick(JSON_ALPHABET))
                .collect();
            replace(doc, at, 0, &bytes);
        }
        4 if n > 0 => {
            let at = rng.below(n);
            let len = 1 + rng.below((n - at).min(32));
            doc.drain(at..at + len);
        }
        // splice with another document
        5 => {
            let cut = rng.below(n + 1);
            let from = rng.below(other.len() + 1);
            doc.truncate(cut);
            doc.extend_from_slice(&other[from..]);
        }
        // duplicate a value (repeated keys, longer lists)
        6 => {
            let starts = value_starts(doc);
            if let Some(&at) = starts.get(rng.below(starts.len().max(1))) {
                let end = value_end(doc, at);
                let copy = doc[at..end].to_vec();
                let mut with_comma = copy.clone();
                with_comma.push(b',');
                if rng.chance(2) {
                    replace(doc, at, 0, &with_comma);
                } else {
                    replace(doc, at, 0, &copy);
                }
            }
        }
        // replace a whole value by a typed / hostile one
        _ => {
            let starts = value_starts(doc);
            if let Some(&at) = starts.get(rng.below(starts.len().max(1))) {
                let end = value_end(doc, at);
                let v = rng.pick(JSON_VALUES).as_bytes().to_vec();
                replace(doc, at, end - at, &v);
            }
        }
    }
}

#[derive(Default)]
struct JsonStats {
    cases: usize,
    accepted: usize,
    too_deep_for_scanner: usize,
}

fn check_json<S: Signal>(
    decode: fn(&[u8]) -> Result<S::Request, json::JsonError>,
    msg: Msg,
    doc: &[u8],
    stats: &mut JsonStats,
) {
    stats.cases += 1;
    let Ok(req) = decode(doc) else {
        return;
    };
    stats.accepted += 1;
    let items = S::count(&req);
    let bytes = req.encode_to_vec();
    match scan::scan(msg, &bytes) {
        Ok(n) => assert_eq!(n, items, "scanner miscounts a JSON-decoded request"),
        Err(ScanError::TooDeep) => stats.too_deep_for_scanner += 1,
        Err(e) => panic!(
            "JSON decoder produced protobuf the scanner refuses ({e}): {}",
            String::from_utf8_lossy(doc)
        ),
    }
    if let Ok(again) = S::Request::decode(bytes.as_slice()) {
        assert_eq!(
            again.encode_to_vec(),
            bytes,
            "protobuf of a JSON request does not round-trip"
        );
    }
}

fn json_property<S: Signal>(
    signal: &str,
    decode: fn(&[u8]) -> Result<S::Request, json::JsonError>,
    msg: Msg,
    cases: usize,
    seed: u64,
) {
    let seeds = json_seeds(signal);
    assert!(!seeds.is_empty(), "no JSON seeds for {signal}");
    let mut rng = Rng::new(seed);
    let mut stats = JsonStats::default();
    for s in &seeds {
        check_json::<S>(decode, msg, s, &mut stats);
    }
    assert_eq!(stats.accepted, seeds.len(), "a valid JSON seed is refused");
    for _ in 0..cases {
        let mut doc = rng.pick(&seeds).clone();
        let other = rng.pick(&seeds).clone();
        for _ in 0..=rng.below(3) {
            mutate_json(&mut rng, &mut doc, &other);
        }
        check_json::<S>(decode, msg, &doc, &mut stats);
    }
    eprintln!(
        "json {signal}: {} cases, {} accepted, {} too deep for the scanner",
        stats.cases, stats.accepted, stats.too_deep_for_scanner
    );
    assert!(
        stats.accepted > cases / 50,
        "JSON mutations too destructive"
    );
}

#[test]
fn json_decoders_never_panic_and_reencode() {
    let seed = base_seed();
    json_property::<Traces>(
        "traces",
        json::decode_traces,
        Msg::ExportTraces,
        scaled(8_000),
        seed ^ 3,
    );
    json_property::<Metrics>(
        "metrics",
        json::decode_metrics,
        Msg::ExportMetrics,
        scaled(8_000),
        seed ^ 4,
    );
    json_property::<Logs>(
        "logs",
        json::decode_logs,
        Msg::ExportLogs,
        scaled(8_000),
        seed ^ 5,
    );
}

// ---------------------------------------------------------------------------------------------
// Decompression
// ---------------------------------------------------------------------------------------------

#[test]
fn decompress_never_exceeds_its_limit() {
    let mut rng = Rng::new(base_seed() ^ 6);
    let plain = traces_seed(3).encode_to_vec();
    let compressed = [
        (
            Encoding::Gzip,
            tern_core::compression::compress(Encoding::Gzip, &[plain.clone().into()], None),
        ),
        (
            Encoding::Zstd,
            tern_core::compression::compress(Encoding::Zstd, &[plain.clone().into()], None),
        ),
        (
            Encoding::Deflate,
            tern_core::compression::compress(Encoding::Deflate, &[plain.clone().into()], None),
        ),
    ];
    let limit = plain.len() + 16;
    let mut ok = 0;
    let cases = scaled(6_000);
    for i in 0..cases {
        let (enc, data) = &compressed[i % compressed.len()];
        let mut data = data.as_ref().expect("compress").clone();
        for _ in 0..=rng.below(3) {
            let n = data.len();
            match rng.below(4) {
                0 => {
                    let at = rng.below(n);
                    data[at] ^= 1 << rng.below(8);
                }
                1 => data.truncate(rng.below(n)),
                2 => {
                    let at = rng.below(n + 1);
                    data.insert(at, rng.byte());
                }
                _ => {
                    let at = rng.below(n);
                    data[at] = rng.byte();
                }
            }
            if data.is_empty() {
                break;
            }
        }
        let small = if rng.chance(2) {
            limit
        } else {
            rng.below(limit)
        };
        match decompress(*enc, &data, small) {
            Ok(out) => {
                assert!(
                    out.len() <= small,
                    "{enc:?}: {} bytes over limit {small}",
                    out.len()
                );
                ok += 1;
            }
            Err(DecompressError::TooLarge { limit: l }) => assert_eq!(l, small),
            Err(DecompressError::Invalid { .. }) => {}
        }
    }
    eprintln!("decompress: {cases} cases, {ok} decoded within the limit");
}
