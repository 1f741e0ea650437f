//! The `otlp` receiver: OTLP over gRPC and HTTP (protobuf and JSON).
//! Spec: <https://opentelemetry.io/docs/specs/otlp/>.

pub mod config;
mod grpc;
mod http;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use prost::Message;
use serde_yaml_ng::Value;

use crate::component::{
    parse_config, BuildContext, BuildError, ComponentId, ConfigIssue, Consumers, ReceiverConfig,
    ReceiverFactory, Running,
};
use crate::otlp::{Signal, SignalKind};
use crate::pipeline::stage::BoxFuture;
use crate::pipeline::{Batch, ConsumeError, Consumer};
use crate::telemetry::metrics::ReceiverMetrics;
use config::OtlpReceiverConfig;

/// How long open requests may take to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Factory of the `otlp` receiver.
pub struct OtlpReceiverFactory;

impl ReceiverFactory for OtlpReceiverFactory {
    fn type_name(&self) -> &'static str {
        "otlp"
    }
    fn signals(&self) -> &'static [SignalKind] {
        &SignalKind::ALL
    }
    fn parse(
        &self,
        prefix: &str,
        raw: &Value,
    ) -> Result<Box<dyn ReceiverConfig>, Vec<ConfigIssue>> {
        Ok(Box::new(parse_config::<OtlpReceiverConfig>(prefix, raw)?))
    }
}

impl ReceiverConfig for OtlpReceiverConfig {
    fn start<'a>(
        &'a self,
        ctx: &'a BuildContext,
        id: &'a ComponentId,
        consumers: Consumers,
    ) -> BoxFuture<'a, Result<Box<dyn Running>, BuildError>> {
        Box::pin(async move {
            let cfg = self;
            let mut running = RunningOtlp {
                http: None,
                grpc: None,
            };
            if let Some(h) = &cfg.protocols.http {
                let sinks = Sinks::new(ctx, id, "http", &consumers);
                running.http = Some(http::start(id, h, sinks).await?);
            }
            if let Some(g) = &cfg.protocols.grpc {
                let sinks = Sinks::new(ctx, id, "grpc", &consumers);
                running.grpc = Some(grpc::start(id, g, sinks).await?);
            }
            Ok(Box::new(running) as Box<dyn Running>)
        })
    }
}

struct RunningOtlp {
    http: Option<crate::net::Server>,
    grpc: Option<grpc::GrpcServer>,
}

impl Running for RunningOtlp {
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        let RunningOtlp { http, grpc } = *self;
        Box::pin(async move {
            let http = async {
                if let Some(h) = http {
                    h.shutdown(SHUTDOWN_GRACE).await;
                }
            };
            let grpc = async {
                if let Some(g) = grpc {
                    g.shutdown(SHUTDOWN_GRACE).await;
                }
            };
            tokio::join!(http, grpc);
        })
    }
}

/// One signal's destination with its receiver metrics.
pub(crate) struct Sink<S: Signal> {
    consumer: Consumer<S>,
    metrics: ReceiverMetrics,
}

impl<S: Signal> Sink<S> {
    /// Hands a decoded or scanned batch to the pipelines and records the outcome.
    pub(crate) async fn accept(&self, batch: Batch<S>) -> Result<(), ConsumeError> {
        let n = batch.items() as u64;
        if n == 0 {
            return Ok(());
        }
        match self.consumer.consume(batch).await {
            Ok(()) => {
                self.metrics.accepted.inc_by(n);
                Ok(())
            }
            Err(e) => {
                self.metrics.refused.inc_by(n);
                Err(e)
            }
        }
    }
}

/// The three signals' sinks of one transport.
#[derive(Clone)]
pub(crate) struct Sinks {
    pub traces: Option<Arc<Sink<crate::otlp::Traces>>>,
    pub metrics: Option<Arc<Sink<crate::otlp::Metrics>>>,
    pub logs: Option<Arc<Sink<crate::otlp::Logs>>>,
}

impl Sinks {
    fn new(ctx: &BuildContext, id: &ComponentId, transport: &str, c: &Consumers) -> Sinks {
        let name = id.to_string();
        let reg = &ctx.telemetry;
        Sinks {
            traces: c.traces.clone().map(|consumer| {
                Arc::new(Sink {
                    consumer,
                    metrics: ReceiverMetrics::new(reg, &name, transport, SignalKind::Traces),
                })
            }),
            metrics: c.metrics.clone().map(|consumer| {
                Arc::new(Sink {
                    consumer,
                    metrics: ReceiverMetrics::new(reg, &name, transport, SignalKind::Metrics),
                })
            }),
            logs: c.logs.clone().map(|consumer| {
                Arc::new(Sink {
                    consumer,
                    metrics: ReceiverMetrics::new(reg, &name, transport, SignalKind::Logs),
                })
            }),
        }
    }
}

/// `google.rpc.Status`, for error bodies.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

/// gRPC status codes used here.
pub(crate) mod code {
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const INTERNAL: i32 = 13;
    pub const UNAVAILABLE: i32 = 14;
}

pub(crate) fn status_proto(code: i32, message: &str) -> Bytes {
    Bytes::from(
        RpcStatus {
            code,
            message: message.to_string(),
        }
        .encode_to_vec(),
    )
}
