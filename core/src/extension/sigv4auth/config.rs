//! Config of the `sigv4auth` extension (no defaults, as upstream).

use serde::Deserialize;

use crate::aws::{AssumeRole, AwsOptions};
use crate::component::{ConfigIssue, Validate};

/// `extensions: sigv4auth:`
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SigV4Config {
    /// Signing region. Default: from the endpoint host
    /// (`aps-workspaces.<region>.amazonaws.com`), then AWS_REGION, then IMDS.
    pub region: Option<String>,
    /// Signing service. Default: from the endpoint host (`aps-workspaces` → `aps`).
    pub service: Option<String>,
    pub assume_role: Option<AssumeRoleConfig>,
}

/// `assume_role:`
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AssumeRoleConfig {
    /// Role to assume; empty means the base credentials are used as they are.
    pub arn: String,
    /// Session name. Default `tern`.
    pub session_name: Option<String>,
    /// Region of the STS endpoint. Default: `region`.
    pub sts_region: Option<String>,
    /// Assume the role with this web identity token (EKS IRSA-style).
    pub web_identity_token_file: Option<String>,
}

impl SigV4Config {
    pub fn aws_options(&self) -> AwsOptions {
        AwsOptions {
            region: self.region.clone().filter(|r| !r.is_empty()),
            use_imds_region: true,
            assume_role: self
                .assume_role
                .as_ref()
                .filter(|r| !r.arn.is_empty())
                .map(|r| AssumeRole {
                    arn: r.arn.clone(),
                    session_name: r.session_name.clone(),
                    external_id: None,
                    sts_region: r.sts_region.clone().or_else(|| self.region.clone()),
                    web_identity_token_file: r.web_identity_token_file.clone(),
                }),
        }
    }
}

impl Validate for SigV4Config {
    fn validate(&self) -> Vec<ConfigIssue> {
        let mut v = Vec::new();
        if let Some(r) = &self.assume_role {
            if r.arn.is_empty() && (r.session_name.is_some() || r.web_identity_token_file.is_some())
            {
                v.push(ConfigIssue::new(
                    "assume_role::arn",
                    "must be set when other assume_role keys are",
                ));
            }
            if !r.arn.is_empty() && !r.arn.starts_with("arn:") {
                v.push(ConfigIssue::new(
                    "assume_role::arn",
                    "must be a role ARN (arn:…)",
                ));
            }
        }
        v
    }
}
