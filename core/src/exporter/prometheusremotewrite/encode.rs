//! Packs translated series into remote-write requests of at most
//! `max_batch_size_bytes` (uncompressed protobuf) each, then snappy
//! block-compresses them (pure, no I/O).

use bytes::Bytes;
use prost::Message;

use super::proto::{MetricMetadata, TimeSeries, WriteRequest};

/// Why encoding failed.
#[derive(Debug, thiserror::Error)]
#[error("snappy compression failed: {0}")]
pub struct EncodeError(#[from] snap::Error);

/// Bytes a repeated field entry of `len` payload bytes takes (tag + length + payload).
fn field_len(len: usize) -> usize {
    1 + prost::encoding::encoded_len_varint(len as u64) + len
}

/// Groups series (and, separately, metadata) into WriteRequests whose encoded size
/// stays within `max_bytes`. A single series larger than that travels alone.
pub fn pack(
    series: Vec<TimeSeries>,
    metadata: Vec<MetricMetadata>,
    max_bytes: usize,
) -> Vec<WriteRequest> {
    let mut out = Vec::new();
    let mut cur = WriteRequest::default();
    let mut cur_len = 0usize;
    for ts in series {
        let l = field_len(ts.encoded_len());
        if cur_len + l > max_bytes && !cur.timeseries.is_empty() {
            out.push(std::mem::take(&mut cur));
            cur_len = 0;
        }
        cur_len += l;
        cur.timeseries.push(ts);
    }
    if !cur.timeseries.is_empty() {
        out.push(std::mem::take(&mut cur));
    }
    cur_len = 0;
    for md in metadata {
        let l = field_len(md.encoded_len());
        if cur_len + l > max_bytes && !cur.metadata.is_empty() {
            out.push(std::mem::take(&mut cur));
            cur_len = 0;
        }
        cur_len += l;
        cur.metadata.push(md);
    }
    if !cur.metadata.is_empty() {
        out.push(cur);
    }
    out
}

/// Protobuf-encodes and snappy (block format) compresses one request.
pub fn compress(
    req: &WriteRequest,
    encoder: &mut snap::raw::Encoder,
) -> Result<Bytes, EncodeError> {
    let raw = req.encode_to_vec();
    let body = encoder.compress_vec(&raw)?;
    Ok(Bytes::from(body))
}

#[cfg(test)]
mod tests {
    use super::super::proto::{Label, Sample};
    use super::*;

    fn series(i: usize, samples: usize) -> TimeSeries {
        TimeSeries {
            labels: vec![Label::new("__name__", "m"), Label::new("i", i.to_string())],
            samples: (0..samples)
                .map(|t| Sample {
                    value: t as f64,
                    timestamp: t as i64,
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn requests_stay_under_the_limit_and_keep_every_series() {
        let all: Vec<TimeSeries> = (0..500).map(|i| series(i, 10)).collect();
        let total: usize = all.iter().map(|s| field_len(s.encoded_len())).sum();
        let max = 4096;
        let reqs = pack(all, Vec::new(), max);
        assert!(reqs.len() >= total / max, "{} requests", reqs.len());
        let mut seen = 0;
        for r in &reqs {
            assert!(r.encoded_len() <= max, "{} > {max}", r.encoded_len());
            seen += r.timeseries.len();
        }
        assert_eq!(seen, 500);
    }

    #[test]
    fn oversized_series_travels_alone_and_metadata_separately() {
        let reqs = pack(
            vec![series(0, 1000), series(1, 1)],
            vec![MetricMetadata {
                metric_family_name: "m".into(),
                ..Default::default()
            }],
            100,
        );
        assert_eq!(reqs.len(), 3);
        assert_eq!(reqs[0].timeseries.len(), 1);
        assert_eq!(reqs[1].timeseries.len(), 1);
        assert!(reqs[2].timeseries.is_empty());
        assert_eq!(reqs[2].metadata.len(), 1);
    }

    #[test]
    fn snappy_block_round_trip() {
        let req = WriteRequest {
            timeseries: vec![series(7, 3)],
            metadata: Vec::new(),
        };
        let body = compress(&req, &mut snap::raw::Encoder::new()).unwrap();
        let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        assert_eq!(WriteRequest::decode(raw.as_slice()).unwrap(), req);
    }
}
