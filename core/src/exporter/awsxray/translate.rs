//! OTLP span (+ resource) → X-Ray segment documents, following the upstream
//! `awsxrayexporter` translator (see the README section on `awsxray` for the few
//! deliberate differences). Pure: no I/O, no clock; random IDs come from an
//! injected [`IdGen`].
//!
//! Document format: <https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html>.

use std::borrow::Cow;
use std::net::IpAddr;

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::Span;

use super::cause::{parse_exception, Exception};
use super::json::JsonOut;

/// The X-Ray limit on one segment document.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// Source of the random 64-bit IDs X-Ray needs (exception IDs, the service
/// segment of a LOCAL_ROOT dependency span). Never returns 0.
#[derive(Debug, Clone)]
pub struct IdGen {
    state: u64,
    sequential: bool,
}

impl IdGen {
    /// A xorshift generator seeded from the clock and a process-wide counter.
    pub fn random() -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let c = COUNTER.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
        IdGen {
            state: (t ^ c.rotate_left(17)) | 1,
            sequential: false,
        }
    }

    /// 1, 2, 3… (deterministic documents in tests).
    pub fn sequential() -> Self {
        IdGen {
            state: 0,
            sequential: true,
        }
    }

    pub fn next_id(&mut self) -> u64 {
        if self.sequential {
            self.state += 1;
            return self.state;
        }
        loop {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            if self.state != 0 {
                return self.state;
            }
            self.state = 0x2545_f491_4f6c_dd1d;
        }
    }
}

/// Options of the translation (from the exporter config).
#[derive(Debug, Clone, Default)]
pub struct TranslateOptions {
    /// Attribute keys that become annotations.
    pub indexed_attributes: Vec<String>,
    /// Every scalar attribute becomes an annotation.
    pub index_all_attributes: bool,
    /// `aws.cloudwatch_logs` fallback.
    pub log_groups: Vec<String>,
    /// Size limit of one document (64 KiB for the API, less for UDP datagrams).
    pub max_document_bytes: usize,
}

/// Why a span produced no document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TranslateError {
    #[error("invalid trace ID (length {0}, want 16)")]
    TraceId(usize),
    #[error("invalid span ID (length {0}, want 8)")]
    SpanId(usize),
    #[error("segment document is {0} bytes even without metadata and stack traces (limit {1})")]
    TooLarge(usize, usize),
}

/// One serialised segment document and its segment ID (to match
/// `UnprocessedTraceSegments` entries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub id: u64,
    pub json: String,
}

/// What translating one span did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpanDocs {
    /// Documents appended.
    pub documents: usize,
    /// Documents dropped because they stayed over the size limit.
    pub dropped: usize,
    /// Documents that only fit after dropping metadata or trimming stacks.
    pub shrunk: usize,
}

/// Translates spans into segment documents.
#[derive(Debug, Clone)]
pub struct Translator {
    opts: TranslateOptions,
}

// Span attribute keys the translator reads.
const AWS_SPAN_KIND: &str = "aws.span.kind";
const AWS_LOCAL_SERVICE: &str = "aws.local.service";
const AWS_REMOTE_SERVICE: &str = "aws.remote.service";
const LOCAL_ROOT: &str = "LOCAL_ROOT";
const ANNOTATIONS_ATTR: &str = "aws.xray.annotations";
const METADATA_PREFIX: &str = "aws.xray.metadata.";
const SQL_SYSTEMS: [&str; 11] = [
    "db2",
    "mssql",
    "oracle",
    "derby",
    "hive",
    "mariadb",
    "mysql",
    "other_sql",
    "postgresql",
    "sqlite",
    "teradata",
];

/// Attributes removed from the service segment of a LOCAL_ROOT dependency span.
const SERVICE_SEGMENT_REMOVED: [&str; 4] = [
    "aws.remote.service",
    "aws.remote.operation",
    "remoteTarget",
    "K8s.RemoteNamespace",
];

impl Translator {
    pub fn new(mut opts: TranslateOptions) -> Self {
        if opts.max_document_bytes == 0 {
            opts.max_document_bytes = MAX_DOCUMENT_BYTES;
        }
        Translator { opts }
    }

    pub fn options(&self) -> &TranslateOptions {
        &self.opts
    }

    /// Appends the span's one or two documents to `out`.
    pub fn span_documents(
        &self,
        span: &Span,
        resource: Option<&Resource>,
        ids: &mut IdGen,
        out: &mut Vec<Document>,
    ) -> Result<SpanDocs, TranslateError> {
        if span.trace_id.len() != 16 {
            return Err(TranslateError::TraceId(span.trace_id.len()));
        }
        if span.span_id.len() != 8 {
            return Err(TranslateError::SpanId(span.span_id.len()));
        }
        let empty: &[KeyValue] = &[];
        let res = resource.map_or(empty, |r| r.attributes.as_slice());
        let attrs = span.attributes.as_slice();
        let kind = span_kind(span);
        let local_root = str_of(get(attrs, AWS_SPAN_KIND)) == LOCAL_ROOT;
        let dependency = matches!(
            kind,
            SpanKind::Client | SpanKind::Producer | SpanKind::Consumer
        );
        let mut done = SpanDocs::default();
        if local_root && dependency {
            let service_id = ids.next_id();
            // The dependency subsegment, under the new service segment.
            let mut dep = self.segment(span, res, SpanView::dependency(service_id), ids);
            dep.subsegment = true;
            if dep.namespace.is_none() {
                dep.namespace = Some("remote");
            }
            if kind == SpanKind::Consumer {
                dep.links = &[];
            }
            if let Some(remote) = get(attrs, AWS_REMOTE_SERVICE) {
                let mut name = str_of(Some(remote));
                if is_aws_sdk(attrs) {
                    name = strip_sdk_prefix(name);
                }
                dep.name = Cow::Borrowed(name);
            }
            self.emit(&dep, out, &mut done)?;

            let mut svc = self.segment(span, res, SpanView::service(service_id), ids);
            if let Some(local) = get(attrs, AWS_LOCAL_SERVICE) {
                svc.name = Cow::Borrowed(str_of(Some(local)));
            }
            svc.http = None;
            if let Some(aws) = svc.aws.as_mut() {
                aws.operation = None;
                aws.account_id = None;
                aws.region = None;
                aws.request_id = None;
                aws.queue_url = None;
                aws.table_name = None;
                aws.table_names.clear();
            }
            svc.metadata_default.retain(|(k, _)| k.is_resource());
            svc.subsegment = false;
            svc.namespace = None;
            if kind != SpanKind::Consumer {
                svc.links = &[];
            }
            self.emit(&svc, out, &mut done)?;
            return Ok(done);
        }
        let mut seg = self.segment(span, res, SpanView::plain(), ids);
        if local_root {
            seg.subsegment = false;
            seg.namespace = None;
        } else if dependency
            && seg.subsegment
            && seg.namespace.is_none()
            && get(attrs, AWS_REMOTE_SERVICE).is_some()
        {
            seg.namespace = Some("remote");
        }
        self.emit(&seg, out, &mut done)?;
        Ok(done)
    }

    /// Serialises `seg`, shrinking it to fit (metadata first, then stacks).
    fn emit(
        &self,
        seg: &Segment<'_>,
        out: &mut Vec<Document>,
        done: &mut SpanDocs,
    ) -> Result<(), TranslateError> {
        let limit = self.opts.max_document_bytes;
        let mut doc = String::with_capacity(1024);
        seg.write(&mut doc, true, usize::MAX);
        if doc.len() <= limit {
            out.push(Document {
                id: seg.id,
                json: doc,
            });
            done.documents += 1;
            return Ok(());
        }
        let max_frames = seg.cause.iter().map(|e| e.stack.len()).max().unwrap_or(0);
        let mut frames = max_frames;
        loop {
            doc.clear();
            seg.write(&mut doc, false, frames);
            if doc.len() <= limit {
                out.push(Document {
                    id: seg.id,
                    json: doc,
                });
                done.documents += 1;
                done.shrunk += 1;
                return Ok(());
            }
            if frames == 0 {
                done.dropped += 1;
                return Err(TranslateError::TooLarge(doc.len(), limit));
            }
            frames /= 2;
        }
    }

    /// Builds the segment for one view of the span.
    fn segment<'a>(
        &'a self,
        span: &'a Span,
        res: &'a [KeyValue],
        view: SpanView,
        ids: &mut IdGen,
    ) -> Segment<'a> {
        let attrs = span.attributes.as_slice();
        let kind = span_kind(span);
        let parent = match view.parent_override {
            Some(p) => Some(p),
            None => id_u64(&span.parent_span_id),
        };
        let span_id = view
            .id_override
            .or_else(|| id_u64(&span.span_id))
            .unwrap_or(0);
        let subsegment = kind != SpanKind::Server && parent.is_some();
        let store_resource = !subsegment;
        // Which attributes remain for annotations / metadata.
        // Which attributes are still free for annotations/metadata (on the stack
        // for the usual attribute counts).
        let mut keep_stack = [true; 64];
        let mut keep_heap = Vec::new();
        let keep: &mut [bool] = if attrs.len() <= keep_stack.len() {
            &mut keep_stack[..attrs.len()]
        } else {
            keep_heap.resize(attrs.len(), true);
            &mut keep_heap
        };
        for (k, kv) in keep.iter_mut().zip(attrs) {
            *k = keep_ok(view.drop_remote, kv);
        }
        let lookup = |key: &str| -> Option<&'a AnyValue> {
            attrs
                .iter()
                .find(|kv| kv.key == key && keep_ok(view.drop_remote, kv))
                .and_then(|kv| kv.value.as_ref())
        };

        let http = make_http(span, kind, attrs, keep);
        let (fault, error, throttle, cause) = make_cause(span, kind, attrs, res, keep, ids);
        let aws = make_aws(attrs, res, &self.opts.log_groups, keep);
        let sql = make_sql(span, attrs, keep);
        // Indexed names that http/aws/sql consumed come back for annotations.
        if !self.opts.index_all_attributes {
            for (i, kv) in attrs.iter().enumerate() {
                if !keep[i]
                    && keep_ok(view.drop_remote, kv)
                    && self.opts.indexed_attributes.contains(&kv.key)
                {
                    keep[i] = true;
                }
            }
        }
        let mut seg = Segment {
            name: Cow::Borrowed(""),
            id: span_id,
            start_time: nanos_to_secs(span.start_time_unix_nano),
            end_time: nanos_to_secs(span.end_time_unix_nano),
            trace_id: &span.trace_id,
            parent_id: parent,
            subsegment,
            namespace: None,
            service_version: make_service(res),
            origin: aws_origin(res),
            user: None,
            links: &span.links,
            http,
            fault,
            error,
            throttle,
            cause,
            aws,
            sql,
            annotations: Vec::new(),
            metadata_default: Vec::new(),
            metadata_ns: Vec::new(),
        };
        self.attributes(&mut seg, attrs, keep, res, store_resource);

        // Name and namespace.
        let mut name: Option<&'a str> = None;
        let mut namespace: Option<&'static str> = None;
        let nonempty = |v: Option<&'a AnyValue>| Some(str_of(v)).filter(|s| !s.is_empty());
        if kind == SpanKind::Server {
            name = nonempty(lookup(AWS_LOCAL_SERVICE));
        }
        if kind == SpanKind::Internal && str_of(lookup(AWS_SPAN_KIND)) == LOCAL_ROOT {
            name = nonempty(lookup(AWS_LOCAL_SERVICE));
        }
        if matches!(
            kind,
            SpanKind::Client | SpanKind::Producer | SpanKind::Consumer
        ) {
            if let Some(remote) = nonempty(lookup(AWS_REMOTE_SERVICE)) {
                name = Some(if is_aws_sdk(attrs) {
                    strip_sdk_prefix(remote)
                } else {
                    remote
                });
            }
        }
        if name.is_none() {
            name = nonempty(lookup("peer.service"));
        }
        if is_aws_sdk(attrs) {
            namespace = Some("aws");
        }
        let mut owned_name: Option<String> = None;
        if name.is_none() {
            if let Some(svc) = nonempty(lookup("aws.service")) {
                name = Some(svc);
                namespace.get_or_insert("aws");
            }
        }
        if name.is_none() {
            if let Some(db) = lookup("db.name") {
                let db = str_of(Some(db));
                let mut n = db.to_string();
                if let Some(host) = db_host(str_of(lookup("db.connection_string"))) {
                    n.push('@');
                    n.push_str(host);
                }
                if !n.is_empty() {
                    owned_name = Some(n);
                }
            }
        }
        if name.is_none() && owned_name.is_none() {
            let candidates: [Option<&'a AnyValue>; 4] = [
                if kind == SpanKind::Server {
                    get(res, "service.name")
                } else {
                    None
                },
                lookup("rpc.service"),
                lookup("http.host"),
                lookup("net.peer.name"),
            ];
            name = candidates.into_iter().find_map(nonempty);
        }
        seg.name = match (name, owned_name) {
            (_, Some(n)) => Cow::Owned(n),
            (Some(n), None) => Cow::Borrowed(n),
            (None, None) => fix_segment_name(&span.name),
        };
        if namespace.is_none() && kind == SpanKind::Client {
            namespace = Some("remote");
        }
        seg.namespace = namespace;
        seg
    }

    /// Annotations, metadata and `user` from what is left of the attributes.
    fn attributes<'a>(
        &self,
        seg: &mut Segment<'a>,
        attrs: &'a [KeyValue],
        keep: &[bool],
        res: &'a [KeyValue],
        store_resource: bool,
    ) {
        let mut remaining = 0usize;
        let mut annotation_keys: Vec<&'a str> = Vec::new();
        for (i, kv) in attrs.iter().enumerate() {
            if !keep[i] {
                continue;
            }
            if kv.key == "enduser.id" {
                seg.user = Some(str_of(kv.value.as_ref())).filter(|s| !s.is_empty());
                continue;
            }
            if kv.key == ANNOTATIONS_ATTR {
                if let Some(any_value::Value::ArrayValue(a)) =
                    kv.value.as_ref().and_then(|v| v.value.as_ref())
                {
                    for v in &a.values {
                        if let Some(any_value::Value::StringValue(s)) = &v.value {
                            annotation_keys.push(s);
                        }
                    }
                    continue;
                }
            }
            remaining += 1;
        }
        if remaining == 0 && (!store_resource || res.is_empty()) {
            return;
        }
        let all = self.opts.index_all_attributes;
        let indexed = |key: &str| -> bool {
            (!all && self.opts.indexed_attributes.iter().any(|n| n == key))
                || annotation_keys.contains(&key)
        };
        let indexed_resource = |key: &str| -> bool {
            let named = |n: &str| n.strip_prefix(RESOURCE_PREFIX) == Some(key);
            (!all && self.opts.indexed_attributes.iter().any(|n| named(n)))
                || annotation_keys.iter().any(|n| named(n))
        };
        if store_resource {
            for kv in res {
                let Some(v) = kv.value.as_ref() else { continue };
                if is_scalar(v) && (all || indexed_resource(&kv.key)) {
                    let key = format!("{RESOURCE_PREFIX}{}", kv.key);
                    let fixed = Cow::Owned(fix_annotation_key(&key).into_owned());
                    seg.annotations.push((fixed, v));
                } else if v.value.is_some() {
                    seg.metadata_default
                        .push((MetaKey::Resource(&kv.key), Meta::Any(v)));
                }
            }
        }
        for (i, kv) in attrs.iter().enumerate() {
            if !keep[i] || kv.key == "enduser.id" {
                continue;
            }
            let Some(v) = kv.value.as_ref() else { continue };
            if kv.key == ANNOTATIONS_ATTR
                && matches!(v.value, Some(any_value::Value::ArrayValue(_)))
            {
                continue;
            }
            if all {
                if is_scalar(v) {
                    seg.annotations.push((fix_annotation_key(&kv.key), v));
                }
                continue;
            }
            if indexed(&kv.key) {
                if is_scalar(v) {
                    seg.annotations.push((fix_annotation_key(&kv.key), v));
                }
                continue;
            }
            if let (Some(ns), Some(any_value::Value::StringValue(s))) =
                (kv.key.strip_prefix(METADATA_PREFIX), &v.value)
            {
                match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(s) {
                    Err(_) => seg
                        .metadata_default
                        .push((MetaKey::Plain(Cow::Borrowed(&kv.key)), Meta::Any(v))),
                    Ok(map) if ns.eq_ignore_ascii_case("default") => {
                        for (k, val) in map {
                            seg.metadata_default
                                .push((MetaKey::Plain(Cow::Owned(k)), Meta::Json(val)));
                        }
                    }
                    Ok(map) => seg.metadata_ns.push((ns, map)),
                }
                continue;
            }
            if v.value.is_some() {
                seg.metadata_default
                    .push((MetaKey::Plain(Cow::Borrowed(&kv.key)), Meta::Any(v)));
            }
        }
        dedup_last(&mut seg.annotations, |a, b| a == b);
        dedup_last(&mut seg.metadata_default, MetaKey::same);
    }
}

/// Keeps the last entry of each key (Go map semantics), preserving order otherwise.
fn dedup_last<K, V>(v: &mut Vec<(K, V)>, same: impl Fn(&K, &K) -> bool) {
    if v.len() < 2 {
        return;
    }
    let mut i = 0;
    while i < v.len() {
        if v[i + 1..].iter().any(|(k, _)| same(k, &v[i].0)) {
            v.remove(i);
        } else {
            i += 1;
        }
    }
}

const RESOURCE_PREFIX: &str = "otel.resource.";

/// A metadata key: resource keys get their `otel.resource.` prefix when written.
#[derive(Debug, Clone)]
enum MetaKey<'a> {
    Plain(Cow<'a, str>),
    Resource(&'a str),
}

impl MetaKey<'_> {
    fn is_resource(&self) -> bool {
        match self {
            MetaKey::Resource(_) => true,
            MetaKey::Plain(k) => k.starts_with(RESOURCE_PREFIX),
        }
    }

    fn same(&self, other: &MetaKey<'_>) -> bool {
        match (self, other) {
            (MetaKey::Plain(a), MetaKey::Plain(b)) => a == b,
            (MetaKey::Resource(a), MetaKey::Resource(b)) => a == b,
            (MetaKey::Plain(p), MetaKey::Resource(r))
            | (MetaKey::Resource(r), MetaKey::Plain(p)) => {
                p.strip_prefix(RESOURCE_PREFIX) == Some(*r)
            }
        }
    }

    fn write(&self, w: &mut JsonOut<'_>) {
        match self {
            MetaKey::Plain(k) => w.key(k),
            MetaKey::Resource(k) => w.key_prefixed(RESOURCE_PREFIX, k),
        }
    }
}

fn keep_ok(drop_remote: bool, kv: &KeyValue) -> bool {
    !(drop_remote && SERVICE_SEGMENT_REMOVED.contains(&kv.key.as_str()))
}

/// Which document of a span is being built.
#[derive(Debug, Clone, Copy)]
struct SpanView {
    id_override: Option<u64>,
    parent_override: Option<u64>,
    drop_remote: bool,
}

impl SpanView {
    fn plain() -> Self {
        SpanView {
            id_override: None,
            parent_override: None,
            drop_remote: false,
        }
    }
    fn dependency(service_id: u64) -> Self {
        SpanView {
            id_override: None,
            parent_override: Some(service_id),
            drop_remote: false,
        }
    }
    fn service(service_id: u64) -> Self {
        SpanView {
            id_override: Some(service_id),
            parent_override: None,
            drop_remote: true,
        }
    }
}

/// A metadata value.
#[derive(Debug, Clone)]
enum Meta<'a> {
    Any(&'a AnyValue),
    Json(serde_json::Value),
}

/// One segment document before serialisation.
#[derive(Debug)]
struct Segment<'a> {
    name: Cow<'a, str>,
    id: u64,
    start_time: f64,
    end_time: f64,
    trace_id: &'a [u8],
    parent_id: Option<u64>,
    subsegment: bool,
    namespace: Option<&'static str>,
    service_version: Option<&'a str>,
    origin: Option<&'static str>,
    user: Option<&'a str>,
    links: &'a [Link],
    http: Option<Http<'a>>,
    fault: bool,
    error: bool,
    throttle: bool,
    cause: Vec<Exception<'a>>,
    aws: Option<Aws<'a>>,
    sql: Option<Sql<'a>>,
    annotations: Vec<(Cow<'a, str>, &'a AnyValue)>,
    metadata_default: Vec<(MetaKey<'a>, Meta<'a>)>,
    metadata_ns: Vec<(&'a str, serde_json::Map<String, serde_json::Value>)>,
}

impl Segment<'_> {
    /// Field order follows the upstream Go struct.
    fn write(&self, buf: &mut String, metadata: bool, max_frames: usize) {
        let mut w = JsonOut::new(buf);
        w.begin_obj();
        w.key_str_opt("name", Some(&self.name));
        w.key("id");
        w.hex_id(self.id);
        w.key("start_time");
        w.float(self.start_time);
        if let Some(v) = self.service_version.filter(|v| !v.is_empty()) {
            w.key("service");
            w.begin_obj();
            w.key_str("version", v);
            w.end_obj();
        }
        w.key_str_opt("origin", self.origin);
        w.key_str_opt("user", self.user);
        if !self.links.is_empty() {
            w.key("links");
            w.begin_arr();
            for l in self.links {
                w.begin_obj();
                write_trace_id(&mut w, "trace_id", &l.trace_id);
                w.key("id");
                w.hex_id(id_u64(&l.span_id).unwrap_or(0));
                if !l.attributes.is_empty() {
                    w.key("attributes");
                    w.begin_obj();
                    for kv in &l.attributes {
                        if let Some(v) = kv.value.as_ref().filter(|v| v.value.is_some()) {
                            w.key(&kv.key);
                            w.any(v);
                        }
                    }
                    w.end_obj();
                }
                w.end_obj();
            }
            w.end_arr();
        }
        write_trace_id(&mut w, "trace_id", self.trace_id);
        w.key("end_time");
        w.float(self.end_time);
        if let Some(h) = &self.http {
            h.write(&mut w);
        }
        w.key("fault");
        w.bool(self.fault);
        w.key("error");
        w.bool(self.error);
        w.key("throttle");
        w.bool(self.throttle);
        if !self.cause.is_empty() {
            w.key("cause");
            w.begin_obj();
            w.key("exceptions");
            w.begin_arr();
            for e in &self.cause {
                e.write(&mut w, max_frames);
            }
            w.end_arr();
            w.end_obj();
        }
        if let Some(a) = &self.aws {
            a.write(&mut w);
        }
        if !self.annotations.is_empty() {
            w.key("annotations");
            w.begin_obj();
            for (k, v) in &self.annotations {
                w.key(k);
                w.any(v);
            }
            w.end_obj();
        }
        if metadata && (!self.metadata_default.is_empty() || !self.metadata_ns.is_empty()) {
            w.key("metadata");
            w.begin_obj();
            for (ns, map) in &self.metadata_ns {
                if ns.eq_ignore_ascii_case("default") {
                    continue;
                }
                w.key(ns);
                w.json(&serde_json::Value::Object(map.clone()));
            }
            if !self.metadata_default.is_empty() {
                w.key("default");
                w.begin_obj();
                for (k, v) in &self.metadata_default {
                    k.write(&mut w);
                    match v {
                        Meta::Any(a) => w.any(a),
                        Meta::Json(j) => w.json(j),
                    }
                }
                w.end_obj();
            }
            w.end_obj();
        }
        w.key_str_opt("namespace", self.namespace);
        if let Some(p) = self.parent_id {
            w.key("parent_id");
            w.hex_id(p);
        }
        if self.subsegment {
            w.key_str("type", "subsegment");
        }
        if let Some(s) = &self.sql {
            s.write(&mut w);
        }
        w.end_obj();
    }
}

fn write_trace_id(w: &mut JsonOut<'_>, key: &str, id: &[u8]) {
    w.key(key);
    w.trace_id(id);
}

/// `1-` + 8 hex digits + `-` + 24 hex digits.
pub fn xray_trace_id(id: &[u8]) -> String {
    let mut s = String::new();
    JsonOut::new(&mut s).trace_id(id);
    s.trim_matches('"').to_string()
}

#[derive(Debug, Default)]
struct Http<'a> {
    method: Option<&'a str>,
    url: Option<Cow<'a, str>>,
    user_agent: Option<&'a str>,
    client_ip: Option<&'a str>,
    x_forwarded_for: bool,
    status: Option<i64>,
    content_length: i64,
}

impl Http<'_> {
    fn write(&self, w: &mut JsonOut<'_>) {
        w.key("http");
        w.begin_obj();
        w.key("request");
        w.begin_obj();
        w.key_str_opt("method", self.method);
        w.key_str_opt("url", self.url.as_deref());
        w.key_str_opt("user_agent", self.user_agent);
        w.key_str_opt("client_ip", self.client_ip);
        if self.x_forwarded_for {
            w.key("x_forwarded_for");
            w.bool(true);
        }
        w.end_obj();
        w.key("response");
        w.begin_obj();
        if let Some(s) = self.status {
            w.key("status");
            w.int(s);
        }
        w.key("content_length");
        w.int(self.content_length);
        w.end_obj();
        w.end_obj();
    }
}

fn make_http<'a>(
    span: &'a Span,
    kind: SpanKind,
    attrs: &'a [KeyValue],
    keep: &mut [bool],
) -> Option<Http<'a>> {
    let mut h = Http::default();
    let mut has_http = false;
    let mut has_url_attrs = false;
    let mut has_net_peer_addr = false;
    let mut url_full: Option<&'a str> = None;
    let mut scheme: Option<&'a str> = None;
    let mut host: Option<&'a str> = None; // http.host
    let mut target: Option<&'a str> = None;
    let mut url_path: Option<&'a str> = None;
    let mut url_query: Option<&'a str> = None;
    let mut server_name: Option<&'a str> = None;
    let mut net_host_name: Option<&'a str> = None;
    let mut host_name: Option<&'a str> = None;
    let mut server_address: Option<&'a str> = None;
    let mut host_port: Option<Cow<'a, str>> = None;
    let mut peer_name: Option<&'a str> = None;
    let mut peer_port: Option<Cow<'a, str>> = None;
    let mut peer_ip: Option<&'a str> = None;
    for (i, kv) in attrs.iter().enumerate() {
        let v = kv.value.as_ref();
        let s = str_of(v);
        match kv.key.as_str() {
            "http.method" | "http.request.method" => {
                h.method = Some(s);
                has_http = true;
            }
            "http.client_ip" => {
                h.client_ip = Some(s);
                has_http = true;
            }
            "client.address" => {
                if s.parse::<IpAddr>().is_ok() {
                    h.client_ip = Some(s);
                }
                has_http = true;
            }
            "http.user_agent" | "user_agent.original" => {
                h.user_agent = Some(s);
                has_http = true;
            }
            "http.status_code" | "http.response.status_code" => {
                h.status = Some(int_of(v));
                has_http = true;
            }
            "http.url" | "url.full" => {
                url_full = Some(s);
                has_http = true;
                has_url_attrs = true;
            }
            "http.scheme" | "url.scheme" => {
                scheme = Some(s);
                has_http = true;
            }
            "http.host" => {
                host = Some(s);
                has_http = true;
                has_url_attrs = true;
            }
            "http.target" => {
                target = Some(s);
                has_http = true;
            }
            "url.path" => {
                url_path = Some(s);
                has_http = true;
                has_url_attrs = true;
            }
            "url.query" => {
                url_query = Some(s);
                has_http = true;
            }
            "http.server_name" => {
                server_name = Some(s);
                has_http = true;
                has_url_attrs = true;
            }
            "net.host.port" | "server.port" => {
                host_port = Some(port_of(v));
                has_http = true;
            }
            "host.name" => {
                host_name = Some(s);
                has_url_attrs = true;
            }
            "net.host.name" => {
                net_host_name = Some(s);
                has_url_attrs = true;
            }
            "server.address" => {
                server_address = Some(s);
                has_url_attrs = true;
            }
            "net.peer.name" => peer_name = Some(s),
            "net.peer.port" => peer_port = Some(port_of(v)),
            "net.peer.ip" => {
                if h.client_ip.is_none() {
                    h.client_ip = Some(s);
                }
                peer_ip = Some(s);
                has_url_attrs = true;
                has_net_peer_addr = true;
            }
            "network.peer.address" => {
                if s.parse::<IpAddr>().is_ok() {
                    if h.client_ip.is_none() {
                        h.client_ip = Some(s);
                    }
                    peer_ip.get_or_insert(s);
                    has_url_attrs = true;
                    has_net_peer_addr = true;
                }
            }
            _ => continue,
        }
        keep[i] = false;
    }
    if h.client_ip.is_some() && !has_net_peer_addr {
        h.x_forwarded_for = true;
    }
    if !has_http {
        return None;
    }
    if has_url_attrs {
        h.url = Some(match url_full {
            Some(u) => Cow::Borrowed(u),
            None => {
                let scheme = scheme.filter(|s| !s.is_empty()).unwrap_or("http");
                let (host, port) = if kind == SpanKind::Server {
                    match host {
                        Some(h) => (h, None),
                        None => (
                            server_name
                                .or(net_host_name)
                                .or(host_name)
                                .or(server_address)
                                .unwrap_or(""),
                            host_port,
                        ),
                    }
                } else {
                    match host {
                        Some(h) => (h, None),
                        None => (
                            server_address.or(peer_name).or(peer_ip).unwrap_or(""),
                            peer_port.or(host_port),
                        ),
                    }
                };
                let mut url = format!("{scheme}://{host}");
                if let Some(p) = port.filter(|p| !p.is_empty()) {
                    let default_port =
                        scheme == "http" && p == "80" || scheme == "https" && p == "443";
                    if !default_port {
                        url.push(':');
                        url.push_str(&p);
                    }
                }
                match (target, url_path) {
                    (Some(t), _) => url.push_str(t),
                    (None, Some(p)) => {
                        url.push_str(p);
                        if let Some(q) = url_query.filter(|q| !q.is_empty()) {
                            if !q.starts_with('?') {
                                url.push('?');
                            }
                            url.push_str(q);
                        }
                    }
                    (None, None) => url.push('/'),
                }
                Cow::Owned(url)
            }
        });
    }
    h.content_length = response_size(&span.attributes, &span.events);
    Some(h)
}

fn response_size(attrs: &[KeyValue], events: &[Event]) -> i64 {
    fn from(attrs: &[KeyValue]) -> i64 {
        if str_of(get(attrs, "message.type")) != "RECEIVED" {
            return 0;
        }
        get(attrs, "messaging.message.body.size")
            .or_else(|| get(attrs, "messaging.message_payload_size_bytes"))
            .map_or(0, |v| int_of(Some(v)))
    }
    let size = from(attrs);
    if size != 0 {
        return size;
    }
    events
        .iter()
        .map(|e| from(&e.attributes))
        .find(|s| *s != 0)
        .unwrap_or(0)
}

/// (fault, error, throttle, cause exceptions).
fn make_cause<'a>(
    span: &'a Span,
    kind: SpanKind,
    attrs: &'a [KeyValue],
    res: &'a [KeyValue],
    keep: &mut [bool],
    ids: &mut IdGen,
) -> (bool, bool, bool, Vec<Exception<'a>>) {
    let status_error = span
        .status
        .as_ref()
        .is_some_and(|s| s.code == StatusCode::Error as i32);
    let aws_sdk = is_aws_sdk(attrs);
    let first = span
        .events
        .iter()
        .find(|e| e.name == "exception" || e.name == "HTTP request failure");
    let mut cause = Vec::new();
    if first.is_some() {
        let language = str_of(get(res, "telemetry.sdk.language"));
        let remote = matches!(kind, SpanKind::Client | SpanKind::Producer);
        for e in &span.events {
            if e.name == "exception" {
                let a = &e.attributes;
                cause.extend(parse_exception(
                    str_of(get(a, "exception.type")),
                    str_of(get(a, "exception.message")),
                    str_of(get(a, "exception.stacktrace")),
                    remote,
                    language,
                    ids,
                ));
            } else if aws_sdk && e.name == "HTTP request failure" {
                let a = &e.attributes;
                if let (Some(code), Some(msg)) = (
                    get(a, "http.response.status_code"),
                    get(a, "aws.http.error_message"),
                ) {
                    let micros = e.time_unix_nano / 1000;
                    let message = format!(
                        "{}@{}.{:06}@{}",
                        as_string(code),
                        micros / 1_000_000,
                        micros % 1_000_000,
                        str_of(Some(msg))
                    );
                    let mut ex = Exception::new(ids.next_id(), "aws.http.error.event");
                    ex.remote = Some(true);
                    ex.message = Some(Cow::Owned(message));
                    cause.push(ex);
                }
            }
        }
    } else if status_error {
        let mut message: &'a str = span.status.as_ref().map_or("", |s| s.message.as_str());
        for (i, kv) in attrs.iter().enumerate() {
            if kv.key == "http.status_text" {
                if message.is_empty() {
                    message = str_of(kv.value.as_ref());
                }
                keep[i] = false;
            }
        }
        if !message.is_empty() {
            let mut ex = Exception::new(ids.next_id(), "");
            ex.message = Some(Cow::Borrowed(message));
            cause.push(ex);
        }
    }
    let code = get(attrs, "http.status_code")
        .or_else(|| get(attrs, "http.response.status_code"))
        .map(|v| int_of(Some(v)));
    let (fault, error, throttle) = match code {
        Some(c) if (400..=499).contains(&c) => (false, true, c == 429),
        Some(c) if (500..=599).contains(&c) => (true, false, false),
        _ => (status_error, false, false),
    };
    (fault, error, throttle, cause)
}

#[derive(Debug, Default)]
struct Aws<'a> {
    beanstalk: Option<(&'a str, &'a str, i64)>,
    cloudwatch_logs: Vec<(Cow<'a, str>, Option<Cow<'a, str>>)>,
    ecs: Option<[(&'static str, &'a str); 8]>,
    ec2: Option<[(&'static str, &'a str); 4]>,
    eks: Option<[(&'static str, &'a str); 3]>,
    sdk_name: &'a str,
    sdk_language: &'a str,
    sdk_version: &'a str,
    auto_instrumentation: bool,
    account_id: Option<&'a str>,
    operation: Option<&'a str>,
    region: Option<&'a str>,
    request_id: Option<&'a str>,
    queue_url: Option<&'a str>,
    table_name: Option<&'a str>,
    table_names: Vec<&'a str>,
}

impl Aws<'_> {
    fn write(&self, w: &mut JsonOut<'_>) {
        w.key("aws");
        w.begin_obj();
        if let Some((env, version, deploy)) = self.beanstalk {
            w.key("elastic_beanstalk");
            w.begin_obj();
            w.key_str_opt("environment_name", Some(env));
            w.key_str_opt("version_label", Some(version));
            w.key("deployment_id");
            w.int(deploy);
            w.end_obj();
        }
        if !self.cloudwatch_logs.is_empty() {
            w.key("cloudwatch_logs");
            w.begin_arr();
            for (group, arn) in &self.cloudwatch_logs {
                w.begin_obj();
                w.key_str("log_group", group);
                w.key_str_opt("arn", arn.as_deref());
                w.end_obj();
            }
            w.end_arr();
        }
        if let Some(ecs) = &self.ecs {
            w.key("ecs");
            w.begin_obj();
            for (k, v) in ecs {
                w.key_str_opt(k, Some(v));
            }
            w.end_obj();
        }
        if let Some(ec2) = &self.ec2 {
            // No omitempty upstream: absent values are null.
            w.key("ec2");
            w.begin_obj();
            for (k, v) in ec2 {
                w.key(k);
                if v.is_empty() {
                    w.null();
                } else {
                    w.str(v);
                }
            }
            w.end_obj();
        }
        if let Some(eks) = &self.eks {
            w.key("eks");
            w.begin_obj();
            for (k, v) in eks {
                w.key_str_opt(k, Some(v));
            }
            w.end_obj();
        }
        w.key("xray");
        w.begin_obj();
        match (self.sdk_name, self.sdk_language) {
            ("", _) => {}
            (name, "") => w.key_str("sdk", name),
            (name, language) => {
                w.key("sdk");
                w.str_parts(&[name, " for ", language]);
            }
        }
        w.key_str_opt("sdk_version", Some(self.sdk_version));
        w.key("auto_instrumentation");
        w.bool(self.auto_instrumentation);
        w.end_obj();
        w.key_str_opt("account_id", self.account_id);
        w.key_str_opt("operation", self.operation);
        w.key_str_opt("region", self.region);
        w.key_str_opt("request_id", self.request_id);
        w.key_str_opt("queue_url", self.queue_url);
        w.key_str_opt("table_name", self.table_name);
        if !self.table_names.is_empty() {
            w.key("table_names");
            w.begin_arr();
            for t in &self.table_names {
                w.str(t);
            }
            w.end_arr();
        }
        w.end_obj();
    }
}

fn make_aws<'a>(
    attrs: &'a [KeyValue],
    res: &'a [KeyValue],
    config_log_groups: &'a [String],
    keep: &mut [bool],
) -> Option<Aws<'a>> {
    let r = |k: &str| str_of(get(res, k));
    let mut a = Aws::default();
    let mut account = r("cloud.account.id");
    let mut operation: Option<&'a str> = None;
    for (i, kv) in attrs.iter().enumerate() {
        let v = kv.value.as_ref();
        match kv.key.as_str() {
            "rpc.method" => {
                operation.get_or_insert(str_of(v));
            }
            "aws.operation" => operation = Some(str_of(v)),
            "aws.account_id" => {
                if v.is_some_and(|v| v.value.is_some()) {
                    account = str_of(v);
                }
            }
            "aws.region" => a.region = Some(str_of(v)),
            "aws.request_id" | "aws.requestId" => a.request_id = Some(str_of(v)),
            "aws.queue_url" | "aws.queue.url" => a.queue_url = Some(str_of(v)),
            "aws.table_name" | "aws.table.name" => a.table_name = Some(str_of(v)),
            _ => continue,
        }
        keep[i] = false;
    }
    // aws.operation wins over rpc.method whatever the order.
    if let Some(op) = get(attrs, "aws.operation") {
        operation = Some(str_of(Some(op)));
    }
    a.operation = operation;
    a.account_id = Some(account);
    let cloud = r("cloud.provider");
    if !cloud.is_empty() && cloud != "aws" {
        return None;
    }
    if let Some(u) = get(attrs, "messaging.url") {
        a.queue_url = Some(str_of(Some(u)));
    }
    if let Some(any_value::Value::ArrayValue(t)) =
        get(attrs, "aws.dynamodb.table_names").and_then(|v| v.value.as_ref())
    {
        match t.values.as_slice() {
            [] => {}
            [one] => a.table_name = Some(str_of(Some(one))),
            many => {
                a.table_name = None;
                a.table_names = many.iter().map(|v| str_of(Some(v))).collect();
            }
        }
    }
    let platform = r("cloud.platform");
    let zone = r("cloud.availability_zone");
    let host_id = r("host.id");
    let container_id = r("container.id");
    if platform == "aws_ec2" || !host_id.is_empty() {
        a.ec2 = Some([
            ("instance_id", host_id),
            ("availability_zone", zone),
            ("instance_size", r("host.type")),
            ("ami_id", r("host.image.id")),
        ]);
    }
    if platform == "aws_ecs" {
        a.ecs = Some([
            ("container", r("container.name")),
            ("container_id", container_id),
            ("task_arn", r("aws.ecs.task.arn")),
            ("task_family", r("aws.ecs.task.family")),
            ("cluster_arn", r("aws.ecs.cluster.arn")),
            ("container_arn", r("aws.ecs.container.arn")),
            ("availability_zone", zone),
            ("launch_type", r("aws.ecs.launchtype")),
        ]);
    }
    let instance = r("service.instance.id");
    if platform == "aws_elastic_beanstalk" && !instance.is_empty() {
        a.beanstalk = Some((
            r("service.namespace"),
            r("service.version"),
            instance.parse().unwrap_or(0),
        ));
    }
    let cluster = r("k8s.cluster.name");
    if platform == "aws_eks" || !cluster.is_empty() {
        a.eks = Some([
            ("cluster_name", cluster),
            ("pod", r("k8s.pod.name")),
            ("container_id", container_id),
        ]);
    }
    let arns = get(res, "aws.log.group.arns");
    let names = get(res, "aws.log.group.names");
    if let Some(v) = arns.filter(|v| !string_list(v).is_empty()) {
        for arn in string_list(v) {
            let group = arn.split(':').nth(6).unwrap_or(arn);
            a.cloudwatch_logs
                .push((Cow::Borrowed(group), Some(Cow::Borrowed(arn))));
        }
    } else if let Some(v) = names.filter(|v| !string_list(v).is_empty()) {
        for n in string_list(v) {
            a.cloudwatch_logs.push((Cow::Borrowed(n), None));
        }
    } else {
        for n in config_log_groups {
            a.cloudwatch_logs.push((Cow::Borrowed(n.as_str()), None));
        }
    }
    let sdk_name = r("telemetry.sdk.name");
    let sdk_language = r("telemetry.sdk.language");
    a.sdk_name = sdk_name;
    a.sdk_language = sdk_language;
    a.sdk_version = r("telemetry.sdk.version");
    a.auto_instrumentation =
        !r("telemetry.auto.version").is_empty() || !r("telemetry.distro.version").is_empty();
    Some(a)
}

/// Strings of a string or string-array value; strings are split on `&`.
fn string_list(v: &AnyValue) -> Vec<&str> {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => s.split('&').filter(|s| !s.is_empty()).collect(),
        Some(any_value::Value::ArrayValue(a)) => a
            .values
            .iter()
            .filter_map(|v| match &v.value {
                Some(any_value::Value::StringValue(s)) => Some(s.as_str()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[derive(Debug)]
struct Sql<'a> {
    connection_string: String,
    url: &'a str,
    sanitized_query: &'a str,
    database_type: &'a str,
    user: &'a str,
}

impl Sql<'_> {
    fn write(&self, w: &mut JsonOut<'_>) {
        w.key("sql");
        w.begin_obj();
        w.key_str_opt("connection_string", Some(&self.connection_string));
        w.key_str_opt("url", Some(self.url));
        w.key_str_opt("sanitized_query", Some(self.sanitized_query));
        w.key_str_opt("database_type", Some(self.database_type));
        w.key_str_opt("user", Some(self.user));
        w.end_obj();
    }
}

fn make_sql<'a>(span: &'a Span, attrs: &'a [KeyValue], keep: &mut [bool]) -> Option<Sql<'a>> {
    let system = str_of(get(attrs, "db.system"));
    if !SQL_SYSTEMS.contains(&system) {
        return None;
    }
    let mut conn = "";
    let mut instance = "";
    let mut statement = "";
    let mut user = "";
    for (i, kv) in attrs.iter().enumerate() {
        let s = str_of(kv.value.as_ref());
        match kv.key.as_str() {
            "db.connection_string" => conn = s,
            "db.system" => {}
            "db.name" => instance = s,
            "db.statement" => statement = s,
            "db.user" => user = s,
            _ => continue,
        }
        keep[i] = false;
    }
    let conn = if conn.is_empty() { "localhost" } else { conn };
    Some(Sql {
        connection_string: format!("{conn}/{instance}"),
        url: &span.name,
        sanitized_query: statement,
        database_type: system,
        user,
    })
}

fn make_service(res: &[KeyValue]) -> Option<&str> {
    get(res, "service.version")
        .or_else(|| get(res, "container.image.tag"))
        .map(|v| str_of(Some(v)))
}

/// `origin` from the resource's cloud platform.
fn aws_origin(res: &[KeyValue]) -> Option<&'static str> {
    if res.is_empty() {
        return None;
    }
    let provider = str_of(get(res, "cloud.provider"));
    if !provider.is_empty() && provider != "aws" {
        return None;
    }
    match str_of(get(res, "cloud.platform")) {
        "aws_app_runner" => Some("AWS::AppRunner::Service"),
        "aws_eks" => Some("AWS::EKS::Container"),
        "aws_elastic_beanstalk" => Some("AWS::ElasticBeanstalk::Environment"),
        "aws_ecs" => Some(match str_of(get(res, "aws.ecs.launchtype")) {
            "ec2" => "AWS::ECS::EC2",
            "fargate" => "AWS::ECS::Fargate",
            _ => "AWS::ECS::Container",
        }),
        "aws_ec2" => Some("AWS::EC2::Instance"),
        _ => None,
    }
}

/// Host of a DB connection string (`jdbc:` stripped), if it parses as a URL.
fn db_host(conn: &str) -> Option<&str> {
    let conn = conn.strip_prefix("jdbc:").unwrap_or(conn);
    let (_, rest) = conn.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit('@').next()?;
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        host_port.split(':').next()?
    };
    Some(host).filter(|h| !h.is_empty())
}

/// Removes characters X-Ray does not allow in names; at most 200 bytes; "span" if empty.
fn fix_segment_name(name: &str) -> Cow<'_, str> {
    let ok =
        |c: char| c.is_alphabetic() || c.is_ascii_digit() || " _.:/%&#=+-@".contains(c) || c == 'N';
    let mut out: Cow<'_, str> = if name.chars().all(ok) {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(name.chars().filter(|c| ok(*c)).collect())
    };
    if out.len() > 200 {
        let mut end = 200;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out = Cow::Owned(out[..end].to_string());
    }
    if out.is_empty() {
        Cow::Borrowed("span")
    } else {
        out
    }
}

/// Every character other than `[0-9A-Za-z.]` becomes `_`.
fn fix_annotation_key(key: &str) -> Cow<'_, str> {
    let ok = |c: char| c.is_ascii_alphanumeric() || c == '.';
    if key.chars().all(ok) {
        Cow::Borrowed(key)
    } else {
        Cow::Owned(key.chars().map(|c| if ok(c) { c } else { '_' }).collect())
    }
}

fn strip_sdk_prefix(name: &str) -> &str {
    name.strip_prefix("AWS.SDK.")
        .or_else(|| name.strip_prefix("AWS::"))
        .unwrap_or(name)
}

fn is_aws_sdk(attrs: &[KeyValue]) -> bool {
    str_of(get(attrs, "rpc.system")) == "aws-api"
}

fn span_kind(span: &Span) -> SpanKind {
    SpanKind::try_from(span.kind).unwrap_or(SpanKind::Unspecified)
}

/// Seconds since the epoch. Whole seconds and the fraction are converted apart so
/// the value keeps sub-microsecond precision (upstream's `float64(ns)/1e9` loses
/// ~0.2 µs: 1700000000.25 becomes 1700000000.2499998).
fn nanos_to_secs(n: u64) -> f64 {
    (n / 1_000_000_000) as f64 + (n % 1_000_000_000) as f64 / 1e9
}

fn id_u64(b: &[u8]) -> Option<u64> {
    let arr: [u8; 8] = b.try_into().ok()?;
    Some(u64::from_be_bytes(arr)).filter(|v| *v != 0)
}

pub(crate) fn get<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
}

/// The string value, or "" (Go's `Value.Str()`).
fn str_of(v: Option<&AnyValue>) -> &str {
    match v.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s,
        _ => "",
    }
}

/// An integer from an int, double or numeric string value; 0 otherwise.
fn int_of(v: Option<&AnyValue>) -> i64 {
    match v.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::IntValue(i)) => *i,
        Some(any_value::Value::DoubleValue(d)) => *d as i64,
        Some(any_value::Value::StringValue(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

/// A port as text (string, or int formatted).
fn port_of(v: Option<&AnyValue>) -> Cow<'_, str> {
    match v.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => Cow::Borrowed(s),
        Some(any_value::Value::IntValue(i)) => Cow::Owned(i.to_string()),
        _ => Cow::Borrowed(""),
    }
}

/// Any value as text (Go's `AsString`).
fn as_string(v: &AnyValue) -> String {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        _ => String::new(),
    }
}

fn is_scalar(v: &AnyValue) -> bool {
    matches!(
        v.value,
        Some(
            any_value::Value::StringValue(_)
                | any_value::Value::IntValue(_)
                | any_value::Value::DoubleValue(_)
                | any_value::Value::BoolValue(_)
        )
    )
}
