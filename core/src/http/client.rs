//! The HTTP(S) client: plain or TLS per URL, HTTP/1.1 and h2, pooled.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;

use crate::config::tls::ClientTls;

/// The client every [`HttpSender`](super::HttpSender) uses.
pub type HttpsClient =
    hyper_util::client::legacy::Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// An HTTP/1.1 + h2 client (plain or TLS per URL) with `tls` settings and
/// idle connections kept for 60 s.
pub fn https_client(tls: &ClientTls) -> Result<HttpsClient, String> {
    let tls = crate::config::tls::build::client(tls)?;
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .build();
    Ok(
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(https),
    )
}
