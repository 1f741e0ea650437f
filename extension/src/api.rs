//! Client of the Lambda Extensions API and the Telemetry API subscription
//! (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html>,
//! <https://docs.aws.amazon.com/lambda/latest/dg/telemetry-api-reference.html>).
//! Plain HTTP/1.1 to `AWS_LAMBDA_RUNTIME_API` (`host:port`), hyper 1.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

const EXTENSION_PATH: &str = "/2020-01-01/extension";
const TELEMETRY_PATH: &str = "/2022-07-01/telemetry";
/// Schema of the Telemetry API records Tern reads.
pub const TELEMETRY_SCHEMA: &str = "2022-12-13";
const ID_HEADER: &str = "Lambda-Extension-Identifier";
const MAX_RESPONSE: usize = 6 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{what}: {source}")]
    Transport {
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{what}: HTTP {status}: {body}")]
    Status {
        what: &'static str,
        status: u16,
        body: String,
    },
    #[error("{what}: {message}")]
    Invalid { what: &'static str, message: String },
}

/// What `/event/next` returns.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(tag = "eventType")]
pub enum Event {
    #[serde(rename = "INVOKE", rename_all = "camelCase")]
    Invoke {
        request_id: String,
        /// The invocation's deadline, in milliseconds since the epoch.
        #[serde(default)]
        deadline_ms: u64,
    },
    #[serde(rename = "SHUTDOWN", rename_all = "camelCase")]
    Shutdown {
        #[serde(default)]
        shutdown_reason: String,
        /// When the environment is torn down, in milliseconds since the epoch.
        #[serde(default)]
        deadline_ms: u64,
    },
}

/// A registered extension's handle on the API.
#[derive(Clone)]
pub struct ExtensionsApi {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl ExtensionsApi {
    /// `runtime_api` is `AWS_LAMBDA_RUNTIME_API` (`host:port`).
    pub fn new(runtime_api: &str) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        ExtensionsApi {
            base: format!("http://{}", runtime_api.trim_end_matches('/')),
            client,
        }
    }

    async fn call(
        &self,
        what: &'static str,
        method: http::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<(http::HeaderMap, Bytes), ApiError> {
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if !body.is_empty() {
            req = req.header(http::header::CONTENT_TYPE, "application/json");
        }
        let req = req.body(Full::new(body)).map_err(|e| ApiError::Invalid {
            what,
            message: e.to_string(),
        })?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| ApiError::Transport {
                what,
                source: Box::new(e),
            })?;
        let (parts, body) = resp.into_parts();
        let body = Limited::new(body, MAX_RESPONSE)
            .collect()
            .await
            .map_err(|source| ApiError::Transport { what, source })?
            .to_bytes();
        if !parts.status.is_success() {
            return Err(ApiError::Status {
                what,
                status: parts.status.as_u16(),
                body: String::from_utf8_lossy(&body).chars().take(512).collect(),
            });
        }
        Ok((parts.headers, body))
    }

    /// Registers for `events`; returns the extension identifier.
    pub async fn register(&self, name: &str, events: &[&str]) -> Result<String, ApiError> {
        let what = "register";
        let body = serde_json::json!({ "events": events }).to_string();
        let (headers, _) = self
            .call(
                what,
                http::Method::POST,
                &format!("{EXTENSION_PATH}/register"),
                &[("Lambda-Extension-Name", name)],
                Bytes::from(body),
            )
            .await?;
        headers
            .get(ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .ok_or(ApiError::Invalid {
                what,
                message: format!("no {ID_HEADER} header in the answer"),
            })
    }

    /// Blocks until the next event.
    pub async fn next(&self, id: &str) -> Result<Event, ApiError> {
        let what = "event/next";
        let (_, body) = self
            .call(
                what,
                http::Method::GET,
                &format!("{EXTENSION_PATH}/event/next"),
                &[(ID_HEADER, id)],
                Bytes::new(),
            )
            .await?;
        serde_json::from_slice(&body).map_err(|e| ApiError::Invalid {
            what,
            message: format!("unexpected event: {e}"),
        })
    }

    /// Reports a failed initialisation (the extension exits afterwards).
    pub async fn init_error(&self, id: &str, kind: &str, message: &str) -> Result<(), ApiError> {
        self.report_error("init/error", "init/error", id, kind, message)
            .await
    }

    /// Reports a fatal error before exiting.
    pub async fn exit_error(&self, id: &str, kind: &str, message: &str) -> Result<(), ApiError> {
        self.report_error("exit/error", "exit/error", id, kind, message)
            .await
    }

    async fn report_error(
        &self,
        what: &'static str,
        path: &str,
        id: &str,
        kind: &str,
        message: &str,
    ) -> Result<(), ApiError> {
        let body = serde_json::json!({
            "errorMessage": message,
            "errorType": kind,
            "stackTrace": [],
        })
        .to_string();
        self.call(
            what,
            http::Method::POST,
            &format!("{EXTENSION_PATH}/{path}"),
            &[
                (ID_HEADER, id),
                ("Lambda-Extension-Function-Error-Type", kind),
            ],
            Bytes::from(body),
        )
        .await
        .map(|_| ())
    }

    /// Subscribes `destination` to the Telemetry API for `types`.
    pub async fn subscribe(
        &self,
        id: &str,
        destination: &str,
        types: &[&str],
        timeout_ms: u32,
    ) -> Result<(), ApiError> {
        let body = serde_json::json!({
            "schemaVersion": TELEMETRY_SCHEMA,
            "destination": { "protocol": "HTTP", "URI": destination },
            "types": types,
            "buffering": { "maxItems": 1000, "maxBytes": 262144, "timeoutMs": timeout_ms },
        })
        .to_string();
        self.call(
            "telemetry subscribe",
            http::Method::PUT,
            TELEMETRY_PATH,
            &[(ID_HEADER, id)],
            Bytes::from(body),
        )
        .await
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_parse() {
        let inv: Event = serde_json::from_str(
            r#"{"eventType":"INVOKE","deadlineMs":1676051472017,"requestId":"3da1f2dc-3222-475e-9205-e2e6c6318895","invokedFunctionArn":"arn:aws:lambda:us-east-1:123456789012:function:f","tracing":{"type":"X-Amzn-Trace-Id","value":"Root=1-5f35ae12-0c0fec141ab77a00bc047aa2;Parent=2be948a625588e32;Sampled=1"}}"#,
        )
        .unwrap();
        assert_eq!(
            inv,
            Event::Invoke {
                request_id: "3da1f2dc-3222-475e-9205-e2e6c6318895".into(),
                deadline_ms: 1676051472017
            }
        );
        let sd: Event = serde_json::from_str(
            r#"{"eventType":"SHUTDOWN","shutdownReason":"spindown","deadlineMs":1676051474017}"#,
        )
        .unwrap();
        assert_eq!(
            sd,
            Event::Shutdown {
                shutdown_reason: "spindown".into(),
                deadline_ms: 1676051474017
            }
        );
        assert!(serde_json::from_str::<Event>(r#"{"eventType":"RESTORE"}"#).is_err());
    }
}
