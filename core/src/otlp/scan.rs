//! Allocation-free validation of encoded OTLP export requests.
//!
//! The scanner walks the protobuf wire format with the OTLP schema
//! (<https://github.com/open-telemetry/opentelemetry-proto>) and checks everything
//! `prost` would check when decoding: field wire types, varint and length bounds,
//! UTF-8 of string fields, packed repeated scalars and nesting depth. It counts the
//! items (spans, data points, log records) on the way. A request it accepts is
//! guaranteed to decode, so receivers can forward the original bytes without ever
//! materialising the message.

use thiserror::Error;

/// Deepest message nesting accepted. `prost` refuses beyond 100; we stop earlier so
/// that anything the scanner accepts also decodes.
pub const MAX_DEPTH: u32 = 64;

/// Why an encoded request is not valid OTLP.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ScanError {
    #[error("truncated message")]
    Truncated,
    #[error("invalid varint")]
    InvalidVarint,
    #[error("invalid wire type {wire_type} for field {field}")]
    WireType { field: u32, wire_type: u8 },
    #[error("invalid field number 0")]
    FieldZero,
    #[error("string field {field} is not valid UTF-8")]
    Utf8 { field: u32 },
    #[error("message nesting deeper than {MAX_DEPTH}")]
    TooDeep,
}

/// The OTLP message types the scanner knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Msg {
    ExportTraces,
    ResourceSpans,
    ScopeSpans,
    Span,
    Event,
    Link,
    Status,
    ExportMetrics,
    ResourceMetrics,
    ScopeMetrics,
    Metric,
    Gauge,
    Sum,
    Histogram,
    ExpHistogram,
    Summary,
    NumberDp,
    HistogramDp,
    ExpHistogramDp,
    Buckets,
    SummaryDp,
    Quantile,
    Exemplar,
    ExportLogs,
    ResourceLogs,
    ScopeLogs,
    LogRecord,
    Resource,
    Scope,
    EntityRef,
    KeyValue,
    AnyValue,
    ArrayValue,
    KvList,
}

/// What a known field holds.
#[derive(Clone, Copy, Debug)]
enum Field {
    Sub(Msg),
    Str,
    Bytes,
    Varint,
    Fixed64,
    Fixed32,
    /// `repeated fixed64` / `repeated double`: packed (LEN) or one value per field.
    RepFixed64,
    /// `repeated uint64`: packed (LEN) or one varint per field.
    RepVarint,
}

impl Msg {
    /// Whether entering this message counts as one item.
    fn is_item(self) -> bool {
        matches!(
            self,
            Msg::Span
                | Msg::LogRecord
                | Msg::NumberDp
                | Msg::HistogramDp
                | Msg::ExpHistogramDp
                | Msg::SummaryDp
        )
    }

    fn field(self, tag: u32) -> Option<Field> {
        use Field::*;
        let f = match (self, tag) {
            (Msg::ExportTraces, 1) => Sub(Msg::ResourceSpans),
            (Msg::ResourceSpans, 1) | (Msg::ResourceMetrics, 1) | (Msg::ResourceLogs, 1) => {
                Sub(Msg::Resource)
            }
            (Msg::ResourceSpans, 2) => Sub(Msg::ScopeSpans),
            (Msg::ResourceSpans | Msg::ResourceMetrics | Msg::ResourceLogs, 3) => Str,
            (Msg::ScopeSpans | Msg::ScopeMetrics | Msg::ScopeLogs, 1) => Sub(Msg::Scope),
            (Msg::ScopeSpans, 2) => Sub(Msg::Span),
            (Msg::ScopeSpans | Msg::ScopeMetrics | Msg::ScopeLogs, 3) => Str,
            (Msg::Span, 1 | 2 | 4) => Bytes,
            (Msg::Span, 3 | 5) => Str,
            (Msg::Span, 16) => Fixed32,
            (Msg::Span, 6 | 10 | 12 | 14) => Varint,
            (Msg::Span, 7 | 8) => Fixed64,
            (Msg::Span, 9) => Sub(Msg::KeyValue),
            (Msg::Span, 11) => Sub(Msg::Event),
            (Msg::Span, 13) => Sub(Msg::Link),
            (Msg::Span, 15) => Sub(Msg::Status),
            (Msg::Event, 1) => Fixed64,
            (Msg::Event, 2) => Str,
            (Msg::Event, 3) => Sub(Msg::KeyValue),
            (Msg::Event, 4) => Varint,
            (Msg::Link, 1 | 2) => Bytes,
            (Msg::Link, 3) => Str,
            (Msg::Link, 4) => Sub(Msg::KeyValue),
            (Msg::Link, 5) => Varint,
            (Msg::Link, 6) => Fixed32,
            (Msg::Status, 2) => Str,
            (Msg::Status, 3) => Varint,

            (Msg::ExportMetrics, 1) => Sub(Msg::ResourceMetrics),
            (Msg::ResourceMetrics, 2) => Sub(Msg::ScopeMetrics),
            (Msg::ScopeMetrics, 2) => Sub(Msg::Metric),
            (Msg::Metric, 1..=3) => Str,
            (Msg::Metric, 12) => Sub(Msg::KeyValue),
            (Msg::Metric, 5) => Sub(Msg::Gauge),
            (Msg::Metric, 7) => Sub(Msg::Sum),
            (Msg::Metric, 9) => Sub(Msg::Histogram),
            (Msg::Metric, 10) => Sub(Msg::ExpHistogram),
            (Msg::Metric, 11) => Sub(Msg::Summary),
            (Msg::Gauge, 1) | (Msg::Sum, 1) => Sub(Msg::NumberDp),
            (Msg::Sum, 2 | 3) | (Msg::Histogram, 2) | (Msg::ExpHistogram, 2) => Varint,
            (Msg::Histogram, 1) => Sub(Msg::HistogramDp),
            (Msg::ExpHistogram, 1) => Sub(Msg::ExpHistogramDp),
            (Msg::Summary, 1) => Sub(Msg::SummaryDp),
            (Msg::NumberDp, 7) => Sub(Msg::KeyValue),
            (Msg::NumberDp, 2 | 3 | 4 | 6) => Fixed64,
            (Msg::NumberDp, 5) => Sub(Msg::Exemplar),
            (Msg::NumberDp, 8) => Varint,
            (Msg::HistogramDp, 9) => Sub(Msg::KeyValue),
            (Msg::HistogramDp, 2 | 3 | 4 | 5 | 11 | 12) => Fixed64,
            (Msg::HistogramDp, 6 | 7) => RepFixed64,
            (Msg::HistogramDp, 8) => Sub(Msg::Exemplar),
            (Msg::HistogramDp, 10) => Varint,
            (Msg::ExpHistogramDp, 1) => Sub(Msg::KeyValue),
            (Msg::ExpHistogramDp, 2 | 3 | 4 | 5 | 7 | 12 | 13 | 14) => Fixed64,
            (Msg::ExpHistogramDp, 6 | 10) => Varint,
            (Msg::ExpHistogramDp, 8 | 9) => Sub(Msg::Buckets),
            (Msg::ExpHistogramDp, 11) => Sub(Msg::Exemplar),
            (Msg::Buckets, 1) => Varint,
            (Msg::Buckets, 2) => RepVarint,
            (Msg::SummaryDp, 7) => Sub(Msg::KeyValue),
            (Msg::SummaryDp, 2..=5) => Fixed64,
            (Msg::SummaryDp, 6) => Sub(Msg::Quantile),
            (Msg::SummaryDp, 8) => Varint,
            (Msg::Quantile, 1 | 2) => Fixed64,
            (Msg::Exemplar, 7) => Sub(Msg::KeyValue),
            (Msg::Exemplar, 2 | 3 | 6) => Fixed64,
            (Msg::Exemplar, 4 | 5) => Bytes,

            (Msg::ExportLogs, 1) => Sub(Msg::ResourceLogs),
            (Msg::ResourceLogs, 2) => Sub(Msg::ScopeLogs),
            (Msg::ScopeLogs, 2) => Sub(Msg::LogRecord),
            (Msg::LogRecord, 1 | 11) => Fixed64,
            (Msg::LogRecord, 2 | 7) => Varint,
            (Msg::LogRecord, 3 | 12) => Str,
            (Msg::LogRecord, 5) => Sub(Msg::AnyValue),
            (Msg::LogRecord, 6) => Sub(Msg::KeyValue),
            (Msg::LogRecord, 8) => Fixed32,
            (Msg::LogRecord, 9 | 10) => Bytes,

            (Msg::Resource, 1) => Sub(Msg::KeyValue),
            (Msg::Resource, 2) => Varint,
            (Msg::Resource, 3) => Sub(Msg::EntityRef),
            (Msg::EntityRef, 1..=4) => Str,
            (Msg::Scope, 1 | 2) => Str,
            (Msg::Scope, 3) => Sub(Msg::KeyValue),
            (Msg::Scope, 4) => Varint,
            (Msg::KeyValue, 1) => Str,
            (Msg::KeyValue, 2) => Sub(Msg::AnyValue),
            (Msg::KeyValue, 3) => Varint,
            (Msg::AnyValue, 1) => Str,
            (Msg::AnyValue, 2 | 3 | 8) => Varint,
            (Msg::AnyValue, 4) => Fixed64,
            (Msg::AnyValue, 5) => Sub(Msg::ArrayValue),
            (Msg::AnyValue, 6) => Sub(Msg::KvList),
            (Msg::AnyValue, 7) => Bytes,
            (Msg::ArrayValue, 1) => Sub(Msg::AnyValue),
            (Msg::KvList, 1) => Sub(Msg::KeyValue),
            _ => return None,
        };
        Some(f)
    }
}

/// Validates `buf` as an encoded message of type `msg` and returns the number of
/// items (spans, data points, log records) it holds.
pub fn scan(msg: Msg, buf: &[u8]) -> Result<usize, ScanError> {
    let mut items = 0;
    scan_message(msg, buf, 0, &mut items)?;
    Ok(items)
}

fn scan_message(msg: Msg, mut buf: &[u8], depth: u32, items: &mut usize) -> Result<(), ScanError> {
    if depth >= MAX_DEPTH {
        return Err(ScanError::TooDeep);
    }
    if msg.is_item() {
        *items += 1;
    }
    // `Metric.data` is a oneof: as in prost (and every protobuf decoder), a field of
    // another variant replaces what came before, one of the same variant merges.
    let mut data_variant = 0u32;
    let mut data_items = 0usize;
    while !buf.is_empty() {
        let key = read_varint(&mut buf)?;
        if key > u64::from(u32::MAX) {
            return Err(ScanError::InvalidVarint);
        }
        let wire_type = (key & 7) as u8;
        let field = (key >> 3) as u32;
        if field == 0 {
            return Err(ScanError::FieldZero);
        }
        let wrong = || ScanError::WireType { field, wire_type };
        match msg.field(field) {
            None => skip(wire_type, field, &mut buf)?,
            Some(Field::Varint) => {
                if wire_type != 0 {
                    return Err(wrong());
                }
                read_varint(&mut buf)?;
            }
            Some(Field::Fixed64) => {
                if wire_type != 1 {
                    return Err(wrong());
                }
                advance(&mut buf, 8)?;
            }
            Some(Field::Fixed32) => {
                if wire_type != 5 {
                    return Err(wrong());
                }
                advance(&mut buf, 4)?;
            }
            Some(Field::RepFixed64) => match wire_type {
                1 => advance(&mut buf, 8)?,
                2 => {
                    let body = read_len(&mut buf)?;
                    if body.len() % 8 != 0 {
                        return Err(ScanError::Truncated);
                    }
                }
                _ => return Err(wrong()),
            },
            Some(Field::RepVarint) => match wire_type {
                0 => {
                    read_varint(&mut buf)?;
                }
                2 => {
                    let mut body = read_len(&mut buf)?;
                    while !body.is_empty() {
                        read_varint(&mut body)?;
                    }
                }
                _ => return Err(wrong()),
            },
            Some(Field::Bytes) => {
                if wire_type != 2 {
                    return Err(wrong());
                }
                read_len(&mut buf)?;
            }
            Some(Field::Str) => {
                if wire_type != 2 {
                    return Err(wrong());
                }
                let s = read_len(&mut buf)?;
                if std::str::from_utf8(s).is_err() {
                    return Err(ScanError::Utf8 { field });
                }
            }
            Some(Field::Sub(inner)) => {
                if wire_type != 2 {
                    return Err(wrong());
                }
                let body = read_len(&mut buf)?;
                if matches!(
                    inner,
                    Msg::Gauge | Msg::Sum | Msg::Histogram | Msg::ExpHistogram | Msg::Summary
                ) {
                    if field != data_variant {
                        data_variant = field;
                        data_items = 0;
                    }
                    scan_message(inner, body, depth + 1, &mut data_items)?;
                } else {
                    scan_message(inner, body, depth + 1, items)?;
                }
            }
        }
    }
    *items += data_items;
    Ok(())
}

fn skip(wire_type: u8, field: u32, buf: &mut &[u8]) -> Result<(), ScanError> {
    skip_at(wire_type, field, buf, 0)
}

/// Skips one unknown field as prost does, including (deprecated) groups, whose
/// nesting counts against [`MAX_DEPTH`].
fn skip_at(wire_type: u8, field: u32, buf: &mut &[u8], depth: u32) -> Result<(), ScanError> {
    match wire_type {
        0 => read_varint(buf).map(|_| ()),
        1 => advance(buf, 8),
        2 => read_len(buf).map(|_| ()),
        5 => advance(buf, 4),
        3 => {
            if depth >= MAX_DEPTH {
                return Err(ScanError::TooDeep);
            }
            loop {
                let key = read_varint(buf)?;
                if key > u64::from(u32::MAX) {
                    return Err(ScanError::InvalidVarint);
                }
                let (inner_wt, inner_field) = ((key & 7) as u8, (key >> 3) as u32);
                if inner_field == 0 {
                    return Err(ScanError::FieldZero);
                }
                if inner_wt == 4 {
                    return if inner_field == field {
                        Ok(())
                    } else {
                        Err(ScanError::WireType {
                            field: inner_field,
                            wire_type: inner_wt,
                        })
                    };
                }
                skip_at(inner_wt, inner_field, buf, depth + 1)?;
            }
        }
        // An end-group without its start, or wire types 6 and 7.
        _ => Err(ScanError::WireType { field, wire_type }),
    }
}

fn advance(buf: &mut &[u8], n: usize) -> Result<(), ScanError> {
    if buf.len() < n {
        return Err(ScanError::Truncated);
    }
    *buf = &buf[n..];
    Ok(())
}

fn read_len<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8], ScanError> {
    let len = read_varint(buf)?;
    let len = usize::try_from(len).map_err(|_| ScanError::Truncated)?;
    if buf.len() < len {
        return Err(ScanError::Truncated);
    }
    let (body, rest) = buf.split_at(len);
    *buf = rest;
    Ok(body)
}

/// Reads a base-128 varint exactly as `prost` accepts it (at most 10 bytes, the
/// tenth holding only the top bit).
pub fn read_varint(buf: &mut &[u8]) -> Result<u64, ScanError> {
    let mut value: u64 = 0;
    for (i, &byte) in buf.iter().enumerate().take(10) {
        if i == 9 && byte > 1 {
            return Err(ScanError::InvalidVarint);
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            *buf = &buf[i + 1..];
            return Ok(value);
        }
    }
    if buf.len() < 10 {
        Err(ScanError::Truncated)
    } else {
        Err(ScanError::InvalidVarint)
    }
}

/// Iterates over the top-level length-delimited entries of field 1 of an export
/// request (`resource_spans`, `resource_metrics`, `resource_logs`), yielding each
/// entry's full encoding (key, length and body). The input must have been scanned.
pub fn top_level_entries(buf: &[u8]) -> TopLevelEntries<'_> {
    TopLevelEntries { buf }
}

/// See [`top_level_entries`].
pub struct TopLevelEntries<'a> {
    buf: &'a [u8],
}

impl<'a> Iterator for TopLevelEntries<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        while !self.buf.is_empty() {
            let start = self.buf;
            let mut rest = self.buf;
            let key = read_varint(&mut rest).ok()?;
            let wire_type = (key & 7) as u8;
            let field = (key >> 3) as u32;
            skip(wire_type, field, &mut rest).ok()?;
            let used = start.len() - rest.len();
            self.buf = rest;
            if field == 1 && wire_type == 2 {
                return Some(&start[..used]);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::metrics::v1::{
        exponential_histogram_data_point::Buckets, metric, number_data_point, ExponentialHistogram,
        ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric,
        NumberDataPoint, ResourceMetrics, ScopeMetrics,
    };
    use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
    use prost::Message;

    fn kv(key: &str, v: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(v) }),
            ..Default::default()
        }
    }

    fn traces(spans: usize) -> ExportTraceServiceRequest {
        let span = Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            name: "GET /".into(),
            kind: 2,
            start_time_unix_nano: 1,
            end_time_unix_nano: 2,
            attributes: vec![
                kv("http.method", any_value::Value::StringValue("GET".into())),
                kv("n", any_value::Value::IntValue(-5)),
                kv("d", any_value::Value::DoubleValue(1.5)),
                kv(
                    "a",
                    any_value::Value::ArrayValue(ArrayValue {
                        values: vec![AnyValue {
                            value: Some(any_value::Value::BoolValue(true)),
                        }],
                    }),
                ),
            ],
            events: vec![span::Event {
                name: "exception".into(),
                ..Default::default()
            }],
            links: vec![span::Link {
                trace_id: vec![3; 16],
                ..Default::default()
            }],
            status: Some(Status {
                code: 2,
                message: "boom".into(),
            }),
            flags: 1,
            ..Default::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![span; spans],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn counts_spans_metrics_and_logs() {
        assert_eq!(scan(Msg::ExportTraces, &traces(7).encode_to_vec()), Ok(7));
        assert_eq!(scan(Msg::ExportTraces, &[]), Ok(0));

        let dp = NumberDataPoint {
            value: Some(number_data_point::Value::AsInt(3)),
            ..Default::default()
        };
        let metrics = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![
                        Metric {
                            name: "g".into(),
                            data: Some(metric::Data::Gauge(Gauge {
                                data_points: vec![dp; 3],
                            })),
                            ..Default::default()
                        },
                        Metric {
                            name: "h".into(),
                            data: Some(metric::Data::Histogram(Histogram {
                                data_points: vec![HistogramDataPoint {
                                    bucket_counts: vec![1, 2, 3],
                                    explicit_bounds: vec![1.0, 2.0],
                                    sum: Some(2.0),
                                    ..Default::default()
                                }],
                                aggregation_temporality: 2,
                            })),
                            ..Default::default()
                        },
                        Metric {
                            name: "e".into(),
                            data: Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
                                data_points: vec![
                                    ExponentialHistogramDataPoint {
                                        scale: -3,
                                        positive: Some(Buckets {
                                            offset: -2,
                                            bucket_counts: vec![1, 300]
                                        }),
                                        ..Default::default()
                                    };
                                    2
                                ],
                                aggregation_temporality: 1,
                            })),
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        assert_eq!(scan(Msg::ExportMetrics, &metrics.encode_to_vec()), Ok(6));

        let logs = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![
                        LogRecord {
                            body: Some(AnyValue {
                                value: Some(any_value::Value::StringValue("hi".into()))
                            }),
                            ..Default::default()
                        };
                        4
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        assert_eq!(scan(Msg::ExportLogs, &logs.encode_to_vec()), Ok(4));
    }

    #[test]
    fn rejects_truncation_at_every_length() {
        let bytes = traces(2).encode_to_vec();
        for len in 1..bytes.len() {
            let cut = &bytes[..len];
            let scanned = scan(Msg::ExportTraces, cut);
            let decoded = ExportTraceServiceRequest::decode(cut);
            // Whatever the scanner accepts, prost must decode.
            if scanned.is_ok() {
                assert!(
                    decoded.is_ok(),
                    "accepted undecodable prefix of length {len}"
                );
            }
        }
        assert!(scan(Msg::ExportTraces, &bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn rejects_invalid_utf8_and_wrong_wire_types_and_skips_unknown_groups() {
        // resource_spans { schema_url: "\xff" }
        let bad_utf8 = [0x0a, 0x03, 0x1a, 0x01, 0xff];
        assert_eq!(
            scan(Msg::ExportTraces, &bad_utf8),
            Err(ScanError::Utf8 { field: 3 })
        );
        assert!(ExportTraceServiceRequest::decode(&bad_utf8[..]).is_err());
        // field 1 as varint instead of a message
        let wrong = [0x08, 0x01];
        assert!(matches!(
            scan(Msg::ExportTraces, &wrong),
            Err(ScanError::WireType { .. })
        ));
        assert!(ExportTraceServiceRequest::decode(&wrong[..]).is_err());
        // an unterminated group, a lone end-group, a mismatched end
        for bad in [&[0x13][..], &[0x14], &[0x13, 0x1c]] {
            assert!(scan(Msg::ExportTraces, bad).is_err(), "{bad:?}");
            assert!(ExportTraceServiceRequest::decode(bad).is_err(), "{bad:?}");
        }
        // an unknown group (field 2, holding a varint and a nested group) is skipped,
        // like prost does
        let group = [0x13, 0x08, 0x01, 0x1b, 0x1c, 0x14];
        assert_eq!(scan(Msg::ExportTraces, &group), Ok(0));
        assert!(ExportTraceServiceRequest::decode(&group[..]).is_ok());
        // unknown field is skipped, like prost does
        let unknown = [0x10, 0x05];
        assert_eq!(scan(Msg::ExportTraces, &unknown), Ok(0));
        assert!(ExportTraceServiceRequest::decode(&unknown[..]).is_ok());
    }

    #[test]
    fn rejects_deep_nesting_without_recursing_far() {
        let mut value = AnyValue {
            value: Some(any_value::Value::IntValue(1)),
        };
        for _ in 0..200 {
            value = AnyValue {
                value: Some(any_value::Value::ArrayValue(ArrayValue {
                    values: vec![value],
                })),
            };
        }
        let req = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord {
                        body: Some(value),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        assert_eq!(
            scan(Msg::ExportLogs, &req.encode_to_vec()),
            Err(ScanError::TooDeep)
        );
    }

    #[test]
    fn garbage_never_panics_and_never_disagrees_with_prost() {
        // Deterministic pseudo-random inputs, including mutations of a valid request.
        let valid = traces(3).encode_to_vec();
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..20_000 {
            let mut input = if round % 2 == 0 {
                valid.clone()
            } else {
                (0..(next() % 64)).map(|_| next() as u8).collect()
            };
            if !input.is_empty() {
                for _ in 0..(next() % 4) {
                    let at = (next() as usize) % input.len();
                    input[at] = next() as u8;
                }
            }
            if scan(Msg::ExportTraces, &input).is_ok() {
                assert!(
                    ExportTraceServiceRequest::decode(&input[..]).is_ok(),
                    "{input:?}"
                );
            }
        }
    }

    /// Data points of a decoded metrics request, as prost sees them.
    fn prost_points(req: &ExportMetricsServiceRequest) -> usize {
        use opentelemetry_proto::tonic::metrics::v1::metric::Data;
        req.resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .map(|m| match &m.data {
                Some(Data::Gauge(g)) => g.data_points.len(),
                Some(Data::Sum(g)) => g.data_points.len(),
                Some(Data::Histogram(g)) => g.data_points.len(),
                Some(Data::ExponentialHistogram(g)) => g.data_points.len(),
                Some(Data::Summary(g)) => g.data_points.len(),
                None => 0,
            })
            .sum()
    }

    #[test]
    fn metric_data_oneof_counts_like_prost() {
        fn field(tag: u8, body: &[u8]) -> Vec<u8> {
            let mut out = vec![tag << 3 | 2, body.len() as u8];
            out.extend_from_slice(body);
            out
        }
        // A gauge or sum holding `n` (empty) data points.
        let points = |n: usize| field(1, &[]).repeat(n);
        let request = |metric: Vec<u8>| field(1, &field(2, &field(2, &metric)));
        let cases: Vec<Vec<u8>> = vec![
            // Found by the scan_metrics fuzz target: gauge{1}, exponential_histogram{},
            // gauge{}: the last variant replaces the earlier ones, prost counts 0.
            vec![
                0x0a, 0x11, 0x12, 0x0f, 0x12, 0x0d, 0x0a, 0x01, 0x65, 0x2a, 0x04, 0x0a, 0x00, 0x52,
                0x00, 0x52, 0x00, 0x2a, 0x00,
            ],
            // gauge{2} gauge{1}: the same variant merges (3).
            request([field(5, &points(2)), field(5, &points(1))].concat()),
            // gauge{2} sum{1}: replaced (1).
            request([field(5, &points(2)), field(7, &points(1))].concat()),
            // sum{1} gauge{2} name sum{3}: only the last sum (3).
            request(
                [
                    field(7, &points(1)),
                    field(5, &points(2)),
                    field(1, b"m"),
                    field(7, &points(3)),
                ]
                .concat(),
            ),
        ];
        let expected = [0, 3, 1, 3];
        for (bytes, want) in cases.iter().zip(expected) {
            let req = ExportMetricsServiceRequest::decode(&bytes[..]).unwrap();
            assert_eq!(prost_points(&req), want, "{bytes:02x?}");
            assert_eq!(scan(Msg::ExportMetrics, bytes), Ok(want), "{bytes:02x?}");
        }
    }

    #[test]
    fn top_level_entries_concatenate_back() {
        let a = traces(2).encode_to_vec();
        let entries: Vec<&[u8]> = top_level_entries(&a).collect();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries.concat(), a);
    }

    #[test]
    fn varint_edges() {
        let mut max: &[u8] = &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(read_varint(&mut max), Ok(u64::MAX));
        let mut over: &[u8] = &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert_eq!(read_varint(&mut over), Err(ScanError::InvalidVarint));
        let mut short: &[u8] = &[0x80];
        assert_eq!(read_varint(&mut short), Err(ScanError::Truncated));
    }
}
