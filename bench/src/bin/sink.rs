//! Counting OTLP sink for benchmarks.
//!
//! Serves OTLP/HTTP (`POST /v1/{traces,metrics,logs}`, protobuf, optional
//! gzip/zstd/deflate `Content-Encoding`) and OTLP/gRPC (the three `Export`
//! methods, optional `grpc-encoding`), answers success and counts spans,
//! metric data points and log records with a shallow wire scanner.
//!
//! `GET /count` returns the counters as JSON, `POST /reset` zeroes them.
//! `POST /TraceSegments` is a minimal X-Ray `PutTraceSegments` endpoint: each
//! segment document counts as a span (calls over 50 documents or with a
//! document over 64 KiB are answered 400 and counted as bad requests).
//! Both ports accept HTTP/1.1 and HTTP/2 and route by path, so either port
//! serves either protocol.

use std::convert::Infallible;
use std::io::Read;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use bytes::Bytes;
use clap::Parser;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tern_bench::wire::{count_items, Signal};
use tokio::net::TcpListener;

/// Largest request body accepted (compressed or not).
const MAX_BODY: usize = 256 << 20;

#[derive(Parser, Debug)]
#[command(about = "Counting OTLP sink (HTTP + gRPC) for benchmarks")]
struct Args {
    /// Port for OTLP/HTTP and the /count and /reset endpoints.
    #[arg(long, default_value_t = 14318)]
    http_port: u16,
    /// Port for OTLP/gRPC.
    #[arg(long, default_value_t = 14317)]
    grpc_port: u16,
    /// Address to bind (keep it on loopback).
    #[arg(long, default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// Answer every export with this HTTP status instead of success (gRPC
    /// gets the matching status code). Nothing is counted as received.
    #[arg(long)]
    fail_status: Option<u16>,
    /// Tokio worker threads; 0 runs everything on the main thread.
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

#[derive(Default)]
struct Counters {
    spans: AtomicU64,
    metric_points: AtomicU64,
    log_records: AtomicU64,
    requests: AtomicU64,
    refused: AtomicU64,
    bad_requests: AtomicU64,
    bytes_in: AtomicU64,
}

impl Counters {
    fn add(&self, signal: Signal, n: u64) {
        let c = match signal {
            Signal::Traces => &self.spans,
            Signal::Metrics => &self.metric_points,
            Signal::Logs => &self.log_records,
        };
        c.fetch_add(n, Relaxed);
    }

    fn json(&self) -> String {
        format!(
            "{{\"spans\":{},\"metric_points\":{},\"log_records\":{},\"requests\":{},\"refused\":{},\"bad_requests\":{},\"bytes_in\":{}}}",
            self.spans.load(Relaxed),
            self.metric_points.load(Relaxed),
            self.log_records.load(Relaxed),
            self.requests.load(Relaxed),
            self.refused.load(Relaxed),
            self.bad_requests.load(Relaxed),
            self.bytes_in.load(Relaxed),
        )
    }

    fn reset(&self) {
        for c in [
            &self.spans,
            &self.metric_points,
            &self.log_records,
            &self.requests,
            &self.refused,
            &self.bad_requests,
            &self.bytes_in,
        ] {
            c.store(0, Relaxed);
        }
    }
}

struct State {
    counters: Counters,
    fail_status: Option<StatusCode>,
}

/// Response body: at most one data frame, then optional trailers.
struct Reply {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl Reply {
    fn empty() -> Self {
        Reply {
            data: None,
            trailers: None,
        }
    }

    fn text(s: impl Into<Bytes>) -> Self {
        Reply {
            data: Some(s.into()),
            trailers: None,
        }
    }
}

impl Body for Reply {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if let Some(d) = this.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(d))));
        }
        if let Some(t) = this.trailers.take() {
            return Poll::Ready(Some(Ok(Frame::trailers(t))));
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}

fn response(status: StatusCode, content_type: &'static str, body: Reply) -> Response<Reply> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    r
}

fn decompress(encoding: &str, data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len().saturating_mul(6));
    match encoding {
        "gzip" | "x-gzip" => {
            flate2::read::GzDecoder::new(data)
                .read_to_end(&mut out)
                .context("gzip")?;
        }
        "deflate" => {
            flate2::read::ZlibDecoder::new(data)
                .read_to_end(&mut out)
                .context("deflate")?;
        }
        "zstd" => {
            zstd::stream::read::Decoder::new(data)
                .context("zstd")?
                .read_to_end(&mut out)
                .context("zstd")?;
        }
        other => bail!("unsupported encoding {other:?}"),
    }
    Ok(out)
}

/// Counts the items of one (possibly compressed) protobuf message.
fn count_message(signal: Signal, encoding: Option<&str>, data: &[u8]) -> Result<u64> {
    match encoding {
        None | Some("") | Some("identity") | Some("none") => Ok(count_items(signal, data)?),
        Some(enc) => {
            let plain = decompress(enc, data)?;
            Ok(count_items(signal, &plain)?)
        }
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn read_body(body: Incoming) -> Result<Bytes> {
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => bail!("reading body: {e}"),
    }
}

async fn handle_http(state: &State, signal: Signal, req: Request<Incoming>) -> Response<Reply> {
    let c = &state.counters;
    if let Some(status) = state.fail_status {
        c.refused.fetch_add(1, Relaxed);
        let mut r = response(status, "text/plain", Reply::text("refused by sink\n"));
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        return r;
    }
    let (parts, body) = req.into_parts();
    if header_str(&parts.headers, "content-type")
        .is_some_and(|ct| ct.starts_with("application/json"))
    {
        c.bad_requests.fetch_add(1, Relaxed);
        return response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "text/plain",
            Reply::text("sink only counts protobuf\n"),
        );
    }
    let result = async {
        let data = read_body(body).await?;
        c.bytes_in.fetch_add(data.len() as u64, Relaxed);
        count_message(
            signal,
            header_str(&parts.headers, "content-encoding"),
            &data,
        )
    }
    .await;
    match result {
        Ok(n) => {
            c.add(signal, n);
            c.requests.fetch_add(1, Relaxed);
            response(StatusCode::OK, "application/x-protobuf", Reply::empty())
        }
        Err(e) => {
            c.bad_requests.fetch_add(1, Relaxed);
            response(
                StatusCode::BAD_REQUEST,
                "text/plain",
                Reply::text(format!("{e:#}\n")),
            )
        }
    }
}

/// `PutTraceSegments` body: `{"TraceSegmentDocuments": ["<json>", ...]}`.
#[derive(serde::Deserialize)]
struct PutTraceSegments<'a> {
    #[serde(rename = "TraceSegmentDocuments", borrow)]
    docs: Vec<std::borrow::Cow<'a, str>>,
}

async fn handle_xray(state: &State, req: Request<Incoming>) -> Response<Reply> {
    let c = &state.counters;
    let result = async {
        let data = read_body(req.into_body()).await?;
        c.bytes_in.fetch_add(data.len() as u64, Relaxed);
        // rotel labels a plain body `Content-Encoding: gzip`: trust the bytes.
        let plain = if data.starts_with(&[0x1f, 0x8b]) {
            decompress("gzip", &data)?
        } else {
            data.to_vec()
        };
        let put: PutTraceSegments<'_> = serde_json::from_slice(&plain)?;
        if put.docs.len() > 50 {
            bail!("{} documents in one call (limit 50)", put.docs.len());
        }
        if let Some(d) = put.docs.iter().find(|d| d.len() > 64 * 1024) {
            bail!("segment document of {} bytes (limit 64 KiB)", d.len());
        }
        Ok::<u64, anyhow::Error>(put.docs.len() as u64)
    }
    .await;
    match result {
        Ok(n) => {
            c.add(Signal::Traces, n);
            c.requests.fetch_add(1, Relaxed);
            response(
                StatusCode::OK,
                "application/json",
                Reply::text("{\"UnprocessedTraceSegments\":[]}"),
            )
        }
        Err(e) => {
            c.bad_requests.fetch_add(1, Relaxed);
            response(
                StatusCode::BAD_REQUEST,
                "application/json",
                Reply::text(format!("{{\"message\":{:?}}}", format!("{e:#}"))),
            )
        }
    }
}

fn grpc_reply(code: u32, message: &str) -> Response<Reply> {
    let mut r = response(StatusCode::OK, "application/grpc", Reply::empty());
    if code == 0 {
        // One empty response message, then the status in trailers.
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from(0u32));
        *r.body_mut() = Reply {
            data: Some(Bytes::from_static(&[0, 0, 0, 0, 0])),
            trailers: Some(trailers),
        };
    } else {
        // Trailers-only response.
        r.headers_mut()
            .insert("grpc-status", HeaderValue::from(code));
        if let Ok(v) = HeaderValue::from_str(message) {
            r.headers_mut().insert("grpc-message", v);
        }
    }
    r
}

/// Counts all length-prefixed gRPC messages in `data`.
fn count_grpc_frames(signal: Signal, encoding: Option<&str>, data: &[u8]) -> Result<u64> {
    let mut pos = 0usize;
    let mut total = 0u64;
    while pos < data.len() {
        let Some(header) = data.get(pos..pos + 5) else {
            bail!("truncated gRPC frame header");
        };
        let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        let start = pos + 5;
        let Some(msg) = data.get(start..start + len) else {
            bail!("truncated gRPC message");
        };
        total += match header[0] {
            0 => count_items(signal, msg)?,
            1 => count_message(signal, encoding.or(Some("missing grpc-encoding")), msg)?,
            f => bail!("bad gRPC compression flag {f}"),
        };
        pos = start + len;
    }
    Ok(total)
}

async fn handle_grpc(state: &State, signal: Signal, req: Request<Incoming>) -> Response<Reply> {
    let c = &state.counters;
    if let Some(status) = state.fail_status {
        c.refused.fetch_add(1, Relaxed);
        let code = match status {
            StatusCode::TOO_MANY_REQUESTS => 8, // RESOURCE_EXHAUSTED
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::BAD_GATEWAY => 14, // UNAVAILABLE
            StatusCode::BAD_REQUEST => 3,       // INVALID_ARGUMENT
            _ => 13,                            // INTERNAL
        };
        return grpc_reply(code, "refused by sink");
    }
    let (parts, body) = req.into_parts();
    let result = async {
        let data = read_body(body).await?;
        c.bytes_in.fetch_add(data.len() as u64, Relaxed);
        count_grpc_frames(signal, header_str(&parts.headers, "grpc-encoding"), &data)
    }
    .await;
    match result {
        Ok(n) => {
            c.add(signal, n);
            c.requests.fetch_add(1, Relaxed);
            grpc_reply(0, "")
        }
        Err(e) => {
            c.bad_requests.fetch_add(1, Relaxed);
            grpc_reply(3, &format!("{e:#}").replace(['\r', '\n'], " "))
        }
    }
}

async fn route(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Reply>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path();
    let resp = match (method, path) {
        (Method::POST, "/v1/traces") => handle_http(&state, Signal::Traces, req).await,
        (Method::POST, "/v1/metrics") => handle_http(&state, Signal::Metrics, req).await,
        (Method::POST, "/v1/logs") => handle_http(&state, Signal::Logs, req).await,
        (Method::POST, "/opentelemetry.proto.collector.trace.v1.TraceService/Export") => {
            handle_grpc(&state, Signal::Traces, req).await
        }
        (Method::POST, "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export") => {
            handle_grpc(&state, Signal::Metrics, req).await
        }
        (Method::POST, "/opentelemetry.proto.collector.logs.v1.LogsService/Export") => {
            handle_grpc(&state, Signal::Logs, req).await
        }
        (Method::POST, "/TraceSegments") => handle_xray(&state, req).await,
        (Method::GET, "/count") => response(
            StatusCode::OK,
            "application/json",
            Reply::text(state.counters.json()),
        ),
        (Method::POST, "/reset") => {
            state.counters.reset();
            response(
                StatusCode::OK,
                "application/json",
                Reply::text(state.counters.json()),
            )
        }
        _ => response(
            StatusCode::NOT_FOUND,
            "text/plain",
            Reply::text("not found\n"),
        ),
    };
    Ok(resp)
}

async fn serve(listener: TcpListener, state: Arc<State>) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http2()
        .initial_stream_window_size(8 << 20)
        .initial_connection_window_size(16 << 20)
        .max_frame_size(1 << 20);
    let builder = Arc::new(builder);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("sink: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let builder = builder.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| route(state.clone(), req));
            // Connection errors (peer resets at shutdown) are not interesting.
            let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}

async fn run(args: Args) -> Result<()> {
    let fail_status = match args.fail_status {
        Some(code) => Some(StatusCode::from_u16(code).context("--fail-status")?),
        None => None,
    };
    let state = Arc::new(State {
        counters: Counters::default(),
        fail_status,
    });
    let http_addr = SocketAddr::new(args.bind, args.http_port);
    let grpc_addr = SocketAddr::new(args.bind, args.grpc_port);
    let http = TcpListener::bind(http_addr)
        .await
        .with_context(|| format!("binding {http_addr}"))?;
    let grpc = TcpListener::bind(grpc_addr)
        .await
        .with_context(|| format!("binding {grpc_addr}"))?;
    eprintln!("sink: OTLP/HTTP on {http_addr}, OTLP/gRPC on {grpc_addr}");
    tokio::spawn(serve(grpc, state.clone()));
    tokio::select! {
        _ = serve(http, state) => {}
        r = tokio::signal::ctrl_c() => { r.context("waiting for ctrl-c")?; }
    }
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    let rt = if args.threads == 0 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()?
    };
    rt.block_on(run(args))
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;
    use std::io::Write;

    fn body() -> Vec<u8> {
        let mut rng = tern_bench::gen::Rng::new(5);
        tern_bench::gen::trace_request(&mut rng, 37, 1).encode_to_vec()
    }

    #[test]
    fn counts_compressed_bodies() -> Result<()> {
        let plain = body();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&plain)?;
        let gz = gz.finish()?;
        let zs = zstd::stream::encode_all(&plain[..], 1)?;
        assert_eq!(count_message(Signal::Traces, None, &plain)?, 37);
        assert_eq!(count_message(Signal::Traces, Some("gzip"), &gz)?, 37);
        assert_eq!(count_message(Signal::Traces, Some("zstd"), &zs)?, 37);
        assert!(count_message(Signal::Traces, Some("br"), &gz).is_err());
        Ok(())
    }

    #[test]
    fn counts_grpc_frames() -> Result<()> {
        let plain = body();
        let mut framed = Vec::new();
        for _ in 0..2 {
            framed.push(0);
            framed.extend_from_slice(&(plain.len() as u32).to_be_bytes());
            framed.extend_from_slice(&plain);
        }
        assert_eq!(count_grpc_frames(Signal::Traces, None, &framed)?, 74);
        assert!(count_grpc_frames(Signal::Traces, None, &framed[..framed.len() - 1]).is_err());
        Ok(())
    }
}
