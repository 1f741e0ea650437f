//! AWS plumbing shared by the AWS exporters and the `sigv4auth` extension:
//! the HTTPS client handed to the SDK (hyper 1 + rustls with ring, no aws-lc),
//! region resolution, the standard credential chain (optionally wrapped in an
//! assumed role) and SigV4 request signing over the exact body bytes sent.
//!
//! Nothing here talks to the network until a credential or (IMDS) region is
//! actually needed, so loading configuration never slows start-up.

pub mod ecs_metadata;
#[cfg(test)]
pub(crate) mod fakes;
pub mod imds;
pub mod metadata;
#[cfg(test)]
mod metadata_tests;

use std::sync::OnceLock;
use std::time::SystemTime;

use aws_config::meta::region::RegionProviderChain;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::identity::Identity;
use thiserror::Error;

/// What can go wrong while setting up AWS access or signing.
#[derive(Debug, Error)]
pub enum AwsError {
    #[error(
        "no AWS region: set `region` in the config or AWS_REGION in the environment \
         (on EC2 it is read from instance metadata)"
    )]
    NoRegion,
    #[error("no credentials configured: {0}")]
    NoCredentials(String),
    #[error("loading AWS credentials: {0}")]
    Credentials(String),
    #[error("signing request: {0}")]
    Signing(String),
}

/// The HTTP client every AWS SDK client and credential provider in the process
/// shares (one connection pool).
pub fn http_client() -> SharedHttpClient {
    static CLIENT: OnceLock<SharedHttpClient> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            aws_smithy_http_client::Builder::new()
                .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                    aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                ))
                .build_https()
        })
        .clone()
}

/// A role to assume on top of the base credentials.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssumeRole {
    pub arn: String,
    pub session_name: Option<String>,
    pub external_id: Option<String>,
    /// Region of the STS endpoint; defaults to the resolved region.
    pub sts_region: Option<String>,
    /// With a token file, the role is assumed with `AssumeRoleWithWebIdentity`
    /// (EKS IRSA-style) instead of from the base credentials.
    pub web_identity_token_file: Option<String>,
}

/// How to resolve region and credentials.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsOptions {
    /// Region from the component config; wins over the environment.
    pub region: Option<String>,
    /// Whether the region may come from EC2 instance metadata (IMDSv2) when
    /// neither the config nor the environment sets one (off in `local_mode`).
    pub use_imds_region: bool,
    pub assume_role: Option<AssumeRole>,
}

impl Default for AwsOptions {
    fn default() -> Self {
        AwsOptions {
            region: None,
            use_imds_region: true,
            assume_role: None,
        }
    }
}

const DEFAULT_SESSION_NAME: &str = "tern";

/// Region from the environment only (`AWS_REGION`, then `AWS_DEFAULT_REGION`).
fn env_region() -> Option<Region> {
    ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
        .map(Region::new)
}

/// Resolves the region: config, then environment, then (optionally) the
/// default provider chain, which ends with IMDSv2.
async fn resolve_region(opts: &AwsOptions) -> Result<Region, AwsError> {
    if let Some(r) = opts.region.as_deref().filter(|r| !r.is_empty()) {
        return Ok(Region::new(r.to_string()));
    }
    if let Some(r) = env_region() {
        return Ok(r);
    }
    if opts.use_imds_region {
        let chain = RegionProviderChain::default_provider();
        if let Some(r) = chain.region().await {
            return Ok(r);
        }
    }
    Err(AwsError::NoRegion)
}

/// Loads the SDK configuration: resolved region, the standard credential chain
/// (environment, shared files, web identity, ECS container credentials, IMDSv2),
/// wrapped in an assumed role when asked, and Tern's HTTP client. Credentials
/// are fetched lazily and cached by the SDK, which refreshes them before expiry.
pub async fn load(opts: &AwsOptions) -> Result<SdkConfig, AwsError> {
    let region = resolve_region(opts).await?;
    let base = aws_config::defaults(BehaviorVersion::latest())
        .region(region.clone())
        .http_client(http_client())
        .load()
        .await;
    let Some(role) = &opts.assume_role else {
        return Ok(base);
    };
    let sts_region = role
        .sts_region
        .as_deref()
        .filter(|r| !r.is_empty())
        .map(|r| Region::new(r.to_string()))
        .unwrap_or_else(|| region.clone());
    let session = role
        .session_name
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_SESSION_NAME.to_string());
    let provider: SharedCredentialsProvider = match &role.web_identity_token_file {
        Some(file) if !file.is_empty() => {
            let pc = aws_config::provider_config::ProviderConfig::without_region()
                .with_region(Some(sts_region))
                .with_http_client(http_client());
            SharedCredentialsProvider::new(
                aws_config::web_identity_token::WebIdentityTokenCredentialsProvider::builder()
                    .configure(&pc)
                    .static_configuration(aws_config::web_identity_token::StaticConfiguration {
                        web_identity_token_file: file.into(),
                        role_arn: role.arn.clone(),
                        session_name: session,
                    })
                    .build(),
            )
        }
        _ => {
            let mut b = aws_config::sts::AssumeRoleProvider::builder(role.arn.clone())
                .session_name(session)
                .region(sts_region)
                .configure(&base);
            if let Some(id) = role.external_id.as_deref().filter(|s| !s.is_empty()) {
                b = b.external_id(id);
            }
            SharedCredentialsProvider::new(b.build().await)
        }
    };
    Ok(base.into_builder().credentials_provider(provider).build())
}

/// Signs HTTP requests with SigV4 for one service and region.
#[derive(Clone, Debug)]
pub struct Signer {
    credentials: SharedCredentialsProvider,
    region: String,
    service: String,
}

impl Signer {
    /// A signer using the configuration's credentials and region.
    pub fn new(cfg: &SdkConfig, service: impl Into<String>) -> Result<Self, AwsError> {
        let credentials = cfg.credentials_provider().ok_or_else(|| {
            AwsError::NoCredentials("the AWS configuration has no credentials provider".into())
        })?;
        let region = cfg.region().ok_or(AwsError::NoRegion)?.to_string();
        Ok(Signer {
            credentials,
            region,
            service: service.into(),
        })
    }

    /// The same credentials, another signing region.
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    /// Signs `req` in place, hashing exactly `body` (the bytes that will be
    /// sent). Adds `Authorization`, `X-Amz-Date`, `x-amz-content-sha256` and,
    /// with temporary credentials, `X-Amz-Security-Token`.
    pub async fn sign<B>(&self, req: &mut http::Request<B>, body: &[u8]) -> Result<(), AwsError> {
        let creds = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| AwsError::Credentials(error_chain(&e)))?;
        let identity: Identity = creds.into();
        sign_with(
            &identity,
            &self.region,
            &self.service,
            SystemTime::now(),
            req,
            body,
        )
    }
}

/// Signs with a given identity and time (the deterministic core of [`Signer::sign`]).
pub fn sign_with<B>(
    identity: &Identity,
    region: &str,
    service: &str,
    time: SystemTime,
    req: &mut http::Request<B>,
    body: &[u8],
) -> Result<(), AwsError> {
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
    let params = v4::SigningParams::builder()
        .identity(identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| AwsError::Signing(e.to_string()))?
        .into();
    let uri = req.uri().to_string();
    let headers = req
        .headers()
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)));
    let signable = SignableRequest::new(
        req.method().as_str(),
        &uri,
        headers,
        SignableBody::Bytes(body),
    )
    .map_err(|e| AwsError::Signing(e.to_string()))?;
    let (instructions, _sig) = sign(signable, &params)
        .map_err(|e| AwsError::Signing(error_chain(&e)))?
        .into_parts();
    instructions.apply_to_request_http1x(req);
    Ok(())
}

/// Infers (service, region) from an AWS endpoint host, e.g.
/// `aps-workspaces.us-west-2.amazonaws.com` → (`aps`, `us-west-2`) and
/// `xray.eu-west-1.amazonaws.com` → (`xray`, `eu-west-1`).
pub fn service_from_host(host: &str) -> Option<(String, String)> {
    let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
    let rest = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))?;
    let mut labels = rest.split('.');
    let first = labels.next()?;
    let region = labels.next()?.to_string();
    if region.is_empty() || labels.next().is_some() {
        return None;
    }
    let service = match first {
        "aps-workspaces" => "aps",
        other => other,
    };
    Some((service.to_string(), region))
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::Credentials;

    #[test]
    fn service_and_region_from_hosts() {
        assert_eq!(
            service_from_host("aps-workspaces.us-west-2.amazonaws.com"),
            Some(("aps".into(), "us-west-2".into()))
        );
        assert_eq!(
            service_from_host("xray.eu-west-1.amazonaws.com:443"),
            Some(("xray".into(), "eu-west-1".into()))
        );
        assert_eq!(service_from_host("localhost"), None);
        assert_eq!(service_from_host("a.b.c.amazonaws.com"), None);
    }

    /// AWS SigV4 test suite vector `get-vanilla` (service `service`, region
    /// `us-east-1`, 2015-08-30T12:36:00Z), signing only host and x-amz-date.
    #[test]
    fn get_vanilla_vector() {
        let identity: Identity = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "test",
        )
        .into();
        let mut req = http::Request::builder()
            .method("GET")
            .uri("https://example.amazonaws.com/")
            .header("host", "example.amazonaws.com")
            .body(())
            .unwrap();
        let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_440_938_160);
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::NoHeader;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("service")
            .time(time)
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let signable = SignableRequest::new(
            "GET",
            "https://example.amazonaws.com/",
            [("host", "example.amazonaws.com")].into_iter(),
            SignableBody::Bytes(b""),
        )
        .unwrap();
        let (ins, _) = sign(signable, &params).unwrap().into_parts();
        ins.apply_to_request_http1x(&mut req);
        let auth = req.headers()["authorization"].to_str().unwrap();
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn sign_adds_body_hash_and_token() {
        let identity: Identity =
            Credentials::new("AK", "SK", Some("TOKEN".into()), None, "t").into();
        let mut req = http::Request::builder()
            .method("POST")
            .uri("https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws/api/v1/remote_write")
            .body(())
            .unwrap();
        sign_with(
            &identity,
            "us-east-1",
            "aps",
            SystemTime::now(),
            &mut req,
            b"abc",
        )
        .unwrap();
        let h = req.headers();
        assert_eq!(
            h["x-amz-content-sha256"],
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(h["x-amz-security-token"], "TOKEN");
        assert!(h["authorization"]
            .to_str()
            .unwrap()
            .contains("/us-east-1/aps/aws4_request"));
    }

    #[tokio::test]
    async fn region_precedence_and_missing_region() {
        let opts = AwsOptions {
            region: Some("eu-central-1".into()),
            use_imds_region: false,
            assume_role: None,
        };
        assert_eq!(
            resolve_region(&opts).await.unwrap().as_ref(),
            "eu-central-1"
        );
        if env_region().is_none() {
            let none = AwsOptions {
                use_imds_region: false,
                ..AwsOptions::default()
            };
            assert!(matches!(
                resolve_region(&none).await,
                Err(AwsError::NoRegion)
            ));
        }
    }
}
