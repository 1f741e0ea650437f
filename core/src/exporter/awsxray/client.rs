//! I/O of the `awsxray` exporter: `PutTraceSegments` through `aws-sdk-xray`
//! (≤ 50 documents per call, up to `num_workers` calls in flight) or UDP
//! datagrams to an X-Ray daemon. The encoded request keeps which documents are
//! still to send, so a retry resends only those: documents the API reported in
//! `UnprocessedTraceSegments` are retried once, then counted as failed.
//!
//! One retry layer: the SDK's own retries are off, so the queue's
//! `retry_on_failure` (backoff, `Retry-After`) decides every retry; SDK errors
//! are classified with the shared HTTP [`StatusPolicy`].

use std::net::SocketAddr;
use std::time::Duration;

use aws_sdk_xray::error::SdkError;
use aws_sdk_xray::operation::put_trace_segments::PutTraceSegmentsError;
use aws_smithy_types::error::display::DisplayErrorContext;
use futures_util::stream::{FuturesUnordered, StreamExt};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use tokio::sync::OnceCell;

use super::translate::{Document, IdGen, Translator};
use crate::aws::{AwsError, AwsOptions};
use crate::exporter::queue::{ExportClient, ExportError};
use crate::http::{StatusClass, StatusPolicy};
use crate::otlp::Traces;
use crate::pipeline::Batch;

/// `PutTraceSegments` accepts at most 50 documents per call.
pub const MAX_DOCUMENTS_PER_CALL: usize = 50;

/// The daemon protocol header preceding each document in a datagram.
pub const DAEMON_HEADER: &[u8] = b"{\"format\": \"json\", \"version\": 1}\n";

/// Largest UDP payload (IPv4).
pub const MAX_DATAGRAM: usize = 65_507;

/// A translated batch: its documents and what is left to send.
#[derive(Debug)]
pub struct XrayRequest {
    docs: Vec<Document>,
    /// Span index of each document (a LOCAL_ROOT dependency span has two).
    doc_span: Vec<u32>,
    state: SendState,
}

#[derive(Debug)]
struct SendState {
    /// Documents not delivered yet.
    pending: Vec<u32>,
    /// Documents already retried once after being reported unprocessed.
    retried: Vec<bool>,
    failed_span: Vec<bool>,
    failed: u64,
}

impl XrayRequest {
    /// Documents of this request (for tests and benchmarks).
    pub fn documents(&self) -> &[Document] {
        &self.docs
    }

    /// Spans counted as failed so far.
    pub fn failed_spans(&self) -> u64 {
        self.state.failed
    }

    /// Document indices still to send.
    pub fn pending(&self) -> &[u32] {
        &self.state.pending
    }
}

impl SendState {
    fn fail_span(&mut self, span: u32) {
        if let Some(f) = self.failed_span.get_mut(span as usize) {
            if !*f {
                *f = true;
                self.failed += 1;
            }
        }
    }
}

/// Translates a decoded batch into an [`XrayRequest`]; spans that produce no
/// document (bad IDs, over the size limit) are counted as failed and logged.
pub fn encode_request(
    exporter: &str,
    translator: &Translator,
    req: &ExportTraceServiceRequest,
) -> XrayRequest {
    let mut ids = IdGen::random();
    let mut docs = Vec::new();
    let mut doc_span = Vec::new();
    let mut failed_span = Vec::new();
    let mut failed = 0u64;
    let (mut shrunk, mut first_error) = (0usize, None);
    for rs in &req.resource_spans {
        let resource = rs.resource.as_ref();
        for ss in &rs.scope_spans {
            for span in &ss.spans {
                let index = failed_span.len() as u32;
                let before = docs.len();
                match translator.span_documents(span, resource, &mut ids, &mut docs) {
                    Ok(done) => {
                        shrunk += done.shrunk;
                        failed_span.push(false);
                    }
                    Err(e) => {
                        failed_span.push(true);
                        failed += 1;
                        first_error.get_or_insert(e);
                    }
                }
                doc_span.extend(std::iter::repeat_n(index, docs.len() - before));
            }
        }
    }
    if let Some(e) = first_error {
        tracing::error!(exporter, dropped_items = failed, error = %e,
            "Spans could not be translated to X-Ray segment documents. Dropping them.");
    }
    if shrunk > 0 {
        tracing::warn!(
            exporter,
            documents = shrunk,
            "Segment documents over the size limit were shrunk (metadata dropped, stacks trimmed)."
        );
    }
    let n = docs.len();
    XrayRequest {
        docs,
        doc_span,
        state: SendState {
            pending: (0..n as u32).collect(),
            retried: vec![false; n],
            failed_span,
            failed,
        },
    }
}

/// What one send attempt did with the pending documents.
#[derive(Debug, Default)]
struct Attempt {
    /// Failed with a retryable error.
    retry: Vec<u32>,
    /// Reported in `UnprocessedTraceSegments`.
    unprocessed: Vec<u32>,
    /// Failed for good.
    permanent: Vec<u32>,
    retry_error: Option<String>,
    retry_after: Option<Duration>,
    permanent_error: Option<String>,
    unprocessed_reasons: Vec<String>,
}

/// Where documents go.
pub enum Backend {
    Api(ApiBackend),
    Udp(UdpBackend),
}

/// The `ExportClient` of the exporter.
pub struct XraySender {
    pub id: String,
    pub translator: Translator,
    pub backend: Backend,
}

impl ExportClient<Traces> for XraySender {
    type Request = XrayRequest;

    fn encode(&self, batch: Batch<Traces>) -> Result<XrayRequest, ExportError> {
        Ok(batch.with_request(|req| encode_request(&self.id, &self.translator, req)))
    }

    async fn send(&self, req: &mut XrayRequest) -> Result<(), ExportError> {
        if req.state.pending.is_empty() {
            return Ok(());
        }
        let attempt = match &self.backend {
            Backend::Api(api) => api.send(req, &req.state.pending).await,
            Backend::Udp(udp) => udp.send(req, &req.state.pending).await,
        };
        let st = &mut req.state;
        let mut next = attempt.retry;
        let mut gave_up = 0usize;
        for d in attempt.unprocessed {
            if st.retried[d as usize] {
                gave_up += 1;
                let span = req.doc_span[d as usize];
                st.fail_span(span);
            } else {
                st.retried[d as usize] = true;
                next.push(d);
            }
        }
        for d in &attempt.permanent {
            let span = req.doc_span[*d as usize];
            st.fail_span(span);
        }
        next.sort_unstable();
        st.pending = next;
        let left = st.pending.len();
        if let Some(e) = &attempt.permanent_error {
            tracing::error!(exporter = %self.id, documents = attempt.permanent.len(), error = %e,
                "PutTraceSegments refused documents; the error is not retryable. Dropping them.");
        }
        if !attempt.unprocessed_reasons.is_empty() {
            tracing::warn!(exporter = %self.id, retrying = left, dropped_documents = gave_up,
                reasons = %attempt.unprocessed_reasons.join("; "),
                "X-Ray reported unprocessed trace segments.");
        }
        if left == 0 {
            return Ok(());
        }
        Err(ExportError::Retryable {
            message: format!(
                "{left} of {} segment documents still to send: {}",
                req.docs.len(),
                attempt
                    .retry_error
                    .as_deref()
                    .unwrap_or("unprocessed trace segments, retrying once")
            ),
            retry_after: attempt.retry_after,
        })
    }

    fn failed_items(&self, req: &XrayRequest) -> u64 {
        req.state.failed
    }
}

/// `PutTraceSegments` through the AWS SDK.
pub struct ApiBackend {
    client: OnceCell<aws_sdk_xray::Client>,
    settings: ApiSettings,
}

/// How to build the SDK client.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    pub aws: AwsOptions,
    pub endpoint: Option<String>,
    pub proxy: Option<String>,
    pub workers: usize,
    pub attempt_timeout: Duration,
}

impl ApiBackend {
    /// A backend whose client is built on first use (credentials and region are
    /// then resolved).
    pub fn lazy(settings: ApiSettings) -> Self {
        ApiBackend {
            client: OnceCell::new(),
            settings,
        }
    }

    /// A backend with a ready client.
    pub fn ready(settings: ApiSettings, cfg: &aws_config::SdkConfig) -> Result<Self, AwsError> {
        let client = make_client(&settings, cfg)?;
        Ok(ApiBackend {
            client: OnceCell::new_with(Some(client)),
            settings,
        })
    }

    async fn client(&self) -> Result<&aws_sdk_xray::Client, AwsError> {
        self.client
            .get_or_try_init(|| async {
                let cfg = crate::aws::load(&self.settings.aws).await?;
                make_client(&self.settings, &cfg)
            })
            .await
    }

    async fn send(&self, req: &XrayRequest, pending: &[u32]) -> Attempt {
        let mut attempt = Attempt::default();
        let client = match self.client().await {
            Ok(c) => c,
            Err(e @ AwsError::NoRegion) => {
                attempt.permanent = pending.to_vec();
                attempt.permanent_error = Some(e.to_string());
                return attempt;
            }
            Err(e) => {
                attempt.retry = pending.to_vec();
                attempt.retry_error = Some(e.to_string());
                return attempt;
            }
        };
        let mut chunks = pending.chunks(MAX_DOCUMENTS_PER_CALL);
        let mut in_flight = FuturesUnordered::new();
        loop {
            while in_flight.len() < self.settings.workers.max(1) {
                let Some(chunk) = chunks.next() else { break };
                let docs: Vec<String> = chunk
                    .iter()
                    .map(|&d| req.docs[d as usize].json.clone())
                    .collect();
                let call = client
                    .put_trace_segments()
                    .set_trace_segment_documents(Some(docs))
                    .send();
                in_flight.push(async move { (chunk, call.await) });
            }
            let Some((chunk, result)) = in_flight.next().await else {
                break;
            };
            match result {
                Ok(out) => {
                    for u in out.unprocessed_trace_segments() {
                        let id = u.id().and_then(|h| u64::from_str_radix(h, 16).ok());
                        let doc = id.and_then(|id| {
                            chunk
                                .iter()
                                .copied()
                                .find(|&d| req.docs[d as usize].id == id)
                        });
                        attempt.unprocessed_reasons.push(format!(
                            "{}: {} {}",
                            u.id().unwrap_or("?"),
                            u.error_code().unwrap_or(""),
                            u.message().unwrap_or("")
                        ));
                        match doc {
                            Some(d) if !attempt.unprocessed.contains(&d) => {
                                attempt.unprocessed.push(d)
                            }
                            Some(_) => {}
                            // Not attributable to one document: fail the
                            // whole chunk rather than lose track of it.
                            None => attempt.unprocessed.extend(chunk.iter().copied()),
                        }
                    }
                }
                Err(e) => {
                    let (error, retry_after) = classify(&e);
                    match error {
                        ExportError::Retryable { message, .. } => {
                            attempt.retry.extend_from_slice(chunk);
                            attempt.retry_error = Some(message);
                            attempt.retry_after = retry_after.or(attempt.retry_after);
                        }
                        ExportError::Permanent { message } => {
                            attempt.permanent.extend_from_slice(chunk);
                            attempt.permanent_error = Some(message);
                        }
                    }
                }
            }
        }
        attempt.unprocessed.sort_unstable();
        attempt.unprocessed.dedup();
        attempt
    }
}

fn make_client(
    s: &ApiSettings,
    cfg: &aws_config::SdkConfig,
) -> Result<aws_sdk_xray::Client, AwsError> {
    use aws_smithy_http_client::proxy::ProxyConfig;
    let env_proxy = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"]
        .iter()
        .any(|k| std::env::var(k).is_ok_and(|v| !v.trim().is_empty()));
    let http = match &s.proxy {
        Some(p) => proxy_client(
            ProxyConfig::all(p.as_str())
                .map_err(|e| AwsError::Credentials(format!("invalid proxy_address: {e}")))?,
        ),
        // As upstream: the standard proxy variables when no proxy_address is set.
        None if env_proxy => proxy_client(ProxyConfig::from_env()),
        None => crate::aws::http_client(),
    };
    let mut b = aws_sdk_xray::config::Builder::from(cfg)
        .http_client(http)
        // One retry layer: the queue's `retry_on_failure` retries calls.
        .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
        .timeout_config(
            aws_smithy_types::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(s.attempt_timeout)
                .build(),
        );
    if let Some(e) = &s.endpoint {
        b = b.endpoint_url(e);
    }
    Ok(aws_sdk_xray::Client::from_conf(b.build()))
}

/// An SDK HTTP client that goes through a proxy (rustls with ring).
fn proxy_client(
    config: aws_smithy_http_client::proxy::ProxyConfig,
) -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::{tls, Connector};
    aws_smithy_http_client::Builder::new().build_with_connector_fn(move |settings, _components| {
        let mut b = Connector::builder().proxy_config(config.clone());
        if let Some(s) = settings {
            b = b.connector_settings(s.clone());
        }
        b.tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build()
    })
}

/// How `PutTraceSegments` answers are classified: the shared rules (408, 429
/// and 5xx retryable), and any status above 599 retryable too.
pub const STATUS_POLICY: StatusPolicy =
    StatusPolicy::with_override(|status, _| (status >= 600).then_some(StatusClass::Retryable));

/// Throttling, 5xx, timeouts and connection failures are retryable; other
/// client errors are permanent.
fn classify(
    e: &SdkError<PutTraceSegmentsError, aws_smithy_runtime_api::http::Response>,
) -> (ExportError, Option<Duration>) {
    let message = format!("PutTraceSegments failed: {}", DisplayErrorContext(e));
    match e {
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            let retry_after = se
                .raw()
                .headers()
                .get("retry-after")
                .and_then(crate::http::parse_retry_after);
            let retryable = se.err().is_throttled_exception()
                || STATUS_POLICY.classify(status, &[]) == StatusClass::Retryable;
            let message = format!("{message} (HTTP {status})");
            if retryable {
                (
                    ExportError::Retryable {
                        message,
                        retry_after,
                    },
                    retry_after,
                )
            } else {
                (ExportError::permanent(message), None)
            }
        }
        SdkError::ConstructionFailure(_) => (ExportError::permanent(message), None),
        _ => (ExportError::retryable(message), None),
    }
}

/// Datagrams to an X-Ray daemon (no AWS credentials needed).
pub struct UdpBackend {
    address: String,
    socket: OnceCell<(tokio::net::UdpSocket, SocketAddr)>,
}

impl UdpBackend {
    pub fn new(address: String) -> Self {
        UdpBackend {
            address,
            socket: OnceCell::new(),
        }
    }

    async fn socket(&self) -> std::io::Result<&(tokio::net::UdpSocket, SocketAddr)> {
        self.socket
            .get_or_try_init(|| async {
                let target = tokio::net::lookup_host(&self.address)
                    .await?
                    .next()
                    .ok_or_else(|| {
                        std::io::Error::new(
                            std::io::ErrorKind::NotFound,
                            format!("{} does not resolve", self.address),
                        )
                    })?;
                let bind: SocketAddr = if target.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                };
                Ok((tokio::net::UdpSocket::bind(bind).await?, target))
            })
            .await
    }

    async fn send(&self, req: &XrayRequest, pending: &[u32]) -> Attempt {
        let mut attempt = Attempt::default();
        let (socket, target) = match self.socket().await {
            Ok(s) => s,
            Err(e) => {
                attempt.retry = pending.to_vec();
                attempt.retry_error = Some(format!("X-Ray daemon {}: {e}", self.address));
                return attempt;
            }
        };
        let mut buf = Vec::with_capacity(4096);
        for &d in pending {
            buf.clear();
            buf.extend_from_slice(DAEMON_HEADER);
            buf.extend_from_slice(req.docs[d as usize].json.as_bytes());
            if let Err(e) = socket.send_to(&buf, target).await {
                attempt.retry.push(d);
                attempt.retry_error = Some(format!("sending to X-Ray daemon {target}: {e}"));
            }
        }
        attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exporter::awsxray::translate::TranslateOptions;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use std::sync::Mutex;

    fn spans(n: usize) -> ExportTraceServiceRequest {
        let spans = (0..n)
            .map(|i| Span {
                trace_id: vec![1; 16],
                span_id: ((i as u64) + 1).to_be_bytes().to_vec(),
                name: format!("s{i}"),
                kind: 2,
                ..Default::default()
            })
            .collect();
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn sdk_config(endpoint: &str) -> (ApiSettings, aws_config::SdkConfig) {
        let cfg = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::for_tests(),
                ),
            )
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let settings = ApiSettings {
            aws: AwsOptions::default(),
            endpoint: Some(endpoint.to_string()),
            proxy: None,
            workers: 3,
            attempt_timeout: Duration::from_secs(5),
        };
        (settings, cfg)
    }

    /// A fake X-Ray API: records document counts per call, answers with the
    /// given status and, optionally, every document ID as unprocessed.
    async fn fake_xray(
        statuses: Vec<u16>,
        unprocessed_rounds: usize,
    ) -> (String, std::sync::Arc<Mutex<Vec<usize>>>) {
        use http_body_util::BodyExt;
        let calls = std::sync::Arc::new(Mutex::new(Vec::new()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let rec = calls.clone();
        let statuses = std::sync::Arc::new(Mutex::new(statuses));
        let unprocessed = std::sync::Arc::new(Mutex::new(unprocessed_rounds));
        tokio::spawn(async move {
            loop {
                let (sock, _) = listener.accept().await.unwrap();
                let rec = rec.clone();
                let statuses = statuses.clone();
                let unprocessed = unprocessed.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let rec = rec.clone();
                            let statuses = statuses.clone();
                            let unprocessed = unprocessed.clone();
                            async move {
                                let body = req.into_body().collect().await.unwrap().to_bytes();
                                let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                                let docs = v["TraceSegmentDocuments"].as_array().unwrap().clone();
                                rec.lock().unwrap().push(docs.len());
                                let status = {
                                    let mut s = statuses.lock().unwrap();
                                    if s.is_empty() {
                                        200
                                    } else {
                                        s.remove(0)
                                    }
                                };
                                let mut answer =
                                    serde_json::json!({"UnprocessedTraceSegments": []});
                                if status == 200 {
                                    let mut u = unprocessed.lock().unwrap();
                                    if *u > 0 {
                                        *u -= 1;
                                        let list: Vec<serde_json::Value> = docs.iter().map(|d| {
                                        let doc: serde_json::Value = serde_json::from_str(d.as_str().unwrap()).unwrap();
                                        serde_json::json!({"Id": doc["id"], "ErrorCode": "7", "Message": "nope"})
                                    }).collect();
                                        answer =
                                            serde_json::json!({"UnprocessedTraceSegments": list});
                                    }
                                } else {
                                    answer = serde_json::json!({"__type": if status == 429 {"ThrottledException"} else {"InvalidRequestException"}, "message": "x"});
                                }
                                Ok::<_, std::convert::Infallible>(
                                    hyper::Response::builder()
                                        .status(status)
                                        .header("content-type", "application/json")
                                        .body(http_body_util::Full::new(bytes::Bytes::from(
                                            answer.to_string(),
                                        )))
                                        .unwrap(),
                                )
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(sock), svc)
                        .await;
                });
            }
        });
        (format!("http://{addr}"), calls)
    }

    fn sender(endpoint: &str) -> XraySender {
        let (settings, cfg) = sdk_config(endpoint);
        XraySender {
            id: "awsxray".into(),
            translator: Translator::new(TranslateOptions::default()),
            backend: Backend::Api(ApiBackend::ready(settings, &cfg).unwrap()),
        }
    }

    #[test]
    fn status_policy_retries_408_429_and_above_499() {
        for (status, want) in [
            (400, StatusClass::Permanent),
            (403, StatusClass::Permanent),
            (408, StatusClass::Retryable),
            (429, StatusClass::Retryable),
            (500, StatusClass::Retryable),
            (503, StatusClass::Retryable),
            (600, StatusClass::Retryable),
        ] {
            assert_eq!(STATUS_POLICY.classify(status, &[]), want, "status {status}");
        }
    }

    #[tokio::test]
    async fn at_most_50_documents_per_call() {
        let (url, calls) = fake_xray(vec![], 0).await;
        let s = sender(&url);
        let mut req = encode_request("t", &s.translator, &spans(123));
        assert_eq!(req.documents().len(), 123);
        s.send(&mut req).await.unwrap();
        let mut seen = calls.lock().unwrap().clone();
        seen.sort_unstable();
        assert_eq!(seen, vec![23, 50, 50]);
        assert_eq!(s.failed_items(&req), 0);
        assert!(req.pending().is_empty());
    }

    #[tokio::test]
    async fn throttling_is_retryable_and_resends_only_what_failed() {
        // 3 calls: the first answered 429 (one chunk), the others 200.
        let (url, calls) = fake_xray(vec![429], 0).await;
        let s = sender(&url);
        let mut req = encode_request("t", &s.translator, &spans(120));
        let err = s.send(&mut req).await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
        let left = req.pending().len();
        assert!(left == 50 || left == 20, "one chunk left: {left}");
        s.send(&mut req).await.unwrap();
        let total: usize = calls.lock().unwrap().iter().sum();
        assert_eq!(total, 120 + left);
        assert_eq!(s.failed_items(&req), 0);
    }

    #[tokio::test]
    async fn the_sdk_does_not_retry_on_its_own() {
        // Every call answered 503 / throttled: one call per send, the queue's
        // retry loop decides when to call again.
        let (url, calls) = fake_xray(vec![503, 429, 503], 0).await;
        let s = sender(&url);
        let mut req = encode_request("t", &s.translator, &spans(10));
        assert!(s.send(&mut req).await.unwrap_err().is_retryable());
        assert_eq!(*calls.lock().unwrap(), vec![10]);
        assert!(s.send(&mut req).await.unwrap_err().is_retryable());
        assert_eq!(*calls.lock().unwrap(), vec![10, 10]);
        assert_eq!(req.pending().len(), 10);
    }

    #[tokio::test]
    async fn bad_request_is_permanent_for_that_chunk() {
        let (url, _calls) = fake_xray(vec![400], 0).await;
        let s = sender(&url);
        let mut req = encode_request("t", &s.translator, &spans(10));
        s.send(&mut req).await.unwrap();
        assert_eq!(s.failed_items(&req), 10);
    }

    #[tokio::test]
    async fn unprocessed_segments_are_retried_once_then_failed() {
        // First two answers report every document unprocessed.
        let (url, calls) = fake_xray(vec![], 2).await;
        let s = sender(&url);
        let mut req = encode_request("t", &s.translator, &spans(5));
        assert!(s.send(&mut req).await.unwrap_err().is_retryable());
        assert_eq!(req.pending().len(), 5);
        s.send(&mut req).await.unwrap();
        assert_eq!(s.failed_items(&req), 5);
        assert_eq!(*calls.lock().unwrap(), vec![5, 5]);
        // Retried once and then accepted: nothing failed.
        let (url, _) = fake_xray(vec![], 1).await;
        let s = sender(&url);
        let mut req = encode_request("t", &s.translator, &spans(5));
        assert!(s.send(&mut req).await.is_err());
        s.send(&mut req).await.unwrap();
        assert_eq!(s.failed_items(&req), 0);
    }

    #[tokio::test]
    async fn oversized_and_invalid_spans_are_counted_at_encode() {
        let mut r = spans(3);
        r.resource_spans[0].scope_spans[0].spans[0].trace_id = vec![1; 3];
        r.resource_spans[0].scope_spans[0].spans[1].attributes.push(
            opentelemetry_proto::tonic::common::v1::KeyValue {
                key: "k".into(),
                value: Some(opentelemetry_proto::tonic::common::v1::AnyValue {
                    value: Some(
                        opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(
                            "x".repeat(70_000),
                        ),
                    ),
                }),
                ..Default::default()
            },
        );
        let t = Translator::new(TranslateOptions {
            index_all_attributes: true,
            ..Default::default()
        });
        let req = encode_request("t", &t, &r);
        assert_eq!(req.documents().len(), 1);
        assert_eq!(req.failed_spans(), 2);
    }

    #[tokio::test]
    async fn udp_datagrams_carry_the_daemon_header() {
        let listener = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let s = XraySender {
            id: "x".into(),
            translator: Translator::new(TranslateOptions::default()),
            backend: Backend::Udp(UdpBackend::new(addr.to_string())),
        };
        let mut req = encode_request("t", &s.translator, &spans(3));
        s.send(&mut req).await.unwrap();
        let mut buf = vec![0u8; 70_000];
        for _ in 0..3 {
            let n = listener.recv(&mut buf).await.unwrap();
            let text = std::str::from_utf8(&buf[..n]).unwrap();
            let (header, doc) = text.split_once('\n').unwrap();
            assert_eq!(header, r#"{"format": "json", "version": 1}"#);
            let v: serde_json::Value = serde_json::from_str(doc).unwrap();
            assert_eq!(v["trace_id"], "1-01010101-010101010101010101010101");
        }
    }
}
