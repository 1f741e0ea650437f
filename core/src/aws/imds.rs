//! EC2 instance metadata, IMDSv2
//! (<https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html>):
//! a session token from `PUT /latest/api/token` (TTL header), reused until
//! shortly before it expires and fetched again on a `401`. A token `PUT`
//! answered 403/404/405 falls back to IMDSv1 (GET without a token), as the SDKs
//! do; a token `PUT` that hangs (hop limit 1 behind a container bridge) gets
//! one IMDSv1 attempt and a hint in the log.

use std::time::{Duration, Instant};

use hyper::Method;
use serde::Deserialize;

use super::metadata::{ok_body, parse_json, text, MetadataError, MetadataHttp};

/// The default endpoint (IPv4).
pub const DEFAULT_ENDPOINT: &str = "http://169.254.169.254";
/// The endpoint in IPv6 mode (`AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6`).
pub const DEFAULT_ENDPOINT_V6: &str = "http://[fd00:ec2::254]";
const TOKEN_PATH: &str = "/latest/api/token";
const TTL_HEADER: &str = "X-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "X-aws-ec2-metadata-token";
/// Token lifetime asked for (the SDKs' value).
pub const TOKEN_TTL_SECS: u64 = 21_600;
/// How long a token `PUT` may take before IMDSv1 is tried.
const TOKEN_PUT_TIMEOUT: Duration = Duration::from_secs(1);

pub const PATH_INSTANCE_ID: &str = "/latest/meta-data/instance-id";
pub const PATH_HOSTNAME: &str = "/latest/meta-data/hostname";
pub const PATH_IDENTITY: &str = "/latest/dynamic/instance-identity/document";

/// Where IMDS is, from the standard environment variables; `None` when
/// `AWS_EC2_METADATA_DISABLED` is `true`.
pub fn endpoint_from(env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    if env("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return None;
    }
    if let Some(e) = env("AWS_EC2_METADATA_SERVICE_ENDPOINT").filter(|v| !v.trim().is_empty()) {
        return Some(e.trim().trim_end_matches('/').to_string());
    }
    let v6 = env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE")
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("ipv6"));
    Some(
        if v6 {
            DEFAULT_ENDPOINT_V6
        } else {
            DEFAULT_ENDPOINT
        }
        .to_string(),
    )
}

/// The instance identity document (the fields Tern reads).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityDocument {
    #[serde(default)]
    pub account_id: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub availability_zone: String,
    #[serde(default)]
    pub instance_id: String,
    #[serde(default)]
    pub image_id: String,
    #[serde(default)]
    pub instance_type: String,
}

impl IdentityDocument {
    pub fn parse(url: &str, body: &[u8]) -> Result<Self, MetadataError> {
        parse_json(url, body)
    }
}

#[derive(Debug, Clone)]
enum Session {
    /// A token and when to stop using it.
    Token(String, Instant),
    /// IMDSv1: no token.
    V1,
}

/// An IMDSv2 client. One per detection run; the token is reused by every GET.
pub struct Imds {
    http: MetadataHttp,
    base: String,
    timeout: Duration,
    ttl: u64,
    session: tokio::sync::Mutex<Option<Session>>,
}

impl Imds {
    /// A client of `base` (e.g. [`DEFAULT_ENDPOINT`]); each call is bounded by `timeout`.
    pub fn new(http: MetadataHttp, base: &str, timeout: Duration) -> Self {
        Imds {
            http,
            base: base.trim_end_matches('/').to_string(),
            timeout,
            ttl: TOKEN_TTL_SECS,
            session: tokio::sync::Mutex::new(None),
        }
    }

    /// Asks for tokens of `secs` seconds (tests use short ones).
    pub fn with_token_ttl(mut self, secs: u64) -> Self {
        self.ttl = secs.max(1);
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A usable session: the cached one, or a new token.
    async fn session(&self, renew: bool) -> Result<Session, MetadataError> {
        let mut cur = self.session.lock().await;
        if !renew {
            match &*cur {
                Some(Session::Token(t, until)) if Instant::now() < *until => {
                    return Ok(Session::Token(t.clone(), *until))
                }
                Some(Session::V1) => return Ok(Session::V1),
                _ => {}
            }
        }
        let url = self.url(TOKEN_PATH);
        let ttl = self.ttl.to_string();
        let put_timeout = self.timeout.min(TOKEN_PUT_TIMEOUT);
        let s = match self
            .http
            .call(Method::PUT, &url, &[(TTL_HEADER, &ttl)], put_timeout)
            .await
        {
            Ok(a) if a.status == 200 => {
                let token = text(&url, &a.body)?;
                if token.is_empty() {
                    return Err(MetadataError::Invalid {
                        url,
                        message: "empty token".into(),
                    });
                }
                // Stop using it a little before it expires (a tenth of its life, at most a minute).
                let margin = Duration::from_secs((self.ttl / 10).min(60));
                let until = Instant::now() + Duration::from_secs(self.ttl) - margin;
                Session::Token(token, until)
            }
            Ok(a) if (403..=405).contains(&a.status) => {
                tracing::debug!(endpoint = %url, status = a.status, "IMDSv2 token refused; using IMDSv1.");
                Session::V1
            }
            Ok(a) => {
                return Err(ok_body(&url, a).err().unwrap_or(MetadataError::Invalid {
                    url: url.clone(),
                    message: "unexpected token answer".into(),
                }))
            }
            Err(MetadataError::Timeout { .. }) => {
                tracing::warn!(endpoint = %url, timeout = ?put_timeout,
                    "IMDSv2 token request got no answer; trying IMDSv1 once. Inside a container this usually means the instance's metadata hop limit is 1 (set HttpPutResponseHopLimit to 2).");
                Session::V1
            }
            Err(e) => return Err(e),
        };
        *cur = Some(s.clone());
        Ok(s)
    }

    /// GET `path` (e.g. [`PATH_INSTANCE_ID`]) with the session token; a `401`
    /// fetches a new token and tries once more.
    pub async fn get(&self, path: &str) -> Result<bytes::Bytes, MetadataError> {
        self.get_within(path, self.timeout).await
    }

    /// As [`get`](Self::get), each request bounded by `timeout` (a short probe
    /// tells whether IMDS is there at all).
    pub async fn get_within(
        &self,
        path: &str,
        timeout: Duration,
    ) -> Result<bytes::Bytes, MetadataError> {
        let url = self.url(path);
        let mut renew = false;
        loop {
            let session = self.session(renew).await?;
            let answer = match &session {
                Session::Token(t, _) => {
                    self.http
                        .call(Method::GET, &url, &[(TOKEN_HEADER, t)], timeout)
                        .await?
                }
                Session::V1 => self.http.call(Method::GET, &url, &[], timeout).await?,
            };
            if answer.status == 401 && !renew {
                tracing::debug!(endpoint = %url, "IMDS token rejected; fetching a new one.");
                renew = true;
                continue;
            }
            return ok_body(&url, answer);
        }
    }

    /// GET `path` as trimmed text.
    pub async fn get_text(&self, path: &str) -> Result<String, MetadataError> {
        let body = self.get(path).await?;
        text(&self.url(path), &body)
    }

    /// The instance identity document.
    pub async fn identity(&self) -> Result<IdentityDocument, MetadataError> {
        let body = self.get(PATH_IDENTITY).await?;
        IdentityDocument::parse(&self.url(PATH_IDENTITY), &body)
    }
}
