//! The `debug` exporter: writes what it receives to the log, at `basic`
//! (counts), `normal` (one line per item) or `detailed` (everything) verbosity.

use std::fmt::Write as _;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::Deserialize;
use serde_yaml_ng::Value;

use super::queue::{ExportClient, ExportError, QueuedExporter};
use super::CommonSettings;
use crate::component::{
    parse_config, AnySignalExporter, BuildContext, BuildError, ComponentId, ConfigIssue,
    ExporterConfig, ExporterFactory, PersistentQueue, SignalExporter, Validate,
};
use crate::config::duration::GoDuration;
use crate::otlp::{Logs, Metrics, Signal, SignalKind, Traces};
use crate::pipeline::stage::BoxFuture;
use crate::pipeline::stage::ExportQueue;
use crate::pipeline::Batch;
use crate::telemetry::metrics::ExporterMetrics;

/// `exporters: debug:`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DebugConfig {
    /// `basic` (default), `normal` or `detailed`.
    pub verbosity: String,
    /// Accepted for compatibility; not used.
    pub sampling_initial: Option<u32>,
    /// Accepted for compatibility; not used.
    pub sampling_thereafter: Option<u32>,
    /// Accepted for compatibility; not used.
    pub use_internal_logger: Option<bool>,
    #[serde(flatten)]
    pub common: CommonSettings,
}

impl Default for DebugConfig {
    fn default() -> Self {
        DebugConfig {
            verbosity: "basic".into(),
            sampling_initial: None,
            sampling_thereafter: None,
            use_internal_logger: None,
            common: CommonSettings::default(),
        }
    }
}

impl Validate for DebugConfig {
    fn validate(&self) -> Vec<ConfigIssue> {
        let mut v = self.common.validate();
        if !["basic", "normal", "detailed"].contains(&self.verbosity.as_str()) {
            v.push(ConfigIssue::new(
                "verbosity",
                format!(
                    "unknown verbosity {:?} (expected basic, normal or detailed)",
                    self.verbosity
                ),
            ));
        }
        v
    }
}

/// Factory of the `debug` exporter.
pub struct DebugFactory;

impl AnySignalExporter for DebugConfig {
    fn start<S: Signal>(
        &self,
        ctx: &BuildContext,
        id: &ComponentId,
    ) -> Result<Arc<dyn ExportQueue<S>>, BuildError> {
        let c = self;
        let printer = Printer::<S> {
            id: id.to_string(),
            verbosity: c.verbosity.clone(),
            _s: PhantomData,
        };
        let metrics = ExporterMetrics::new(&ctx.telemetry, &id.to_string(), S::KIND);
        Ok(QueuedExporter::start(
            c.common.settings(id, GoDuration::from_secs(5)),
            printer,
            metrics,
        ))
    }
}

impl ExporterFactory for DebugFactory {
    fn type_name(&self) -> &'static str {
        "debug"
    }
    fn signals(&self) -> &'static [SignalKind] {
        &SignalKind::ALL
    }
    fn parse(
        &self,
        prefix: &str,
        raw: &Value,
    ) -> Result<Box<dyn ExporterConfig>, Vec<ConfigIssue>> {
        Ok(Box::new(parse_config::<DebugConfig>(prefix, raw)?))
    }
}

impl ExporterConfig for DebugConfig {
    fn persistent_queue(&self) -> Option<PersistentQueue> {
        crate::exporter::persistent_queue(&self.common.sending_queue)
    }
    fn build<'a>(
        &'a self,
        ctx: &'a BuildContext,
        id: &'a ComponentId,
        signal: SignalKind,
    ) -> BoxFuture<'a, Result<SignalExporter, BuildError>> {
        Box::pin(async move { SignalExporter::of(self, ctx, id, signal) })
    }
}

struct Printer<S> {
    id: String,
    verbosity: String,
    _s: PhantomData<fn() -> S>,
}

/// One line per item for `normal` verbosity.
fn item_lines(kind: SignalKind, req: &dyn std::any::Any, out: &mut String) {
    match kind {
        SignalKind::Traces => {
            if let Some(r) = req.downcast_ref::<<Traces as Signal>::Request>() {
                for s in r
                    .resource_spans
                    .iter()
                    .flat_map(|r| &r.scope_spans)
                    .flat_map(|s| &s.spans)
                {
                    let _ = writeln!(out, "{} {} {}", hex(&s.trace_id), hex(&s.span_id), s.name);
                }
            }
        }
        SignalKind::Metrics => {
            if let Some(r) = req.downcast_ref::<<Metrics as Signal>::Request>() {
                for m in r
                    .resource_metrics
                    .iter()
                    .flat_map(|r| &r.scope_metrics)
                    .flat_map(|s| &s.metrics)
                {
                    let _ = writeln!(
                        out,
                        "{} {} points={}",
                        m.name,
                        m.unit,
                        crate::otlp::metric_points(m)
                    );
                }
            }
        }
        SignalKind::Logs => {
            if let Some(r) = req.downcast_ref::<<Logs as Signal>::Request>() {
                for l in r
                    .resource_logs
                    .iter()
                    .flat_map(|r| &r.scope_logs)
                    .flat_map(|s| &s.log_records)
                {
                    let _ = writeln!(
                        out,
                        "{} {:?}",
                        l.severity_text,
                        l.body.as_ref().and_then(|b| b.value.as_ref())
                    );
                }
            }
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .fold(String::with_capacity(b.len() * 2), |mut s, x| {
            let _ = write!(s, "{x:02x}");
            s
        })
}

impl<S: Signal> ExportClient<S> for Printer<S> {
    type Request = Batch<S>;

    fn encode(&self, batch: Batch<S>) -> Result<Batch<S>, ExportError> {
        Ok(batch)
    }

    async fn send(&self, batch: &mut Batch<S>) -> Result<(), ExportError> {
        let what = S::KIND.item_metric_suffix();
        tracing::info!(exporter = %self.id, signal = %S::KIND, items = batch.items(), "{} {what}", batch.items());
        if self.verbosity != "basic" {
            let mut text = String::new();
            batch.with_request(|req| {
                if self.verbosity == "detailed" {
                    let _ = write!(text, "{req:#?}");
                } else {
                    item_lines(S::KIND, req, &mut text);
                }
            });
            tracing::info!(exporter = %self.id, "{text}");
        }
        Ok(())
    }
}
