//! Shallow protobuf wire scanner that counts OTLP items without decoding them.
//!
//! It walks only the nesting needed to reach the repeated item field
//! (`resource_* -> scope_* -> item`) and skips everything else by length, so
//! the cost is proportional to the number of fields on that path, not to the
//! size of the items, and nothing is allocated.

use std::fmt;

/// Which OTLP export request a buffer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Traces,
    Metrics,
    Logs,
}

/// A malformed protobuf buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError(&'static str);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed protobuf: {}", self.0)
    }
}

impl std::error::Error for WireError {}

const WIRE_VARINT: u64 = 0;
const WIRE_I64: u64 = 1;
const WIRE_LEN: u64 = 2;
const WIRE_I32: u64 = 5;

#[inline]
fn read_varint(buf: &[u8], pos: &mut usize) -> Result<u64, WireError> {
    let mut value: u64 = 0;
    let mut shift = 0u32;
    loop {
        let byte = *buf.get(*pos).ok_or(WireError("truncated varint"))?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
        shift += 7;
        if shift >= 64 {
            return Err(WireError("varint too long"));
        }
    }
}

/// Calls `on_len(field_number, payload)` for every length-delimited field of
/// one message level and skips all other fields.
#[inline]
fn walk_len_fields<F>(buf: &[u8], mut on_len: F) -> Result<(), WireError>
where
    F: FnMut(u64, &[u8]) -> Result<(), WireError>,
{
    let mut pos = 0usize;
    while pos < buf.len() {
        let key = read_varint(buf, &mut pos)?;
        let field = key >> 3;
        if field == 0 {
            return Err(WireError("field number 0"));
        }
        match key & 7 {
            WIRE_VARINT => {
                read_varint(buf, &mut pos)?;
            }
            WIRE_I64 => {
                pos = pos.checked_add(8).ok_or(WireError("overflow"))?;
            }
            WIRE_LEN => {
                let len = usize::try_from(read_varint(buf, &mut pos)?)
                    .map_err(|_| WireError("length overflow"))?;
                let end = pos.checked_add(len).ok_or(WireError("overflow"))?;
                let payload = buf.get(pos..end).ok_or(WireError("truncated field"))?;
                on_len(field, payload)?;
                pos = end;
            }
            WIRE_I32 => {
                pos = pos.checked_add(4).ok_or(WireError("overflow"))?;
            }
            _ => return Err(WireError("unsupported wire type")),
        }
    }
    if pos != buf.len() {
        return Err(WireError("truncated fixed-width field"));
    }
    Ok(())
}

/// Counts `resource(1) -> scope(2) -> item(2)` occurrences, calling
/// `per_item` on each item payload to compute its contribution.
fn count_nested<F>(buf: &[u8], mut per_item: F) -> Result<u64, WireError>
where
    F: FnMut(&[u8]) -> Result<u64, WireError>,
{
    let mut total = 0u64;
    walk_len_fields(buf, |f, resource| {
        if f != 1 {
            return Ok(());
        }
        walk_len_fields(resource, |f, scope| {
            if f != 2 {
                return Ok(());
            }
            walk_len_fields(scope, |f, item| {
                if f == 2 {
                    total += per_item(item)?;
                }
                Ok(())
            })
        })
    })?;
    Ok(total)
}

/// Number of data points in one `Metric` message: the `data_points(1)` of
/// whichever of gauge(5), sum(7), histogram(9), exponential_histogram(10)
/// or summary(11) is set.
fn metric_points(metric: &[u8]) -> Result<u64, WireError> {
    let mut points = 0u64;
    walk_len_fields(metric, |f, data| {
        if matches!(f, 5 | 7 | 9 | 10 | 11) {
            walk_len_fields(data, |f, _| {
                if f == 1 {
                    points += 1;
                }
                Ok(())
            })?;
        }
        Ok(())
    })?;
    Ok(points)
}

/// Counts spans, metric data points or log records in an encoded
/// `Export{Trace,Metrics,Logs}ServiceRequest`.
pub fn count_items(signal: Signal, buf: &[u8]) -> Result<u64, WireError> {
    match signal {
        Signal::Traces | Signal::Logs => count_nested(buf, |_| Ok(1)),
        Signal::Metrics => count_nested(buf, metric_points),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::metrics::v1::{
        metric::Data, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
        ResourceMetrics, ScopeMetrics, Sum,
    };
    use prost::Message;

    #[test]
    fn counts_generated_trace_bodies() {
        let mut rng = crate::gen::Rng::new(7);
        for spans in [0usize, 1, 5, 100] {
            let req = crate::gen::trace_request(&mut rng, spans, 1_700_000_000_000_000_000);
            let buf = req.encode_to_vec();
            assert_eq!(count_items(Signal::Traces, &buf), Ok(spans as u64));
        }
    }

    #[test]
    fn counts_multiple_resources_and_scopes() {
        let mut rng = crate::gen::Rng::new(1);
        let mut a = crate::gen::trace_request(&mut rng, 3, 1);
        let b = crate::gen::trace_request(&mut rng, 4, 1);
        let mut extra_scope = b.resource_spans[0].scope_spans[0].clone();
        extra_scope.spans.truncate(2);
        a.resource_spans[0].scope_spans.push(extra_scope);
        a.resource_spans.extend(b.resource_spans);
        let buf = a.encode_to_vec();
        assert_eq!(count_items(Signal::Traces, &buf), Ok(3 + 2 + 4));
    }

    #[test]
    fn counts_metric_points_and_log_records() {
        let point = NumberDataPoint {
            time_unix_nano: 5,
            ..Default::default()
        };
        let metrics = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![
                        Metric {
                            name: "a".into(),
                            data: Some(Data::Gauge(Gauge {
                                data_points: vec![point.clone(), point.clone()],
                            })),
                            ..Default::default()
                        },
                        Metric {
                            name: "b".into(),
                            data: Some(Data::Sum(Sum {
                                data_points: vec![point.clone()],
                                aggregation_temporality: 2,
                                is_monotonic: true,
                            })),
                            ..Default::default()
                        },
                        Metric {
                            name: "c".into(),
                            data: Some(Data::Histogram(Histogram {
                                data_points: vec![HistogramDataPoint::default(); 3],
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
        assert_eq!(
            count_items(Signal::Metrics, &metrics.encode_to_vec()),
            Ok(6)
        );

        let logs = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![
                    ScopeLogs {
                        log_records: vec![LogRecord::default(); 4],
                        ..Default::default()
                    },
                    ScopeLogs {
                        log_records: vec![LogRecord::default(); 1],
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
        };
        assert_eq!(count_items(Signal::Logs, &logs.encode_to_vec()), Ok(5));
    }

    #[test]
    fn rejects_malformed_input() {
        let mut rng = crate::gen::Rng::new(3);
        let buf = crate::gen::trace_request(&mut rng, 10, 1).encode_to_vec();
        assert!(count_items(Signal::Traces, &buf[..buf.len() - 3]).is_err());
        assert!(count_items(Signal::Traces, &[0x0b]).is_err()); // wire type 3
        assert!(count_items(Signal::Traces, &[0x0a, 0x05, 0x01]).is_err());
        assert!(count_items(Signal::Traces, &[0x09, 0x00]).is_err()); // short fixed64
        assert_eq!(count_items(Signal::Traces, &[]), Ok(0));
    }
}
