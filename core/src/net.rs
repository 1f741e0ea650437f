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

use crate::pipeline::stage::BoxFuture;

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
                        // A client that connects and sends nothing is dropped (the header
                        // timeout only starts once the protocol has been sniffed).
                        let mut first = [0u8; 1];
                        if !matches!(tokio::time::timeout(HEADER_READ_TIMEOUT, stream.peek(&mut first)).await, Ok(Ok(n)) if n > 0) {
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
