//! [`HttpSender`]: POSTs a body to one URL with default and configured headers,
//! optional compression and signing, and classifies the answer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use thiserror::Error;

use super::answer::HttpAnswer;
use super::client::{https_client, HttpsClient};
use super::sign::RequestSigner;
use super::status::{StatusClass, StatusPolicy};
use crate::compression::Encoding;
use crate::config::tls::ClientTls;

/// Why a request was not delivered.
#[derive(Debug, Error)]
pub enum SendError {
    /// The request could not be built (permanent).
    #[error("{0}")]
    Build(String),
    /// The signer failed (retryable: credentials may come back).
    #[error("signing the request failed: {0}")]
    Sign(String),
    /// No answer: connection, TLS or protocol failure (retryable).
    #[error("failed to make an HTTP request: {0}")]
    Transport(#[source] hyper_util::client::legacy::Error),
    /// The backend answered with a status that is not a success.
    #[error("HTTP status {}: {}", .answer.status, .answer.excerpt())]
    Refused {
        answer: HttpAnswer,
        /// [`StatusClass::Retryable`] or [`StatusClass::Permanent`].
        class: StatusClass,
    },
}

impl SendError {
    pub fn is_retryable(&self) -> bool {
        match self {
            SendError::Build(_) => false,
            SendError::Sign(_) | SendError::Transport(_) => true,
            SendError::Refused { class, .. } => *class == StatusClass::Retryable,
        }
    }

    /// The delay the backend asked for, on a retryable refusal.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SendError::Refused {
                answer,
                class: StatusClass::Retryable,
            } => answer.retry_after,
            _ => None,
        }
    }

    /// Whether the request left the process (it was built and signed).
    pub fn was_sent(&self) -> bool {
        matches!(self, SendError::Transport(_) | SendError::Refused { .. })
    }
}

/// POSTs bodies to one URL. Per request: `Content-Length`, `Content-Encoding`
/// (when compressing), the default headers, then the configured headers
/// (which replace defaults of the same name), then the signer.
#[derive(Clone)]
pub struct HttpSender {
    client: HttpsClient,
    uri: hyper::Uri,
    headers: HeaderMap,
    encoding: Encoding,
    level: Option<i32>,
    signer: Option<Arc<dyn RequestSigner>>,
    policy: StatusPolicy,
}

impl HttpSender {
    /// A sender to `uri` with a new client (TLS from `tls`), no headers, no
    /// compression, no signer and the default status rules.
    pub fn new(uri: hyper::Uri, tls: &ClientTls) -> Result<Self, String> {
        Ok(Self::with_client(uri, https_client(tls)?))
    }

    /// A sender to `uri` over an existing client (shares its connection pool).
    pub fn with_client(uri: hyper::Uri, client: HttpsClient) -> Self {
        HttpSender {
            client,
            uri,
            headers: HeaderMap::new(),
            encoding: Encoding::Identity,
            level: None,
            signer: None,
            policy: StatusPolicy::DEFAULT,
        }
    }

    /// Adds a default header (the protocol's: content type, user agent, …).
    pub fn default_header(mut self, name: HeaderName, value: &'static str) -> Self {
        self.headers.insert(name, HeaderValue::from_static(value));
        self
    }

    /// Adds the user's `headers:`; they replace defaults of the same name.
    pub fn configured_headers(
        mut self,
        headers: &BTreeMap<String, String>,
    ) -> Result<Self, String> {
        for (k, v) in headers {
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| e.to_string())?;
            let value = HeaderValue::from_str(v).map_err(|e| format!("header {k}: {e}"))?;
            self.headers.insert(name, value);
        }
        Ok(self)
    }

    /// Compresses bodies built with [`compress`](Self::compress) and labels
    /// every request with the `Content-Encoding`.
    pub fn compression(mut self, encoding: Encoding, level: Option<i32>) -> Self {
        self.encoding = encoding;
        self.level = level;
        self
    }

    /// Signs every request (after all headers are set, over the exact body).
    pub fn signer(mut self, signer: Option<Arc<dyn RequestSigner>>) -> Self {
        self.signer = signer;
        self
    }

    /// How answers are classified.
    pub fn policy(mut self, policy: StatusPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub fn uri(&self) -> &hyper::Uri {
        &self.uri
    }

    /// The body for `parts` written back to back, compressed as configured
    /// (done once per batch, not per attempt).
    pub fn compress(&self, parts: &[Bytes]) -> std::io::Result<Bytes> {
        crate::compression::compress(self.encoding, parts, self.level).map(Bytes::from)
    }

    /// One attempt: POSTs `body` (already compressed) and reads the answer.
    /// `Ok` only for a success status.
    pub async fn send(&self, body: Bytes) -> Result<HttpAnswer, SendError> {
        let mut req =
            hyper::Request::post(self.uri.clone()).header(header::CONTENT_LENGTH, body.len());
        if let Some(name) = content_encoding(self.encoding) {
            req = req.header(header::CONTENT_ENCODING, name);
        }
        let mut req = req
            .body(Full::new(body.clone()))
            .map_err(|e| SendError::Build(e.to_string()))?;
        for (k, v) in &self.headers {
            req.headers_mut().insert(k.clone(), v.clone());
        }
        if let Some(signer) = &self.signer {
            signer
                .sign(&mut req, &body)
                .await
                .map_err(SendError::Sign)?;
        }
        let resp = self
            .client
            .request(req)
            .await
            .map_err(SendError::Transport)?;
        let answer = HttpAnswer::read(resp).await;
        match self.policy.classify(answer.status, &answer.body) {
            StatusClass::Success => Ok(answer),
            class => Err(SendError::Refused { answer, class }),
        }
    }
}

fn content_encoding(e: Encoding) -> Option<&'static str> {
    match e {
        Encoding::Identity => None,
        Encoding::Gzip => Some("gzip"),
        Encoding::Zstd => Some("zstd"),
        Encoding::Deflate => Some("deflate"),
    }
}

#[cfg(test)]
mod tests {
    //! The sender against an in-process HTTP server on port 0.

    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Mutex;

    use http_body_util::BodyExt;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;

    use super::*;

    /// What the server saw of one request.
    struct Seen {
        headers: HeaderMap,
        body: Bytes,
    }

    type Log = Arc<Mutex<Vec<Seen>>>;

    /// Answers with `script` (status, Retry-After, body) in order, then 200,
    /// and records every request.
    async fn server(script: Vec<(u16, Option<&'static str>, &'static str)>) -> (hyper::Uri, Log) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}/v1/push", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        let log: Log = Arc::default();
        let script = Arc::new(Mutex::new(script.into_iter()));
        let log2 = log.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let (log, script) = (log2.clone(), script.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (log, script) = (log.clone(), script.clone());
                        async move {
                            let headers = req.headers().clone();
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            log.lock().unwrap().push(Seen { headers, body });
                            let (status, retry_after, text) =
                                script.lock().unwrap().next().unwrap_or((200, None, "ok"));
                            let mut resp = hyper::Response::builder().status(status);
                            if let Some(ra) = retry_after {
                                resp = resp.header(header::RETRY_AFTER, ra);
                            }
                            Ok::<_, std::convert::Infallible>(
                                resp.body(Full::new(Bytes::from_static(text.as_bytes())))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        (uri, log)
    }

    /// Records the bodies it signs and stamps a header carrying their length.
    #[derive(Default)]
    struct RecordingSigner {
        bodies: Mutex<Vec<Vec<u8>>>,
        headers_at_signing: Mutex<Vec<HeaderMap>>,
    }

    impl RequestSigner for RecordingSigner {
        fn sign<'a>(
            &'a self,
            req: &'a mut http::Request<Full<Bytes>>,
            body: &'a [u8],
        ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
            Box::pin(async move {
                self.bodies.lock().unwrap().push(body.to_vec());
                self.headers_at_signing
                    .lock()
                    .unwrap()
                    .push(req.headers().clone());
                req.headers_mut().insert(
                    "x-signature",
                    HeaderValue::from_str(&format!("len={}", body.len())).unwrap(),
                );
                Ok(())
            })
        }
    }

    struct FailingSigner;

    impl RequestSigner for FailingSigner {
        fn sign<'a>(
            &'a self,
            _req: &'a mut http::Request<Full<Bytes>>,
            _body: &'a [u8],
        ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
            Box::pin(async { Err("no credentials".to_string()) })
        }
    }

    #[tokio::test]
    async fn default_then_configured_headers_and_compressed_body() {
        let (uri, log) = server(vec![]).await;
        let configured: BTreeMap<String, String> = [
            ("x-tenant".to_string(), "blue".to_string()),
            ("user-agent".to_string(), "custom/1".to_string()),
        ]
        .into();
        let sender = HttpSender::new(uri, &ClientTls::default())
            .unwrap()
            .default_header(header::CONTENT_TYPE, "application/x-protobuf")
            .default_header(header::USER_AGENT, "tern/test")
            .configured_headers(&configured)
            .unwrap()
            .compression(Encoding::Gzip, None);
        let payload = b"hello hello hello hello".repeat(10);
        let body = sender
            .compress(&[
                Bytes::from(payload[..100].to_vec()),
                Bytes::from(payload[100..].to_vec()),
            ])
            .unwrap();
        let answer = sender.send(body.clone()).await.unwrap();
        assert_eq!(answer.status, 200);
        assert_eq!(&answer.body[..], b"ok");

        let log = log.lock().unwrap();
        assert_eq!(log.len(), 1);
        let h = &log[0].headers;
        assert_eq!(h[header::CONTENT_TYPE], "application/x-protobuf");
        assert_eq!(
            h[header::USER_AGENT],
            "custom/1",
            "configured replaces default"
        );
        assert_eq!(h["x-tenant"], "blue");
        assert_eq!(h[header::CONTENT_ENCODING], "gzip");
        assert_eq!(h[header::CONTENT_LENGTH], body.len().to_string().as_str());
        assert_eq!(log[0].body, body);
        let plain = crate::compression::decompress(Encoding::Gzip, &log[0].body, 1 << 20).unwrap();
        assert_eq!(plain, payload);
    }

    #[tokio::test]
    async fn no_content_encoding_without_compression() {
        let (uri, log) = server(vec![]).await;
        let sender = HttpSender::new(uri, &ClientTls::default()).unwrap();
        let body = sender.compress(&[Bytes::from_static(b"raw")]).unwrap();
        assert_eq!(&body[..], b"raw");
        sender.send(body).await.unwrap();
        let log = log.lock().unwrap();
        assert!(log[0].headers.get(header::CONTENT_ENCODING).is_none());
        assert_eq!(&log[0].body[..], b"raw");
    }

    #[tokio::test]
    async fn the_signer_sees_every_header_and_the_exact_body() {
        let (uri, log) = server(vec![(503, None, "busy")]).await;
        let signer = Arc::new(RecordingSigner::default());
        let sender = HttpSender::new(uri, &ClientTls::default())
            .unwrap()
            .default_header(header::CONTENT_TYPE, "application/x-protobuf")
            .configured_headers(&[("x-tenant".to_string(), "blue".to_string())].into())
            .unwrap()
            .compression(Encoding::Zstd, None)
            .signer(Some(signer.clone()));
        let body = sender.compress(&[Bytes::from_static(b"payload")]).unwrap();
        // Once per attempt: the retryable refusal and the retry.
        assert!(sender.send(body.clone()).await.unwrap_err().is_retryable());
        sender.send(body.clone()).await.unwrap();

        let signed = signer.bodies.lock().unwrap();
        assert_eq!(*signed, vec![body.to_vec(), body.to_vec()]);
        let at_signing = &signer.headers_at_signing.lock().unwrap()[0];
        assert_eq!(at_signing["x-tenant"], "blue");
        assert_eq!(at_signing[header::CONTENT_ENCODING], "zstd");
        assert_eq!(at_signing[header::CONTENT_TYPE], "application/x-protobuf");
        let log = log.lock().unwrap();
        let want = format!("len={}", body.len());
        for seen in log.iter() {
            assert_eq!(seen.headers["x-signature"], want.as_str());
            assert_eq!(seen.body, body);
        }
    }

    #[tokio::test]
    async fn a_signing_failure_is_retryable_and_nothing_is_sent() {
        let (uri, log) = server(vec![]).await;
        let sender = HttpSender::new(uri, &ClientTls::default())
            .unwrap()
            .signer(Some(Arc::new(FailingSigner)));
        let err = sender.send(Bytes::from_static(b"x")).await.unwrap_err();
        assert!(matches!(err, SendError::Sign(_)), "{err:?}");
        assert!(err.is_retryable());
        assert!(!err.was_sent());
        assert_eq!(
            err.to_string(),
            "signing the request failed: no credentials"
        );
        assert!(log.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn retry_after_is_reported_on_retryable_answers_only() {
        let (uri, _log) = server(vec![
            (429, Some("3"), "slow down"),
            (503, None, "busy"),
            (400, Some("9"), "out of order sample"),
        ])
        .await;
        let sender = HttpSender::new(uri, &ClientTls::default()).unwrap();
        let body = Bytes::from_static(b"x");

        let e = sender.send(body.clone()).await.unwrap_err();
        assert!(e.is_retryable());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        assert_eq!(e.to_string(), "HTTP status 429: slow down");

        let e = sender.send(body.clone()).await.unwrap_err();
        assert!(e.is_retryable());
        assert_eq!(e.retry_after(), None);

        let e = sender.send(body.clone()).await.unwrap_err();
        assert!(!e.is_retryable());
        assert_eq!(e.retry_after(), None, "a permanent refusal is not retried");
        match &e {
            SendError::Refused { answer, class } => {
                assert_eq!(*class, StatusClass::Permanent);
                assert_eq!(answer.status, 400);
                assert_eq!(answer.excerpt(), "out of order sample");
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn the_policy_decides() {
        fn strict(status: u16, _: &[u8]) -> Option<StatusClass> {
            (status == 408).then_some(StatusClass::Permanent)
        }
        let (uri, _log) = server(vec![(408, None, ""), (408, None, "")]).await;
        let default = HttpSender::new(uri.clone(), &ClientTls::default()).unwrap();
        assert!(default.send(Bytes::new()).await.unwrap_err().is_retryable());
        let strict = default.policy(StatusPolicy::with_override(strict));
        assert!(!strict.send(Bytes::new()).await.unwrap_err().is_retryable());
    }

    #[tokio::test]
    async fn no_answer_is_a_retryable_transport_error() {
        // A port that was just free: connection refused.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let uri = format!("http://127.0.0.1:{port}/").parse().unwrap();
        let sender = HttpSender::new(uri, &ClientTls::default()).unwrap();
        let e = sender.send(Bytes::from_static(b"x")).await.unwrap_err();
        assert!(matches!(e, SendError::Transport(_)), "{e:?}");
        assert!(e.is_retryable());
        assert!(e.was_sent());
        assert!(e
            .to_string()
            .starts_with("failed to make an HTTP request: "));
    }

    /// A CONNECT proxy that tunnels every request to `backend`, recording the
    /// request lines and headers it got.
    async fn connect_proxy(backend: String) -> (u16, Arc<Mutex<Vec<String>>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let heads: Arc<Mutex<Vec<String>>> = Arc::default();
        let h2 = heads.clone();
        tokio::spawn(async move {
            loop {
                let (mut client, _) = listener.accept().await.unwrap();
                let (heads, backend) = (h2.clone(), backend.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        client.read_exact(&mut byte).await.unwrap();
                        head.push(byte[0]);
                    }
                    heads.lock().unwrap().push(String::from_utf8(head).unwrap());
                    let mut upstream = tokio::net::TcpStream::connect(backend).await.unwrap();
                    client
                        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        .await
                        .unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                });
            }
        });
        (port, heads)
    }

    #[tokio::test]
    async fn requests_tunnel_through_the_proxy_the_rules_pick() {
        use hyper_util::client::proxy::matcher::Matcher;
        let (backend, log) = server(vec![]).await;
        let backend_addr = backend.authority().unwrap().to_string();
        let (proxy_port, heads) = connect_proxy(backend_addr).await;
        let rules = Matcher::builder()
            .http(format!("http://u:p@127.0.0.1:{proxy_port}"))
            .no("direct.test")
            .build();
        let client = super::super::client::https_client_via(
            &ClientTls::default(),
            super::super::ProxyConnector::new(Some(rules)),
        )
        .unwrap();
        let sender =
            HttpSender::with_client("http://backend.test/v1/push".parse().unwrap(), client)
                .default_header(header::CONTENT_TYPE, "application/x-protobuf");
        sender.send(Bytes::from_static(b"via proxy")).await.unwrap();

        let heads = heads.lock().unwrap();
        assert_eq!(heads.len(), 1);
        assert!(
            heads[0].starts_with("CONNECT backend.test:80 HTTP/1.1\r\n"),
            "{}",
            heads[0]
        );
        assert!(
            heads[0].contains("Proxy-Authorization: Basic dTpw\r\n"),
            "{}",
            heads[0]
        );
        let log = log.lock().unwrap();
        assert_eq!(&log[0].body[..], b"via proxy");
        assert_eq!(log[0].headers[header::HOST], "backend.test");
        assert_eq!(
            log[0].headers[header::CONTENT_TYPE],
            "application/x-protobuf"
        );
    }
}
