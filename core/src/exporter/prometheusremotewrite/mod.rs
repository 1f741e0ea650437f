//! The `prometheusremotewrite` exporter (alias `prometheus_remote_write`): OTLP
//! metrics as Prometheus remote-write 1.0 requests
//! (<https://prometheus.io/docs/specs/remote_write_spec/>), snappy-compressed,
//! optionally SigV4-signed for Amazon Managed Prometheus.

pub mod delta;
pub mod encode;
pub mod naming;
pub mod proto;
pub mod translate;

#[cfg(test)]
mod tests;

pub mod client;
pub mod config;

use std::sync::{Arc, Mutex};

use serde_yaml_ng::Value;

use crate::config::ComponentId;
use crate::exporter::queue::{ExporterSettings, QueuedExporter, RetrySettings};
use crate::otlp::{Logs, Metrics, SignalKind, Traces};
use crate::pipeline::stage::ExportQueue;
use crate::registry::{
    config_ref, parse_config, BuildError, ConfigIssue, ExporterFactory, ParsedConfig,
};
use crate::service::BuildContext;
use crate::telemetry::metrics::ExporterMetrics;
use client::{Inner, PrwClient, PrwMetrics};
use config::PrwConfig;
use delta::{DeltaLimits, DeltaToCumulative};

/// Factory of the `prometheusremotewrite` exporter.
pub struct PrwFactory;

impl PrwFactory {
    fn build(
        ctx: &BuildContext,
        id: &ComponentId,
        cfg: &ParsedConfig,
    ) -> Result<Arc<dyn ExportQueue<Metrics>>, BuildError> {
        let c: &PrwConfig = config_ref(id, cfg)?;
        let url = c
            .endpoint
            .as_deref()
            .ok_or_else(|| BuildError::new(id, "endpoint must be specified"))?;
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| BuildError::new(id, format!("invalid URL {url:?}: {e}")))?;
        let signer = match c.authenticator() {
            Some(a) => {
                let aid = ComponentId::parse(a).map_err(|e| BuildError::new(id, e))?;
                let auth = crate::extension::auth::lookup(ctx, id, &aid)?;
                Some(auth.signer_for(&uri).map_err(|e| BuildError::new(id, e))?)
            }
            None => None,
        };
        let http = client::http_sender(uri, &c.tls, &c.headers, signer)
            .map_err(|e| BuildError::new(id, e))?;
        let idstr = id.to_string();
        let inner = Arc::new(Inner {
            id: idstr.clone(),
            http,
            metrics: PrwMetrics::new(&ctx.telemetry, &idstr, url, c.parallelism()),
        });
        let delta = c.delta_to_cumulative.enabled.then(|| {
            Mutex::new(DeltaToCumulative::new(DeltaLimits {
                max_series: c.delta_to_cumulative.max_series,
                max_stale: c.delta_to_cumulative.max_stale.0,
            }))
        });
        let client = PrwClient {
            inner,
            settings: c.translate_settings(),
            max_bytes: c.max_batch_bytes(),
            parallelism: c.parallelism(),
            delta,
        };
        let settings = ExporterSettings {
            id: idstr.clone(),
            timeout: c.timeout.0,
            queue: c.queue(),
            retry: RetrySettings::from(&c.retry_on_failure),
        };
        let metrics = ExporterMetrics::new(&ctx.telemetry, &idstr, SignalKind::Metrics);
        Ok(QueuedExporter::start(settings, client, metrics))
    }
}

impl ExporterFactory for PrwFactory {
    fn type_name(&self) -> &'static str {
        "prometheusremotewrite"
    }
    fn aliases(&self) -> &'static [&'static str] {
        &["prometheus_remote_write"]
    }
    fn signals(&self) -> &'static [SignalKind] {
        &[SignalKind::Metrics]
    }
    fn parse(&self, prefix: &str, raw: &Value) -> Result<ParsedConfig, Vec<ConfigIssue>> {
        parse_config::<PrwConfig>(prefix, raw)
    }
    fn queue(&self, cfg: &ParsedConfig) -> Option<crate::exporter::helper::QueueSettings> {
        cfg.downcast_ref::<PrwConfig>().map(PrwConfig::queue)
    }
    fn authenticator(&self, cfg: &ParsedConfig) -> Option<String> {
        cfg.downcast_ref::<PrwConfig>()
            .and_then(|c| c.authenticator().map(str::to_string))
    }
    fn build_traces(
        &self,
        _ctx: &BuildContext,
        id: &ComponentId,
        _cfg: &ParsedConfig,
    ) -> Result<Arc<dyn ExportQueue<Traces>>, BuildError> {
        Err(BuildError::new(id, "traces are not supported"))
    }
    fn build_metrics(
        &self,
        ctx: &BuildContext,
        id: &ComponentId,
        cfg: &ParsedConfig,
    ) -> Result<Arc<dyn ExportQueue<Metrics>>, BuildError> {
        Self::build(ctx, id, cfg)
    }
    fn build_logs(
        &self,
        _ctx: &BuildContext,
        id: &ComponentId,
        _cfg: &ParsedConfig,
    ) -> Result<Arc<dyn ExportQueue<Logs>>, BuildError> {
        Err(BuildError::new(id, "logs are not supported"))
    }
}
