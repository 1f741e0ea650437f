//! Outgoing connections through an HTTP proxy, chosen per destination from
//! `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` and `NO_PROXY` (curl's rules, as
//! hyper-util reads them). A proxied connection is an HTTP `CONNECT` tunnel
//! (for `http://` destinations too), so TLS stays end to end. As Go's
//! `ProxyFromEnvironment` (the upstream collector's), loopback destinations
//! (`localhost`, `127.0.0.0/8`, `::1`) are never proxied. Only `http://` proxy
//! URLs are supported.

use std::error::Error as StdError;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::Uri;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service;

type BoxError = Box<dyn StdError + Send + Sync>;

/// A TCP connector that tunnels through the proxy the rules pick for each
/// destination, or connects directly.
#[derive(Clone)]
pub struct ProxyConnector {
    direct: HttpConnector,
    rules: Option<Arc<Matcher>>,
}

impl ProxyConnector {
    /// Proxies as the environment says (no proxy variables: always direct).
    pub fn from_env() -> Self {
        let set = [
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
            "all_proxy",
        ]
        .iter()
        .any(|k| std::env::var(k).is_ok_and(|v| !v.trim().is_empty()));
        Self::new(set.then(Matcher::from_env))
    }

    /// Proxies as `rules` say; `None` connects directly.
    pub fn new(rules: Option<Matcher>) -> Self {
        let mut direct = HttpConnector::new();
        direct.enforce_http(false);
        ProxyConnector {
            direct,
            rules: rules.map(Arc::new),
        }
    }

    /// The proxy for `dst` and its `Proxy-Authorization`, if any.
    fn proxy_for(&self, dst: &Uri) -> Option<(Uri, Option<http::HeaderValue>)> {
        if is_loopback(dst) {
            return None;
        }
        let i = self.rules.as_ref()?.intercept(dst)?;
        Some((i.uri().clone(), i.basic_auth().cloned()))
    }
}

fn is_loopback(dst: &Uri) -> bool {
    let Some(host) = dst.host() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `dst` with its port spelled out (the tunnel would assume 443).
fn with_port(dst: Uri) -> Uri {
    if dst.port().is_some() {
        return dst;
    }
    let port = if dst.scheme_str() == Some("http") {
        80
    } else {
        443
    };
    let host = dst.host().unwrap_or_default();
    format!("{}://{host}:{port}/", dst.scheme_str().unwrap_or("https"))
        .parse()
        .unwrap_or(dst)
}

impl Service<Uri> for ProxyConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.direct.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let mut direct = self.direct.clone();
        match self.proxy_for(&dst) {
            None => Box::pin(async move { direct.call(dst).await.map_err(Into::into) }),
            Some((proxy, auth)) => {
                let mut tunnel = Tunnel::new(proxy, direct);
                if let Some(auth) = auth {
                    tunnel = tunnel.with_auth(auth);
                }
                let dst = with_port(dst);
                Box::pin(async move { tunnel.call(dst).await.map_err(Into::into) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> ProxyConnector {
        ProxyConnector::new(Some(
            Matcher::builder()
                .http("http://user:pw@proxy.test:3128")
                .https("http://proxy.test:3129")
                .no("internal.test")
                .build(),
        ))
    }

    #[test]
    fn the_rules_pick_the_proxy_per_destination() {
        let c = rules();
        let pick = |u: &str| {
            c.proxy_for(&u.parse().unwrap())
                .map(|(p, a)| (p.to_string(), a))
        };
        let (p, auth) = pick("https://aps.example.com/api/v1/write").unwrap();
        assert_eq!(p, "http://proxy.test:3129/");
        assert!(auth.is_none());
        let (p, auth) = pick("http://collector.example.com:4318/v1/traces").unwrap();
        assert_eq!(p, "http://proxy.test:3128/");
        assert_eq!(auth.unwrap(), "Basic dXNlcjpwdw==");
        assert!(pick("https://internal.test/x").is_none(), "NO_PROXY");
        for local in [
            "http://localhost:4318/",
            "http://127.0.0.1:9/",
            "https://[::1]:443/",
        ] {
            assert!(pick(local).is_none(), "{local} is never proxied");
        }
        assert!(ProxyConnector::new(None)
            .proxy_for(&"https://aps.example.com/".parse().unwrap())
            .is_none());
    }

    #[test]
    fn tunnel_targets_carry_their_port() {
        assert_eq!(
            with_port("http://a.test/x".parse().unwrap()).to_string(),
            "http://a.test:80/"
        );
        assert_eq!(
            with_port("https://a.test/x".parse().unwrap()).to_string(),
            "https://a.test:443/"
        );
        assert_eq!(
            with_port("https://a.test:8443/x".parse().unwrap()).port_u16(),
            Some(8443)
        );
    }
}
