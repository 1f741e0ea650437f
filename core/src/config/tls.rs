//! TLS settings shared by servers and clients (`tls:` blocks), backed by rustls.

use serde::Deserialize;

/// Server-side `tls` (receivers, health check).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerTls {
    /// PEM certificate chain.
    pub cert_file: Option<String>,
    /// PEM private key.
    pub key_file: Option<String>,
    /// PEM CA bundle to verify client certificates (mutual TLS); not supported yet.
    pub client_ca_file: Option<String>,
    pub min_version: Option<String>,
}

impl ServerTls {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut v = Vec::new();
        if self.cert_file.is_some() != self.key_file.is_some() {
            v.push((
                "tls".into(),
                "both `cert_file` and `key_file` must be set".into(),
            ));
        }
        if self.client_ca_file.is_some() {
            v.push((
                "tls::client_ca_file".into(),
                "client certificate verification is not supported yet".into(),
            ));
        }
        v
    }
}

/// Client-side `tls` (exporters).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ClientTls {
    /// Plain-text connection (gRPC exporters; `http://` endpoints are always plain).
    pub insecure: bool,
    /// Skip server certificate verification (testing only).
    pub insecure_skip_verify: bool,
    /// Extra PEM CA bundle to trust, besides the bundled web PKI roots.
    pub ca_file: Option<String>,
    /// Client certificate for mutual TLS.
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub server_name_override: Option<String>,
    pub min_version: Option<String>,
}

pub mod build {
    //! Turns the settings into rustls configs (I/O: reads the PEM files).

    use std::sync::Arc;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    use super::{ClientTls, ServerTls};

    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    fn certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
        CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("cannot read certificates from {path:?}: {e}"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("invalid certificate in {path:?}: {e}"))
    }

    fn key(path: &str) -> Result<PrivateKeyDer<'static>, String> {
        PrivateKeyDer::from_pem_file(path)
            .map_err(|e| format!("cannot read private key from {path:?}: {e}"))
    }

    /// A server config, or `None` when TLS is not configured.
    pub fn server(
        tls: &ServerTls,
        alpn: &[&[u8]],
    ) -> Result<Option<Arc<rustls::ServerConfig>>, String> {
        let (Some(cert), Some(k)) = (&tls.cert_file, &tls.key_file) else {
            return Ok(None);
        };
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(certs(cert)?, key(k)?)
            .map_err(|e| format!("invalid certificate/key pair: {e}"))?;
        cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Some(Arc::new(cfg)))
    }

    /// A client config trusting the bundled web PKI roots plus `ca_file`.
    pub fn client(tls: &ClientTls) -> Result<rustls::ClientConfig, String> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(ca) = &tls.ca_file {
            for c in certs(ca)? {
                roots
                    .add(c)
                    .map_err(|e| format!("invalid CA certificate in {ca:?}: {e}"))?;
            }
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots);
        let cfg = match (&tls.cert_file, &tls.key_file) {
            (Some(c), Some(k)) => builder
                .with_client_auth_cert(certs(c)?, key(k)?)
                .map_err(|e| e.to_string())?,
            _ => builder.with_no_client_auth(),
        };
        Ok(cfg)
    }
}
