//! Plain-HTTP calls to the link-local metadata services (EC2 instance metadata,
//! ECS task metadata) over the shared HTTP client ([`crate::http`]): always
//! direct (a proxy must never see these calls), every call bounded by a
//! timeout, bodies capped at [`MAX_METADATA_BYTES`].

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Method;
use thiserror::Error;

use crate::config::tls::ClientTls;
use crate::http::{https_client_via, HttpsClient, ProxyConnector};

/// The largest metadata document read (an ECS task with many containers is
/// tens of KiB).
pub const MAX_METADATA_BYTES: usize = 1024 * 1024;

/// A failed metadata call; every variant names the URL.
#[derive(Debug, Error)]
pub enum MetadataError {
    /// Nothing listens there (connection refused, no route, DNS).
    #[error("{url}: not reachable: {message}")]
    Unreachable { url: String, message: String },
    /// No complete answer within the timeout.
    #[error("{url}: no answer within {timeout:?}")]
    Timeout { url: String, timeout: Duration },
    /// An answer other than 2xx.
    #[error("{url}: HTTP {status}: {excerpt}")]
    Status {
        url: String,
        status: u16,
        excerpt: String,
    },
    /// A body that could not be read, or is not the expected document.
    #[error("{url}: {message}")]
    Invalid { url: String, message: String },
}

impl MetadataError {
    /// True when the service is not there at all (as opposed to present but failing).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            MetadataError::Unreachable { .. } | MetadataError::Timeout { .. }
        )
    }

    /// The HTTP status, when the service answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            MetadataError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A direct HTTP client for metadata endpoints.
#[derive(Clone)]
pub struct MetadataHttp {
    client: HttpsClient,
}

/// A metadata service's answer.
#[derive(Debug, Clone)]
pub struct MetadataAnswer {
    pub status: u16,
    pub body: Bytes,
}

impl MetadataHttp {
    pub fn new() -> Result<Self, String> {
        Ok(MetadataHttp {
            client: https_client_via(&ClientTls::default(), ProxyConnector::new(None))?,
        })
    }

    /// One request; the whole exchange (connect, headers, body) is bounded by
    /// `timeout`. Any status is returned; transport failures are errors.
    pub async fn call(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<MetadataAnswer, MetadataError> {
        let mut req = hyper::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(Bytes::new()))
            .map_err(|e| MetadataError::Invalid {
                url: url.to_string(),
                message: format!("invalid request: {e}"),
            })?;
        let exchange = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| MetadataError::Unreachable {
                    url: url.to_string(),
                    message: error_chain(&e),
                })?;
            let status = resp.status().as_u16();
            let body = http_body_util::Limited::new(resp.into_body(), MAX_METADATA_BYTES)
                .collect()
                .await
                .map_err(|e| MetadataError::Invalid {
                    url: url.to_string(),
                    message: format!("reading the body: {e}"),
                })?
                .to_bytes();
            Ok(MetadataAnswer { status, body })
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(MetadataError::Timeout {
                url: url.to_string(),
                timeout,
            }),
        }
    }

    /// GET that must answer 2xx.
    pub async fn get(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<Bytes, MetadataError> {
        let a = self.call(Method::GET, url, headers, timeout).await?;
        ok_body(url, a)
    }
}

/// The body of a 2xx answer, else a [`MetadataError::Status`].
pub fn ok_body(url: &str, a: MetadataAnswer) -> Result<Bytes, MetadataError> {
    if (200..300).contains(&a.status) {
        Ok(a.body)
    } else {
        Err(MetadataError::Status {
            url: url.to_string(),
            status: a.status,
            excerpt: String::from_utf8_lossy(&a.body[..a.body.len().min(256)]).into_owned(),
        })
    }
}

/// Parses a JSON document, naming the URL on failure.
pub fn parse_json<T: serde::de::DeserializeOwned>(
    url: &str,
    body: &[u8],
) -> Result<T, MetadataError> {
    serde_json::from_slice(body).map_err(|e| MetadataError::Invalid {
        url: url.to_string(),
        message: format!("not the expected JSON document: {e}"),
    })
}

/// A UTF-8 text body, trimmed.
pub fn text(url: &str, body: &[u8]) -> Result<String, MetadataError> {
    std::str::from_utf8(body)
        .map(|s| s.trim().to_string())
        .map_err(|_| MetadataError::Invalid {
            url: url.to_string(),
            message: "body is not UTF-8 text".into(),
        })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
