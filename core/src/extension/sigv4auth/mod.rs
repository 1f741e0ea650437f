//! The `sigv4auth` extension: signs exporter requests with AWS Signature V4
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html>), e.g.
//! remote writes to Amazon Managed Prometheus (`aps:RemoteWrite`). Exporters use
//! it with `auth: {authenticator: sigv4auth}`.

pub mod config;

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_credential_types::provider::ProvideCredentials;
use bytes::Bytes;
use http_body_util::Full;
use serde_yaml_ng::Value;

use crate::aws::{service_from_host, Signer};
use crate::component::auth::{HttpAuthenticator, RequestSigner};
use crate::component::{
    parse_config, BuildContext, BuildError, ComponentId, ConfigIssue, ExtensionConfig,
    ExtensionFactory, Running,
};
use crate::pipeline::stage::BoxFuture;
use config::SigV4Config;

/// Factory of the `sigv4auth` extension.
pub struct SigV4AuthFactory;

/// A started `sigv4auth`: loaded AWS configuration, signers made per endpoint.
pub struct SigV4Auth {
    id: String,
    cfg: SigV4Config,
    sdk: SdkConfig,
}

impl SigV4Auth {
    /// Service and region for `host`: configured, else inferred from the host,
    /// else (region only) the SDK's region.
    pub fn resolve(&self, host: &str) -> Result<(String, String), String> {
        let inferred = service_from_host(host);
        let service = self
            .cfg
            .service
            .clone()
            .filter(|s| !s.is_empty())
            .or_else(|| inferred.as_ref().map(|(s, _)| s.clone()))
            .ok_or_else(|| {
                format!(
                    "{}: cannot infer the signing service from host {host:?}; set `service`",
                    self.id
                )
            })?;
        let region = self
            .cfg
            .region
            .clone()
            .filter(|r| !r.is_empty())
            .or_else(|| inferred.map(|(_, r)| r))
            .or_else(|| self.sdk.region().map(|r| r.to_string()))
            .ok_or_else(|| format!("{}: no signing region; set `region`", self.id))?;
        Ok((service, region))
    }
}

impl HttpAuthenticator for SigV4Auth {
    fn signer_for(&self, endpoint: &http::Uri) -> Result<Arc<dyn RequestSigner>, String> {
        let host = endpoint.host().unwrap_or_default();
        let (service, region) = self.resolve(host)?;
        let signer = Signer::new(&self.sdk, service.clone())
            .map_err(|e| e.to_string())?
            .with_region(region.clone());
        tracing::info!(extension = %self.id, %service, %region, host, "SigV4 signing configured.");
        Ok(Arc::new(SigV4Signer(signer)))
    }
}

struct SigV4Signer(Signer);

impl RequestSigner for SigV4Signer {
    fn sign<'a>(
        &'a self,
        req: &'a mut http::Request<Full<Bytes>>,
        body: &'a [u8],
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { self.0.sign(req, body).await.map_err(|e| e.to_string()) })
    }
}

impl ExtensionFactory for SigV4AuthFactory {
    fn type_name(&self) -> &'static str {
        "sigv4auth"
    }
    fn parse(
        &self,
        prefix: &str,
        raw: &Value,
    ) -> Result<Box<dyn ExtensionConfig>, Vec<ConfigIssue>> {
        Ok(Box::new(parse_config::<SigV4Config>(prefix, raw)?))
    }
}

impl ExtensionConfig for SigV4Config {
    fn start<'a>(
        &'a self,
        ctx: &'a BuildContext,
        id: &'a ComponentId,
    ) -> BoxFuture<'a, Result<Box<dyn Running>, BuildError>> {
        Box::pin(async move {
            let c = self;
            let sdk = ctx
                .aws
                .load(&c.aws_options())
                .await
                .map_err(|e| BuildError::new(id, e))?;
            // As upstream: credentials are fetched once at start, so a missing or
            // broken credential source fails start-up instead of every export.
            let provider = sdk
                .credentials_provider()
                .ok_or_else(|| BuildError::new(id, "no AWS credentials provider is configured"))?;
            provider
                .provide_credentials()
                .await
                .map_err(|e| BuildError::new(id, format!("cannot get AWS credentials: {e}")))?;
            let auth = SigV4Auth {
                id: id.to_string(),
                cfg: c.clone(),
                sdk,
            };
            ctx.authenticators.publish(id, Arc::new(auth));
            Ok(Box::new(Idle) as Box<dyn Running>)
        })
    }
}

struct Idle;

impl Running for Idle {
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(region: Option<&str>, service: Option<&str>) -> SigV4Auth {
        SigV4Auth {
            id: "sigv4auth".into(),
            cfg: SigV4Config {
                region: region.map(str::to_string),
                service: service.map(str::to_string),
                assume_role: None,
            },
            sdk: SdkConfig::builder()
                .region(aws_config::Region::new("eu-west-1"))
                .build(),
        }
    }

    #[test]
    fn service_and_region_resolution_order() {
        let amp = "aps-workspaces.us-west-2.amazonaws.com";
        let r = |a: SigV4Auth, host: &str| a.resolve(host);
        assert_eq!(
            r(auth(None, None), amp),
            Ok(("aps".into(), "us-west-2".into()))
        );
        assert_eq!(
            r(auth(Some("us-east-1"), Some("custom")), amp),
            Ok(("custom".into(), "us-east-1".into()))
        );
        assert_eq!(
            r(auth(None, Some("aps")), "127.0.0.1"),
            Ok(("aps".into(), "eu-west-1".into())),
            "region falls back to the SDK's"
        );
        let e = r(auth(None, None), "prometheus.internal").unwrap_err();
        assert!(e.contains("set `service`"), "{e}");
    }
}
