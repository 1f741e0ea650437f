//! OTLP/HTTP: `POST /v1/traces|metrics|logs`, protobuf or JSON, optionally gzip
//! or zstd compressed, answered with the statuses the upstream receiver uses.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{header, Method, Request};

use super::config::HttpConfig;
use super::{code, status_proto, Sink, Sinks, SHUTDOWN_GRACE};
use crate::component::BuildError;
use crate::component::ComponentId;
use crate::compression::{decompress, DecompressError, Encoding};
use crate::net::{self, response, HttpResponse};
use crate::otlp::{json, Signal};
use crate::pipeline::{Batch, ConsumeError};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Proto,
    Json,
}

struct Routes {
    traces: String,
    metrics: String,
    logs: String,
    limit: usize,
    sinks: Sinks,
}

pub(super) async fn start(
    id: &ComponentId,
    cfg: &HttpConfig,
    sinks: Sinks,
) -> Result<net::Server, BuildError> {
    let listener = net::bind(&cfg.endpoint)
        .await
        .map_err(|e| BuildError::new(id, e))?;
    let tls = match &cfg.tls {
        Some(t) => crate::config::tls::build::server(t, &[b"h2", b"http/1.1"])
            .map_err(|e| BuildError::new(id, e))?,
        None => None,
    };
    let routes = Arc::new(Routes {
        traces: HttpConfig::normalized(&cfg.traces_url_path),
        metrics: HttpConfig::normalized(&cfg.metrics_url_path),
        logs: HttpConfig::normalized(&cfg.logs_url_path),
        limit: usize::try_from(cfg.max_request_body_size).unwrap_or(usize::MAX),
        sinks,
    });
    tracing::info!(receiver = %id, endpoint = %cfg.endpoint, "Starting HTTP server.");
    let handler: net::Handler = Arc::new(move |req| {
        let routes = routes.clone();
        Box::pin(async move { routes.handle(req).await })
    });
    Ok(net::serve(listener, tls, handler, SHUTDOWN_GRACE))
}

impl Routes {
    async fn handle(&self, req: Request<Incoming>) -> HttpResponse {
        let path = req.uri().path();
        if path == self.traces {
            self.signal(req, self.sinks.traces.as_deref()).await
        } else if path == self.metrics {
            self.signal(req, self.sinks.metrics.as_deref()).await
        } else if path == self.logs {
            self.signal(req, self.sinks.logs.as_deref()).await
        } else {
            response(404, "text/plain; charset=utf-8", "404 page not found\n")
        }
    }

    async fn signal<S: Signal>(
        &self,
        req: Request<Incoming>,
        sink: Option<&Sink<S>>,
    ) -> HttpResponse {
        if req.method() != Method::POST {
            return response(
                405,
                "text/plain",
                "405 method not allowed, supported: [POST]",
            );
        }
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let media = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let format = match media.as_str() {
            "application/x-protobuf" => Format::Proto,
            "application/json" => Format::Json,
            _ => return response(
                415,
                "text/plain",
                "415 unsupported media type, supported: [application/json, application/x-protobuf]",
            ),
        };
        let Some(sink) = sink else {
            // The receiver is not part of any pipeline of this signal.
            return response(404, "text/plain; charset=utf-8", "404 page not found\n");
        };
        let enc_header = req
            .headers()
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let Some(encoding) = Encoding::from_header(&enc_header) else {
            return error(
                format,
                400,
                code::INVALID_ARGUMENT,
                &format!("unsupported Content-Encoding {enc_header:?}"),
                None,
            );
        };
        if let Some(len) = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
        {
            if len > self.limit as u64 {
                return too_large(format, self.limit);
            }
        }
        let collected = tokio::time::timeout(
            net::BODY_READ_TIMEOUT,
            Limited::new(req.into_body(), self.limit).collect(),
        )
        .await;
        let Ok(collected) = collected else {
            return error(
                format,
                408,
                code::INVALID_ARGUMENT,
                "timed out reading the request body",
                None,
            );
        };
        let body = match collected {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    return too_large(format, self.limit);
                }
                return error(
                    format,
                    400,
                    code::INVALID_ARGUMENT,
                    &format!("failed to read request body: {e}"),
                    None,
                );
            }
        };
        let body = if encoding == Encoding::Identity {
            body
        } else {
            match decompress(encoding, &body, self.limit) {
                Ok(v) => Bytes::from(v),
                Err(DecompressError::TooLarge { .. }) => return too_large(format, self.limit),
                Err(e) => return error(format, 400, code::INVALID_ARGUMENT, &e.to_string(), None),
            }
        };
        let batch = match format {
            Format::Proto => Batch::<S>::from_encoded(body)
                .map_err(|e| format!("failed to unmarshal request: {e}")),
            Format::Json => S::decode_json(&body)
                .map(Batch::from_request)
                .map_err(|e| format!("failed to unmarshal request: {e}")),
        };
        let batch = match batch {
            Ok(b) => b,
            Err(msg) => return error(format, 400, code::INVALID_ARGUMENT, &msg, None),
        };
        match sink.accept(batch).await {
            Ok(()) => match format {
                Format::Proto => response(200, "application/x-protobuf", Bytes::new()),
                Format::Json => response(200, "application/json", Bytes::from_static(b"{}")),
            },
            Err(e @ ConsumeError::Full { retry_after }) => error(
                format,
                503,
                code::UNAVAILABLE,
                &e.to_string(),
                Some(retry_after.as_secs().max(1)),
            ),
            Err(e @ ConsumeError::Refused { retry_after, .. }) => error(
                format,
                503,
                code::UNAVAILABLE,
                &e.to_string(),
                Some(retry_after.as_secs().max(1)),
            ),
            Err(e @ ConsumeError::ShuttingDown) => {
                error(format, 503, code::UNAVAILABLE, &e.to_string(), Some(1))
            }
            Err(e @ ConsumeError::Permanent(_)) => {
                error(format, 500, code::INTERNAL, &e.to_string(), None)
            }
        }
    }
}

fn too_large(format: Format, limit: usize) -> HttpResponse {
    error(
        format,
        413,
        code::INVALID_ARGUMENT,
        &format!("request body exceeds the limit of {limit} bytes"),
        None,
    )
}

/// An error answer with a `google.rpc.Status` body in the request's encoding.
fn error(
    format: Format,
    status: u16,
    grpc_code: i32,
    message: &str,
    retry_after: Option<u64>,
) -> HttpResponse {
    let mut r = match format {
        Format::Proto => response(
            status,
            "application/x-protobuf",
            status_proto(grpc_code, message),
        ),
        Format::Json => response(
            status,
            "application/json",
            json::encode_status(grpc_code, message),
        ),
    };
    if let Some(secs) = retry_after {
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    }
    r
}
