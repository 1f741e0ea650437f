//! The `awsxray` exporter: spans become X-Ray segment documents
//! ([`translate`]) sent with `PutTraceSegments` (SigV4, through `aws-sdk-xray`)
//! or, with `transport: udp`, as datagrams to an X-Ray daemon.
//!
//! API: <https://docs.aws.amazon.com/xray/latest/api/API_PutTraceSegments.html>;
//! documents: <https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html>.

pub mod cause;
pub mod client;
pub mod config;
mod json;
pub mod translate;

#[cfg(test)]
mod golden;

use std::sync::Arc;
use std::time::Duration;

use serde_yaml_ng::Value;

use crate::aws::{AssumeRole, AwsOptions};
use crate::component::{
    parse_config, BuildContext, BuildError, ComponentId, ConfigIssue, ExporterConfig,
    ExporterFactory, PersistentQueue, SignalExporter,
};
use crate::config::duration::GoDuration;
use crate::exporter::queue::QueuedExporter;
use crate::otlp::{SignalKind, Traces};
use crate::pipeline::stage::BoxFuture;
use crate::pipeline::stage::ExportQueue;
use crate::telemetry::metrics::ExporterMetrics;
use client::{ApiBackend, ApiSettings, Backend, UdpBackend, XraySender, DAEMON_HEADER};
use config::{parse_daemon_address, AwsXrayConfig, Transport, DEFAULT_DAEMON_ADDRESS};
use translate::{TranslateOptions, Translator, MAX_DOCUMENT_BYTES};

/// Factory of the `awsxray` exporter (traces only).
pub struct AwsXrayFactory;

/// The daemon address: config, then `AWS_XRAY_DAEMON_ADDRESS`, then the default.
fn daemon_address(c: &AwsXrayConfig) -> Result<String, String> {
    let raw = if !c.daemon_address.is_empty() {
        c.daemon_address.clone()
    } else {
        std::env::var("AWS_XRAY_DAEMON_ADDRESS")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_DAEMON_ADDRESS.to_string())
    };
    let (host, port) = parse_daemon_address(&raw)
        .ok_or_else(|| format!("invalid X-Ray daemon address {raw:?} (expected host:port)"))?;
    Ok(if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    })
}

impl AwsXrayConfig {
    async fn start(
        &self,
        ctx: &BuildContext,
        id: &ComponentId,
    ) -> Result<Arc<dyn ExportQueue<Traces>>, BuildError> {
        let c = self;
        let transport = c.transport().unwrap_or(Transport::Api);
        let max_document_bytes = match transport {
            Transport::Api => MAX_DOCUMENT_BYTES,
            Transport::Udp => client::MAX_DATAGRAM - DAEMON_HEADER.len(),
        };
        let translator = Translator::new(TranslateOptions {
            indexed_attributes: c.indexed_attributes.clone(),
            index_all_attributes: c.index_all_attributes,
            log_groups: c.aws_log_groups.clone(),
            max_document_bytes,
        });
        let backend = match transport {
            Transport::Udp => Backend::Udp(UdpBackend::new(
                daemon_address(c).map_err(|e| BuildError::new(id, e))?,
            )),
            Transport::Api => Backend::Api(Self::api_backend(ctx, id, c).await?),
        };
        let sender = XraySender {
            id: id.to_string(),
            translator,
            backend,
        };
        let metrics = ExporterMetrics::new(&ctx.telemetry, &id.to_string(), SignalKind::Traces);
        // Each call is bounded by the SDK's attempt timeout and attempt count;
        // no extra per-send timeout on top (a send covers many calls).
        Ok(QueuedExporter::start(
            c.common.settings(id, GoDuration::from_secs(0)),
            sender,
            metrics,
        ))
    }

    async fn api_backend(
        ctx: &BuildContext,
        id: &ComponentId,
        c: &AwsXrayConfig,
    ) -> Result<ApiBackend, BuildError> {
        let aws = AwsOptions {
            region: Some(c.region.clone()).filter(|r| !r.is_empty()),
            use_imds_region: !c.local_mode,
            assume_role: (!c.role_arn.is_empty()).then(|| AssumeRole {
                arn: c.role_arn.clone(),
                external_id: Some(c.external_id.clone()).filter(|e| !e.is_empty()),
                ..Default::default()
            }),
        };
        let settings = ApiSettings {
            aws: aws.clone(),
            endpoint: Some(c.endpoint.clone()).filter(|e| !e.is_empty()),
            proxy: Some(c.proxy_address.clone()).filter(|p| !p.is_empty()),
            workers: c.num_workers.max(1),
            attempt_timeout: Duration::from_secs(c.request_timeout_seconds.max(1)),
        };
        let env_region = ["AWS_REGION", "AWS_DEFAULT_REGION"]
            .iter()
            .any(|k| std::env::var(k).is_ok_and(|v| !v.trim().is_empty()));
        if aws.region.is_none() && !env_region && c.local_mode {
            return Err(BuildError::new(id, crate::aws::AwsError::NoRegion));
        }
        // Resolve region (IMDS if needed) and credential providers now (once per
        // set of options, shared), so a missing region fails at start.
        let sdk = ctx
            .aws
            .load(&aws)
            .await
            .map_err(|e| BuildError::new(id, e))?;
        ApiBackend::ready(settings, &sdk).map_err(|e| BuildError::new(id, e))
    }
}

impl ExporterFactory for AwsXrayFactory {
    fn type_name(&self) -> &'static str {
        "awsxray"
    }
    fn signals(&self) -> &'static [SignalKind] {
        &[SignalKind::Traces]
    }
    fn parse(
        &self,
        prefix: &str,
        raw: &Value,
    ) -> Result<Box<dyn ExporterConfig>, Vec<ConfigIssue>> {
        Ok(Box::new(parse_config::<AwsXrayConfig>(prefix, raw)?))
    }
}

impl ExporterConfig for AwsXrayConfig {
    fn persistent_queue(&self) -> Option<PersistentQueue> {
        crate::exporter::persistent_queue(&self.common.sending_queue)
    }
    fn build<'a>(
        &'a self,
        ctx: &'a BuildContext,
        id: &'a ComponentId,
        signal: SignalKind,
    ) -> BoxFuture<'a, Result<SignalExporter, BuildError>> {
        Box::pin(async move {
            match signal {
                SignalKind::Traces => Ok(SignalExporter::Traces(self.start(ctx, id).await?)),
                other => Err(BuildError::new(id, format!("{other} are not supported"))),
            }
        })
    }
}
