//! OTLP trace load generator and benchmark helpers.
//!
//! * `loadgen [run] --protocol http|grpc ...` sends pre-encoded trace export
//!   requests for a fixed time and prints one JSON line of results.
//! * `loadgen ready --port P [--health-url U] --exec CMD...` spawns CMD
//!   repeatedly and measures exec-to-ready time.
//! * `loadgen wait`, `loadgen rss` are small helpers for `bench/run.sh`.
//! * `loadgen measure --pid P --sink-url U ...` runs the load while sampling
//!   the collector's RSS and CPU, then waits for the sink to drain.
//! * `loadgen report FILE` renders the JSON lines of a run as markdown.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context as _, Result};
use bytes::{BufMut, Bytes};
use clap::{Args, Parser, Subcommand, ValueEnum};
use http::uri::PathAndQuery;
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tern_bench::{gen, procfs};
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Endpoint;

/// Share of one core used by other processes above which a run is flagged.
const DISTURBED_SHARE: f64 = 0.05;

const TRACE_EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

#[derive(Parser, Debug)]
#[command(
    about = "OTLP trace load generator and benchmark helpers",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Send load for a fixed duration and print a JSON result line (default).
    Run(LoadArgs),
    /// Spawn a command repeatedly and measure exec-to-ready time.
    Ready(ReadyArgs),
    /// Wait until something already running is ready.
    Wait(WaitArgs),
    /// Print the VmRSS of a process as a JSON line.
    Rss(RssArgs),
    /// Run load against a collector while measuring it, then wait for drain.
    Measure(MeasureArgs),
    /// Render a JSON-lines result file as a markdown report.
    Report(ReportArgs),
    /// Wait until the machine is idle (other work would disturb results).
    Quiet(QuietArgs),
}

#[derive(Args, Debug)]
struct QuietArgs {
    /// Idle means at most this share of all cores busy over one second.
    #[arg(long, default_value_t = 5.0)]
    max_busy_pct: f64,
    /// Give up (with a warning, exit 0) after this many seconds.
    #[arg(long, default_value_t = 60.0)]
    timeout: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum Protocol {
    Http,
    Grpc,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum Compression {
    None,
    Gzip,
}

#[derive(Args, Debug, Clone)]
struct LoadArgs {
    /// OTLP transport.
    #[arg(long, value_enum, default_value_t = Protocol::Http)]
    protocol: Protocol,
    /// Target URL; default http://127.0.0.1:4318 (http, `/v1/traces` is
    /// appended when the URL has no path) or http://127.0.0.1:4317 (grpc).
    #[arg(long)]
    endpoint: Option<String>,
    /// Concurrent in-flight requests, each on its own connection.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// How long to send, in seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Cap on the offered load, in spans per second.
    #[arg(long)]
    rate: Option<f64>,
    /// Spans per request.
    #[arg(long, default_value_t = 100)]
    spans_per_request: usize,
    /// Number of distinct pre-encoded request bodies to rotate through.
    #[arg(long, default_value_t = 16)]
    bodies: usize,
    /// Request body compression.
    #[arg(long, value_enum, default_value_t = Compression::None)]
    compression: Compression,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// PRNG seed for ids and attribute choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Tokio worker threads; 0 runs everything on the main thread.
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

#[derive(Args, Debug)]
struct ReadinessArgs {
    /// TCP port that must accept a connection on 127.0.0.1.
    #[arg(long, default_value_t = 4318)]
    port: u16,
    /// Optional URL that must answer `GET` with 200 as well.
    #[arg(long)]
    health_url: Option<String>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 20.0)]
    timeout: f64,
}

#[derive(Args, Debug)]
struct ReadyArgs {
    #[command(flatten)]
    readiness: ReadinessArgs,
    /// Number of measured start/stop cycles.
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// Unmeasured cycles first (warm page cache and loader).
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Label copied into the JSON output.
    #[arg(long, default_value = "")]
    label: String,
    /// File that receives the child's stdout and stderr (appended).
    #[arg(long)]
    log: Option<PathBuf>,
    /// Start the command pinned to this CPU core (inherited affinity, no
    /// extra exec); this poller keeps its own affinity.
    #[arg(long)]
    core: Option<usize>,
    /// Command to spawn, with its arguments (must come last).
    #[arg(long, required = true, num_args = 1.., allow_hyphen_values = true)]
    exec: Vec<String>,
}

#[derive(Args, Debug)]
struct WaitArgs {
    #[command(flatten)]
    readiness: ReadinessArgs,
    /// Fail early if this process exits.
    #[arg(long)]
    pid: Option<u32>,
}

#[derive(Args, Debug)]
struct RssArgs {
    #[arg(long)]
    pid: u32,
    #[arg(long, default_value = "")]
    label: String,
}

#[derive(Args, Debug)]
struct MeasureArgs {
    #[command(flatten)]
    load: LoadArgs,
    /// Process under test (CPU and RSS are sampled from /proc).
    #[arg(long)]
    pid: u32,
    /// Base URL of the counting sink (`/count` is appended).
    #[arg(long, default_value = "http://127.0.0.1:14318")]
    sink_url: String,
    /// Sink process, to report its CPU use.
    #[arg(long)]
    sink_pid: Option<u32>,
    /// Label copied into the JSON output.
    #[arg(long, default_value = "")]
    label: String,
    /// Declare the drain finished when the sink count has not moved for
    /// this many seconds (only used when spans are missing).
    #[arg(long, default_value_t = 7.0)]
    settle: f64,
    /// Upper bound on the drain wait, seconds.
    #[arg(long, default_value_t = 60.0)]
    drain_timeout: f64,
}

#[derive(Args, Debug)]
struct ReportArgs {
    /// JSON-lines file written by run.sh.
    file: PathBuf,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        None => run_load_cmd(cli.load),
        Some(Cmd::Run(a)) => run_load_cmd(a),
        Some(Cmd::Ready(a)) => ready_cmd(a),
        Some(Cmd::Wait(a)) => wait_cmd(a),
        Some(Cmd::Rss(a)) => {
            let rss = procfs::rss_kib(a.pid)?;
            println!(
                "{}",
                json!({"type": "idle", "label": a.label, "pid": a.pid, "rss_kib": rss})
            );
            Ok(())
        }
        Some(Cmd::Measure(a)) => {
            let rt = runtime(a.load.threads)?;
            let out = rt.block_on(measure(a))?;
            println!("{out}");
            Ok(())
        }
        Some(Cmd::Quiet(a)) => quiet_cmd(a),
        Some(Cmd::Report(a)) => {
            print!("{}", report(&a.file)?);
            Ok(())
        }
    }
}

fn runtime(threads: usize) -> Result<tokio::runtime::Runtime> {
    let rt = if threads == 0 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?
    };
    Ok(rt)
}

fn run_load_cmd(args: LoadArgs) -> Result<()> {
    let rt = runtime(args.threads)?;
    let result = rt.block_on(run_load(&args))?;
    println!("{}", serde_json::to_string(&result)?);
    Ok(())
}

// ---------------------------------------------------------------------------
// Load generation
// ---------------------------------------------------------------------------

#[derive(Serialize, Debug, Clone)]
struct LoadResult {
    protocol: Protocol,
    endpoint: String,
    connections: usize,
    compression: Compression,
    spans_per_request: usize,
    body_bytes_avg: usize,
    elapsed_s: f64,
    requests_ok: u64,
    spans_ok: u64,
    rejected_spans: u64,
    refused: u64,
    errors: u64,
    spans_per_sec: f64,
    requests_per_sec: f64,
    latency_p50_ms: f64,
    latency_p99_ms: f64,
    latency_max_ms: f64,
    first_error: Option<String>,
}

struct Shared {
    bodies: Vec<Bytes>,
    spans_per_body: u64,
    start: Instant,
    deadline: Instant,
    /// Seconds between request starts when a rate cap is set.
    interval: Option<f64>,
    ticket: AtomicU64,
    timeout: Duration,
    requests_ok: AtomicU64,
    spans_ok: AtomicU64,
    rejected_spans: AtomicU64,
    refused: AtomicU64,
    errors: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Shared {
    /// Waits for the next send slot; `None` once the run is over.
    async fn next_slot(&self) -> Option<()> {
        if let Some(interval) = self.interval {
            let n = self.ticket.fetch_add(1, Relaxed);
            let at = self.start + Duration::from_secs_f64(interval * n as f64);
            if at >= self.deadline {
                return None;
            }
            tokio::time::sleep_until(at.into()).await;
            Some(())
        } else if Instant::now() >= self.deadline {
            None
        } else {
            Some(())
        }
    }

    fn ok(&self, rejected: u64) {
        let rejected = rejected.min(self.spans_per_body);
        self.requests_ok.fetch_add(1, Relaxed);
        self.spans_ok
            .fetch_add(self.spans_per_body - rejected, Relaxed);
        self.rejected_spans.fetch_add(rejected, Relaxed);
    }

    fn error(&self, msg: String) {
        self.errors.fetch_add(1, Relaxed);
        if let Ok(mut first) = self.first_error.lock() {
            if first.is_none() {
                *first = Some(msg);
            }
        }
    }

    fn body(&self, n: usize) -> Bytes {
        self.bodies[n % self.bodies.len()].clone()
    }
}

/// Exponential back-off after a refusal, reset by a success.
struct Backoff(Duration);

impl Backoff {
    const MIN: Duration = Duration::from_millis(5);
    const MAX: Duration = Duration::from_millis(200);

    fn new() -> Self {
        Backoff(Self::MIN)
    }

    async fn wait(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(Self::MAX);
    }

    fn reset(&mut self) {
        self.0 = Self::MIN;
    }
}

fn now_unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn gzip(data: &[u8]) -> Result<Bytes> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data)?;
    Ok(Bytes::from(enc.finish()?))
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[idx.min(sorted.len() - 1)]) / 1000.0
}

fn default_endpoint(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Http => "http://127.0.0.1:4318",
        Protocol::Grpc => "http://127.0.0.1:4317",
    }
}

async fn run_load(args: &LoadArgs) -> Result<LoadResult> {
    if args.connections == 0 {
        bail!("--connections must be at least 1");
    }
    if args.duration.is_nan() || args.duration <= 0.0 {
        bail!("--duration must be positive");
    }
    let endpoint = args
        .endpoint
        .clone()
        .unwrap_or_else(|| default_endpoint(args.protocol).to_string());
    let plain = gen::encoded_bodies(
        args.bodies,
        args.spans_per_request,
        args.seed,
        now_unix_nanos(),
    );
    let body_bytes_avg = plain.iter().map(Bytes::len).sum::<usize>() / plain.len().max(1);
    // gRPC compression is done per message by tonic; HTTP bodies are
    // compressed once up front.
    let bodies = if args.protocol == Protocol::Http && args.compression == Compression::Gzip {
        plain.iter().map(|b| gzip(b)).collect::<Result<Vec<_>>>()?
    } else {
        plain
    };
    let interval = match args.rate {
        Some(r) if r > 0.0 => Some(args.spans_per_request as f64 / r),
        Some(_) => bail!("--rate must be positive"),
        None => None,
    };
    let start = Instant::now();
    let shared = Arc::new(Shared {
        bodies,
        spans_per_body: args.spans_per_request as u64,
        start,
        deadline: start + Duration::from_secs_f64(args.duration),
        interval,
        ticket: AtomicU64::new(0),
        timeout: Duration::from_secs_f64(args.timeout.max(0.001)),
        requests_ok: AtomicU64::new(0),
        spans_ok: AtomicU64::new(0),
        rejected_spans: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        first_error: Mutex::new(None),
    });

    let mut tasks = Vec::with_capacity(args.connections);
    match args.protocol {
        Protocol::Http => {
            let target = HttpTarget::parse(&endpoint, args.compression)?;
            for id in 0..args.connections {
                tasks.push(tokio::spawn(http_worker(
                    shared.clone(),
                    target.clone(),
                    id,
                )));
            }
        }
        Protocol::Grpc => {
            let ep = Endpoint::from_shared(endpoint.clone())
                .context("bad gRPC endpoint")?
                .tcp_nodelay(true)
                .connect_timeout(Duration::from_secs(2))
                .initial_stream_window_size(4 << 20)
                .initial_connection_window_size(8 << 20);
            for id in 0..args.connections {
                tasks.push(tokio::spawn(grpc_worker(
                    shared.clone(),
                    ep.clone(),
                    args.compression,
                    id,
                )));
            }
        }
    }
    let mut latencies: Vec<u32> = Vec::new();
    for t in tasks {
        latencies.extend(t.await.context("worker panicked")?);
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let spans_ok = shared.spans_ok.load(Relaxed);
    let requests_ok = shared.requests_ok.load(Relaxed);
    let first_error = shared.first_error.lock().ok().and_then(|g| g.clone());
    Ok(LoadResult {
        protocol: args.protocol,
        endpoint,
        connections: args.connections,
        compression: args.compression,
        spans_per_request: args.spans_per_request,
        body_bytes_avg,
        elapsed_s: elapsed,
        requests_ok,
        spans_ok,
        rejected_spans: shared.rejected_spans.load(Relaxed),
        refused: shared.refused.load(Relaxed),
        errors: shared.errors.load(Relaxed),
        spans_per_sec: spans_ok as f64 / elapsed,
        requests_per_sec: requests_ok as f64 / elapsed,
        latency_p50_ms: percentile(&latencies, 0.50),
        latency_p99_ms: percentile(&latencies, 0.99),
        latency_max_ms: latencies.last().map_or(0.0, |&l| f64::from(l) / 1000.0),
        first_error,
    })
}

#[derive(Clone)]
struct HttpTarget {
    addr: String,
    authority: String,
    path: String,
    gzip: bool,
}

impl HttpTarget {
    fn parse(endpoint: &str, compression: Compression) -> Result<Self> {
        let uri: Uri = endpoint.parse().context("bad --endpoint")?;
        if uri.scheme_str() != Some("http") {
            bail!("only http:// endpoints are supported");
        }
        let authority = uri
            .authority()
            .ok_or_else(|| anyhow!("endpoint needs host:port"))?
            .clone();
        let port = authority.port_u16().unwrap_or(80);
        let path = match uri.path() {
            "" | "/" => "/v1/traces".to_string(),
            p => p.to_string(),
        };
        Ok(HttpTarget {
            addr: format!("{}:{port}", authority.host()),
            authority: authority.to_string(),
            path,
            gzip: compression == Compression::Gzip,
        })
    }
}

type HttpSender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn http_connect(addr: &str) -> Result<HttpSender> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

enum Outcome {
    Ok(u64),
    Refused,
    Failed(String),
    /// Transport failure: the connection must be re-established.
    Broken(String),
}

async fn http_send(sender: &mut HttpSender, target: &HttpTarget, body: Bytes) -> Outcome {
    let mut builder = Request::post(target.path.as_str())
        .header(http::header::HOST, target.authority.as_str())
        .header(http::header::CONTENT_TYPE, "application/x-protobuf");
    if target.gzip {
        builder = builder.header(http::header::CONTENT_ENCODING, "gzip");
    }
    let req = match builder.body(Full::new(body)) {
        Ok(r) => r,
        Err(e) => return Outcome::Failed(format!("building request: {e}")),
    };
    if let Err(e) = sender.ready().await {
        return Outcome::Broken(format!("connection closed: {e}"));
    }
    let resp = match sender.send_request(req).await {
        Ok(r) => r,
        Err(e) => return Outcome::Broken(format!("sending request: {e}")),
    };
    let status = resp.status();
    let body = match resp.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return Outcome::Broken(format!("reading response: {e}")),
    };
    if status.is_success() {
        // An empty body is a valid (empty) ExportTraceServiceResponse.
        match ExportTraceServiceResponse::decode(body.as_ref()) {
            Ok(r) => Outcome::Ok(rejected_spans(&r)),
            Err(_) => Outcome::Ok(0),
        }
    } else if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
        Outcome::Refused
    } else {
        let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        Outcome::Failed(format!("HTTP {status}: {}", text.trim()))
    }
}

fn rejected_spans(r: &ExportTraceServiceResponse) -> u64 {
    r.partial_success
        .as_ref()
        .map_or(0, |p| u64::try_from(p.rejected_spans).unwrap_or(0))
}

/// Records the outcome of one request; returns false when the connection
/// has to be dropped.
async fn settle_outcome(
    sh: &Shared,
    outcome: Result<Outcome, tokio::time::error::Elapsed>,
    t0: Instant,
    latencies: &mut Vec<u32>,
    backoff: &mut Backoff,
) -> bool {
    match outcome {
        Ok(Outcome::Ok(rejected)) => {
            latencies.push(u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX));
            sh.ok(rejected);
            backoff.reset();
            true
        }
        Ok(Outcome::Refused) => {
            sh.refused.fetch_add(1, Relaxed);
            backoff.wait().await;
            true
        }
        Ok(Outcome::Failed(msg)) => {
            sh.error(msg);
            tokio::time::sleep(Duration::from_millis(10)).await;
            true
        }
        Ok(Outcome::Broken(msg)) => {
            sh.error(msg);
            tokio::time::sleep(Duration::from_millis(10)).await;
            false
        }
        Err(_) => {
            sh.error(format!("request timed out after {:?}", sh.timeout));
            false
        }
    }
}

async fn http_worker(sh: Arc<Shared>, target: HttpTarget, id: usize) -> Vec<u32> {
    let mut latencies = Vec::new();
    let mut sender: Option<HttpSender> = None;
    let mut backoff = Backoff::new();
    let mut n = id;
    while sh.next_slot().await.is_some() {
        let s = match sender.as_mut() {
            Some(s) => s,
            None => match http_connect(&target.addr).await {
                Ok(s) => sender.insert(s),
                Err(e) => {
                    sh.error(format!("{e:#}"));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let body = sh.body(n);
        n += 1;
        let t0 = Instant::now();
        let outcome = tokio::time::timeout(sh.timeout, http_send(s, &target, body)).await;
        if !settle_outcome(&sh, outcome, t0, &mut latencies, &mut backoff).await {
            sender = None;
        }
    }
    latencies
}

/// gRPC codec that sends pre-encoded bytes and decodes the export response.
#[derive(Clone, Copy, Default)]
struct RawCodec;

struct RawEncoder;
struct ResponseDecoder;

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for ResponseDecoder {
    type Item = ExportTraceServiceResponse;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut DecodeBuf<'_>,
    ) -> Result<Option<ExportTraceServiceResponse>, tonic::Status> {
        ExportTraceServiceResponse::decode(src)
            .map(Some)
            .map_err(|e| tonic::Status::internal(format!("bad response: {e}")))
    }
}

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = ExportTraceServiceResponse;
    type Encoder = RawEncoder;
    type Decoder = ResponseDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> ResponseDecoder {
        ResponseDecoder
    }
}

async fn grpc_send(
    client: &mut tonic::client::Grpc<tonic::transport::Channel>,
    body: Bytes,
) -> Outcome {
    if let Err(e) = client.ready().await {
        return Outcome::Broken(format!("gRPC channel not ready: {e}"));
    }
    let path = PathAndQuery::from_static(TRACE_EXPORT_PATH);
    match client
        .unary(tonic::Request::new(body), path, RawCodec)
        .await
    {
        Ok(resp) => Outcome::Ok(rejected_spans(resp.get_ref())),
        Err(status) => {
            use std::error::Error;
            // Statuses synthesised from transport failures carry a source.
            let transport = status.source().is_some();
            match status.code() {
                tonic::Code::Unavailable | tonic::Code::ResourceExhausted if !transport => {
                    Outcome::Refused
                }
                code => {
                    let msg = format!("gRPC {code:?}: {}", status.message());
                    if transport {
                        Outcome::Broken(msg)
                    } else {
                        Outcome::Failed(msg)
                    }
                }
            }
        }
    }
}

async fn grpc_worker(
    sh: Arc<Shared>,
    endpoint: Endpoint,
    compression: Compression,
    id: usize,
) -> Vec<u32> {
    let mut latencies = Vec::new();
    let mut client: Option<tonic::client::Grpc<tonic::transport::Channel>> = None;
    let mut backoff = Backoff::new();
    let mut n = id;
    while sh.next_slot().await.is_some() {
        let c = match client.as_mut() {
            Some(c) => c,
            None => match endpoint.connect().await {
                Ok(ch) => {
                    let mut g = tonic::client::Grpc::new(ch)
                        .max_decoding_message_size(16 << 20)
                        .max_encoding_message_size(64 << 20);
                    if compression == Compression::Gzip {
                        g = g.send_compressed(CompressionEncoding::Gzip);
                    }
                    client.insert(g)
                }
                Err(e) => {
                    sh.error(format!("gRPC connect: {e}"));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let body = sh.body(n);
        n += 1;
        let t0 = Instant::now();
        let outcome = tokio::time::timeout(sh.timeout, grpc_send(c, body)).await;
        if !settle_outcome(&sh, outcome, t0, &mut latencies, &mut backoff).await {
            client = None;
        }
    }
    latencies
}

// ---------------------------------------------------------------------------
// Readiness
// ---------------------------------------------------------------------------

/// Polls readiness with blocking sockets (cheap and precise).
struct ReadyProbe {
    port_addr: SocketAddr,
    health: Option<(SocketAddr, String, String)>,
    port_ok: bool,
}

impl ReadyProbe {
    fn new(args: &ReadinessArgs) -> Result<Self> {
        let port_addr = SocketAddr::from(([127, 0, 0, 1], args.port));
        let health = match &args.health_url {
            None => None,
            Some(url) => {
                let uri: Uri = url.parse().context("bad --health-url")?;
                let auth = uri
                    .authority()
                    .ok_or_else(|| anyhow!("--health-url needs host:port"))?;
                let addr = format!("{}:{}", auth.host(), auth.port_u16().unwrap_or(80))
                    .to_socket_addrs()?
                    .next()
                    .ok_or_else(|| anyhow!("cannot resolve {url}"))?;
                let path = uri
                    .path_and_query()
                    .map_or("/".to_string(), |p| p.to_string());
                Some((addr, auth.to_string(), path))
            }
        };
        Ok(ReadyProbe {
            port_addr,
            health,
            port_ok: false,
        })
    }

    fn reset(&mut self) {
        self.port_ok = false;
    }

    fn poll(&mut self) -> bool {
        if !self.port_ok {
            self.port_ok =
                TcpStream::connect_timeout(&self.port_addr, Duration::from_millis(100)).is_ok();
            if !self.port_ok {
                return false;
            }
        }
        match &self.health {
            None => true,
            Some((addr, host, path)) => health_ok(addr, host, path),
        }
    }

    /// True when neither the port nor the health endpoint accepts
    /// connections (the previous instance is gone).
    fn all_closed(&self) -> bool {
        let t = Duration::from_millis(100);
        TcpStream::connect_timeout(&self.port_addr, t).is_err()
            && self
                .health
                .as_ref()
                .is_none_or(|(a, _, _)| TcpStream::connect_timeout(a, t).is_err())
    }
}

fn health_ok(addr: &SocketAddr, host: &str, path: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = TcpStream::connect_timeout(addr, Duration::from_millis(100)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let _ = s.set_nodelay(true);
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    let mut got = 0;
    while got < 12 {
        match s.read(&mut buf[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    // "HTTP/1.1 200 OK"
    got >= 12 && buf.starts_with(b"HTTP/1.") && &buf[8..12] == b" 200"
}

const POLL_SLEEP: Duration = Duration::from_micros(200);

fn terminate(child: &mut Child) -> Result<()> {
    let pid = child.id().to_string();
    let _ = Command::new("kill")
        .args(["-TERM", &pid])
        .stderr(Stdio::null())
        .status();
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!("ready: pid {pid} ignored SIGTERM for 10 s, killing");
    child.kill()?;
    child.wait()?;
    Ok(())
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => 0.0,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// Spawns `command`; with `core`, the child starts with only that core in
/// its affinity mask: the mask of this thread is switched around the spawn
/// (a new process inherits the mask of the thread that forked it).
fn spawn_on_core(command: &mut Command, core: Option<usize>) -> Result<Child> {
    use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
    use nix::unistd::Pid;
    let Some(core) = core else {
        return Ok(command.spawn()?);
    };
    let me = Pid::from_raw(0);
    let saved = sched_getaffinity(me).context("sched_getaffinity")?;
    let mut only = CpuSet::new();
    only.set(core).context("bad --core")?;
    sched_setaffinity(me, &only).with_context(|| format!("pinning to core {core}"))?;
    let spawned = command.spawn();
    sched_setaffinity(me, &saved).context("restoring affinity")?;
    Ok(spawned?)
}

fn ready_cmd(args: ReadyArgs) -> Result<()> {
    let mut probe = ReadyProbe::new(&args.readiness)?;
    let timeout = Duration::from_secs_f64(args.readiness.timeout);
    let (program, rest) = args
        .exec
        .split_first()
        .ok_or_else(|| anyhow!("--exec needs a command"))?;
    let mut samples = Vec::with_capacity(args.runs);
    for run in 0..args.runs.max(1) + args.warmup {
        let wait_closed = Instant::now() + Duration::from_secs(10);
        while !probe.all_closed() {
            if Instant::now() > wait_closed {
                bail!("port {} still in use before run {run}", args.readiness.port);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        probe.reset();
        let (out, err) = match &args.log {
            Some(p) => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .with_context(|| format!("opening {}", p.display()))?;
                (Stdio::from(f.try_clone()?), Stdio::from(f))
            }
            None => (Stdio::null(), Stdio::null()),
        };
        let mut command = Command::new(program);
        command
            .args(rest)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let t0 = Instant::now();
        let mut child = spawn_on_core(&mut command, args.core)
            .with_context(|| format!("spawning {program}"))?;
        let ready_at = loop {
            if probe.poll() {
                break t0.elapsed();
            }
            if let Some(status) = child.try_wait()? {
                bail!("{program} exited before becoming ready ({status})");
            }
            if t0.elapsed() > timeout {
                terminate(&mut child)?;
                bail!("{program} not ready after {timeout:?}");
            }
            std::thread::sleep(POLL_SLEEP);
        };
        terminate(&mut child)?;
        if run >= args.warmup {
            samples.push(ready_at.as_secs_f64() * 1000.0);
        }
    }
    let min = samples.iter().copied().fold(f64::INFINITY, f64::min);
    let max = samples.iter().copied().fold(0.0, f64::max);
    println!(
        "{}",
        json!({
            "type": "ready",
            "label": args.label,
            "runs_ms": samples.iter().map(|v| (v * 1000.0).round() / 1000.0).collect::<Vec<_>>(),
            "median_ms": median(&samples),
            "min_ms": min,
            "max_ms": max,
        })
    );
    Ok(())
}

fn wait_cmd(args: WaitArgs) -> Result<()> {
    let mut probe = ReadyProbe::new(&args.readiness)?;
    let t0 = Instant::now();
    let timeout = Duration::from_secs_f64(args.readiness.timeout);
    loop {
        if probe.poll() {
            println!("{:.3}", t0.elapsed().as_secs_f64() * 1000.0);
            return Ok(());
        }
        if let Some(pid) = args.pid {
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                bail!("process {pid} exited before becoming ready");
            }
        }
        if t0.elapsed() > timeout {
            bail!("not ready after {timeout:?}");
        }
        std::thread::sleep(POLL_SLEEP);
    }
}

fn quiet_cmd(a: QuietArgs) -> Result<()> {
    let t0 = Instant::now();
    let mut warned = false;
    loop {
        let s0 = procfs::system_cpu_times()?;
        std::thread::sleep(Duration::from_secs(1));
        let s1 = procfs::system_cpu_times()?;
        let busy_pct = match (s0.first(), s1.first()) {
            (Some(x), Some(y)) => {
                let total = y.total.saturating_sub(x.total).max(1) as f64;
                y.busy.saturating_sub(x.busy) as f64 * 100.0 / total
            }
            _ => 0.0,
        };
        if busy_pct <= a.max_busy_pct {
            println!("{busy_pct:.1}");
            return Ok(());
        }
        if t0.elapsed().as_secs_f64() > a.timeout {
            eprintln!(
                "WARNING: machine still {busy_pct:.0}% busy after {:.0} s; measuring anyway, results may be disturbed",
                a.timeout
            );
            println!("{busy_pct:.1}");
            return Ok(());
        }
        if !warned {
            eprintln!(
                "machine is {busy_pct:.0}% busy (other processes); waiting for it to go idle"
            );
            warned = true;
        }
    }
}

// ---------------------------------------------------------------------------
// Measurement
// ---------------------------------------------------------------------------

#[derive(Deserialize, Debug, Clone, Copy, Default)]
struct SinkCount {
    spans: u64,
    #[serde(default)]
    requests: u64,
}

async fn sink_count(base: &str) -> Result<SinkCount> {
    let uri: Uri = format!("{}/count", base.trim_end_matches('/'))
        .parse()
        .context("bad --sink-url")?;
    let auth = uri
        .authority()
        .ok_or_else(|| anyhow!("--sink-url needs host:port"))?
        .clone();
    let addr = format!("{}:{}", auth.host(), auth.port_u16().unwrap_or(80));
    let stream = tokio::net::TcpStream::connect(&addr)
        .await
        .with_context(|| format!("connecting to sink at {addr}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = Request::get(uri.path())
        .header(http::header::HOST, auth.as_str())
        .body(Full::new(Bytes::new()))?;
    let resp = sender.send_request(req).await?;
    if !resp.status().is_success() {
        bail!("sink /count answered {}", resp.status());
    }
    let body = resp.into_body().collect().await?.to_bytes();
    Ok(serde_json::from_slice(&body)?)
}

/// Samples VmRSS every 100 ms on its own thread, keeping the peak.
struct RssSampler {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<u64>,
}

impl RssSampler {
    fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut peak = 0u64;
            while !flag.load(Relaxed) {
                if let Ok(rss) = procfs::rss_kib(pid) {
                    peak = peak.max(rss);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            if let Ok(rss) = procfs::rss_kib(pid) {
                peak = peak.max(rss);
            }
            peak
        });
        RssSampler { stop, handle }
    }

    fn finish(self) -> u64 {
        self.stop.store(true, Relaxed);
        self.handle.join().unwrap_or(0)
    }
}

async fn measure(a: MeasureArgs) -> Result<Value> {
    let hz = procfs::clock_ticks_per_sec() as f64;
    let self_pid = std::process::id();
    let before = sink_count(&a.sink_url).await?;
    let cpu0 = procfs::cpu_ticks(a.pid)?;
    let sink_cpu0 = a.sink_pid.map(procfs::cpu_ticks).transpose()?;
    let self_cpu0 = procfs::cpu_ticks(self_pid)?;
    let sys0 = procfs::system_cpu_times()?;
    let sampler = RssSampler::start(a.pid);
    let t_start = Instant::now();

    let load = run_load(&a.load).await?;
    let t_load_end = Instant::now();

    // Drain: wait until the sink has everything that was accepted, or until
    // its count stops moving.
    let expected = before.spans + load.spans_ok;
    let mut last = sink_count(&a.sink_url).await?;
    let mut t_last_change = Instant::now();
    let drain_deadline = t_load_end + Duration::from_secs_f64(a.drain_timeout);
    let settle = Duration::from_secs_f64(a.settle);
    while last.spans < expected {
        if Instant::now() > drain_deadline || t_last_change.elapsed() > settle {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = sink_count(&a.sink_url).await?;
        if now.spans != last.spans {
            t_last_change = Instant::now();
        }
        last = now;
    }
    // Catch duplicates arriving after the expected count was reached.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = sink_count(&a.sink_url).await?;
    if after.spans != last.spans {
        t_last_change = Instant::now();
    }
    let peak_rss = sampler.finish();
    let cpu1 = procfs::cpu_ticks(a.pid)?;
    let sink_cpu1 = a.sink_pid.map(procfs::cpu_ticks).transpose()?;
    let self_cpu1 = procfs::cpu_ticks(self_pid)?;
    let sys1 = procfs::system_cpu_times()?;

    let delivered = after.spans - before.spans;
    let lost = load.spans_ok as i64 - delivered as i64;
    let deliver_window = t_last_change
        .max(t_load_end)
        .duration_since(t_start)
        .as_secs_f64();
    let cpu_s = (cpu1 - cpu0) as f64 / hz;
    let wall = t_start.elapsed().as_secs_f64();
    // Busy share of each core over the run, and CPU time used by anything
    // other than the collector, the sink and this process (interference).
    let core_busy: Vec<f64> = sys0
        .iter()
        .zip(&sys1)
        .skip(1)
        .map(|(a, b)| {
            let total = b.total.saturating_sub(a.total).max(1) as f64;
            (b.busy.saturating_sub(a.busy) as f64 / total * 1000.0).round() / 10.0
        })
        .collect();
    let ours = (cpu1 - cpu0)
        + (self_cpu1 - self_cpu0)
        + match (sink_cpu0, sink_cpu1) {
            (Some(x), Some(y)) if a.sink_pid != Some(a.pid) => y - x,
            _ => 0,
        };
    // Interrupt time is excluded: it is mostly the loopback traffic of
    // this very benchmark, which the kernel charges to no process.
    let (machine_busy, irq) = match (sys0.first(), sys1.first()) {
        (Some(x), Some(y)) => (
            (y.busy - y.irq).saturating_sub(x.busy - x.irq),
            y.irq.saturating_sub(x.irq),
        ),
        _ => (0, 0),
    };
    let other_cpu_s = machine_busy.saturating_sub(ours) as f64 / hz;
    let irq_cpu_s = irq as f64 / hz;
    if other_cpu_s > DISTURBED_SHARE * wall {
        eprintln!(
            "WARNING: other processes used {other_cpu_s:.2} CPU-s during this {wall:.1} s run; results are disturbed"
        );
    }
    eprintln!(
        "{} {:?}: accepted {} spans ({:.0}/s), delivered {} ({:.0}/s), lost {lost}, refused {}, errors {}, CPU {cpu_s:.2} s, peak RSS {:.1} MiB{}",
        a.label,
        load.protocol,
        load.spans_ok,
        load.spans_per_sec,
        delivered,
        delivered as f64 / deliver_window,
        load.refused,
        load.errors,
        peak_rss as f64 / 1024.0,
        if lost != 0 { "  <<<<< SPANS LOST" } else { "" },
    );
    Ok(json!({
        "type": "load",
        "label": a.label,
        "load": load,
        "sink_requests": after.requests - before.requests,
        "delivered_spans": delivered,
        "lost_spans": lost,
        "delivered_per_sec": delivered as f64 / deliver_window,
        "drain_ms": t_last_change.saturating_duration_since(t_load_end).as_secs_f64() * 1000.0,
        "cpu_s": cpu_s,
        "cpu_s_per_million_spans": if load.spans_ok > 0 { cpu_s * 1e6 / load.spans_ok as f64 } else { 0.0 },
        "peak_rss_kib": peak_rss,
        "sink_cpu_s": match (sink_cpu0, sink_cpu1) {
            (Some(x), Some(y)) => Some((y - x) as f64 / hz),
            _ => None,
        },
        "loadgen_cpu_s": (self_cpu1 - self_cpu0) as f64 / hz,
        "wall_s": wall,
        "core_busy_pct": core_busy,
        "other_cpu_s": other_cpu_s,
        "irq_cpu_s": irq_cpu_s,
    }))
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

fn f(v: &Value, path: &[&str]) -> Option<f64> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_f64()
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn fmt_num(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(x) if x.is_finite() => {
            if digits == 0 {
                group_thousands(x.round() as i64)
            } else {
                format!("{x:.digits$}")
            }
        }
        _ => "–".to_string(),
    }
}

fn group_thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

struct Row {
    label: String,
    protocol: String,
    accepted: Option<f64>,
    delivered: Option<f64>,
    cpu_per_m: Option<f64>,
    peak_mib: Option<f64>,
    idle_mib: Option<f64>,
    ready_ms: Option<f64>,
    lost: Option<f64>,
    disturbed: bool,
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => Some(a / b),
        _ => None,
    }
}

fn report(path: &PathBuf) -> Result<String> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(l)
            .with_context(|| format!("{}:{}: not JSON", path.display(), i + 1))?;
        lines.push(v);
    }
    let of_type = |t: &'static str| lines.iter().filter(move |v| s(v, "type") == t);
    let ready_of = |label: &str| {
        of_type("ready")
            .find(|v| s(v, "label") == label)
            .and_then(|v| f(v, &["median_ms"]))
    };
    let idle_of = |label: &str| {
        of_type("idle")
            .find(|v| s(v, "label") == label)
            .and_then(|v| f(v, &["rss_kib"]))
            .map(|k| k / 1024.0)
    };

    let mut rows: Vec<Row> = Vec::new();
    for v in of_type("load") {
        let label = s(v, "label").to_string();
        rows.push(Row {
            protocol: v
                .get("load")
                .map(|l| s(l, "protocol").to_string())
                .unwrap_or_default(),
            accepted: f(v, &["load", "spans_per_sec"]),
            delivered: f(v, &["delivered_per_sec"]),
            cpu_per_m: f(v, &["cpu_s_per_million_spans"]),
            peak_mib: f(v, &["peak_rss_kib"]).map(|k| k / 1024.0),
            idle_mib: idle_of(&label),
            ready_ms: ready_of(&label),
            lost: f(v, &["lost_spans"]),
            disturbed: match (f(v, &["other_cpu_s"]), f(v, &["wall_s"])) {
                (Some(o), Some(w)) => o > DISTURBED_SHARE * w,
                _ => false,
            },
            label,
        });
    }

    let mut out = String::new();
    out.push_str("# Tern benchmark\n\n");
    for m in of_type("meta") {
        if let Some(obj) = m.as_object() {
            for (k, val) in obj {
                if k == "type" {
                    continue;
                }
                let shown = match val {
                    Value::String(x) => x.clone(),
                    other => other.to_string(),
                };
                out.push_str(&format!("- {k}: {shown}\n"));
            }
        }
    }
    out.push('\n');
    out.push_str("| collector | protocol | spans/s accepted | spans/s delivered | CPU-s per M spans | peak RSS MiB | idle RSS MiB | start-to-ready ms | lost spans |\n");
    out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
    let fmt_row = |r: &Row| {
        format!(
            "| {}{} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.label,
            if r.disturbed { " ⚠" } else { "" },
            r.protocol,
            fmt_num(r.accepted, 0),
            fmt_num(r.delivered, 0),
            fmt_num(r.cpu_per_m, 2),
            fmt_num(r.peak_mib, 1),
            fmt_num(r.idle_mib, 1),
            fmt_num(r.ready_ms, 1),
            match r.lost {
                Some(l) if l != 0.0 => format!("**{}**", fmt_num(Some(l), 0)),
                other => fmt_num(other, 0),
            },
        )
    };
    for r in &rows {
        out.push_str(&fmt_row(r));
    }
    // tern/rotel ratios per protocol.
    for proto in ["http", "grpc"] {
        let find = |label: &str| {
            rows.iter()
                .find(|r| r.label == label && r.protocol == proto)
        };
        if let (Some(t), Some(r)) = (find("tern"), find("rotel")) {
            out.push_str(&format!(
                "| *tern/rotel* | {proto} | {} | {} | {} | {} | {} | {} | |\n",
                fmt_num(ratio(t.accepted, r.accepted), 2),
                fmt_num(ratio(t.delivered, r.delivered), 2),
                fmt_num(ratio(t.cpu_per_m, r.cpu_per_m), 2),
                fmt_num(ratio(t.peak_mib, r.peak_mib), 2),
                fmt_num(ratio(t.idle_mib, r.idle_mib), 2),
                fmt_num(ratio(t.ready_ms, r.ready_ms), 2),
            ));
        }
    }

    out.push_str("\n## Details\n\n");
    out.push_str("| collector | protocol | requests ok | refused | errors | p50 ms | p99 ms | drain ms | collector CPU s | sink CPU s | loadgen CPU s | other CPU s | irq CPU s | core busy % | wall s | first error |\n");
    out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|\n");
    for v in of_type("load") {
        let load = v.get("load").cloned().unwrap_or(Value::Null);
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            s(v, "label"),
            s(&load, "protocol"),
            fmt_num(f(&load, &["requests_ok"]), 0),
            fmt_num(f(&load, &["refused"]), 0),
            fmt_num(f(&load, &["errors"]), 0),
            fmt_num(f(&load, &["latency_p50_ms"]), 2),
            fmt_num(f(&load, &["latency_p99_ms"]), 2),
            fmt_num(f(v, &["drain_ms"]), 0),
            fmt_num(f(v, &["cpu_s"]), 2),
            fmt_num(f(v, &["sink_cpu_s"]), 2),
            fmt_num(f(v, &["loadgen_cpu_s"]), 2),
            fmt_num(f(v, &["other_cpu_s"]), 2),
            fmt_num(f(v, &["irq_cpu_s"]), 2),
            v.get("core_busy_pct")
                .and_then(Value::as_array)
                .map(|a| a
                    .iter()
                    .map(|x| fmt_num(x.as_f64(), 0))
                    .collect::<Vec<_>>()
                    .join(" / "))
                .unwrap_or_default(),
            fmt_num(f(v, &["wall_s"]), 1),
            s(&load, "first_error").replace('|', "/"),
        ));
    }
    for v in of_type("ready") {
        out.push_str(&format!(
            "\nstart-to-ready samples for {} (ms): {}\n",
            s(v, "label"),
            v.get("runs_ms").map(Value::to_string).unwrap_or_default()
        ));
    }

    if rows.iter().any(|r| r.disturbed) {
        out.push_str(
            "\n⚠ = other processes used more than 5% of a core during that run (see *other CPU s*); its numbers are disturbed.\n",
        );
    }
    let lossy: Vec<&Row> = rows
        .iter()
        .filter(|r| r.lost.is_some_and(|l| l != 0.0))
        .collect();
    if lossy.is_empty() {
        out.push_str("\nZero-loss check: PASS (every accepted span reached the sink).\n");
    } else {
        out.push_str("\n**ZERO-LOSS CHECK FAILED**\n\n");
        for r in lossy {
            out.push_str(&format!(
                "- **{} {}: {} spans accepted but not delivered** (negative = duplicates)\n",
                r.label,
                r.protocol,
                fmt_num(r.lost, 0)
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_percentile() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(percentile(&[1000, 2000, 3000], 0.5), 2.0);
        assert_eq!(group_thousands(1234567), "1,234,567");
        assert_eq!(group_thousands(-1000), "-1,000");
        assert_eq!(group_thousands(999), "999");
    }

    #[test]
    fn http_target_defaults_path() -> Result<()> {
        let t = HttpTarget::parse("http://127.0.0.1:4318", Compression::None)?;
        assert_eq!(t.path, "/v1/traces");
        assert_eq!(t.addr, "127.0.0.1:4318");
        let t = HttpTarget::parse("http://127.0.0.1:9/custom", Compression::Gzip)?;
        assert_eq!(t.path, "/custom");
        assert!(t.gzip);
        Ok(())
    }

    #[test]
    fn spawn_on_core_pins_only_the_child() -> Result<()> {
        use nix::sched::sched_getaffinity;
        use nix::unistd::Pid;
        let before = sched_getaffinity(Pid::from_raw(0))?;
        let mut cmd = Command::new("grep");
        cmd.args(["Cpus_allowed_list", "/proc/self/status"])
            .stdout(Stdio::piped());
        let out = spawn_on_core(&mut cmd, Some(0))?.wait_with_output()?;
        let text = String::from_utf8(out.stdout)?;
        assert_eq!(text.split_whitespace().last(), Some("0"), "{text}");
        assert_eq!(sched_getaffinity(Pid::from_raw(0))?, before);
        Ok(())
    }

    #[test]
    fn cli_parses_ready_exec_with_flags() -> Result<()> {
        let cli = Cli::try_parse_from([
            "loadgen", "ready", "--runs", "3", "--exec", "taskset", "-c", "0", "tern", "--config",
            "x.yaml",
        ])?;
        match cli.cmd {
            Some(Cmd::Ready(r)) => {
                assert_eq!(r.runs, 3);
                assert_eq!(r.exec, ["taskset", "-c", "0", "tern", "--config", "x.yaml"]);
            }
            other => bail!("unexpected {other:?}"),
        }
        let cli = Cli::try_parse_from(["loadgen", "--protocol", "grpc", "--duration", "1"])?;
        assert!(cli.cmd.is_none());
        assert_eq!(cli.load.protocol, Protocol::Grpc);
        Ok(())
    }
}
