//! The HTTP(S) client: plain or TLS per URL, HTTP/1.1 and h2, pooled, through
//! the environment's proxy ([`ProxyConnector`]).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;

use super::proxy::ProxyConnector;
use crate::config::tls::ClientTls;

/// The client every [`HttpSender`](super::HttpSender) uses.
pub type HttpsClient =
    hyper_util::client::legacy::Client<hyper_rustls::HttpsConnector<ProxyConnector>, Full<Bytes>>;

/// An HTTP/1.1 + h2 client (plain or TLS per URL) with `tls` settings, the
/// environment's proxy and idle connections kept for 60 s.
pub fn https_client(tls: &ClientTls) -> Result<HttpsClient, String> {
    https_client_via(tls, ProxyConnector::from_env())
}

/// As [`https_client`], connecting through `connector`.
pub fn https_client_via(tls: &ClientTls, connector: ProxyConnector) -> Result<HttpsClient, String> {
    let tls = crate::config::tls::build::client(tls)?;
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(connector);
    Ok(
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(https),
    )
}
