//! The `otlphttp` exporter (alias `otlp_http`): OTLP/HTTP protobuf to
//! `endpoint` + `/v1/{signal}` (or a per-signal URL).

use std::collections::BTreeMap;
use std::marker::PhantomData;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header;
use serde::Deserialize;
use serde_yaml_ng::Value;

use super::helper::{ExportClient, ExportError, QueuedExporter};
use super::{parse_compression, CommonSettings};
use crate::component::{
    parse_config, BuildContext, BuildError, ComponentId, ConfigIssue, ExporterConfig,
    ExporterFactory, PersistentQueue, SignalExporter, Validate,
};
use crate::compression::{compress, Encoding};
use crate::config::duration::GoDuration;
use crate::config::tls::ClientTls;
use crate::otlp::{Logs, Metrics, Signal, SignalKind, Traces};
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

impl OtlpHttpConfig {
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
        let client = super::https_client(&c.tls).map_err(|e| BuildError::new(id, e))?;
        let mut headers = header::HeaderMap::new();
        for (k, v) in &c.headers {
            let name =
                header::HeaderName::from_bytes(k.as_bytes()).map_err(|e| BuildError::new(id, e))?;
            let value = header::HeaderValue::from_str(v)
                .map_err(|e| BuildError::new(id, format!("header {k}: {e}")))?;
            headers.insert(name, value);
        }
        let encoding = parse_compression(&c.compression).map_err(|e| BuildError::new(id, e))?;
        let sender = HttpSender::<S> {
            client,
            uri,
            headers,
            encoding,
            level: c.compression_params.level,
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
        Box::pin(async move {
            Ok(match signal {
                SignalKind::Traces => SignalExporter::Traces(self.start::<Traces>(ctx, id)?),
                SignalKind::Metrics => SignalExporter::Metrics(self.start::<Metrics>(ctx, id)?),
                SignalKind::Logs => SignalExporter::Logs(self.start::<Logs>(ctx, id)?),
            })
        })
    }
}

struct HttpSender<S> {
    client: super::HttpsClient,
    uri: hyper::Uri,
    headers: header::HeaderMap,
    encoding: Encoding,
    level: Option<i32>,
    _s: PhantomData<fn() -> S>,
}

/// Statuses worth retrying: 408, 429 and every 5xx.
pub fn is_retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..600).contains(&status)
}

impl<S: Signal> ExportClient<S> for HttpSender<S> {
    type Request = Bytes;

    fn encode(&self, batch: Batch<S>) -> Result<Bytes, ExportError> {
        let parts = batch.encoded_parts();
        compress(self.encoding, &parts, self.level)
            .map(Bytes::from)
            .map_err(|e| ExportError::permanent(format!("compression failed: {e}")))
    }

    async fn send(&self, body: &Bytes) -> Result<(), ExportError> {
        let mut req = hyper::Request::post(self.uri.clone())
            .header(header::CONTENT_TYPE, "application/x-protobuf")
            .header(
                header::USER_AGENT,
                concat!("Tern/", env!("CARGO_PKG_VERSION")),
            )
            .header(header::CONTENT_LENGTH, body.len());
        if self.encoding != Encoding::Identity {
            let name = match self.encoding {
                Encoding::Gzip => "gzip",
                Encoding::Zstd => "zstd",
                Encoding::Deflate => "deflate",
                Encoding::Identity => "identity",
            };
            req = req.header(header::CONTENT_ENCODING, name);
        }
        let mut req = req
            .body(Full::new(body.clone()))
            .map_err(|e| ExportError::permanent(e.to_string()))?;
        for (k, v) in &self.headers {
            req.headers_mut().insert(k.clone(), v.clone());
        }
        let resp =
            self.client.request(req).await.map_err(|e| {
                ExportError::retryable(format!("failed to make an HTTP request: {e}"))
            })?;
        let answer = crate::exporter::HttpAnswer::read(resp).await;
        if answer.is_success() {
            return Ok(());
        }
        let (status, retry_after) = (answer.status, answer.retry_after);
        let message = format!(
            "error exporting items, request to {} responded with HTTP Status Code {status}: {}",
            self.uri,
            answer.excerpt()
        );
        if is_retryable_status(status) {
            Err(ExportError::Retryable {
                message,
                retry_after,
            })
        } else {
            Err(ExportError::Permanent { message })
        }
    }
}
