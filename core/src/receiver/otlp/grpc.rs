//! OTLP/gRPC: the three collector `Export` methods, served by tonic with a codec
//! that passes the request bytes through untouched (they are validated by the
//! OTLP scanner, not decoded).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tonic::codec::CompressionEncoding;

use crate::otlp::grpc_codec::RawCodec;
use tonic::{Request, Response, Status};

use super::config::GrpcConfig;
use super::{Sink, Sinks};
use crate::component::BuildError;
use crate::component::ComponentId;
use crate::otlp::{Logs, Metrics, Signal, SignalKind, Traces};
use crate::pipeline::{Batch, ConsumeError};

/// The running gRPC server.
pub(super) struct GrpcServer {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl GrpcServer {
    pub(super) async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(grace, self.task).await;
    }
}

pub(super) async fn start(
    id: &ComponentId,
    cfg: &GrpcConfig,
    sinks: Sinks,
) -> Result<GrpcServer, BuildError> {
    let listener = crate::net::bind(&cfg.endpoint)
        .await
        .map_err(|e| BuildError::new(id, e))?;
    let max = usize::try_from(cfg.max_recv_msg_size_mib.saturating_mul(1024 * 1024))
        .unwrap_or(usize::MAX);
    let svc = OtlpGrpc {
        sinks: Arc::new(sinks),
        max_message: if max == 0 { 4 * 1024 * 1024 } else { max },
    };
    let mut builder = tonic::transport::Server::builder();
    if cfg.max_concurrent_streams > 0 {
        builder = builder.max_concurrent_streams(cfg.max_concurrent_streams);
    }
    if let Some(tls) = &cfg.tls {
        if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
            let cert = std::fs::read(cert)
                .map_err(|e| BuildError::new(id, format!("cannot read {cert:?}: {e}")))?;
            let key = std::fs::read(key)
                .map_err(|e| BuildError::new(id, format!("cannot read {key:?}: {e}")))?;
            let identity = tonic::transport::Identity::from_pem(cert, key);
            builder = builder
                .tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))
                .map_err(|e| BuildError::new(id, format!("invalid TLS settings: {e}")))?;
        }
    }
    let ka = cfg.keepalive.clone().unwrap_or_default().server_parameters;
    use super::config::set;
    // grpc-go's defaults: ping after 2 h of silence, give up after 20 s.
    builder = builder
        .http2_keepalive_interval(Some(set(&ka.time).unwrap_or(Duration::from_secs(7200))))
        .http2_keepalive_timeout(Some(set(&ka.timeout).unwrap_or(Duration::from_secs(20))));
    if let Some(age) = set(&ka.max_connection_age) {
        builder = builder.max_connection_age(age);
    }
    if let Some(grace) = set(&ka.max_connection_age_grace) {
        builder = builder.max_connection_age_grace(grace);
    }
    // Connections are handed to tonic only once the client has sent its HTTP/2
    // preface: a silent or stalled client is dropped after the header timeout.
    let incoming = crate::net::GatedIncoming::new(
        listener,
        crate::net::HEADER_READ_TIMEOUT,
        set(&ka.max_connection_idle),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tracing::info!(receiver = %id, endpoint = %cfg.endpoint, "Starting GRPC server.");
    let name = id.to_string();
    let task = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        if let Err(e) = builder
            .serve_with_incoming_shutdown(svc, incoming, shutdown)
            .await
        {
            tracing::error!(receiver = %name, error = %e, "gRPC server failed.");
        }
    });
    Ok(GrpcServer { stop, task })
}

/// Routes the three `Export` methods.
#[derive(Clone)]
struct OtlpGrpc {
    sinks: Arc<Sinks>,
    max_message: usize,
}

type BoxResponse =
    Pin<Box<dyn Future<Output = Result<http::Response<tonic::body::Body>, Infallible>> + Send>>;

impl tower_service::Service<http::Request<tonic::body::Body>> for OtlpGrpc {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxResponse;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let sinks = self.sinks.clone();
        let max = self.max_message;
        Box::pin(async move {
            let path = req.uri().path();
            let resp = if path == SignalKind::Traces.grpc_path() {
                unary::<Traces>(sinks.traces.clone(), max, req).await
            } else if path == SignalKind::Metrics.grpc_path() {
                unary::<Metrics>(sinks.metrics.clone(), max, req).await
            } else if path == SignalKind::Logs.grpc_path() {
                unary::<Logs>(sinks.logs.clone(), max, req).await
            } else {
                Status::unimplemented(format!("unknown method {path}")).into_http()
            };
            Ok(resp)
        })
    }
}

async fn unary<S: Signal>(
    sink: Option<Arc<Sink<S>>>,
    max: usize,
    req: http::Request<tonic::body::Body>,
) -> http::Response<tonic::body::Body> {
    let Some(sink) = sink else {
        return Status::unimplemented(format!("{} are not accepted by this receiver", S::KIND))
            .into_http();
    };
    let mut grpc = tonic::server::Grpc::new(RawCodec)
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .max_decoding_message_size(max);
    let mut resp = grpc.unary(ExportHandler { sink }, req).await;
    // tonic reports a message over the size limit as OUT_OF_RANGE; grpc-go (and so
    // OTLP clients and the upstream collector) use RESOURCE_EXHAUSTED. Tern's own
    // handler never answers OUT_OF_RANGE, so the code alone identifies the case.
    let out_of_range = http::HeaderValue::from_static("11");
    if resp.headers().get("grpc-status") == Some(&out_of_range) {
        resp.headers_mut()
            .insert("grpc-status", http::HeaderValue::from_static("8"));
    }
    resp
}

struct ExportHandler<S: Signal> {
    sink: Arc<Sink<S>>,
}

impl<S: Signal> tower_service::Service<Request<Bytes>> for ExportHandler<S> {
    type Response = Response<Bytes>;
    type Error = Status;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Bytes>, Status>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Bytes>) -> Self::Future {
        let sink = self.sink.clone();
        Box::pin(async move {
            let batch = Batch::<S>::from_encoded(req.into_inner()).map_err(|e| {
                Status::invalid_argument(format!("failed to unmarshal request: {e}"))
            })?;
            match sink.consume(batch).await {
                // An empty Export*ServiceResponse encodes to zero bytes.
                Ok(()) => Ok(Response::new(Bytes::new())),
                Err(
                    e @ (ConsumeError::Full { .. }
                    | ConsumeError::Refused { .. }
                    | ConsumeError::ShuttingDown),
                ) => Err(Status::unavailable(e.to_string())),
                Err(e @ ConsumeError::Permanent(_)) => Err(Status::internal(e.to_string())),
            }
        })
    }
}
