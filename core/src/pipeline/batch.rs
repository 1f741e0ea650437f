//! [`Batch`]: the unit of data that moves through a pipeline.
//!
//! Data arriving as protobuf stays encoded: OTLP export requests concatenate (their
//! only field is the repeated top-level resource entry), so batching appends byte
//! buffers and exporting writes them out back to back. Only components that need
//! the content (JSON input, processors that edit, translating exporters) decode.
//!
//! Decoded data is held once behind an [`Arc`]: fan-out copies share it, and its
//! protobuf encoding is made on first use and shared too, so every OTLP exporter and
//! the write-ahead log reuse one buffer. [`Batch::edit`] is copy-on-write and drops
//! the cached encoding.

use std::sync::{Arc, OnceLock};

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

/// Item counts around a [`Batch::edit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edit {
    pub before: usize,
    pub after: usize,
}

impl Edit {
    /// Items the edit removed (0 when it only added or changed items).
    pub fn dropped(&self) -> usize {
        self.before.saturating_sub(self.after)
    }
}

enum Repr<R> {
    Encoded(Encoded),
    Decoded(Arc<Decoded<R>>),
}

/// Concatenation of valid, scanned encoded export requests.
#[derive(Clone, Default)]
struct Encoded {
    parts: Vec<Bytes>,
    len: usize,
}

impl Encoded {
    fn to_bytes(&self) -> Bytes {
        match self.parts.as_slice() {
            [] => Bytes::new(),
            [one] => one.clone(),
            many => {
                let mut buf = BytesMut::with_capacity(self.len);
                for p in many {
                    buf.extend_from_slice(p);
                }
                buf.freeze()
            }
        }
    }
}

/// A decoded request shared by the copies of a batch, with its encoding (and
/// encoded length) computed on first use. Both caches are valid only for `req` as it
/// is: whoever changes `req` resets them ([`Decoded::invalidate`]).
#[derive(Clone)]
struct Decoded<R> {
    req: R,
    len: OnceLock<usize>,
    encoded: OnceLock<Encoded>,
}

impl<R: Message> Decoded<R> {
    fn new(req: R) -> Self {
        Decoded {
            req,
            len: OnceLock::new(),
            encoded: OnceLock::new(),
        }
    }

    fn encoded_len(&self) -> usize {
        *self.len.get_or_init(|| match self.encoded.get() {
            Some(e) => e.len,
            None => self.req.encoded_len(),
        })
    }

    fn encoding(&self) -> &Encoded {
        self.encoded.get_or_init(|| {
            let len = self.encoded_len();
            let mut buf = Vec::with_capacity(len);
            self.req.encode_raw(&mut buf);
            #[cfg(test)]
            tests::ENCODES.with(|n| n.set(n.get() + 1));
            let parts = if buf.is_empty() {
                Vec::new()
            } else {
                vec![Bytes::from(buf)]
            };
            Encoded { parts, len }
        })
    }

    fn invalidate(&mut self) {
        self.len = OnceLock::new();
        self.encoded = OnceLock::new();
    }
}

/// The request out of a shared decoded batch: moved when this was the last copy,
/// cloned otherwise.
fn unshare<R: Clone>(d: Arc<Decoded<R>>) -> R {
    match Arc::try_unwrap(d) {
        Ok(d) => d.req,
        Err(shared) => shared.req.clone(),
    }
}

impl<S: Signal> Clone for Batch<S> {
    /// Cheap: encoded parts and decoded requests are shared, not copied.
    fn clone(&self) -> Self {
        let repr = match &self.repr {
            Repr::Encoded(e) => Repr::Encoded(e.clone()),
            Repr::Decoded(d) => Repr::Decoded(Arc::clone(d)),
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
            .field("encoded", &matches!(self.repr, Repr::Encoded(_)))
            .finish()
    }
}

impl<S: Signal> Default for Batch<S> {
    fn default() -> Self {
        Batch {
            repr: Repr::Encoded(Encoded::default()),
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
            repr: Repr::Encoded(Encoded { parts, len }),
            items,
            acks: Vec::new(),
        })
    }

    pub fn from_request(req: S::Request) -> Self {
        let items = S::count(&req);
        Batch {
            repr: Repr::Decoded(Arc::new(Decoded::new(req))),
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

    /// Size of the protobuf encoding in bytes (computed once for decoded data).
    pub fn encoded_len(&self) -> usize {
        match &self.repr {
            Repr::Encoded(e) => e.len,
            Repr::Decoded(d) => d.encoded_len(),
        }
    }

    /// Appends `other` (items keep their order).
    pub fn append(&mut self, mut other: Batch<S>) {
        self.items += other.items;
        self.acks.append(&mut other.acks);
        match (&mut self.repr, other.repr) {
            (Repr::Encoded(e), Repr::Encoded(more)) => {
                e.parts.extend(more.parts);
                e.len += more.len;
            }
            (Repr::Decoded(d), o) => {
                let o = match o {
                    Repr::Encoded(e) => decode_parts::<S>(&e.parts),
                    Repr::Decoded(o) => unshare(o),
                };
                let d = Arc::make_mut(d);
                d.invalidate();
                S::extend(&mut d.req, o);
            }
            (me @ Repr::Encoded(_), Repr::Decoded(o)) => {
                let mut r = match me {
                    Repr::Encoded(e) => decode_parts::<S>(&e.parts),
                    Repr::Decoded(_) => S::Request::default(),
                };
                S::extend(&mut r, unshare(o));
                *me = Repr::Decoded(Arc::new(Decoded::new(r)));
            }
        }
    }

    /// Edits the content: decodes once if needed, unshares it from other copies of
    /// this batch if any (copy-on-write), runs `f`, recounts the items and drops the
    /// cached encoding. Returns what `f` returned and the item counts.
    pub fn edit<R>(&mut self, f: impl FnOnce(&mut S::Request) -> R) -> (R, Edit) {
        let before = self.items;
        let d = Arc::make_mut(self.decode(false));
        d.invalidate();
        let out = f(&mut d.req);
        let after = S::count(&d.req);
        self.items = after;
        (out, Edit { before, after })
    }

    /// Read-only view of the content. Decodes once and keeps the result (and the
    /// original encoding, still valid), so later readers and OTLP exporters pay nothing.
    pub fn request(&mut self) -> &S::Request {
        &self.decode(true).req
    }

    /// Runs `f` over the content without changing the batch: decoded data is
    /// borrowed, encoded data is decoded into a temporary.
    pub fn with_request<T>(&self, f: impl FnOnce(&S::Request) -> T) -> T {
        match &self.repr {
            Repr::Encoded(e) => f(&decode_parts::<S>(&e.parts)),
            Repr::Decoded(d) => f(&d.req),
        }
    }

    /// The decoded request (moved out without copying when no other copy shares it).
    pub fn into_request(self) -> S::Request {
        match self.repr {
            Repr::Encoded(e) => decode_parts::<S>(&e.parts),
            Repr::Decoded(d) => unshare(d),
        }
    }

    /// The protobuf encoding as a list of byte slices to be written back to back.
    /// Encoded batches are returned without copying; decoded ones are encoded once,
    /// for all copies.
    pub fn encoded_parts(&self) -> Vec<Bytes> {
        self.encoding().parts.clone()
    }

    /// The protobuf encoding as one contiguous buffer (see [`Batch::encoded_parts`]).
    pub fn to_bytes(&self) -> Bytes {
        self.encoding().to_bytes()
    }

    fn encoding(&self) -> &Encoded {
        match &self.repr {
            Repr::Encoded(e) => e,
            Repr::Decoded(d) => d.encoding(),
        }
    }

    /// Switches to the decoded representation (once). With `keep_encoding` the
    /// original bytes stay as the cached encoding of the decoded request.
    fn decode(&mut self, keep_encoding: bool) -> &mut Arc<Decoded<S::Request>> {
        if let Repr::Encoded(e) = &mut self.repr {
            let d = Decoded::new(decode_parts::<S>(&e.parts));
            if keep_encoding {
                let _ = d.encoded.set(std::mem::take(e));
            }
            self.repr = Repr::Decoded(Arc::new(d));
        }
        match &mut self.repr {
            Repr::Decoded(d) => d,
            Repr::Encoded(_) => unreachable_encoded(),
        }
    }

    /// `n` copies for a fan-out: clones for all but the last, which is `self`
    /// (encoded and decoded data are shared, not copied). Empty when `n` is 0.
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
            Repr::Decoded(d) => {
                return with_acks(
                    S::split(unshare(d), max)
                        .into_iter()
                        .map(Batch::from_request)
                        .collect(),
                );
            }
            Repr::Encoded(e) => e.parts,
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

#[cfg(test)]
impl<S: Signal> Batch<S> {
    /// Address of the shared decoded request (None while encoded).
    fn decoded_ptr(&self) -> Option<*const ()> {
        match &self.repr {
            Repr::Encoded(_) => None,
            Repr::Decoded(d) => Some(Arc::as_ptr(d).cast()),
        }
    }
}

#[cold]
fn unreachable_encoded() -> ! {
    // `Batch::decode` replaces the encoded representation just above.
    panic!("batch still encoded after decoding")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        /// Encodes of decoded requests made on this thread.
        pub(super) static ENCODES: Cell<usize> = const { Cell::new(0) };
    }

    fn encodes() -> usize {
        ENCODES.with(Cell::get)
    }
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

    fn drop_odd_spans(r: &mut ExportTraceServiceRequest) {
        for rs in &mut r.resource_spans {
            for ss in &mut rs.scope_spans {
                let mut i = 0;
                ss.spans.retain(|_| {
                    i += 1;
                    i % 2 == 1
                });
            }
        }
    }

    #[test]
    fn copies_of_a_decoded_batch_share_one_request_and_one_encoding() {
        let r = req(2, 3, "a");
        let expected = Bytes::from(r.encode_to_vec());
        let copies = Batch::<Traces>::from_request(r).copies(4);
        let first = copies[0].decoded_ptr();
        assert!(first.is_some());
        assert!(copies.iter().all(|c| c.decoded_ptr() == first));
        let start = encodes();
        let bodies: Vec<Bytes> = copies.iter().map(Batch::to_bytes).collect();
        for c in &copies {
            assert_eq!(c.encoded_len(), expected.len());
            assert_eq!(c.encoded_parts(), std::slice::from_ref(&expected));
        }
        assert_eq!(encodes() - start, 1);
        for b in &bodies {
            assert_eq!(*b, expected);
            assert_eq!(b.as_ptr(), bodies[0].as_ptr(), "one buffer for every copy");
        }
    }

    #[test]
    fn encoded_len_of_a_decoded_batch_does_not_encode() {
        let r = req(1, 4, "a");
        let batch = Batch::<Traces>::from_request(r.clone());
        let start = encodes();
        assert_eq!(batch.encoded_len(), r.encoded_len());
        assert!(!batch.is_empty());
        assert_eq!(encodes(), start);
        assert_eq!(batch.to_bytes().len(), r.encoded_len());
        assert_eq!(encodes() - start, 1);
    }

    #[test]
    fn edit_after_sharing_leaves_the_other_copies_alone() {
        let r = req(1, 6, "a");
        let mut copies = Batch::<Traces>::from_request(r.clone()).copies(3);
        let shared_body = copies[2].to_bytes();
        let (_, edit) = copies[0].edit(drop_odd_spans);
        assert_eq!(edit.dropped(), 3);
        assert_eq!(copies[0].items(), 3);
        assert_ne!(copies[0].decoded_ptr(), copies[1].decoded_ptr());
        assert_eq!(copies[1].decoded_ptr(), copies[2].decoded_ptr());
        for c in &copies[1..] {
            assert_eq!(c.items(), 6);
            assert_eq!(c.to_bytes(), shared_body);
            assert_eq!(c.with_request(|q| q.clone()), r);
        }
        assert_eq!(names(copies[0].request()), ["a-0-0", "a-0-2", "a-0-4"]);
    }

    #[test]
    fn edit_of_an_unshared_batch_does_not_copy() {
        let mut batch = Batch::<Traces>::from_request(req(1, 2, "a"));
        let before = batch.decoded_ptr();
        let (n, edit) = batch.edit(|r| r.resource_spans.len());
        assert_eq!(n, 1);
        assert_eq!(batch.decoded_ptr(), before);
        assert_eq!(
            edit,
            Edit {
                before: 2,
                after: 2
            }
        );
        assert_eq!(edit.dropped(), 0);
        let spans = batch.request().resource_spans.as_ptr();
        assert_eq!(batch.into_request().resource_spans.as_ptr(), spans);
    }

    #[test]
    fn edit_reports_counts_and_decodes_encoded_data() {
        let mut batch =
            Batch::<Traces>::from_encoded(Bytes::from(req(2, 4, "a").encode_to_vec())).unwrap();
        let (_, edit) = batch.edit(drop_odd_spans);
        assert_eq!(
            edit,
            Edit {
                before: 8,
                after: 4
            }
        );
        assert_eq!(edit.dropped(), 4);
        assert_eq!(batch.items(), 4);
        let (_, edit) = batch.edit(|r| {
            let more = req(1, 3, "b");
            Traces::extend(r, more);
        });
        assert_eq!(
            edit,
            Edit {
                before: 4,
                after: 7
            }
        );
        assert_eq!(edit.dropped(), 0);
        assert_eq!(batch.items(), 7);
        assert_eq!(Traces::count(&batch.into_request()), 7);
    }

    #[test]
    fn edit_invalidates_the_cached_encoding() {
        let mut batch = Batch::<Traces>::from_request(req(1, 2, "a"));
        let old = batch.to_bytes();
        let old_len = batch.encoded_len();
        let start = encodes();
        batch.edit(|r| r.resource_spans[0].scope_spans[0].spans[0].name = "renamed-longer".into());
        let expected = Bytes::from(batch.with_request(|r| r.encode_to_vec()));
        assert_ne!(expected, old);
        assert_eq!(batch.encoded_len(), expected.len());
        assert_ne!(batch.encoded_len(), old_len);
        assert_eq!(batch.to_bytes(), expected);
        assert_eq!(batch.encoded_parts(), [expected]);
        assert_eq!(encodes() - start, 1);
    }

    #[test]
    fn reading_an_encoded_batch_keeps_its_bytes() {
        let body = Bytes::from(req(1, 3, "a").encode_to_vec());
        let mut batch = Batch::<Traces>::from_encoded(body.clone()).unwrap();
        assert_eq!(names(batch.request()), ["a-0-0", "a-0-1", "a-0-2"]);
        let start = encodes();
        let out = batch.to_bytes();
        assert_eq!(encodes(), start);
        assert_eq!(out.as_ptr(), body.as_ptr());
        assert_eq!(batch.encoded_len(), body.len());
    }

    #[test]
    fn appending_to_a_shared_decoded_batch_copies_on_write() {
        let mut copies = Batch::<Traces>::from_request(req(1, 2, "a")).copies(2);
        let encoded = Bytes::from(req(1, 1, "c").encode_to_vec());
        copies[0].append(Batch::from_request(req(1, 1, "b")));
        copies[0].append(Batch::from_encoded(encoded).unwrap());
        assert_eq!(copies[0].items(), 4);
        assert_eq!(
            names(copies[0].request()),
            ["a-0-0", "a-0-1", "b-0-0", "c-0-0"]
        );
        assert_eq!(
            copies[0].to_bytes(),
            Bytes::from(copies[0].with_request(|r| r.encode_to_vec()))
        );
        assert_eq!(copies[1].items(), 2);
        assert_eq!(names(copies[1].request()), ["a-0-0", "a-0-1"]);
    }
}
