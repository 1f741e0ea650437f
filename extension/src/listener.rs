//! The Telemetry API listener: receives the batched records Lambda POSTs, hands
//! them to the `telemetryapi` receivers (through the hub) and then marks the
//! invocations whose `platform.runtimeDone` arrived, in that order, so that an
//! invocation's records are in the pipeline before its flush starts.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Limited};
use tern_core::net::{self, response};
use tern_core::receiver::telemetryapi::record::parse_batch;
use tern_core::receiver::telemetryapi::TelemetryHub;
use tokio::sync::Notify;

/// Largest batch accepted (the subscription asks for at most 256 KiB).
const MAX_BODY: usize = 8 * 1024 * 1024;
/// Request IDs remembered (only the newest matter).
const REMEMBERED: usize = 64;

/// The `platform.runtimeDone` records seen, by request ID.
#[derive(Default)]
pub struct RuntimeDone {
    seen: Mutex<VecDeque<String>>,
    notify: Notify,
}

impl RuntimeDone {
    pub fn mark(&self, request_id: &str) {
        {
            let mut g = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            if g.len() >= REMEMBERED {
                g.pop_front();
            }
            g.push_back(request_id.to_string());
        }
        self.notify.notify_waiters();
    }

    fn contains(&self, request_id: &str) -> bool {
        let g = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        g.iter().any(|r| r == request_id)
    }

    /// Waits until the runtimeDone of `request_id` arrived (true) or `until` (false).
    pub async fn wait(&self, request_id: &str, until: Instant) -> bool {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.contains(request_id) {
                return true;
            }
            let now = Instant::now();
            if now >= until {
                return false;
            }
            if tokio::time::timeout(until - now, notified).await.is_err() {
                return self.contains(request_id);
            }
        }
    }
}

/// Starts the listener on `endpoint`; returns the server and its address.
pub async fn start(
    endpoint: &str,
    hub: Arc<TelemetryHub>,
    done: Arc<RuntimeDone>,
) -> Result<(net::Server, SocketAddr), String> {
    let listener = net::bind(endpoint).await?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listener address: {e}"))?;
    let handler: net::Handler = Arc::new(move |req| {
        let hub = hub.clone();
        let done = done.clone();
        Box::pin(async move {
            if req.method() != hyper::Method::POST {
                return response(405, "text/plain", "POST only\n");
            }
            let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
                Ok(b) => b.to_bytes(),
                Err(e) => {
                    tracing::warn!(error = %e, "Cannot read a Telemetry API batch.");
                    return response(400, "text/plain", "unreadable body\n");
                }
            };
            let (events, skipped) = match parse_batch(&body) {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(error = %e, "Telemetry API batch is not a JSON array; ignored.");
                    return response(400, "text/plain", "expected a JSON array\n");
                }
            };
            if skipped > 0 {
                tracing::debug!(
                    skipped,
                    "Skipped Telemetry API elements that are not records."
                );
            }
            if hub.has_receivers() {
                hub.deliver(&events).await;
            }
            for e in &events {
                if let Some(id) = e.runtime_done_request_id() {
                    done.mark(id);
                }
            }
            response(200, "text/plain", "")
        })
    });
    Ok((
        net::serve(listener, None, handler, Duration::from_secs(1)),
        addr,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wait_returns_when_marked_or_at_the_deadline() {
        let d = Arc::new(RuntimeDone::default());
        let t0 = Instant::now();
        assert!(!d.wait("a", t0 + Duration::from_millis(30)).await);
        assert!(t0.elapsed() >= Duration::from_millis(30));
        let d2 = d.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            d2.mark("b");
        });
        let t1 = Instant::now();
        assert!(d.wait("b", t1 + Duration::from_secs(5)).await);
        assert!(t1.elapsed() < Duration::from_secs(2));
        // Already seen: immediate.
        assert!(d.wait("b", Instant::now()).await);
    }

    #[tokio::test]
    async fn posted_batches_mark_runtime_done() {
        let hub = Arc::new(TelemetryHub::default());
        let done = Arc::new(RuntimeDone::default());
        let (server, addr) = start("127.0.0.1:0", hub, done.clone()).await.unwrap();
        let body = r#"[{"time":"2024-01-01T00:00:00.000Z","type":"platform.runtimeDone","record":{"requestId":"r-7","status":"success"}}]"#;
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let req = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        assert!(done.wait("r-7", Instant::now()).await);
        server.shutdown(Duration::from_millis(100)).await;
    }
}
