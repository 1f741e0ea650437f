//! OTLP/HTTP: `POST /v1/traces|metrics|logs`, protobuf or JSON, optionally gzip
//! or zstd compressed, answered with the statuses the upstream receiver uses.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Body;
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

/// The error type a request body may have.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The receiver's routes: path to signal, method, media type, encoding, body
/// limit and status mapping. Serves any [`Body`], so it runs without a socket.
pub(super) struct Router {
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
    let routes = Arc::new(Router::new(cfg, sinks));
    tracing::info!(receiver = %id, endpoint = %cfg.endpoint, "Starting HTTP server.");
    let handler: net::Handler = Arc::new(move |req| {
        let routes = routes.clone();
        Box::pin(async move { routes.handle(req).await })
    });
    Ok(net::serve(listener, tls, handler, SHUTDOWN_GRACE))
}

impl Router {
    pub(super) fn new(cfg: &HttpConfig, sinks: Sinks) -> Router {
        Router {
            traces: HttpConfig::normalized(&cfg.traces_url_path),
            metrics: HttpConfig::normalized(&cfg.metrics_url_path),
            logs: HttpConfig::normalized(&cfg.logs_url_path),
            limit: usize::try_from(cfg.max_request_body_size).unwrap_or(usize::MAX),
            sinks,
        }
    }

    /// Answers one request.
    pub(super) async fn handle<B>(&self, req: Request<B>) -> HttpResponse
    where
        B: Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
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

    async fn signal<S: Signal, B>(&self, req: Request<B>, sink: Option<&Sink<S>>) -> HttpResponse
    where
        B: Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
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
        match sink.consume(batch).await {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full, StreamBody};
    use hyper::body::Frame;
    use hyper::{header, Request};
    use prost::Message;

    use super::super::config::HttpConfig;
    use super::super::{RpcStatus, Sinks};
    use super::Router;
    use crate::compression::{compress, Encoding};
    use crate::otlp::Traces;
    use crate::receiver::accounting::testing::{channel_consumer, spans, spans_request};
    use crate::receiver::accounting::AccountedConsumer;
    use crate::telemetry::metrics::Registry;

    const LIMIT: u64 = 1024;
    const PROTO: &str = "application/x-protobuf";
    const JSON: &str = "application/json";

    /// State of the receiver's traces pipeline.
    #[derive(Clone, Copy, Debug)]
    enum Pipeline {
        /// Room for one more batch.
        Open,
        /// Its channel is full: admission times out.
        Full,
        /// The pipeline task is gone.
        Stopped,
    }

    struct Case {
        name: &'static str,
        method: &'static str,
        path: &'static str,
        content_type: Option<&'static str>,
        encoding: Option<&'static str>,
        body: Vec<u8>,
        /// Send a `Content-Length` header.
        length: bool,
        pipeline: Pipeline,
        status: u16,
        response_type: &'static str,
        retry_after: Option<&'static str>,
        /// google.rpc.Status code of a protobuf error body.
        grpc_code: Option<i32>,
    }

    impl Case {
        fn post(name: &'static str, content_type: &'static str, body: Vec<u8>) -> Case {
            Case {
                name,
                method: "POST",
                path: "/v1/traces",
                content_type: Some(content_type),
                encoding: None,
                body,
                length: true,
                pipeline: Pipeline::Open,
                status: 200,
                response_type: content_type,
                retry_after: None,
                grpc_code: None,
            }
        }
        fn answers(mut self, status: u16, response_type: &'static str) -> Case {
            self.status = status;
            self.response_type = response_type;
            self
        }
    }

    fn gzip(b: &[u8]) -> Vec<u8> {
        compress(Encoding::Gzip, &[Bytes::copy_from_slice(b)], None).unwrap()
    }

    fn zstd(b: &[u8]) -> Vec<u8> {
        compress(Encoding::Zstd, &[Bytes::copy_from_slice(b)], None).unwrap()
    }

    fn cases() -> Vec<Case> {
        let one_span = spans_request(1);
        let json_span =
            br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"a"}]}]}]}"#.to_vec();
        let big = spans_request(2000);
        assert!(big.len() as u64 > LIMIT);
        let text = "text/plain";
        let text_utf8 = "text/plain; charset=utf-8";
        vec![
            Case::post("protobuf accepted", PROTO, one_span.clone()),
            Case::post("json accepted", JSON, json_span.clone()),
            Case::post(
                "media type parameters and case ignored",
                "Application/JSON; charset=utf-8",
                json_span.clone(),
            )
            .answers(200, JSON),
            Case {
                encoding: Some("gzip"),
                ..Case::post("gzip body", PROTO, gzip(&one_span))
            },
            Case {
                encoding: Some("zstd"),
                ..Case::post("zstd body", JSON, zstd(&json_span))
            },
            Case {
                method: "GET",
                ..Case::post("wrong method", PROTO, Vec::new()).answers(405, text)
            },
            Case {
                method: "PUT",
                path: "/v1/logs",
                ..Case::post("wrong method, other signal", JSON, Vec::new()).answers(405, text)
            },
            Case {
                path: "/v1/unknown",
                ..Case::post("unknown path", PROTO, one_span.clone()).answers(404, text_utf8)
            },
            Case {
                path: "/v1/metrics",
                ..Case::post("signal without a pipeline", PROTO, Vec::new()).answers(404, text_utf8)
            },
            Case::post("unsupported media type", "text/plain", one_span.clone()).answers(415, text),
            Case {
                content_type: None,
                ..Case::post("no media type", PROTO, one_span.clone()).answers(415, text)
            },
            Case {
                encoding: Some("br"),
                grpc_code: Some(3),
                ..Case::post("unsupported encoding", PROTO, one_span.clone()).answers(400, PROTO)
            },
            Case {
                grpc_code: Some(3),
                ..Case::post("too large by Content-Length", PROTO, big.clone()).answers(413, PROTO)
            },
            Case {
                length: false,
                grpc_code: Some(3),
                ..Case::post("too large while reading", PROTO, big.clone()).answers(413, PROTO)
            },
            Case {
                encoding: Some("gzip"),
                grpc_code: Some(3),
                ..Case::post("too large once decompressed", PROTO, gzip(&big)).answers(413, PROTO)
            },
            Case {
                encoding: Some("gzip"),
                grpc_code: Some(3),
                ..Case::post("corrupt gzip", PROTO, b"not gzip".to_vec()).answers(400, PROTO)
            },
            Case {
                grpc_code: Some(3),
                ..Case::post("malformed protobuf", PROTO, vec![0x0a, 0xff]).answers(400, PROTO)
            },
            Case::post("malformed json", JSON, b"{\"resourceSpans\":".to_vec()).answers(400, JSON),
            Case {
                pipeline: Pipeline::Full,
                retry_after: Some("1"),
                grpc_code: Some(14),
                ..Case::post("full pipeline", PROTO, one_span.clone()).answers(503, PROTO)
            },
            Case {
                pipeline: Pipeline::Full,
                retry_after: Some("1"),
                ..Case::post("full pipeline, json", JSON, json_span.clone()).answers(503, JSON)
            },
            Case {
                pipeline: Pipeline::Stopped,
                retry_after: Some("1"),
                grpc_code: Some(14),
                ..Case::post("stopped pipeline", PROTO, one_span.clone()).answers(503, PROTO)
            },
            Case {
                pipeline: Pipeline::Full,
                ..Case::post(
                    "empty request never reaches the pipeline",
                    PROTO,
                    Vec::new(),
                )
            },
        ]
    }

    /// A router whose receiver feeds one traces pipeline in the given state.
    fn router(
        pipeline: Pipeline,
        reg: &Registry,
    ) -> (
        Router,
        Option<tokio::sync::mpsc::Receiver<crate::pipeline::Batch<Traces>>>,
    ) {
        let (consumer, rx) = channel_consumer::<Traces>(1);
        // A full pipeline is filled by the caller (consuming is async).
        let rx = match pipeline {
            Pipeline::Open | Pipeline::Full => Some(rx),
            Pipeline::Stopped => None,
        };
        let sinks = Sinks {
            traces: Some(Arc::new(AccountedConsumer::new(
                consumer, reg, "otlp", "http",
            ))),
            metrics: None,
            logs: None,
        };
        let cfg = HttpConfig {
            max_request_body_size: LIMIT,
            ..HttpConfig::default()
        };
        (Router::new(&cfg, sinks), rx)
    }

    #[tokio::test]
    async fn routes_requests_to_the_answers_upstream_gives() {
        for case in cases() {
            let reg = Registry::default();
            let (router, _rx) = router(case.pipeline, &reg);
            if let Pipeline::Full = case.pipeline {
                let traces = router.sinks.traces.as_ref().unwrap();
                traces.consumer.consume(spans(1)).await.unwrap();
            }
            let mut req = Request::builder().method(case.method).uri(case.path);
            if let Some(t) = case.content_type {
                req = req.header(header::CONTENT_TYPE, t);
            }
            if let Some(e) = case.encoding {
                req = req.header(header::CONTENT_ENCODING, e);
            }
            if case.length {
                req = req.header(header::CONTENT_LENGTH, case.body.len());
            }
            let resp = if case.length {
                let req = req.body(Full::new(Bytes::from(case.body))).unwrap();
                router.handle(req).await
            } else {
                // A chunked body: the limit applies while reading.
                let chunks: Vec<Result<Frame<Bytes>, std::convert::Infallible>> = case
                    .body
                    .chunks(100)
                    .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
                    .collect();
                let body = StreamBody::new(futures_util::stream::iter(chunks));
                router.handle(req.body(body).unwrap()).await
            };
            let name = case.name;
            assert_eq!(resp.status().as_u16(), case.status, "{name}");
            assert_eq!(
                resp.headers()[header::CONTENT_TYPE],
                case.response_type,
                "{name}"
            );
            assert_eq!(
                resp.headers()
                    .get(header::RETRY_AFTER)
                    .map(|v| v.to_str().unwrap()),
                case.retry_after,
                "{name}"
            );
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            if let Some(code) = case.grpc_code {
                let status = RpcStatus::decode(body.clone()).unwrap();
                assert_eq!(status.code, code, "{name}: {}", status.message);
            }
            if case.status == 200 && case.response_type == JSON {
                assert_eq!(&body[..], b"{}", "{name}");
            }
            if case.status == 200 && case.response_type == PROTO {
                assert!(body.is_empty(), "{name}");
            }
        }
    }

    #[tokio::test]
    async fn counts_accepted_and_refused_spans() {
        let reg = Registry::default();
        let (router, _rx) = router(Pipeline::Open, &reg);
        let post = |n| {
            Request::post("/v1/traces")
                .header(header::CONTENT_TYPE, PROTO)
                .body(Full::new(Bytes::from(spans_request(n))))
                .unwrap()
        };
        assert_eq!(router.handle(post(3)).await.status(), 200);
        assert_eq!(router.handle(post(2)).await.status(), 503);
        let text = reg.encode();
        assert!(text
            .contains("otelcol_receiver_accepted_spans{receiver=\"otlp\",transport=\"http\"} 3\n"));
        assert!(text
            .contains("otelcol_receiver_refused_spans{receiver=\"otlp\",transport=\"http\"} 2\n"));
    }
}
