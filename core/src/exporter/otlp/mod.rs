//! The `otlp` exporter (alias `otlp_grpc`): OTLP over gRPC. The batch's encoded
//! bytes are sent as the message body without re-encoding.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;

use bytes::Bytes;
use prost::Message;
use serde::Deserialize;
use serde_yaml_ng::Value;
use tonic::codec::CompressionEncoding;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic::Code;

use super::queue::{ExportClient, ExportError, QueuedExporter};
use super::CommonSettings;
use crate::component::{
    parse_config, AnySignalExporter, BuildContext, BuildError, ComponentId, ConfigIssue,
    ExporterConfig, ExporterFactory, PersistentQueue, SignalExporter, Validate,
};
use crate::config::duration::GoDuration;
use crate::config::tls::ClientTls;
use crate::otlp::grpc_codec::RawCodec;
use crate::otlp::{Signal, SignalKind};
use crate::pipeline::stage::BoxFuture;
use crate::pipeline::stage::ExportQueue;
use crate::pipeline::Batch;
use crate::telemetry::metrics::ExporterMetrics;

/// `exporters: otlp:`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpGrpcConfig {
    /// `host:port`, or a URL. Without a scheme TLS is used unless `tls.insecure`.
    pub endpoint: String,
    /// `gzip` (default), `zstd` or `none`.
    pub compression: String,
    /// Extra request metadata.
    pub headers: BTreeMap<String, String>,
    /// Per-attempt timeout. Default 5s.
    pub timeout: GoDuration,
    pub tls: ClientTls,
    #[serde(flatten)]
    pub common: CommonSettings,
    /// Accepted for compatibility; not used.
    pub keepalive: Option<Value>,
    /// Accepted for compatibility; not used.
    pub balancer_name: Option<String>,
    /// Accepted for compatibility; not used.
    pub read_buffer_size: Option<Value>,
    /// Accepted for compatibility; not used.
    pub write_buffer_size: Option<Value>,
    /// Accepted for compatibility; not used.
    pub wait_for_ready: Option<bool>,
}

impl Default for OtlpGrpcConfig {
    fn default() -> Self {
        OtlpGrpcConfig {
            endpoint: String::new(),
            compression: "gzip".into(),
            headers: BTreeMap::new(),
            timeout: GoDuration::from_secs(5),
            tls: ClientTls::default(),
            common: CommonSettings::default(),
            keepalive: None,
            balancer_name: None,
            read_buffer_size: None,
            write_buffer_size: None,
            wait_for_ready: None,
        }
    }
}

impl OtlpGrpcConfig {
    /// The URI to connect to and whether TLS is used.
    fn target(&self) -> (String, bool) {
        if let Some(rest) = self.endpoint.strip_prefix("https://") {
            (format!("https://{rest}"), true)
        } else if let Some(rest) = self.endpoint.strip_prefix("http://") {
            (format!("http://{rest}"), false)
        } else if self.tls.insecure {
            (format!("http://{}", self.endpoint), false)
        } else {
            (format!("https://{}", self.endpoint), true)
        }
    }
}

impl Validate for OtlpGrpcConfig {
    fn validate(&self) -> Vec<ConfigIssue> {
        let mut v = self.common.validate();
        if self.endpoint.is_empty() {
            v.push(ConfigIssue::new(
                "endpoint",
                "requires a non-empty \"endpoint\"",
            ));
        } else if self.target().0.parse::<http::Uri>().is_err() {
            v.push(ConfigIssue::new(
                "endpoint",
                format!("invalid endpoint {:?}", self.endpoint),
            ));
        }
        if !["", "none", "gzip", "zstd"].contains(&self.compression.as_str()) {
            v.push(ConfigIssue::new(
                "compression",
                format!(
                    "unsupported compression {:?} (supported: gzip, zstd, none)",
                    self.compression
                ),
            ));
        }
        for k in self.headers.keys() {
            if MetadataKey::<tonic::metadata::Ascii>::from_bytes(k.to_ascii_lowercase().as_bytes())
                .is_err()
            {
                v.push(ConfigIssue::new(
                    format!("headers::{k}"),
                    "invalid header name",
                ));
            }
        }
        v
    }
}

/// Factory of the `otlp` exporter.
pub struct OtlpGrpcFactory;

impl AnySignalExporter for OtlpGrpcConfig {
    fn start<S: Signal>(
        &self,
        ctx: &BuildContext,
        id: &ComponentId,
    ) -> Result<Arc<dyn ExportQueue<S>>, BuildError> {
        let c = self;
        let (uri, tls) = c.target();
        let mut endpoint = Endpoint::from_shared(uri.clone())
            .map_err(|e| BuildError::new(id, format!("invalid endpoint {uri:?}: {e}")))?;
        endpoint = endpoint
            .user_agent(concat!("Tern/", env!("CARGO_PKG_VERSION")))
            .map_err(|e| BuildError::new(id, e))?;
        if tls {
            let mut t = ClientTlsConfig::new().with_webpki_roots();
            if let Some(ca) = &c.tls.ca_file {
                let pem = std::fs::read(ca)
                    .map_err(|e| BuildError::new(id, format!("cannot read {ca:?}: {e}")))?;
                t = t.ca_certificate(tonic::transport::Certificate::from_pem(pem));
            }
            if let Some(name) = &c.tls.server_name_override {
                t = t.domain_name(name.clone());
            }
            endpoint = endpoint
                .tls_config(t)
                .map_err(|e| BuildError::new(id, format!("invalid TLS settings: {e}")))?;
        }
        let channel = endpoint.connect_lazy();
        let mut metadata = MetadataMap::new();
        for (k, v) in &c.headers {
            let key = MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes())
                .map_err(|e| BuildError::new(id, e))?;
            let value = MetadataValue::try_from(v.as_str())
                .map_err(|e| BuildError::new(id, format!("header {k}: {e}")))?;
            metadata.insert(key, value);
        }
        let compression = match c.compression.as_str() {
            "gzip" => Some(CompressionEncoding::Gzip),
            "zstd" => Some(CompressionEncoding::Zstd),
            _ => None,
        };
        let sender = GrpcSender::<S> {
            channel,
            metadata,
            compression,
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

impl ExporterFactory for OtlpGrpcFactory {
    fn type_name(&self) -> &'static str {
        "otlp"
    }
    fn aliases(&self) -> &'static [&'static str] {
        &["otlp_grpc"]
    }
    fn signals(&self) -> &'static [SignalKind] {
        &SignalKind::ALL
    }
    fn parse(
        &self,
        prefix: &str,
        raw: &Value,
    ) -> Result<Box<dyn ExporterConfig>, Vec<ConfigIssue>> {
        Ok(Box::new(parse_config::<OtlpGrpcConfig>(prefix, raw)?))
    }
}

impl ExporterConfig for OtlpGrpcConfig {
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

struct GrpcSender<S> {
    channel: Channel,
    metadata: MetadataMap,
    compression: Option<CompressionEncoding>,
    _s: PhantomData<fn() -> S>,
}

/// `google.rpc.Status` with details, to find `RetryInfo`.
#[derive(Clone, PartialEq, prost::Message)]
struct StatusWithDetails {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types_any::Any>,
}

mod prost_types_any {
    /// `google.protobuf.Any`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Any {
        #[prost(string, tag = "1")]
        pub type_url: String,
        #[prost(bytes = "vec", tag = "2")]
        pub value: Vec<u8>,
    }
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, prost::Message)]
struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    retry_delay: Option<ProtoDuration>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ProtoDuration {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

fn retry_info(status: &tonic::Status) -> Option<std::time::Duration> {
    let details = status.details();
    if details.is_empty() {
        return None;
    }
    let st = StatusWithDetails::decode(details).ok()?;
    let any = st
        .details
        .iter()
        .find(|a| a.type_url.ends_with("google.rpc.RetryInfo"))?;
    let info = RetryInfo::decode(any.value.as_slice()).ok()?;
    let d = info.retry_delay?;
    Some(std::time::Duration::new(
        u64::try_from(d.seconds).ok()?,
        u32::try_from(d.nanos).unwrap_or(0),
    ))
}

/// Maps a gRPC status to retryable or permanent, as the upstream OTLP exporter does.
pub fn classify(status: &tonic::Status) -> ExportError {
    let message = format!(
        "rpc error: code = {:?} desc = {}",
        status.code(),
        status.message()
    );
    let throttle = retry_info(status);
    match status.code() {
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => ExportError::Retryable {
            message,
            retry_after: throttle,
        },
        Code::ResourceExhausted if throttle.is_some() => ExportError::Retryable {
            message,
            retry_after: throttle,
        },
        _ => ExportError::Permanent { message },
    }
}

impl<S: Signal> ExportClient<S> for GrpcSender<S> {
    type Request = Bytes;

    fn encode(&self, batch: Batch<S>) -> Result<Bytes, ExportError> {
        Ok(batch.to_bytes())
    }

    async fn send(&self, body: &mut Bytes) -> Result<(), ExportError> {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        if let Some(c) = self.compression {
            grpc = grpc.send_compressed(c);
        }
        grpc = grpc.accept_compressed(CompressionEncoding::Gzip);
        grpc.ready()
            .await
            .map_err(|e| ExportError::retryable(format!("connection failed: {e}")))?;
        let mut req = tonic::Request::new(body.clone());
        *req.metadata_mut() = self.metadata.clone();
        let path = http::uri::PathAndQuery::from_static(S::KIND.grpc_path());
        match grpc
            .unary::<Bytes, Bytes, RawCodec>(req, path, RawCodec)
            .await
        {
            Ok(_) => Ok(()),
            Err(status) => Err(classify(&status)),
        }
    }
}
