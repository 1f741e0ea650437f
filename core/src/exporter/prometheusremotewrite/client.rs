//! The remote-write sender: translation and encoding of a batch (in the queue
//! consumer, once per batch) and the HTTP requests (I/O).
//!
//! Ordering: the exporter's queue has one consumer, so batches are translated
//! and sent one after the other; the requests of one batch (each series is in
//! exactly one of them) go out in parallel. A series therefore never has two
//! requests in flight, and its samples reach the backend in timestamp order.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use hyper::header;

use super::delta::DeltaToCumulative;
use super::encode::{compress, pack};
use super::translate::{translate, TranslateSettings};
use crate::exporter::queue::{ExportClient, ExportError};
use crate::http::{HttpSender, StatusClass, StatusPolicy};
use crate::otlp::Metrics;
use crate::pipeline::Batch;

pub const USER_AGENT: &str = concat!("tern/", env!("CARGO_PKG_VERSION"));

/// How remote-write answers are classified: 429 and 5xx are retried; 408 and
/// every other 4xx are permanent — in particular 400 for samples the backend
/// refuses for good (`out of order sample`, `duplicate sample`), which would
/// be refused again.
pub const STATUS_POLICY: StatusPolicy = StatusPolicy::with_override(remote_write_status);

fn remote_write_status(status: u16, _body: &[u8]) -> Option<StatusClass> {
    (400..500).contains(&status).then_some(if status == 429 {
        StatusClass::Retryable
    } else {
        StatusClass::Permanent
    })
}

/// The sender of remote-write requests to `uri`: protocol headers, then the
/// configured ones, then the signer.
pub fn http_sender(
    uri: hyper::Uri,
    tls: &crate::config::tls::ClientTls,
    headers: &std::collections::BTreeMap<String, String>,
    signer: Option<Arc<dyn crate::http::RequestSigner>>,
) -> Result<HttpSender, String> {
    Ok(HttpSender::new(uri, tls)?
        .default_header(header::CONTENT_ENCODING, "snappy")
        .default_header(header::CONTENT_TYPE, "application/x-protobuf")
        .default_header(
            header::HeaderName::from_static("x-prometheus-remote-write-version"),
            "0.1.0",
        )
        .default_header(header::USER_AGENT, USER_AGENT)
        .configured_headers(headers)?
        .signer(signer)
        .policy(STATUS_POLICY))
}

/// This exporter's own self-metrics (declared in `telemetry::names`).
pub use crate::telemetry::metrics::RemoteWriteMetrics as PrwMetrics;

/// Everything the sender needs (shared with the per-request tasks).
pub struct Inner {
    pub id: String,
    pub http: HttpSender,
    pub metrics: PrwMetrics,
}

/// The exporter's [`ExportClient`].
pub struct PrwClient {
    pub inner: Arc<Inner>,
    pub settings: TranslateSettings,
    pub max_bytes: usize,
    pub parallelism: usize,
    /// `None` when delta conversion is off (deltas are then translation errors).
    pub delta: Option<Mutex<DeltaToCumulative>>,
}

/// The snappy bodies of one batch, and which of them are done (kept across retries).
pub struct PrwRequest {
    pub bodies: Vec<Bytes>,
    done: Vec<bool>,
    permanent: Option<String>,
}

impl PrwRequest {
    pub fn new(bodies: Vec<Bytes>) -> Self {
        PrwRequest {
            done: vec![false; bodies.len()],
            bodies,
            permanent: None,
        }
    }
}

impl PrwClient {
    /// Translates, packs and compresses a batch (pure apart from the delta state).
    pub fn build_request(&self, batch: Batch<Metrics>) -> Result<PrwRequest, ExportError> {
        let mut req = batch.into_request();
        if let Some(delta) = &self.delta {
            let mut d = delta.lock().unwrap_or_else(|p| p.into_inner());
            let st = d.convert(&mut req, Instant::now());
            drop(d);
            if st.evicted > 0 {
                self.inner.metrics.delta_series_evicted.inc_by(st.evicted);
            }
            if st.dropped_points > 0 {
                self.inner
                    .metrics
                    .failed_translations
                    .inc_by(st.errors.len() as u64);
                tracing::warn!(exporter = %self.inner.id, dropped_points = st.dropped_points,
                    errors = st.errors.len(), first_error = %st.errors.first().map_or("", |s| s.as_str()),
                    "Delta to cumulative conversion dropped points.");
            }
        }
        let t = translate(&req, &self.settings);
        drop(req);
        if !t.errors.is_empty() {
            self.inner
                .metrics
                .failed_translations
                .inc_by(t.errors.len() as u64);
            tracing::warn!(exporter = %self.inner.id, dropped_points = t.dropped_points,
                errors = t.errors.len(), first_error = %t.errors[0],
                "Some metrics could not be translated to Prometheus time series; the rest is exported.");
        }
        if t.series.is_empty() && t.metadata.is_empty() && t.dropped_points > 0 {
            // Nothing left to send: the batch failed as a whole (counted as send failures).
            return Err(ExportError::permanent(format!(
                "no metric could be translated: {}",
                t.errors[0]
            )));
        }
        self.inner
            .metrics
            .translated_time_series
            .inc_by(t.series.len() as u64);
        let reqs = pack(t.series, t.metadata, self.max_bytes);
        let mut enc = snap::raw::Encoder::new();
        let bodies = reqs
            .iter()
            .map(|r| compress(r, &mut enc))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ExportError::permanent(e.to_string()))?;
        Ok(PrwRequest::new(bodies))
    }
}

/// Sends one body; classifies the answer.
async fn send_one(inner: &Inner, body: Bytes) -> Result<(), ExportError> {
    let result = inner.http.send(body).await;
    if result.as_ref().err().is_none_or(|e| e.was_sent()) {
        inner.metrics.sent_batches.inc();
    }
    result.map(drop).map_err(|e| {
        ExportError::from_http(e, |status, excerpt| {
            format!(
                "remote write returned HTTP status {status}; err = {}",
                excerpt.trim_end()
            )
        })
    })
}

impl ExportClient<Metrics> for PrwClient {
    type Request = PrwRequest;

    fn encode(&self, batch: Batch<Metrics>) -> Result<PrwRequest, ExportError> {
        self.build_request(batch)
    }

    async fn send(&self, req: &mut PrwRequest) -> Result<(), ExportError> {
        let pending: Vec<usize> = (0..req.bodies.len()).filter(|i| !req.done[*i]).collect();
        let mut retry: Option<ExportError> = None;
        let (bodies, done, permanent) = (&req.bodies, &mut req.done, &mut req.permanent);
        let mut record = |i: usize, r: Result<(), ExportError>| match r {
            Ok(()) => mark(done, i),
            Err(ExportError::Permanent { message }) => {
                // Not retried; reported once the rest of the batch is through.
                mark(done, i);
                permanent.get_or_insert(message);
            }
            Err(e) => {
                let keep = match (&retry, &e) {
                    (
                        Some(ExportError::Retryable {
                            retry_after: Some(a),
                            ..
                        }),
                        ExportError::Retryable { retry_after, .. },
                    ) => retry_after.is_some_and(|b| b > *a),
                    (None, _) => true,
                    _ => e.is_retryable(),
                };
                if keep {
                    retry = Some(e);
                }
            }
        };
        if pending.len() <= 1 || self.parallelism <= 1 {
            for i in pending {
                let r = send_one(&self.inner, bodies[i].clone()).await;
                let stop = matches!(r, Err(ExportError::Retryable { .. }));
                record(i, r);
                if stop {
                    break;
                }
            }
        } else {
            let mut set = tokio::task::JoinSet::new();
            let mut it = pending.into_iter();
            loop {
                while set.len() < self.parallelism {
                    let Some(i) = it.next() else { break };
                    let inner = self.inner.clone();
                    let body = bodies[i].clone();
                    set.spawn(async move { (i, send_one(&inner, body).await) });
                }
                let Some(done) = set.join_next().await else {
                    break;
                };
                match done {
                    Ok((i, r)) => record(i, r),
                    Err(e) => record(
                        usize::MAX,
                        Err(ExportError::retryable(format!("request task failed: {e}"))),
                    ),
                }
            }
        }
        if let Some(e) = retry {
            return Err(e);
        }
        match permanent.take() {
            Some(message) => Err(ExportError::Permanent { message }),
            None => Ok(()),
        }
    }
}

fn mark(done: &mut [bool], i: usize) {
    if let Some(d) = done.get_mut(i) {
        *d = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_write_status_policy() {
        use StatusClass::{Permanent, Retryable, Success};
        let table: &[(u16, &[u8], StatusClass)] = &[
            (200, b"", Success),
            (204, b"", Success),
            (400, b"out of order sample", Permanent),
            (400, b"duplicate sample for timestamp", Permanent),
            (401, b"", Permanent),
            (404, b"", Permanent),
            (408, b"", Permanent),
            (413, b"", Permanent),
            (429, b"", Retryable),
            (500, b"", Retryable),
            (503, b"", Retryable),
        ];
        for &(status, body, want) in table {
            assert_eq!(
                STATUS_POLICY.classify(status, body),
                want,
                "status {status}"
            );
        }
    }
}
