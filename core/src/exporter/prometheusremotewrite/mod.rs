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

use crate::component::{
    parse_config, BuildContext, BuildError, ComponentId, ConfigIssue, ExporterConfig,
    ExporterFactory, PersistentQueue, SignalExporter,
};
use crate::exporter::queue::{ExporterSettings, QueuedExporter, RetrySettings};
use crate::otlp::{Metrics, SignalKind};
use crate::pipeline::stage::BoxFuture;
use crate::pipeline::stage::ExportQueue;
use crate::telemetry::metrics::ExporterMetrics;
use client::{Inner, PrwClient, PrwMetrics};
use config::PrwConfig;
use delta::{DeltaLimits, DeltaToCumulative};

/// Factory of the `prometheusremotewrite` exporter.
pub struct PrwFactory;

impl PrwConfig {
    async fn start(
        &self,
        ctx: &BuildContext,
        id: &ComponentId,
    ) -> Result<Arc<dyn ExportQueue<Metrics>>, BuildError> {
        let c = self;
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
                let auth = crate::component::auth::lookup(ctx, id, &aid)?;
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
    fn parse(
        &self,
        prefix: &str,
        raw: &Value,
    ) -> Result<Box<dyn ExporterConfig>, Vec<ConfigIssue>> {
        Ok(Box::new(parse_config::<PrwConfig>(prefix, raw)?))
    }
}

impl ExporterConfig for PrwConfig {
    fn persistent_queue(&self) -> Option<PersistentQueue> {
        crate::exporter::persistent_queue(&self.queue())
    }
    fn authenticator(&self) -> Option<&str> {
        PrwConfig::authenticator(self)
    }
    fn build<'a>(
        &'a self,
        ctx: &'a BuildContext,
        id: &'a ComponentId,
        signal: SignalKind,
    ) -> BoxFuture<'a, Result<SignalExporter, BuildError>> {
        Box::pin(async move {
            match signal {
                SignalKind::Metrics => Ok(SignalExporter::Metrics(self.start(ctx, id).await?)),
                other => Err(BuildError::new(id, format!("{other} are not supported"))),
            }
        })
    }
}
