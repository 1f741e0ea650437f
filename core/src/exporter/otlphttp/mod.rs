//! The `otlphttp` exporter (alias `otlp_http`): OTLP/HTTP protobuf to
//! `endpoint` + `/v1/{signal}` (or a per-signal URL).

use std::collections::BTreeMap;
use std::marker::PhantomData;

use bytes::Bytes;
use hyper::header;
use serde::Deserialize;
use serde_yaml_ng::Value;

use super::queue::{ExportClient, ExportError, QueuedExporter};
use super::{parse_compression, CommonSettings};
use crate::component::{
    parse_config, AnySignalExporter, BuildContext, BuildError, ComponentId, ConfigIssue,
    ExporterConfig, ExporterFactory, PersistentQueue, SignalExporter, Validate,
};
use crate::config::duration::GoDuration;
use crate::config::tls::ClientTls;
use crate::http::HttpSender;
use crate::otlp::{Signal, SignalKind};
use crate::pipeline::stage::BoxFuture;
use crate::pipeline::stage::ExportQueue;
use crate::pipeline::Batch;
use crate::telemetry::metrics::ExporterMetrics;

/// `exporters: otlphttp:`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpHttpConfig {
    /// Base URL; `/v1/traces`, `/v1/metrics`, `/v1/logs` are appended.
    pub endpoint: Option<String>,
    /// Full URL for traces, overriding `endpoint`.
    pub traces_endpoint: Option<String>,
    pub metrics_endpoint: Option<String>,
    pub logs_endpoint: Option<String>,
    /// Extra request headers.
    pub headers: BTreeMap<String, String>,
    /// `gzip` (default), `zstd`, `deflate` or `none`.
    pub compression: String,
    /// `level` for the compressor (gzip default 1: fastest, see README).
    pub compression_params: CompressionParams,
    /// Per-attempt timeout. Default 30s.
    pub timeout: GoDuration,
    pub tls: ClientTls,
    /// Only `proto` is supported.
    pub encoding: String,
    #[serde(flatten)]
    pub common: CommonSettings,
    /// Accepted for compatibility; not used.
    pub read_buffer_size: Option<Value>,
    /// Accepted for compatibility; not used.
    pub write_buffer_size: Option<Value>,
    /// Accepted for compatibility; not used.
    pub max_idle_conns: Option<Value>,
    /// Accepted for compatibility; not used.
    pub idle_conn_timeout: Option<Value>,
}

/// `compression_params:`
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CompressionParams {
    pub level: Option<i32>,
}

impl Default for OtlpHttpConfig {
    fn default() -> Self {
        OtlpHttpConfig {
            endpoint: None,
            traces_endpoint: None,
            metrics_endpoint: None,
            logs_endpoint: None,
            headers: BTreeMap::new(),
            compression: "gzip".into(),
            compression_params: CompressionParams::default(),
            timeout: GoDuration::from_secs(30),
            tls: ClientTls::default(),
            encoding: "proto".into(),
            common: CommonSettings::default(),
            read_buffer_size: None,
            write_buffer_size: None,
            max_idle_conns: None,
            idle_conn_timeout: None,
        }
    }
}

impl OtlpHttpConfig {
    /// The URL for one signal.
    pub fn url(&self, signal: SignalKind) -> Option<String> {
        let explicit = match signal {
            SignalKind::Traces => &self.traces_endpoint,
            SignalKind::Metrics => &self.metrics_endpoint,
            SignalKind::Logs => &self.logs_endpoint,
        };
        explicit.clone().or_else(|| {
            self.endpoint
                .as_ref()
                .map(|e| format!("{}{}", e.trim_end_matches('/'), signal.http_path()))
        })
    }
}

impl Validate for OtlpHttpConfig {
    fn validate(&self) -> Vec<ConfigIssue> {
        let mut v = self.common.validate();
        if SignalKind::ALL.iter().all(|s| self.url(*s).is_none()) {
            v.push(ConfigIssue::new(
                "endpoint",
                "at least one endpoint must be specified",
            ));
        }
        for s in SignalKind::ALL {
            if let Some(u) = self.url(s) {
                if !(u.starts_with("http://") || u.starts_with("https://"))
                    || u.parse::<hyper::Uri>().is_err()
                {
                    v.push(ConfigIssue::new(
                        "endpoint",
                        format!("invalid URL {u:?}: must be http:// or https://"),
                    ));
                    break;
                }
            }
        }
        if let Err(e) = parse_compression(&self.compression) {
            v.push(ConfigIssue::new("compression", e));
        }
        if self.encoding != "proto" {
            v.push(ConfigIssue::new(
                "encoding",
                format!(
                    "encoding {:?} is not supported yet (supported: proto)",
                    self.encoding
                ),
            ));
        }
        for k in self.headers.keys() {
            if header::HeaderName::from_bytes(k.as_bytes()).is_err() {
                v.push(ConfigIssue::new(
                    format!("headers::{k}"),
                    "invalid header name",
                ));
            }
        }
        v
    }
}

/// Factory of the `otlphttp` exporter.
pub struct OtlpHttpFactory;

impl AnySignalExporter for OtlpHttpConfig {
    fn start<S: Signal>(
        &self,
        ctx: &BuildContext,
        id: &ComponentId,
    ) -> Result<std::sync::Arc<dyn ExportQueue<S>>, BuildError> {
        let c = self;
        let url = c
            .url(S::KIND)
            .ok_or_else(|| BuildError::new(id, format!("no endpoint for {}", S::KIND)))?;
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| BuildError::new(id, format!("invalid URL {url:?}: {e}")))?;
        let encoding = parse_compression(&c.compression).map_err(|e| BuildError::new(id, e))?;
        let http = HttpSender::new(uri, &c.tls)
            .map_err(|e| BuildError::new(id, e))?
            .default_header(header::CONTENT_TYPE, "application/x-protobuf")
            .default_header(header::USER_AGENT, USER_AGENT)
            .configured_headers(&c.headers)
            .map_err(|e| BuildError::new(id, e))?
            .compression(encoding, c.compression_params.level);
        let sender = OtlpHttpClient::<S> {
            http,
            _s: PhantomData,
        };
        let metrics = ExporterMetrics::new(&ctx.telemetry, &id.to_string(), S::KIND);
        Ok(QueuedExporter::start(
            c.common.settings(id, c.timeout),
            sender,
            metrics,
        ))
    }
}

impl ExporterFactory for OtlpHttpFactory {
    fn type_name(&self) -> &'static str {
        "otlphttp"
    }
    fn aliases(&self) -> &'static [&'static str] {
        &["otlp_http"]
    }
    fn signals(&self) -> &'static [SignalKind] {
        &SignalKind::ALL
    }
    fn parse(
        &self,
        prefix: &str,
        raw: &Value,
    ) -> Result<Box<dyn ExporterConfig>, Vec<ConfigIssue>> {
        Ok(Box::new(parse_config::<OtlpHttpConfig>(prefix, raw)?))
    }
}

impl ExporterConfig for OtlpHttpConfig {
    fn persistent_queue(&self) -> Option<PersistentQueue> {
        crate::exporter::persistent_queue(&self.common.sending_queue)
    }
    fn build<'a>(
        &'a self,
        ctx: &'a BuildContext,
        id: &'a ComponentId,
        signal: SignalKind,
    ) -> BoxFuture<'a, Result<SignalExporter, BuildError>> {
        Box::pin(async move { SignalExporter::of(self, ctx, id, signal) })
    }
}

/// `User-Agent` of OTLP/HTTP requests.
pub const USER_AGENT: &str = concat!("Tern/", env!("CARGO_PKG_VERSION"));

/// The exporter's [`ExportClient`]: one OTLP/HTTP POST per batch.
struct OtlpHttpClient<S> {
    http: HttpSender,
    _s: PhantomData<fn() -> S>,
}

impl<S: Signal> ExportClient<S> for OtlpHttpClient<S> {
    type Request = Bytes;

    fn encode(&self, batch: Batch<S>) -> Result<Bytes, ExportError> {
        self.http
            .compress(&batch.encoded_parts())
            .map_err(|e| ExportError::permanent(format!("compression failed: {e}")))
    }

    async fn send(&self, body: &mut Bytes) -> Result<(), ExportError> {
        match self.http.send(body.clone()).await {
            Ok(_) => Ok(()),
            Err(e) => Err(ExportError::from_http(e, |status, excerpt| {
                format!(
                    "error exporting items, request to {} responded with HTTP Status Code {status}: {excerpt}",
                    self.http.uri()
                )
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    //! The exporter end to end against an in-process server: the queue's retry
    //! waits at least the `Retry-After` the backend asked for.

    use crate::otlp::Traces;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use http_body_util::{BodyExt, Full};
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    use super::*;
    use crate::compression::Encoding;
    use crate::exporter::queue::{ExporterSettings, QueueSettings, RetrySettings};
    use crate::telemetry::metrics::Registry;

    /// Answers 503 with `Retry-After: 1` first, then 200; records arrival times.
    async fn busy_once() -> (String, Arc<Mutex<Vec<Instant>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let arrivals: Arc<Mutex<Vec<Instant>>> = Arc::default();
        let a2 = arrivals.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let arrivals = a2.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let arrivals = arrivals.clone();
                        async move {
                            let _ = req.into_body().collect().await.unwrap();
                            let first = {
                                let mut a = arrivals.lock().unwrap();
                                a.push(Instant::now());
                                a.len() == 1
                            };
                            let resp = if first {
                                hyper::Response::builder()
                                    .status(503)
                                    .header(header::RETRY_AFTER, "1")
                            } else {
                                hyper::Response::builder().status(200)
                            };
                            Ok::<_, std::convert::Infallible>(
                                resp.body(Full::new(Bytes::new())).unwrap(),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        (url, arrivals)
    }

    #[tokio::test]
    async fn the_retry_waits_for_retry_after() {
        let (url, arrivals) = busy_once().await;
        let http = HttpSender::new(
            format!("{url}/v1/traces").parse().unwrap(),
            &ClientTls::default(),
        )
        .unwrap()
        .compression(Encoding::Gzip, None);
        let client = OtlpHttpClient::<Traces> {
            http,
            _s: PhantomData,
        };
        let settings = ExporterSettings {
            id: "otlphttp".into(),
            timeout: Duration::from_secs(5),
            queue: QueueSettings::default(),
            retry: RetrySettings {
                initial_interval: GoDuration::from_millis(1),
                max_interval: GoDuration::from_millis(5),
                ..Default::default()
            },
        };
        let reg = Registry::default();
        let metrics = ExporterMetrics::new(&reg, "otlphttp", SignalKind::Traces);
        let q = QueuedExporter::start(settings, client, metrics.clone());
        let batch = Batch::<Traces>::from_request(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span::default(); 3],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        });
        q.enqueue(batch).await.unwrap();
        let out = q.drain(Instant::now() + Duration::from_secs(10)).await;
        assert_eq!(out.unsent_items, 0);
        assert_eq!(metrics.sent.get(), 3);
        let a = arrivals.lock().unwrap();
        assert_eq!(a.len(), 2);
        let gap = a[1] - a[0];
        assert!(gap >= Duration::from_secs(1), "retried after {gap:?}");
    }
}
