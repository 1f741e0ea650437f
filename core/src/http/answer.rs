//! A backend's answer, read with a bound, and `Retry-After` parsing.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::BodyExt;

/// How much of an answer's body is read (the rest is dropped, so the
/// connection can be reused without buffering an arbitrary body).
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// A backend's answer: status, `Retry-After` and the body (read up to
/// [`MAX_ANSWER_BYTES`]).
#[derive(Debug, Clone, PartialEq)]
pub struct HttpAnswer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: Bytes,
}

impl HttpAnswer {
    pub async fn read(resp: hyper::Response<hyper::body::Incoming>) -> Self {
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(hyper::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = http_body_util::Limited::new(resp.into_body(), MAX_ANSWER_BYTES)
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
    pub fn excerpt(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body[..self.body.len().min(1024)])
    }
}

/// Parses a `Retry-After` header (delay in seconds, or an HTTP date).
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = humantime::parse_rfc3339_weak(v)
        .ok()
        .or_else(|| httpdate_parse(v))?;
    when.duration_since(SystemTime::now()).ok()
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`.
fn httpdate_parse(v: &str) -> Option<SystemTime> {
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
