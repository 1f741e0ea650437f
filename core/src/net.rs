//! Listener binding and a small HTTP server (HTTP/1.1 and h2c/h2, optional TLS,
//! graceful shutdown) shared by the OTLP/HTTP receiver, health check and
//! self-metrics endpoint.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::BoxFuture;

/// How long a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client may take to send a request body.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Resolves `host:port` (`localhost` maps to 127.0.0.1 without a DNS lookup).
pub async fn resolve(endpoint: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = endpoint.parse::<SocketAddr>() {
        return Ok(a);
    }
    let (host, port) = endpoint
        .rsplit_once(':')
        .ok_or_else(|| format!("endpoint {endpoint:?} must be host:port"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("invalid port in endpoint {endpoint:?}"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host == "0.0.0.0" {
        return Ok(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    if host == "localhost" {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let mut addrs = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve {host:?}: {e}"))?;
    addrs
        .next()
        .ok_or_else(|| format!("{host:?} resolves to no address"))
}

/// Binds a TCP listener on `endpoint`.
pub async fn bind(endpoint: &str) -> Result<TcpListener, String> {
    let addr = resolve(endpoint).await?;
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))
}

/// Response type of the small servers.
pub type HttpResponse = Response<Full<Bytes>>;

/// A request handler.
pub type Handler = Arc<dyn Fn(Request<Incoming>) -> BoxFuture<'static, HttpResponse> + Send + Sync>;

/// A running server; dropping the handle does not stop it, [`Server::shutdown`] does.
pub struct Server {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Stops accepting, lets open requests finish for up to `grace`.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(grace + Duration::from_millis(100), self.task).await;
    }
}

/// Serves `handler` on `listener` until shut down.
pub fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    handler: Handler,
    grace: Duration,
) -> Server {
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        // Slow or idle clients cannot hold a connection open forever.
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT);
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(Some(Duration::from_secs(60)));
        loop {
            tokio::select! {
                _ = stopped.changed() => break,
                accepted = listener.accept() => {
                    let (stream, _) = match accepted {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::warn!(error = %e, "Failed to accept connection.");
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let h = handler.clone();
                    let svc = hyper::service::service_fn(move |req| {
                        let h = h.clone();
                        async move { Ok::<_, Infallible>(h(req).await) }
                    });
                    let builder = builder.clone();
                    let acceptor = acceptor.clone();
                    let watcher = graceful.watcher();
                    tokio::spawn(async move {
                        // A client that connects and sends nothing, or stops inside the
                        // HTTP/2 preface, is dropped (the header timeout only starts once the
                        // protocol has been sniffed).
                        if !opening_arrives(&stream, HEADER_READ_TIMEOUT, acceptor.is_none()).await {
                            return;
                        }
                        match acceptor {
                            None => {
                                let conn = builder.serve_connection(TokioIo::new(stream), svc).into_owned();
                                let _ = watcher.watch(conn).await;
                            }
                            Some(acc) => {
                                let Ok(Ok(tls)) = tokio::time::timeout(HEADER_READ_TIMEOUT, acc.accept(stream)).await else {
                                    return;
                                };
                                let conn = builder.serve_connection(TokioIo::new(tls), svc).into_owned();
                                let _ = watcher.watch(conn).await;
                            }
                        }
                    });
                }
            }
        }
        drop(listener);
        let _ = tokio::time::timeout(grace, graceful.shutdown()).await;
    });
    Server { stop, task }
}

/// A response with a body and content type.
pub fn response(status: u16, content_type: &str, body: impl Into<Bytes>) -> HttpResponse {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

/// The HTTP/2 connection preface every h2 client starts with.
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Waits until a new connection has sent enough to be served: at least one byte
/// and, when `plaintext` and the bytes so far are a prefix of the HTTP/2
/// preface, the whole preface. Returns false when the peer closes or stalls for
/// `limit`. Servers sniff the protocol from these bytes without a timeout of
/// their own, so without this a silent client would hold its socket forever.
pub async fn opening_arrives(
    stream: &tokio::net::TcpStream,
    limit: Duration,
    plaintext: bool,
) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    let mut buf = [0u8; 24];
    loop {
        let n = match tokio::time::timeout_at(deadline, stream.peek(&mut buf)).await {
            Ok(Ok(n)) => n,
            Ok(Err(_)) | Err(_) => return false,
        };
        if n == 0 {
            return false;
        }
        if !plaintext || n == buf.len() || !H2_PREFACE.starts_with(&buf[..n]) {
            return true;
        }
        // Part of the preface: peek returns at once while those bytes sit in the
        // socket, so poll gently until the rest arrives or time runs out.
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A stream of accepted TCP connections for tonic: each is handed over only once
/// [`opening_arrives`], wrapped in [`IdleTimeout`] when `max_idle` is set.
pub struct GatedIncoming {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<IdleTimeout>>,
    task: tokio::task::JoinHandle<()>,
}

impl GatedIncoming {
    pub fn new(listener: TcpListener, opening: Duration, max_idle: Option<Duration>) -> Self {
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let task = tokio::spawn(async move {
            loop {
                let stream = match listener.accept().await {
                    Ok((s, _)) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "Failed to accept connection.");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let conn_tx = tx.clone();
                tokio::spawn(async move {
                    if opening_arrives(&stream, opening, true).await {
                        let _ = conn_tx.send(Ok(IdleTimeout::new(stream, max_idle))).await;
                    }
                });
                if tx.is_closed() {
                    break;
                }
            }
        });
        GatedIncoming { rx, task }
    }
}

impl Drop for GatedIncoming {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl futures_core::Stream for GatedIncoming {
    type Item = std::io::Result<IdleTimeout>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

/// A TCP stream that ends (reads EOF, so the server closes it) after `max_idle`
/// without a byte in either direction. `None` never times out.
pub struct IdleTimeout {
    inner: tokio::net::TcpStream,
    max_idle: Option<Duration>,
    last_activity: tokio::time::Instant,
    timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl IdleTimeout {
    fn new(inner: tokio::net::TcpStream, max_idle: Option<Duration>) -> Self {
        IdleTimeout {
            inner,
            max_idle,
            last_activity: tokio::time::Instant::now(),
            timer: max_idle.map(|d| Box::pin(tokio::time::sleep(d))),
        }
    }

    /// True once the idle limit has passed; re-arms the timer otherwise.
    fn expired(&mut self, cx: &mut std::task::Context<'_>) -> bool {
        let (Some(max), Some(timer)) = (self.max_idle, self.timer.as_mut()) else {
            return false;
        };
        loop {
            if timer.as_mut().poll(cx).is_pending() {
                return false;
            }
            let due = self.last_activity + max;
            if tokio::time::Instant::now() >= due {
                return true;
            }
            timer.as_mut().reset(due);
        }
    }
}

use std::future::Future as _;

impl tokio::io::AsyncRead for IdleTimeout {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        match std::pin::Pin::new(&mut self.inner).poll_read(cx, buf) {
            std::task::Poll::Ready(r) => {
                if buf.filled().len() > before {
                    self.last_activity = tokio::time::Instant::now();
                }
                std::task::Poll::Ready(r)
            }
            std::task::Poll::Pending => {
                if self.expired(cx) {
                    tracing::debug!("Closing idle connection.");
                    // EOF: the server treats it as the client going away.
                    return std::task::Poll::Ready(Ok(()));
                }
                std::task::Poll::Pending
            }
        }
    }
}

impl tokio::io::AsyncWrite for IdleTimeout {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(r, std::task::Poll::Ready(Ok(n)) if n > 0) {
            self.last_activity = tokio::time::Instant::now();
        }
        r
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl tonic::transport::server::Connected for IdleTimeout {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}
