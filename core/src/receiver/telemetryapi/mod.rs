//! The `telemetryapi` receiver: Lambda Telemetry API records (function and
//! extension logs, `platform.*` lifecycle events) as OTLP logs, metrics and spans.
//! Spec: <https://docs.aws.amazon.com/lambda/latest/dg/telemetry-api.html>.
//!
//! The Lambda extension owns the Telemetry API listener and hands every batch to
//! the [`TelemetryHub`] it shares through the [`BuildContext`]'s typed slots; each
//! receiver instance registers a feed there when it starts.

pub mod config;
pub mod record;
pub mod translate;

use std::sync::{Arc, Mutex, RwLock};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{ResourceMetrics, ScopeMetrics};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use serde_yaml_ng::Value;

use crate::component::{
    parse_config, BuildContext, BuildError, ComponentId, ConfigIssue, Consumers, ReceiverConfig,
    ReceiverFactory, Running,
};
use crate::otlp::{Logs, Metrics, Signal, SignalKind, Traces};
use crate::pipeline::stage::BoxFuture;
use crate::pipeline::Batch;
use crate::receiver::accounting::AccountedConsumer;
use config::TelemetryApiConfig;
use record::Event;
use translate::Translator;

/// Where the Lambda extension delivers Telemetry API batches.
#[derive(Default)]
pub struct TelemetryHub {
    feeds: RwLock<Vec<Arc<Feed>>>,
}

impl TelemetryHub {
    /// Whether any receiver takes records.
    pub fn has_receivers(&self) -> bool {
        self.feeds.read().map(|f| !f.is_empty()).unwrap_or(false)
    }

    /// Translates `events` and hands the result to every receiver's pipelines.
    /// Returns once the pipelines took the data (or refused it: counted, logged).
    pub async fn deliver(&self, events: &[Event]) {
        let feeds: Vec<Arc<Feed>> = match self.feeds.read() {
            Ok(f) => f.clone(),
            Err(p) => p.into_inner().clone(),
        };
        for f in feeds {
            f.deliver(events.to_vec()).await;
        }
    }

    fn add(&self, feed: Arc<Feed>) {
        match self.feeds.write() {
            Ok(mut f) => f.push(feed),
            Err(p) => p.into_inner().push(feed),
        }
    }

    fn remove(&self, feed: &Arc<Feed>) {
        let mut g = match self.feeds.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.retain(|f| !Arc::ptr_eq(f, feed));
    }
}

/// One signal's pipelines with this receiver's accept/refuse counters.
type Out<S> = AccountedConsumer<S>;

struct Feed {
    id: String,
    resource: Resource,
    translator: Mutex<Translator>,
    traces: Option<Out<Traces>>,
    metrics: Option<Out<Metrics>>,
    logs: Option<Out<Logs>>,
}

impl Feed {
    async fn deliver(&self, mut events: Vec<Event>) {
        let out = {
            let mut t = match self.translator.lock() {
                Ok(t) => t,
                Err(p) => p.into_inner(),
            };
            t.translate(&mut events)
        };
        let scope = Some(translate::scope());
        if let (Some(o), false) = (&self.traces, out.spans.is_empty()) {
            let req = ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    resource: Some(self.resource.clone()),
                    scope_spans: vec![ScopeSpans {
                        scope: scope.clone(),
                        spans: out.spans,
                        schema_url: String::new(),
                    }],
                    schema_url: String::new(),
                }],
            };
            self.send(o, req).await;
        }
        if let (Some(o), false) = (&self.metrics, out.metrics.is_empty()) {
            let req = ExportMetricsServiceRequest {
                resource_metrics: vec![ResourceMetrics {
                    resource: Some(self.resource.clone()),
                    scope_metrics: vec![ScopeMetrics {
                        scope: scope.clone(),
                        metrics: out.metrics,
                        schema_url: String::new(),
                    }],
                    schema_url: String::new(),
                }],
            };
            self.send(o, req).await;
        }
        if let (Some(o), false) = (&self.logs, out.logs.is_empty()) {
            let req = ExportLogsServiceRequest {
                resource_logs: vec![ResourceLogs {
                    resource: Some(self.resource.clone()),
                    scope_logs: vec![ScopeLogs {
                        scope,
                        log_records: out.logs,
                        schema_url: String::new(),
                    }],
                    schema_url: String::new(),
                }],
            };
            self.send(o, req).await;
        }
    }

    async fn send<S: Signal>(&self, out: &Out<S>, req: S::Request) {
        let batch = Batch::<S>::from_request(req);
        let n = batch.items() as u64;
        if let Err(e) = out.consume(batch).await {
            tracing::warn!(receiver = %self.id, signal = %S::KIND, items = n, error = %e, "Pipeline refused Telemetry API data; it is dropped.");
        }
    }
}

/// Factory of the `telemetryapi` receiver.
pub struct TelemetryApiFactory;

impl ReceiverFactory for TelemetryApiFactory {
    fn type_name(&self) -> &'static str {
        "telemetryapi"
    }
    fn signals(&self) -> &'static [SignalKind] {
        &SignalKind::ALL
    }
    fn parse(
        &self,
        prefix: &str,
        raw: &Value,
    ) -> Result<Box<dyn ReceiverConfig>, Vec<ConfigIssue>> {
        Ok(Box::new(parse_config::<TelemetryApiConfig>(prefix, raw)?))
    }
}

impl ReceiverConfig for TelemetryApiConfig {
    fn start<'a>(
        &'a self,
        ctx: &'a BuildContext,
        id: &'a ComponentId,
        consumers: Consumers,
    ) -> BoxFuture<'a, Result<Box<dyn Running>, BuildError>> {
        Box::pin(async move {
            let hub: Arc<TelemetryHub> = ctx.slots.get_or_default();
            let lookup = |k: &str| std::env::var(k).ok();
            let name = id.to_string();
            let reg = &ctx.telemetry;
            let function = lookup("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default();
            if function.is_empty() {
                tracing::warn!(receiver = %id, "Not running in AWS Lambda: the telemetryapi receiver only gets data inside the Lambda extension.");
            }
            let feed = Arc::new(Feed {
                id: name.clone(),
                resource: translate::lambda_resource(&lookup),
                translator: Mutex::new(Translator::new(function)),
                traces: consumers.traces.map(|c| Out::new(c, reg, &name, "http")),
                metrics: consumers.metrics.map(|c| Out::new(c, reg, &name, "http")),
                logs: consumers.logs.map(|c| Out::new(c, reg, &name, "http")),
            });
            hub.add(feed.clone());
            Ok(Box::new(RunningFeed { hub, feed }) as Box<dyn Running>)
        })
    }
}

struct RunningFeed {
    hub: Arc<TelemetryHub>,
    feed: Arc<Feed>,
}

impl Running for RunningFeed {
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        self.hub.remove(&self.feed);
        Box::pin(async {})
    }
}
