//! Exporters: send pipeline data to backends, each behind the shared sending
//! queue and retry machinery in [`helper`].

pub mod awsxray;
pub mod debug;
pub mod helper;
pub mod otlp;
pub mod otlphttp;
pub mod prometheusremotewrite;

use serde::Deserialize;

use crate::component::ConfigIssue;
use crate::config::duration::GoDuration;
use helper::{QueueSettings, RetrySettings};

/// Keys every queued exporter shares (`timeout`, `sending_queue`, `retry_on_failure`).
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct CommonSettings {
    pub sending_queue: QueueSettings,
    pub retry_on_failure: RetrySettings,
}

impl CommonSettings {
    pub fn validate(&self) -> Vec<ConfigIssue> {
        let mut v: Vec<ConfigIssue> = self
            .sending_queue
            .validate()
            .into_iter()
            .map(|(k, m)| ConfigIssue::new(format!("sending_queue::{k}"), m))
            .collect();
        v.extend(
            self.retry_on_failure
                .validate()
                .into_iter()
                .map(|(k, m)| ConfigIssue::new(format!("retry_on_failure::{k}"), m)),
        );
        v
    }

    pub fn settings(
        &self,
        id: &crate::component::ComponentId,
        timeout: GoDuration,
    ) -> helper::ExporterSettings {
        helper::ExporterSettings {
            id: id.to_string(),
            timeout: timeout.0,
            queue: self.sending_queue.clone(),
            retry: self.retry_on_failure.clone(),
        }
    }
}

/// The persistent storage of a sending queue, for the service's wiring.
pub fn persistent_queue(q: &QueueSettings) -> Option<crate::component::PersistentQueue> {
    q.storage
        .as_ref()
        .map(|storage| crate::component::PersistentQueue {
            storage: storage.clone(),
            queue_size: q.queue_size,
        })
}

/// Validates a `compression` value; returns the encoding.
pub fn parse_compression(v: &str) -> Result<crate::compression::Encoding, String> {
    match v {
        "" | "none" => Ok(crate::compression::Encoding::Identity),
        "gzip" => Ok(crate::compression::Encoding::Gzip),
        "zstd" => Ok(crate::compression::Encoding::Zstd),
        "deflate" | "zlib" => Ok(crate::compression::Encoding::Deflate),
        other => Err(format!(
            "unsupported compression {other:?} (supported: gzip, zstd, deflate, none)"
        )),
    }
}

/// The HTTP(S) client the HTTP exporters share the shape of.
pub type HttpsClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<bytes::Bytes>,
>;

/// An HTTP/1.1 + h2 client (plain or TLS per URL) with `tls` settings and
/// idle connections kept for 60 s.
pub fn https_client(tls: &crate::config::tls::ClientTls) -> Result<HttpsClient, String> {
    let tls = crate::config::tls::build::client(tls)?;
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .build();
    Ok(
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(std::time::Duration::from_secs(60))
            .build(https),
    )
}

/// A backend's answer: status, `Retry-After` and the body (read up to 64 KiB,
/// so the connection can be reused).
pub struct HttpAnswer {
    pub status: u16,
    pub retry_after: Option<std::time::Duration>,
    pub body: bytes::Bytes,
}

impl HttpAnswer {
    pub async fn read(resp: hyper::Response<hyper::body::Incoming>) -> Self {
        use http_body_util::BodyExt;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(hyper::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = http_body_util::Limited::new(resp.into_body(), 64 * 1024)
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        HttpAnswer {
            status,
            retry_after,
            body,
        }
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first KiB of the body, for logs and error messages.
    pub fn excerpt(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.body[..self.body.len().min(1024)])
    }
}

/// Parses a `Retry-After` header (delay in seconds, or an HTTP date).
pub fn parse_retry_after(v: &str) -> Option<std::time::Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(std::time::Duration::from_secs(secs));
    }
    let when = humantime::parse_rfc3339_weak(v)
        .ok()
        .or_else(|| httpdate_parse(v))?;
    when.duration_since(std::time::SystemTime::now()).ok()
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`.
fn httpdate_parse(v: &str) -> Option<std::time::SystemTime> {
    let parts: Vec<&str> = v.split_whitespace().collect();
    if parts.len() != 6 || parts[5] != "GMT" {
        return None;
    }
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == parts[2])?
        + 1;
    let text = format!(
        "{}-{:02}-{:02}T{}Z",
        parts[3],
        month,
        parts[1].parse::<u32>().ok()?,
        parts[4]
    );
    humantime::parse_rfc3339(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(
            parse_retry_after("7"),
            Some(std::time::Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            None,
            "past dates mean no extra delay"
        );
        assert!(parse_retry_after("garbage").is_none());
    }
}
