//! The one outgoing HTTP sender the exporters (and scraping receivers) share:
//! an HTTP/1.1 + h2 client with TLS ([`client`]) through the environment's
//! proxy ([`proxy`]), default and configured
//! headers, body compression, an optional [`RequestSigner`] ([`sign`]), a bounded
//! response reader ([`answer`]) and one status classifier with a per-backend
//! policy hook ([`status`]).
//!
//! Layering: this module imports only `config::tls`, `compression` and lower
//! layers, never a component, so any component kind may use it.

pub mod answer;
pub mod client;
pub mod proxy;
pub mod sender;
pub mod sign;
pub mod status;

pub use answer::{parse_retry_after, HttpAnswer};
pub use client::{https_client, https_client_via, HttpsClient};
pub use proxy::ProxyConnector;
pub use sender::{HttpSender, SendError};
pub use sign::RequestSigner;
pub use status::{StatusClass, StatusPolicy};
