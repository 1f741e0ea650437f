//! [`Batch`]: the unit of data that moves through a pipeline.
//!
//! Data arriving as protobuf stays encoded: OTLP export requests concatenate (their
//! only field is the repeated top-level resource entry), so batching appends byte
//! buffers and exporting writes them out back to back. Only components that need
//! the content (JSON input, processors that edit, translating exporters) decode.

use bytes::{Bytes, BytesMut};
use prost::Message;

use super::ack::Ack;
use crate::otlp::{scan, ScanError, Signal};

/// Encoded or decoded OTLP data of one signal, with its item count.
pub struct Batch<S: Signal> {
    repr: Repr<S::Request>,
    items: usize,
    /// Tokens of the persisted records this batch carries (empty without storage).
    acks: Vec<Ack>,
}

enum Repr<R> {
    /// Concatenation of valid, scanned encoded export requests.
    Encoded {
        parts: Vec<Bytes>,
        len: usize,
    },
    Decoded(R),
}

impl<S: Signal> Clone for Batch<S> {
    fn clone(&self) -> Self {
        let repr = match &self.repr {
            Repr::Encoded { parts, len } => Repr::Encoded {
                parts: parts.clone(),
                len: *len,
            },
            Repr::Decoded(r) => Repr::Decoded(r.clone()),
        };
        Batch {
            repr,
            items: self.items,
            acks: self.acks.clone(),
        }
    }
}

impl<S: Signal> std::fmt::Debug for Batch<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("signal", &S::KIND)
            .field("items", &self.items)
            .field("encoded", &matches!(self.repr, Repr::Encoded { .. }))
            .finish()
    }
}

impl<S: Signal> Default for Batch<S> {
    fn default() -> Self {
        Batch {
            repr: Repr::Encoded {
                parts: Vec::new(),
                len: 0,
            },
            items: 0,
            acks: Vec::new(),
        }
    }
}

impl<S: Signal> Batch<S> {
    /// Validates an encoded export request (see [`crate::otlp::scan`]).
    pub fn from_encoded(bytes: Bytes) -> Result<Self, ScanError> {
        let items = S::scan(&bytes)?;
        let len = bytes.len();
        let parts = if bytes.is_empty() {
            Vec::new()
        } else {
            vec![bytes]
        };
        Ok(Batch {
            repr: Repr::Encoded { parts, len },
            items,
            acks: Vec::new(),
        })
    }

    pub fn from_request(req: S::Request) -> Self {
        let items = S::count(&req);
        Batch {
            repr: Repr::Decoded(req),
            items,
            acks: Vec::new(),
        }
    }

    /// Spans, data points or log records.
    pub fn items(&self) -> usize {
        self.items
    }

    pub fn is_empty(&self) -> bool {
        self.items == 0 && self.encoded_len() == 0
    }

    /// Size of the protobuf encoding in bytes.
    pub fn encoded_len(&self) -> usize {
        match &self.repr {
            Repr::Encoded { len, .. } => *len,
            Repr::Decoded(r) => r.encoded_len(),
        }
    }

    /// Appends `other` (items keep their order).
    pub fn append(&mut self, mut other: Batch<S>) {
        self.items += other.items;
        self.acks.append(&mut other.acks);
        match (&mut self.repr, other.repr) {
            (
                Repr::Encoded { parts, len },
                Repr::Encoded {
                    parts: more,
                    len: more_len,
                },
            ) => {
                parts.extend(more);
                *len += more_len;
            }
            (Repr::Decoded(r), Repr::Decoded(o)) => S::extend(r, o),
            (Repr::Decoded(r), Repr::Encoded { parts, .. }) => {
                S::extend(r, decode_parts::<S>(&parts));
            }
            (me @ Repr::Encoded { .. }, Repr::Decoded(o)) => {
                let mut r = match me {
                    Repr::Encoded { parts, .. } => decode_parts::<S>(parts),
                    Repr::Decoded(_) => S::Request::default(),
                };
                S::extend(&mut r, o);
                *me = Repr::Decoded(r);
            }
        }
    }

    /// Decoded view for components that read or edit the content. Decodes once.
    pub fn request_mut(&mut self) -> &mut S::Request {
        if let Repr::Encoded { parts, .. } = &self.repr {
            self.repr = Repr::Decoded(decode_parts::<S>(parts));
        }
        match &mut self.repr {
            Repr::Decoded(r) => r,
            Repr::Encoded { .. } => unreachable_encoded(),
        }
    }

    /// Must be called after editing through [`Batch::request_mut`] when items were
    /// added or removed.
    pub fn recount(&mut self) {
        if let Repr::Decoded(r) = &self.repr {
            self.items = S::count(r);
        }
    }

    /// The decoded request.
    pub fn into_request(self) -> S::Request {
        match self.repr {
            Repr::Encoded { parts, .. } => decode_parts::<S>(&parts),
            Repr::Decoded(r) => r,
        }
    }

    /// The protobuf encoding as a list of byte slices to be written back to back.
    /// Encoded batches are returned without copying.
    pub fn encoded_parts(&self) -> Vec<Bytes> {
        match &self.repr {
            Repr::Encoded { parts, .. } => parts.clone(),
            Repr::Decoded(r) => vec![Bytes::from(r.encode_to_vec())],
        }
    }

    /// The protobuf encoding as one contiguous buffer.
    pub fn to_bytes(&self) -> Bytes {
        match &self.repr {
            Repr::Encoded { parts, len } => match parts.as_slice() {
                [] => Bytes::new(),
                [one] => one.clone(),
                many => {
                    let mut buf = BytesMut::with_capacity(*len);
                    for p in many {
                        buf.extend_from_slice(p);
                    }
                    buf.freeze()
                }
            },
            Repr::Decoded(r) => Bytes::from(r.encode_to_vec()),
        }
    }

    /// `n` copies for a fan-out: clones for all but the last, which is `self`
    /// (encoded data is shared, not copied). Empty when `n` is 0.
    pub fn copies(self, n: usize) -> Vec<Batch<S>> {
        let mut out = Vec::with_capacity(n);
        if n == 0 {
            return out;
        }
        for _ in 1..n {
            out.push(self.clone());
        }
        out.push(self);
        out
    }

    /// Attaches the token of a persisted record.
    pub fn add_ack(&mut self, ack: Ack) {
        self.acks.push(ack);
    }

    /// Removes and returns the tokens (an exporter holds them until it is done).
    pub fn take_acks(&mut self) -> Vec<Ack> {
        std::mem::take(&mut self.acks)
    }

    /// Keeps every record of this batch in storage for replay.
    pub fn abandon_acks(&mut self) {
        for a in self.acks.drain(..) {
            a.abandon();
        }
    }

    /// Splits into batches of at most `max` items, keeping order. Every piece keeps
    /// the tokens of the whole, so a record completes when all pieces are done.
    /// Encoded data is split at request and resource-entry boundaries without decoding whenever
    /// those boundaries allow it.
    pub fn split(self, max: usize) -> Vec<Batch<S>> {
        if max == 0 || self.items <= max {
            return vec![self];
        }
        let acks = self.acks;
        let with_acks = |mut pieces: Vec<Batch<S>>| {
            for p in &mut pieces {
                p.acks = acks.clone();
            }
            pieces
        };
        let parts = match self.repr {
            Repr::Decoded(r) => {
                return with_acks(
                    S::split(r, max)
                        .into_iter()
                        .map(Batch::from_request)
                        .collect(),
                );
            }
            Repr::Encoded { parts, .. } => parts,
        };
        let mut out = Vec::new();
        let mut cur = Batch::<S>::default();
        for part in parts {
            for entry in scan::top_level_entries(&part) {
                let entry = part.slice_ref(entry);
                let Ok(piece) = Batch::<S>::from_encoded(entry) else {
                    continue;
                };
                if cur.items + piece.items <= max {
                    cur.append(piece);
                } else if piece.items <= max {
                    out.push(std::mem::replace(&mut cur, piece));
                } else {
                    // One resource entry holds more than `max` items: decode it.
                    let mut pieces = S::split(piece.into_request(), max);
                    if let Some(last) = pieces.pop() {
                        if !cur.is_empty() {
                            out.push(std::mem::take(&mut cur));
                        }
                        out.extend(pieces.into_iter().map(Batch::from_request));
                        cur = Batch::from_request(last);
                    }
                }
                if cur.items == max {
                    out.push(std::mem::take(&mut cur));
                }
            }
        }
        if !cur.is_empty() {
            out.push(cur);
        }
        with_acks(out)
    }
}

fn decode_parts<S: Signal>(parts: &[Bytes]) -> S::Request {
    let mut req = S::Request::default();
    for p in parts {
        // Parts were validated by the scanner, which accepts only what decodes.
        // `merge` appends repeated fields, exactly like concatenating the bytes.
        if let Err(e) = req.merge(p.as_ref()) {
            tracing::error!(error = %e, "Scanned OTLP data failed to decode; this is a bug.");
        }
    }
    req
}

#[cold]
fn unreachable_encoded() -> ! {
    // `request_mut` replaces the encoded representation just above.
    panic!("batch still encoded after decoding")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::{Logs, Traces};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn req(resources: usize, spans: usize, tag: &str) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: (0..resources)
                .map(|r| ResourceSpans {
                    scope_spans: vec![ScopeSpans {
                        spans: (0..spans)
                            .map(|i| Span {
                                name: format!("{tag}-{r}-{i}"),
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
        }
    }

    fn names(r: &ExportTraceServiceRequest) -> Vec<String> {
        r.resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .map(|s| s.name.clone())
            .collect()
    }

    #[test]
    fn encoded_append_is_concatenation() {
        let a = req(2, 3, "a");
        let b = req(1, 4, "b");
        let mut batch = Batch::<Traces>::from_encoded(Bytes::from(a.encode_to_vec())).unwrap();
        batch.append(Batch::from_encoded(Bytes::from(b.encode_to_vec())).unwrap());
        assert_eq!(batch.items(), 10);
        let mut expected = a.clone();
        expected.resource_spans.extend(b.resource_spans.clone());
        assert_eq!(batch.to_bytes(), Bytes::from(expected.encode_to_vec()));
        assert_eq!(batch.into_request(), expected);
    }

    #[test]
    fn mixed_append_keeps_order() {
        let mut batch =
            Batch::<Traces>::from_encoded(Bytes::from(req(1, 2, "a").encode_to_vec())).unwrap();
        batch.append(Batch::from_request(req(1, 2, "b")));
        batch.append(Batch::from_encoded(Bytes::from(req(1, 1, "c").encode_to_vec())).unwrap());
        assert_eq!(batch.items(), 5);
        assert_eq!(
            names(&batch.into_request()),
            ["a-0-0", "a-0-1", "b-0-0", "b-0-1", "c-0-0"]
        );
    }

    #[test]
    fn split_encoded_and_decoded_preserve_every_item_in_order() {
        let full = req(3, 5, "x");
        let all = names(&full);
        for max in [1, 2, 4, 5, 7, 15, 100] {
            for encoded in [true, false] {
                let batch = if encoded {
                    Batch::<Traces>::from_encoded(Bytes::from(full.encode_to_vec())).unwrap()
                } else {
                    Batch::<Traces>::from_request(full.clone())
                };
                let pieces = batch.split(max);
                let mut seen = Vec::new();
                for p in pieces {
                    assert!(
                        p.items() <= max && p.items() > 0,
                        "max {max}: {}",
                        p.items()
                    );
                    let n = p.items();
                    let r = p.into_request();
                    assert_eq!(Traces::count(&r), n);
                    seen.extend(names(&r));
                }
                assert_eq!(seen, all, "max {max} encoded {encoded}");
            }
        }
    }

    #[test]
    fn split_logs() {
        let r = opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord::default(); 10],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let pieces = Batch::<Logs>::from_request(r).split(3);
        assert_eq!(
            pieces.iter().map(|p| p.items()).collect::<Vec<_>>(),
            [3, 3, 3, 1]
        );
    }
}
