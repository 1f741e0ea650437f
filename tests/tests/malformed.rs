//! "Bad input never hurts": replays the malformed-request corpus (`tests/corpus`, see
//! `cases.json` and `generate.py`) against the real `tern` binary over OTLP/HTTP and OTLP/gRPC,
//! then checks that the process is alive, healthy and that its memory stayed bounded; and checks
//! that slow clients (slow-loris) neither block other clients nor hold connections forever.
//!
//! The binary is `$TERN_BIN` or `<workspace>/target/debug/tern`; a missing binary fails the
//! tests (build it with `cargo build -p tern-sidecar`).
//!
//! Tests marked `#[ignore = "tern bug: ..."]` assert the correct behaviour for bugs found here;
//! run them with `cargo test -p tern-tests --test malformed -- --ignored`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// Every answer must arrive within this time (debug build, 2 shared cores).
const ANSWER_WITHIN: Duration = Duration::from_secs(5);
/// Hard timeout of one request, to report a hang instead of waiting forever.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// VmRSS bound after the compression bombs (debug build).
const RSS_BOUND_KIB: u64 = 200 * 1024;

// ---------------------------------------------------------------------------------------------
// The tern process
// ---------------------------------------------------------------------------------------------

fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn tern_bin() -> PathBuf {
    let bin = std::env::var_os("TERN_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_dir().join("target/debug/tern"));
    assert!(
        bin.is_file(),
        "tern binary not found at {} (build it with `cargo build -p tern-sidecar` or set TERN_BIN)",
        bin.display()
    );
    bin
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind an ephemeral port")
        .local_addr()
        .expect("local addr")
        .port()
}

#[derive(Clone, Copy, Debug)]
struct Ports {
    http: u16,
    grpc: u16,
    small_http: u16,
    small_grpc: u16,
    health: u16,
    metrics: u16,
}

struct Tern {
    child: Child,
    ports: Ports,
    dir: PathBuf,
}

impl Tern {
    /// Starts tern with two OTLP receivers (`otlp`: default limits, `otlp/small`: 1 MiB),
    /// batch (`batch` is its config as a YAML flow map), a debug exporter, health_check and
    /// self-metrics; waits until it is healthy.
    async fn start(name: &str, batch: &str) -> Tern {
        let bin = tern_bin();
        let ports = Ports {
            http: free_port(),
            grpc: free_port(),
            small_http: free_port(),
            small_grpc: free_port(),
            health: free_port(),
            metrics: free_port(),
        };
        let dir = std::env::temp_dir().join(format!("tern-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        let pipeline = "{receivers: [otlp, otlp/small], processors: [batch], exporters: [debug]}";
        let config = format!(
            "receivers:
  otlp:
    protocols:
      http: {{endpoint: 127.0.0.1:{http}}}
      grpc: {{endpoint: 127.0.0.1:{grpc}}}
  otlp/small:
    protocols:
      http: {{endpoint: 127.0.0.1:{small_http}, max_request_body_size: 1048576}}
      grpc: {{endpoint: 127.0.0.1:{small_grpc}, max_recv_msg_size_mib: 1}}
processors:
  batch: {batch}
exporters:
  debug: {{verbosity: basic}}
extensions:
  health_check: {{endpoint: 127.0.0.1:{health}}}
service:
  extensions: [health_check]
  telemetry:
    metrics:
      readers:
        - pull: {{exporter: {{prometheus: {{host: 127.0.0.1, port: {metrics}}}}}}}
  pipelines:
    traces: {pipeline}
    metrics: {pipeline}
    logs: {pipeline}
",
            http = ports.http,
            grpc = ports.grpc,
            small_http = ports.small_http,
            small_grpc = ports.small_grpc,
            health = ports.health,
            metrics = ports.metrics,
            batch = batch,
        );
        let cfg = dir.join("config.yaml");
        std::fs::write(&cfg, config).expect("write config");
        let out = std::fs::File::create(dir.join("stdout.log")).expect("stdout log");
        let err = std::fs::File::create(dir.join("stderr.log")).expect("stderr log");
        let child = Command::new(&bin)
            .arg("--config")
            .arg(&cfg)
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn tern");
        let mut tern = Tern { child, ports, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            assert!(tern.alive(), "tern exited during startup\n{}", tern.logs());
            let health = http_get(tern.ports.health, "/").await.map(|r| r.status);
            let ready = futures_all_listening(&[
                tern.ports.http,
                tern.ports.grpc,
                tern.ports.small_http,
                tern.ports.small_grpc,
            ])
            .await;
            if health == Ok(200) && ready {
                return tern;
            }
            assert!(
                Instant::now() < deadline,
                "tern not ready after 30 s (health: {health:?})\n{}",
                tern.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn logs(&self) -> String {
        let tail = |name: &str| {
            let text = std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
            let start = text.len().saturating_sub(4000);
            let start = (start..text.len())
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(text.len());
            text[start..].to_string()
        };
        format!(
            "--- stderr (tail) ---\n{}\n--- stdout (tail) ---\n{}",
            tail("stderr.log"),
            tail("stdout.log")
        )
    }

    /// (VmRSS, VmHWM) in KiB.
    fn memory_kib(&self) -> (u64, u64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// Health endpoint answers 200 and the self-metrics endpoint answers.
    async fn assert_healthy(&mut self) -> String {
        assert!(self.alive(), "tern died\n{}", self.logs());
        let health = http_get(self.ports.health, "/").await;
        assert!(
            matches!(&health, Ok(r) if r.status == 200),
            "health check: {:?}\n{}",
            health.map(|r| r.status),
            self.logs()
        );
        let metrics = http_get(self.ports.metrics, "/metrics")
            .await
            .expect("self-metrics endpoint answers");
        assert_eq!(metrics.status, 200, "self-metrics status");
        String::from_utf8_lossy(&metrics.body).into_owned()
    }
}

impl Drop for Tern {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("tern logs kept in {}", self.dir.display());
        }
    }
}

async fn futures_all_listening(ports: &[u16]) -> bool {
    for p in ports {
        if TcpStream::connect(("127.0.0.1", *p)).await.is_err() {
            return false;
        }
    }
    true
}

// ---------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client (Connection: close), so that bodies can be sent chunked, slowly or
// cut short, and the answer is read while the body is still being written.
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
struct HttpAnswer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpAnswer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct HttpRequest<'a> {
    method: &'a str,
    path: &'a str,
    headers: Vec<(&'a str, String)>,
    body: Bytes,
    chunked: bool,
}

async fn http_get(port: u16, path: &str) -> Result<HttpAnswer, String> {
    let req = HttpRequest {
        method: "GET",
        path,
        headers: Vec::new(),
        body: Bytes::new(),
        chunked: false,
    };
    tokio::time::timeout(Duration::from_secs(5), http_send(port, req))
        .await
        .map_err(|_| "timeout".to_string())?
}

async fn http_send(port: u16, req: HttpRequest<'_>) -> Result<HttpAnswer, String> {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n",
        req.method, req.path
    );
    for (k, v) in &req.headers {
        let _ = write!(head, "{k}: {v}\r\n");
    }
    if req.chunked {
        head.push_str("Transfer-Encoding: chunked\r\n\r\n");
    } else {
        let _ = write!(head, "Content-Length: {}\r\n\r\n", req.body.len());
    }
    let body = req.body.clone();
    let chunked = req.chunked;
    // Write concurrently with reading: the server may answer (413) before the body is sent.
    let writer = tokio::spawn(async move {
        wr.write_all(head.as_bytes()).await?;
        if chunked {
            for piece in body.chunks(64 * 1024) {
                wr.write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                    .await?;
                wr.write_all(piece).await?;
                wr.write_all(b"\r\n").await?;
            }
            wr.write_all(b"0\r\n\r\n").await?;
        } else {
            wr.write_all(&body).await?;
        }
        wr.flush().await?;
        // Keep the write half open until the reader is done (dropping it sends FIN).
        Ok::<_, std::io::Error>(wr)
    });
    let answer = read_answer(&mut rd).await;
    writer.abort();
    answer
}

async fn read_answer(rd: &mut (impl AsyncReadExt + Unpin)) -> Result<HttpAnswer, String> {
    let mut buf = Vec::with_capacity(4096);
    let mut tmp = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = rd
            .read(&mut tmp)
            .await
            .map_err(|e| format!("read head: {e}"))?;
        if n == 0 {
            return Err(format!(
                "connection closed before a response (got {:?})",
                String::from_utf8_lossy(&buf)
            ));
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let len: Option<usize> = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok());
    let mut body = buf[head_end..].to_vec();
    loop {
        if len.is_some_and(|l| body.len() >= l) {
            break;
        }
        match rd.read(&mut tmp).await {
            Ok(0) => break,
            Ok(n) => body.extend_from_slice(&tmp[..n]),
            Err(e) if len.is_none() => {
                let _ = e;
                break;
            }
            Err(e) => return Err(format!("read body: {e}")),
        }
    }
    if let Some(l) = len {
        body.truncate(l);
    }
    Ok(HttpAnswer {
        status,
        headers,
        body,
    })
}

// ---------------------------------------------------------------------------------------------
// gRPC by hand: HTTP/2 (prior knowledge) with the gRPC length-prefixed framing, so that frames
// can carry pre-compressed (bomb) payloads.
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
struct GrpcAnswer {
    code: i32,
    message: String,
}

fn grpc_path(signal: &str) -> &'static str {
    match signal {
        "traces" => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        "metrics" => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        "logs" => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
        other => panic!("unknown signal {other}"),
    }
}

async fn grpc_call(
    port: u16,
    signal: &str,
    payload: &[u8],
    encoding: Option<&str>,
) -> Result<GrpcAnswer, String> {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .map_err(|e| format!("h2 handshake: {e}"))?;
    let conn = tokio::spawn(conn);
    let mut frame = BytesMut::with_capacity(payload.len() + 5);
    frame.put_u8(u8::from(encoding.is_some()));
    frame.put_u32(u32::try_from(payload.len()).map_err(|_| "payload over 4 GiB".to_string())?);
    frame.put_slice(payload);
    let mut builder = hyper::Request::post(format!("http://127.0.0.1:{port}{}", grpc_path(signal)))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    if let Some(enc) = encoding {
        builder = builder.header("grpc-encoding", enc);
    }
    let req = builder
        .body(Full::new(frame.freeze()))
        .map_err(|e| format!("request: {e}"))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let (parts, body) = resp.into_parts();
    if parts.status != 200 {
        conn.abort();
        return Err(format!("HTTP status {} on a gRPC call", parts.status));
    }
    let header_status = parts.headers.get("grpc-status").cloned();
    let header_message = parts.headers.get("grpc-message").cloned();
    let collected = body
        .collect()
        .await
        .map_err(|e| format!("response body: {e}"))?;
    let trailers = collected.trailers().cloned();
    conn.abort();
    let status = header_status
        .or_else(|| {
            trailers
                .as_ref()
                .and_then(|t| t.get("grpc-status").cloned())
        })
        .ok_or_else(|| "no grpc-status".to_string())?;
    let message = header_message
        .or_else(|| {
            trailers
                .as_ref()
                .and_then(|t| t.get("grpc-message").cloned())
        })
        .map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned())
        .unwrap_or_default();
    let code = status
        .to_str()
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad grpc-status {status:?}"))?;
    Ok(GrpcAnswer { code, message })
}

// ---------------------------------------------------------------------------------------------
// The corpus
// ---------------------------------------------------------------------------------------------

struct Case {
    name: String,
    file: String,
    signal: String,
    method: String,
    content_type: String,
    encoding: Option<String>,
    small: bool,
    chunked: bool,
    http_status: u16,
    grpc_code: Option<i32>,
    body: Bytes,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

fn load_cases() -> Vec<Case> {
    let manifest = std::fs::read(corpus_dir().join("cases.json")).expect("corpus/cases.json");
    let manifest: Value = serde_json::from_slice(&manifest).expect("cases.json is JSON");
    let s = |c: &Value, k: &str| c[k].as_str().map(str::to_string);
    manifest["cases"]
        .as_array()
        .expect("cases array")
        .iter()
        .map(|c| {
            let file = s(c, "file").expect("file");
            let body = std::fs::read(corpus_dir().join(&file))
                .unwrap_or_else(|e| panic!("corpus file {file}: {e}"));
            Case {
                name: s(c, "name").expect("name"),
                file,
                signal: s(c, "signal").expect("signal"),
                method: s(c, "method").expect("method"),
                content_type: s(c, "content_type").expect("content_type"),
                encoding: s(c, "content_encoding"),
                small: c["receiver"] == "small",
                chunked: c["chunked"].as_bool().unwrap_or(false),
                http_status: c["http_status"]
                    .as_u64()
                    .and_then(|v| u16::try_from(v).ok())
                    .expect("http_status"),
                grpc_code: c["grpc_code"].as_i64().and_then(|v| i32::try_from(v).ok()),
                body: Bytes::from(body),
            }
        })
        .collect()
}

fn is_bomb(case: &Case) -> bool {
    case.name.contains("bomb")
}

async fn replay_http(tern: &Tern, case: &Case) -> (Result<HttpAnswer, String>, Duration) {
    let port = if case.small {
        tern.ports.small_http
    } else {
        tern.ports.http
    };
    let mut headers = Vec::new();
    if !case.content_type.is_empty() {
        headers.push(("Content-Type", case.content_type.clone()));
    }
    if let Some(enc) = &case.encoding {
        headers.push(("Content-Encoding", enc.clone()));
    }
    let path = format!("/v1/{}", case.signal);
    let req = HttpRequest {
        method: &case.method,
        path: &path,
        headers,
        body: case.body.clone(),
        chunked: case.chunked,
    };
    let start = Instant::now();
    let answer = tokio::time::timeout(REQUEST_TIMEOUT, http_send(port, req))
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {REQUEST_TIMEOUT:?}")));
    (answer, start.elapsed())
}

/// A 4xx answer to an OTLP request must carry a google.rpc.Status in the request's encoding.
fn check_status_body(case: &Case, answer: &HttpAnswer) -> Result<(), String> {
    if !(400..500).contains(&answer.status) || answer.status == 405 || answer.status == 415 {
        return Ok(());
    }
    let ct = answer.header("content-type").unwrap_or("");
    if case.content_type.starts_with("application/json") {
        let v: Value = serde_json::from_slice(&answer.body)
            .map_err(|e| format!("error body is not JSON ({e}): {:?}", answer.body))?;
        if !v["code"].is_i64() || !ct.starts_with("application/json") {
            return Err(format!(
                "JSON error body without code / content-type {ct}: {v}"
            ));
        }
    } else {
        use prost::Message as _;
        let status = GoogleRpcStatus::decode(answer.body.as_slice())
            .map_err(|e| format!("error body is not a google.rpc.Status: {e}"))?;
        if status.code == 0 || !ct.starts_with("application/x-protobuf") {
            return Err(format!(
                "protobuf error body code {} / content-type {ct}",
                status.code
            ));
        }
    }
    Ok(())
}

/// google.rpc.Status (code, message, details) for decoding error answers.
#[derive(Clone, PartialEq, prost::Message)]
struct GoogleRpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_over_http_and_grpc() {
    let started = Instant::now();
    let mut tern = Tern::start("malformed", "{}").await;
    let (rss0, _) = tern.memory_kib();
    let cases = load_cases();
    assert!(cases.len() >= 100, "corpus has {} cases", cases.len());
    let mut failures = Vec::new();
    let mut table = String::new();

    // --- HTTP: bombs first, so that the RSS right after them is measured ---
    let mut order: Vec<&Case> = cases.iter().filter(|c| is_bomb(c)).collect();
    order.extend(cases.iter().filter(|c| !is_bomb(c)));
    let mut after_bombs = None;
    let mut slowest = (Duration::ZERO, String::new());
    for (i, case) in order.iter().enumerate() {
        let (answer, took) = replay_http(&tern, case).await;
        if took > slowest.0 {
            slowest = (took, case.name.clone());
        }
        let got = match &answer {
            Ok(a) => a.status.to_string(),
            Err(e) => format!("error: {e}"),
        };
        let _ = writeln!(
            table,
            "http {:<52} {:>3} -> {:<4} {:>6} ms",
            case.name,
            case.http_status,
            got,
            took.as_millis()
        );
        match &answer {
            Ok(a) if a.status == case.http_status => {
                if let Err(e) = check_status_body(case, a) {
                    failures.push(format!("http {}: {e}", case.name));
                }
            }
            Ok(a) => failures.push(format!(
                "http {} ({}): expected {}, got {} {}",
                case.name,
                case.file,
                case.http_status,
                a.status,
                String::from_utf8_lossy(&a.body[..a.body.len().min(300)])
            )),
            Err(e) => failures.push(format!("http {}: {e}", case.name)),
        }
        if took > ANSWER_WITHIN {
            failures.push(format!("http {}: answered after {took:?}", case.name));
        }
        if !tern.alive() {
            failures.push(format!("tern died after http {}", case.name));
            break;
        }
        if i + 1 < order.len() && is_bomb(case) && !is_bomb(order[i + 1]) {
            after_bombs = Some(tern.memory_kib());
        }
    }
    let (rss_http, hwm_http) = tern.memory_kib();

    // --- gRPC: the protobuf cases ---
    for case in cases.iter().filter(|c| c.grpc_code.is_some()) {
        let expected = case.grpc_code.unwrap_or_default();
        let port = if case.small {
            tern.ports.small_grpc
        } else {
            tern.ports.grpc
        };
        let start = Instant::now();
        let answer = tokio::time::timeout(
            REQUEST_TIMEOUT,
            grpc_call(port, &case.signal, &case.body, case.encoding.as_deref()),
        )
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {REQUEST_TIMEOUT:?}")));
        let took = start.elapsed();
        if took > slowest.0 {
            slowest = (took, format!("grpc {}", case.name));
        }
        let got = match &answer {
            Ok(a) => a.code.to_string(),
            Err(e) => format!("error: {e}"),
        };
        let _ = writeln!(
            table,
            "grpc {:<52} {:>3} -> {:<4} {:>6} ms",
            case.name,
            expected,
            got,
            took.as_millis()
        );
        match &answer {
            Ok(a) if a.code == expected => {}
            Ok(a) => failures.push(format!(
                "grpc {}: expected code {expected}, got {} ({})",
                case.name, a.code, a.message
            )),
            Err(e) => failures.push(format!("grpc {}: {e}", case.name)),
        }
        if took > ANSWER_WITHIN {
            failures.push(format!("grpc {}: answered after {took:?}", case.name));
        }
        if !tern.alive() {
            failures.push(format!("tern died after grpc {}", case.name));
            break;
        }
    }

    // --- afterwards: alive, healthy, still serving, memory bounded ---
    let metrics = tern.assert_healthy().await;
    assert!(
        metrics.contains("otelcol_receiver_accepted_spans"),
        "self-metrics lack receiver counters"
    );
    let valid = cases
        .iter()
        .find(|c| c.name == "valid_traces.proto")
        .expect("valid_traces case");
    let (after, _) = replay_http(&tern, valid).await;
    assert_eq!(
        after.map(|a| a.status),
        Ok(200),
        "valid request after the corpus"
    );
    let (rss_end, hwm_end) = tern.memory_kib();
    let (rss_bombs, hwm_bombs) = after_bombs.expect("bombs replayed");
    eprintln!("{table}");
    eprintln!(
        "memory (KiB): start rss {rss0}; after bombs rss {rss_bombs} hwm {hwm_bombs}; \
         after http rss {rss_http} hwm {hwm_http}; end rss {rss_end} hwm {hwm_end}"
    );
    eprintln!(
        "{} cases, slowest answer {:?} ({}), total {:?}",
        cases.len(),
        slowest.0,
        slowest.1,
        started.elapsed()
    );
    if rss_bombs > RSS_BOUND_KIB {
        failures.push(format!(
            "VmRSS after the bombs is {rss_bombs} KiB (bound {RSS_BOUND_KIB})"
        ));
    }
    if hwm_bombs > RSS_BOUND_KIB {
        failures.push(format!(
            "peak RSS during the bombs is {hwm_bombs} KiB (bound {RSS_BOUND_KIB})"
        ));
    }
    if rss_end > RSS_BOUND_KIB {
        failures.push(format!(
            "VmRSS after the whole corpus is {rss_end} KiB (bound {RSS_BOUND_KIB})"
        ));
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}\n{}",
        failures.len(),
        failures.join("\n"),
        tern.logs()
    );
}

// ---------------------------------------------------------------------------------------------
// Slow clients
// ---------------------------------------------------------------------------------------------

/// How a slow connection behaves.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Slow {
    /// Sends a request line and then one header byte per second, never finishing the headers.
    HeadersDrip,
    /// Connects and sends nothing.
    Silent,
    /// Sends the first 16 bytes of the HTTP/2 preface and stalls.
    PartialH2Preface,
    /// Sends complete headers (Content-Length 1000), then one body byte per second.
    BodyDrip,
}

/// When (if ever) tern closed the connection, and what it answered.
#[derive(Debug, Default)]
struct SlowOutcome {
    closed_after: Option<Duration>,
    answer: Option<String>,
}

fn spawn_slow(port: u16, kind: Slow, started: Instant) -> Arc<Mutex<SlowOutcome>> {
    let outcome = Arc::new(Mutex::new(SlowOutcome::default()));
    let out = outcome.clone();
    tokio::spawn(async move {
        let Ok(stream) = TcpStream::connect(("127.0.0.1", port)).await else {
            return;
        };
        let (mut rd, mut wr) = stream.into_split();
        let drip = async move {
            match kind {
                Slow::HeadersDrip => {
                    let _ = wr
                        .write_all(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                        .await;
                    loop {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        if wr.write_all(b"a").await.is_err() {
                            return;
                        }
                    }
                }
                Slow::BodyDrip => {
                    let _ = wr
                        .write_all(
                            b"POST /v1/traces HTTP/1.1\r\nHost: x\r\n\
                              Content-Type: application/x-protobuf\r\n\
                              Content-Length: 1000\r\n\r\n",
                        )
                        .await;
                    loop {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        if wr.write_all(b"\x00").await.is_err() {
                            return;
                        }
                    }
                }
                Slow::Silent => std::future::pending::<()>().await,
                Slow::PartialH2Preface => {
                    let _ = wr.write_all(b"PRI * HTTP/2.0\r\n").await;
                    std::future::pending::<()>().await;
                }
            }
        };
        let watch = async {
            let mut got = Vec::new();
            let mut tmp = [0u8; 1024];
            loop {
                match rd.read(&mut tmp).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&tmp[..n]),
                }
            }
            let mut o = out.lock().await;
            o.closed_after = Some(started.elapsed());
            if !got.is_empty() {
                let text = String::from_utf8_lossy(&got);
                o.answer = text.lines().next().map(str::to_string);
            }
        };
        tokio::select! {
            _ = drip => {}
            _ = watch => {}
        }
    });
    outcome
}

/// Opens slow connections of every kind and records when tern closes them, while checking
/// that normal requests are answered promptly meanwhile. Returns the outcomes per kind.
async fn slow_clients_run(
    tern: &mut Tern,
    observe: Duration,
    kinds: &[(Slow, usize)],
) -> Vec<(Slow, &'static str, Arc<Mutex<SlowOutcome>>)> {
    let started = Instant::now();
    let mut slow = Vec::new();
    for &(kind, n) in kinds {
        for _ in 0..n {
            slow.push((kind, "http", spawn_slow(tern.ports.http, kind, started)));
        }
        if matches!(kind, Slow::Silent | Slow::PartialH2Preface) {
            slow.push((kind, "grpc", spawn_slow(tern.ports.grpc, kind, started)));
        }
    }
    let valid = load_cases()
        .into_iter()
        .find(|c| c.name == "valid_traces.proto")
        .expect("valid_traces case");
    let mut worst = Duration::ZERO;
    let mut served = 0;
    while started.elapsed() < observe {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let (answer, took) = replay_http(tern, &valid).await;
        assert_eq!(
            answer.as_ref().map(|a| a.status),
            Ok(200),
            "normal request while slow clients are connected"
        );
        let grpc_start = Instant::now();
        let g = grpc_call(tern.ports.grpc, "traces", &valid.body, None).await;
        assert_eq!(
            g.map(|a| a.code),
            Ok(0),
            "gRPC request while slow clients are connected"
        );
        worst = worst.max(took).max(grpc_start.elapsed());
        served += 2;
    }
    assert!(
        worst < Duration::from_secs(2),
        "a normal request took {worst:?} while slow clients were connected"
    );
    eprintln!("{served} normal requests served meanwhile, slowest {worst:?}");
    for (kind, port, o) in &slow {
        let o = o.lock().await;
        eprintln!(
            "slow {kind:?} on {port}: closed by tern after {:?}, answer {:?}",
            o.closed_after, o.answer
        );
    }
    tern.assert_healthy().await;
    slow
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_do_not_block_others() {
    let mut tern = Tern::start("slowloris", "{}").await;
    // Header timeout is 10 s, body timeout 30 s: observe for 34 s.
    let slow = slow_clients_run(
        &mut tern,
        Duration::from_secs(34),
        &[
            (Slow::HeadersDrip, 3),
            (Slow::BodyDrip, 2),
            (Slow::Silent, 2),
            (Slow::PartialH2Preface, 1),
        ],
    )
    .await;
    for (kind, port, o) in &slow {
        let o = o.lock().await;
        match (kind, *port) {
            (Slow::HeadersDrip, _) => {
                let after = o
                    .closed_after
                    .expect("slow headers: connection never closed");
                assert!(
                    after >= Duration::from_secs(9) && after < Duration::from_secs(14),
                    "slow headers closed after {after:?} (header read timeout is 10 s)"
                );
            }
            (Slow::BodyDrip, _) => {
                let after = o.closed_after.expect("slow body: connection never closed");
                assert!(
                    after >= Duration::from_secs(29) && after < Duration::from_secs(34),
                    "slow body closed after {after:?} (body read timeout is 30 s)"
                );
                assert!(
                    o.answer.as_deref().is_some_and(|a| a.contains(" 408 ")),
                    "slow body answered {:?}, expected 408",
                    o.answer
                );
            }
            // Silent connections and a stalled HTTP/2 preface: see the ignored tests below.
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// Connections that send nothing, or stop inside the HTTP/2 preface, are closed after the
// header timeout (hyper-util's protocol sniffing and tonic have no timeout of their own;
// `net::opening_arrives` gates both servers).
async fn silent_and_stalled_preface_connections_are_closed() {
    let mut tern = Tern::start("silent", "{}").await;
    let slow = slow_clients_run(
        &mut tern,
        Duration::from_secs(15),
        &[(Slow::Silent, 2), (Slow::PartialH2Preface, 1)],
    )
    .await;
    for (kind, port, o) in &slow {
        let o = o.lock().await;
        assert!(
            o.closed_after.is_some(),
            "{kind:?} connection on the {port} port still open after 15 s"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Memory amplification by valid but hostile requests
// ---------------------------------------------------------------------------------------------

/// Encodes a length-delimited protobuf field.
fn ld(field: u64, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 12);
    for mut v in [(field << 3) | 2, body.len() as u64] {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    out.extend_from_slice(body);
    out
}

/// Posts `body`, checks the answer's status and returns tern's peak RSS (KiB) over the
/// next `settle`.
async fn peak_rss_after(
    tern: &Tern,
    content_type: &str,
    body: Vec<u8>,
    expect_status: u16,
    settle: Duration,
) -> u64 {
    let req = HttpRequest {
        method: "POST",
        path: "/v1/traces",
        headers: vec![("Content-Type", content_type.to_string())],
        body: Bytes::from(body),
        chunked: false,
    };
    let answer = tokio::time::timeout(REQUEST_TIMEOUT, http_send(tern.ports.http, req)).await;
    assert!(
        matches!(&answer, Ok(Ok(a)) if a.status == expect_status),
        "expected {expect_status}, got {answer:?}"
    );
    let until = Instant::now() + settle;
    let mut peak = 0;
    while Instant::now() < until {
        peak = peak.max(tern.memory_kib().1);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    peak.max(tern.memory_kib().1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_split_memory_is_bounded() {
    let mut tern = Tern::start("split", "{send_batch_max_size: 8192}").await;
    // ExportTraceServiceRequest { resource_spans { scope_spans { spans: {} x 200k } } }
    let body = ld(1, &ld(2, &b"\x12\x00".repeat(200_000)));
    let peak = peak_rss_after(
        &tern,
        "application/x-protobuf",
        body,
        200,
        Duration::from_secs(3),
    )
    .await;
    eprintln!("peak RSS after 200k empty spans with send_batch_max_size 8192: {peak} KiB");
    tern.assert_healthy().await;
    assert!(
        peak < RSS_BOUND_KIB,
        "peak RSS {peak} KiB for a 400 KB request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// OTLP/JSON decoding is charged against a budget (64 MiB + 8 × body): a flood of tiny
// items (`{}` decodes to ~100× its size) is refused with 400 instead of taking GiBs.
async fn json_decoding_memory_is_proportionate() {
    let mut tern = Tern::start("jsonamp", "{}").await;
    let n = 4 * 1024 * 1024 / 3;
    let mut body = b"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[".to_vec();
    for i in 0..n {
        body.extend_from_slice(if i == 0 { b"{}" } else { b",{}" });
    }
    body.extend_from_slice(b"]}]}]}");
    let peak = peak_rss_after(&tern, "application/json", body, 400, Duration::from_secs(3)).await;
    eprintln!("peak RSS after 4 MiB of empty JSON spans: {peak} KiB");
    tern.assert_healthy().await;
    assert!(
        peak < RSS_BOUND_KIB,
        "peak RSS {peak} KiB for a 4 MiB request"
    );
}
